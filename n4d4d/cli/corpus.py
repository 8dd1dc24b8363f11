"""``n4d4d corpus build SOURCES... -o DIR``: the generator's corpus of sparse SDF volumes;
``n4d4d corpus duplicates DIR``: its near-duplicate groups and the test / val shapes that have a
near-duplicate in train.

Sources: mesh folders or files, URDF files, ``pybullet_data`` and ``procedural[:N]``
(see :mod:`n4d4d.generator.corpus`). ``build`` prints one line per failed shape and a summary; an
existing corpus in DIR is resumed (volumes already written are kept). ``duplicates`` only reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from n4d4d.cli.app import app

corpus_app = typer.Typer(help="Training corpora of sparse SDF volumes for the generator.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")


@corpus_app.command("build")
def build(
    sources: List[str] = typer.Argument(..., help="mesh folders / files, URDFs, 'pybullet_data', 'procedural[:N]'"),
    out: Path = typer.Option(..., "-o", "--out", help="corpus folder (manifest.json, r064/, r128/, parts/)"),
    resolution: List[int] = typer.Option([64, 128], "--resolution", "-r", help="grid resolution; repeat for several"),
    procedural_per_family: int = typer.Option(40, "--procedural-per-family", help="seeds per family for 'procedural'"),
    band_voxels: float = typer.Option(2.0, "--band-voxels", help="narrow-band half-width, voxels"),
    limit: Optional[int] = typer.Option(None, help="keep only the first N shapes (quick builds)"),
    duplicate_threshold: Optional[float] = typer.Option(
        None, "--duplicate-threshold", help="occupancy IoU above which shapes share a split (default 0.93)"),
) -> None:
    """Build (or resume) a corpus: sparse SDFs at each resolution, a manifest, a fixed split."""
    import time

    from rich.console import Console

    from n4d4d.errors import N4d4dError
    from n4d4d.generator.corpus import Corpus, build_corpus

    console = Console(stderr=True)
    t0 = time.perf_counter()
    last = [0.0]

    def progress(i: int, n: int, shape_id: str) -> None:
        now = time.perf_counter()
        if now - last[0] > 10 or i == n - 1:
            last[0] = now
            console.print(f"[{i + 1}/{n}] {shape_id}  ({now - t0:.0f} s)")

    try:
        manifest = build_corpus(sources, out, tuple(resolution), procedural_per_family=procedural_per_family,
                                band_voxels=band_voxels, limit=limit, duplicate_threshold=duplicate_threshold,
                                progress=progress)
    except (N4d4dError, ValueError) as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2)
    for f in manifest["failed"]:
        console.print(f"failed: {f['id']}: {f['error']}")
    s = Corpus(out).summary()
    mb = ", ".join(f"R={r}: {b / 2**20:.1f} MiB" for r, b in s["bytes"].items())
    groups = manifest["near_duplicates"]["groups"]
    typer.echo(f"{s['shapes']} shapes ({s['failed']} failed) in {time.perf_counter() - t0:.0f} s; "
               f"split {s['counts']}; {len(s['categories'])} categories; {mb}; "
               f"{len(groups)} near-duplicate groups ({sum(map(len, groups))} shapes)")


@corpus_app.command("duplicates")
def duplicates(
    corpus: Path = typer.Argument(..., help="corpus folder (manifest.json)"),
    split: List[str] = typer.Option(["test", "val"], "--split", help="splits to check against --reference"),
    reference: str = typer.Option("train", help="the split a near-duplicate must not be in"),
    threshold: Optional[float] = typer.Option(None, help="occupancy IoU threshold (default 0.93)"),
    resolution: Optional[int] = typer.Option(None, help="volumes to fingerprint (default 64)"),
    symmetries: bool = typer.Option(False, help="max IoU over the 48 rotations / reflections (48x slower)"),
    histogram: bool = typer.Option(False, help="print each shape's best IoU with any other, as a histogram"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the leaks and groups here"),
) -> None:
    """List the shapes of --split with a near-duplicate in --reference (best IoU), and the groups."""
    import time

    from rich.console import Console

    from n4d4d.generator import duplicates as dup
    from n4d4d.generator.corpus import Corpus

    console = Console(stderr=True)
    t0 = time.perf_counter()
    try:
        c = Corpus(corpus)
    except ValueError as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2)
    thr = dup.IOU_THRESHOLD if threshold is None else threshold
    last = [0.0]

    def progress(i: int, n: int, shape_id: str) -> None:
        if time.perf_counter() - last[0] > 15:
            last[0] = time.perf_counter()
            console.print(f"fingerprints [{i + 1}/{n}] ({last[0] - t0:.0f} s)")

    ids, fps, res = dup.corpus_fingerprints(c, resolution, progress=progress)
    t_fp = time.perf_counter() - t0
    t1 = time.perf_counter()
    iou = dup.pairwise_iou(fps)
    np.fill_diagonal(iou, 0.0)
    i, j = np.nonzero(np.triu(iou > thr, 1))
    groups = dup.duplicate_groups(ids, list(zip(i, j, iou[i, j])))
    t_pairs = time.perf_counter() - t1
    typer.echo(f"{len(ids)} shapes at R = {res}: fingerprints {t_fp:.0f} s, all pairs {t_pairs:.1f} s; "
               f"{len(i)} pairs above IoU {thr:g} in {len(groups)} groups ({sum(map(len, groups))} shapes)")
    if histogram:
        kind = {e["id"]: ("random_urdf" if e["category"] == "random_urdf" else e["kind"]) for e in c.manifest["shapes"]}
        bins = [0, 0.5, 0.7, 0.8, 0.85, 0.9, 0.92, 0.93, 0.94, 0.95, 0.97, 0.99, 1.0001]
        typer.echo("best IoU with any other shape; bins " + " ".join(f"{b:g}" for b in bins[:-1]) + " 1")
        for k in sorted(set(kind.values())):
            m = np.array([kind[x] == k for x in ids])
            best = iou[m].max(axis=1)
            q = np.quantile(best, [0.5, 0.9, 0.95, 0.99])
            typer.echo(f"  {k:12s} n={int(m.sum()):5d} counts {np.histogram(best, bins)[0].tolist()} "
                       f"median {q[0]:.3f} p90 {q[1]:.3f} p95 {q[2]:.3f} p99 {q[3]:.3f}")
    splits = {e["id"]: e["split"] for e in c.manifest["shapes"]}
    sp = [splits[x] for x in ids]
    report = {"resolution": res, "threshold": thr, "symmetries": symmetries, "groups": groups, "leaks": {}}
    for s in split:
        rows = dup.cross_split_duplicates(ids, sp, fps, s, reference, threshold=thr, symmetries=symmetries)
        report["leaks"][s] = rows
        typer.echo(f"{s}: {len(rows)} of {sp.count(s)} shapes have a near-duplicate in {reference}")
        for r in rows:
            typer.echo(f"  {r['iou']:.3f}  {r['id']}  ~  {r['match']}")
    if json_out:
        import json

        from n4d4d.io.atomic import atomic_write_text

        atomic_write_text(json_out, json.dumps(report, indent=1))
