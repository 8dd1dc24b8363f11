"""Collision fidelity: how closely a set of convex hulls follows a part's surface.

Measures, between the union of the hulls and the part mesh:

- one-sided surface distances, part -> hulls and hulls -> part: seeded points sampled on one
  surface, exact unsigned distance to the other surface (Warp BVH point queries, :mod:`._wp`);
  mean, 95th percentile and maximum, in % of the part's bounding-box diagonal. Points of the
  hulls' union surface that lie inside the part (the seams between neighbouring hulls, which
  nothing can touch) count as distance 0, and so do points of the part's surface that lie
  inside the union (covered; also a part's own interior faces, as where shells overlap)
  (generalized winding number tests). So hulls -> part measures bulges beyond the part, and
  part -> hulls what the hulls fail to cover: the two ways a collider misleads a simulator;
- symmetric figures: mean of the two means, the larger of the two 95th percentiles and of the
  two maxima (the symmetric Hausdorff distance, up to sampling);
- volumes: union of hulls over part volume, and the over- and under-covered volume fractions
  (exact booleans with manifold3d when the part mesh is a valid manifold; otherwise the sum
  of hull volumes stands in for the union and ``volume_exact`` is False).

The part is measured as its outer solid (:func:`.preprocess.fill_voids`): the walls of sealed
cavities, which nothing outside can reach, are not part of what its colliders must follow
(a hull filling a sealed cavity collides as one that does not). A cavity with an opening stays.

The union's surface (not the hulls' own surfaces, which overlap inside the union) is what a
simulator collides with, so it is built first with manifold3d. This follows the evaluation of
CoACD (Wei et al., "Approximate Convex Decomposition for 3D Meshes with Collision-Aware
Concavity and Tree Search", SIGGRAPH 2022: Hausdorff distance and volume between the
decomposition and the input). This module measures only; decisions use
:class:`~.thresholds.FidelityThresholds` in :mod:`.decomposition`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from n4d4d.asset import Mesh

from .thresholds import FidelityThresholds


def _manifold(vertices: np.ndarray, faces: np.ndarray):
    import manifold3d as mf

    m = mf.Manifold(mf.Mesh64(vert_properties=np.array(vertices, dtype=np.float64, order="C"),
                              tri_verts=np.array(faces, dtype=np.uint64, order="C")))
    return m if m.status() == mf.Error.NoError and not m.is_empty() else None


def hull_union(hulls: Sequence[Mesh]):
    """The union of convex hulls as a ``manifold3d.Manifold`` (each hull re-hulled from its
    vertices, so any closed convex input is accepted)."""
    import manifold3d as mf

    solids = [mf.Manifold.hull_points(np.asarray(h.vertices, dtype=np.float64)) for h in hulls]
    return mf.Manifold.batch_boolean(solids, mf.OpType.Add)


def _sample(vertices, faces, n: int, seed: int) -> np.ndarray:
    import trimesh

    tm = trimesh.Trimesh(np.asarray(vertices), np.asarray(faces), process=False)
    points, _ = trimesh.sample.sample_surface(tm, n, seed=seed)
    return np.asarray(points, dtype=np.float64)


def _stats(d: np.ndarray, scale: float) -> dict:
    d = 100.0 * d / scale
    return {"mean_pct": float(d.mean()), "p95_pct": float(np.percentile(d, 95)), "max_pct": float(d.max())}


def collision_fidelity(mesh: Mesh, hulls: Sequence[Mesh], *, samples: int = 20_000, seed: int = 0) -> dict:
    """Fidelity figures of ``hulls`` against ``mesh`` (both in the same frame, metres).

    Args:
        mesh: the part's closed surface; measured as its outer solid (enclosed voids filled,
            :func:`.preprocess.fill_voids`).
        hulls: closed convex meshes.
        samples: points sampled on each surface (seeded with ``seed``).

    Returns:
        JSON-ready dict: ``part_to_hulls`` and ``hulls_to_part`` (each ``mean_pct``,
        ``p95_pct``, ``max_pct``: % of the part's bounding-box diagonal; hull-surface points
        inside the part and part-surface points inside the hulls count 0),
        ``hull_surface_inside_fraction``, ``part_surface_covered_fraction``, ``mean_pct``,
        ``p95_pct``, ``hausdorff_pct`` (symmetric), ``volume_ratio`` (union / part),
        ``over_volume_ratio`` (union minus part, / part), ``under_volume_ratio`` (part minus
        union, / part), ``volume_exact``, ``diagonal_m``, ``samples``, ``enclosed_voids``
        (sealed cavities filled before measuring) and ``void_volume_m3`` (their volume).

    Raises:
        ValueError: no hulls.
    """
    if not hulls:
        raise ValueError("collision_fidelity needs at least one hull")
    from ._wp import inside_depth
    from .preprocess import fill_voids

    mesh, voids, void_volume = fill_voids(mesh)

    union = hull_union(hulls)
    um = union.to_mesh64()
    uv, uf = np.asarray(um.vert_properties)[:, :3], np.asarray(um.tri_verts, dtype=np.int64)
    diag = max(mesh.diagonal, 1e-12)
    a = _sample(mesh.vertices, mesh.faces, samples, seed)
    b = _sample(uv, uf, samples, seed + 1)
    covered, d_ab = inside_depth(uv, uf, a)
    d_ab = np.where(covered, 0.0, d_ab)
    inside, d_ba = inside_depth(mesh.vertices, mesh.faces, b)
    d_ba = np.where(inside, 0.0, d_ba)
    s_ab, s_ba = _stats(d_ab, diag), _stats(d_ba, diag)

    part = _manifold(mesh.vertices, mesh.faces)
    if part is not None:
        vol, union_vol = part.volume(), union.volume()
        under_vol = (part - union).volume()
        # vol(U - P) = vol(U) - vol(U & P) = vol(U) - (vol(P) - vol(P - U)): one boolean, not two
        # (exact up to rounding: 1e-13 of the part's volume on 102417's parts)
        over = max(union_vol - vol + under_vol, 0.0) / vol
        under = under_vol / vol
        ratio, exact = union_vol / vol, True
    else:
        import trimesh

        vol = abs(trimesh.Trimesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), process=False).volume)
        ratio = sum(abs(trimesh.Trimesh(np.asarray(h.vertices), np.asarray(h.faces), process=False).volume)
                    for h in hulls) / max(vol, 1e-300)
        over = under = float("nan")
        exact = False
    return {
        "part_to_hulls": s_ab, "hulls_to_part": s_ba, "hull_surface_inside_fraction": float(inside.mean()),
        "part_surface_covered_fraction": float(covered.mean()),
        "mean_pct": 0.5 * (s_ab["mean_pct"] + s_ba["mean_pct"]),
        "p95_pct": max(s_ab["p95_pct"], s_ba["p95_pct"]),
        "hausdorff_pct": max(s_ab["max_pct"], s_ba["max_pct"]),
        "volume_ratio": float(ratio), "over_volume_ratio": float(over), "under_volume_ratio": float(under),
        "volume_exact": exact, "diagonal_m": float(diag), "samples": int(samples),
        "enclosed_voids": voids, "void_volume_m3": void_volume,
    }


def asset_scale(part_diagonal: float, asset_diagonal: float | None, thresholds: FidelityThresholds) -> float | None:
    """``part_diagonal / asset_diagonal`` when the part is small beside its asset
    (:attr:`FidelityThresholds.small_part_fraction`; both in metres), else None (a part judged
    at its own scale, the default; None ``asset_diagonal``: a one-part asset)."""
    if asset_diagonal is None or asset_diagonal <= 0:
        return None
    ratio = float(part_diagonal) / float(asset_diagonal)
    return ratio if ratio <= thresholds.small_part_fraction else None


def fidelity_misses(figures: dict, thresholds: FidelityThresholds) -> list[str]:
    """Reasons (empty when none) why ``figures`` from :func:`collision_fidelity` miss the bounds,
    followed by the decomposition's ``hint`` (the cause and the way out) when ``figures`` has one.

    Figures with an ``asset_scale`` (a small part, :func:`asset_scale`; the decomposition adds
    it) are judged at the asset's scale: distances times ``asset_scale`` (% of the asset's
    diagonal) against the same bounds, and no volume-ratio bound."""
    out = []
    k = figures.get("asset_scale")
    unit = "of diagonal" if k is None else "of the asset's diagonal (small part)"
    k = 1.0 if k is None else float(k)
    if k * figures["p95_pct"] > thresholds.max_hausdorff_p95_pct:
        out.append(f"surface distance p95 {k * figures['p95_pct']:.2f}% {unit} > "
                   f"{thresholds.max_hausdorff_p95_pct}%")
    if k * figures["mean_pct"] > thresholds.max_mean_distance_pct:
        out.append(f"mean surface distance {k * figures['mean_pct']:.2f}% {unit} > "
                   f"{thresholds.max_mean_distance_pct}%")
    r = figures["volume_ratio"]
    if figures.get("asset_scale") is None and not thresholds.min_volume_ratio <= r <= thresholds.max_volume_ratio:
        out.append(f"hull volume ratio {r:.3f} outside [{thresholds.min_volume_ratio}, "
                   f"{thresholds.max_volume_ratio}]")
    if out and figures.get("hint"):  # the decomposition knows why (e.g. more shells than hulls)
        out.append(figures["hint"])
    return out


def measure(mesh: Mesh, hulls, fidelity: FidelityThresholds, seed: int, asset_diagonal: float | None) -> dict:
    """:func:`.fidelity.collision_fidelity` of ``hulls`` against ``mesh``, with ``asset_scale``
    (mesh diagonal / ``asset_diagonal``) added when ``asset_diagonal`` is given: the figures of a
    small part, judged at the asset's scale by :func:`.fidelity.fidelity_misses`.

    A small part is sampled with ``asset_scale ** 2`` of :attr:`FidelityThresholds.samples`
    (at least :data:`SMALL_PART_SAMPLES`): its distances are judged in units of the asset's
    diagonal, ``asset_scale`` times the part's, so the sampling error of its mean in those
    units (which falls as one over the root of the samples) stays at or below that of a part
    judged at its own scale with the full count (102417's 16 buttons, scale 0.02-0.06: 20,000
    -> 2,000 samples a side)."""
    scale = float(mesh.diagonal / asset_diagonal) if asset_diagonal else None
    n = fidelity.samples if scale is None else max(SMALL_PART_SAMPLES, min(fidelity.samples,
                                                                        int(fidelity.samples * scale ** 2)))
    fid = collision_fidelity(mesh, hulls, samples=n, seed=seed)
    if scale is not None:
        fid["asset_scale"] = scale
    return fid


#: Fewest surface samples a side for a small part's fidelity (:func:`measure`).
SMALL_PART_SAMPLES = 2000
