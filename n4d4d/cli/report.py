"""``n4d4d report DIR...``: (re)write ``report.html`` and pictures without rebuilding.

``DIR`` is an asset folder (it holds ``report.json``): its report is written from its files. Or
it is a batch folder (``n4d4d build -o DIR``): every asset folder under it (``*/`` and
``rejected/*/``) gets its report, then ``DIR/index.html`` is written. One unreadable folder
never stops the others; the exit code is 0 only when every report was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from n4d4d.cli.app import app


@app.command()
def report(
    dirs: List[Path] = typer.Argument(..., help="asset folders (with report.json) or batch output folders"),
    index_only: bool = typer.Option(False, "--index-only", help="batch folders: write index.html only, "
                                    "keep the assets' reports as they are"),
) -> None:
    """Write report.html (renders, plots, checks) for finished builds, and index.html per batch."""
    import time

    from rich.console import Console
    from rich.text import Text

    from n4d4d.errors import N4d4dError
    from n4d4d.report.html import write_asset_report
    from n4d4d.report.index import asset_folders, write_index

    console = Console(stderr=True)
    failures = 0
    for d in dirs:
        if not d.is_dir():
            console.print(Text.assemble(("error", "red"), f" {d}: not a folder"))
            failures += 1
            continue
        batch = not (d / "report.json").is_file()
        folders = asset_folders(d) if batch else [d]
        if batch and not folders:
            console.print(Text.assemble(("error", "red"), f" {d}: no report.json in it or in its sub-folders"))
            failures += 1
            continue
        for f in ([] if batch and index_only else folders):
            t0 = time.perf_counter()
            try:
                page = write_asset_report(f)
            except N4d4dError as exc:
                console.print(Text.assemble(("error", "red"), f" {exc}"))
                failures += 1
                continue
            console.print(Text.assemble(("report", "green"), f" {page} ({time.perf_counter() - t0:.1f} s)"))
        if batch:
            console.print(Text.assemble(("index", "green"), f" {write_index(d)}"))
    raise typer.Exit(1 if failures else 0)
