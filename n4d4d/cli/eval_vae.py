"""``n4d4d eval vae [MESH...]``: reconstruction figures of the sparse SDF VAE.

With mesh files: each is turned into a sparse SDF at ``--resolution`` and reconstructed. Without:
the ``--split`` (default test) of ``--corpus``. Prints one line per shape and a table of means
(Chamfer-L1, F-score at 1% of the diagonal, normal consistency, volume IoU, watertight and
single-volume fractions) against the issue's targets; ``--json`` writes rows and summary.
Corpus shapes with a near-duplicate in train are dropped (``--keep-near-duplicates`` keeps them;
see :mod:`n4d4d.generator.duplicates`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from n4d4d.cli.app import eval_app, set_torch_threads
from n4d4d.generator.codec import MIN_SHELL_FRACTION

#: Targets at R = 128 (issue 6): F-score >= 0.9 and >= 99% watertight single-volume meshes (for
#: a reference of one solid: a reference of several solids is faithfully decoded as several).
TARGETS = {"fscore": 0.9, "watertight": 0.99, "single_volume_of_single_solid_refs": 0.99}


@eval_app.command("vae")
def vae(
    meshes: List[Path] = typer.Argument(None, help="mesh files (default: the corpus split)"),
    checkpoint: Optional[Path] = typer.Option(None, help="SS-VAE checkpoint (default: the shipped one)"),
    corpus: Optional[Path] = typer.Option(None, help="corpus folder, when no meshes are given"),
    split: str = typer.Option("test", help="corpus split: train, val, test"),
    resolution: int = typer.Option(128, help="grid resolution"),
    limit: Optional[int] = typer.Option(None, help="evaluate only the first N shapes"),
    points: int = typer.Option(50_000, help="surface samples per mesh"),
    min_shell_fraction: float = typer.Option(MIN_SHELL_FRACTION, "--min-shell-fraction",
                                             help="drop decoded shells under this fraction of the largest's volume "
                                                  "(0 keeps all)"),
    prune_threshold: float = typer.Option(0.0, "--prune-threshold",
                                          help="keep decoded voxels whose pruning logit exceeds this"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write rows and summary here"),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads"),
    exclude_near_duplicates: bool = typer.Option(
        True, "--exclude-near-duplicates/--keep-near-duplicates",
        help="corpus split: drop shapes with a near-duplicate in train (occupancy IoU > 0.93)"),
) -> None:
    """Reconstruct shapes with the SS-VAE and report Chamfer-L1, F-score, NC, IoU, watertightness."""
    from rich.console import Console
    from rich.table import Table

    from n4d4d.errors import N4d4dError
    from n4d4d.generator.checkpoint import default_checkpoint, load_vae
    from n4d4d.generator.metrics import evaluate_volumes, summarise

    console = Console(stderr=True)
    set_torch_threads(threads)
    try:
        model = load_vae(checkpoint or default_checkpoint())
        if meshes:
            from n4d4d.io.load import load_mesh
            from n4d4d.volume import compute_sparse_sdf

            names = [str(m) for m in meshes]
            volumes = (compute_sparse_sdf(load_mesh(m), resolution=resolution, path=m) for m in meshes)
        else:
            if corpus is None:
                console.print("error: give MESH files or --corpus DIR")
                raise typer.Exit(2)
            from n4d4d.generator.corpus import Corpus

            c = Corpus(corpus)
            entries = c.entries(split, resolution)
            if exclude_near_duplicates and split != "train":
                from n4d4d.generator.duplicates import corpus_leaks

                leaked = {r["id"] for r in corpus_leaks(c, split, "train")}
                kept = [e for e in entries if e["id"] not in leaked]
                console.print(f"dropped {len(entries) - len(kept)} of {len(entries)} {split} shapes with a "
                              "near-duplicate in train (--keep-near-duplicates keeps them)")
                entries = kept
            entries = entries[:limit]
            if not entries:
                console.print(f"error: corpus {corpus} has no {split} shapes at resolution {resolution}")
                raise typer.Exit(2)
            names = [e["id"] for e in entries]
            volumes = (c.load(e, resolution) for e in entries)

        def progress(name: str, row: dict) -> None:
            if "error" in row:
                typer.echo(f"{name}: FAILED {row['error']}", err=True)
            else:
                typer.echo(f"{name}: F={row['fscore']:.3f} CD={row['chamfer_l1_rel']:.4f} "
                           f"NC={row['normal_consistency']:.3f} IoU={row['iou']:.3f} "
                           f"watertight={row['watertight']} solids={row['solids']}/{row['ref_solids']} "
                           f"(eroded {row['ref_solids_eroded']}) "
                           f"codec={row['seconds_codec']:.2f}s", err=True)

        rows = evaluate_volumes(model, volumes, names=names, n_points=points, progress=progress,
                                min_shell_fraction=min_shell_fraction, prune_threshold=prune_threshold)
    except (N4d4dError, ValueError) as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2)
    summary = summarise(rows)
    clean = f", shells < {min_shell_fraction:g} of the largest dropped" if min_shell_fraction > 0 else ""
    table = Table(title=f"SS-VAE reconstruction, R = {resolution}, {summary['n']} shapes{clean}")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("target", justify="right")
    for k in ("chamfer_l1_rel", "fscore", "normal_consistency", "iou", "watertight", "single_volume",
              "single_volume_of_single_solid_refs", "single_volume_of_robust_single_solid_refs",
              "solids_match", "seconds_codec", "seconds_surface"):
        if k in summary:
            t = TARGETS.get(k)
            mark = "" if t is None else (f">= {t} " + ("ok" if summary[k] >= t else "MISSED"))
            table.add_row(k, f"{summary[k]:.4f}", mark)
    Console().print(table)
    if "robust_single_solid_refs" in summary:
        Console().print(f"references of one solid: {summary['single_solid_refs']}, of which "
                        f"{summary['robust_single_solid_refs']} are still one solid a quarter voxel inwards (robust)")
    if json_out:
        from n4d4d.io.atomic import atomic_write_text

        atomic_write_text(json_out, json.dumps({"resolution": resolution, "min_shell_fraction": min_shell_fraction,
                                                "prune_threshold": prune_threshold,
                                                "summary": summary, "rows": rows}, indent=1))
