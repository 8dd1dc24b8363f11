"""The sparse tensor type of n4d4d: occupied voxels of a grid and their features.

A :class:`SparseTensor` pairs integer voxel coordinates ``coords`` of shape ``(N, 4)``, dtype
``torch.int32`` (columns: batch index, x, y, z; TRELLIS convention) with features ``feats`` of shape
``(N, C)`` (or ``(N, ...)``, any floating dtype, same device). Row ``i`` of ``feats`` belongs to the
voxel in row ``i`` of ``coords``. Rows are in no particular order; a batch of several shapes is the
concatenation of their voxels with distinct batch indices, so shapes of different sizes share one
tensor without padding.

Maps that depend only on the coordinates (the token layout of spatial sparse attention, later the
neighbour maps of sparse convolutions) are computed once per resolution and cached on the tensor:
:meth:`SparseTensor.replace` returns a tensor with new features that shares the coordinates *and*
the cache, so every layer of a network working at one resolution reuses them.

What it does not do: no sparse convolution, no up/down-sampling, no arithmetic on features (work on
``x.feats`` and wrap the result with ``x.replace``). Importing this module imports torch.
"""

from __future__ import annotations

from typing import Any, Callable

import torch


class SparseTensor:
    """Occupied voxels ``coords`` with per-voxel ``feats``.

    Args:
        coords: ``(N, 4)`` integer tensor (batch, x, y, z); stored as ``torch.int32``. Coordinates
            are voxel indices at this tensor's resolution (non-negative, unique within a batch item:
            the layout code checks both). Batch indices need not be contiguous: a missing index is a
            batch item with no voxels.
        feats: ``(N, ...)`` floating tensor on the same device as ``coords``.
        batch_size: number of batch items ``B``; default ``coords[:, 0].max() + 1``.

    Raises:
        ValueError: wrong shapes, devices, an empty tensor, or a negative batch index.
    """

    __slots__ = ("coords", "feats", "batch_size", "_cache")

    def __init__(self, coords: torch.Tensor, feats: torch.Tensor, batch_size: int | None = None,
                 *, _cache: dict | None = None):
        if coords.ndim != 2 or coords.shape[1] != 4:
            raise ValueError(f"coords must have shape (N, 4) (batch, x, y, z), got {tuple(coords.shape)}")
        if coords.dtype.is_floating_point or coords.dtype == torch.bool:
            raise ValueError(f"coords must be an integer tensor, got {coords.dtype}")
        if feats.ndim < 1 or feats.shape[0] != coords.shape[0]:
            raise ValueError(f"feats must have N={coords.shape[0]} rows, got shape {tuple(feats.shape)}")
        if feats.device != coords.device:
            raise ValueError(f"coords on {coords.device} but feats on {feats.device}")
        if coords.shape[0] == 0:
            raise ValueError("a SparseTensor needs at least one voxel")
        self.coords = coords.to(torch.int32).contiguous()
        self.feats = feats
        if batch_size is None:
            batch_size = int(self.coords[:, 0].max()) + 1
        if int(self.coords[:, 0].min()) < 0 or int(self.coords[:, 0].max()) >= batch_size:
            raise ValueError(f"batch indices must lie in [0, {batch_size})")
        self.batch_size = int(batch_size)
        self._cache = {} if _cache is None else _cache

    # -- construction -------------------------------------------------------------------------
    def replace(self, feats: torch.Tensor) -> "SparseTensor":
        """Same voxels (and cached layouts), new features ``(N, ...)`` in the same row order.

        Checks only the row count (no device synchronisation: it is called once per layer).
        """
        if feats.shape[0] != self.coords.shape[0]:
            raise ValueError(f"replace: feats must have {self.coords.shape[0]} rows, got {feats.shape[0]}")
        out = SparseTensor.__new__(SparseTensor)
        out.coords, out.feats, out.batch_size, out._cache = self.coords, feats, self.batch_size, self._cache
        return out

    @classmethod
    def from_batches(cls, coords_list: list[torch.Tensor], feats_list: list[torch.Tensor]) -> "SparseTensor":
        """Concatenate per-item ``(N_b, 3)`` xyz coordinates and ``(N_b, C)`` features into a batch."""
        coords = [torch.cat([torch.full((c.shape[0], 1), b, dtype=torch.int32, device=c.device),
                             c.to(torch.int32)], dim=1) for b, c in enumerate(coords_list)]
        return cls(torch.cat(coords), torch.cat(feats_list), batch_size=len(coords_list))

    def to(self, device: Any) -> "SparseTensor":
        """Copy to ``device`` (the cache is not carried: it holds device tensors)."""
        return SparseTensor(self.coords.to(device), self.feats.to(device), self.batch_size)

    # -- properties ---------------------------------------------------------------------------
    @property
    def num_tokens(self) -> int:
        """Number of occupied voxels ``N``."""
        return int(self.coords.shape[0])

    @property
    def device(self) -> torch.device:
        return self.coords.device

    @property
    def dtype(self) -> torch.dtype:
        return self.feats.dtype

    @property
    def shape(self) -> torch.Size:
        """Shape of ``feats``."""
        return self.feats.shape

    def batch_counts(self) -> torch.Tensor:
        """``(B,)`` int64: voxels per batch item."""
        return torch.bincount(self.coords[:, 0].long(), minlength=self.batch_size)

    # -- cache of coordinate-only maps --------------------------------------------------------
    def cached(self, key: Any, build: Callable[[], Any]) -> Any:
        """Return ``cache[key]``, computing it with ``build()`` the first time.

        The cache is shared by every tensor made from this one by :meth:`replace`, i.e. by every
        tensor with these coordinates; ``key`` should name the map and all its parameters.
        """
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def __repr__(self) -> str:
        return (f"SparseTensor(N={self.num_tokens}, batch_size={self.batch_size}, "
                f"feats={tuple(self.feats.shape)} {self.feats.dtype}, device={self.device})")
