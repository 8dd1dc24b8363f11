"""Merged-mesh segmentation fuses welded structure (:func:`n4d4d.rigging.parts.fuse_held`):
a cabinet built of five separate panels is one static body, and only its door moves."""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Asset, Joint, Mesh
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boxes import box_between as _box  # noqa: E402


def _cabinet_with_door():
    """A 0.5 x 0.4 x 0.6 m cabinet open at -Y: bottom, top, two sides and a back, five
    separate closed boxes (2 cm walls) that butt against each other exactly (no shared
    vertices: each is its own piece), and a 2 cm door 3 mm in front of the opening (a door's
    clearance). Truth: one revolute joint, the door about the vertical line x = -0.25,
    y = -0.213 (its left edge); the panels have no joint."""
    import trimesh

    t = 0.02
    panels = [_box([-0.25, -0.2, 0.0], [0.25, 0.2, t]),  # bottom
              _box([-0.25, -0.2, 0.6 - t], [0.25, 0.2, 0.6]),  # top
              _box([-0.25, -0.2, t], [-0.25 + t, 0.2, 0.6 - t]),  # left side
              _box([0.25 - t, -0.2, t], [0.25, 0.2, 0.6 - t]),  # right side
              _box([-0.25 + t, 0.2 - t, t], [0.25 - t, 0.2, 0.6 - t])]  # back
    door = _box([-0.25, -0.223, 0.0], [0.25, -0.203, 0.6])
    body = trimesh.util.concatenate(panels)
    merged = trimesh.util.concatenate([body, door])
    labels = np.concatenate([np.zeros(len(body.faces), np.int32), np.ones(len(door.faces), np.int32)])
    visual = Mesh(merged.vertices, merged.faces, face_submesh=labels, submesh_names=("body", "door"))
    truth = Joint("door_hinge", "revolute", "body", "door", np.array([-0.25, -0.213, 0.3]),
                  np.array([0.0, 0.0, 1.0]), 0.0, np.pi)
    return Asset(name="cabinet_with_door", visual=visual, source_mesh=visual), truth


def test_fuse_held_makes_one_body_of_welded_panels():
    """The five panels touch each other on opposite faces (held), the door touches nothing:
    two groups, the body holding exactly the panels' faces."""
    from n4d4d.rigging.parts import component_groups, fuse_held, merge_small

    asset, _ = _cabinet_with_door()
    v = asset.visual.replace(face_submesh=None, submesh_names=())
    groups, _ = merge_small(v, component_groups(v))
    assert len(groups) == 6  # five panels and the door, each its own piece
    fused, gone = fuse_held(v, groups)
    assert len(fused) == 2 and len(gone) == 4
    labels = asset.visual.face_submesh
    owners = sorted(set(labels[f].tolist()) for _, f in fused)
    assert owners == [{0}, {1}]  # no group mixes panel and door faces


def test_merged_cabinet_gives_only_the_door_hinge():
    """Merged track of the harness: exactly one movable joint, the door's, revolute, with its
    axis within 3 degrees of the true hinge line (issue 18's hinge tolerance), no extra joint
    on the panels."""
    from n4d4d.rigging.harness import evaluate_asset

    asset, truth = _cabinet_with_door()
    (res,) = evaluate_asset(asset, (truth,), "cabinet_with_door", "test", tracks=("merged",))
    assert res.error is None
    (rec,) = res.records
    assert rec.pred_type == "revolute", rec
    assert rec.axis_deg is not None and rec.axis_deg <= 3.0, rec
    assert res.extras == [], res.extras
