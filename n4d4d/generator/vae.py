"""The sparse SDF VAE (SS-VAE of Direct3D-S2): sparse narrow-band SDF <-> sparse latent grid.

What it does: :class:`SparseSDFVAE` encodes the narrow band of a signed distance field sampled at
resolution ``R`` (voxel coords ``(N, 4) int32`` = batch, x, y, z; feature the truncated SDF in
voxels divided by the truncation, ``(N, 1)`` in ``[-1, 1]``) into a diagonal Gaussian latent with
``C`` channels on the ``2^L``-times coarser grid of the band's parent voxels, and decodes a latent
back to a band and its SDF. Architecture after Direct3D-S2 (Wu et al. 2025, sec. 3.1, "SS-VAE") and
the sparse VAEs of TRELLIS (Xiang et al. 2024):

* encoder: per level ``res_blocks[l]`` residual blocks of submanifold convolutions then a 2x sparse
  downsampling convolution, at the bottleneck ``attn_blocks`` shifted-window transformer blocks
  (:mod:`n4d4d.generator.attention`), then a linear head to the Gaussian's mean and log-variance;
  the input feature is ``(sdf, 1)`` per voxel, so the first downsampling tells an absent child (0, 0)
  from a child on the surface (0, 1);
* decoder (mirror): linear from ``C`` channels, transformer blocks, then per level a *pruning* head
  that predicts which of the 8 children of every voxel lie in the band, a 2x subdivision to the kept
  children and residual blocks; the SDF is a linear head per voxel at the input resolution.

With ``res_blocks[0] == 0`` (the CPU configs) nothing runs at the input resolution but the first
downsampling (a 2x2x2 patch embedding) and the last subdivision, which then is the SDF head itself
(one transposed convolution from level 1 to the kept voxels): the full-resolution band, 5-10 times
larger than level 1, costs two gathers instead of several 27-neighbour convolutions.

During training the decoder is teacher-forced: it keeps the children that are in the true band
(``guide``) and returns the pruning logits with their targets for the classification loss; with
``include_predicted`` it also keeps the children it predicts itself, so it learns to prune its own
false positives and to decode them outside the band (scheduled-sampling style; without this, voxels
kept by mistake at inference decode to arbitrary values and leave floating blobs). At inference it
keeps the children whose logit is positive. The model works at any ``R`` that keeps the
coarse grid non-empty; only the SDF normalisation (``truncation`` in voxels) ties it to the data.

What it does not: compute losses (:mod:`n4d4d.generator.losses`), read meshes or SDF files
(:mod:`n4d4d.generator.codec`), or generate latents (part 2's flow transformer).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from n4d4d.generator.attention import SparseTransformerBlock
from n4d4d.generator.sparse_conv import (
    CHILD_OFFSETS, SparseDownsample, SparseSubdivide, SubMConv3d, coords_lookup)
from n4d4d.kernels.sparse_tensor import SparseTensor


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of the SS-VAE (stored as JSON beside every checkpoint).

    Attributes:
        channels: feature channels per level, from the input resolution (level 0) to the latent
            grid (level ``L = len(channels) - 1``); the latent grid is ``2^L`` times coarser
            (``L = 3``: 8x, Direct3D-S2's factor; ``L = 2``: 4x, for ``R = 64``).
        res_blocks: residual blocks per level (``len(channels)`` entries), in encoder and decoder
            alike; ``res_blocks[0] = 0`` skips the input resolution (see module docstring).
        latent_channels: ``C``, channels of the diagonal Gaussian latent.
        attn_blocks: shifted-window transformer blocks at the bottleneck (encoder and decoder each).
        attn_heads: attention heads.
        window: attention window side, in latent voxels.
        truncation: SDF truncation in voxels of the input grid: input and target are
            ``clip(sdf / (voxel_size * truncation), -1, 1)``.
    """

    channels: tuple[int, ...] = (16, 32, 64, 96)
    res_blocks: tuple[int, ...] = (0, 1, 1, 1)
    latent_channels: int = 8
    attn_blocks: int = 2
    attn_heads: int = 4
    window: int = 8
    truncation: float = 2.0

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "res_blocks", tuple(int(c) for c in self.res_blocks))
        if len(self.channels) < 2:
            raise ValueError("channels needs at least two levels (input and latent)")
        if len(self.res_blocks) != len(self.channels):
            raise ValueError(f"res_blocks needs one entry per level ({len(self.channels)}), got {self.res_blocks}")
        if self.channels[-1] % self.attn_heads:
            raise ValueError(f"latent-level channels {self.channels[-1]} not divisible by {self.attn_heads} heads")
        if self.truncation <= 0:
            raise ValueError("truncation must be positive (voxels)")

    @property
    def levels(self) -> int:
        """``L``, the number of 2x downsamplings."""
        return len(self.channels) - 1

    @property
    def factor(self) -> int:
        """Downsampling factor ``2^L`` between the input grid and the latent grid."""
        return 2 ** self.levels

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["channels"], d["res_blocks"] = list(self.channels), list(self.res_blocks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "VAEConfig":
        """Config from JSON values; unknown or missing keys raise ``ValueError`` naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown VAE config keys: {', '.join(unknown)}")
        return cls(**d)


class SparseResBlock(nn.Module):
    """``x + conv(SiLU(LN(conv(SiLU(LN(x))))))`` with submanifold 3x3x3 convolutions (TRELLIS)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(channels), nn.LayerNorm(channels)
        self.conv1, self.conv2 = SubMConv3d(channels, channels), SubMConv3d(channels, channels)
        nn.init.zeros_(self.conv2.weight)  # the block starts as the identity

    def forward(self, x: SparseTensor) -> SparseTensor:
        h = self.conv1(x.replace(nn.functional.silu(self.norm1(x.feats))))
        h = self.conv2(h.replace(nn.functional.silu(self.norm2(h.feats))))
        return x.replace(x.feats + h.feats)


@dataclass
class DiagonalGaussian:
    """Per-voxel diagonal Gaussian ``N(mean, exp(logvar))`` on the latent grid.

    Attributes:
        coords: ``(M, 4) int32`` latent voxel coordinates (batch, x, y, z) at resolution ``R / 2^L``.
        mean, logvar: ``(M, C) float`` (logvar clamped to [-30, 20] as in LDM / TRELLIS).
    """

    coords: torch.Tensor
    mean: torch.Tensor
    logvar: torch.Tensor
    batch_size: int

    def sample(self, generator: torch.Generator | None = None) -> SparseTensor:
        """``mean + exp(logvar / 2) * eps``, eps standard normal (reparameterisation trick)."""
        eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return SparseTensor(self.coords, self.mean + torch.exp(0.5 * self.logvar) * eps, self.batch_size)

    def mode(self) -> SparseTensor:
        return SparseTensor(self.coords, self.mean, self.batch_size)

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) per latent element, averaged over voxels and channels (scalar)."""
        return 0.5 * torch.mean(self.mean**2 + torch.exp(self.logvar) - 1.0 - self.logvar)


@dataclass
class DecoderOutput:
    """What the decoder returns.

    Attributes:
        sdf: decoded band at the input resolution: coords ``(N', 4) int32``, feats ``(N', 1)``
            normalised SDF (multiply by ``truncation * voxel_size`` for metres).
        prune_logits: per subdivision (coarse to fine), ``(N_l, 8)`` logits that each child is in the band.
        prune_targets: with a guide, the matching ``(N_l, 8)`` bool truths; else empty.
    """

    sdf: SparseTensor
    prune_logits: list[torch.Tensor] = field(default_factory=list)
    prune_targets: list[torch.Tensor] = field(default_factory=list)


def _run(block: nn.Module, x: SparseTensor, use_checkpoint: bool) -> SparseTensor:
    if not use_checkpoint:
        return block(x)
    feats = checkpoint(lambda f: block(x.replace(f)).feats, x.feats, use_reentrant=False)
    return x.replace(feats)


class SparseSDFVAE(nn.Module):
    """SS-VAE: :meth:`encode` a band to a :class:`DiagonalGaussian`, :meth:`decode` a latent to a band."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = cfg = config
        ch = cfg.channels
        self.use_checkpoint = False  # gradient checkpointing of residual / transformer blocks (GPU)
        full = cfg.res_blocks[0] > 0  # anything at the input resolution besides the first/last step
        self.stem = SubMConv3d(2, ch[0]) if full else None
        self.enc_blocks = nn.ModuleList(
            nn.ModuleList(SparseResBlock(ch[lv]) for _ in range(cfg.res_blocks[lv])) for lv in range(cfg.levels + 1))
        self.down = nn.ModuleList(SparseDownsample(ch[lv] if (lv or full) else 2, ch[lv + 1]) for lv in range(cfg.levels))
        self.enc_attn = nn.ModuleList(self._transformer(i) for i in range(cfg.attn_blocks))
        self.enc_out = nn.Sequential(nn.LayerNorm(ch[-1]), nn.Linear(ch[-1], 2 * cfg.latent_channels))

        self.dec_in = nn.Linear(cfg.latent_channels, ch[-1])
        self.dec_attn = nn.ModuleList(self._transformer(i) for i in range(cfg.attn_blocks))
        self.prune = nn.ModuleList(nn.Sequential(nn.LayerNorm(ch[lv]), nn.Linear(ch[lv], 8))
                                   for lv in range(cfg.levels, 0, -1))
        self.up = nn.ModuleList(SparseSubdivide(ch[lv], ch[lv - 1] if (lv > 1 or full) else 1)
                                for lv in range(cfg.levels, 0, -1))
        self.dec_blocks = nn.ModuleList(
            nn.ModuleList(SparseResBlock(ch[lv]) for _ in range(cfg.res_blocks[lv])) for lv in range(cfg.levels, -1, -1))
        # before the last subdivision (no full-resolution blocks) or the linear SDF head (with them)
        last = ch[0] if full else ch[1]
        self.dec_norm = nn.LayerNorm(last)
        self.dec_out = nn.Linear(ch[0], 1) if full else None

    def _transformer(self, i: int) -> SparseTransformerBlock:
        c = self.config
        return SparseTransformerBlock(c.channels[-1], c.attn_heads, c.window, shift=(c.window // 2) * (i % 2))

    def encode(self, x: SparseTensor) -> tuple[DiagonalGaussian, list[torch.Tensor]]:
        """Encode a band ``x`` (feats ``(N, 1)`` normalised SDF) at resolution ``R``.

        Returns the posterior on the latent grid and the band's coords at every level
        (``[(N_0, 4), (N_1, 4), ..., (N_L, 4)]`` int32, level 0 = ``x.coords``): the decoder's guide.
        """
        if x.feats.ndim != 2 or x.feats.shape[1] != 1:
            raise ValueError(f"encoder input feats must be (N, 1) normalised SDF, got {tuple(x.feats.shape)}")
        if int(x.coords[:, 1:].min()) < 0:
            raise ValueError("voxel coordinates must be non-negative")
        ck = self.use_checkpoint and torch.is_grad_enabled()
        h = x.replace(torch.cat([x.feats, torch.ones_like(x.feats)], 1))
        if self.stem is not None:
            h = self.stem(h)
        coords = [h.coords]
        for lv in range(self.config.levels + 1):
            for block in self.enc_blocks[lv]:
                h = _run(block, h, ck)
            if lv < self.config.levels:
                h = self.down[lv](h)
                coords.append(h.coords)
        for block in self.enc_attn:
            h = _run(block, h, ck)
        mean, logvar = self.enc_out(h.feats).chunk(2, dim=1)
        return DiagonalGaussian(h.coords, mean, logvar.clamp(-30.0, 20.0), h.batch_size), coords

    def decode(self, z: SparseTensor, guide: list[torch.Tensor] | None = None,
               prune_threshold: float = 0.0, include_predicted: bool = False) -> DecoderOutput:
        """Decode latents ``z`` (feats ``(M, C)`` on the latent grid) to a band at resolution ``R``.

        ``guide``: the encoder's per-level coords; children are kept where they are in the guide's
        next-finer level (teacher forcing) and the pruning targets are returned; with
        ``include_predicted`` the children the model itself keeps are kept too, so training sees its
        own false positives (their children's targets are all False, and their voxels at the input
        resolution are outside the band, see :func:`n4d4d.generator.losses.vae_loss`). Without a guide,
        children whose pruning logit exceeds ``prune_threshold`` are kept (0: probability 1/2; a
        negative threshold keeps more, trading decode time for fewer holes); ``ValueError`` if a level
        keeps none.
        """
        ck = self.use_checkpoint and torch.is_grad_enabled()
        h = z.replace(self.dec_in(z.feats))
        for block in self.dec_attn:
            h = _run(block, h, ck)
        out = DecoderOutput(sdf=h)
        for i in range(self.config.levels + 1):
            for block in self.dec_blocks[i]:
                h = _run(block, h, ck)
            if i == self.config.levels:
                break
            logits = self.prune[i](h.feats)
            if guide is not None:
                target_level = self.config.levels - i - 1
                child = h.coords.long()[:, None, :].repeat(1, 8, 1)
                child[..., 1:] = 2 * child[..., 1:] + CHILD_OFFSETS.to(child.device)
                keep = coords_lookup(guide[target_level], child.reshape(-1, 4)).view(-1, 8) >= 0
                out.prune_targets.append(keep)
                if include_predicted:
                    keep = keep | (logits.detach() > prune_threshold)
            else:
                keep = logits > prune_threshold
            out.prune_logits.append(logits)
            if i == self.config.levels - 1 and self.dec_out is None:  # the last subdivision is the SDF head
                h = h.replace(nn.functional.silu(self.dec_norm(h.feats)))
            h = self.up[i](h, keep)
        if self.dec_out is not None:
            h = h.replace(self.dec_out(nn.functional.silu(self.dec_norm(h.feats))))
        out.sdf = h
        return out

    def forward(self, x: SparseTensor, sample: bool = True, include_predicted: bool = False,
                generator: torch.Generator | None = None) -> tuple[DiagonalGaussian, DecoderOutput]:
        """Teacher-forced reconstruction for training: ``(posterior, decoder output)``."""
        posterior, guide = self.encode(x)
        z = posterior.sample(generator) if sample else posterior.mode()
        return posterior, self.decode(z, guide, include_predicted=include_predicted)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
