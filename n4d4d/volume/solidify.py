"""Give an open sheet a thickness: the closed solid between its two offsets (``--solidify T``).

:func:`solidify` welds the sheet, orients it consistently (trimesh), offsets every vertex by
``+-T/2`` along its area-weighted normal and closes the rim with a wall of quads, so that a
flat or nearly flat input (a leaf, a sheet of paper, a cloth) becomes a solid the volume,
the hulls and the physics engines can use. It is exact for a flat sheet (volume = area x T);
on a curved one the thickness along the normal is T up to the normals' averaging. It does not
resolve self-intersections where the sheet folds more sharply than ``T`` (the static stage's
remesh, ``--remesh always``, does), and it refuses non-manifold sheets (an edge shared by three
or more faces has no inside and outside).
"""

from __future__ import annotations

import numpy as np

from n4d4d.errors import EmptyMeshError, InputError


def solidify(mesh, thickness: float, path=None):
    """Closed, outward-oriented solid of an open surface thickened by ``thickness``.

    Args:
        mesh: :class:`n4d4d.asset.Mesh`, the sheet (m); closed shells in it are thickened too
            (a hollow shell of wall ``thickness``).
        thickness: total thickness (m), > 0, centred on the sheet.
        path: the input file, named in errors.

    Returns:
        A :class:`~n4d4d.asset.Mesh` with ``2V`` vertices and ``2F + 2B`` faces (B rim edges),
        watertight, consistently wound, positive volume; base colour kept, other per-vertex
        attributes dropped.

    Raises:
        ValueError: ``thickness`` not positive and finite.
        EmptyMeshError: no faces of non-zero area.
        InputError: the sheet is not edge-manifold.
    """
    import trimesh

    from n4d4d.asset import Mesh
    from n4d4d.volume._chain import weld
    from n4d4d.volume.remesh import vertex_normals

    if not (np.isfinite(thickness) and thickness > 0):
        raise ValueError(f"thickness must be a positive number of metres, got {thickness!r}")
    v, f = weld(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    if len(f) == 0:
        raise EmptyMeshError("nothing to solidify: every face is degenerate", path)
    tm = trimesh.Trimesh(v, f, process=False)
    edges = np.sort(tm.edges, axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    if (counts > 2).any():
        raise InputError(f"cannot solidify: {int((counts > 2).sum())} edges are shared by three or more faces "
                         "(the sheet has no two sides there)", path)
    trimesh.repair.fix_winding(tm)
    v, f = np.asarray(tm.vertices), np.asarray(tm.faces)
    n = vertex_normals(v, f)
    h = 0.5 * float(thickness)
    nv = len(v)
    verts = np.concatenate([v + h * n, v - h * n])
    faces = [f, f[:, ::-1] + nv]
    # rim: directed edges used by exactly one face, in that face's winding
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    key = np.sort(directed, axis=1)
    _, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    rim = directed[cnt[inv.reshape(-1)] == 1]
    if len(rim):
        a, b = rim[:, 0], rim[:, 1]
        faces += [np.c_[a, a + nv, b + nv], np.c_[a, b + nv, b]]
    out = trimesh.Trimesh(verts, np.concatenate(faces), process=False)
    if out.volume < 0:
        out.invert()
    return Mesh(vertices=np.asarray(out.vertices), faces=np.asarray(out.faces), base_color=mesh.base_color)
