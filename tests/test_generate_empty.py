"""A sample that decodes to nothing is counted invalid by ``eval generator`` and skipped by
``generate``, instead of stopping the run with EmptyMeshError (issue 15; seen with a fine-tuned
structure checkpoint whose sample the surface post-process emptied)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from n4d4d.errors import EmptyMeshError

pytest.importorskip("torch")


class _StubGenerator:
    """Stands for :class:`FlowGenerator`: seed 1 decodes to nothing (the error ``solid_surface``
    raises when smoothing leaves no inside), the other seeds give a procedural mug."""

    categories = ["mug"]
    voxel_sizes = {"mug": 0.001}

    def category_index(self, category):
        return "mug", 0

    def sample(self, category, seed=0, *, coarse=None, like=None, strength=0.5, sampling=None):
        from n4d4d.generator.generate import GeneratedShape
        from n4d4d.generator.procedural import make_shape

        if seed == 1:
            raise EmptyMeshError("nothing of the decoded volume is left after smoothing at 2 voxels")
        mesh = make_shape("mug", 2000 + seed).visual
        return GeneratedShape(mesh, None, np.zeros((8, 3), np.int64), "mug", int(seed), {"mesh": 0.0},
                              {"solids": 1})


@pytest.fixture
def stub(monkeypatch):
    from n4d4d.generator import generate as gen_mod

    g = _StubGenerator()
    monkeypatch.setitem(gen_mod._CACHED, "g", g)
    return g


def test_generate_skips_an_empty_sample_and_keeps_the_seeds(stub):
    from n4d4d.generator.generate import generate

    with pytest.raises(EmptyMeshError):  # the default still raises
        generate("mug", 0, 3, generator=stub)
    skipped = []
    out = generate("mug", 0, 3, generator=stub, skip_empty=True, on_empty=lambda s, e: skipped.append(s))
    assert [s.seed for s in out] == [0, 2] and skipped == [1]


def test_eval_generator_counts_an_empty_sample_as_invalid(stub, tmp_path):
    from typer.testing import CliRunner

    from n4d4d.cli import app

    out = tmp_path / "eval.json"
    res = CliRunner().invoke(app, ["eval", "generator", "--category", "mug", "-n", "3", "--refs", "2",
                                   "--validity", "0", "--points", "256", "--json", str(out)])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "seed 1: empty sample, counted invalid" in res.output
    row = json.loads(out.read_text())["rows"][0]
    assert row["empty"] == [1] and row["n_gen"] == 2
    assert row["watertight"] == pytest.approx(2 / 3)  # the empty sample counts as not watertight


def test_generate_cli_skips_an_empty_sample_with_a_note(stub, tmp_path):
    from typer.testing import CliRunner

    from n4d4d.cli import app

    res = CliRunner().invoke(app, ["generate", "--category", "mug", "--seed", "0", "-n", "3", "-o",
                                   str(tmp_path / "g"), "--no-preview"])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "seed 1: empty sample, skipped" in res.output
    assert sorted(p.name for p in (tmp_path / "g").glob("*.obj")) == ["mug_0000.obj", "mug_0002.obj"]
    res = CliRunner().invoke(app, ["generate", "--category", "mug", "--seed", "1", "-n", "1", "-o",
                                   str(tmp_path / "h"), "--no-preview"])
    assert res.exit_code == 1 and "decoded to nothing" in res.output


def test_a_decoder_that_keeps_no_voxel_is_an_empty_sample(monkeypatch):
    """The VAE decoder raises ValueError when a level keeps no child voxel (seen with the
    structure filter at sigma 2); the sampler reports it as an empty sample (EmptyMeshError),
    which ``generate(skip_empty=True)`` and ``eval generator`` handle."""
    from n4d4d.generator.generate import default_generator

    g = default_generator()

    def no_voxel(*a, **k):
        raise ValueError("subdivision keeps no child voxel")

    monkeypatch.setattr(g.vae, "decode", no_voxel)
    with pytest.raises(EmptyMeshError, match="decoded to nothing"):
        g.sample("mug", 0)


def test_eval_generator_validation_seeds_and_guards(stub, tmp_path):
    """``--seed`` moves the sample seeds (the stub's seed 1 is empty: with ``--seed 1`` it is the
    first sample); ``--ref-seed`` below 1000 (the corpus's procedural seeds) and a ``--structure``
    checkpoint that does not exist are refused with exit 2 (with builds too: since session 13 the
    builds sample with the given checkpoint, ``generation_defaults``)."""
    from typer.testing import CliRunner

    from n4d4d.cli import app

    out = tmp_path / "val.json"
    base = ["eval", "generator", "--category", "mug", "--refs", "2", "--points", "256"]
    res = CliRunner().invoke(app, base + ["-n", "2", "--seed", "1", "--ref-seed", "1100", "--validity", "0",
                                          "--json", str(out)])
    assert res.exit_code == 0, (res.output, res.exception)
    row = json.loads(out.read_text())["rows"][0]
    assert row["empty"] == [1] and row["n_gen"] == 1 and row["several_solids"] == 0
    res = CliRunner().invoke(app, base + ["-n", "1", "--ref-seed", "5", "--validity", "0"])
    assert res.exit_code == 2 and "training shapes" in res.output
    res = CliRunner().invoke(app, base + ["-n", "1", "--structure", str(tmp_path / "s.safetensors"), "--validity", "1"])
    assert res.exit_code == 2 and "s.safetensors" in res.output
