"""The static stage: a watertight, manifold visual mesh and the sparse SDF volume it came from.

Runs after the rest pose (so the volume is built in the pose the asset rests in) and before
rigging. The remesh itself is :func:`n4d4d.volume.remesh_watertight`; this module only adapts
it to the :class:`~n4d4d.asset.Asset` record and the build options.

One solid-or-shell rule for the whole and its parts: when the input declares two or more parts
(a URDF's links) and one of them is not closed, the watertight visual is the union of the
parts' solids as the rigging stage closes them (:func:`whole_from_parts`, the one closer
:func:`n4d4d.volume.close_solid`, same wall): a cabinet whose panels are shells is a hollow
cabinet, not the filled block the capped whole would be, and the sum of its part volumes
matches the whole's. Otherwise the whole input is remeshed as one surface.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from n4d4d.asset import Asset, StageRecord
from n4d4d.errors import EmptyMeshError
from n4d4d.options import BuildOptions


def static_stage(asset: Asset, opts: BuildOptions) -> Asset:
    """Fill ``visual`` (watertight mesh, asset frame, m) and ``volume`` from ``source_mesh``.

    Uses ``opts.resolution`` (cells along the longest side), ``max_faces``, ``remesh`` and
    ``memory_budget_gb``. The input's texture or vertex colours, which the remesh drops, are
    transferred onto the new mesh (:func:`n4d4d.volume.texture.transfer_appearance`: UV atlas
    and baked base-colour texture, or vertex colours; ``figures["appearance"]``). Raises
    StageInputError without a source mesh, EmptyMeshError when the remesh is empty, MemoryBudgetError when the volume would not fit the budget.
    """
    from n4d4d.volume import remesh_watertight

    asset.require("static", "source_mesh")
    t0 = time.perf_counter()
    whole = None
    if len(asset.parts) >= 2 and opts.remesh != "never":
        whole = whole_from_parts(asset.parts, asset.source_mesh, thickness=opts.solidify,
                                 resolution=opts.resolution, max_faces=opts.max_faces,
                                 memory_budget_bytes=int(opts.memory_budget_gb * 2**30),
                                 path=asset.provenance.source, seed=opts.seed)
    if whole is not None and whole[0] is not None:
        visual, volume, figures = whole
    else:
        visual, volume, figures = remesh_watertight(
            asset.source_mesh, resolution=opts.resolution, max_faces=opts.max_faces, mode=opts.remesh,
            memory_budget_bytes=int(opts.memory_budget_gb * 2**30), path=asset.provenance.source,
            seed=opts.seed)
        if whole is not None:
            figures["from_parts"] = whole[2]  # why the parts' union was not used
    if len(visual.faces) == 0:
        raise EmptyMeshError("the watertight remesh is empty", asset.provenance.source)
    src = asset.source_mesh
    lost_texture = src.texture_png is not None and src.uvs is not None and (
        visual.texture_png is None or (visual.uvs is None and visual.face_uvs is None))
    lost_colors = src.vertex_colors is not None and visual.vertex_colors is None
    if lost_texture or lost_colors:  # the remesh dropped them: bake them back (closest point)
        from n4d4d.volume.texture import transfer_appearance

        visual, figures["appearance"] = transfer_appearance(visual, src)
    parts = asset.parts
    if parts and (len(visual.faces) != len(src.faces) or not np.array_equal(visual.faces, src.faces)):
        # a URDF's parts index faces of the loaded mesh: the remesh has other faces, so the
        # parts keep their own meshes (materials included) and no index into ``visual``
        parts = tuple(dataclasses.replace(p, face_indices=None) for p in parts)
    return asset.with_stage(StageRecord("static", time.perf_counter() - t0, figures),
                            visual=visual, volume=volume, parts=parts)


def whole_from_parts(parts, source, *, thickness: float | None = None, resolution: int = 256,
                     max_faces: int = 20000, memory_budget_bytes: int = 4 * 2**30,
                     path=None, seed: int = 0):
    """The watertight whole of a multi-part input as the union of its parts' solids.

    Each part (:class:`~n4d4d.asset.Part`, mesh in the asset frame, m) is closed by the rigging
    stage's own part closer, :func:`n4d4d.rigging.parts.close_mesh` (kept when already closed,
    else :func:`n4d4d.volume.close_solid`) with the sheet wall ``thickness`` (m,
    ``--solidify``; None: the closer's default), so a panel is a shell and an enclosed body a
    solid in the whole as in its part (the closings are reused when rigging closes the parts
    again, :data:`n4d4d.volume.solids.CLOSE_CACHE_ENTRIES`). The solids are united
    (manifold3d), simplified to ``max_faces`` (:func:`~n4d4d.volume.decimate`, which keeps
    the mesh closed; when the union's shells touch, so that welded it is not a manifold, or the
    one simplification breaks it, :func:`decimate_shells`, one shell group at a time: PartNet
    11826's union of 192 shells) and the sparse SDF of the result computed at ``resolution`` (cells along
    the longest side, ``memory_budget_bytes``).

    Args:
        parts: the declared parts (two or more).
        source: the loaded :class:`~n4d4d.asset.Mesh` (m), for the figures' quality and
            fidelity (:func:`n4d4d.volume.winding.fidelity`) against the input.
        thickness, resolution, max_faces, memory_budget_bytes, path, seed: as above; ``path``
            names the file in errors, ``seed`` is the simplifier's.

    Returns:
        ``(mesh, sdf, figures)``: the closed, manifold union and its
        :class:`~n4d4d.volume.SparseSDF`, figures JSON-ready (``sign`` "union of the part
        solids", per-part ``kind``, volumes before and after, quality, fidelity, seconds); or
        ``(None, None, figures)`` when every part is closed already (the whole is then the input
        itself, remeshed only if it is not closed) or a part cannot be closed or united
        (``figures["why"]``), for the caller to remesh the whole input instead.

    Raises:
        MemoryBudgetError: the SDF of the union over ``memory_budget_bytes``.
    """
    from n4d4d.rigging.parts import close_mesh  # the parts' own closer: one rule for whole and parts
    from n4d4d.volume.disjoint import from_manifold, to_manifold
    from n4d4d.volume.quality import is_closed_manifold, mesh_quality
    from n4d4d.volume.remesh import vertex_normals
    from n4d4d.volume.sdf import compute_sparse_sdf
    from n4d4d.volume.simplify import decimate

    t0 = time.perf_counter()
    solids, kinds = [], {}
    for p in parts:
        fig: dict = {}
        try:
            closed, changed = close_mesh(p.mesh, thickness=thickness, figures=fig)
        except ValueError as e:
            return None, None, {"why": f"part {p.name} cannot be closed: {e}"}
        solids.append(closed)
        kinds[p.name] = fig.get("kind", "kept") if changed else "kept"
    if all(k == "kept" for k in kinds.values()):
        return None, None, {"why": "every part is closed already"}
    t_close = time.perf_counter()
    ms = [to_manifold(m) for m in solids]
    bad = [p.name for p, m in zip(parts, ms) if m is None]
    if bad:
        return None, None, {"why": "manifold3d rejects the solid of part(s) " + ", ".join(bad[:8])}
    import manifold3d as mf

    union = mf.Manifold.batch_boolean(ms, mf.OpType.Add)
    if union.is_empty() or union.status() != mf.Error.NoError:
        return None, None, {"why": "the union of the part solids is empty"}
    united = from_manifold(union, source)
    t_union = time.perf_counter()
    dec_stats: dict = {}
    out = None
    if is_closed_manifold(mesh_quality(united)):  # one simplification over all shells: quadrics rank errors globally
        out = decimate(united, max_faces, stats=dec_stats, seed=seed)
        if not is_closed_manifold(mesh_quality(out)):
            dec_stats["global_failed"], out = dec_stats.pop("method", None), None
    if out is None:  # shells that touch, or a global budget that loses some: one shell at a time
        out = decimate_shells(united, max_faces, stats=dec_stats, seed=seed)
    out = out.replace(normals=vertex_normals(out.vertices, out.faces))
    q_after = mesh_quality(out)
    if not is_closed_manifold(q_after):
        return None, None, {"why": "the simplified union is not a closed manifold",
                            "decimation": {k: v for k, v in dec_stats.items() if k != "attempts"}}
    t_dec = time.perf_counter()
    sdf_stats: dict = {}
    sdf = compute_sparse_sdf(out, resolution=resolution, memory_budget_bytes=memory_budget_bytes, path=path,
                             stats=sdf_stats)
    t_sdf = time.perf_counter()
    from n4d4d.volume.winding import fidelity

    fid = fidelity(out, source, sdf.voxel_size, seed=seed)
    q_before = mesh_quality(source)
    n_shell = sum(k == "shell" for k in kinds.values())
    figures = {
        "mode": "auto", "action": "remeshed", "sign": "union of the part solids",
        "reason": (f"{sum(k != 'kept' for k in kinds.values())} of {len(parts)} declared parts are open: the whole is the union of the "
                   f"parts' solids ({n_shell} shell(s)), one solid-or-shell rule for the whole and its parts"),
        "parts": kinds, "shell_wall": None if thickness is None else float(thickness),
        "resolution": int(sdf.resolution), "voxel_size": float(sdf.voxel_size), "band": float(sdf.band),
        "block_size": int(sdf.block_size), "grid_nodes": [int(x) for x in sdf.grid_shape],
        "band_nodes": int(sdf.n_nodes), "occupied_blocks": int(sdf.n_blocks), "sdf_bytes": int(sdf.nbytes),
        "memory_estimate_bytes": int(sdf_stats.get("estimate_bytes", 0)),
        "union_volume": float(union.volume()), "sum_of_part_solids": float(sum(m.volume() for m in ms)),
        "decimation": {k: v for k, v in dec_stats.items() if k != "seconds"},
        "quality_before": q_before, "quality_after": q_after, "input_closed": bool(is_closed_manifold(q_before)),
        "volume_before": q_before["volume"], "volume_after": q_after["volume"], "fidelity": fid,
        "uvs_kept": False, "normals": "area-weighted vertex normals of the output",
        "vertex_colors_kept": False, "base_color_kept": out.base_color is not None or source.base_color is None,
        "seconds": {"close_parts": t_close - t0, "union": t_union - t_close, "decimation": t_dec - t_union,
                    "sdf": t_sdf - t_dec, "total": time.perf_counter() - t0},
    }
    return out, sdf, figures


#: fewest faces a shell is given by :func:`decimate_shells` (or all of its own, if fewer):
#: a closed tube of a wire piece needs a few dozen triangles to stay a tube
MIN_SHELL_FACES = 32


def shell_budgets(faces_per_shell: np.ndarray, area_per_shell: np.ndarray, max_faces: int) -> np.ndarray:
    """Face budget ``(S,) int64`` of each shell, ``max_faces`` split by area (water-filling).

    A shell whose share is at least its own face count keeps all its faces and the rest of the
    budget is split again among the others; each shell gets at least
    ``min(own faces, MIN_SHELL_FACES)``. The budgets add up to at most ``max_faces`` unless
    the floors alone exceed it (then each shell gets its floor).
    """
    cnt = np.asarray(faces_per_shell, np.int64)
    area = np.maximum(np.asarray(area_per_shell, np.float64), 0.0)
    floor = np.minimum(cnt, MIN_SHELL_FACES)
    budget = floor.copy()
    active = cnt > floor
    left = max_faces - int(floor.sum())
    while left > 0 and active.any():
        # the area share of the faces above the floors, among the shells not yet full
        a = np.where(active, area, 0.0)
        share = left * a / a.sum() if a.sum() > 0 else np.where(active, left / active.sum(), 0.0)
        full = active & (budget + share >= cnt)
        if not full.any():
            budget[active] += np.floor(share[active]).astype(np.int64)
            break
        left -= int((cnt[full] - budget[full]).sum())
        budget[full] = cnt[full]
        active &= ~full
    return budget


#: a cavity at least this fraction of the volume of the shell around it is simplified with that
#: shell (:func:`shell_groups`); a smaller one (a bubble where two parts' solids overlap) alone:
#: its volume moves by at most ~1 % of its own, under 1e-4 of the shell's, and a bubble inside
#: a big shell's budget would be collapsed to nothing, which breaks the shell's closedness
CAVITY_GROUP_FRACTION = 1e-2


def shell_groups(vertices: np.ndarray, faces: np.ndarray, label: np.ndarray, n: int) -> np.ndarray:
    """``(n,) int64`` group of each of the ``n`` shells (``label`` ``(F,)``, as
    :func:`n4d4d.volume.quality.shell_labels` gives): a shell facing inward (negative signed
    volume: a cavity, the inner wall of a hollow) of at least :data:`CAVITY_GROUP_FRACTION`
    of its volume joins the smallest outward shell that encloses it (generalized winding
    number of one of its vertices > 1/2, libigl), so a thin wall's two sides are simplified
    together and its volume (their small difference) is what the simplifier's volume check
    guards; every other shell is its own group."""
    import igl

    from n4d4d.volume.quality import signed_volumes

    vol = signed_volumes(vertices, faces, label, n)
    group = np.arange(n, dtype=np.int64)
    lo = np.full((n, 3), np.inf)
    hi = np.full((n, 3), -np.inf)
    np.minimum.at(lo, label, vertices[faces].min(axis=1))
    np.maximum.at(hi, label, vertices[faces].max(axis=1))
    outward = np.flatnonzero(vol > 0)
    for i in np.flatnonzero(vol < 0):
        p = vertices[faces[label == i][0, 0]][None, :]
        holds = outward[np.all(lo[outward] <= lo[i], axis=1) & np.all(hi[outward] >= hi[i], axis=1)
                        & (-vol[i] >= CAVITY_GROUP_FRACTION * vol[outward])]
        for j in holds[np.argsort(vol[holds])]:
            fj = faces[label == j]
            if float(np.ravel(igl.winding_number(vertices, fj, p))[0]) > 0.5:
                group[i] = j
                break
    return group


def decimate_shells(mesh, max_faces: int, *, stats: dict | None = None, seed: int = 0):
    """``mesh`` (m; its connected shells each closed and manifold, possibly touching one
    another at coincident vertices, as a manifold3d union leaves them) simplified to at most
    ``max_faces`` faces one shell at a time (:func:`~n4d4d.volume.decimate`; a cavity's shell
    with the shell that encloses it, :func:`shell_groups`; each group's budget by area,
    :func:`shell_budgets`), so that no shell is lost to a global budget, and
    vertices of different shells that share a position moved apart along their own sheets
    (by :data:`n4d4d.volume.simplify.SEPARATION` of the diagonal) so that welding by position
    cannot pinch the surface where shells touch. A shell facing inward (a cavity, negative
    volume) is simplified turned outward and turned back. ``stats`` receives ``shells``,
    ``groups``, ``method``, ``faces_before``/``faces_after``, ``max_faces``,
    ``shells_not_simplified`` (groups decimate kept whole: over their budget; what they keep
    over it comes off the largest group that met its own, so the total meets ``max_faces``
    where that group can give it) and ``seconds``.
    Returns a :class:`~n4d4d.asset.Mesh` of the same class, ``base_color`` kept."""
    from n4d4d.volume.quality import shell_labels, signed_volumes
    from n4d4d.volume.simplify import SEPARATION, separate_coincident, decimate

    t0 = time.perf_counter()
    v = np.asarray(mesh.vertices, np.float64)
    f = np.asarray(mesh.faces, np.int64)
    n, label = shell_labels(f, len(v))
    tri = v[f]
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    group = shell_groups(v, f, label, n)[label]  # per face
    _, group = np.unique(group, return_inverse=True)
    n_groups = int(group.max()) + 1
    cnt = np.bincount(group, minlength=n_groups)
    budget = shell_budgets(cnt, np.bincount(group, weights=areas, minlength=n_groups), max_faces)
    def simplified(piece, target):
        # a cavity's shell faces inward (negative volume): simplified as a solid, turned back
        inward = signed_volumes(piece.vertices, piece.faces, np.zeros(len(piece.faces), np.int64), 1)[0] < 0
        if inward:
            piece = piece.replace(faces=np.asarray(piece.faces)[:, ::-1].copy())
        piece = decimate(piece, int(target), seed=seed)
        return piece.replace(faces=np.asarray(piece.faces)[:, ::-1].copy()) if inward else piece

    pieces, outs = [], []
    for s in range(n_groups):
        sf = f[group == s]
        used = np.unique(sf)
        remap = np.full(len(v), -1, np.int64)
        remap[used] = np.arange(len(used))
        pieces.append(mesh.__class__(vertices=v[used], faces=remap[sf], base_color=mesh.base_color))
        outs.append(simplified(pieces[s], budget[s]) if len(sf) > budget[s] else pieces[s])
    over_budget = [s for s in range(n_groups) if len(outs[s].faces) > budget[s]]  # decimate kept them whole
    over = sum(len(o.faces) for o in outs) - max_faces
    if over > 0:  # what those keep over their budgets comes off the largest group that met its own
        met = [s for s in range(n_groups) if s not in over_budget and len(pieces[s].faces) > budget[s]]
        if met:
            big = max(met, key=lambda s: len(outs[s].faces))
            smaller = simplified(pieces[big], len(outs[big].faces) - over)
            if len(smaller.faces) <= len(outs[big].faces) - over:
                outs[big] = smaller
    vs, fs, offset = [], [], 0
    for o in outs:
        vs.append(np.asarray(o.vertices, np.float64))
        fs.append(np.asarray(o.faces, np.int64) + offset)
        offset += len(o.vertices)
    kept_whole = len(over_budget)
    v_out, f_out = np.concatenate(vs), np.concatenate(fs)
    diag = float(np.linalg.norm(v_out.max(axis=0) - v_out.min(axis=0)))
    v_out, moved = separate_coincident(v_out, f_out, SEPARATION * diag)
    if stats is not None:
        stats.update({"method": (f"per shell, budget by area: {n} shells in {n_groups} groups, "
                                 f"{moved} coincident vertices moved apart"),
                      "shells": int(n), "groups": n_groups, "faces_before": int(len(f)), "faces_after": int(len(f_out)),
                      "max_faces": int(max_faces), "shells_not_simplified": int(kept_whole),
                      "seconds": time.perf_counter() - t0})
    return mesh.__class__(vertices=v_out, faces=f_out, base_color=mesh.base_color)
