"""Reconstruction metrics of the SS-VAE: Chamfer-L1, F-score, normal consistency, volume IoU, watertightness.

What it does: :func:`compare_meshes` scores a reconstructed mesh against a reference, the usual 3D
reconstruction figures (Occupancy Networks, Mescheder et al. 2019; F-score after Tatarchenko et al.
2019; as reported by TRELLIS and Direct3D-S2):

* ``chamfer_l1``: mean over both directions of the mean Euclidean distance from points sampled
  uniformly on one surface to the nearest sampled point of the other (m), and ``chamfer_l1_rel``,
  the same divided by the reference's bounding-box diagonal;
* ``fscore``: harmonic mean of precision (share of reconstructed points within ``tau`` of the
  reference) and recall (the converse), ``tau = 0.01 x`` the reference's diagonal;
* ``normal_consistency``: mean ``|n_a . n_b|`` of the face normals at each sample and its nearest
  neighbour on the other surface, both directions;
* ``iou``: volume IoU from points uniform in the union of both bounding boxes, inside when the
  generalized winding number (libigl ``fast_winding_number``) exceeds 1/2;
* ``watertight`` (every edge shared by two faces, :func:`n4d4d.volume.mesh_quality`), ``solids``
  (outer shells: connected components of positive volume; a cavity is no solid) and
  ``single_volume`` (watertight and one solid) of the reconstruction, ``ref_solids`` of the reference.

:func:`evaluate_volumes` runs the SS-VAE over sparse SDFs (reference surface: the exact
:func:`n4d4d.volume.extract_surface` of the input volume, so the figures measure the VAE alone) and
:func:`summarise` averages the rows. :func:`eroded_solids` tells how robust a reference's topology
is at its resolution: the solids left when its surface moves a quarter voxel inwards. Parts that
touch at sub-voxel contacts (most ``random_urdfs``) fall apart there, and a decoder whose SDF error
is a fraction of a voxel decides their connectivity by chance; the summary reports the single-volume
rate over the robust references as well. What it does not: align or rescale meshes (both live in the same
frame), or use a GPU.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

import numpy as np


def sample_surface(mesh, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform by area on ``mesh`` and their unit face normals, ``(n, 3)`` each."""
    import trimesh

    tm = mesh.to_trimesh() if hasattr(mesh, "to_trimesh") else mesh
    pts, face = trimesh.sample.sample_surface(tm, n, seed=seed)
    return np.asarray(pts), np.asarray(tm.face_normals)[face]


def count_solids(mesh) -> int:
    """Solids of a closed mesh (:class:`~n4d4d.asset.Mesh`, processed by trimesh, or a
    ``trimesh.Trimesh`` as it is): its connected components with positive signed volume (outer
    shells); inner cavity shells do not count. The generator's one count (procedural families,
    VAE metrics, ``eval generator``)."""
    tm = mesh.to_trimesh(process=True) if hasattr(mesh, "to_trimesh") else mesh
    with np.errstate(invalid="ignore", divide="ignore"):  # trimesh's centre of mass of a flat sliver
        return int(sum(1 for c in tm.split(only_watertight=False) if c.volume > 0))


#: Inward offset (voxels) of the level set at which a reference's solids are counted again by
#: :func:`eroded_solids`: a reference that is one solid at 0 but several here is held together by
#: necks or contacts under half a voxel thick.
ERODE_VOXELS = 0.25


def eroded_solids(sdf, min_fraction: float = 0.0, erode_voxels: float = ERODE_VOXELS) -> int:
    """Solids of the level set ``sdf = -erode_voxels`` voxels of a :class:`~n4d4d.volume.SparseSDF`.

    The level set of the sign-filled dense grid (:func:`n4d4d.generator.codec.decoded_surface`,
    Lewiner's marching cubes), shells under ``min_fraction`` of the largest one's volume dropped,
    then :func:`count_solids`; 0 when nothing lies that deep (no error raised).

    Args:
        sdf: narrow-band volume (its values in metres; the level is in voxels of its grid).
        min_fraction: shell filter, as :func:`n4d4d.generator.codec.remove_small_shells`.
        erode_voxels: inward offset of the level set, voxels (>= 0).
    Returns:
        ``int`` count of solids.
    """
    from n4d4d.errors import EmptyMeshError
    from n4d4d.generator.codec import decoded_surface, remove_small_shells

    try:
        return count_solids(remove_small_shells(decoded_surface(sdf, level=-float(erode_voxels)), min_fraction))
    except EmptyMeshError:
        return 0


def _inside(mesh, q: np.ndarray) -> np.ndarray:
    import igl

    v = np.ascontiguousarray(mesh.vertices, dtype=np.float64)
    f = np.ascontiguousarray(mesh.faces, dtype=np.int64)
    return igl.fast_winding_number(v, f, np.ascontiguousarray(q, dtype=np.float64)) > 0.5


def compare_meshes(pred, ref, *, n_points: int = 50_000, n_volume: int = 100_000, seed: int = 0) -> dict:
    """Figures of ``pred`` against ``ref`` (both :class:`n4d4d.asset.Mesh`, same frame, m); see module docstring."""
    from scipy.spatial import cKDTree

    from n4d4d.volume import mesh_quality

    diag = ref.diagonal
    tau = 0.01 * diag
    pa, na = sample_surface(pred, n_points, seed)
    pb, nb = sample_surface(ref, n_points, seed + 1)
    d_ab, i_ab = cKDTree(pb).query(pa, workers=1)
    d_ba, i_ba = cKDTree(pa).query(pb, workers=1)
    precision, recall = float((d_ab < tau).mean()), float((d_ba < tau).mean())
    fscore = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    nc = 0.5 * (np.abs((na * nb[i_ab]).sum(1)).mean() + np.abs((nb * na[i_ba]).sum(1)).mean())
    lo = np.minimum(pred.bounds[0], ref.bounds[0])
    hi = np.maximum(pred.bounds[1], ref.bounds[1])
    q = np.random.default_rng(seed + 2).uniform(lo, hi, size=(n_volume, 3))
    ia, ib = _inside(pred, q), _inside(ref, q)
    union = int((ia | ib).sum())
    quality = mesh_quality(pred)
    solids = count_solids(pred)
    return {"chamfer_l1": float(0.5 * (d_ab.mean() + d_ba.mean())),
            "chamfer_l1_rel": float(0.5 * (d_ab.mean() + d_ba.mean()) / diag),
            "fscore": fscore, "precision": precision, "recall": recall,
            "normal_consistency": float(nc), "iou": float((ia & ib).sum() / union) if union else 0.0,
            "watertight": bool(quality["watertight"]), "solids": solids,
            "single_volume": bool(quality["watertight"] and solids == 1), "ref_solids": count_solids(ref)}


def evaluate_volumes(model, volumes: Iterable, *, names: Iterable[str] | None = None, device: str = "cpu",
                     n_points: int = 50_000, seed: int = 0, min_shell_fraction: float | None = None,
                     prune_threshold: float = 0.0, progress: Callable[[str, dict], None] | None = None) -> list[dict]:
    """Reconstruct each SparseSDF with ``model`` and score it against the input's exact surface.

    ``min_shell_fraction``: decoded shells (and, for ``ref_solids``, reference shells) under this
    fraction of the largest one's volume are dropped (default
    :data:`n4d4d.generator.codec.MIN_SHELL_FRACTION`; 0 keeps all). The reference surface itself is
    measured whole; only its solid count is taken after the same filter, so that sub-voxel specks of
    the input volume (1-2 voxels^3 solids occur in random_urdfs) do not count as solids the decoder
    must reproduce (``ref_solids_all`` keeps the unfiltered count). ``ref_solids_eroded``: the
    reference's solids a quarter voxel inwards (:func:`eroded_solids`, same filter).
    ``prune_threshold``: the decoder keeps children whose pruning logit exceeds it
    (:func:`n4d4d.generator.codec.reconstruct`).

    Returns one row per volume: ``name``, :func:`compare_meshes` figures, ``nodes``,
    ``seconds_codec`` (encode + decode), ``seconds_surface`` (decoded surface extraction, and with ``min_shell_fraction
    > 0`` the removal of shells under that fraction of the largest one's volume,
    :func:`n4d4d.generator.codec.remove_small_shells`); a volume whose decode is
    empty or has no inside gets ``fscore = iou = 0``, ``watertight = single_volume = False`` and ``error``.
    """
    from n4d4d.generator.codec import MIN_SHELL_FRACTION, decoded_surface, reconstruct, remove_small_shells
    from n4d4d.volume import extract_surface

    if min_shell_fraction is None:
        min_shell_fraction = MIN_SHELL_FRACTION

    rows = []
    names = iter(names) if names is not None else None
    for k, sdf in enumerate(volumes):
        name = next(names) if names is not None else str(k)
        row = {"name": name, "nodes": int(sdf.n_nodes)}
        ref = extract_surface(sdf)
        t0 = time.perf_counter()
        try:
            dec = reconstruct(model, sdf, device, prune_threshold=prune_threshold)
            t1 = time.perf_counter()
            pred = remove_small_shells(decoded_surface(dec), min_shell_fraction)
            row.update(seconds_codec=t1 - t0, seconds_surface=time.perf_counter() - t1)
            row.update(compare_meshes(pred, ref, n_points=n_points, seed=seed))
            row.update(ref_solids_all=row["ref_solids"],
                       ref_solids=count_solids(remove_small_shells(ref, min_shell_fraction)),
                       ref_solids_eroded=eroded_solids(sdf, min_shell_fraction))
        except Exception as exc:  # an empty or inside-less decode is a failed reconstruction, not a crash
            row.update(error=f"{type(exc).__name__}: {exc}", fscore=0.0, iou=0.0, watertight=False,
                       single_volume=False, solids=0, ref_solids=count_solids(ref))
        rows.append(row)
        if progress:
            progress(name, row)
    return rows


def summarise(rows: list[dict]) -> dict:
    """Means of the numeric figures (booleans as fractions) over the rows that have them, and ``n``.

    Also ``single_volume_of_single_solid_refs`` (over rows whose reference is one solid; a reference
    of several solids is faithfully decoded as several) with its count ``single_solid_refs``, and
    the same over the robust ones, whose reference is still one solid a quarter voxel inwards
    (``single_volume_of_robust_single_solid_refs``, ``robust_single_solid_refs``; rows with
    ``ref_solids_eroded``).
    """
    out = {"n": len(rows)}
    keys = ["chamfer_l1", "chamfer_l1_rel", "fscore", "normal_consistency", "iou", "watertight",
            "single_volume", "seconds_codec", "seconds_surface"]
    for k in keys:
        vals = [float(r[k]) for r in rows if k in r]
        if vals:
            out[k] = float(np.mean(vals))
    out["solids_match"] = float(np.mean([r.get("solids") == r.get("ref_solids") for r in rows])) if rows else 0.0
    one = [r for r in rows if r.get("ref_solids") == 1]
    out["single_volume_of_single_solid_refs"] = float(np.mean([bool(r.get("single_volume")) for r in one])) \
        if one else float("nan")
    out["single_solid_refs"] = len(one)
    robust = [r for r in one if r.get("ref_solids_eroded") == 1]
    if any("ref_solids_eroded" in r for r in one):
        out["single_volume_of_robust_single_solid_refs"] = float(np.mean(
            [bool(r.get("single_volume")) for r in robust])) if robust else float("nan")
        out["robust_single_solid_refs"] = len(robust)
    out["failed"] = int(sum("error" in r for r in rows))
    return out
