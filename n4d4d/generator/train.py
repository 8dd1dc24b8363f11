"""Training of the SS-VAE on a corpus: named configs, batches, augmentation, resumable loop.

What it does: :func:`train_vae` trains a :class:`~n4d4d.generator.vae.SparseSDFVAE` with the losses of
:mod:`n4d4d.generator.losses` on the train split of a corpus (:class:`~n4d4d.generator.corpus.Corpus`):
each step draws shapes (seeded ``numpy`` generator) until ``max_nodes`` band nodes or ``batch_size``
shapes, at a resolution drawn from ``resolutions``; optionally crops a cube of ``crop`` voxels around
a random band node (so R = 128 shapes train at CPU cost); applies one of the 48 symmetries of the
cube (axis permutation and flips, which map a grid SDF to a grid SDF exactly); and takes an AdamW
step with linear warm-up, cosine decay and gradient clipping. After warm-up the decoder keeps its
own predicted voxels besides the true ones (``self_pruning``), so it learns to reject them. On CUDA it can use bfloat16 autocast
and gradient checkpointing. Every ``ckpt_every`` steps (and at the end or at the time limit) it
writes ``last.safetensors`` holding weights, optimizer moments, the step and the RNG states, from
which a rerun resumes exactly; metrics go to ``log.jsonl`` (one JSON object per line) and
validation (teacher-forced loss terms, and the band IoU of a free decode) to the same file.

Named configs (:data:`CONFIGS`): ``tiny`` (tests), ``cpu`` (the 2-core CPU, R = 64 whole shapes and
R = 128 crops) with ``cpu-r128`` (its second stage, whole R = 128 shapes; the two <= 2 h), ``cpu-thin``
(a third stage with thin features weighted; tried, not shipped: see the model card) and ``gpu`` (wider, deeper, R = 128 and 256).

What it does not: evaluate meshes (:mod:`n4d4d.generator.metrics`), train on several GPUs, or use
an EMA of the weights.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from n4d4d.generator.losses import LossWeights
from n4d4d.generator.vae import VAEConfig


@dataclass(frozen=True)
class TrainConfig:
    """A training run's settings (stored in every checkpoint's header).

    Attributes:
        name: config name.
        vae, loss: model architecture and loss weights.
        resolutions: corpus resolutions a step draws from (uniformly).
        crop: side (voxels) of the random cube cropped from shapes on larger grids; 0 = whole shapes.
        max_nodes, batch_size: a step's batch stops at ``max_nodes`` band nodes or ``batch_size`` shapes.
        steps, lr, warmup, min_lr_ratio, weight_decay, grad_clip: optimisation (AdamW, cosine decay).
        augment: apply a random symmetry of the cube to each shape.
        seed: seeds numpy (data) and torch (weights, posterior samples).
        val_shapes: validation shapes (first of the val split), ``val_every``/``log_every``/``ckpt_every`` in steps.
        mixed_precision, grad_checkpoint: bfloat16 autocast and gradient checkpointing (CUDA only).
        self_pruning: after warm-up the decoder keeps its own predicted voxels too (teacher forcing
            plus its false positives), learning to prune them and to decode them outside the band.
        init: a checkpoint (``vae.safetensors`` of an earlier run, same VAE config) whose weights
            start this run, with a fresh optimizer and this run's schedule (a second stage at a
            lower learning rate); "" starts from random weights.
    """

    name: str
    vae: VAEConfig = field(default_factory=VAEConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    resolutions: tuple[int, ...] = (64,)
    crop: int = 0
    max_nodes: int = 60_000
    batch_size: int = 4
    steps: int = 4000
    lr: float = 1e-3
    warmup: int = 100
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    augment: bool = True
    seed: int = 0
    val_shapes: int = 16
    val_every: int = 250
    log_every: int = 10
    ckpt_every: int = 100
    mixed_precision: bool = False
    grad_checkpoint: bool = False
    self_pruning: bool = True
    init: str = ""

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["vae"], d["loss"] = self.vae.to_dict(), dataclasses.asdict(self.loss)
        d["resolutions"] = list(self.resolutions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        d["vae"] = VAEConfig.from_dict(d["vae"])
        d["loss"] = LossWeights(**d["loss"])
        d["resolutions"] = tuple(d["resolutions"])
        return cls(**d)


CONFIGS: dict[str, TrainConfig] = {
    "tiny": TrainConfig("tiny", VAEConfig(channels=(8, 16, 32), res_blocks=(0, 1, 1), latent_channels=8,
                                          attn_blocks=1, attn_heads=2, window=4),
                        resolutions=(32,), steps=300, lr=3e-3, warmup=20, augment=False, val_shapes=0),
    "cpu": TrainConfig("cpu", VAEConfig(channels=(16, 32, 64, 96), res_blocks=(0, 1, 1, 1), latent_channels=8,
                                        attn_blocks=2, attn_heads=4, window=8),
                       resolutions=(64, 128), crop=64, max_nodes=50_000, batch_size=4, steps=3000, lr=1e-3,
                       warmup=100),
    # a second CPU stage (--init a "cpu" checkpoint): whole R = 128 shapes, so the bottleneck's
    # shifted windows see grids larger than one window, as in evaluation at R = 128
    "cpu-r128": TrainConfig("cpu-r128", VAEConfig(channels=(16, 32, 64, 96), res_blocks=(0, 1, 1, 1),
                                                  latent_channels=8, attn_blocks=2, attn_heads=4, window=8),
                            resolutions=(128,), crop=0, max_nodes=160_000, batch_size=2, steps=800, lr=1e-4,
                            warmup=20, val_shapes=8, val_every=200, ckpt_every=50),
    "gpu": TrainConfig("gpu", VAEConfig(channels=(32, 64, 128, 256), res_blocks=(1, 2, 2, 2), latent_channels=16,
                                        attn_blocks=4, attn_heads=8, window=8),
                       resolutions=(128, 256), crop=0, max_nodes=1_500_000, batch_size=8, steps=60_000, lr=5e-4,
                       warmup=1000, mixed_precision=True, grad_checkpoint=True, val_every=1000, ckpt_every=500),
}

# a third CPU stage (--init a "cpu-r128" checkpoint): the same data with thin necks, walls and gaps
# weighted (losses.thin_feature_mask), whose sign decides how many solids a shape decodes to; it did
# not raise the single-volume rate on val (MODEL_CARD.md), so the shipped model skips it
CONFIGS["cpu-thin"] = dataclasses.replace(CONFIGS["cpu-r128"], name="cpu-thin", loss=LossWeights(thin=3.0), steps=1000)


def get_config(name: str) -> TrainConfig:
    """The named config; ``KeyError`` listing the names otherwise."""
    if name not in CONFIGS:
        raise KeyError(f"unknown training config '{name}'; known: {', '.join(CONFIGS)}")
    return CONFIGS[name]


# -- data ------------------------------------------------------------------------------------------
def symmetry(coords: np.ndarray, grid_shape: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Apply symmetry ``index`` in [0, 48) of the cube: ``(coords', grid_shape')``, coords ``(N, 3)`` int.

    ``index // 8`` picks the axis permutation, the bits of ``index % 8`` flip x, y, z
    (``c -> grid_shape - 1 - c``). Index 0 is the identity.
    """
    perms = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))
    p = perms[index // 8]
    c, g = coords[:, p].copy(), np.asarray(grid_shape)[list(p)]
    for a in range(3):
        if (index % 8) >> a & 1:
            c[:, a] = g[a] - 1 - c[:, a]
    return c, g


def crop_cube(coords: np.ndarray, side: int, align: int, rng: np.random.Generator) -> np.ndarray:
    """Row mask ``(N,) bool`` of a cube of ``side`` voxels around a random band node, its corner on
    multiples of ``align`` (the latent grid), so crops keep the latent grid's alignment."""
    centre = coords[rng.integers(len(coords))]
    lo = (np.maximum(centre - side // 2, 0) // align) * align
    return np.all((coords >= lo) & (coords < lo + side), axis=1)


class ShapeSource:
    """Train-split volumes of a corpus as ``(coords (N, 3) int32, feats (N,) float32 normalised)``,
    with a small cache (the R = 64 corpus fits; R = 128 is read as needed)."""

    def __init__(self, corpus, split: str, resolutions, truncation: float, cache: int = 512):
        self.corpus, self.truncation = corpus, truncation
        self.entries = {r: corpus.entries(split, r) for r in resolutions}
        empty = [r for r, e in self.entries.items() if not e]
        if empty:
            raise ValueError(f"corpus {corpus.root} has no {split} shapes at resolution {empty}")
        self._cache: dict = {}
        self._cap = cache

    def get(self, r: int, i: int):
        key = (r, i)
        if key not in self._cache:
            sdf = self.corpus.load(self.entries[r][i], r)
            v = np.clip(sdf.values / (sdf.voxel_size * self.truncation), -1, 1).astype(np.float32)
            if len(self._cache) >= self._cap:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (sdf.coords, v, sdf.grid_shape)
        return self._cache[key]


def make_batch(samples):
    """``[(coords (N_b, 3), feats (N_b,)), ...]`` -> :class:`SparseTensor` (coords ``(N, 4)``, feats ``(N, 1)``)."""
    import torch

    from n4d4d.kernels.sparse_tensor import SparseTensor

    coords = [torch.from_numpy(np.array(c, dtype=np.int32)) for c, _ in samples]
    feats = [torch.from_numpy(np.array(f, dtype=np.float32))[:, None] for _, f in samples]
    return SparseTensor.from_batches(coords, feats)


def draw_batch(source: ShapeSource, cfg: TrainConfig, rng: np.random.Generator):
    """One training batch (see module docstring) and its resolution."""
    r = int(rng.choice(cfg.resolutions))
    samples, nodes = [], 0
    while len(samples) < cfg.batch_size:
        c, v, g = source.get(r, int(rng.integers(len(source.entries[r]))))
        if cfg.crop and r > cfg.crop:
            keep = crop_cube(c, cfg.crop, cfg.vae.factor, rng)
            c, v = c[keep], v[keep]
            c = c - (c.min(axis=0) // cfg.vae.factor) * cfg.vae.factor
            g = c.max(axis=0) + 1
        if cfg.augment:
            c, _ = symmetry(c, g, int(rng.integers(48)))
        if samples and nodes + len(c) > cfg.max_nodes:
            break
        samples.append((c, v))
        nodes += len(c)
    return make_batch(samples), r


# -- optimisation ----------------------------------------------------------------------------------
def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then cosine decay to ``lr * min_lr_ratio``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def train_step(model, optimizer, x, cfg: TrainConfig, lr: float, include_predicted: bool = False) -> dict:
    """One optimisation step on batch ``x``; returns the loss terms (floats) and the gradient norm.

    ``include_predicted``: the decoder also keeps the voxels it predicts itself (after warm-up), so
    it learns to prune and to reject its own false positives."""
    import torch

    from n4d4d.generator.losses import vae_loss

    for group in optimizer.param_groups:
        group["lr"] = lr
    model.train()
    dev = x.device.type
    with torch.autocast(dev, dtype=torch.bfloat16, enabled=cfg.mixed_precision and dev == "cuda"):
        posterior, out = model(x, include_predicted=include_predicted)
    loss, terms = vae_loss(x, posterior, out, cfg.loss)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    terms["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
    optimizer.step()
    return terms


def _optimizer_tensors(optimizer) -> dict:
    out = {}
    for i, (_, st) in enumerate(sorted(optimizer.state_dict()["state"].items())):
        for k, v in st.items():
            out[f"optim.{i}.{k}"] = v if hasattr(v, "shape") else __import__("torch").tensor(float(v))
    return out


def _load_optimizer(optimizer, extra: dict) -> None:
    sd = optimizer.state_dict()
    state = {}
    for name, v in extra.items():
        if name.startswith("optim."):
            _, i, k = name.split(".", 2)
            state.setdefault(int(i), {})[k] = v
    sd["state"] = state
    optimizer.load_state_dict(sd)


def validate(model, source: ShapeSource | None, cfg: TrainConfig, r: int) -> dict:
    """Mean teacher-forced loss terms and free-decode band IoU over the first ``val_shapes`` shapes."""
    import torch

    from n4d4d.generator.losses import vae_loss
    from n4d4d.generator.sparse_conv import coords_lookup

    if source is None or not source.entries.get(r):
        return {}
    model.eval()
    rows = []
    with torch.no_grad():
        for i in range(min(cfg.val_shapes, len(source.entries[r]))):
            c, v, _ = source.get(r, i)
            x = make_batch([(c, v)]).to(next(model.parameters()).device)
            posterior, guide = model.encode(x)
            _, terms = vae_loss(x, posterior, model.decode(posterior.mode(), guide), cfg.loss)
            try:
                free = model.decode(posterior.mode()).sdf
                band = free.coords[free.feats[:, 0].abs() <= 1.0]
                hit = int((coords_lookup(x.coords, band) >= 0).sum())
                terms["band_iou"] = hit / (x.num_tokens + band.shape[0] - hit)
            except ValueError:  # every voxel pruned
                terms["band_iou"] = 0.0
            rows.append(terms)
    return {f"val_{k}": float(np.mean([t[k] for t in rows])) for k in rows[0]}


def resolve_device(device: str):
    """The ``torch.device`` a training run uses: ``"auto"`` is CUDA when available, else the CPU;
    any other name (``"cpu"``, ``"cuda"``, ``"cuda:1"``) as given (torch raises RuntimeError for a
    name it does not know)."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def train_vae(cfg: TrainConfig, corpus_dir: str | Path, run_dir: str | Path, *, device: str = "auto",
              time_limit_s: float | None = None, log: Callable[[str], None] = print) -> dict:
    """Train (or resume) in ``run_dir``; returns the last logged metrics. See module docstring.

    Writes ``run_dir/last.safetensors`` (resumable state), ``run_dir/vae.safetensors`` (weights only,
    with the train config, step and wall time in its header) and ``run_dir/log.jsonl``.
    """
    import torch

    from n4d4d.generator.checkpoint import load_vae, save_vae
    from n4d4d.generator.corpus import Corpus
    from n4d4d.generator.vae import SparseSDFVAE

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    corpus = Corpus(corpus_dir)
    source = ShapeSource(corpus, "train", cfg.resolutions, cfg.vae.truncation)
    val = ShapeSource(corpus, "val", cfg.resolutions[:1], cfg.vae.truncation, cache=cfg.val_shapes) \
        if cfg.val_shapes and corpus.entries("val", cfg.resolutions[0]) else None
    torch.manual_seed(cfg.seed)
    model = SparseSDFVAE(cfg.vae).to(dev)
    model.use_checkpoint = cfg.grad_checkpoint and dev.type == "cuda"
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    step, wall = 0, 0.0
    last = run / "last.safetensors"
    if last.is_file():
        loaded, extra, meta = load_vae(last, expect=cfg.vae, device=str(dev), with_extra=True)
        try:
            same = TrainConfig.from_dict(meta["train_config"]) == cfg
        except (KeyError, TypeError, ValueError):
            same = False
        if not same:
            raise ValueError(f"{last}: was trained with another config; use another run folder")
        model.load_state_dict(loaded.state_dict())
        _load_optimizer(optimizer, {k: v.to(dev) for k, v in extra.items()})
        torch.set_rng_state(extra["rng.torch"].cpu())
        rng.bit_generator.state = meta["numpy_rng"]
        step, wall = int(meta["step"]), float(meta["wall_seconds"])
        log(f"resumed {last} at step {step}")
    elif cfg.init:
        start = load_vae(cfg.init, expect=cfg.vae, device=str(dev))
        model.load_state_dict(start.state_dict())
        log(f"started from the weights of {cfg.init}")

    def save(path: Path, with_state: bool, metrics: dict) -> None:
        meta = {"train_config": cfg.to_dict(), "step": step, "wall_seconds": round(wall, 1),
                "numpy_rng": rng.bit_generator.state, "metrics": metrics, "corpus": str(corpus_dir)}
        extra = {**_optimizer_tensors(optimizer), "rng.torch": torch.get_rng_state()} if with_state else None
        save_vae(path, model, meta=meta, extra=extra)

    logf = open(run / "log.jsonl", "a")
    t_start, window, metrics = time.perf_counter() - wall, [], {}
    try:
        while step < cfg.steps:
            x, r = draw_batch(source, cfg, rng)
            t0 = time.perf_counter()
            terms = train_step(model, optimizer, x.to(dev), cfg, lr_at(step, cfg),
                               include_predicted=cfg.self_pruning and step >= cfg.warmup)
            step += 1
            wall = time.perf_counter() - t_start
            window.append({**terms, "nodes": x.num_tokens, "res": r, "seconds": time.perf_counter() - t0})
            if step % cfg.log_every == 0 or step == cfg.steps:
                metrics = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
                metrics.update(step=step, lr=lr_at(step - 1, cfg), wall=round(wall, 1))
                window = []
                if val is not None and (step % cfg.val_every == 0 or step == cfg.steps):
                    metrics.update(validate(model, val, cfg, cfg.resolutions[0]))
                logf.write(json.dumps(metrics) + "\n")
                logf.flush()
                log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
            out_of_time = time_limit_s is not None and wall >= time_limit_s
            if step % cfg.ckpt_every == 0 or step == cfg.steps or out_of_time:
                save(last, True, metrics)
            if out_of_time:
                log(f"time limit {time_limit_s:.0f} s reached at step {step}")
                break
    finally:
        logf.close()
    metrics = {**metrics, "step": step, "wall": round(wall, 1)}
    save(run / "vae.safetensors", False, metrics)
    return metrics
