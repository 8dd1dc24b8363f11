"""Speed of the SS-VAE on the CPU: sparse convolution, encode + decode of R = 128 shapes, training steps.

    python benchmarks/vae.py                                   # shipped checkpoint, pybullet_data shapes
    python benchmarks/vae.py --checkpoint runs/cpu/vae.safetensors --threads 2
    python benchmarks/vae.py --resolution 256 --shapes duck

Prints, per shape: band nodes, seconds to encode and decode (posterior mean, predicted pruning),
seconds to extract the decoded surface, and the medians; then the time of one submanifold 3x3x3
convolution (32 -> 32 channels) on the R = 128 band of the duck, forward and backward, against the
dense ``conv3d`` on the same grid; and the time of one training step of the ``cpu`` config at
R = 64 (whole shape) and on an R = 128 crop. The issue's target: encode + decode of a 128 shape
under 2 s on the CPU. Timings are wall-clock medians of ``--repeats`` runs after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _timed(fn, repeats: int) -> float:
    fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def _volume(name: str, resolution: int):
    from n4d4d.io.load import load_mesh
    from n4d4d.io.samples import resolve_sample
    from n4d4d.volume import compute_sparse_sdf

    s = resolve_sample(name)
    return compute_sparse_sdf(load_mesh(s.path, up=s.up), resolution=resolution)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="SS-VAE checkpoint (default: the shipped one)")
    ap.add_argument("--shapes", nargs="+", default=["duck", "teddy", "mug", "bunny", "random_urdfs/007"])
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from n4d4d.generator.checkpoint import default_checkpoint, load_vae
    from n4d4d.generator.codec import decoded_surface, reconstruct

    torch.set_num_threads(args.threads)
    model = load_vae(args.checkpoint or default_checkpoint())
    print(f"threads={args.threads} resolution={args.resolution} checkpoint={args.checkpoint or default_checkpoint()}")
    rows = []
    for name in args.shapes:
        sdf = _volume(name, args.resolution)
        codec = _timed(lambda: reconstruct(model, sdf), args.repeats)
        dec = reconstruct(model, sdf)
        surf = _timed(lambda: decoded_surface(dec), args.repeats)
        rows.append((codec, surf))
        print(f"{name:18s} nodes={sdf.n_nodes:7d} decoded={dec.n_nodes:7d} encode+decode={codec:.3f}s "
              f"surface={surf:.3f}s")
    print(f"median encode+decode={statistics.median(r[0] for r in rows):.3f}s "
          f"surface={statistics.median(r[1] for r in rows):.3f}s (target: encode+decode < 2 s at R = 128)")

    from n4d4d.generator.sparse_conv import SubMConv3d
    from n4d4d.kernels.sparse_tensor import SparseTensor

    sdf = _volume("duck", 128)
    c = torch.from_numpy(np.c_[np.zeros(sdf.n_nodes), sdf.coords]).int()
    feats = torch.randn(sdf.n_nodes, 32, requires_grad=True)
    conv = SubMConv3d(32, 32)
    x = SparseTensor(c, feats)
    conv(x)  # neighbour map built and cached once
    fwd = _timed(lambda: conv(x), args.repeats)
    both = _timed(lambda: conv(x).feats.sum().backward(), args.repeats)
    dense = torch.zeros(1, 32, *[int(s) for s in sdf.grid_shape])
    w = torch.randn(32, 32, 3, 3, 3)
    dfwd = _timed(lambda: torch.nn.functional.conv3d(dense, w, padding=1), 1)
    print(f"submanifold conv 32->32 on {sdf.n_nodes} voxels: forward {fwd * 1e3:.0f} ms, forward+backward "
          f"{both * 1e3:.0f} ms; dense conv3d forward on the {tuple(dense.shape[2:])} grid {dfwd * 1e3:.0f} ms")

    from n4d4d.generator.train import CONFIGS, make_batch, train_step
    from n4d4d.generator.vae import SparseSDFVAE

    cfg = CONFIGS["cpu"]
    m = SparseSDFVAE(cfg.vae)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
    for r in (64, 128):
        s = _volume("duck", r)
        coords, v = s.coords, np.clip(s.values / (s.voxel_size * cfg.vae.truncation), -1, 1)
        if r == 128:  # the cpu config trains on 64^3 crops of R = 128 shapes
            keep = np.all((coords >= 32) & (coords < 96), axis=1)
            coords, v = coords[keep] - 32, v[keep]
        batch = make_batch([(coords, v)])
        t = _timed(lambda: train_step(m, opt, batch, cfg, 1e-4), args.repeats)
        print(f"train step, cpu config, R={r}{' crop 64' if r == 128 else ''}: {batch.num_tokens} nodes, {t:.3f}s")


if __name__ == "__main__":
    main()
