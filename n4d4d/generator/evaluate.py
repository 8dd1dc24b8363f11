"""Generation metrics: MMD-CD, COV-CD, 1-NNA-CD (PointFlow), LP-IoU / Div-IoU of blockout samples.

What it does, for a set of generated shapes ``S_g`` and reference shapes ``S_r`` (PointFlow, Yang
et al. 2019, sec. 5; the protocol of every 3D generator since): each shape is ``n_points`` (2,048)
points sampled uniformly by area on its surface and normalised to the unit cube (bounding box
centred on the origin, longest side 1). ``CD(X, Y)`` is the Chamfer distance, the mean squared
distance from each point of one cloud to its nearest neighbour in the other, summed over both
directions (``scipy.spatial.cKDTree``). Then

* ``MMD-CD = mean_{Y in S_r} min_{X in S_g} CD(X, Y)`` (lower is better; fidelity);
* ``COV-CD``: share of references that are the nearest reference of some generated shape (higher is
  better; coverage);
* ``1-NNA-CD``: leave-one-out accuracy of the 1-nearest-neighbour classifier telling generated from
  reference shapes in ``S_g + S_r`` (50 % is ideal: the two sets are indistinguishable; 100 % is
  the worst). Ties go to the first-found neighbour.

For ``--coarse`` (DECOR-GAN, Chen et al. 2021, sec. 5): ``LP-IoU``, the IoU of a sample's solid
blockout (its latent cells filled and pooled, :func:`n4d4d.generator.latents.coarse_grid`) with the
given blockout, and ``Div-IoU``, here the mean ``1 - IoU`` of the fine occupancies (latent cells)
of every pair of samples of one blockout (DECOR-GAN measures diversity against its style shapes,
which a category-conditioned sampler has none of; this is the plain pairwise form).
What it does not: build assets (validity is the CLI's, through the pipeline).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def unit_cube_points(mesh, n_points: int = 2048, seed: int = 0) -> np.ndarray:
    """``(n_points, 3) float64`` surface samples of ``mesh`` in the unit cube (centred, longest side 1)."""
    from n4d4d.generator.metrics import sample_surface

    p, _ = sample_surface(mesh, n_points, seed)
    lo, hi = p.min(0), p.max(0)
    return (p - (lo + hi) / 2) / max(float((hi - lo).max()), 1e-12)


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """PointFlow's Chamfer distance: mean squared NN distance a -> b plus b -> a."""
    from scipy.spatial import cKDTree

    da, _ = cKDTree(b).query(a)
    db, _ = cKDTree(a).query(b)
    return float(np.mean(da**2) + np.mean(db**2))


def distance_matrix(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]) -> np.ndarray:
    """``(len(xs), len(ys))`` Chamfer distances."""
    return np.array([[chamfer(x, y) for y in ys] for x in xs], np.float64).reshape(len(xs), len(ys))


def generation_metrics(gen: Sequence[np.ndarray], ref: Sequence[np.ndarray]) -> dict:
    """``{"mmd_cd", "cov_cd", "nna_cd", "n_gen", "n_ref"}`` of point clouds (see module docstring).

    Raises ValueError with fewer than one generated or two reference clouds.
    """
    if len(gen) < 1 or len(ref) < 2:
        raise ValueError(f"need >= 1 generated and >= 2 reference shapes, got {len(gen)} and {len(ref)}")
    d_gr = distance_matrix(gen, ref)
    d_gg = distance_matrix(gen, gen)
    d_rr = distance_matrix(ref, ref)
    mmd = float(d_gr.min(axis=0).mean())
    cov = float(len(set(d_gr.argmin(axis=1).tolist())) / len(ref))
    ng, nr = len(gen), len(ref)
    full = np.block([[d_gg, d_gr], [d_gr.T, d_rr]])
    np.fill_diagonal(full, np.inf)
    label = np.r_[np.zeros(ng), np.ones(nr)]
    nna = float(np.mean(label[full.argmin(axis=1)] == label))
    return {"mmd_cd": mmd, "cov_cd": cov, "nna_cd": nna, "n_gen": ng, "n_ref": nr}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean grids (1 when both are empty)."""
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else 1.0


def blockout_metrics(cells_list: Sequence[np.ndarray], blockout: np.ndarray, grid: int = 16) -> dict:
    """``{"lp_iou", "div_iou"}`` of the samples (latent cells ``(M, 3)`` each) of one blockout."""
    from n4d4d.generator.latents import coarse_grid, structure_grid

    occ = [structure_grid(c, grid) for c in cells_list]
    lp = [iou(coarse_grid(o), blockout) for o in occ]
    pairs = [(i, j) for i in range(len(occ)) for j in range(i + 1, len(occ))]
    div = [1 - iou(occ[i], occ[j]) for i, j in pairs]
    return {"lp_iou": float(np.mean(lp)), "lp_iou_min": float(np.min(lp)),
            "div_iou": float(np.mean(div)) if div else 0.0}
