"""Benchmarks of the flow generator: sampling time, and SSA against full attention in the same model.

    python benchmarks/generator.py sampling [--categories mug chair random_urdf] [--seeds 3]
    python benchmarks/generator.py attention --corpus CORPUS [--steps 60]

``sampling``: wall time of one shape at R = 128 with the shipped checkpoints (structure flow, SSA
latent flow, SS-VAE decode, surface), per category and seed, median and per stage; the issue's
target is <= 20 s on this CPU.

``attention``: the ``cpu`` latent flow transformer with each attention mode of
:class:`n4d4d.generator.flow.SSAttention` (``ssa``: the CPU's masked dense evaluation of SSA,
``reference``: ``n4d4d.kernels``' torch reference, ``full``: full attention), same weights:
(1) seconds per training step (forward + backward, one shape) at the token counts of R = 128
latents (the cache's median and largest train shapes) and of R = 256 latents (two procedural
shapes encoded at R = 256 by the shipped VAE, 32^3 grid); (2) training ``--steps`` steps of ``ssa``
and of ``full`` from the same initial weights on the same batches, times and noise, then the loss
of each on a fixed set of val shapes, times and noise. One thread (``torch.set_num_threads(1)``).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def bench_sampling(categories, seeds: int) -> None:
    from n4d4d.generator.generate import default_generator

    g = default_generator()
    rows = []
    for cat in categories:
        for seed in range(seeds):
            t0 = time.perf_counter()
            s = g.sample(cat, seed)
            total = time.perf_counter() - t0
            rows.append(total)
            parts = " ".join(f"{k} {v:.2f}" for k, v in s.seconds.items())
            print(f"{s.category:12s} seed {seed}: {total:6.2f} s ({parts}); {len(s.cells)} cells, "
                  f"{len(s.mesh.faces)} faces", flush=True)
    print(f"median {statistics.median(rows):.2f} s, max {max(rows):.2f} s over {len(rows)} samples "
          f"(target <= 20 s)")


def r256_latents(vae, n: int = 2):
    """``[(cells (M, 3), feats (M, C))]`` of procedural shapes encoded at R = 256 (32^3 grid)."""
    import torch

    from n4d4d.generator.codec import sdf_to_tensors
    from n4d4d.generator.procedural import families, make_shape
    from n4d4d.kernels.sparse_tensor import SparseTensor
    from n4d4d.volume import compute_sparse_sdf

    out = []
    for fam in list(families())[:n]:
        sdf = compute_sparse_sdf(make_shape(fam, 0).visual, resolution=256, block_size=8, band_voxels=2.0)
        c, f = sdf_to_tensors(sdf, vae.config.truncation)
        with torch.no_grad():
            post, _ = vae.encode(SparseTensor(torch.cat([torch.zeros(len(c), 1, dtype=torch.int32), c], 1), f))
        out.append((post.coords[:, 1:].numpy(), post.mean.numpy()))
    return out


def _step_time(model, cells, feats, repeats: int = 3) -> float:
    import torch

    from n4d4d.kernels.sparse_tensor import SparseTensor

    coords = torch.from_numpy(np.c_[np.zeros(len(cells)), cells].astype(np.int32))
    times = []
    for _ in range(repeats):
        x = SparseTensor(coords, torch.from_numpy(np.asarray(feats, np.float32)), 1)
        t0 = time.perf_counter()
        out = model(x, torch.tensor([0.5]), torch.tensor([0]))
        out.feats.pow(2).mean().backward()
        times.append(time.perf_counter() - t0)
        model.zero_grad(set_to_none=True)
    return statistics.median(times)


def bench_attention(corpus: Path, steps: int) -> None:
    import torch

    from n4d4d.generator.checkpoint import default_checkpoint, load_vae
    from n4d4d.generator.flow import SparseFlowTransformer
    from n4d4d.generator.flow_train import StageData, draw, flow_loss, get_config
    from n4d4d.generator.latents import LatentSet, cache_path

    torch.set_num_threads(1)
    cfg = get_config("cpu")
    lat = LatentSet(cache_path(corpus))
    cats = lat.categories()
    base = dataclasses.replace(cfg.latent, num_categories=len(cats))
    train = lat.split("train")
    sizes = np.array([len(s.cells) for s in train])
    median = train[int(np.argsort(sizes)[len(sizes) // 2])]
    largest = train[int(np.argmax(sizes))]
    torch.manual_seed(0)
    models = {m: SparseFlowTransformer(dataclasses.replace(base, attention=m)) for m in ("ssa", "reference", "full")}
    for m in ("reference", "full"):
        models[m].load_state_dict(models["ssa"].state_dict())
    r256 = r256_latents(load_vae(default_checkpoint()))
    cases = [("R=128 median", median.cells, median.feats), ("R=128 largest", largest.cells, largest.feats)]
    cases += [(f"R=256 #{i}", c, f) for i, (c, f) in enumerate(r256)]
    print("seconds per training step (forward + backward, one shape, one thread)")
    print(f"{'case':16s} {'tokens':>7s} {'ssa (dense CPU)':>16s} {'ssa reference':>14s} {'full':>8s}")
    for name, cells, feats in cases:
        grid = 32 if cells.max() >= 16 else 16
        row = []
        for m in ("ssa", "reference", "full"):
            model = models[m] if grid == 16 else SparseFlowTransformer(dataclasses.replace(models[m].config, grid=32))
            row.append(_step_time(model, cells, feats, repeats=1 if m == "reference" else 3))
        print(f"{name:16s} {len(cells):7d} {row[0]:16.3f} {row[1]:14.3f} {row[2]:8.3f}", flush=True)

    mean, std = lat.channel_stats()
    data = StageData(train, cats, "latent", mean, std)
    val = StageData([s for s in lat.split("val") if s.category in set(cats)][:16], cats, "latent", mean, std)
    init = models["ssa"].state_dict()
    results = {}
    for m in ("ssa", "full"):
        model = SparseFlowTransformer(dataclasses.replace(base, attention=m))
        model.load_state_dict(copy.deepcopy(init))
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
        rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(1)
        t0 = time.perf_counter()
        for step in range(steps):
            for g in opt.param_groups:
                g["lr"] = cfg.lr * min(1.0, (step + 1) / 20)
            loss = flow_loss(model, "latent", data.batch(draw(data, cfg, rng)), cfg, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
        per_step = (time.perf_counter() - t0) / steps
        vgen = torch.Generator().manual_seed(1234)
        vcfg = dataclasses.replace(cfg, cond_dropout=0.0)
        with torch.no_grad():
            vl = [float(flow_loss(model, "latent", val.batch([i]), vcfg, vgen)) for i in range(len(val))]
        results[m] = (float(np.mean(vl)), per_step)
        print(f"{m}: val loss {results[m][0]:.4f} after {steps} steps, {per_step:.2f} s per step", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    s = sub.add_parser("sampling")
    s.add_argument("--categories", nargs="+", default=["mug", "chair", "table", "random_urdf"])
    s.add_argument("--seeds", type=int, default=2)
    a = sub.add_parser("attention")
    a.add_argument("--corpus", type=Path, required=True)
    a.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.what == "sampling":
        bench_sampling(args.categories, args.seeds)
    else:
        bench_attention(args.corpus, args.steps)


if __name__ == "__main__":
    main()
