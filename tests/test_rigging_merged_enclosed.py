"""A merged mesh's piece spinning wholly inside its parent is glued, not jointed (issue 18's
merged-track extras): :data:`~n4d4d.rigging.embedded.MIN_ENCLOSED_SPIN`. A rod set into a
rack's frame turns freely about its own axis (a solid of revolution sweeps nothing), so the
sweep finds a continuous joint, which moves nothing anyone can see or drive; a knob standing
proud of its panel keeps its continuous joint."""

from __future__ import annotations

import numpy as np
import trimesh

from n4d4d.rigging import embedded
from n4d4d.rigging.geometry import PartGeometry
from n4d4d.rigging.joints import infer_joints


def _frame():
    """A 0.4 x 0.3 m rectangular frame of 3 x 3 cm bars (z -0.015 to 0.015)."""
    bars = []
    for ext, at in (((0.4, 0.03, 0.03), (0.0, 0.135, 0.0)), ((0.4, 0.03, 0.03), (0.0, -0.135, 0.0)),
                    ((0.03, 0.24, 0.03), (0.185, 0.0, 0.0)), ((0.03, 0.24, 0.03), (-0.185, 0.0, 0.0))):
        b = trimesh.creation.box(extents=ext)
        b.apply_translation(at)
        bars.append(b)
    return trimesh.util.concatenate(bars)


def _rod():
    """An 8 mm radius rod along X from -0.185 to 0.185 m: its ends 1.5 cm into the side bars,
    wholly inside the frame's hull (7 mm under its faces, beyond the 1 % of the 0.5 m
    diagonal that :func:`~n4d4d.rigging.joints.nested_fraction` asks)."""
    rod = trimesh.creation.cylinder(radius=0.008, height=0.37, sections=32)
    rod.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (0, 1, 0)))
    return rod


def _joint(child_mesh, monkeypatch=None, rule=True):
    frame = _frame()
    parts = [PartGeometry("frame", frame.vertices, frame.faces, seed=0),
             PartGeometry("piece", child_mesh.vertices, child_mesh.faces, seed=0)]
    if monkeypatch is not None and not rule:
        monkeypatch.setattr("n4d4d.rigging.joints.MIN_ENCLOSED_SPIN", 1.01)
    (j,) = infer_joints(parts, root="frame", components=True)
    return j


def test_rod_set_in_a_frame_is_fused(monkeypatch):
    """The rod's joint is fixed and says why (``+enclosed``). With the rule off (the cut above
    1, so no share passes it) the same rod is a continuous joint about X (within 5 degrees:
    a 32-sided cylinder's fitted axis), so the rule, not another check, fuses it."""
    j = _joint(_rod())
    assert j.type == "fixed" and j.source.endswith("+enclosed")
    assert j.features["nested"] >= embedded.MIN_ENCLOSED_SPIN
    j = _joint(_rod(), monkeypatch, rule=False)
    assert j.type == "continuous"
    assert abs(abs(float(j.axis[0])) - 1.0) < 1 - np.cos(np.deg2rad(5.0))


def test_knob_proud_of_its_panel_keeps_its_turn():
    """A 1.2 cm radius, 2 cm tall knob standing on the frame's top bar (z 0.015 up): outside the
    frame's hull, so it keeps a continuous joint about the bar's normal Z (within 5 degrees)."""
    knob = trimesh.creation.cylinder(radius=0.012, height=0.02, sections=32)
    knob.apply_translation((0.0, 0.135, 0.025))
    j = _joint(knob)
    assert j.type == "continuous", (j.type, j.source)
    assert abs(abs(float(j.axis[2])) - 1.0) < 1 - np.cos(np.deg2rad(5.0))


def _stocked_cabinet():
    """A closed cabinet (0.4 x 0.3 x 0.5 m outside, 2 cm walls: one solid with a cavity), a
    shelf plate inside it (2 cm clear of the walls: it touches nothing) and a can (3 cm radius,
    12 cm tall) standing on the shelf: the can touches the shelf only, wholly inside the
    cabinet's hull but not inside the flat shelf's."""
    outer = trimesh.creation.box(extents=(0.4, 0.3, 0.5))
    inner = trimesh.creation.box(extents=(0.36, 0.26, 0.46))
    body = trimesh.boolean.difference([outer, inner], engine="manifold")
    shelf = trimesh.creation.box(extents=(0.32, 0.22, 0.01))
    shelf.apply_translation((0.0, 0.0, -0.05))
    can = trimesh.creation.cylinder(radius=0.03, height=0.12, sections=32)
    can.apply_translation((0.0, 0.0, -0.045 + 0.06))
    return body, shelf, can


def test_a_can_on_a_shelf_inside_a_cabinet_is_glued_whatever_its_parent():
    """The can would spin about its own axis (continuous); its parent in the tree may be the
    shelf, whose hull holds none of it, but the cabinet that stays put encloses it wholly: no
    movable joint for the can (PartNet-Mobility 11709's 112 stocked cans once the fridge's doors
    are no longer welded to its body)."""
    body, shelf, can = _stocked_cabinet()
    parts = [PartGeometry(n, m.vertices, m.faces, seed=0) for n, m in (("body", body), ("shelf", shelf), ("can", can))]
    joints = {j.child: j for j in infer_joints(parts, components=True)}
    assert joints["can"].type == "fixed"
