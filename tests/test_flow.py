"""The flow generator's pieces: sampler, SSA in the transformer, CFG, training, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from n4d4d.generator.flow import FlowConfig, SparseFlowTransformer  # noqa: E402
from n4d4d.generator.sampler import euler_sample, shift_time, time_grid  # noqa: E402
from n4d4d.kernels.sparse_tensor import SparseTensor  # noqa: E402


def _shell(r: float, centre=(7.5, 7.5, 7.5), grid: int = 16) -> np.ndarray:
    g = np.stack(np.meshgrid(*[np.arange(grid)] * 3, indexing="ij"), -1).reshape(-1, 3)
    return g[np.abs(np.linalg.norm(g - np.asarray(centre), axis=1) - r) < 0.9]


def _randomise(model, seed: int = 0, std: float = 0.2):
    """Non-zero values in every parameter (adaLN-zero and the zero output layer would hide bugs)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * std)
    return model


def _batch(radii=(3.0, 5.0), channels=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    cells = [torch.from_numpy(_shell(r).astype(np.int32)) for r in radii]
    x = SparseTensor.from_batches(cells, [torch.randn(len(c), channels, generator=gen) for c in cells])
    perm = torch.randperm(x.num_tokens, generator=gen)  # rows in no particular order
    return SparseTensor(x.coords[perm], x.feats[perm], x.batch_size)


def test_time_shift_and_grid():
    # closed form: s t / (1 + (s - 1) t) fixes 0 and 1 and maps 1/2 to s / (1 + s)
    assert shift_time(0.0, 3.0) == 0.0 and shift_time(1.0, 3.0) == 1.0
    assert shift_time(0.5, 3.0) == pytest.approx(0.75)
    ts = time_grid(10, 3.0, start=0.6)
    assert ts[0] == pytest.approx(0.6) and ts[-1] == 0.0 and all(a > b for a, b in zip(ts, ts[1:]))


def test_euler_gaussian_toy_recovers_target():
    """Data N(mu, s^2), noise N(0, 1), x_t = (1 - t) x0 + t e: the exact velocity E[e - x0 | x_t] is
    linear in x (Gaussian conditioning), and integrating it from t = 1 to 0 maps N(0, 1) onto N(mu, s^2)."""
    mu, s = 2.0, 0.5

    def velocity(x, t, conditional):
        var = (1 - t) ** 2 * s**2 + t**2               # Var x_t
        cov = t - (1 - t) * s**2                        # Cov(e - x0, x_t)
        return -mu + cov / var * (x - (1 - t) * mu)

    x1 = torch.randn(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x0 = euler_sample(velocity, x1, steps=500, shift=3.0)
    # tolerance: Monte-Carlo error of 2e5 samples (std of the mean 0.5 / 447 = 1.1e-3, of the std
    # 0.5 / 632 = 8e-4) plus Euler's first-order error, which shrinks the std (measured -7e-3 at
    # 200 shifted steps, -1.3e-3 at 1000, so about -2.6e-3 at 500)
    assert float(x0.mean()) == pytest.approx(mu, abs=4e-3)
    assert float(x0.std()) == pytest.approx(s, abs=6e-3)


def test_ssa_covering_every_token_equals_full_attention():
    """SSA with compression blocks of one voxel, every selection block selected and one window over
    the grid (shifted windows too: side 32 > 16 + shift) computes full attention in each branch, so
    the transformer must equal the same weights with full attention."""
    base = dict(width=32, depth=2, heads=4, kv_heads=2, num_categories=3, compression_block=1,
                selection_block=4, topk=64, window=32)
    ssa = _randomise(SparseFlowTransformer(FlowConfig(attention="ssa", **base)))
    full = SparseFlowTransformer(FlowConfig(attention="full", **base))
    full.load_state_dict(ssa.state_dict())
    x = _batch()
    t, y = torch.tensor([0.3, 0.8]), torch.tensor([0, 2])
    with torch.no_grad():
        a, b = ssa(x, t, y).feats, full(x, t, y).feats
    # float32 sums in another order: relative 1e-5 of outputs of size ~1
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * float(b.abs().max()))
    # and a sparse configuration really is sparse: it differs from full attention
    sparse = SparseFlowTransformer(FlowConfig(**{**base, "compression_block": 2, "topk": 2, "window": 4}))
    sparse.load_state_dict({k: v for k, v in ssa.state_dict().items() if "block_pe" not in k}, strict=False)
    with torch.no_grad():
        assert float((sparse(x, t, y).feats - b).abs().max()) > 1e-3


def test_dense_evaluation_equals_the_torch_reference():
    """The CPU evaluation of SSA as masked dense attention equals n4d4d.kernels' torch reference
    (SpatialSparseAttention.forward) in a truly sparse configuration, shifted windows included."""
    base = dict(width=32, depth=2, heads=4, kv_heads=2, num_categories=2, compression_block=2,
                selection_block=4, topk=3, window=4)
    fast = _randomise(SparseFlowTransformer(FlowConfig(attention="ssa", **base)), seed=1)
    ref = SparseFlowTransformer(FlowConfig(attention="reference", **base))
    ref.load_state_dict(fast.state_dict())
    x = _batch((2.5, 4.0))
    t, y = torch.tensor([0.5, 0.1]), torch.tensor([1, 0])
    with torch.no_grad():
        a, b = fast(x, t, y).feats, ref(x, t, y).feats
    # same top-k blocks (selection is computed by the same function), float32 rounding only
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * float(b.abs().max()))


def test_cfg_scale_one_is_conditional_and_zero_unconditional():
    from n4d4d.generator.generate import latent_velocity

    model = _randomise(SparseFlowTransformer(FlowConfig(width=32, depth=1, heads=2, kv_heads=1, num_categories=3)))
    x = _batch((4.0,))
    coords = x.coords
    noise = torch.randn(x.feats.shape, generator=torch.Generator().manual_seed(3))

    def run(category, scale):
        v = latent_velocity(model, coords, category)
        return euler_sample(v, noise.clone(), steps=4, shift=3.0, cfg_scale=scale, interval=(0.0, 1.0))

    null = model.config.num_categories
    assert torch.equal(run(1, 1.0), run(1, 1.0))
    # w = 1: v_u + 1 (v_c - v_u) = v_c up to one rounding of the subtraction
    assert torch.allclose(run(1, 1.0), _manual(model, coords, noise, 1, null, 1.0), atol=1e-6)
    assert torch.allclose(run(1, 0.0), _manual(model, coords, noise, null, null, 1.0), atol=1e-6)
    assert float((run(1, 3.0) - run(1, 1.0)).abs().max()) > 1e-4  # guidance does something


def _manual(model, coords, noise, y_cond, y_null, scale):
    """Euler with an explicit conditional model call (no CFG code path)."""
    x = noise.clone()
    ts = time_grid(4, 3.0)
    with torch.no_grad():
        for a, b in zip(ts[:-1], ts[1:]):
            v = model(SparseTensor(coords, x, 1), torch.tensor([a]), torch.tensor([y_cond])).feats
            x = x + (b - a) * v
    return x


def _fake_cache(tmp_path, n_shapes: int = 2):
    """A latent cache of ``n_shapes`` sphere shells with fixed random latents (two categories)."""
    from n4d4d.generator.latents import FORMAT
    from n4d4d.io.atomic import atomic_write_npz

    rng = np.random.default_rng(0)
    cells = [_shell(2.0 + 1.5 * i) for i in range(n_shapes)]  # 100-200 cells: a fast test
    # latents vary smoothly over the shape, as the SS-VAE's do (a random field per cell would
    # take a tiny model far longer to memorise)
    w = rng.normal(size=(3, 8)) * 0.3
    feats = [np.sin(c @ w + i).astype(np.float32) * 2 for i, c in enumerate(cells)]
    cats = ["ball", "bowl"][:n_shapes]
    meta = {"format": FORMAT, "resolution": 128, "vae": "none", "ids": [f"s{i}" for i in range(n_shapes)],
            "categories": cats, "splits": ["train"] * n_shapes, "latent_channels": 8, "grid": 16}
    path = tmp_path / "latents_r128.npz"
    atomic_write_npz(path, {"meta": np.array(json.dumps(meta)),
                            "offsets": np.r_[0, np.cumsum([len(c) for c in cells])].astype(np.int64),
                            "cells": np.concatenate(cells).astype(np.uint8), "feats": np.concatenate(feats),
                            "voxel_size": np.full(n_shapes, 0.001), "grid_shape": np.full((n_shapes, 3), 129)})
    return path


@pytest.mark.parametrize("stage", ["latent", "structure"])
def test_flow_loss_falls_overfitting_two_shapes_and_resumes(tmp_path, stage):
    import dataclasses

    from n4d4d.generator.flow_train import get_config, load_flow, train_flow

    cache = _fake_cache(tmp_path)
    cfg = dataclasses.replace(get_config("tiny"), steps=80, log_every=10, ckpt_every=40)
    train_flow(cfg, stage, tmp_path, tmp_path / "run", latents_path=cache)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    first, last = rows[0]["loss"], rows[-1]["loss"]
    # the velocity's variance is irreducible only where x_t is ambiguous; two memorised shapes
    # leave little of it: measured ~0.4x of the first loss after 80 steps, required < 0.7x
    assert last < 0.7 * first, (first, last)
    model, meta = load_flow(tmp_path / "run" / f"{stage}.safetensors", stage)
    assert meta["step"] == 80 and meta["categories"] == ["ball", "bowl"]
    # resuming a finished run does no step and keeps the weights
    train_flow(cfg, stage, tmp_path, tmp_path / "run", latents_path=cache)
    again, _ = load_flow(tmp_path / "run" / f"{stage}.safetensors", stage)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_load_flow_rejects_other_files(tmp_path):
    from n4d4d.errors import InputError
    from n4d4d.generator.checkpoint import default_checkpoint
    from n4d4d.generator.flow_train import load_flow

    with pytest.raises(InputError, match="not a flow checkpoint"):
        load_flow(default_checkpoint())
    with pytest.raises(InputError, match="no such"):
        load_flow(tmp_path / "missing.safetensors")


def test_init_warm_starts_a_new_run_from_a_checkpoint(tmp_path):
    """``init``: a new run starts from the given weights (its first loss is the trained model's,
    not a fresh one's), and a checkpoint of another model config is refused by name."""
    import dataclasses

    from n4d4d.errors import InputError
    from n4d4d.generator.flow_train import get_config, load_flow, train_flow

    cache = _fake_cache(tmp_path)
    cfg = dataclasses.replace(get_config("tiny"), steps=80, log_every=10, ckpt_every=40)
    train_flow(cfg, "structure", tmp_path, tmp_path / "a", latents_path=cache)
    trained = tmp_path / "a" / "structure.safetensors"
    short = dataclasses.replace(cfg, steps=10, lr=1e-9)  # ~no update: the run measures its start
    train_flow(short, "structure", tmp_path, tmp_path / "warm", latents_path=cache, init=trained)
    train_flow(short, "structure", tmp_path, tmp_path / "cold", latents_path=cache)
    loss = {k: json.loads((tmp_path / k / "log.jsonl").read_text().splitlines()[0])["loss"] for k in ("warm", "cold")}
    # the trained model's loss is ~0.4x a fresh one's on these two shapes (test above): the
    # warm start must keep most of that gain
    assert loss["warm"] < 0.8 * loss["cold"], loss
    _, meta = load_flow(tmp_path / "warm" / "structure.safetensors", "structure")
    assert meta["init"]["path"] == str(trained) and meta["init"]["step"] == 80
    wide = dataclasses.replace(cfg, structure=dataclasses.replace(cfg.structure, width=48))
    with pytest.raises(InputError, match="model config"):
        train_flow(wide, "structure", tmp_path, tmp_path / "bad", latents_path=cache, init=trained)
