"""Training of the two flow stages on cached latents: named configs, batches, EMA, resumable loop.

What it does: :func:`train_flow` trains one stage of the generator on the latent cache of a corpus
(:mod:`n4d4d.generator.latents`, made on the first run):

* ``stage="structure"``: :class:`~n4d4d.generator.structure.StructureFlow` on the dense occupancy
  of each shape's latent cells (``+1`` / ``-1``), with its blockout given in a share
  ``1 - coarse_dropout`` of the samples;
* ``stage="latent"``: :class:`~n4d4d.generator.flow.SparseFlowTransformer` on the posterior means at
  those cells, normalised per channel by the train split's mean and standard deviation.

Both use the rectified-flow loss (:mod:`n4d4d.generator.sampler`: ``x_t = (1 - t) x_0 + t e``,
velocity target ``e - x_0``, mean squared error), logit-normal times, the category dropped with
probability ``cond_dropout`` (0.1) for classifier-free guidance, AdamW with warm-up, cosine decay
and gradient clipping, and an exponential moving average (EMA) of the weights. Every ``ckpt_every``
steps (and at the end or the time limit) it writes ``RUN/last.safetensors`` (weights, EMA, optimizer
moments, step, RNG states: a rerun resumes exactly) and ``RUN/<stage>.safetensors`` (EMA weights, the
file generation loads); losses go to ``RUN/log.jsonl`` every ``log_every`` steps, and a fixed
validation loss (val split, fixed times and noise) every ``val_every`` steps.

Checkpoints (:func:`save_flow`, :func:`load_flow`) are safetensors with the JSON config, stage,
categories, latent statistics and training metadata in the header; never unpickled.
What it does not: sample (:mod:`n4d4d.generator.generate`) or evaluate (:mod:`n4d4d.generator.evaluate`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from n4d4d.errors import InputError
from n4d4d.generator.flow import FlowConfig
from n4d4d.generator.structure import StructureConfig

FORMAT = "n4d4d.flow/1"
STAGES = ("structure", "latent")


@dataclass(frozen=True)
class FlowTrainConfig:
    """A flow training run's settings (stored in every checkpoint's header).

    Attributes:
        name: config name.
        structure, latent: the two stages' architectures (``num_categories`` is set from the data).
        batch_size: shapes per step; max_tokens: the latent stage's batch also stops at this many tokens.
        steps, lr, warmup, min_lr_ratio, weight_decay, grad_clip: AdamW with cosine decay.
        ema: EMA decay per step.
        cond_dropout: probability of the null category (classifier-free guidance).
        coarse_dropout: probability that the structure stage sees no blockout.
        t_mean, t_std: logit-normal time distribution.
        seed; log_every / val_every / ckpt_every in steps; val_shapes: val shapes in the val loss.
        balance: class balancing of the draw, in [0, 1]: a category is drawn with probability
            proportional to ``n_c ** (1 - balance)`` (``n_c`` its train shapes), then one of its shapes
            uniformly; 0 is the plain uniform draw over shapes (``random_urdf``, 894 of 1,364 train
            shapes, fills two thirds of every batch), 1 draws every category equally.
        mixed_precision: bfloat16 autocast of the forward pass on CUDA (the loss, the optimizer
            and the EMA stay float32); ignored on the CPU.
        cond_lr_mult: learning-rate multiplier of the category embedding (``cond.y_embed``). Why: the
            conditioning vector is the timestep MLP's output plus the category's row; the rows start
            at std 0.02 (norm ~0.2) and a row is updated only in the steps that draw its category,
            so after the shipped run's 3,250 steps they had norms 0.3-0.8 against the timestep
            part's ~9, and the model nearly ignored its category (loss with the category within 2 %
            of the loss with the null row; model card). 1 is one learning rate for all weights.
    """

    name: str
    structure: StructureConfig = field(default_factory=StructureConfig)
    latent: FlowConfig = field(default_factory=FlowConfig)
    batch_size: int = 8
    max_tokens: int = 8000
    steps: int = 2000
    lr: float = 3e-4
    warmup: int = 100
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema: float = 0.998
    cond_dropout: float = 0.1
    coarse_dropout: float = 0.5
    t_mean: float = 0.0
    t_std: float = 1.0
    seed: int = 0
    log_every: int = 10
    val_every: int = 200
    ckpt_every: int = 50
    val_shapes: int = 24
    balance: float = 0.0
    cond_lr_mult: float = 1.0
    mixed_precision: bool = False

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["structure"], d["latent"] = self.structure.to_dict(), self.latent.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FlowTrainConfig":
        d = dict(d)
        d["structure"] = StructureConfig.from_dict(d["structure"])
        d["latent"] = FlowConfig.from_dict(d["latent"])
        d.setdefault("balance", 0.0)  # checkpoints written before class balancing
        d.setdefault("cond_lr_mult", 1.0)  # and before the category embedding's own learning rate
        d.setdefault("mixed_precision", False)  # and before CUDA training
        return cls(**d)


CONFIGS: dict[str, FlowTrainConfig] = {
    "tiny": FlowTrainConfig("tiny", StructureConfig(patch=4, width=32, depth=1, heads=2),
                            FlowConfig(width=32, depth=2, heads=2, kv_heads=1), batch_size=2, steps=60, lr=2e-3,
                            warmup=5, ema=0.9, val_every=0, ckpt_every=30, val_shapes=0),
    # the 2-core CPU, shared: both stages train at once in two processes, about an hour each
    "cpu": FlowTrainConfig("cpu", StructureConfig(patch=4, width=128, depth=4, heads=4),
                           FlowConfig(width=128, depth=4, heads=4, kv_heads=2, compression_block=2,
                                      selection_block=4, topk=8, window=8),
                           batch_size=12, max_tokens=2500, steps=3000, lr=5e-4, warmup=50),
    # fine-tuning the structure stage from the shipped checkpoint (--init) with class-balanced draws
    "cpu-balanced": FlowTrainConfig("cpu-balanced", StructureConfig(patch=4, width=128, depth=4, heads=4),
                                    FlowConfig(width=128, depth=4, heads=4, kv_heads=2, compression_block=2,
                                               selection_block=4, topk=8, window=8),
                                    batch_size=12, max_tokens=2500, steps=4000, lr=2e-4, warmup=50, balance=0.5),
    # fine-tuning the structure stage from the shipped checkpoint (--init) on a corpus with 100 seeds
    # per procedural family (`procedural:100`, about 90 train shapes each instead of 36), class-balanced
    "cpu-family": FlowTrainConfig("cpu-family", StructureConfig(patch=4, width=128, depth=4, heads=4),
                                  FlowConfig(width=128, depth=4, heads=4, kv_heads=2, compression_block=2,
                                             selection_block=4, topk=8, window=8),
                                  batch_size=12, max_tokens=2500, steps=8000, lr=3e-4, warmup=100, balance=0.5,
                                  cond_lr_mult=10.0),
    # wider and deeper, R = 256 latents (32^3 grid), bf16 autocast on CUDA; not trained yet (no GPU lent so far)
    "gpu": FlowTrainConfig("gpu", StructureConfig(grid=32, patch=4, width=512, depth=12, heads=8),
                           FlowConfig(width=512, depth=12, heads=8, kv_heads=2, grid=32, compression_block=4,
                                      selection_block=8, topk=16, window=8),
                           batch_size=32, max_tokens=200_000, steps=100_000, lr=1e-4, warmup=1000,
                           val_every=2000, ckpt_every=500, mixed_precision=True),
}


def get_config(name: str) -> FlowTrainConfig:
    """The named config; ``KeyError`` listing the names."""
    if name not in CONFIGS:
        raise KeyError(f"unknown flow config {name!r}; known: {', '.join(CONFIGS)}")
    return CONFIGS[name]


# -- checkpoints ----------------------------------------------------------------------------------

def save_flow(path: str | Path, model, stage: str, meta: dict, extra: dict | None = None) -> Path:
    """Write a stage's ``model`` (weights as float32) to ``path`` atomically; ``meta`` (JSON) must
    hold ``categories``; the latent stage's also ``latent_mean`` / ``latent_std`` lists."""
    from safetensors.torch import save as st_save

    from n4d4d.io.atomic import atomic_write_bytes

    tensors = {f"model.{k}": v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    for k, v in (extra or {}).items():
        tensors[k] = v.detach().cpu().contiguous()
    header = {"n4d4d.format": FORMAT, "n4d4d.stage": stage, "n4d4d.config": json.dumps(model.config.to_dict()),
              "n4d4d.meta": json.dumps(meta)}
    return atomic_write_bytes(path, st_save(tensors, metadata=header))


def load_flow(path: str | Path, stage: str | None = None, device: str = "cpu", with_extra: bool = False):
    """``(model, meta)`` of a flow checkpoint (eval mode); with ``with_extra`` also the extra tensors.

    Raises :class:`~n4d4d.errors.InputError` naming the file: missing, not a flow checkpoint, another
    stage than ``stage``, or weights that do not fit the stored config.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    from n4d4d.generator.flow import SparseFlowTransformer
    from n4d4d.generator.structure import StructureFlow

    p = Path(path)
    if not p.is_file():
        raise InputError("no such flow checkpoint", p)
    try:
        with safe_open(str(p), "pt") as f:
            md = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types
        raise InputError(f"not a safetensors file ({exc})", p) from exc
    if md.get("n4d4d.format") != FORMAT:
        raise InputError(f"not a flow checkpoint (format {md.get('n4d4d.format')!r}, expected {FORMAT!r})", p)
    have = md["n4d4d.stage"]
    if stage is not None and have != stage:
        raise InputError(f"checkpoint is of the {have!r} stage, expected {stage!r}", p)
    cfg = json.loads(md["n4d4d.config"])
    model = (StructureFlow(StructureConfig.from_dict(cfg)) if have == "structure"
             else SparseFlowTransformer(FlowConfig.from_dict(cfg)))
    tensors = load_file(str(p), device=device)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InputError(f"weights do not fit the stored config: {exc}", p) from exc
    model.to(device).eval()
    meta = json.loads(md.get("n4d4d.meta", "{}"))
    if with_extra:
        return model, meta, {k: v for k, v in tensors.items() if not k.startswith("model.")}
    return model, meta


# -- data -----------------------------------------------------------------------------------------

class StageData:
    """The tensors of one stage's shapes, built once: occupancy grids (structure) or normalised
    latents (latent), category indices, blockouts."""

    def __init__(self, shapes, categories: list[str], stage: str, mean=None, std=None, grid: int = 16):
        from n4d4d.generator.latents import coarse_grid, structure_grid

        index = {c: i for i, c in enumerate(categories)}
        self.shapes, self.stage = shapes, stage
        self.y = np.array([index[s.category] for s in shapes], np.int64)
        if stage == "structure":
            occ = [structure_grid(s.cells, grid) for s in shapes]
            self.occ = np.stack(occ)
            self.coarse = np.stack([coarse_grid(o) for o in occ])
        else:
            self.feats = [((s.feats - mean) / std).astype(np.float32) for s in shapes]

    def __len__(self) -> int:
        return len(self.shapes)

    def batch(self, idx):
        """``(x0, y, extra)`` torch tensors of shapes ``idx``: structure ``x0 (B, G, G, G)`` and the
        blockouts; latent a :class:`SparseTensor` of normalised latents."""
        import torch

        from n4d4d.kernels.sparse_tensor import SparseTensor

        y = torch.from_numpy(self.y[idx])
        if self.stage == "structure":
            return (torch.from_numpy(self.occ[idx].astype(np.float32) * 2 - 1), y,
                    torch.from_numpy(self.coarse[idx]))
        x = SparseTensor.from_batches([torch.from_numpy(self.shapes[i].cells.astype(np.int32)) for i in idx],
                                      [torch.from_numpy(self.feats[i]) for i in idx])
        return x, y, None


def param_groups(model, cond_lr_mult: float = 1.0) -> list[dict]:
    """AdamW parameter groups of a flow ``model``: one group (every weight at the schedule's rate)
    when ``cond_lr_mult == 1``, else the other weights and the category embedding
    (``cond.y_embed``), the latter with ``"lr_mult": cond_lr_mult`` (the training loop sets each
    group's rate to the schedule's times its ``lr_mult``). ValueError for a multiplier <= 0."""
    if cond_lr_mult <= 0:
        raise ValueError(f"cond_lr_mult must be > 0, got {cond_lr_mult}")
    params = list(model.named_parameters())
    if cond_lr_mult == 1.0:
        return [{"params": [p for _, p in params], "lr_mult": 1.0}]
    emb = [p for n, p in params if n.startswith("cond.y_embed.")]
    return [{"params": [p for n, p in params if not n.startswith("cond.y_embed.")], "lr_mult": 1.0},
            {"params": emb, "lr_mult": float(cond_lr_mult)}]


def draw_weights(y: np.ndarray, balance: float) -> np.ndarray | None:
    """Per-shape draw probabilities ``(N,) float64`` for category indices ``y (N,)``: category ``c``
    gets ``n_c ** (1 - balance)`` of the mass, shared equally by its shapes (see
    :class:`FlowTrainConfig`); None for ``balance == 0`` (the uniform draw). ValueError outside [0, 1]."""
    if not 0.0 <= balance <= 1.0:
        raise ValueError(f"balance must lie in [0, 1], got {balance}")
    if balance == 0.0:
        return None
    counts = np.bincount(y)
    w = counts[y].astype(np.float64) ** -balance
    return w / w.sum()


def draw(data: StageData, cfg: FlowTrainConfig, rng: np.random.Generator) -> list[int]:
    """Shape indices of one step: ``batch_size`` shapes (class-balanced by ``cfg.balance``), the
    latent stage's stopping at ``max_tokens``."""
    p = draw_weights(data.y, cfg.balance) if cfg.balance else None
    idx, tokens = [], 0
    while len(idx) < cfg.batch_size:
        i = int(rng.integers(len(data))) if p is None else int(rng.choice(len(data), p=p))
        n = len(data.shapes[i].cells)
        if data.stage == "latent" and idx and tokens + n > cfg.max_tokens:
            break
        idx.append(i)
        tokens += n
    return idx


def flow_loss(model, stage: str, batch, cfg: FlowTrainConfig, gen, train: bool = True):
    """Rectified-flow MSE of ``model`` on ``batch`` (from :meth:`StageData.batch`), times, noise and
    condition / blockout dropout drawn from the torch generator ``gen``."""
    import torch

    from n4d4d.generator.sampler import flow_pair, logit_normal_times

    x0, y, coarse = batch
    dev = next(model.parameters()).device
    b = len(y)
    # times, dropout and noise are drawn on the CPU from ``gen`` (the same numbers on every device)
    t = logit_normal_times(b, gen, cfg.t_mean, cfg.t_std)
    drop = torch.rand(b, generator=gen) < cfg.cond_dropout
    null = model.config.num_categories
    y = torch.where(drop, torch.full_like(y, null), y)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.mixed_precision and dev.type == "cuda")
    if stage == "structure":
        noise = torch.randn(x0.shape, generator=gen)
        given = torch.rand(b, generator=gen) >= cfg.coarse_dropout
        x0, t, y, noise, given = (a.to(dev) for a in (x0, t, y, noise, given))
        coarse = coarse.to(dev) if coarse is not None else None
        xt, v = flow_pair(x0, t[:, None, None, None], noise)
        with amp:
            pred = model(xt, t, y, coarse, given)
        return torch.mean((pred.float() - v) ** 2)
    noise = torch.randn(x0.feats.shape, generator=gen)
    x0, t, y, noise = x0.to(dev), t.to(dev), y.to(dev), noise.to(dev)
    feats = x0.feats
    tt = t[x0.coords[:, 0].long()][:, None]
    xt, v = flow_pair(feats, tt, noise)
    with amp:
        pred = model(x0.replace(xt), t, y).feats
    return torch.mean((pred.float() - v) ** 2)


def _val_loss(model, stage, data: StageData | None, cfg: FlowTrainConfig) -> float | None:
    """Loss on the first ``val_shapes`` val shapes with fixed times, noise and no dropout."""
    import torch

    if data is None or not len(data):
        return None
    val_cfg = dataclasses.replace(cfg, cond_dropout=0.0, coarse_dropout=0.5)
    gen = torch.Generator().manual_seed(1234)
    total, n = 0.0, 0
    with torch.no_grad():
        for a in range(0, len(data), 4):
            idx = list(range(a, min(a + 4, len(data))))
            total += float(flow_loss(model, stage, data.batch(idx), val_cfg, gen)) * len(idx)
            n += len(idx)
    return total / n


def train_flow(cfg: FlowTrainConfig, stage: str, corpus_dir: str | Path, run_dir: str | Path, *,
               time_limit_s: float | None = None, log: Callable[[str], None] | None = None,
               latents_path: str | Path | None = None, init: str | Path | None = None,
               device: str = "cpu") -> dict:
    """Train (or resume) one stage; returns the last logged metrics.

    Args:
        cfg: the run's config (stored; a resumed run must have the same one).
        stage: ``"structure"`` or ``"latent"``.
        corpus_dir: corpus folder; the latent stage's latent cache is made first if absent (shipped
            VAE); the structure stage reads the cells of the volumes (:func:`~n4d4d.generator.latents.structure_cache`).
        run_dir: run folder (``last.safetensors``, ``<stage>.safetensors``, ``log.jsonl``).
        time_limit_s: stop (and save) after this many seconds.
        latents_path: a latent cache to use instead of the corpus's.
        init: warm start, for a new run only: a checkpoint of this stage (e.g. the shipped one)
            whose weights start both the model and its EMA; the optimizer, step count and
            schedule start afresh (fine-tuning). Its model config and categories must be the
            run's. Ignored when the run folder already holds ``last.safetensors`` (resume).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available). On CUDA the latent
            stage's SSA runs through the Triton kernels and ``cfg.mixed_precision`` turns on
            bfloat16 autocast; times, noise and draws come from the same CPU generators on every
            device, so a run's batches do not depend on the device (its floating-point sums do).
    Raises:
        InputError: unknown stage, a run folder holding another config, no train shapes, or an
            ``init`` checkpoint of another stage, model config or category list.
    """
    import copy

    import torch

    from n4d4d.generator.flow import SparseFlowTransformer
    from n4d4d.generator.latents import LatentSet, encode_corpus, structure_cache
    from n4d4d.generator.structure import StructureFlow
    from n4d4d.generator.train import _load_optimizer, _optimizer_tensors, lr_at, resolve_device

    if stage not in STAGES:
        raise InputError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    # the structure stage needs only the cells, which the volumes' bands give without the VAE
    lat = LatentSet(latents_path or (structure_cache(corpus_dir) if stage == "structure" else encode_corpus(corpus_dir)))
    cats = lat.categories()
    train_shapes = lat.split("train")
    if not train_shapes:
        raise InputError("the latent cache has no train shapes", lat.path)
    cfg = dataclasses.replace(cfg, structure=dataclasses.replace(cfg.structure, num_categories=len(cats)),
                              latent=dataclasses.replace(cfg.latent, num_categories=len(cats)))
    mean, std = lat.channel_stats()
    val = [s for s in lat.split("val") if s.category in set(cats)][:cfg.val_shapes]
    data = StageData(train_shapes, cats, stage, mean, std, cfg.structure.grid)
    val_data = StageData(val, cats, stage, mean, std, cfg.structure.grid) if val else None
    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    model = StructureFlow(cfg.structure) if stage == "structure" else SparseFlowTransformer(cfg.latent)
    model.to(dev)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(model, cfg.cond_lr_mult), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    step, wall0 = 0, 0.0
    last = run / "last.safetensors"
    meta_base = {"categories": cats, "latent_mean": mean.tolist(), "latent_std": std.tolist(),
                 "train": cfg.to_dict(), "corpus": str(corpus_dir), "latents": str(lat.path),
                 "vae": lat.meta.get("vae"), "train_shapes": len(train_shapes), "device": dev.type,
                 "category_voxel_size": {c: float(np.median([s.voxel_size for s in train_shapes if s.category == c]))
                                         for c in cats}}
    if last.is_file():
        loaded, meta, extra = load_flow(last, stage, device=str(dev), with_extra=True)
        if meta["train"] != cfg.to_dict():
            raise InputError("this run folder holds a run of another config; use a new --run", run)
        model.load_state_dict(loaded.state_dict())
        ema.load_state_dict({k[len("ema."):]: v for k, v in extra.items() if k.startswith("ema.")})
        _load_optimizer(opt, extra)
        torch.set_rng_state(extra["rng.torch"].cpu())
        gen.set_state(extra["rng.gen"].cpu())
        rng.bit_generator.state = meta["numpy_rng"]
        step, wall0 = int(meta["step"]), float(meta["wall_s"])
    elif init is not None:
        start, init_meta = load_flow(init, stage, device=str(dev))
        if start.config.to_dict() != model.config.to_dict() or init_meta.get("categories") != cats:
            raise InputError("the init checkpoint's model config or categories differ from this run's", init)
        model.load_state_dict(start.state_dict())
        ema.load_state_dict(start.state_dict())
        meta_base["init"] = {"path": str(init), "step": init_meta.get("step"), "init": init_meta.get("init")}

    def save(metrics: dict) -> None:
        wall = wall0 + time.perf_counter() - t_start
        meta = {**meta_base, "step": step, "wall_s": wall, "metrics": metrics, "numpy_rng": rng.bit_generator.state}
        extra = {**_optimizer_tensors(opt), **{f"ema.{k}": v for k, v in ema.state_dict().items()},
                 "rng.torch": torch.get_rng_state(), "rng.gen": gen.get_state()}
        save_flow(last, model, stage, meta, extra)
        save_flow(run / f"{stage}.safetensors", ema, stage, {k: v for k, v in meta.items() if k != "numpy_rng"})

    metrics: dict = {}
    logf = open(run / "log.jsonl", "a")
    losses = []
    try:
        while step < cfg.steps:
            if time_limit_s is not None and time.perf_counter() - t_start > time_limit_s:
                break
            lr = lr_at(step, cfg)
            for g in opt.param_groups:
                g["lr"] = lr * g.get("lr_mult", 1.0)
            model.train()
            loss = flow_loss(model, stage, data.batch(draw(data, cfg, rng)), cfg, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
            opt.step()
            with torch.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm, 1 - cfg.ema)
            losses.append(float(loss.detach()))
            step += 1
            if step % cfg.log_every == 0 or step == cfg.steps:
                metrics = {"step": step, "loss": float(np.mean(losses)), "lr": lr, "grad_norm": gn,
                           "wall_s": round(wall0 + time.perf_counter() - t_start, 1)}
                losses = []
                if cfg.val_every and (step % cfg.val_every == 0 or step == cfg.steps):
                    metrics["val_loss_ema"] = _val_loss(ema, stage, val_data, cfg)
                logf.write(json.dumps(metrics) + "\n")
                logf.flush()
                if log:
                    log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
            if step % cfg.ckpt_every == 0:
                save(metrics)
        save(metrics)
    finally:
        logf.close()
    return metrics
