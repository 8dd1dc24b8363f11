"""Rigging building blocks against closed-form truth: mesh pieces, voxel solids, cavities,
the branchless skeleton fallback, the harness metrics, and two joints that only the contact
frame and piece symmetry find (a pin between crossed blades, a motor disc with a bracket)."""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Joint, Mesh
from n4d4d.rigging import procedural, rig_stage
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boxes import box_between as _box  # noqa: E402


def test_mesh_components_split_touching_solids_and_keep_soups_whole():
    import trimesh

    from n4d4d.rigging.geometry import mesh_components

    # two unit boxes sharing one edge (x = 1, z = 1): separate bodies
    a, b = _box([0, 0, 0], [1, 1, 1]), _box([1, 0, 1], [2, 1, 2])
    ab = trimesh.util.concatenate([a, b])
    assert sorted(len(c) for c in mesh_components(ab.vertices, ab.faces)) == [12, 12]
    # a double-sided quad strip as an OBJ soup: every corner repeated, every triangle twice
    quad = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 0], [2, 1, 0]], float)
    tris = np.array([[0, 1, 2], [0, 2, 3], [1, 4, 5], [1, 5, 2]])
    tris = np.concatenate([tris, tris[:, ::-1]])
    V = quad[tris.ravel()]
    F = np.arange(len(V)).reshape(-1, 3)
    assert [len(c) for c in mesh_components(V, F)] == [8]


def test_solid_grid_volume_and_cavities():
    from n4d4d.rigging.voxels import fill_except_holding, solid_grid

    box = _box([0, 0, 0], [0.4, 0.2, 0.1])
    pitch = 0.01
    g = solid_grid(box.vertices, box.faces, pitch)
    # filled: every cell the box covers, plus at most one layer of surface cells beyond each
    # face (a face on a row of cell centres may round either way)
    vol = g.occupied.sum() * pitch ** 3
    assert 0.4 * 0.2 * 0.1 <= vol <= 0.42 * 0.22 * 0.12
    centre, outside = np.array([[0.2, 0.1, 0.05]]), np.array([[0.2, 0.1, 0.2]])
    assert g.depth_at(centre)[0] > 0 > g.depth_at(outside)[0]
    shell = solid_grid(box.vertices, box.faces, pitch, fill=False)
    assert shell.depth_at(centre)[0] < 0
    # the cavity of a closed shell is matter, unless it holds the probes (a nested part)
    assert fill_except_holding(shell, outside).depth_at(centre)[0] > 0
    inner = centre + np.random.default_rng(0).uniform(-0.03, 0.03, (50, 3))
    assert fill_except_holding(shell, inner).depth_at(centre)[0] < 0


def test_branchless_shape_gets_an_axis_skeleton():
    import trimesh

    from n4d4d.rigging.skeleton import curve_skeleton

    # a plain cylinder, which Lee thinning (scikit-image 0.26) erases entirely
    tm = trimesh.creation.cylinder(radius=0.1, height=1.0, sections=32)
    sk = curve_skeleton(Mesh.from_trimesh(tm))
    p = sk.bind_positions
    assert len(p) >= 3 and sk.parents[0] == -1
    # joints on the axis (within a voxel, 1/64 m, of it) and the chain ending about a radius
    # (0.1 m, the inset) plus a voxel short of each tip
    assert np.abs(p[:, :2]).max() < 1.0 / 64 + 1e-9
    for tip in (-0.5, 0.5):
        assert np.abs(p[:, 2] - tip).min() < 0.1 + 2.0 / 64


def test_metrics_extra_joints_and_rangeless_limits():
    from n4d4d.rigging import metrics

    axis, o = np.array([0.0, 0.0, 1.0]), np.zeros(3)
    true = [Joint("t", "revolute", "a", "b", o, axis, 0.0, 0.0)]  # a file limit with no range
    pred = [Joint("p", "revolute", "pa", "pb", o, axis, -1.0, 1.0),
            Joint("q", "revolute", "pb", "pc", o, axis, -1.0, 1.0),  # both pieces of body b
            Joint("r", "fixed", "pa", "pd", o, axis)]
    to_body = {"pa": "a", "pb": "b", "pc": "b", "pd": "a"}
    (t, p), = metrics.match_joints(pred, true, to_body)
    assert p.name == "p"
    assert metrics.joint_errors(p, t, 1.0)["limit_err"] is None
    assert metrics.extra_joints(pred, true, to_body) == 1


# 2 degrees and 1 % of the diagonal, as in test_rigging.py: exact shapes, sampled estimates
AXIS_TOL_DEG = 2.0
PIVOT_TOL = 0.01


def _check(asset, truth):
    from n4d4d.rigging.metrics import axis_angle_deg, point_line_distance

    out = rig_stage(asset, seed=0)
    (j,) = out.joints
    assert (j.parent, j.child) == (truth.parent, truth.child)
    assert j.type in ("revolute", "continuous")
    assert axis_angle_deg(j.axis, truth.axis) < AXIS_TOL_DEG
    assert point_line_distance(j.origin, truth.origin, truth.axis) < PIVOT_TOL * asset.visual.diagonal
    return j


def test_crossed_blades_turn_about_their_pin():
    """Face on face over a small patch: a pin, not a panel on a rim; the upper blade slides
    on the lower one all the way round."""
    asset, (truth,) = procedural.crossed_blades()
    j = _check(asset, truth)
    assert j.type == "continuous"


def test_motor_disc_with_bracket_turns_about_the_disc_axis():
    """The rotor (disc + bar) is no solid of revolution, its disc is: piece symmetry."""
    asset, (truth,) = procedural.motor_with_bracket()
    j = _check(asset, truth)
    assert j.type == "continuous"
