"""Shells under a voxel of volume that decimation and snapping leave after marching cubes are
dropped (PartNet 40147's door came out with a flat tetrahedron beside it, which the
collision stage cannot hull)."""

from __future__ import annotations

import numpy as np
import trimesh


def test_flat_and_sub_voxel_shells_are_dropped_the_solid_stays():
    """A 0.2 m box, a flat tetrahedron (four vertices in one plane: volume 0) and a 1 mm
    tetrahedron (1.7e-10 m^3), at a 5 mm voxel (1.25e-7 m^3): only the box is left, with its
    closed-form volume 0.008 m^3, watertight; a 2 cm cube beside it (8e-6 m^3, 64 voxels) stays."""
    from n4d4d.asset import Mesh
    from n4d4d.volume.remesh import drop_sub_voxel_shells

    box = trimesh.creation.box((0.2, 0.2, 0.2))
    flat = np.array([[0.3, 0.0, 0.0], [0.31, 0.0, 0.0], [0.3, 0.01, 0.0], [0.305, 0.004, 0.0]])
    tiny = np.array([[0.5, 0, 0], [0.501, 0, 0], [0.5, 0.001, 0], [0.5, 0, 0.001]])
    tet = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])
    cube = trimesh.creation.box((0.02, 0.02, 0.02))
    cube.apply_translation((0.0, 0.5, 0.0))
    parts = [(box.vertices, box.faces), (flat, tet), (tiny, tet), (cube.vertices, cube.faces)]
    v, f, n = [], [], 0
    for pv, pf in parts:
        v.append(pv)
        f.append(np.asarray(pf) + n)
        n += len(pv)
    mesh = Mesh(np.concatenate(v).astype(np.float64), np.concatenate(f).astype(np.int64))
    out, dropped = drop_sub_voxel_shells(mesh, 0.005)
    assert dropped == 2
    tm = trimesh.Trimesh(out.vertices, out.faces, process=False)
    assert tm.is_watertight and len(tm.split(only_watertight=False)) == 2
    assert abs(tm.volume - (0.008 + 8e-6)) < 1e-12
    # nothing to drop: the same mesh object back
    same, none = drop_sub_voxel_shells(Mesh(box.vertices.astype(np.float64), box.faces.astype(np.int64)), 0.005)
    assert none == 0 and len(same.faces) == 12
