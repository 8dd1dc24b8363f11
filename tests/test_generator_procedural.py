"""Procedural families: watertight single volumes, deterministic seeds, and joints that move parts
the way their names say (checked by rotating / sliding the part meshes about the stated axes)."""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.generator.metrics import count_solids
from n4d4d.generator.procedural import families, joints_to_json, make_shape, parts_obj

FAMILIES = ("cabinet", "lidded_box", "table", "chair", "mug", "bottle", "lamp", "animal", "figure")


def _rotate(points, origin, axis, angle):
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.asarray(axis) * angle).apply(points - origin) + origin


def test_all_issue_families_are_registered():
    assert set(FAMILIES) <= set(families())


@pytest.mark.parametrize("family", FAMILIES)
def test_family_shapes_are_single_watertight_volumes_with_valid_joints(family):
    for seed in (0, 1):
        a = make_shape(family, seed)
        tm = a.visual.to_trimesh(process=True)
        assert tm.is_watertight and count_solids(tm) == 1
        assert a.visual.bounds[0][2] == pytest.approx(0.0, abs=1e-9)  # rests on z = 0
        names = {p.name for p in a.parts}
        assert len(names) == len(a.parts)
        for p in a.parts:
            assert p.mesh.to_trimesh().is_watertight, (family, seed, p.name)  # as made (manifold3d output)
        for j in a.joints:
            assert j.parent in names and j.child in names and j.parent != j.child
            assert np.linalg.norm(j.axis) == pytest.approx(1.0)
            if j.type in ("revolute", "prismatic"):
                assert j.lower < j.upper
        # the joints form a tree over the parts (every part but the root has exactly one parent)
        children = [j.child for j in a.joints]
        assert len(children) == len(set(children))
        if a.joints:
            assert len(names - set(children)) == 1
        js = joints_to_json(a.joints)
        assert all(set(d) == {"name", "type", "parent", "child", "origin", "axis", "lower", "upper"} for d in js)
        assert parts_obj(a).count("\no ") == len(a.parts)


def test_seeds_are_deterministic_and_distinct():
    a, b, c = make_shape("chair", 3), make_shape("chair", 3), make_shape("chair", 4)
    assert np.array_equal(a.visual.vertices, b.visual.vertices)
    assert a.provenance.options == b.provenance.options
    assert a.provenance.options != c.provenance.options


def test_lid_opens_upwards_about_its_back_edge():
    a = make_shape("lidded_box", 2)
    j = a.joints[0]
    lid = a.part("lid").mesh.vertices
    moved = _rotate(lid, j.origin, j.axis, 0.5 * j.upper)
    front = lid[:, 1] < lid[:, 1].min() + 1e-6
    assert (moved[front, 2] > lid[front, 2] + 0.1 * np.ptp(lid[:, 1])).all()  # the front edge rises
    # the hinge line lies on the lid's back edge: its points do not move
    assert np.allclose(_rotate(j.origin[None], j.origin, j.axis, 1.0), j.origin)
    assert j.origin[1] == pytest.approx(a.visual.bounds[1][1], abs=1e-6)


def test_cabinet_doors_swing_out_and_drawers_slide_out():
    found_door = found_drawer = False
    for seed in range(6):
        a = make_shape("cabinet", seed)
        front_y = a.visual.bounds[0][1]
        for j in a.joints:
            child = a.part(j.child).mesh.vertices
            if j.type == "revolute":
                found_door = True
                moved = _rotate(child, j.origin, j.axis, j.upper)  # fully open: 90 degrees
                assert moved[:, 1].min() < front_y - 0.5 * np.ptp(child[:, 0])  # out in front (-y)
            elif j.type == "prismatic":
                found_drawer = True
                moved = child + j.axis * j.upper
                assert moved[:, 1].min() < child[:, 1].min() - 0.5 * j.upper
                assert np.allclose(j.axis, [0, -1, 0])
    assert found_door and found_drawer


def test_unknown_family_lists_known_ones():
    with pytest.raises(KeyError, match="cabinet"):
        make_shape("spaceship", 0)
