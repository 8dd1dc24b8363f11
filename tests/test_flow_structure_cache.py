"""The structure stage's data without the VAE: ``latents.structure_cache`` against the encoder."""

from __future__ import annotations

import numpy as np


def test_structure_cache_cells_are_the_encoders(tmp_path):
    """The band cells of each stored volume are exactly the cells the shipped SS-VAE's encoder
    keeps (its three 2x downsamplings of the band), so the structure stage may train on them
    without the encoder pass. Independent truth: ``encode_corpus`` (the encoder itself) on the
    same two procedural shapes; the comparison is exact (integer cells)."""
    from n4d4d.generator.corpus import build_corpus
    from n4d4d.generator.latents import LatentSet, encode_corpus, structure_cache

    out = tmp_path / "corpus"
    build_corpus(["procedural:1"], out, (128,), limit=2)
    enc = LatentSet(encode_corpus(out))
    cells = LatentSet(structure_cache(out))
    assert cells.meta["latent_channels"] == 0 and cells.meta["vae"] is None
    assert [s.id for s in cells.shapes] == [s.id for s in enc.shapes] and len(cells.shapes) == 2
    for a, b in zip(cells.shapes, enc.shapes):
        assert (a.category, a.split) == (b.category, b.split)
        assert a.feats.shape == (len(a.cells), 0) and len(a.cells) > 50
        assert np.array_equal(np.unique(a.cells, axis=0), np.unique(b.cells, axis=0))
