"""The flow generator on a GPU: SSA against full attention in the ``gpu`` model, and a short training run.

    python benchmarks/flow_gpu.py prepare --out DIR [--n 8]        # here, on the CPU: R = 256 latents
    python benchmarks/flow_gpu.py run --latents CACHE.npz --r256 DIR/r256.npz --out OUT [--budget 200]

``prepare`` (CPU): encodes the first ``n`` procedural families (seed 0) at R = 256 with the shipped
SS-VAE (32^3 latent grid; :func:`benchmarks.generator.r256_latents`) into ``DIR/r256.npz``
(``cells_i (M, 3) int16``, ``feats_i (M, C) float32``), so the GPU machine, which has no mesh
libraries, needs only torch.

``run`` (CUDA, issue 15 item 6):

1. **Seconds per training step** of the ``gpu`` config's latent flow transformer
   (:data:`n4d4d.generator.flow_train.CONFIGS` ``"gpu"``: width 512, 12 DiT blocks, 8 query / 2
   key-value heads, SSA compression block 4, selection block 8, top-k 16, window 8), bf16 autocast,
   forward + backward + AdamW step, attention ``"ssa"`` (the Triton kernels of
   :mod:`n4d4d.kernels`) against ``"full"`` (``scaled_dot_product_attention`` per shape with the
   same projections and gates), same weights, at the token counts of R = 128 latents (a batch of
   32 train shapes of the cache) and of R = 256 latents (the prepared shapes, one batch of all of
   them); median of 10 steps after 3 warm-ups, CUDA-synchronised wall clock.
2. **Loss after equal steps**: :func:`n4d4d.generator.flow_train.train_flow` on the latent cache
   (the R = 128 train split) with the ``gpu`` config (schedule shortened to the run: ``steps`` = N,
   warm-up 50, validation at N), once with ``ssa`` and once with ``full`` from the same seed; N is
   chosen from part 1's step times so that both runs fit ``--budget`` seconds. Prints each run's
   loss curve (every 10 steps), EMA validation loss, wall seconds and seconds per step; the run
   folders' ``log.jsonl`` are copied to ``OUT``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def prepare(out: Path, n: int) -> None:
    from generator import r256_latents

    from n4d4d.generator.checkpoint import default_checkpoint, load_vae

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    lat = r256_latents(load_vae(default_checkpoint()), n=n)
    arrays = {}
    for i, (c, f) in enumerate(lat):
        arrays[f"cells_{i}"], arrays[f"feats_{i}"] = c.astype(np.int16), f.astype(np.float32)
    np.savez_compressed(out / "r256.npz", **arrays)
    sizes = [len(c) for c, _ in lat]
    print(f"wrote {out / 'r256.npz'}: {len(lat)} shapes, {sizes} latent cells, {time.perf_counter() - t0:.0f} s")


def _batch(shapes, device):
    import torch

    from n4d4d.kernels.sparse_tensor import SparseTensor

    return SparseTensor.from_batches([torch.from_numpy(np.asarray(c, np.int32)) for c, _ in shapes],
                                     [torch.from_numpy(np.asarray(f, np.float32)) for _, f in shapes]).to(device)


def step_time(model, x, reps: int = 10) -> float:
    """Median seconds of one bf16 training step (forward, backward, AdamW) of ``model`` on ``x``."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    b = int(x.coords[:, 0].max()) + 1
    t = torch.full((b,), 0.5, device=x.feats.device)
    y = torch.zeros(b, dtype=torch.int64, device=x.feats.device)
    times = []
    for i in range(reps + 3):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(x, t, y)
        loss = out.feats.float().pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(latents: Path, r256: Path | None, out: Path, budget: float) -> None:
    import torch

    from n4d4d.generator.flow import SparseFlowTransformer, count_parameters
    from n4d4d.generator.flow_train import get_config, train_flow
    from n4d4d.generator.latents import LatentSet

    out.mkdir(parents=True, exist_ok=True)
    dev = "cuda"
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    cfg = get_config("gpu")
    lat = LatentSet(latents)
    cats = lat.categories()
    train = lat.split("train")
    base = dataclasses.replace(cfg.latent, num_categories=len(cats))
    rng = np.random.default_rng(0)
    pick = rng.choice(len(train), size=min(cfg.batch_size, len(train)), replace=False)
    cases = [("R=128 batch", [(train[i].cells, train[i].feats) for i in pick])]
    if r256 is not None and r256.is_file():
        z = np.load(r256)
        n = len([k for k in z.files if k.startswith("cells_")])
        cases.append(("R=256 batch", [(z[f"cells_{i}"], z[f"feats_{i}"]) for i in range(n)]))
    torch.manual_seed(0)
    models = {m: SparseFlowTransformer(dataclasses.replace(base, attention=m)).to(dev) for m in ("ssa", "full")}
    models["full"].load_state_dict(models["ssa"].state_dict())
    print(f"gpu latent model: {count_parameters(models['ssa']) / 1e6:.1f} M parameters", flush=True)
    print("case | shapes | tokens | ssa s/step | full s/step | full/ssa")
    times = {}
    for name, shapes in cases:
        x = _batch(shapes, dev)
        row = {m: step_time(models[m], x) for m in ("ssa", "full")}
        times[name] = row
        print(f"{name} | {len(shapes)} | {len(x.feats)} | {row['ssa']:.4f} | {row['full']:.4f} | "
              f"{row['full'] / row['ssa']:.2f}", flush=True)
    del models
    torch.cuda.empty_cache()

    per_step = max(times["R=128 batch"].values())
    steps = int(max(50, min(2000, 0.8 * budget / 2 / per_step)) // 10 * 10)
    print(f"equal-steps training: {steps} steps per run (from {per_step:.3f} s/step, budget {budget:.0f} s)",
          flush=True)
    summary = {"step_time": times, "steps": steps}
    for m in ("ssa", "full"):
        run_cfg = dataclasses.replace(cfg, steps=steps, warmup=50, val_every=steps, ckpt_every=steps,
                                      log_every=10, latent=dataclasses.replace(cfg.latent, attention=m))
        run_dir = out / f"run_{m}"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        t0 = time.perf_counter()
        metrics = train_flow(run_cfg, "latent", latents.parent, run_dir, latents_path=latents, device=dev,
                             log=lambda line: print(f"  [{m}] {line}", flush=True))
        wall = time.perf_counter() - t0
        curve = [json.loads(l) for l in (run_dir / "log.jsonl").read_text().splitlines()]
        summary[m] = {"wall_s": wall, "s_per_step": wall / steps, "val_loss_ema": metrics.get("val_loss_ema"),
                      "first_loss": curve[0]["loss"], "last_loss": metrics.get("loss")}
        print(f"{m}: {steps} steps in {wall:.0f} s ({wall / steps:.3f} s/step), loss {curve[0]['loss']:.4f} -> "
              f"{metrics.get('loss'):.4f}, EMA val loss {metrics.get('val_loss_ema')}", flush=True)
        shutil.copy(run_dir / "log.jsonl", out / f"log_{m}.jsonl")
        shutil.rmtree(run_dir)          # the weights (hundreds of MB) are not brought back
    (out / "flow_gpu.json").write_text(json.dumps(summary, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=8)
    r = sub.add_parser("run")
    r.add_argument("--latents", type=Path, required=True)
    r.add_argument("--r256", type=Path, default=None)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--budget", type=float, default=200.0, help="seconds for the two training runs together")
    a = ap.parse_args()
    if a.cmd == "prepare":
        prepare(a.out, a.n)
    else:
        run(a.latents, a.r256, a.out, a.budget)


if __name__ == "__main__":
    main()
