"""Solids from the uncapped generalized winding number, and the fidelity check that decides
when they replace the capped solid.

An open input whose walls have both faces but whose rims are missing (PartNet-Mobility's
panels: a cabinet side is its two large faces, an open box body is an outer and an inner
box) is solid between its faces: the generalized winding number ``w`` (Jacobson et al. 2013)
of the surface as given is ~1 there, 1/2 at an open rim and ~0 in the cavity. Capping each
rim loop instead (:mod:`n4d4d.volume._chain`) closes a rimless panel's two faces each by
itself, and a soup of such panels gets caps that cross its openings or cut wedges out of it
(PartNet 40147's capped whole: 33 % of its area added away from the input, 5 % of the input
left out). :func:`winding_solid` takes ``|w| >= 1/2`` within a band of the surface
(``compute_sparse_sdf(winding_band=)``, the band from the walls' median thickness), and
:func:`fidelity` says whether a closed result keeps to the input: every input surface covered
(p95 distance from the input's surface to the result's at most
:data:`WINDING_FIDELITY_VOXELS`) and at most :data:`WINDING_NEW_AREA_FRACTION` of the input's
area added farther than that (what closes open rims). A container of single sheets fails it
(its uncapped solid is a layer a band's width inside it), and is left to the shell.

Input surface that the uncapped solid leaves uncovered (single sheets among the panels: a
drawer's bottom given as one plane) is given the shell of the default two-voxel wall about
those faces only (:func:`cover_sheets`), united with the solid (manifold3d), before the check.

What it does not do: fit caps, or close the one-sided layers it refuses.
"""

from __future__ import annotations

import numpy as np

#: the band reaches this many voxels past half the median wall (:func:`~n4d4d.volume.solids.thickness_samples`),
#: between :data:`WINDING_BAND_MIN_VOXELS` and :data:`WINDING_BAND_MAX_VOXELS` (cost grows with it)
WINDING_BAND_SLACK_VOXELS = 1.0
WINDING_BAND_MIN_VOXELS = 2.0
WINDING_BAND_MAX_VOXELS = 8.0
#: p95 distance (voxels) from the input's surface to a faithful result's: marching cubes and
#: the snap leave ~0.5 voxel where the input has surface, a shell's faces lie one voxel off it
WINDING_FIDELITY_VOXELS = 1.0
#: surface a faithful result may add farther than that from the input, as a fraction of the
#: input's area: a rimless plate 0.4 x 0.3 x 0.02 m adds 7 %; a box of single sheets, whose
#: uncapped solid is a layer inside it, 77 %
WINDING_NEW_AREA_FRACTION = 0.25
#: surface samples of each side of the check
FIDELITY_SAMPLES = 4000


def surface_distances(a, b, *, n_samples: int = FIDELITY_SAMPLES, seed: int = 0,
                      inside_is_covered: bool = False) -> tuple[np.ndarray, float]:
    """``(d (n_samples,) float64 m, area of a m^2)``: the distance from ``n_samples``
    area-weighted samples of ``a``'s surface (trimesh's sampler, ``seed``) to ``b``'s surface
    (warp BVH closest points), repeated faces of both dropped first; with
    ``inside_is_covered`` (``b`` closed), 0 for samples inside ``b`` (winding number >= 1/2:
    an inner partition of the input lies in the solid). ``a``, ``b``:
    :class:`n4d4d.asset.Mesh`, same frame."""
    import trimesh

    from n4d4d.volume._chain import clean
    from n4d4d.volume._queries import MeshQueries

    av, af, _ = clean(np.asarray(a.vertices), np.asarray(a.faces))
    bv, bf, _ = clean(np.asarray(b.vertices), np.asarray(b.faces))
    tm = trimesh.Trimesh(av, af, process=False)
    pts, _ = trimesh.sample.sample_surface(tm, n_samples, seed=seed)
    reach = float(np.linalg.norm(np.ptp(np.vstack([av, bv]), axis=0)))
    q = MeshQueries(bv, bf)
    d = q.distance(pts, reach).astype(np.float64)
    if inside_is_covered:
        d[np.abs(q.winding_number(pts)) >= 0.5] = 0.0
    return d, float(tm.area)


def fidelity(out, mesh, voxel: float, *, seed: int = 0) -> dict:
    """How closely the closed ``out`` keeps to the input ``mesh`` (both :class:`Mesh`, m):
    ``p95_in_to_out`` (input surface inside ``out`` counts 0), ``p95_out_to_in`` (m), ``new_area_fraction`` (area of ``out`` farther
    than ``WINDING_FIDELITY_VOXELS * voxel`` from ``mesh``, over ``mesh``'s area),
    ``faithful`` (bool) and, when not, ``why``."""
    bound = WINDING_FIDELITY_VOXELS * voxel
    d_out, area_out = surface_distances(out, mesh, seed=seed)
    d_in, area_in = surface_distances(mesh, out, seed=seed, inside_is_covered=True)
    rec = {"p95_in_to_out": float(np.percentile(d_in, 95)), "p95_out_to_in": float(np.percentile(d_out, 95)),
           "new_area_fraction": float(np.mean(d_out > bound)) * area_out / max(area_in, 1e-300),
           "bound_m": bound, "faithful": True}
    if rec["p95_in_to_out"] > bound:
        rec.update(faithful=False, why=f"input not covered: p95 distance {1e3 * rec['p95_in_to_out']:.2f} mm "
                                       f"over {1e3 * bound:.2f} mm")
    elif rec["new_area_fraction"] > WINDING_NEW_AREA_FRACTION:
        rec.update(faithful=False, why=f"{100 * rec['new_area_fraction']:.0f}% of the input's area added more than "
                                       f"{1e3 * bound:.2f} mm from it (bound {100 * WINDING_NEW_AREA_FRACTION:.0f}%)")
    return rec


def winding_reach(hits: np.ndarray, voxel: float) -> float:
    """Band (m) of the uncapped winding solid: half the median of ``hits`` (wall samples, m)
    plus :data:`WINDING_BAND_SLACK_VOXELS`, clipped to the band's voxel bounds."""
    median = float(np.median(hits)) if len(hits) else 0.0
    return float(np.clip(0.5 * median / voxel + WINDING_BAND_SLACK_VOXELS, WINDING_BAND_MIN_VOXELS,
                         WINDING_BAND_MAX_VOXELS)) * voxel


def winding_solid(mesh, *, resolution: int, hits: np.ndarray | None = None, **remesh_kwargs):
    """The uncapped winding-number solid of ``mesh`` at ``resolution``, if faithful.

    Args:
        mesh: :class:`n4d4d.asset.Mesh` (m), open input.
        resolution: grid cells along the longest side.
        hits: wall samples (m, :func:`~n4d4d.volume.solids.thickness_samples`); measured when None.
        remesh_kwargs: passed to :func:`~n4d4d.volume.remesh_watertight` (``band_voxels``,
            ``max_faces``, ``memory_budget_bytes``, ``path``, ``seed``, ``mode``).

    Returns:
        ``(mesh, sdf, figures, record)``; the first three are None when refused (encloses
        nothing the grid resolves, or not :func:`fidelity`-faithful); ``record`` says why,
        with the band and the fidelity figures.

    Raises:
        MemoryBudgetError and the input errors of :func:`~n4d4d.volume.compute_sparse_sdf`.
    """
    from n4d4d.errors import EmptyMeshError
    from n4d4d.volume.remesh import remesh_watertight
    from n4d4d.volume.sdf import grid_for
    from n4d4d.volume.quality import mesh_quality
    from n4d4d.volume.solids import SHEET_VOLUME_VOXELS, thickness_samples

    seed = int(remesh_kwargs.get("seed", 0))
    if hits is None:
        hits, _ = thickness_samples(mesh, seed=seed)
    v = np.asarray(mesh.vertices, np.float64)
    _, h, _ = grid_for(np.stack([v.min(0), v.max(0)]), resolution, remesh_kwargs.get("band_voxels", 2.0))
    reach = winding_reach(hits, h)
    rec = {"resolution": int(resolution), "voxel_size": float(h), "band_m": reach,
           "median_wall_m": float(np.median(hits)) if len(hits) else None}
    kwargs = {**remesh_kwargs, "mode": "always"}
    try:
        out, sdf, fig = remesh_watertight(mesh, resolution=resolution, winding_band=reach, **kwargs)
    except EmptyMeshError:
        rec["rejected"] = "encloses nothing"
        return None, None, None, rec
    if not fig["volume_after"] > SHEET_VOLUME_VOXELS * sdf.voxel_size * float(out.to_trimesh().area):
        rec["rejected"] = "encloses no volume the grid resolves"
        return None, None, None, rec
    rec.update(fidelity(out, mesh, sdf.voxel_size, seed=seed))
    if not rec["faithful"] and rec["p95_in_to_out"] > rec["bound_m"]:  # sheets left out: shelled
        covered = cover_sheets(out, mesh, sdf.voxel_size, **kwargs)
        if covered is not None:
            out, n_sheet = covered
            rec["sheet_faces_shelled"] = n_sheet
            fig["quality_after"] = mesh_quality(out)
            fig["volume_after"] = fig["quality_after"]["volume"]
            rec.update(fidelity(out, mesh, sdf.voxel_size, seed=seed))
    if not rec["faithful"]:
        rec["rejected"] = rec.pop("why")
        return None, None, None, rec
    return out, sdf, fig, rec


def cover_sheets(out, mesh, voxel: float, **remesh_kwargs):
    """``out`` (closed) united with the shell of :data:`~n4d4d.volume.remesh.SHEET_WALL_VOXELS`
    voxels' wall about the faces of ``mesh`` it leaves uncovered (centroid or a corner farther
    than :data:`WINDING_FIDELITY_VOXELS` voxels from it and not inside it), on a grid of the same ``voxel`` (m),
    simplified to ``max_faces``; ``(mesh, number of faces shelled)``, or None when every face
    is covered or a step fails (the union not a closed manifold)."""
    import math

    from n4d4d.asset import Mesh
    from n4d4d.volume._chain import clean
    from n4d4d.volume._queries import MeshQueries
    from n4d4d.volume.disjoint import from_manifold, to_manifold
    from n4d4d.volume.remesh import SHEET_WALL_VOXELS, remesh_watertight
    from n4d4d.volume.sdf import padding_voxels
    from n4d4d.volume.simplify import decimate

    v, f, _ = clean(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    bound = WINDING_FIDELITY_VOXELS * voxel
    q = MeshQueries(np.asarray(out.vertices, np.float64), np.asarray(out.faces, np.int64))
    pts = np.vstack([v[f].mean(axis=1), v])
    d = q.distance(pts, 2.0 * bound)
    d[np.abs(q.winding_number(pts)) >= 0.5] = 0.0  # inside the solid: covered
    loose = (d[:len(f)] > bound) | (d[len(f):][f].max(axis=1) > bound)
    if not loose.any():
        return None
    sheet = Mesh(vertices=v, faces=f[loose])
    half = SHEET_WALL_VOXELS / 2 * voxel
    band = float(remesh_kwargs.get("band_voxels", 2.0))
    sv = v[np.unique(f[loose])]
    longest = float(np.ptp(sv, axis=0).max()) + 2 * half
    r = max(int(math.ceil(longest / voxel)) + 2 * padding_voxels(band), 2 * padding_voxels(band) + 4)
    kwargs = {k: x for k, x in remesh_kwargs.items() if k in ("band_voxels", "memory_budget_bytes", "path", "seed",
                                                              "block_size")}
    try:
        shell, _, _ = remesh_watertight(sheet, resolution=r, shell=half, mode="always", max_faces=10**9, **kwargs)
    except Exception:  # noqa: BLE001 - an empty or over-budget shell: no cover, the check decides
        return None
    a, b = to_manifold(out), to_manifold(shell)
    if a is None or b is None:
        return None
    united = from_manifold(a + b, out)
    united = decimate(united, int(remesh_kwargs.get("max_faces", 20000)), seed=int(remesh_kwargs.get("seed", 0)))
    return united, int(loose.sum())
