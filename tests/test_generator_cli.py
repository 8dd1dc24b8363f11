"""CLI: ``n4d4d corpus build``, ``n4d4d train vae`` (resumed), ``n4d4d eval vae`` on a tiny corpus."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from n4d4d.cli import app  # noqa: E402


@pytest.fixture
def restore_threads():
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_corpus_train_eval_round_trip(tmp_path, monkeypatch, restore_threads):
    """``--threads 1``: on a shared 2-core machine torch's two intra-op threads make the small
    scatter-adds of the sparse convolution many times slower."""
    import trimesh

    from n4d4d.generator import train as train_mod

    src = tmp_path / "meshes"
    src.mkdir()
    # ids meshes/capsule0..2: splits val, train, train; their proportions differ, so the corpus's
    # near-duplicate grouping (which matches shapes up to scale) keeps them apart
    for i, (r, h) in enumerate(((0.08, 0.5), (0.1, 0.2), (0.12, 0.05))):
        trimesh.creation.capsule(height=h, radius=r).export(src / f"capsule{i}.obj")
    runner = CliRunner()
    res = runner.invoke(app, ["corpus", "build", str(src), "-o", str(tmp_path / "c"), "-r", "32"])
    assert res.exit_code == 0, res.output
    assert "shapes" in res.output and (tmp_path / "c" / "manifest.json").is_file()

    # the tiny config logging and saving every 2 steps
    import dataclasses

    tiny = dataclasses.replace(train_mod.CONFIGS["tiny"], log_every=2, ckpt_every=2, val_shapes=0)
    monkeypatch.setitem(train_mod.CONFIGS, "tiny", tiny)
    run = tmp_path / "run"
    res = runner.invoke(app, ["train", "vae", "--config", "tiny", "--corpus", str(tmp_path / "c"), "--run", str(run),
                              "--steps", "2", "--threads", "1"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["train", "vae", "--config", "tiny", "--corpus", str(tmp_path / "c"), "--run", str(run),
                              "--steps", "2", "--threads", "1"])
    assert res.exit_code == 0 and "at step 2" in res.output
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2]

    # a different config in the same run folder is refused with a clear message
    res = runner.invoke(app, ["train", "vae", "--config", "tiny", "--corpus", str(tmp_path / "c"), "--run", str(run),
                              "--steps", "3", "--threads", "1"])
    assert res.exit_code == 2 and "another config" in res.output

    # a second stage: --init starts from the first run's weights (0 steps: they come back unchanged)
    from safetensors.numpy import load_file

    run2 = tmp_path / "run2"
    res = runner.invoke(app, ["train", "vae", "--config", "tiny", "--corpus", str(tmp_path / "c"), "--run", str(run2),
                              "--init", str(run / "vae.safetensors"), "--steps", "0", "--lr", "1e-4", "--threads", "1"])
    assert res.exit_code == 0 and "started from the weights" in res.output, res.output
    first, second = load_file(str(run / "vae.safetensors")), load_file(str(run2 / "vae.safetensors"))
    assert first.keys() == second.keys() and all((first[k] == second[k]).all() for k in first)
    res = runner.invoke(app, ["train", "vae", "--config", "tiny", "--corpus", str(tmp_path / "c"), "--run",
                              str(tmp_path / "run3"), "--init", str(tmp_path / "nothing.safetensors")])
    assert res.exit_code == 2 and "no such checkpoint" in res.output

    out = tmp_path / "eval.json"
    res = runner.invoke(app, ["eval", "vae", str(src / "capsule0.obj"), "--checkpoint", str(run / "vae.safetensors"),
                              "--resolution", "32", "--points", "2000", "--json", str(out), "--threads", "1"])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["summary"]["n"] == 1 and "fscore" in report["rows"][0]

    res = runner.invoke(app, ["eval", "vae", "--checkpoint", str(tmp_path / "missing.safetensors"), "--corpus",
                              str(tmp_path / "c")])
    assert res.exit_code == 2 and "no such checkpoint" in res.output
