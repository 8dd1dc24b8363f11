"""The block-sparse narrow-band signed-distance volume, :class:`SparseSDF`.

A regular grid of nodes ``origin + voxel_size * (i, j, k)`` is cut into cubic blocks of
``block_size`` nodes per side. Only nodes within ``band`` metres of the surface are stored,
grouped by block: the nodes of block ``b`` are ``coords[block_offsets[b]:block_offsets[b+1]]``
(cu_seqlens layout), blocks in lexicographic order of their block coordinate, nodes inside a
block in lexicographic order of their position. Nodes that are not stored lie farther than
``band`` from the surface; their sign follows from the stored ones (see
:func:`n4d4d.volume.extract_surface`).

This module holds data, its layout checks and its file format only; computing a volume lives
in :mod:`n4d4d.volume.sdf`, extracting a surface in :mod:`n4d4d.volume.extract`.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_FORMAT = "n4d4d.SparseSDF/1"


def _frozen(a, dtype, shape_tail: tuple[int, ...]) -> np.ndarray:
    arr = np.ascontiguousarray(a, dtype=dtype)
    arr = arr.reshape((-1,) + shape_tail) if shape_tail or arr.ndim != 1 else arr
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class SparseSDF:
    """A narrow-band signed-distance field on a regular grid, stored block-sparse.

    Attributes:
        resolution: grid cells along the longest side of the padded bounding box.
        voxel_size: grid spacing (m).
        origin: ``(3,) float64`` world position of grid node ``(0, 0, 0)`` (m).
        block_size: nodes per block side.
        coords: ``(N, 3) int32`` grid-node indices of the band nodes, sorted by block
            (block coordinate lexicographic, then position inside the block), so that each
            block is one contiguous run.
        values: ``(N,) float32`` signed distance to the surface (m), negative inside.
        block_coords: ``(B, 3) int32`` block coordinates (``coords // block_size``) of the
            occupied blocks, lexicographically sorted.
        block_offsets: ``(B + 1,) int64`` start of each block's run in ``coords``; the last
            entry is ``N``.
        band: half-width of the stored band (m): every node with ``|distance| <= band`` is
            stored, no other.
        grid_shape: ``(3,) int64`` number of grid nodes along x, y, z (the padded box).

    Arrays are read-only, so the record is immutable.
    """

    resolution: int
    voxel_size: float
    origin: np.ndarray
    block_size: int
    coords: np.ndarray
    values: np.ndarray
    block_coords: np.ndarray
    block_offsets: np.ndarray
    band: float
    grid_shape: np.ndarray | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "resolution", int(self.resolution))
        set_(self, "voxel_size", float(self.voxel_size))
        set_(self, "block_size", int(self.block_size))
        set_(self, "band", float(self.band))
        set_(self, "origin", _frozen(self.origin, np.float64, ()).reshape(3))
        set_(self, "coords", _frozen(self.coords, np.int32, (3,)))
        set_(self, "values", _frozen(self.values, np.float32, ()).reshape(-1))
        set_(self, "block_coords", _frozen(self.block_coords, np.int32, (3,)))
        set_(self, "block_offsets", _frozen(self.block_offsets, np.int64, ()).reshape(-1))
        if self.grid_shape is None:
            top = self.coords.max(axis=0) + 1 if len(self.coords) else np.zeros(3)
            set_(self, "grid_shape", top)
        set_(self, "grid_shape", _frozen(self.grid_shape, np.int64, ()).reshape(3))
        n, b = len(self.coords), len(self.block_coords)
        if self.values.shape != (n,):
            raise ValueError(f"SparseSDF.values must have shape ({n},), got {self.values.shape}")
        if self.block_offsets.shape != (b + 1,) or self.block_offsets[0] != 0 \
                or self.block_offsets[-1] != n:
            raise ValueError("SparseSDF.block_offsets must be (B+1,) from 0 to N")

    # ------------------------------------------------------------------ queries
    @property
    def n_nodes(self) -> int:
        """Number of stored band nodes ``N``."""
        return len(self.coords)

    @property
    def n_blocks(self) -> int:
        """Number of occupied blocks ``B``."""
        return len(self.block_coords)

    @property
    def blocks_shape(self) -> np.ndarray:
        """``(3,) int64`` number of blocks along x, y, z that tile the grid."""
        return -(-self.grid_shape // self.block_size)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return int(sum(a.nbytes for a in (self.origin, self.coords, self.values,
                                           self.block_coords, self.block_offsets)))

    def positions(self) -> np.ndarray:
        """``(N, 3) float64`` world positions of the band nodes (m)."""
        return self.origin + self.coords.astype(np.float64) * self.voxel_size

    def block_ids(self) -> np.ndarray:
        """``(N,) int64`` index of the block each stored node belongs to."""
        return np.repeat(np.arange(self.n_blocks), np.diff(self.block_offsets))

    def to_dense(self, fill: float | None = None) -> np.ndarray:
        """The grid as a dense ``grid_shape`` float32 array (for small grids and tests).

        Nodes outside the band get ``fill`` (default ``+band``); note that such a fill does
        not say which of them are inside, so a dense array of this kind is for inspecting the
        band, not for contouring (use :func:`n4d4d.volume.extract_surface`).
        """
        fill = self.band if fill is None else fill
        dense = np.full(tuple(self.grid_shape), fill, dtype=np.float32)
        c = self.coords
        dense[c[:, 0], c[:, 1], c[:, 2]] = self.values
        return dense

    def check_layout(self) -> None:
        """Raise ValueError unless blocks and nodes are sorted and each block is one run."""
        bs = self.block_size
        bc = self.block_coords.astype(np.int64)
        shape = self.blocks_shape
        keys = (bc[:, 0] * shape[1] + bc[:, 1]) * shape[2] + bc[:, 2]
        if len(keys) and not np.all(np.diff(keys) > 0):
            raise ValueError("block_coords are not strictly lexicographically sorted")
        ids = self.block_ids()
        if not np.array_equal(self.coords // bs, self.block_coords[ids]):
            raise ValueError("a node lies outside the block whose run holds it")
        local = self.coords.astype(np.int64) % bs
        lkey = ids * bs**3 + (local[:, 0] * bs + local[:, 1]) * bs + local[:, 2]
        if len(lkey) and not np.all(np.diff(lkey) > 0):
            raise ValueError("nodes inside a block are not sorted (or repeat)")

    # ------------------------------------------------------------------ file format
    def save(self, path: str | Path) -> Path:
        """Write to ``path`` as an uncompressed ``.npz`` (atomically, no pickled objects)."""
        from n4d4d.io.atomic import atomic_write_npz

        arrays = {
            "format": np.array(_FORMAT),
            "resolution": np.array(self.resolution, np.int64),
            "voxel_size": np.array(self.voxel_size, np.float64),
            "origin": self.origin,
            "block_size": np.array(self.block_size, np.int64),
            "coords": self.coords,
            "values": self.values,
            "block_coords": self.block_coords,
            "block_offsets": self.block_offsets,
            "band": np.array(self.band, np.float64),
            "grid_shape": self.grid_shape,
        }
        return atomic_write_npz(path, arrays)

    @classmethod
    def load(cls, path: str | Path) -> "SparseSDF":
        """Read a file written by :meth:`save` (``allow_pickle=False``)."""
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                if str(z["format"]) != _FORMAT:
                    raise ValueError(f"{path}: not a {_FORMAT} file")
                return cls(
                    resolution=int(z["resolution"]), voxel_size=float(z["voxel_size"]),
                    origin=z["origin"], block_size=int(z["block_size"]), coords=z["coords"],
                    values=z["values"], block_coords=z["block_coords"],
                    block_offsets=z["block_offsets"], band=float(z["band"]),
                    grid_shape=z["grid_shape"],
                )
        except (KeyError, zipfile.BadZipFile) as e:
            raise ValueError(f"{path}: not a {_FORMAT} file ({e})") from e
