"""``generation_defaults``: the pipeline's ``Generated`` source samples with the generator and
sampling settings of an enclosing block, so ``eval generator --structure CKPT`` measures the
candidate's builds, not the shipped checkpoint's (issue 15)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")


class _RecordingGenerator:
    """Stands for :class:`FlowGenerator`: records the sampling settings it is called with and
    returns a procedural mug (seed 3000 + seed)."""

    categories = ["mug"]
    voxel_sizes = {"mug": 0.001}

    def __init__(self, name):
        self.name, self.calls = name, []

    def category_index(self, category):
        return "mug", 0

    def sample(self, category, seed=0, *, coarse=None, like=None, strength=0.5, sampling=None):
        from n4d4d.generator.generate import GeneratedShape
        from n4d4d.generator.procedural import make_shape

        self.calls.append(sampling)
        return GeneratedShape(make_shape("mug", 3000 + seed).visual, None, np.zeros((8, 3), np.int64), "mug",
                              int(seed), {"mesh": 0.0}, {"solids": 1})


def test_the_generated_source_samples_with_the_enclosing_defaults(monkeypatch):
    from n4d4d.generator import generate as gen_mod
    from n4d4d.sources import Generated, generated_mesh

    shipped, candidate = _RecordingGenerator("shipped"), _RecordingGenerator("candidate")
    monkeypatch.setitem(gen_mod._CACHED, "g", shipped)
    setting = dataclasses.replace(gen_mod.DEFAULT_SAMPLING, structure_sigma=2.0)
    generated_mesh(Generated("mug", seed=1))  # outside: the shipped generator and defaults
    assert shipped.calls == [gen_mod.DEFAULT_SAMPLING] and candidate.calls == []
    with gen_mod.generation_defaults(candidate, setting):
        generated_mesh(Generated("mug", seed=1))
        # an explicit argument still wins over the block's defaults
        gen_mod.generate("mug", 1, 1, sampling=gen_mod.DEFAULT_SAMPLING)
    assert candidate.calls == [setting, gen_mod.DEFAULT_SAMPLING] and len(shipped.calls) == 1
    generated_mesh(Generated("mug", seed=1))  # restored on exit
    assert shipped.calls[-1] == gen_mod.DEFAULT_SAMPLING and len(candidate.calls) == 2


def test_the_defaults_are_restored_after_an_error(monkeypatch):
    from n4d4d.generator import generate as gen_mod

    shipped, candidate = _RecordingGenerator("shipped"), _RecordingGenerator("candidate")
    monkeypatch.setitem(gen_mod._CACHED, "g", shipped)
    with pytest.raises(RuntimeError):
        with gen_mod.generation_defaults(candidate):
            raise RuntimeError("a failed build")
    gen_mod.generate("mug", 0, 1)
    assert len(shipped.calls) == 1 and candidate.calls == []
