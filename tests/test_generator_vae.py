"""SS-VAE: shapes and pruning on tiny random inputs, a real overfitting run, checkpoint files."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from n4d4d.generator.checkpoint import CheckpointError, load_vae, read_header, save_vae  # noqa: E402
from n4d4d.generator.train import CONFIGS, lr_at, make_batch, symmetry, train_step  # noqa: E402
from n4d4d.generator.vae import SparseSDFVAE, VAEConfig  # noqa: E402
from n4d4d.kernels.sparse_tensor import SparseTensor  # noqa: E402

TINY = CONFIGS["tiny"].vae  # 2 levels: the latent grid is 4x coarser


def _random_band(seed: int, batch: int = 2, side: int = 16):
    """Random sparse voxels (a noisy shell of a sphere per batch item) with random SDF features."""
    g = np.random.default_rng(seed)
    rows = []
    for b in range(batch):
        p = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)
        r = np.linalg.norm(p - side / 2 + g.uniform(-1, 1, 3), axis=1)
        keep = np.abs(r - side / 3) < 1.5 + g.uniform(0, 0.5, len(p))
        rows.append(np.c_[np.full(keep.sum(), b), p[keep]])
    coords = torch.from_numpy(np.concatenate(rows)).int()
    feats = torch.from_numpy(g.uniform(-1, 1, (len(coords), 1))).float()
    return SparseTensor(coords, feats)


def _unique_parents(coords: torch.Tensor, factor: int) -> torch.Tensor:
    c = coords.clone()
    c[:, 1:] = torch.div(c[:, 1:], factor, rounding_mode="floor")
    return torch.unique(c, dim=0)


def _as_set(coords: torch.Tensor) -> set:
    return set(map(tuple, coords.tolist()))


def test_encoder_decoder_shapes_and_teacher_forced_pruning():
    torch.manual_seed(0)
    x = _random_band(0)
    model = SparseSDFVAE(TINY)
    posterior, guide = model.encode(x)
    # latent grid: exactly the parents of the band at 4x coarser resolution, C channels
    assert _as_set(posterior.coords) == _as_set(_unique_parents(x.coords, TINY.factor))
    assert posterior.mean.shape == (posterior.coords.shape[0], TINY.latent_channels)
    assert [len(g) for g in guide] == [len(_unique_parents(x.coords, 2**lv)) for lv in range(TINY.levels + 1)]
    out = model.decode(posterior.sample(), guide)
    # teacher forcing keeps exactly the true children: the decoded band is the input band
    assert _as_set(out.sdf.coords) == _as_set(x.coords)
    assert out.sdf.feats.shape == (x.num_tokens, 1)
    for logits, target, coarse in zip(out.prune_logits, out.prune_targets, reversed(guide[1:])):
        assert logits.shape == target.shape == (len(coarse), 8)
        assert bool(target.any(dim=1).all())  # every band voxel has a child in the finer band
    assert [int(t.sum()) for t in out.prune_targets] == [len(g) for g in reversed(guide[:-1])]


def test_free_decode_follows_the_pruning_logits():
    torch.manual_seed(1)
    x = _random_band(1, batch=1)
    model = SparseSDFVAE(TINY)
    posterior, _ = model.encode(x)
    z = posterior.mode()
    m = z.num_tokens
    with torch.no_grad():
        for head in model.prune:
            head[1].weight.zero_()
            head[1].bias.fill_(5.0)  # every child kept
        out = model.decode(z)
        assert out.sdf.num_tokens == m * 8**TINY.levels
        assert _as_set(_unique_parents(out.sdf.coords, TINY.factor)) == _as_set(z.coords)
        for head in model.prune:
            head[1].bias.copy_(torch.tensor([5.0, -5.0] * 4))  # children 0, 2, 4, 6: dz = 0
        out = model.decode(z)
        assert out.sdf.num_tokens == m * 4**TINY.levels
        assert bool((out.sdf.coords[:, 3] % TINY.factor == 0).all())
        for head in model.prune:
            head[1].bias.fill_(-5.0)
        with pytest.raises(ValueError, match="keeps no child"):
            model.decode(z)


@pytest.fixture(autouse=True)
def one_thread():
    """Run on one thread: on a shared 2-core machine torch's two intra-op threads make the small
    scatter-adds of the sparse convolution tens of times slower (measured: 0.5 s -> 55 s)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_tiny_vae_overfits_one_shape(tmp_path):
    """A real learning test: 200 CPU steps on one mug at R = 32 must drive the SDF error near zero
    and the free decode (predicted pruning, no guide) must reproduce the surface."""
    from n4d4d.generator.codec import decoded_surface, reconstruct
    from n4d4d.generator.metrics import compare_meshes
    from n4d4d.generator.procedural import make_shape
    from n4d4d.volume import compute_sparse_sdf, extract_surface

    torch.manual_seed(0)
    cfg = CONFIGS["tiny"]
    sdf = compute_sparse_sdf(make_shape("mug", 0).visual, resolution=32)
    x = make_batch([(sdf.coords, np.clip(sdf.values / (sdf.voxel_size * cfg.vae.truncation), -1, 1))])
    model = SparseSDFVAE(cfg.vae)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    first = train_step(model, opt, x, cfg, lr_at(0, cfg))
    for step in range(1, 200):
        last = train_step(model, opt, x, cfg, lr_at(step, cfg))
    # MSE of the normalised SDF (values in [-1, 1]) starts ~0.25; 0.003 is an RMS error of 0.11 voxel
    assert first["sdf"] > 0.1 and last["sdf"] < 0.003, (first, last)
    assert last["prune_acc"] > 0.98 and last["prune"] < 0.15 * first["prune"], (first, last)
    model.eval()
    figures = compare_meshes(decoded_surface(reconstruct(model, sdf)), extract_surface(sdf), n_points=20_000)
    # F-score at 1% of the diagonal (~0.5 voxel at R = 32): the learnt surface is the true one
    assert figures["fscore"] > 0.95 and figures["watertight"], figures
    assert figures["chamfer_l1_rel"] < 0.01, figures

    # the trained model survives a checkpoint round trip bit for bit
    path = save_vae(tmp_path / "tiny.safetensors", model, meta={"steps": 200})
    again = load_vae(path, expect=cfg.vae)
    with torch.no_grad():
        a, _ = model.encode(x)
        b, _ = again.encode(x)
    assert torch.equal(a.mean, b.mean)


def test_checkpoint_refuses_wrong_config(tmp_path):
    torch.manual_seed(0)
    model = SparseSDFVAE(TINY)
    path = save_vae(tmp_path / "m.safetensors", model, meta={"note": "test"})
    assert read_header(path)["config"] == TINY.to_dict()
    other = dataclasses.replace(TINY, latent_channels=16)
    with pytest.raises(CheckpointError, match=r"latent_channels: checkpoint has 8, expected 16"):
        load_vae(path, expect=other)
    # a header whose config does not describe the stored weights (hand-edited file)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header["__metadata__"]["n4d4d.config"] = json.dumps(dataclasses.replace(TINY, channels=(8, 16, 48)).to_dict())
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(len(new).to_bytes(8, "little") + new + raw[8 + n:])
    with pytest.raises(CheckpointError, match=r"weights do not fit the stored config: .*stored \(32, 32\), config needs \(48, 48\)"):
        load_vae(bad)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_vae(junk)


def test_config_json_round_trip_and_validation():
    assert VAEConfig.from_dict(json.loads(json.dumps(TINY.to_dict()))) == TINY
    with pytest.raises(ValueError, match="unknown VAE config keys: colour"):
        VAEConfig.from_dict({**TINY.to_dict(), "colour": 1})
    with pytest.raises(ValueError, match="one entry per level"):
        VAEConfig(channels=(8, 16), res_blocks=(0, 1, 1))


def test_cube_symmetries_are_48_distinct_bijections():
    g = np.random.default_rng(0)
    coords = g.integers(0, [5, 6, 7], size=(40, 3))
    coords = np.unique(coords, axis=0)
    seen = set()
    for i in range(48):
        c, shape = symmetry(coords, np.array([5, 6, 7]), i)
        assert (c >= 0).all() and (c < shape).all()
        assert len(np.unique(c, axis=0)) == len(coords)
        seen.add(tuple(map(tuple, c[np.lexsort(c.T[::-1])])))
    assert len(seen) == 48
    assert np.array_equal(symmetry(coords, np.array([5, 6, 7]), 0)[0], coords)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="the gpu config's bf16 autocast and checkpointing need a CUDA device"))])
def test_gpu_config_takes_a_training_step(device):
    """The ``gpu`` config (4 levels, 32-256 channels, 16 latent channels) builds, takes a step on a
    small random band (on the CPU: autocast and gradient checkpointing are CUDA-only and stay off)
    and its loss and every gradient are finite. On a GPU the same step runs in bf16 with gradient
    checkpointing, and a checkpointed step gives the same loss as a plain one (recomputation is
    exact up to bf16 round-off: 2 %)."""
    cfg = CONFIGS["gpu"]
    torch.manual_seed(0)
    model = SparseSDFVAE(cfg.vae).to(device)
    # 25.7 M parameters (the model card's figure): a changed config is a deliberate decision
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(25.7e6, rel=0.01)
    x = _random_band(1, batch=1, side=32)
    x = SparseTensor(x.coords.to(device), x.feats.to(device))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    model.use_checkpoint = cfg.grad_checkpoint and device == "cuda"
    terms = train_step(model, opt, x, cfg, lr_at(0, cfg))
    assert np.isfinite([terms["sdf"], terms["prune"], terms["kl"], terms["grad_norm"]]).all(), terms
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    if device == "cuda":
        torch.manual_seed(0)
        plain = SparseSDFVAE(cfg.vae).to(device)
        plain.use_checkpoint = False
        again = train_step(plain, torch.optim.AdamW(plain.parameters(), lr=cfg.lr), x, cfg, lr_at(0, cfg))
        assert again["sdf"] == pytest.approx(terms["sdf"], rel=0.02)
