"""``n4d4d eval generator [--corpus CORPUS]``: the flow generator's metrics per category.

For each category (default: the procedural families, and ``random_urdf`` when ``--corpus`` is given:
the other categories' references are its test split): ``-n`` samples (seeds
0 .. n-1) against ``--refs`` held-out references, MMD-CD, COV-CD and 1-NNA-CD with 2,048 points in
the unit cube (:mod:`n4d4d.generator.evaluate`). References are never training shapes: for a
procedural family, fresh seeds ``1000 + i`` of the family (the corpus holds seeds 0-99); otherwise
the corpus's test split. Sampling settings are chosen on the validation protocol, never on this
one: ``--seed 100 --ref-seed 1100`` (samples seeds 100 .. 100 + n - 1 against references 1100 + i).
Every reference goes through the same path as a corpus shape (sparse SDF at R = 128, its exact
surface); ``several_solids`` counts the samples the surface post-process keeps as more than one solid. Validity: the share of samples whose mesh is watertight, and, for
the first ``--validity`` samples (seeds) of each category built through the whole pipeline
(``n4d4d.build(Generated(category, seed))``, default options, no report; the source samples with
this run's structure checkpoint and sampling settings, :func:`~n4d4d.generator.generate.generation_defaults`), the share that are one
solid after the remesh stage, pass the physics certificate, and are sim-ready end to end (the asset's
``passed`` and its USD written). A sample that decodes to nothing (the surface post-process leaves no
inside) is noted, listed in ``empty`` and counted as not watertight; the distribution metrics score
the others. ``--coarse-box K``: K samples from an axis-aligned box blockout per
category, LP-IoU and Div-IoU. Prints a table against the issue's targets; ``--json`` writes it all.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from n4d4d.cli.app import eval_app, set_torch_threads

#: The issue's targets (procedural families and random_urdfs).
TARGETS = {"validity": 0.95, "sim_ready": 0.90, "nna_cd": 0.75, "cov_cd": 0.40}


def _references(category: str, corpus, n: int, ref_seed: int = 1000) -> list:
    """Up to ``n`` reference meshes of ``category`` that no model trained on (a procedural family:
    seeds ``ref_seed + i``)."""
    from n4d4d.errors import InputError
    from n4d4d.generator.procedural import families, make_shape
    from n4d4d.volume import compute_sparse_sdf, extract_surface

    if category in families():
        return [extract_surface(compute_sparse_sdf(make_shape(category, ref_seed + i).visual, resolution=128,
                                                   block_size=8, band_voxels=2.0)) for i in range(n)]
    if corpus is None:
        raise InputError(f"category {category!r} is not procedural: its references are the corpus's test "
                         "split (give --corpus)")
    entries = [e for e in corpus.entries("test", 128) if e["category"] == category][:n]
    return [extract_surface(corpus.load(e, 128)) for e in entries]


def _validity(category: str, seeds, out_dir: Path) -> list[dict]:
    import n4d4d
    from n4d4d.generator.metrics import count_solids
    from n4d4d.sources import Generated

    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        row = {"category": category, "seed": int(seed)}
        try:
            asset = n4d4d.build(Generated(category, seed=int(seed)), report=False)
            folder = asset.save(out_dir / f"{category}_{seed}", report=False)
            tm = asset.visual.to_trimesh(process=True)
            row.update(one_solid=bool(tm.is_watertight and count_solids(asset.visual) == 1),
                       certificate=bool(asset.passed),
                       sim_ready=bool(asset.passed and any(folder.glob("*.usda"))),
                       reasons=list((asset.physics or {}).get("reasons", []))[:6])
        except Exception as exc:  # a failed build is a failed sample, recorded with its error
            row.update(one_solid=False, certificate=False, sim_ready=False, error=f"{type(exc).__name__}: {exc}")
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
    return rows


@eval_app.command("generator")
def generator(
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="corpus folder (test split references; needed "
                                                                 "for the categories that are not procedural)"),
    category: List[str] = typer.Option([], "--category", help="categories (default: procedural families "
                                                               "and random_urdf)"),
    n: int = typer.Option(16, "-n", help="samples per category"),
    refs: int = typer.Option(16, "--refs", help="reference shapes per category"),
    validity: int = typer.Option(4, "--validity", help="samples per category built through the pipeline"),
    coarse_box: int = typer.Option(0, "--coarse-box", help="samples from a box blockout per category"),
    points: int = typer.Option(2048, "--points", help="points per shape"),
    structure_cfg: Optional[float] = typer.Option(None, "--structure-cfg", help="structure stage's CFG scale "
                                                                                 "(default: DEFAULT_SAMPLING's)"),
    smoothing: Optional[float] = typer.Option(None, "--smoothing", help="surface smoothing, voxels (default "
                                                                         "n4d4d.generator.solid.SMOOTHING_VOXELS)"),
    structure_sigma: Optional[float] = typer.Option(None, "--structure-sigma", help="Gaussian filter of the "
                                                    "structure field, latent cells (0: none; default: "
                                                    "DEFAULT_SAMPLING's)"),
    structure_threshold: Optional[float] = typer.Option(None, "--structure-threshold", help="structure field "
                                                        "threshold (default: DEFAULT_SAMPLING's)"),
    min_cells: Optional[int] = typer.Option(None, "--structure-min-cells", help="fewest latent cells a sampled "
                                            "structure keeps (0: no floor; default: DEFAULT_SAMPLING's)"),
    bridge: Optional[float] = typer.Option(None, "--bridge", help="longest break in a decoded sample closed by a "
                                                                 "neck, voxels (0: none; default "
                                                                 "n4d4d.generator.solid.BRIDGE_VOXELS)"),
    fallback_sigma: List[float] = typer.Option([], "--fallback-sigma", help="structure sigmas tried in turn "
                                               "when a sample decodes as several solids (repeat; default: "
                                               "DEFAULT_SAMPLING's)"),
    seed: int = typer.Option(0, "--seed", help="first sample seed (validation: 100)"),
    ref_seed: int = typer.Option(1000, "--ref-seed", help="first reference seed of a procedural family "
                                                          "(>= 1000: the corpus holds seeds 0-99; validation: 1100)"),
    structure: Optional[Path] = typer.Option(None, "--structure", help="structure flow checkpoint (default: "
                                                                       "the shipped one)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write everything here"),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads"),
) -> None:
    """Score generated shapes per category: MMD/COV/1-NNA-CD, validity, sim-ready share, LP-IoU."""
    from rich.console import Console
    from rich.table import Table

    from n4d4d.asset import Mesh
    from n4d4d.errors import InputError, N4d4dError
    from n4d4d.generator.corpus import Corpus
    from n4d4d.generator.evaluate import blockout_metrics, generation_metrics, unit_cube_points
    from n4d4d.generator.generate import (DEFAULT_SAMPLING, FlowGenerator, default_generator, generate,
                                          generation_defaults, mesh_volume)
    from n4d4d.generator.latents import coarse_grid, structure_grid
    from n4d4d.generator.procedural import box, families
    from n4d4d.io.atomic import atomic_write_text

    console = Console(stderr=True)
    set_torch_threads(threads)
    try:
        if ref_seed < 1000:
            raise InputError(f"--ref-seed {ref_seed}: procedural seeds below 1000 may be training shapes")
        g = default_generator() if structure is None else FlowGenerator.load(structure=structure)
        c = Corpus(corpus) if corpus is not None else None
        cats = [g.category_index(x)[0] for x in category] or (
            [f for f in families() if f in g.categories] + (["random_urdf"] if c is not None else []))
    except N4d4dError as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2)
    sampling = DEFAULT_SAMPLING if smoothing is None else dataclasses.replace(DEFAULT_SAMPLING, smoothing=smoothing)
    if structure_cfg is not None:
        sampling = dataclasses.replace(sampling, structure=dataclasses.replace(sampling.structure,
                                                                               cfg_scale=structure_cfg))
    if structure_sigma is not None:
        sampling = dataclasses.replace(sampling, structure_sigma=structure_sigma)
    if structure_threshold is not None:
        sampling = dataclasses.replace(sampling, threshold=structure_threshold)
    if bridge is not None:
        sampling = dataclasses.replace(sampling, bridge=bridge)
    if min_cells is not None:
        sampling = dataclasses.replace(sampling, min_cells=min_cells)
    if fallback_sigma:
        sampling = dataclasses.replace(sampling, fallback_sigmas=tuple(x for x in fallback_sigma if x > 0))
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="n4d4d-evalgen-"))
    for cat in cats:
        t0 = time.perf_counter()
        try:
            ref = [unit_cube_points(m, points, seed=i) for i, m in enumerate(_references(cat, c, refs, ref_seed))]
        except N4d4dError as exc:
            console.print(f"error: {exc}")
            raise typer.Exit(2)
        empty = []  # seeds whose sample decoded to nothing: invalid, counted, not scored

        def note_empty(seed, exc, cat=cat, empty=empty):
            empty.append(int(seed))
            console.print(f"note: {cat} seed {seed}: empty sample, counted invalid ({exc})")

        samples = generate(cat, seed, n, sampling=sampling, generator=g, skip_empty=True, on_empty=note_empty)
        gen = [unit_cube_points(s.mesh, points, seed=s.seed) for s in samples]
        scored = generation_metrics(gen, ref) if len(ref) >= 2 and gen else {"n_gen": len(gen), "n_ref": len(ref)}
        row = {"category": cat, **scored, "empty": empty,
               "several_solids": int(sum(s.solid.get("solids", 1) > 1 for s in samples)),
               "fallbacks": int(sum("fallback_sigma" in s.solid for s in samples)),
               "watertight": float(sum(s.mesh.to_trimesh(process=True).is_watertight for s in samples) / n),
               "sample_s": float(np.median([sum(s.seconds.values()) for s in samples])) if samples else None}
        if validity:
            with generation_defaults(g, sampling):  # the builds sample with this run's model and settings
                v = _validity(cat, range(seed, seed + validity), tmp)
            row["builds"] = v
            for k in ("one_solid", "certificate", "sim_ready"):
                row[k] = float(np.mean([r[k] for r in v]))
            row["validity"] = float(np.mean([r["one_solid"] and r["certificate"] for r in v]))
        if coarse_box:
            lo, hi = np.array([-0.15, -0.1, 0.0]), np.array([0.15, 0.1, 0.25])
            blk = Mesh.from_trimesh(box(lo, hi))
            _, cells = mesh_volume(blk)
            target = coarse_grid(structure_grid(cells))
            cs = [s.cells for s in generate(cat, 0, coarse_box, coarse=blk, sampling=sampling, generator=g,
                                            skip_empty=True, on_empty=note_empty)]
            if cs:
                row.update(blockout_metrics(cs, target))
        row["seconds"] = round(time.perf_counter() - t0, 1)
        results.append(row)
        console.print(json.dumps({k: v for k, v in row.items() if k != "builds"}))
    table = Table(title="flow generator (R = 128)")
    cols = ["category", "n_gen", "n_ref", "mmd_cd", "cov_cd", "nna_cd", "watertight", "one_solid", "certificate",
            "sim_ready", "lp_iou", "div_iou", "sample_s"]
    for col in cols:
        table.add_column(col)
    for r in results:
        table.add_row(*[f"{r[k]:.4g}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in cols])
    Console().print(table)
    if json_out:
        atomic_write_text(json_out, json.dumps({"targets": TARGETS, "rows": results}, indent=1))
