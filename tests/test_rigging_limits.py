"""Joint ranges by convention (issue 18's limits): with ``conventions`` a hinged panel opens a
quarter turn at most, from its larger free side, and a drawer slides out one way by
:data:`~n4d4d.rigging.joints.DRAWER_EXTENSION` of its depth; without, the range is the free
sweep (the default, which tests/test_rigging.py checks on the same shapes)."""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.rigging import joints as joints_module
from n4d4d.rigging import procedural, rig_stage
from n4d4d.rigging.geometry import rotate_about
from n4d4d.rigging.joints import DRAWER_EXTENSION, HINGE_OPENING, drawer_travel, hinge_opening


def test_hinge_opening_caps_the_span_from_the_larger_side():
    """Hand-computed: a door free from -0.1 to 3.0 rad opens [0, pi/2]; a mirror one [-pi/2,
    0]; a span under a quarter turn is kept; a span of 2.2 rad with 1.2 on the larger side
    keeps all of it and takes the remaining pi/2 - 1.2 from the other side."""
    assert hinge_opening(-0.1, 3.0) == (0.0, HINGE_OPENING)
    assert hinge_opening(-2.0, 1.9) == (-HINGE_OPENING, 0.0)
    assert hinge_opening(-0.3, 0.5) == (-0.3, 0.5)
    lo, hi = hinge_opening(-1.0, 1.2)
    assert hi == 1.2 and lo == pytest.approx(1.2 - np.pi / 2, abs=1e-15)


def test_drawer_travel_is_one_way_and_capped():
    """Hand-computed: a 0.5 m deep drawer free 0.5 m out (and 1 cm in) opens [0, 0.425]; one free
    0.2 m only keeps 0.2; one free further the negative way opens that way."""
    assert drawer_travel(-0.01, 0.5, 0.5) == (0.0, pytest.approx(DRAWER_EXTENSION * 0.5))
    assert drawer_travel(-0.01, 0.2, 0.5) == (0.0, 0.2)
    assert drawer_travel(-0.5, 0.01, 0.5) == (pytest.approx(-DRAWER_EXTENSION * 0.5), 0.0)


def _by_convention(asset, monkeypatch):
    """The rigged asset and its movable joints from the rigging stage on ``asset`` with the conventions on (the
    module default the stage's :func:`~n4d4d.rigging.joints.infer_joints` reads)."""
    monkeypatch.setattr(joints_module, "LIMIT_CONVENTIONS", True)
    out = rig_stage(asset, seed=0)
    return out, [j for j in out.joints if j.type != "fixed"]


def test_cabinet_drawer_by_convention_opens_its_share_of_the_depth(monkeypatch):
    """The procedural drawer is 0.37 m deep along Y (analytic). By convention it slides out
    (-Y, away from the back wall) by 0.85 x 0.37 = 0.3145 m, and not back at all. Tolerance
    1 mm: the depth is the extent of surface samples, which lie on the front and back faces
    exactly, along an axis fitted within 2 degrees (cos 2 deg x 0.37 m is 0.2 mm short)."""
    asset, (truth,) = procedural.cabinet_with_drawer()
    _, (j,) = _by_convention(asset, monkeypatch)
    assert j.type == "prismatic" and j.child == "drawer"
    out = float(np.dot(j.axis, truth.axis))  # truth axis -Y: out of the open front
    assert abs(out) > np.cos(np.deg2rad(2.0))
    travel_out, travel_in = (j.upper, -j.lower) if out > 0 else (-j.lower, j.upper)
    assert travel_out == pytest.approx(DRAWER_EXTENSION * 0.37, abs=0.001)
    assert travel_in == 0.0


def test_hinged_lid_by_convention_opens_a_quarter_turn_upward(monkeypatch):
    """The procedural lid is free about 180 degrees upward (tests/test_rigging.py); by
    convention it opens exactly a quarter turn, the way it is free, and not at all into the
    box. Analytic check: the lid's front edge centre (0, -0.15, 0.218) is 0.3 m in front of the
    hinge line (y 0.15, z 0.2); a quarter turn up stands it above the hinge, at z about 0.5 and
    y about 0.15 + 0.018. Tolerances 3 cm: the fitted hinge line may be off by 1 % of the 0.5 m
    diagonal and 2 degrees (tests/test_rigging.py's bounds), 1 cm at a 0.3 m lever."""
    asset, _ = procedural.hinged_lid_box()
    _, (j,) = _by_convention(asset, monkeypatch)
    assert j.type == "revolute" and j.child == "lid"
    assert j.lower == 0.0 and j.upper == HINGE_OPENING
    edge = np.array([[0.0, -0.15, 0.218]])
    up = rotate_about(edge, j.origin, j.axis, j.upper)[0]
    assert abs(up[2] - 0.5) < 0.03 and abs(up[1] - 0.168) < 0.03


def test_hinge_free_a_full_turn_is_revolute_by_convention():
    """A 0.3 x 0.2 x 0.01 m panel whose parent block lies 1 m away: nothing stops it about a
    hinge line along its edge, so the free sweep is a full turn. Without conventions that is a
    continuous joint; with them a hinged panel is a door: revolute, a quarter turn
    (hand-computed: hinge_opening(-pi, pi) = (0, pi/2)). A hinge candidate's usefulness is 1
    either way (a full turn)."""
    import trimesh

    from n4d4d.rigging.geometry import PartGeometry
    from n4d4d.rigging.hypotheses import Candidate
    from n4d4d.rigging.joints import _sweep
    from n4d4d.rigging.sweep import SweepChecker

    panel = trimesh.creation.box(extents=(0.3, 0.2, 0.01))
    block = trimesh.creation.box(extents=(0.2, 0.2, 0.2))
    block.apply_translation((1.0, 0.0, 0.0))
    child = PartGeometry("panel", panel.vertices, panel.faces, seed=0)
    parent = PartGeometry("block", block.vertices, block.faces, seed=0)
    checker = SweepChecker(child.points, parent, delta=0.001)
    cand = Candidate("revolute", np.array([0.15, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), "hinge", "end-hinge", 1.0)
    use, kind, lo, hi = _sweep(cand, checker, child, None)
    assert (use, kind) == (1.0, "continuous")
    use, kind, lo, hi = _sweep(cand, checker, child, None, conventions=True)
    assert (use, kind, lo, hi) == (1.0, "revolute", 0.0, HINGE_OPENING)
