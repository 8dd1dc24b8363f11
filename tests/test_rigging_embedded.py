"""The contact fraction of a moving part (:func:`n4d4d.rigging.embedded.contact_fraction`): the
share of its surface buried in, or pressed against, the parts that stay put."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from n4d4d.rigging.embedded import contact_fraction
from n4d4d.rigging.geometry import PartGeometry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boxes import box_between as _box  # noqa: E402

# 1500 area-weighted samples: a fraction p is estimated with a standard deviation of
# sqrt(p (1 - p) / 1500) <= 0.013; exposed faces also count within the contact tolerance
# (0.2 % of the diagonal) of the other part's edges, a band of at most ~0.03 here; 0.05 covers both.
TOL = 0.05


def _geo(name, tm, seed=0):
    return PartGeometry(name, tm.vertices, tm.faces, n_samples=1500, seed=seed)


def test_plate_resting_on_a_block_touches_with_its_underside():
    """A 10 x 10 x 2 cm plate lying on a block: its underside, 100 of its 280 cm^2 (0.357,
    closed form), touches; lifted 5 mm (a clearance) nothing does."""
    block = _geo("block", _box([-0.2, -0.2, -0.1], [0.2, 0.2, 0.0]))
    plate = _geo("plate", _box([-0.05, -0.05, 0.0], [0.05, 0.05, 0.02]), seed=1)
    assert abs(contact_fraction(plate, [block]) - 100 / 280) <= TOL
    lifted = _geo("lifted", _box([-0.05, -0.05, 0.005], [0.05, 0.05, 0.025]), seed=1)
    assert contact_fraction(lifted, [block]) == 0.0


def test_plate_sunk_halfway_is_buried_below_the_surface():
    """The same plate sunk 1 cm into the block: its underside and the lower half of its four
    sides, 100 + 40 = 140 of 280 cm^2 (0.5), lie inside the block (its winding number)."""
    block = _geo("block", _box([-0.2, -0.2, -0.1], [0.2, 0.2, 0.0]))
    plate = _geo("plate", _box([-0.05, -0.05, -0.01], [0.05, 0.05, 0.01]), seed=1)
    assert abs(contact_fraction(plate, [block]) - 0.5) <= TOL
    assert contact_fraction(plate, []) == 0.0



def _strip_in_groove(clearance):
    """A 20 x 20 x 5 cm block with a 1 cm wide groove across its top, open at both ends, and a
    20 x 1 x 0.5 cm strip lying in it flush with the top; the groove is ``clearance`` m wider
    each side, as deep as the strip (0.5 cm)."""
    import trimesh

    block = _box([-0.1, -0.1, -0.05], [0.1, 0.1, 0.0])
    slot = _box([-0.2, -0.005 - clearance, -0.005], [0.2, 0.005 + clearance, 0.01])
    body = trimesh.boolean.difference([block, slot], engine="manifold")
    strip = _box([-0.1, -0.005, -0.005], [0.1, 0.005, 0.0])
    return (PartGeometry("body", body.vertices, body.faces, seed=0),
            PartGeometry("strip", strip.vertices, strip.faces, seed=1))


def test_strip_glued_in_a_tight_groove_gets_no_joint():
    """Merged-mesh pieces (``components=True``): a strip that fills its groove exactly has its
    underside and both long sides, 40 of its 61 cm^2 (0.66 > MAX_CONTACT_FRACTION), against
    the body: glued, so its joint is fixed (``+embedded``; without the check a hinge about
    its edge was emitted at confidence 0.75). The same strip with a 2 mm clearance each side
    touches with its underside only (20 / 61 = 0.33) and keeps its movable joint."""
    from n4d4d.rigging.joints import infer_joints

    body, strip = _strip_in_groove(0.0)
    (j,) = infer_joints([body, strip], components=True)
    assert j.type == "fixed" and j.source.endswith("+embedded"), j
    assert abs(j.features["contact"] - 40 / 61) <= TOL
    body, strip = _strip_in_groove(0.002)
    (j,) = infer_joints([body, strip], components=True)
    assert j.type != "fixed", j
    assert abs(j.features["contact"] - 20 / 61) <= TOL
