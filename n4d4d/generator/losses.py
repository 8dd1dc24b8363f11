"""Training losses of the SS-VAE, after Direct3D-S2 (Wu et al. 2025, sec. 3.1).

What it does: :func:`vae_loss` sums

* SDF regression: mean squared error between decoded and true normalised SDF (``sdf / (voxel *
  truncation)``, in ``[-1, 1]``) over the band voxels, each voxel weighted ``1 + sharp_weight`` if it
  lies at a sharp edge, else 1;
* outside-band rejection: decoded voxels that are not in the true band (the decoder's own false
  positives, kept during training with ``include_predicted``) must decode to ``|sdf| >= 1``, so that
  they fall out of the band: mean of ``relu(1 - |sdf|)^2`` over them, times ``outside``;
* KL divergence of the diagonal Gaussian posterior from ``N(0, I)`` (per element, mean), times a
  small weight;
* pruning: binary cross-entropy of every subdivision's child logits against "child is in the band",
  averaged over the children of all levels, times ``prune_weight``.

Direct3D-S2 marks sharp-edge voxels from the mesh's sharp edges; :func:`sharp_edge_mask` finds them
from the true SDF itself, so it works for any sparse SDF without the mesh: a near-surface voxel is
sharp when the SDF gradient (central differences over the band) turns by more than ``angle_deg``
between it and an axis neighbour (by less than 120 degrees: opposite gradients are the two faces
of a thin wall meeting at its medial surface, not an edge).

Thin-feature weight (an addition to Direct3D-S2, ``thin``, 0 by default): an 8x latent rounds away
necks, walls and gaps under about a voxel, so a decoded part falls apart into two solids, or two
parts fuse, though the SDF is off by a fraction of a voxel there. :func:`thin_feature_mask` marks
the medial voxels of such features from the true SDF: a voxel within ``near`` of the surface with
the surface on both of its sides along some axis (a strict extremum of the SDF along it, or an axis
neighbour on the same side with an opposite gradient): the middle of a neck or wall about two voxels
thick or less inside, of a gap outside. Their SDF error is weighted ``1 + thin``: these are the
voxels whose sign decides the topology.
What it does not: no eikonal or surface-normal loss, no adversarial or perceptual term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from n4d4d.generator.sparse_conv import coords_lookup, submanifold_map
from n4d4d.generator.vae import DecoderOutput, DiagonalGaussian
from n4d4d.kernels.sparse_tensor import SparseTensor

# kernel offsets of a 3x3x3 submanifold map for -x, +x, -y, +y, -z, +z ((dx*3 + dy)*3 + dz, d in 0..2)
_AXIS_OFFSETS = ((4, 22), (10, 16), (12, 14))


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (stored with the training config).

    Attributes:
        sdf: SDF mean squared error.
        sharp: extra weight of sharp-edge voxels (weight ``1 + sharp``).
        outside: weight of the outside-band rejection term.
        kl: KL divergence (per latent element).
        prune: pruning binary cross-entropy.
        sharp_angle_deg: normal turn between axis neighbours that marks a sharp edge.
        thin: extra weight of thin-feature voxels (weight ``1 + thin``; :func:`thin_feature_mask`).
        thin_near: normalised distance to the surface within which a medial voxel is thin (0.5 is one
            voxel at the default truncation of 2 voxels).
    """

    sdf: float = 1.0
    sharp: float = 2.0
    kl: float = 1e-5
    prune: float = 0.1
    outside: float = 1.0
    sharp_angle_deg: float = 40.0
    thin: float = 0.0
    thin_near: float = 0.5


def _neighbour(values: torch.Tensor, nmap, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Value of the neighbour at offset ``k`` of every voxel and whether it exists, ``(N,)`` each."""
    a, b = nmap.offsets[k], nmap.offsets[k + 1]
    out = torch.zeros_like(values)
    has = torch.zeros(values.shape[0], dtype=torch.bool, device=values.device)
    out[nmap.out_idx[a:b]] = values[nmap.in_idx[a:b]]
    has[nmap.out_idx[a:b]] = True
    return out, has


def _axis_gradients(v: torch.Tensor, nmap) -> torch.Tensor:
    """``(N, 3)`` unit SDF gradients: central differences along each axis (one-sided where a
    neighbour is missing), normalised."""
    grad = []
    for lo_k, hi_k in _AXIS_OFFSETS:
        lo, has_lo = _neighbour(v, nmap, lo_k)
        hi, has_hi = _neighbour(v, nmap, hi_k)
        grad.append(torch.where(has_lo & has_hi, (hi - lo) / 2,
                                torch.where(has_hi, hi - v, torch.where(has_lo, v - lo, torch.zeros_like(v)))))
    return F.normalize(torch.stack(grad, 1), dim=1)


def sharp_edge_mask(x: SparseTensor, angle_deg: float = 40.0, near: float = 0.75) -> torch.Tensor:
    """``(N,) bool``: voxels of ``x`` (feats ``(N, 1)`` normalised SDF) at a sharp edge.

    The gradient at each voxel is the central difference along each axis (one-sided where a
    neighbour is missing); a voxel with ``|sdf| < near`` is sharp when its unit gradient and that of
    some axis neighbour (also ``|sdf| < near``) differ by more than ``angle_deg``.
    """
    with torch.no_grad():
        v = x.feats[:, 0].float()
        nmap = submanifold_map(x)
        n = _axis_gradients(v, nmap)
        near_surface = v.abs() < near
        cos_lim = math.cos(math.radians(angle_deg))
        sharp = torch.zeros_like(near_surface)
        for k in (kk for pair in _AXIS_OFFSETS for kk in pair):
            a, b = nmap.offsets[k], nmap.offsets[k + 1]
            i, o = nmap.in_idx[a:b], nmap.out_idx[a:b]
            both = near_surface[i] & near_surface[o]
            cos = (n[i] * n[o]).sum(1)
            turned = (cos < cos_lim) & (cos > -0.5)  # > 120 deg: the two sides of a thin wall, not an edge
            sharp[o[both & turned]] = True
        return sharp


def thin_feature_mask(x: SparseTensor, near: float) -> torch.Tensor:
    """``(N,) bool``: medial voxels of thin necks, walls and gaps in ``x`` (feats ``(N, 1)`` normalised SDF).

    A voxel with ``|sdf| < near`` (normalised units) is marked when the surface lies on both of its
    sides along some axis: it is a strict extremum along that axis (both neighbours stored and
    nearer the surface on the same side: the middle voxel of a neck, wall or gap), or an axis
    neighbour on the same side, also within ``near``, has an opposite gradient (cosine < -1/2: the
    two middle voxels of a feature an even number of voxels thick). Edges and corners are not
    marked (their gradients turn by 90 degrees, not 180).
    """
    with torch.no_grad():
        v = x.feats[:, 0].float()
        nmap = submanifold_map(x)
        near_surface = v.abs() < near
        thin = torch.zeros_like(near_surface)
        for lo_k, hi_k in _AXIS_OFFSETS:
            lo, has_lo = _neighbour(v, nmap, lo_k)
            hi, has_hi = _neighbour(v, nmap, hi_k)
            both = has_lo & has_hi
            thin |= both & (((v < 0) & (lo > v) & (hi > v)) | ((v > 0) & (lo < v) & (hi < v)))
        n = _axis_gradients(v, nmap)
        for k in (kk for pair in _AXIS_OFFSETS for kk in pair):
            a, b = nmap.offsets[k], nmap.offsets[k + 1]
            i, o = nmap.in_idx[a:b], nmap.out_idx[a:b]
            pair = near_surface[i] & near_surface[o] & ((v[i] < 0) == (v[o] < 0))
            thin[o[pair & ((n[i] * n[o]).sum(1) < -0.5)]] = True
        return thin & near_surface


def vae_loss(x: SparseTensor, posterior: DiagonalGaussian, out: DecoderOutput,
             weights: LossWeights = LossWeights()) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss (scalar tensor) and its terms as floats.

    Args:
        x: the encoder's input band (feats ``(N, 1)`` normalised SDF), the regression target.
        posterior: the encoder's posterior.
        out: the teacher-forced decoder output (with ``prune_targets``).
    Returns:
        ``(loss, {"loss", "sdf", "outside", "kl", "prune", "extra_frac", "prune_acc", "sharp_frac",
        "sdf_l1"})``; ``extra_frac`` is the share of decoded voxels outside the true band.
    Raises:
        ValueError: ``out`` has no pruning targets (the decoder ran without a guide).
    """
    if len(out.prune_targets) != len(out.prune_logits):
        raise ValueError("vae_loss needs a teacher-forced decoder output (decode with guide=...)")
    idx = coords_lookup(x.coords, out.sdf.coords)
    ok = idx >= 0
    target = x.feats[idx[ok], 0]
    pred = out.sdf.feats[ok, 0]
    sharp = sharp_edge_mask(x, weights.sharp_angle_deg)[idx[ok]]
    w = 1.0 + weights.sharp * sharp.to(pred.dtype)
    thin = None
    if weights.thin > 0:
        thin = thin_feature_mask(x, weights.thin_near)[idx[ok]]
        w = w + weights.thin * thin.to(pred.dtype)
    err = (pred.float() - target.float()) ** 2
    sdf = (w * err).sum() / w.sum()
    extra = out.sdf.feats[~ok, 0].float()
    outside = (torch.relu(1.0 - extra.abs()) ** 2).mean() if extra.numel() else extra.sum()
    kl = posterior.kl()
    logits = torch.cat([lg.reshape(-1) for lg in out.prune_logits]).float()
    targets = torch.cat([t.reshape(-1) for t in out.prune_targets]).float()
    prune = F.binary_cross_entropy_with_logits(logits, targets)
    loss = weights.sdf * sdf + weights.outside * outside + weights.kl * kl + weights.prune * prune
    with torch.no_grad():
        terms = {"loss": float(loss), "sdf": float(sdf), "outside": float(outside), "kl": float(kl),
                 "prune": float(prune), "extra_frac": float((~ok).float().mean()),
                 "prune_acc": float(((logits > 0).float() == targets).float().mean()),
                 "sharp_frac": float(sharp.float().mean()),
                 "thin_frac": float(thin.float().mean()) if thin is not None else 0.0,
                 "sdf_l1": float((pred.float() - target.float()).abs().mean())}
    return loss, terms
