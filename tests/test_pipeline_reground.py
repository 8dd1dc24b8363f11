"""The pipeline sets an asset back on the ground by its parts after rigging (``n4d4d.volume.ground.reground``)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from n4d4d.asset import Asset, Joint, Mesh, Part
from n4d4d.volume.ground import reground


def _box(lo, hi) -> Mesh:
    b = trimesh.creation.box(bounds=[lo, hi])
    return Mesh(np.asarray(b.vertices), np.asarray(b.faces))


def _cabinet(bottom_z: float) -> Asset:
    body = _box([-0.2, -0.2, bottom_z], [0.2, 0.2, 0.5])
    door = _box([0.2, -0.2, 0.05], [0.22, 0.2, 0.45])
    hinge = Joint("hinge", "revolute", "body", "door", np.array([0.21, -0.2, 0.25]), np.array([0.0, 0.0, 1.0]),
                  0.0, 1.5)
    return Asset("cab", visual=body, source_mesh=body, parts=(Part("body", body), Part("door", door)),
                 joints=(hinge,))


def test_parts_below_the_ground_are_lifted_with_everything_else():
    """Closed form: the body's bottom at -15.9 mm (a voxel-closed sheet) comes to z = 0, and
    every other point and the joint pivot move up by the same 15.9 mm."""
    a = _cabinet(-0.0159)
    b = reground(a)
    assert min(np.asarray(p.mesh.vertices)[:, 2].min() for p in b.parts) == pytest.approx(0.0, abs=1e-12)
    for before, after in zip(a.parts, b.parts):
        np.testing.assert_allclose(np.asarray(after.mesh.vertices) - np.asarray(before.mesh.vertices),
                                   np.tile([0.0, 0.0, 0.0159], (len(before.mesh.vertices), 1)), atol=1e-12)
    np.testing.assert_allclose(b.joints[0].origin, [0.21, -0.2, 0.25 + 0.0159], atol=1e-12)
    np.testing.assert_allclose(np.asarray(b.visual.vertices)[:, 2].min(), 0.0, atol=1e-12)
    assert "moved +15.9 mm along z" in b.notes[-1]


def test_grounded_or_skinned_assets_are_left_alone():
    """On the ground already: the same object back. With a skeleton (whose frames this step does
    not move): left alone rather than split from its bones."""
    from n4d4d.asset import Skeleton

    a = _cabinet(0.0)
    assert reground(a) is a
    sk = Skeleton(joint_names=("root",), parents=np.array([-1]), bind_positions=np.zeros((1, 3)))
    low = _cabinet(-0.01).replace(skeleton=sk)
    assert reground(low) is low
