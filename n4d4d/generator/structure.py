"""The structure stage: a dense rectified-flow transformer over the occupancy of the latent grid.

What it does: :class:`StructureFlow` predicts the velocity of a dense ``G^3`` field (``G = 16`` at
R = 128) whose data are the occupied latent cells of a shape, ``+1`` occupied and ``-1`` empty (the
structure TRELLIS's first stage generates, there through a compressed 64^3 occupancy; here the
grid is small enough to flow on directly). The field is cut into ``patch^3`` patches, one token
each (``(G / patch)^3`` tokens, 512 for ``patch = 2``), with a learned position embedding, through
``depth`` adaLN-zero DiT blocks (:class:`~n4d4d.generator.flow.DiTBlock` with dense multi-head
attention, every token of a shape attending to every other) and a linear head back to the patch.

Conditioning: the category (with a null row for classifier-free guidance, as
:class:`~n4d4d.generator.flow.Conditioning`) and, optionally, a *blockout*: the solid coarse
occupancy (:func:`n4d4d.generator.latents.coarse_grid`, ``(G / 2)^3``) upsampled to the grid and fed
as two extra input channels (occupancy in {-1, +1} and a "given" flag), dropped in training with
probability ``coarse_dropout`` so the model samples with or without one (``--coarse``). A sampled
field is thresholded at 0 to the occupied cells. What it does not: generate latents on those cells
(:mod:`n4d4d.generator.flow`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from n4d4d.generator.flow import Conditioning, DiTBlock, modulate
from n4d4d.kernels.sparse_tensor import SparseTensor


@dataclass(frozen=True)
class StructureConfig:
    """Architecture of the structure flow (stored as JSON in every checkpoint).

    Attributes:
        grid: side ``G`` of the dense occupancy grid; patch: patch side (divides ``G`` and ``G / 2``'s
            upsampling); width, depth, heads, mlp_ratio: the transformer; num_categories: as
            :class:`~n4d4d.generator.flow.FlowConfig`.
    """

    grid: int = 16
    patch: int = 2
    width: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    num_categories: int = 1

    def __post_init__(self):
        if self.grid % self.patch or self.width % self.heads:
            raise ValueError(f"patch ({self.patch}) must divide grid ({self.grid}), heads divide width")

    @property
    def tokens(self) -> int:
        return (self.grid // self.patch) ** 3

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StructureConfig":
        return cls(**d)


class DenseAttention(nn.Module):
    """Multi-head self-attention over the tokens of one shape (a :class:`SparseTensor` whose rows are
    ``B`` runs of ``T`` tokens each, batch-major): ``scaled_dot_product_attention`` on ``(B, H, T, D)``."""

    def __init__(self, width: int, heads: int, tokens: int):
        super().__init__()
        self.heads, self.tokens = heads, tokens
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: SparseTensor) -> SparseTensor:
        n, w = x.feats.shape
        b, t, h = n // self.tokens, self.tokens, self.heads
        q, k, v = self.qkv(x.feats).view(b, t, 3, h, w // h).permute(2, 0, 3, 1, 4)
        o = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, w)
        return x.replace(self.proj(o))


class StructureFlow(nn.Module):
    """Velocity of the dense occupancy field: ``forward(x, t, y, coarse=None) -> (B, G, G, G)``.

    Args of ``forward``: ``x (B, G, G, G) float32`` the noisy field; ``t (B,)`` in [0, 1] (1 = noise);
    ``y (B,) int64`` categories (``num_categories`` = unconditional); ``coarse``: ``(B, G/2, G/2, G/2)
    bool`` blockouts, or None; ``coarse_given (B,) bool`` which rows of ``coarse`` count (default all
    when ``coarse`` is given).
    """

    def __init__(self, config: StructureConfig):
        super().__init__()
        self.config = cfg = config
        p3 = cfg.patch**3
        self.cond = Conditioning(cfg.width, cfg.num_categories)
        self.inp = nn.Linear(3 * p3, cfg.width)
        self.pos = nn.Parameter(torch.zeros(cfg.tokens, cfg.width))
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(DiTBlock(cfg.width, DenseAttention(cfg.width, cfg.heads, cfg.tokens),
                                             cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(cfg.width, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(cfg.width, 2 * cfg.width))
        nn.init.zeros_(self.ada_out[1].weight)
        nn.init.zeros_(self.ada_out[1].bias)
        self.out = nn.Linear(cfg.width, p3)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _patchify(self, v: torch.Tensor) -> torch.Tensor:
        """``(B, G, G, G, K)`` -> ``(B * T, p^3 * K)``."""
        b, g, k, p = v.shape[0], self.config.grid, v.shape[-1], self.config.patch
        n = g // p
        v = v.reshape(b, n, p, n, p, n, p, k).permute(0, 1, 3, 5, 2, 4, 6, 7)
        return v.reshape(b * n**3, p**3 * k)

    def _unpatchify(self, v: torch.Tensor, b: int) -> torch.Tensor:
        g, p = self.config.grid, self.config.patch
        n = g // p
        v = v.reshape(b, n, n, n, p, p, p).permute(0, 1, 4, 2, 5, 3, 6)
        return v.reshape(b, g, g, g)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, coarse: torch.Tensor | None = None,
                coarse_given: torch.Tensor | None = None) -> torch.Tensor:
        b, g = x.shape[0], self.config.grid
        if x.shape[1:] != (g, g, g):
            raise ValueError(f"structure field must be (B, {g}, {g}, {g}), got {tuple(x.shape)}")
        cond_occ = torch.zeros_like(x)
        given = torch.zeros_like(x)
        if coarse is not None:
            up = coarse.float().repeat_interleave(2, 1).repeat_interleave(2, 2).repeat_interleave(2, 3)
            flag = (torch.ones(b, dtype=torch.bool, device=x.device) if coarse_given is None
                    else coarse_given.to(x.device)).float()[:, None, None, None]
            cond_occ, given = (2 * up - 1) * flag, flag.expand_as(x)
        tok = self._patchify(torch.stack([x, cond_occ, given], dim=-1))
        c = self.cond(t, y)
        batch = torch.arange(b, device=x.device).repeat_interleave(self.config.tokens)
        h = self.inp(tok) + self.pos.repeat(b, 1)
        # a SparseTensor only as a carrier of rows (dense attention ignores its coordinates)
        coords = torch.zeros(h.shape[0], 4, dtype=torch.int32, device=x.device)
        coords[:, 0] = torch.arange(b, device=x.device, dtype=torch.int32).repeat_interleave(self.config.tokens)
        hs = SparseTensor(coords, h, b)
        for blk in self.blocks:
            hs = blk(hs, c, batch)
        shift, scale = self.ada_out(c)[batch].chunk(2, dim=1)
        out = self.out(modulate(self.norm_out(hs.feats), shift, scale))
        return self._unpatchify(out, b)
