"""The static stage's watertight remesh: input mesh -> (closed manifold mesh, sparse SDF,
figures).

``mode="auto"`` keeps an input that is already closed, edge- and vertex-manifold,
consistently oriented and of positive volume (welded at coincident vertices, simplified only
when over the face budget) and remeshes anything else; ``"always"`` remeshes; ``"never"``
keeps the input and refuses one that is not closed. The sparse SDF is computed in every mode,
since later stages (rigging, the training corpus) read it.

An open input's capped solid is checked against the input (:func:`n4d4d.volume.winding.fidelity`:
input surface covered, little surface added away from it); when it fails or encloses nothing
(caps crossing a soup of open panels, each rimless panel's faces capped by themselves), the
uncapped winding-number solid is tried at the same resolution and returned if it passes (``figures["sign"]``, the capped attempt under ``figures["capped"]``).

This module orchestrates and reports; the work is in :mod:`~n4d4d.volume.sdf`,
:mod:`~n4d4d.volume.extract` and :mod:`~n4d4d.volume.simplify`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from n4d4d.errors import EmptyMeshError, InputError, MemoryBudgetError
from n4d4d.volume._chain import weld
from n4d4d.volume.simplify import decimate
from n4d4d.volume.extract import extract_surface
from n4d4d.volume.quality import is_closed_manifold, mesh_quality
from n4d4d.volume.sdf import check_input, check_memory, compute_sparse_sdf, estimate_for_mesh

MODES = ("auto", "always", "never")

#: wall (voxels) of the shell an input that encloses nothing (a curved open sheet) is given:
#: the thinnest the grid resolves (every point of a sheet is within sqrt(3)/2 voxel of a node,
#: which is then inside)
SHEET_WALL_VOXELS = 2.0

#: remeshed vertices within this many voxels of the input are moved onto it
#: (:func:`n4d4d.volume.snap.snap_to_input`); marching cubes and the simplifier leave them within
#: about half a voxel where the input has surface, while caps over holes lie farther
SNAP_VOXELS = 0.5
#: a shell's vertices within this many voxels of its offset surface are moved onto it
#: (:func:`n4d4d.volume.snap.snap_to_offset`): marching cubes strays up to ~0.25 voxel from it
#: where two sheets are close, the simplifier a small fraction of a voxel
SHELL_SNAP_VOXELS = 0.5


def drop_sub_voxel_shells(mesh, voxel_size: float, min_voxels: float = 1.0):
    """``(mesh, n_dropped)``: ``mesh`` without the closed shells that enclose less than
    ``min_voxels`` voxel volumes (``voxel_size`` m), as :func:`~n4d4d.volume.extract_surface`
    drops them after marching cubes. Decimation and the snaps onto the input or its offset
    surface run after that and can leave one, e.g. a shell decimated to a tetrahedron whose four
    vertices then land on one input plane (zero volume: a collision stage cannot hull it). The
    largest shell always stays; attributes indexed by vertex or face are kept for those that stay.
    ``mesh`` is a :class:`n4d4d.asset.Mesh` (triangles, no quads: it runs before retopology)."""
    from n4d4d.volume.quality import shell_labels, signed_volumes

    v, f = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
    n, label = shell_labels(f, len(v))
    if n < 2:
        return mesh, 0
    vol = np.abs(signed_volumes(v, f, label, n))
    small = vol < min_voxels * float(voxel_size) ** 3
    small[int(np.argmax(vol))] = False
    if not small.any():
        return mesh, 0
    keep_f = ~small[label]
    used = np.unique(f[keep_f])
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    changes = {"vertices": v[used], "faces": remap[f[keep_f]]}
    for k in ("normals", "uvs", "vertex_colors"):
        a = getattr(mesh, k, None)
        if a is not None and len(a) == len(v):
            changes[k] = np.asarray(a)[used]
    for k in ("face_submesh", "face_uvs"):
        a = getattr(mesh, k, None)
        if a is not None and len(a) == len(f):
            changes[k] = np.asarray(a)[keep_f]
    return mesh.replace(**changes), int(small.sum())


def remesh_watertight(mesh, *, resolution: int = 256, max_faces: int = 20000,
                      mode: str = "auto", block_size: int = 8, band_voxels: float = 2.0,
                      memory_budget_bytes: int = 4 * 2**30, path: str | Path | None = None,
                      seed: int = 0, shell: float | None = None, winding_band: float | None = None):
    """Watertight, manifold, outward-oriented version of ``mesh`` and its sparse SDF.

    Args:
        mesh: :class:`n4d4d.asset.Mesh` (metres), any triangle soup.
        resolution: SDF grid cells along the longest side of the padded bounding box.
        max_faces: face budget of the returned mesh.
        mode: ``"auto" | "always" | "never"`` (see module doc).
        block_size, band_voxels, memory_budget_bytes: passed to
            :func:`~n4d4d.volume.compute_sparse_sdf`.
        path: the input file, named in errors.
        seed: the build's seed, for the simplifier's jitter (:func:`~n4d4d.volume.decimate`).
        shell: half the wall (m) of a shell offset symmetrically about the surface instead
            of its enclosed solid (a sheet's solid; ``compute_sparse_sdf(shell=)``); the
            input is then always remeshed. An input that encloses no volume (a curved open
            sheet), capped or by the uncapped winding number, is made such a shell anyway,
            of :data:`SHEET_WALL_VOXELS` voxels
            (``figures["shell_wall"]``; a flat one is refused at load, ``--solidify``).
        winding_band: the sign from the uncapped winding number within this distance (m) of
            the surface (``compute_sparse_sdf(winding_band=)``: open slabs solid between their
            faces); the input is then always remeshed, and one that encloses nothing there
            raises EmptyMeshError (no shell fallback).

    Returns:
        ``(mesh, sdf, figures)``: figures is a JSON-ready dict (mode and why, grid, band and
        block counts, memory, seconds per sub-step, quality and volume before and after,
        which visual attributes survived).

    Raises:
        ValueError: unknown ``mode``.
        InputError: ``mode="never"`` with an input that is not a closed manifold; and the
            errors of :func:`~n4d4d.volume.compute_sparse_sdf` /
            :func:`~n4d4d.volume.extract_surface` (empty, non-finite, over budget, encloses
            no volume).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    t0 = time.perf_counter()
    check_input(mesh, path)  # empty / non-finite input fails before anything else
    early = estimate_for_mesh(mesh, resolution, band_voxels, path)  # and one over budget before any work
    check_memory(early[0], early[1], early[2], resolution, memory_budget_bytes, path)
    q_before = mesh_quality(mesh)
    closed = is_closed_manifold(q_before)
    t_q0 = time.perf_counter()
    if mode == "never" and not closed:
        raise InputError("remesh mode 'never' needs a closed, manifold, consistently oriented "
                         "input with positive volume; this one is not ("
                         + _defects(q_before) + ")", path)
    sdf_stats: dict = {}
    sdf = compute_sparse_sdf(mesh, resolution=resolution, block_size=block_size,
                             band_voxels=band_voxels, memory_budget_bytes=memory_budget_bytes,
                             path=path, stats=sdf_stats, shell=shell, winding_band=winding_band)
    t_sdf = time.perf_counter()

    extract_stats: dict = {}
    keep = shell is None and winding_band is None and (mode == "never" or (mode == "auto" and closed))
    if keep:
        v, f = weld(np.asarray(mesh.vertices), np.asarray(mesh.faces))
        welded = len(v) != len(mesh.vertices) or len(f) != len(mesh.faces)
        surface = mesh if not welded else mesh.__class__(
            vertices=v, faces=f, base_color=mesh.base_color, texture_png=None)
        action = "kept"
        reason = ("input is closed, manifold, consistently oriented with positive volume"
                  if mode == "auto" else "remesh mode 'never'")
        if welded:
            reason += "; coincident vertices welded (UV seams), per-vertex attributes dropped"
    else:
        try:
            surface = extract_surface(sdf, stats=extract_stats)
        except EmptyMeshError:
            if shell is not None or winding_band is not None:
                raise
            # capped, it encloses nothing: panels with open rims (each rim capped by its own
            # face) are solid by the uncapped winding number; a sheet becomes the shell
            w = _uncapped(mesh, resolution, block_size, band_voxels, max_faces, memory_budget_bytes, path, seed)
            if w[0] is not None:
                w[2].update(mode=mode, sign="winding number, uncapped", capped={"faithful": False,
                            "why": "encloses nothing with its holes capped"}, fidelity=w[3])
                return w[0], w[1], w[2]
            # a sheet (encloses nothing): the shell of the thinnest wall the grid resolves
            shell = SHEET_WALL_VOXELS / 2 * sdf.voxel_size
            sdf = compute_sparse_sdf(mesh, resolution=resolution, block_size=block_size,
                                     band_voxels=band_voxels, memory_budget_bytes=memory_budget_bytes,
                                     path=path, stats=sdf_stats, shell=shell)
            surface = extract_surface(sdf, stats=extract_stats)
        surface = surface.replace(base_color=mesh.base_color)
        action = "remeshed"
        reason = ("remesh mode 'always'" if mode == "always"
                  else "input is not a closed manifold (" + _defects(q_before) + ")")
        if shell is not None:
            reason = f"shell of wall {2e3 * shell:.3g} mm about the surface"
        elif winding_band is not None:
            reason = f"uncapped winding-number sign within {1e3 * winding_band:.3g} mm of the surface"
    t_mc = time.perf_counter()

    dec_stats: dict = {}
    out = decimate(surface, max_faces, stats=dec_stats, seed=seed)
    snap_stats: dict = {}
    if not keep and shell is None:  # back onto the input wherever it has surface
        from n4d4d.volume.snap import snap_to_input

        ref_v, ref_f = weld(np.asarray(mesh.vertices), np.asarray(mesh.faces))
        snapped = snap_to_input(out.vertices, out.faces, ref_v, ref_f, SNAP_VOXELS * sdf.voxel_size,
                                stats=snap_stats)
        out = out.replace(vertices=snapped, normals=None)
    elif not keep:  # a shell: onto its offset surface, where marching cubes strays from it
        from n4d4d.volume.snap import snap_to_offset

        ref_v, ref_f = weld(np.asarray(mesh.vertices), np.asarray(mesh.faces))
        snapped = snap_to_offset(out.vertices, out.faces, ref_v, ref_f, float(shell),
                                 SHELL_SNAP_VOXELS * sdf.voxel_size, stats=snap_stats)
        out = out.replace(vertices=snapped, normals=None)
    out, dropped = drop_sub_voxel_shells(out, sdf.voxel_size)
    if dropped:
        snap_stats["sub_voxel_shells_dropped"] = dropped
    if out.normals is None:
        out = out.replace(normals=vertex_normals(out.vertices, out.faces))
    fid = None
    if not keep and shell is None and winding_band is None and not closed:
        from n4d4d.volume.winding import fidelity

        fid = fidelity(out, mesh, sdf.voxel_size, seed=seed)
        if not fid["faithful"]:  # caps crossing openings or cutting into open panels
            w_out, w_sdf, w_fig, w_rec = _uncapped(mesh, resolution, block_size, band_voxels, max_faces,
                                                   memory_budget_bytes, path, seed)
            fid["winding"] = w_rec
            if w_out is not None:
                w_fig.update(mode=mode, sign="winding number, uncapped", capped=fid, fidelity=w_rec,
                             reason=reason + "; its capped solid was not faithful (" + fid["why"]
                             + "): the uncapped winding number instead")
                return w_out, w_sdf, w_fig
    t_dec = time.perf_counter()
    q_after = mesh_quality(out)
    t_q = time.perf_counter()

    vol_before, vol_after = q_before["volume"], q_after["volume"]
    figures = {
        "mode": mode, "action": action, "reason": reason,
        "resolution": int(sdf.resolution), "voxel_size": float(sdf.voxel_size),
        "band": float(sdf.band), "band_voxels": float(band_voxels),
        "block_size": int(sdf.block_size), "grid_nodes": [int(x) for x in sdf.grid_shape],
        "band_nodes": int(sdf.n_nodes), "occupied_blocks": int(sdf.n_blocks),
        "total_blocks": int(np.prod(sdf.blocks_shape)),
        "sdf_bytes": int(sdf.nbytes), "memory_estimate_bytes": int(sdf_stats["estimate_bytes"]),
        "boundary_loops_capped": int(sdf_stats["boundary_loops"]),
        "winding_evaluations": int(sdf_stats["winding_evaluations"]),
        "seconds": {"input_quality": t_q0 - t0, "sdf": t_sdf - t_q0,
                    "marching_cubes": t_mc - t_sdf, "decimation": t_dec - t_mc,
                    "output_quality": t_q - t_dec, "total": time.perf_counter() - t0},
        "marching_cubes": {k: v for k, v in extract_stats.items() if not k.startswith("sec")},
        "decimation": {k: v for k, v in dec_stats.items() if k != "seconds"},
        "snap": snap_stats,
        "quality_before": q_before, "quality_after": q_after,
        "input_closed": bool(closed), "shell_wall": None if shell is None else 2.0 * float(shell),
        "volume_before": vol_before, "volume_after": vol_after,
        "volume_rel_change": (vol_after / vol_before - 1) if closed and vol_before else None,
        "uvs_kept": out.uvs is not None,
        "normals": "input's" if out.normals is not None and out.normals is mesh.normals
        else "area-weighted vertex normals of the output",
        "vertex_colors_kept": out.vertex_colors is not None,
        "base_color_kept": out.base_color is not None or mesh.base_color is None,
        "sign": ("shell" if shell is not None else "winding number, uncapped" if winding_band is not None
                 else "input kept" if keep else "winding number, holes capped"),
        "winding_band": winding_band, "fidelity": fid,
    }
    return out, sdf, figures


def _uncapped(mesh, resolution, block_size, band_voxels, max_faces, memory_budget_bytes, path, seed):
    """:func:`n4d4d.volume.winding.winding_solid` at the same grid, ``(None, None, None,
    record)`` when refused or over the memory budget."""
    from n4d4d.volume.winding import winding_solid

    try:
        return winding_solid(mesh, resolution=resolution, block_size=block_size, band_voxels=band_voxels,
                             max_faces=max_faces, memory_budget_bytes=memory_budget_bytes, path=path, seed=seed)
    except MemoryBudgetError as e:
        return None, None, None, {"rejected": str(e)}


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``(V, 3)`` unit vertex normals: the area-weighted mean of the adjacent face normals."""
    v = np.asarray(vertices)
    f = np.asarray(faces)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # length = 2 * area
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return n / np.where(length > 0, length, 1.0)


def _defects(q: dict) -> str:
    """What keeps a mesh from being a closed manifold, in words."""
    words = [f"not {k.replace('_', ' ')}" for k in ("watertight", "edge_manifold",
                                                    "vertex_manifold", "winding_consistent")
             if not q[k]]
    if q["volume"] <= 0:
        words.append("volume not positive")
    return ", ".join(words) or "no defect"
