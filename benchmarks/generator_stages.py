"""Where the flow generator loses 1-NNA-CD, stage by stage (validation protocol only).

    python benchmarks/generator_stages.py stages [--families animal figure ...] [-n 8] [--json F]
    python benchmarks/generator_stages.py post [--families ...] [-n 8] [--smoothing 0 0.5 1 1.5 2]
    python benchmarks/generator_stages.py structure [--checkpoint CKPT] [--sigma 1.5] [--threshold -0.3] [--cfg 1]

References are procedural seeds ``1100 + i`` at R = 128 (their exact surfaces, as
``n4d4d eval generator --ref-seed 1100``); held-out shapes are seeds ``1200 + i`` (neither train,
0-99, nor references); samples are seeds ``100 + i``: never the test protocol's seeds.
Every figure is :func:`n4d4d.generator.evaluate.generation_metrics` (2,048 points in the unit cube)
of ``n`` shapes against the same ``n`` references, or its IoU form for structures.

``stages``, one row per family, each a set of ``n`` shapes scored against the references:
``data`` (the held-out shapes' exact surfaces: what a perfect generator scores), ``vae`` (their
SS-VAE reconstructions, :func:`~n4d4d.generator.codec.decoded_surface` with the 3 % shell filter: the
decoder's ceiling), ``vae_post`` (the same decodes through the generator's post-process,
:func:`~n4d4d.generator.generate.bound_by_structure` and
:func:`~n4d4d.generator.solid.solid_surface`), ``true_structure`` (the held-out shapes' latent cells
with latents sampled by the latent flow, decoded and post-processed as a sample), ``true_latents``
(the generator's sampled structures, each with the VAE latents of the held-out shape it overlaps
most, a missing cell taking its nearest cell's latent), ``generator`` (the shipped generator's
samples, ``DEFAULT_SAMPLING``), and ``structure_iou_data`` / ``structure_iou_generator``: 1-NNA and
COV with the distance ``1 - IoU`` of the 16^3 latent-cell occupancy, held-out and sampled structures
against the references'. A shape the post-process smooths to nothing is left out and counted.

``post``: the held-out reconstructions through each step of the post-process: bound only, then
``solid_surface`` at each ``--smoothing``. ``structure``: the structure stage alone (the Euler call
and occupancy rule of :meth:`FlowGenerator.sample`, no fallback, no decode) of a checkpoint and
setting, IoU 1-NNA / COV, the mean best IoU with a reference, and cells. One torch thread. The
figures of 4 December 2026 are in ``n4d4d/generator/weights/FLOW_MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _sdf(cat: str, seed: int):
    from n4d4d.generator.procedural import make_shape
    from n4d4d.volume import compute_sparse_sdf

    return compute_sparse_sdf(make_shape(cat, seed).visual, resolution=128, block_size=8, band_voxels=2.0)


def _cells(sdf) -> np.ndarray:
    from n4d4d.generator.latents import GRID, band_cells

    c = band_cells(sdf.coords)
    return c[np.all(c < GRID, axis=1)]


def iou_nna(gen: list, ref: list) -> dict:
    """``{"nna", "cov", "nearest_iou"}`` of occupancy grids with the distance ``1 - IoU``."""
    occ = list(gen) + list(ref)
    n, ng = len(occ), len(gen)
    d = np.full((n, n), np.inf)
    for i in range(n):
        for j in range(n):
            if i != j:
                d[i, j] = 1 - np.logical_and(occ[i], occ[j]).sum() / max(np.logical_or(occ[i], occ[j]).sum(), 1)
    lab = np.r_[np.zeros(ng), np.ones(len(ref))]
    g_r = d[:ng, ng:]
    return {"nna": float(np.mean(lab[d.argmin(1)] == lab)), "cov": len(set(g_r.argmin(1).tolist())) / len(ref),
            "nearest_iou": float((1 - g_r.min(1)).mean())}


def _score(points: list, ref: list, n: int) -> dict | None:
    from n4d4d.generator.evaluate import generation_metrics

    return {**generation_metrics(points, ref), "lost": n - len(points)} if points else None


def _points(mesh, seed: int):
    from n4d4d.generator.evaluate import unit_cube_points

    return unit_cube_points(mesh, 2048, seed=seed)


def _post(dec, cells, smoothing: float):
    """Post-processed points of a decode, or None when nothing is left."""
    from n4d4d.errors import EmptyMeshError
    from n4d4d.generator.generate import bound_by_structure
    from n4d4d.generator.solid import solid_surface

    try:
        return solid_surface(bound_by_structure(dec, cells), smoothing)[0]
    except EmptyMeshError:
        return None


def stages(family: str, n: int) -> dict:
    import torch
    from scipy.spatial import cKDTree

    from n4d4d.generator.codec import MIN_SHELL_FRACTION, decoded_surface, reconstruct, remove_small_shells, \
        tensors_to_sdf
    from n4d4d.generator.generate import DEFAULT_SAMPLING, bound_by_structure, default_generator, generate, grid_like
    from n4d4d.generator.latents import structure_grid
    from n4d4d.generator.solid import solid_surface
    from n4d4d.kernels.sparse_tensor import SparseTensor
    from n4d4d.volume import extract_surface

    g = default_generator()
    name, y = g.category_index(family)
    voxel = float(g.voxel_sizes[name])
    refs = [_sdf(family, 1100 + i) for i in range(n)]
    ref_pts = [_points(extract_surface(s), i) for i, s in enumerate(refs)]
    held = [_sdf(family, 1200 + i) for i in range(n)]
    cells = [_cells(s) for s in held]
    pts = {k: [] for k in ("data", "vae", "vae_post", "true_structure", "true_latents", "generator")}
    encoded = []
    for i, s in enumerate(held):
        pts["data"].append(_points(extract_surface(s), 100 + i))
        dec = reconstruct(g.vae, s)
        pts["vae"].append(_points(remove_small_shells(decoded_surface(dec), MIN_SHELL_FRACTION), 100 + i))
        m = _post(dec, cells[i], DEFAULT_SAMPLING.smoothing)
        if m is not None:
            pts["vae_post"].append(_points(m, 100 + i))
        encoded.append(g._encode(s))
        gen = torch.Generator().manual_seed(100 + i)
        try:
            m = g._decode_cells(cells[i], y, gen, None, 0.5, voxel, DEFAULT_SAMPLING, {})[0]
            pts["true_structure"].append(_points(m, 100 + i))
        except Exception as exc:  # a decode smoothed to nothing is a lost shape
            print(f"note: {family} true structure {i}: {exc}", file=sys.stderr)
    samples = generate(family, 100, n, generator=g, skip_empty=True)
    held_occ = [structure_grid(c) for c in cells]
    for s in samples:
        pts["generator"].append(_points(s.mesh, s.seed))
        occ = structure_grid(s.cells)
        j = int(np.argmax([np.logical_and(occ, h).sum() / np.logical_or(occ, h).sum() for h in held_occ]))
        hc, hf = encoded[j]
        z = torch.from_numpy(hf[cKDTree(hc).query(s.cells)[1]].astype(np.float32))
        coords = torch.from_numpy(np.c_[np.zeros(len(s.cells)), s.cells].astype(np.int32))
        try:
            with torch.no_grad():
                out = g.vae.decode(SparseTensor(coords, z, 1))
            sdf = bound_by_structure(tensors_to_sdf(out.sdf.coords[:, 1:], out.sdf.feats, grid_like(voxel),
                                                    g.vae.config.truncation), s.cells)
            pts["true_latents"].append(_points(solid_surface(sdf, DEFAULT_SAMPLING.smoothing)[0], s.seed))
        except Exception as exc:
            print(f"note: {family} true latents {s.seed}: {exc}", file=sys.stderr)
    ref_occ = [structure_grid(_cells(s)) for s in refs]
    row = {"family": family, **{k: _score(v, ref_pts, n) for k, v in pts.items()},
           "structure_iou_data": iou_nna(held_occ, ref_occ),
           "structure_iou_generator": iou_nna([structure_grid(s.cells) for s in samples], ref_occ),
           "cells": {"references": [int(o.sum()) for o in ref_occ], "samples": [len(s.cells) for s in samples]}}
    return row


def post(family: str, n: int, smoothings: list[float]) -> dict:
    from n4d4d.generator.codec import MIN_SHELL_FRACTION, decoded_surface, reconstruct, remove_small_shells
    from n4d4d.generator.generate import bound_by_structure, default_generator
    from n4d4d.volume import extract_surface

    g = default_generator()
    ref_pts = [_points(extract_surface(_sdf(family, 1100 + i)), i) for i in range(n)]
    pts = {k: [] for k in ["data", "vae", "bound"] + [f"s{x:g}" for x in smoothings]}
    for i in range(n):
        sdf = _sdf(family, 1200 + i)
        cells = _cells(sdf)
        dec = reconstruct(g.vae, sdf)
        pts["data"].append(_points(extract_surface(sdf), 100 + i))
        pts["vae"].append(_points(remove_small_shells(decoded_surface(dec), MIN_SHELL_FRACTION), 100 + i))
        pts["bound"].append(_points(remove_small_shells(decoded_surface(bound_by_structure(dec, cells)),
                                                        MIN_SHELL_FRACTION), 100 + i))
        for x in smoothings:
            m = _post(dec, cells, x)
            if m is not None:
                pts[f"s{x:g}"].append(_points(m, 100 + i))
    return {"family": family, **{k: _score(v, ref_pts, n) for k, v in pts.items()}}


def structure(checkpoint: str | None, sigma: float, threshold: float, cfg: float, n: int, families: list) -> dict:
    import torch

    from n4d4d.generator.generate import (DEFAULT_SAMPLING, FlowGenerator, _occupancy, default_generator,
                                          structure_velocity)
    from n4d4d.generator.latents import GRID, structure_grid
    from n4d4d.generator.sampler import euler_sample

    g = default_generator() if checkpoint is None else FlowGenerator.load(structure=checkpoint)
    samp = dataclasses.replace(DEFAULT_SAMPLING, threshold=threshold, structure_sigma=sigma)
    st = samp.structure
    per = {}
    for fam in families:
        _, y = g.category_index(fam)
        occ = []
        for seed in range(100, 100 + n):
            noise = torch.randn((1, GRID, GRID, GRID), generator=torch.Generator().manual_seed(seed))
            field = euler_sample(structure_velocity(g.structure, y, None), noise, steps=st.steps, shift=st.shift,
                                 cfg_scale=cfg, interval=st.interval)[0].numpy()
            occ.append(_occupancy(field, samp, sigma))
        ref = [structure_grid(_cells(_sdf(fam, 1100 + i))) for i in range(n)]
        per[fam] = {**iou_nna(occ, ref), "cells": float(np.mean([o.sum() for o in occ])),
                    "reference_cells": float(np.mean([o.sum() for o in ref]))}
    return {"checkpoint": checkpoint or "shipped", "sigma": sigma, "threshold": threshold, "cfg": cfg, "per": per,
            **{k: float(np.mean([p[k] for p in per.values()])) for k in ("nna", "cov", "nearest_iou")}}


def main() -> None:
    import torch

    from n4d4d.generator.procedural import families as all_families

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["stages", "post", "structure"])
    ap.add_argument("--families", nargs="*", default=None)
    ap.add_argument("-n", type=int, default=8)
    ap.add_argument("--smoothing", nargs="*", type=float, default=[0.0, 0.5, 1.0, 1.5, 2.0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--sigma", type=float, default=1.5)
    ap.add_argument("--threshold", type=float, default=-0.3)
    ap.add_argument("--cfg", type=float, default=1.0)
    ap.add_argument("--json", default=None, help="append one JSON line per result here")
    a = ap.parse_args()
    torch.set_num_threads(1)
    fams = a.families or list(all_families())
    if a.what == "structure":
        rows = [structure(a.checkpoint, a.sigma, a.threshold, a.cfg, a.n, fams)]
    else:
        rows = (stages(f, a.n) if a.what == "stages" else post(f, a.n, a.smoothing) for f in fams)
    for row in rows:
        short = {k: (round(v["nna_cd"], 3), round(v["cov_cd"], 3), v["lost"]) if isinstance(v, dict) and "nna_cd" in v
                 else v for k, v in row.items() if k not in ("per", "cells")}
        print(json.dumps(short), flush=True)
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
