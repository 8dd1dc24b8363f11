"""A box's flaps fold back to their limits and return in the ``articulate`` clip (PartNet-Mobility 100154).

Its four flaps (6.4 mm plates, 1.05 x 0.525 m, one convex hull each) turn through [-3.93, 0.785]
rad; folded back to -3.93 rad a flap's edges pass 0.4-0.6 mm from the two neighbouring flaps'.
At the clip's contact breaking threshold 0.005 a contact point kept from that pass read -0.01 mm
along its stale normal while the hulls were 0.63 mm apart, and the solver held the flap there:
it never returned (-3.92 rad at the clip's end), and the next flap, folding back, met it.

The truth here is independent of the simulation: the certificate's own GJK distances
(:class:`n4d4d.physics_validation.penetration.HullWorld`, a fresh narrowphase per pose) show every
flap clear of every other part at every sampled coordinate of its range, the others at rest, so
no contact can stop a flap; the clip must then reach each limit and return to 0 (within the
plausibility check's reach tolerance), with no overlap between parts.
"""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def box(shared_data):
    from n4d4d.options import BuildOptions
    from n4d4d.pipeline import STAGES, run_stage
    from n4d4d.sources import as_source

    path = shared_data / "partnet-mobility" / "100154" / "mobility.urdf"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    opts = BuildOptions(seed=0)
    asset = run_stage(STAGES[0], as_source(path), opts)
    for stage in STAGES[1:]:
        if stage.name == "animate":
            break
        asset = run_stage(stage, asset, opts)
    return asset


def test_nothing_stops_a_flap_in_its_range(box):
    from n4d4d.physics_validation.penetration import HullWorld
    from n4d4d.physics_validation.rigid_model import link_transforms, rigid_model, subtree

    model = rigid_model(box)
    with HullWorld(model) as world:
        for link in model.links:
            j = link.joint
            if j is None or j.type == "fixed":
                continue
            mine = set(subtree(model, link.index))
            others = [i for i in range(len(model.links)) if i not in mine and i != link.parent]
            gaps = []
            for q in np.linspace(j.lower, j.upper, 25):
                world.set_poses(link_transforms(model, {j.name: float(q)}))
                gaps += [min((p[8] for p in world.client.getClosestPoints(world.bodies[link.index], world.bodies[i], 0.05)),
                             default=0.05) for i in others]
            assert min(gaps) > 0.0, (j.name, min(gaps))  # measured: 0.37 mm and more


def test_every_flap_folds_back_and_returns(box):
    from n4d4d.deformation.articulate import articulate_clip
    from n4d4d.deformation.plausibility import clip_check

    clip = articulate_clip(box)
    check = clip_check(box, clip)
    assert check.passed, check.reasons
    for name, q in clip.joint_positions.items():
        # each limit, and 0 again within 0.02 rad (the held flaps sag 0.005 rad; the reach tolerance is 0.05)
        assert q.min() < -3.9 and abs(q[-1]) < 0.02, (name, q.min(), q[-1])
