"""Sealed cavities: a part's colliders follow its outer solid (physics_validation.preprocess.fill_voids).

Truths are closed forms: a 2 m cube with a sealed 1 m cubic cavity has volume 7 m^3 and an outer
solid of 8 m^3, whose convex hull is exactly the outer cube (volume ratio 1); a cube whose cavity
opens through one face (a box without its lid) has no sealed cavity and keeps its ratio 8/6.75.
"""

from __future__ import annotations

import numpy as np
import trimesh

from n4d4d.asset import Mesh
from n4d4d.physics_validation.decomposition import convex_decomposition
from n4d4d.physics_validation.fidelity import collision_fidelity
from n4d4d.physics_validation.hulls import hull_of
from n4d4d.physics_validation.preprocess import fill_voids


def _hollow(open_top: bool = False) -> Mesh:
    """A 2 m cube with a 1 m cubic cavity at its centre (sealed), or reaching out through +z."""
    outer = trimesh.creation.box((2.0, 2.0, 2.0))
    if not open_top:
        inner = trimesh.creation.box((1.0, 1.0, 1.0))
        inner.invert()  # the cavity's wall faces into the cavity
        tm = trimesh.util.concatenate([outer, inner])
    else:
        cut = trimesh.creation.box((1.0, 1.0, 2.0))
        cut.apply_translation((0.0, 0.0, 0.75))  # z from -0.25 to 1.75: through the top face
        tm = outer.difference(cut, engine="manifold")
    return Mesh(np.asarray(tm.vertices), np.asarray(tm.faces))


def test_sealed_cavity_is_filled_and_open_one_is_not():
    sealed = _hollow()
    tm = trimesh.Trimesh(sealed.vertices, sealed.faces, process=False)
    assert abs(tm.volume - 7.0) < 1e-9  # the part as given: 8 - 1 m^3
    outer, n, vol = fill_voids(sealed)
    assert n == 1 and abs(vol - 1.0) < 1e-9  # one sealed cavity of 1 m^3 (closed form)
    assert abs(trimesh.Trimesh(outer.vertices, outer.faces, process=False).volume - 8.0) < 1e-9
    assert len(outer.faces) == 12  # the outer cube's faces only
    opened = _hollow(open_top=True)
    same, n, vol = fill_voids(opened)
    assert n == 0 and vol == 0.0 and same is opened  # a cavity with an opening is not enclosed


def test_fidelity_of_a_hollow_part_is_measured_against_its_outer_solid():
    sealed, opened = _hollow(), _hollow(open_top=True)
    hull = hull_of(sealed.vertices)  # the outer cube
    fid = collision_fidelity(sealed, [Mesh(np.asarray(hull.vertices), np.asarray(hull.faces))], samples=4000)
    # the hull is the outer solid itself: ratio 1 up to manifold3d's float round-off (1e-9)
    assert abs(fid["volume_ratio"] - 1.0) < 1e-6 and fid["enclosed_voids"] == 1
    assert fid["p95_pct"] < 1e-3  # every outer-surface sample lies on the hull (float32 BVH: 1e-5 %)
    hull = hull_of(opened.vertices)
    fid = collision_fidelity(opened, [Mesh(np.asarray(hull.vertices), np.asarray(hull.faces))], samples=4000)
    # a box without its lid, filled in: what the ratio bound rejects. The open cavity is
    # 1 x 1 m and 1.25 m deep (z -0.25 to the top face at 1): 8 / (8 - 1.25) = 1.185
    assert abs(fid["volume_ratio"] - 8.0 / 6.75) < 1e-6 and fid["enclosed_voids"] == 0


def test_decomposition_of_a_sealed_hollow_part_is_one_hull():
    hulls, fig = convex_decomposition(_hollow(), max_hulls=8, time_budget_s=30.0, seed=0)
    # its outer solid is convex: the fast path gives the outer cube, volume ratio 1 (round-off)
    assert fig["method"] == "convex" and len(hulls) == 1
    assert fig["enclosed_voids"] == 1 and abs(fig["void_volume_m3"] - 1.0) < 1e-9
    assert abs(fig["volume_ratio"] - 1.0) < 1e-6 and fig["fidelity_passed"]
