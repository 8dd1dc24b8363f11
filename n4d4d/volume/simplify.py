"""Simplify a closed mesh to a face budget without breaking it.

Candidates are tried in order, each checked with :func:`mesh_quality`:

1. **Quadric edge collapse** (``fast_simplification``: Garland-Heckbert quadrics, sp4cerat's
   Fast-Quadric-Mesh-Simplification) on the vertices jittered by :data:`JITTER` (fixed seed).
   Plain, it is not usable on marching-cubes output: on developable patches (planes,
   cylinders, cones: a box, a mug, a can) the summed plane quadrics are near-singular, the
   "optimal" collapse point lands far away, every collapse there is refused as a flip and a
   600k-face mug stalls at 217k faces after 18 s. A jitter of a few hundredths of a voxel
   conditions the quadrics (measured: a smooth cylinder goes from stuck at 51k faces after
   7 s to 20k in 1.3 s). It leaves some "fins" (the same triangle twice, facing both ways),
   which are removed, and removing one may leave a vertex where two cones of faces touch,
   which is cut in two; a shell it makes out of nothing (under :data:`DEBRIS` of the
   volume, e.g. a 4-face tetrahedron where a fin was) is dropped.
2. **Tolerance-bounded collapse** (``manifold3d``, ``Manifold.simplify``): manifold by
   construction, every surface point moves less than the tolerance; the tolerance climbs a
   ladder (from :data:`LADDER_START` of the bounding-box diagonal, x1.6 a step) to twice the
   budget, then the quadric simplifier takes the last factor two; then the same from a
   gentler rung, and last the ladder all the way to the budget.
   manifold3d may leave two vertices at one point (a touch); they are moved apart by
   :data:`SEPARATION` along their own sheets, so that welding by position cannot pinch them.

A result is valid when it is closed, edge- and vertex-manifold, consistently oriented, has no
fewer shells than the input (one may split where a neck thinner than the tolerance was cut)
and meets the budget. The first valid one with the input's shell count and a volume within
:data:`MAX_VOLUME_CHANGE` is taken, else the best valid one (same shell count first, then
the smallest volume change: a budget too small for the shape, e.g. a 1000-face torus loses
~1.5%), and the figures say so. If nothing is valid the input is returned unchanged.
"""

from __future__ import annotations

import time

import numpy as np

from n4d4d.volume._chain import weld
from n4d4d.volume.quality import (is_closed_manifold, mesh_quality, shell_labels,
                                  signed_volumes, split_pinched)

#: largest relative volume change a simplification may make and still be accepted
MAX_VOLUME_CHANGE = 0.01
#: first tolerance of the manifold3d ladder, as a fraction of the bounding-box diagonal
#: (about a tenth of a voxel at resolution 256)
LADDER_START = 3e-4
#: most rungs climbed (1.6 ** 30 x the start is far beyond any object's size)
LADDER_RUNGS = 30
#: how far apart (fraction of the bounding-box diagonal) vertices that a simplifier left at
#: one position are moved, along their own sheet; far above any reader's welding tolerance
SEPARATION = 1e-6
#: rms jitter (fraction of the bounding-box diagonal, ~0.03 voxel at resolution 256) added to
#: the vertices before quadric simplification, with a fixed seed so builds repeat bit for bit
JITTER = 7e-5
#: a shell added by simplification with less than this fraction of the volume is debris
DEBRIS = 1e-6
JITTER_SEED = 0


def _remove_fins(v: np.ndarray, f: np.ndarray):
    """Cancel faces repeated on one vertex set as a chain would: a triangle and its flip
    (a fin) cancel, same-side copies count once. Returns ``(vertices, faces, removed)``."""
    from n4d4d.volume._chain import unique_rows

    key = np.sort(f, axis=1)
    first, group = unique_rows(key)
    # orientation of each face relative to its group's first face: even permutation or not
    ref = f[first][group]
    pos = np.argmax(ref == f[:, :1], axis=1)  # where f's first vertex sits in ref
    same = ref[np.arange(len(f)), (pos + 1) % 3] == f[:, 1]
    net = np.bincount(group, weights=np.where(same, 1.0, -1.0), minlength=len(first))
    count = np.bincount(group, minlength=len(first))
    repeated = count[group] > 1
    keep = ~repeated
    # one face per repeated group with a non-zero net, facing the net's way
    rep_groups = np.flatnonzero((count > 1) & (net != 0))
    extra = f[first[rep_groups]]
    extra = np.where((net[rep_groups] > 0)[:, None], extra, extra[:, ::-1])
    f_new = np.vstack([f[keep], extra])
    removed = int(len(f) - len(f_new))
    used = np.unique(f_new)
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return v[used], remap[f_new], removed


def separate_coincident(v: np.ndarray, f: np.ndarray, step: float) -> tuple[np.ndarray, int]:
    """Move apart vertices that are distinct in the connectivity but share a position.

    manifold3d may collapse two sheets onto one point (a touch); welding by position, as any
    reader does, would then pinch the surface there. Each such vertex moves ``step`` toward
    the centroid of its own neighbours, which keeps it on its sheet.

    Args:
        v: ``(V, 3) float64`` vertices (m). f: ``(F, 3) int64`` faces. step: distance (m) each
            coincident vertex moves (positions are compared on a grid of ``step / 1000``).

    Returns:
        ``(vertices (V, 3) float64, number of vertices moved)``; the faces are unchanged.
    """
    from n4d4d.volume._chain import unique_rows

    key = np.round(v / max(step, 1e-300) * 1e3).astype(np.int64)
    first, inverse = unique_rows(key)
    counts = np.bincount(inverse, minlength=len(first))
    dup = np.flatnonzero(counts[inverse] > 1)
    if len(dup) == 0:
        return v, 0
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    nsum = np.zeros_like(v)
    ncount = np.zeros(len(v))
    np.add.at(nsum, edges[:, 0], v[edges[:, 1]])
    np.add.at(ncount, edges[:, 0], 1.0)
    v = v.copy()
    d = nsum[dup] / np.maximum(ncount[dup], 1)[:, None] - v[dup]
    v[dup] += step * d / np.maximum(np.linalg.norm(d, axis=1), 1e-300)[:, None]
    return v, len(dup)


def _drop_debris(v: np.ndarray, f: np.ndarray, n_input_shells: int):
    """Remove shells a simplifier made out of nothing (a 4-face inverted tetrahedron left
    where a fin was cut, ~0.01 voxel^3): those beyond the input's shell count whose volume is
    under :data:`DEBRIS` of the total. Returns ``(vertices, faces, shells removed)``."""
    n, label = shell_labels(f, len(v))
    if n <= n_input_shells:
        return v, f, 0
    vol = np.abs(signed_volumes(v, f, label, n))
    order = np.argsort(vol)[: n - n_input_shells]
    drop = order[vol[order] < DEBRIS * vol.sum()]
    if len(drop) == 0:
        return v, f, 0
    f = f[~np.isin(label, drop)]
    used = np.unique(f)
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return v[used], remap[f], len(drop)


def _reference(mesh) -> dict:
    """Shell count and volume of ``mesh`` (cheaper than a full :func:`mesh_quality`)."""
    v, f = weld(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    n, _ = shell_labels(f, len(v))
    return {"n_shells": n, "volume": float(signed_volumes(v, f, np.zeros(len(f), np.int64),
                                                          1)[0])}


def _quadric(v, f, max_faces):
    import fast_simplification

    v1, f1 = fast_simplification.simplify(np.array(v, dtype=np.float64),
                                          np.array(f, dtype=np.int64), target_count=max_faces)
    v1, f1, fins = _remove_fins(np.asarray(v1), np.asarray(f1, dtype=np.int64))
    v2, f2, cut = split_pinched(v1, f1)
    if _max_edge_faces(f2) > 2:  # a tangled fan: cut without pairing, debris is dropped later
        v2, f2, cut = split_pinched(v1, f1, pair_edges=False)
    return v2, f2, f"quadric to the budget, {fins} fin faces removed, {cut} pinched vertices cut"


def _max_edge_faces(f: np.ndarray) -> int:
    """Largest number of faces on one edge."""
    n = int(f.max()) + 1 if len(f) else 1
    a, b = f.reshape(-1), np.roll(f, -1, axis=1).reshape(-1)
    key = np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)
    return int(np.unique(key, return_counts=True)[1].max()) if len(key) else 0


def _to_arrays(solid, step: float):
    m = solid.to_mesh()
    v = np.asarray(m.vert_properties[:, :3], dtype=np.float64)
    f = np.asarray(m.tri_verts, dtype=np.int64)
    return separate_coincident(v, f, step)[0], f


def _jittered_quadric(v, f, max_faces, diag, seed=JITTER_SEED):
    amp = JITTER * diag
    rng = np.random.default_rng(seed)
    qv, qf, note = _quadric(v + rng.normal(scale=amp, size=v.shape), f, max_faces)
    return separate_coincident(qv, qf, SEPARATION * diag)[0], qf, \
        f"{note} (vertices jittered by {amp:.2g} m rms)"


def _candidates(v, f, max_faces, seed=JITTER_SEED):
    """Yield thunks, each returning a ``(vertices, faces, note)`` simplification, best first
    (see module doc); a thunk that raises is reported and skipped. ``seed`` seeds the jitter."""
    import manifold3d

    diag = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0)))
    step = SEPARATION * diag
    yield lambda: _jittered_quadric(v, f, max_faces, diag, seed=seed)
    solid = manifold3d.Manifold(manifold3d.Mesh(np.asarray(v, dtype=np.float32),
                                                np.asarray(f, dtype=np.uint32)))
    if solid.status() != manifold3d.Error.NoError:
        # not something manifold3d accepts: the quadric simplifier again, other jitter
        yield lambda: _jittered_quadric(v, f, max_faces, diag, seed=seed + 1)
        return

    def finish(start, tol):
        note = f"manifold3d to {start.num_tri()} faces (tolerance {tol:.3g} m)"
        v1, f1 = _to_arrays(start, step)
        if len(f1) <= max_faces:
            return v1, f1, note
        qv, qf, qnote = _quadric(v1, f1, max_faces)
        return separate_coincident(qv, qf, step)[0], qf, f"{note}, then {qnote}"

    # the ladder; rungs are kept, since a gentler one is the fallback start
    rungs = [(solid, 0.0)]
    tol = LADDER_START * diag
    while solid.num_tri() > max_faces and len(rungs) <= LADDER_RUNGS:
        solid = solid.simplify(tol)
        rungs.append((solid, tol))
        tol *= 1.6
        if solid.num_tri() <= 2 * max_faces < rungs[-2][0].num_tri():
            yield lambda s=solid, t=rungs[-1][1]: finish(s, t)
    # a gentler start: the last rung with at least six times the budget
    gentle = [r for r in rungs[1:] if r[0].num_tri() >= 6 * max_faces]
    if gentle:
        yield lambda: finish(*gentle[-1])
    yield lambda: finish(*rungs[-1])


def decimate(mesh, max_faces: int, *, stats: dict | None = None, seed: int = JITTER_SEED):
    """``mesh`` (closed, manifold) simplified to at most ``max_faces`` faces, still closed,
    manifold and consistently oriented. Keeps ``base_color``; per-vertex attributes (UVs,
    normals, colours) do not survive a simplification and are dropped. Returns the input
    when it already fits, or when no simplification passes the checks (see module doc).
    ``seed`` seeds the sub-voxel jitter of the quadric simplifier (the build's seed).
    """
    t0 = time.perf_counter()
    info = {"faces_before": int(len(mesh.faces)), "max_faces": int(max_faces), "method": None,
            "attempts": []}
    result = mesh
    if len(mesh.faces) > max_faces:
        q_in = _reference(mesh)
        v = np.asarray(mesh.vertices)
        f = np.asarray(mesh.faces)
        best = None  # (rank, mesh, note) of the best valid result with a flaw
        candidates = _candidates(v, f, max_faces, seed=seed)
        while True:
            try:
                cv, cf, note = next(candidates)()
                cv, cf, debris = _drop_debris(cv, cf, q_in["n_shells"])
                if debris:
                    note += f", {debris} debris shells dropped"
            except StopIteration:
                break
            except Exception as e:  # a simplifier crashing must not lose the mesh
                info["attempts"].append(f"simplifier failed: {type(e).__name__}: {e}")
                continue
            cand = mesh.__class__(vertices=cv, faces=cf, base_color=mesh.base_color)
            q = mesh_quality(cand)
            dv = abs(q["volume"] / q_in["volume"] - 1) if q_in["volume"] else np.inf
            # a shell may split where a neck thinner than the tolerance was cut, none
            # may vanish
            valid = (is_closed_manifold(q) and q["n_shells"] >= q_in["n_shells"]
                     and len(cand.faces) <= max_faces)
            note += (f": {len(cand.faces)} faces, closed manifold "
                     f"{is_closed_manifold(q)}, shells {q_in['n_shells']} -> "
                     f"{q['n_shells']}, volume change {dv:.3%}")
            info["attempts"].append(note)
            rank = (q["n_shells"] != q_in["n_shells"], dv > MAX_VOLUME_CHANGE, dv)
            if valid and not rank[0] and not rank[1]:
                result, info["method"] = cand, note
                break
            if valid and (best is None or rank < best[0]):
                best = (rank, cand, note)
        if info["method"] is None and best is not None:
            result, info["method"] = best[1], best[2]
        if info["method"] is None:
            info["method"] = "none passed the checks; input kept"
    info["faces_after"] = int(len(result.faces))
    info["seconds"] = time.perf_counter() - t0
    if stats is not None:
        stats.update(info)
    return result
