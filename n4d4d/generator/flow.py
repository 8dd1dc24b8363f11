"""The sparse latent flow transformer: DiT blocks with Spatial Sparse Attention over occupied latent cells.

What it does: :class:`SparseFlowTransformer` predicts the rectified-flow velocity of the SS-VAE's
latents on a given structure (the occupied cells of the ``16^3`` latent grid at R = 128), after
TRELLIS's second stage (Xiang et al. 2024, "Structured 3D Latents", sec. 3.4) and Direct3D-S2's
sparse DiT (Wu et al. 2025, sec. 3.2):

* input: a submanifold sparse convolution (:class:`~n4d4d.generator.sparse_conv.SubMConv3d`, 3^3)
  from the ``C`` latent channels to the width, plus a learned absolute position embedding of each
  cell (one table per axis, summed; SSA itself only encodes positions inside a compression block);
* ``depth`` DiT blocks (Peebles & Xie 2023): LayerNorm without affine, adaLN-zero modulation
  (shift, scale, gate of the attention and of the MLP from the conditioning vector, the projection
  zero-initialised so every block starts as the identity), self-attention through
  :class:`n4d4d.kernels.SpatialSparseAttention` (compression, top-k selection and sliding window,
  windows shifted on odd blocks; the Triton kernels on CUDA, masked dense attention equal to the torch
  reference on the CPU, see :class:`SSAttention`) or, for comparison, full attention (the same
  projections and gates, every branch attending to every token of its shape), and a GELU MLP;
* output: a final adaLN, then a submanifold convolution to ``C`` channels (zero-initialised);
* conditioning: a sinusoidal timestep embedding (``t`` in [0, 1] scaled by 1000) through an MLP, plus a
  category embedding with one extra "no condition" row for classifier-free guidance (Ho & Salimans
  2022): training drops the condition with probability ``cond_dropout`` (0.1).

The rectified-flow objective and sampler are :mod:`n4d4d.generator.sampler`; the structure stage is
:mod:`n4d4d.generator.structure`. What it does not: decode latents, or choose the structure.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

from n4d4d.generator.sparse_conv import SubMConv3d
from n4d4d.kernels.sparse_tensor import SparseTensor


@dataclass(frozen=True)
class FlowConfig:
    """Architecture of the sparse latent flow transformer (stored as JSON in every checkpoint).

    Attributes:
        latent_channels: ``C``, channels of the SS-VAE latent (8 for the shipped VAE).
        width, depth, heads, kv_heads, mlp_ratio: transformer width, blocks, query heads, key/value
            heads (GQA) and MLP expansion.
        num_categories: category embeddings (index ``num_categories`` is the null condition).
        grid: side of the latent grid (position-embedding table size).
        attention: ``"ssa"``, ``"reference"`` or ``"full"`` (:class:`SSAttention` modes; the
            weights are the same in all three, so a checkpoint loads into any).
        compression_block, selection_block, topk, window: SSA parameters in latent cells.
        backend: SSA backend, ``"auto"`` (Triton on CUDA), ``"torch"`` or ``"triton"``.
    """

    latent_channels: int = 8
    width: int = 128
    depth: int = 4
    heads: int = 4
    kv_heads: int = 2
    mlp_ratio: float = 4.0
    num_categories: int = 1
    grid: int = 16
    attention: str = "ssa"
    compression_block: int = 2
    selection_block: int = 4
    topk: int = 8
    window: int = 8
    backend: str = "auto"

    def __post_init__(self):
        if self.attention not in ("ssa", "reference", "full"):
            raise ValueError(f"attention must be 'ssa', 'reference' or 'full', got {self.attention!r}")
        if self.width % self.heads or self.heads % self.kv_heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads}), "
                             f"heads a multiple of kv_heads ({self.kv_heads})")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FlowConfig":
        return cls(**d)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding ``(B, dim)`` of times ``t (B,)`` in [0, 1] (scaled by 1000, as in DiT)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class Conditioning(nn.Module):
    """Timestep MLP plus a category embedding with a null row: ``(t (B,), y (B,) int64) -> (B, width)``.

    ``y == num_categories`` is the unconditional (dropped) condition.
    """

    def __init__(self, width: int, num_categories: int, freq_dim: int = 128):
        super().__init__()
        self.freq_dim, self.num_categories = freq_dim, num_categories
        self.t_mlp = nn.Sequential(nn.Linear(freq_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.y_embed = nn.Embedding(num_categories + 1, width)
        nn.init.normal_(self.y_embed.weight, std=0.02)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.t_mlp(timestep_embedding(t, self.freq_dim)) + self.y_embed(y)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: ``x * (1 + scale) + shift`` (all ``(N, width)``)."""
    return x * (1 + scale) + shift


def _dense_ssa(ssa: nn.Module, x: SparseTensor, full: bool) -> SparseTensor:
    """:class:`~n4d4d.kernels.SpatialSparseAttention` ``ssa`` applied to ``x``, its three branches
    evaluated as masked dense attention per shape (``full``: every branch sees every token)."""
    from n4d4d.kernels.compression import compress_kv, select_blocks
    from n4d4d.kernels.layout import block_layout, window_layout

    c, s = ssa.compression_block, ssa.selection_block
    lay = block_layout(x, c, s)
    win = window_layout(x, c, s, ssa.window, ssa.window // 2 if ssa.shift_window else 0)
    f = x.feats if lay.is_sorted else x.feats[lay.order]
    n, h, hkv, d = f.shape[0], ssa.heads, ssa.kv_heads, ssa.head_dim
    rep = h // hkv
    q = ssa.to_q(f).view(n, h, d)
    k, v = ssa.to_kv(f).view(n, 2, hkv, d).unbind(1)
    g = torch.sigmoid(ssa.to_gates(f)).view(n, h, 3)
    kr, vr = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    sdpa = nn.functional.scaled_dot_product_attention
    if not full:
        k_cmp, v_cmp = compress_kv(k, v, lay, ssa.block_pe)
        block_idx = select_blocks(q.detach(), k_cmp.detach(), lay, ssa.topk)
        kc, vc = k_cmp.repeat_interleave(rep, dim=1), v_cmp.repeat_interleave(rep, dim=1)
        window_of = win.partition.block_of_token[win.inverse]          # (N,) window of each block-ordered token
    cu = lay.cu_seqlens.tolist()
    cu_c, cu_s = lay.compression.cu_blocks.tolist(), lay.selection.cu_blocks.tolist()
    outs = []
    for b in range(lay.batch_size):
        a, e = cu[b], cu[b + 1]
        if a == e:
            continue
        qb = q[a:e].transpose(0, 1)[None]                               # (1, H, n_b, D)
        kb, vb = kr[a:e].transpose(0, 1)[None], vr[a:e].transpose(0, 1)[None]
        if full:
            o = sdpa(qb, kb, vb)[0].transpose(0, 1)
            outs.append(g[a:e].sum(-1, keepdim=True) * o)
            continue
        o_cmp = sdpa(qb, kc[cu_c[b]:cu_c[b + 1]].transpose(0, 1)[None],
                     vc[cu_c[b]:cu_c[b + 1]].transpose(0, 1)[None])[0].transpose(0, 1)
        s0, n_sel = cu_s[b], cu_s[b + 1] - cu_s[b]
        idx = block_idx[a:e].long() - s0                                # (n_b, H_kv, K), < 0: none
        picked = torch.zeros(e - a, hkv, n_sel + 1, dtype=torch.bool, device=q.device)
        picked.scatter_(2, torch.where(idx >= 0, idx, n_sel), True)
        sel_of_key = lay.selection.block_of_token[a:e] - s0
        m_sel = picked[:, :, sel_of_key].repeat_interleave(rep, dim=1).transpose(0, 1)[None]
        o_slc = sdpa(qb, kb, vb, attn_mask=m_sel)[0].transpose(0, 1)
        w = window_of[a:e]
        o_win = sdpa(qb, kb, vb, attn_mask=(w[:, None] == w[None, :])[None, None])[0].transpose(0, 1)
        gb = g[a:e]
        outs.append(gb[..., 0:1] * o_cmp + gb[..., 1:2] * o_slc + gb[..., 2:3] * o_win)
    out = ssa.to_out(torch.cat(outs).reshape(n, h * d))
    return x.replace(out if lay.is_sorted else out[lay.inverse])


class SSAttention(nn.Module):
    """Self-attention of the flow transformer: one :class:`~n4d4d.kernels.SpatialSparseAttention`.

    ``mode`` chooses how it is evaluated (the parameters are the same module's in every mode):

    * ``"ssa"``: on CUDA the module itself (Triton kernels); on the CPU its branches as masked dense
      attention per shape (:func:`_dense_ssa`: the compressed tokens, selected blocks and windows of
      :mod:`n4d4d.kernels.layout` / :mod:`~n4d4d.kernels.compression` as attention masks), equal to
      the torch reference (``tests/test_flow.py``) and 10-30x faster than it on the ~10^3 tokens of a
      16^3 latent grid, where the reference's per-chunk gathers dominate;
    * ``"reference"``: the module's own forward (the torch reference on the CPU);
    * ``"full"``: full attention with the same projections and gates,
      ``(g_cmp + g_slc + g_win) * softmax(q k^T / sqrt(D)) v``, what SSA computes when each branch
      sees every token of the shape.

    A token only ever attends to tokens of its own batch item.
    """

    def __init__(self, ssa: nn.Module, mode: str = "ssa"):
        super().__init__()
        if mode not in ("ssa", "reference", "full"):
            raise ValueError(f"mode must be 'ssa', 'reference' or 'full', got {mode!r}")
        self.ssa, self.mode = ssa, mode

    def forward(self, x: SparseTensor) -> SparseTensor:
        if self.mode == "reference" or (self.mode == "ssa" and x.feats.is_cuda):
            return self.ssa(x)
        return _dense_ssa(self.ssa, x, full=self.mode == "full")


class DiTBlock(nn.Module):
    """adaLN-zero transformer block over sparse tokens; the attention module is given."""

    def __init__(self, width: int, attn: nn.Module, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = attn
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x: SparseTensor, c: torch.Tensor, batch: torch.Tensor) -> SparseTensor:
        """``x`` feats ``(N, width)``; ``c (B, width)`` the conditioning vector of each shape,
        ``batch (N,) int64`` the shape of each token (modulation is computed per shape)."""
        s1, sc1, g1, s2, sc2, g2 = self.ada(c)[batch].chunk(6, dim=1)
        h = x.feats
        a = self.attn(x.replace(modulate(self.norm1(h), s1, sc1))).feats
        h = h + g1 * a
        h = h + g2 * self.mlp(modulate(self.norm2(h), s2, sc2))
        return x.replace(h)


class SparseFlowTransformer(nn.Module):
    """Velocity ``v(x_t, t, y)`` of sparse latents: ``forward(x, t, y) -> SparseTensor``.

    Args of ``forward``: ``x`` a :class:`SparseTensor` of the noisy (normalised) latents, coords
    ``(N, 4) int32`` (batch, x, y, z latent cells in ``[0, grid)``), feats ``(N, C) float32``;
    ``t (B,) float`` times in [0, 1] (1 = noise); ``y (B,) int64`` categories
    (``num_categories`` = unconditional). Returns the velocity ``(N, C)`` on the same coords.
    """

    def __init__(self, config: FlowConfig):
        super().__init__()
        from n4d4d.kernels.ssa import SpatialSparseAttention

        self.config = cfg = config
        w = cfg.width
        self.cond = Conditioning(w, cfg.num_categories)
        self.inp = SubMConv3d(cfg.latent_channels, w)
        self.pos = nn.Parameter(torch.zeros(3, cfg.grid, w))
        nn.init.normal_(self.pos, std=0.02)
        blocks = []
        for i in range(cfg.depth):
            ssa = SpatialSparseAttention(w, cfg.heads, cfg.kv_heads, compression_block=cfg.compression_block,
                                         selection_block=cfg.selection_block, topk=cfg.topk, window=cfg.window,
                                         shift_window=bool(i % 2), backend=cfg.backend)
            blocks.append(DiTBlock(w, SSAttention(ssa, cfg.attention), cfg.mlp_ratio))
        self.blocks = nn.ModuleList(blocks)
        self.norm_out = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(w, 2 * w))
        nn.init.zeros_(self.ada_out[1].weight)
        nn.init.zeros_(self.ada_out[1].bias)
        self.out = SubMConv3d(w, cfg.latent_channels)
        nn.init.zeros_(self.out.weight)

    def forward(self, x: SparseTensor, t: torch.Tensor, y: torch.Tensor) -> SparseTensor:
        c = self.cond(t, y)
        b = x.coords[:, 0].long()
        xyz = x.coords[:, 1:].long().clamp(0, self.config.grid - 1)
        h = self.inp(x).feats + self.pos[0, xyz[:, 0]] + self.pos[1, xyz[:, 1]] + self.pos[2, xyz[:, 2]]
        h = x.replace(h)
        for blk in self.blocks:
            h = blk(h, c, b)
        shift, scale = self.ada_out(c)[b].chunk(2, dim=1)
        return self.out(h.replace(modulate(self.norm_out(h.feats), shift, scale)))


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())
