"""Flow training on CUDA (``train_flow(..., device="cuda")``): the same batches as on the CPU, the
loss falls under bf16 autocast with the Triton SSA kernels, and the checkpoint loads on the CPU.
Skipped without a CUDA device (the CPU path is tests/test_flow.py's)."""

from __future__ import annotations

import dataclasses
import json

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.gpu
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA device", allow_module_level=True)

from test_flow import _fake_cache  # noqa: E402  (the two-shape latent cache of the CPU tests)


def _rows(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("stage", ["latent", "structure"])
def test_cuda_run_draws_the_cpu_batches_and_learns_in_bf16(tmp_path, stage):
    from n4d4d.generator.flow_train import get_config, load_flow, train_flow

    cache = _fake_cache(tmp_path)
    cfg = dataclasses.replace(get_config("tiny"), steps=10, log_every=1, ckpt_every=10)
    train_flow(cfg, stage, tmp_path, tmp_path / "cpu", latents_path=cache, device="cpu")
    train_flow(cfg, stage, tmp_path, tmp_path / "cuda", latents_path=cache, device="cuda")
    # same draws, times and noise: the first step's loss agrees to float32 summation order
    # (TF32 matmuls off by default in torch for fp32: ~1e-6 relative; 1e-3 allows the kernels' order)
    a, b = _rows(tmp_path / "cpu")[0]["loss"], _rows(tmp_path / "cuda")[0]["loss"]
    assert abs(a - b) <= 1e-3 * abs(a), (a, b)

    amp = dataclasses.replace(get_config("tiny"), steps=80, log_every=10, ckpt_every=40, mixed_precision=True)
    train_flow(amp, stage, tmp_path, tmp_path / "amp", latents_path=cache, device="cuda")
    rows = _rows(tmp_path / "amp")
    assert rows[-1]["loss"] < 0.7 * rows[0]["loss"], rows    # the CPU test's bound (test_flow.py)
    model, meta = load_flow(tmp_path / "amp" / f"{stage}.safetensors", stage, device="cpu")
    assert meta["step"] == 80 and meta["device"] == "cuda"
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in model.parameters())
