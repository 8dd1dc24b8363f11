"""Simplify a closed mesh to a face budget without breaking it.

Two simplifiers work in turn, each result checked with :func:`mesh_quality`:

1. **Tolerance-bounded collapse** (``manifold3d``, ``Manifold.simplify``): manifold by
   construction, and every surface point moves less than the tolerance. The tolerance climbs
   a ladder (from :data:`LADDER_START` of the bounding-box diagonal, x1.6 a step) until the
   mesh has at most twice the budget. This removes the bulk of marching cubes' redundancy
   (flat and straight runs of tiny triangles) whatever the shape.
2. **Quadric edge collapse** (``fast_simplification``: Garland-Heckbert quadrics, sp4cerat's
   Fast-Quadric-Mesh-Simplification) takes the remaining factor two to the exact budget,
   placing vertices where the quadric error is least. Alone it is not usable on marching
   cubes output: on developable patches (cylinders, cones, planes; a mug, a can) the summed
   quadric is near-singular, its "optimal" point lands far away, every collapse there is
   refused and a 600k-face mug stalls at 217k faces after 18 s. It also occasionally leaves
   a "fin" (the same triangle twice, facing both ways); fins are removed.

If the quadric result fails the checks the ladder simply continues to the budget. A result is
valid when it is closed, edge- and vertex-manifold, consistently oriented, has as many shells
as the input and meets the budget; the first valid one within :data:`MAX_VOLUME_CHANGE` of the
input's volume is taken, else the valid one closest in volume (a budget too small for the
shape: a 1000-face torus loses ~1.5%), and the figures say so. If nothing is valid the input
is returned unchanged.
"""

from __future__ import annotations

import time

import numpy as np

from n4d4d.volume._chain import weld
from n4d4d.volume.quality import is_closed_manifold, mesh_quality, shell_labels, signed_volumes

#: largest relative volume change a simplification may make and still be accepted
MAX_VOLUME_CHANGE = 0.01
#: first tolerance of the manifold3d ladder, as a fraction of the bounding-box diagonal
#: (about a tenth of a voxel at resolution 256)
LADDER_START = 3e-4


def _remove_fins(v: np.ndarray, f: np.ndarray):
    """Drop every face whose vertex set occurs more than once, then unused vertices."""
    key = np.sort(f, axis=1)
    order = np.lexsort(key.T[::-1])
    s = key[order]
    same = np.all(s[1:] == s[:-1], axis=1)
    dup = np.zeros(len(f), dtype=bool)
    dup[order[1:][same]] = True
    dup[order[:-1][same]] = True
    f = f[~dup]
    used = np.unique(f)
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return v[used], remap[f], int(dup.sum())


def _reference(mesh) -> dict:
    """Shell count and volume of ``mesh`` (cheaper than a full :func:`mesh_quality`)."""
    v, f = weld(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    n, label = shell_labels(f, len(v))
    return {"n_shells": n, "volume": float(signed_volumes(v, f, np.zeros(len(f), np.int64),
                                                          1)[0])}


def _quadric(v, f, max_faces):
    import fast_simplification

    v1, f1 = fast_simplification.simplify(np.array(v, dtype=np.float64),
                                          np.array(f, dtype=np.int64), target_count=max_faces)
    v1, f1, fins = _remove_fins(np.asarray(v1), np.asarray(f1, dtype=np.int64))
    return v1, f1, f"quadric to the budget, {fins} fin faces removed"


def _to_arrays(solid):
    m = solid.to_mesh()
    return (np.asarray(m.vert_properties[:, :3], dtype=np.float64),
            np.asarray(m.tri_verts, dtype=np.int64))


def _candidates(v, f, max_faces):
    """Yield ``(vertices, faces, note)`` simplifications, best first."""
    import manifold3d

    diag = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0)))
    solid = manifold3d.Manifold(manifold3d.Mesh(np.asarray(v, dtype=np.float32),
                                                np.asarray(f, dtype=np.uint32)))
    if solid.status() != manifold3d.Error.NoError:
        # not something manifold3d accepts: the quadric simplifier alone, checked after
        yield _quadric(v, f, max_faces)
        return
    tol = LADDER_START * diag
    while solid.num_tri() > 2 * max_faces:
        solid = solid.simplify(tol)
        tol *= 1.6
    note = f"manifold3d to {solid.num_tri()} faces (tolerance {tol / 1.6:.3g} m)"
    if solid.num_tri() > max_faces:
        v1, f1 = _to_arrays(solid)
        qv, qf, qnote = _quadric(v1, f1, max_faces)
        yield qv, qf, note + ", then " + qnote
        while solid.num_tri() > max_faces:
            solid = solid.simplify(tol)
            tol *= 1.6
        note = f"manifold3d to {solid.num_tri()} faces (tolerance {tol / 1.6:.3g} m)"
    v1, f1 = _to_arrays(solid)
    yield v1, f1, note


def decimate(mesh, max_faces: int, *, stats: dict | None = None):
    """``mesh`` (closed, manifold) simplified to at most ``max_faces`` faces, still closed,
    manifold and consistently oriented. Keeps ``base_color``; per-vertex attributes (UVs,
    normals, colours) do not survive a simplification and are dropped. Returns the input
    when it already fits, or when no simplification passes the checks (see module doc).
    """
    t0 = time.perf_counter()
    info = {"faces_before": int(len(mesh.faces)), "max_faces": int(max_faces), "method": None,
            "attempts": []}
    result = mesh
    if len(mesh.faces) > max_faces:
        q_in = _reference(mesh)
        v = np.asarray(mesh.vertices)
        f = np.asarray(mesh.faces)
        best = None  # (volume change, mesh, note) of the best valid result over tolerance
        try:
            for cv, cf, note in _candidates(v, f, max_faces):
                cand = mesh.__class__(vertices=cv, faces=cf, base_color=mesh.base_color)
                q = mesh_quality(cand)
                dv = abs(q["volume"] / q_in["volume"] - 1) if q_in["volume"] else np.inf
                valid = (is_closed_manifold(q) and q["n_shells"] == q_in["n_shells"]
                         and len(cand.faces) <= max_faces)
                note += (f": {len(cand.faces)} faces, closed manifold "
                         f"{is_closed_manifold(q)}, volume change {dv:.3%}")
                info["attempts"].append(note)
                if valid and dv <= MAX_VOLUME_CHANGE:
                    result, info["method"] = cand, note
                    break
                if valid and (best is None or dv < best[0]):
                    best = (dv, cand, note)
        except Exception as e:  # a simplifier crashing must not lose the mesh
            info["attempts"].append(f"simplifier failed: {type(e).__name__}: {e}")
        if info["method"] is None and best is not None:
            result = best[1]
            info["method"] = best[2] + f" (over the {MAX_VOLUME_CHANGE:.0%} volume tolerance: " \
                                       "the budget is too small for this shape)"
        if info["method"] is None:
            info["method"] = "none passed the checks; input kept"
    info["faces_after"] = int(len(result.faces))
    info["seconds"] = time.perf_counter() - t0
    if stats is not None:
        stats.update(info)
    return result
