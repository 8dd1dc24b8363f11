"""``n4d4d corpus build SOURCES... -o DIR``: the generator's corpus of sparse SDF volumes.

Sources: mesh folders or files, URDF files, ``pybullet_data`` and ``procedural[:N]``
(see :mod:`n4d4d.generator.corpus`). Prints one line per failed shape and a summary; an existing
corpus in DIR is resumed (volumes already written are kept).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

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
                                band_voxels=band_voxels, limit=limit, progress=progress)
    except (N4d4dError, ValueError) as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2)
    for f in manifest["failed"]:
        console.print(f"failed: {f['id']}: {f['error']}")
    s = Corpus(out).summary()
    mb = ", ".join(f"R={r}: {b / 2**20:.1f} MiB" for r, b in s["bytes"].items())
    typer.echo(f"{s['shapes']} shapes ({s['failed']} failed) in {time.perf_counter() - t0:.0f} s; "
               f"split {s['counts']}; {len(s['categories'])} categories; {mb}")
