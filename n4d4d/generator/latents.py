"""The flow models' data: a corpus encoded once by the shipped SS-VAE, cached in one ``.npz``.

What it does: :func:`encode_corpus` encodes every shape of a :class:`~n4d4d.generator.corpus.Corpus`
at one resolution (``R = 128`` gives a ``16^3`` latent grid with the 8x SS-VAE) with the posterior
*mean* (TRELLIS and Direct3D-S2 train their flows on the mean), and writes ``latents_r128.npz``
(:func:`cache_path`) atomically: per shape its id, category, split, the latent cells ``(M, 3)
uint8`` and latents ``(M, C) float32``, the volume's voxel size (m) and grid shape; a rerun with the
same VAE and corpus finds the file and returns at once. :class:`LatentSet` reads it back, gives a
split, and the per-channel statistics of the train split that the flow normalises latents with.
:func:`structure_cache` writes the structure stage's data alone (``structure_r128.npz``, the same
format with no latent channels): each shape's latent cells taken from its volume's band
(:func:`band_cells`), which are the cells the encoder keeps, so the structure stage trains on a
corpus without loading or running the VAE (1,595 shapes in 290 s on the loaded 2-core machine).

:func:`structure_grid` (a shape's occupied latent cells as a dense ``G^3`` grid, the structure
stage's data) and :func:`coarse_grid` (the solid occupancy of those cells, filled with
``scipy.ndimage.binary_fill_holes``, max-pooled by ``COARSE_FACTOR``: the blockout of ``--coarse``)
are shared by training, generation and the metrics, so a user's blockout and a training shape are
reduced the same way. What it does not: train, sample, or decode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

#: Side of the dense latent grid at R = 128 (the 8x SS-VAE); latent cells outside it are dropped
#: (none are: the band keeps padding_voxels(2) empty nodes on each side of the 129-node grid).
GRID = 16
#: The blockout grid of ``--coarse`` is the latent grid pooled by this factor (8^3 at R = 128).
COARSE_FACTOR = 2
FORMAT = "n4d4d.latents/1"


def cache_path(corpus_root: str | Path, resolution: int = 128) -> Path:
    """Where :func:`encode_corpus` writes the cache: ``CORPUS/latents_r128.npz``."""
    return Path(corpus_root) / f"latents_r{resolution:03d}.npz"


def band_cells(coords: np.ndarray, factor: int = 8) -> np.ndarray:
    """Latent cells ``(M, 3) int64`` (unique, sorted) holding the band nodes ``coords (N, 3)``.

    These are exactly the cells the SS-VAE's encoder keeps (three 2x downsamplings of the band).
    """
    return np.unique(np.asarray(coords, np.int64) // factor, axis=0)


def structure_grid(cells: np.ndarray, grid: int = GRID) -> np.ndarray:
    """Dense ``(grid, grid, grid) bool`` occupancy of latent ``cells (M, 3)`` (cells outside dropped)."""
    c = np.asarray(cells, np.int64)
    c = c[np.all((c >= 0) & (c < grid), axis=1)]
    occ = np.zeros((grid,) * 3, bool)
    occ[c[:, 0], c[:, 1], c[:, 2]] = True
    return occ


def coarse_grid(occupancy: np.ndarray, factor: int = COARSE_FACTOR) -> np.ndarray:
    """Solid blockout ``(G/f,)*3 bool`` of a shell occupancy ``(G, G, G) bool``.

    The shell's enclosed cells are filled (``scipy.ndimage.binary_fill_holes``: inside is what the
    outside cannot reach), then a coarse cell is occupied when any of its ``f^3`` cells is.
    """
    from scipy import ndimage

    solid = ndimage.binary_fill_holes(np.asarray(occupancy, bool))
    g = solid.shape[0] // factor
    return solid[:g * factor, :g * factor, :g * factor].reshape(g, factor, g, factor, g, factor).any(axis=(1, 3, 5))


@dataclass(frozen=True)
class LatentShape:
    """One encoded shape: ``cells (M, 3) int64`` latent cells, ``feats (M, C) float32`` posterior
    means, its ``voxel_size`` (m, at the encoded resolution) and the volume's ``grid_shape (3,)``."""

    id: str
    category: str
    split: str
    cells: np.ndarray
    feats: np.ndarray
    voxel_size: float
    grid_shape: np.ndarray


class LatentSet:
    """The cache of :func:`encode_corpus`: shapes by split, channel statistics.

    Raises :class:`~n4d4d.errors.InputError` naming the file when it is missing or of another format.
    """

    def __init__(self, path: str | Path):
        from n4d4d.errors import InputError

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("no latent cache here; run `n4d4d train flow` (it encodes the corpus first)", self.path)
        with np.load(self.path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != FORMAT:
                raise InputError(f"not a latent cache (format {meta.get('format')!r})", self.path)
            self.meta = meta
            off, cells, feats = z["offsets"], z["cells"].astype(np.int64), z["feats"]
            vs, gs = z["voxel_size"], z["grid_shape"]
        self.shapes = [LatentShape(i, c, s, cells[off[k]:off[k + 1]], feats[off[k]:off[k + 1]], float(vs[k]), gs[k])
                       for k, (i, c, s) in enumerate(zip(meta["ids"], meta["categories"], meta["splits"]))]

    def split(self, name: str | None) -> list[LatentShape]:
        """Shapes of split ``name`` (all if None), in cache order."""
        return [s for s in self.shapes if name is None or s.split == name]

    def categories(self) -> list[str]:
        """Sorted category names of the train split."""
        return sorted({s.category for s in self.split("train")})

    def channel_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean (C,), std (C,))`` float32 of the train split's latents, over all its tokens."""
        f = np.concatenate([s.feats for s in self.split("train")])
        return f.mean(0).astype(np.float32), np.maximum(f.std(0), 1e-6).astype(np.float32)


def structure_cache(corpus_root: str | Path, resolution: int = 128, *,
                    progress: Callable[[int, int, str], None] | None = None) -> Path:
    """Write ``CORPUS/structure_r128.npz``: the latent cells of every shape, no latents; returns its path.

    The cells of a shape are :func:`band_cells` of its stored volume's band nodes at ``resolution``
    (cells outside the ``GRID^3`` latent grid dropped, as :func:`encode_corpus` drops them): the cells
    the SS-VAE's encoder keeps, without running it. The file has :func:`encode_corpus`'s format with
    ``latent_channels`` 0 (``feats (N, 0)``), so :class:`LatentSet` reads it and the structure stage
    trains on it (``train_flow(..., stage="structure")``); the latent stage needs the encoded cache.
    Rewritten on every call (it only reads the volumes: 1,595 shapes took 290 s at load ~10).

    Raises:
        InputError: the corpus has no shape at ``resolution``.
    """
    from n4d4d.errors import InputError
    from n4d4d.generator.corpus import Corpus
    from n4d4d.io.atomic import atomic_write_npz

    corpus = Corpus(corpus_root)
    entries = corpus.entries(resolution=resolution)
    if not entries:
        raise InputError(f"the corpus has no volumes at R = {resolution}", corpus.root)
    ids, cats, splits, cells, vs, gs = [], [], [], [], [], []
    for n, e in enumerate(entries):
        if progress:
            progress(n, len(entries), e["id"])
        sdf = corpus.load(e, resolution)
        cc = band_cells(sdf.coords)
        cells.append(cc[np.all(cc < GRID, axis=1)].astype(np.uint8))
        ids.append(e["id"])
        cats.append(e["category"])
        splits.append(e["split"])
        vs.append(sdf.voxel_size)
        gs.append(np.asarray(sdf.grid_shape, np.int64))
    offsets = np.r_[0, np.cumsum([len(c) for c in cells])].astype(np.int64)
    meta = {"format": FORMAT, "resolution": resolution, "vae": None, "ids": ids, "categories": cats,
            "splits": splits, "latent_channels": 0, "grid": GRID, "cells_from": "band"}
    out = Path(corpus_root) / f"structure_r{resolution:03d}.npz"
    atomic_write_npz(out, {"meta": np.array(json.dumps(meta)), "offsets": offsets, "cells": np.concatenate(cells),
                           "feats": np.zeros((int(offsets[-1]), 0), np.float32),
                           "voxel_size": np.array(vs, np.float64), "grid_shape": np.stack(gs)})
    return out


def encode_corpus(corpus_root: str | Path, vae=None, resolution: int = 128, *, vae_path: str | Path | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> Path:
    """Encode every shape of the corpus at ``resolution`` once; returns the cache path.

    Args:
        corpus_root: a corpus folder (``n4d4d corpus build``) with volumes at ``resolution``.
        vae: a loaded :class:`~n4d4d.generator.vae.SparseSDFVAE`; default the shipped checkpoint.
        vae_path: the checkpoint ``vae`` was loaded from (recorded in the cache; a cache made by another
            checkpoint is rebuilt).
    Raises:
        InputError: the corpus has no shape at ``resolution``.
    """
    import torch

    from n4d4d.errors import InputError
    from n4d4d.generator.checkpoint import default_checkpoint, load_vae
    from n4d4d.generator.codec import sdf_to_tensors
    from n4d4d.generator.corpus import Corpus
    from n4d4d.io.atomic import atomic_write_npz
    from n4d4d.kernels.sparse_tensor import SparseTensor

    corpus = Corpus(corpus_root)
    out = cache_path(corpus_root, resolution)
    ckpt = str(Path(vae_path or default_checkpoint()).resolve())
    if out.is_file():
        try:
            if LatentSet(out).meta.get("vae") == ckpt:
                return out
        except InputError:
            pass
    if vae is None:
        vae = load_vae(ckpt)
    entries = corpus.entries(resolution=resolution)
    if not entries:
        raise InputError(f"the corpus has no volumes at R = {resolution}", corpus.root)
    ids, cats, splits, cells, feats, vs, gs = [], [], [], [], [], [], []
    for n, e in enumerate(entries):
        if progress:
            progress(n, len(entries), e["id"])
        sdf = corpus.load(e, resolution)
        c, f = sdf_to_tensors(sdf, vae.config.truncation)
        x = SparseTensor(torch.cat([torch.zeros(len(c), 1, dtype=torch.int32), c], 1), f)
        with torch.no_grad():
            post, _ = vae.encode(x)
        cc = post.coords[:, 1:].numpy().astype(np.int64)
        keep = np.all(cc < GRID, axis=1)
        ids.append(e["id"])
        cats.append(e["category"])
        splits.append(e["split"])
        cells.append(cc[keep].astype(np.uint8))
        feats.append(post.mean.float().numpy()[keep])
        vs.append(sdf.voxel_size)
        gs.append(np.asarray(sdf.grid_shape, np.int64))
    offsets = np.r_[0, np.cumsum([len(c) for c in cells])].astype(np.int64)
    meta = {"format": FORMAT, "resolution": resolution, "vae": ckpt, "ids": ids, "categories": cats,
            "splits": splits, "latent_channels": int(feats[0].shape[1]), "grid": GRID}
    atomic_write_npz(out, {"meta": np.array(json.dumps(meta)), "offsets": offsets,
                           "cells": np.concatenate(cells), "feats": np.concatenate(feats).astype(np.float32),
                           "voxel_size": np.array(vs, np.float64), "grid_shape": np.stack(gs)})
    return out
