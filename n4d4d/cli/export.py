"""``n4d4d export ASSET_DIR... --formats ...``: re-export built assets without rebuilding them.

Each ``ASSET_DIR`` is a folder ``n4d4d build`` wrote; its canonical record (``asset.json`` +
``asset.npz``) is loaded (:meth:`n4d4d.Asset.load`) and saved again, atomically, in the formats
asked for: into the same folder (replacing it whole once the new one is complete), or into
``-o OUT/<name>/``. Nothing is recomputed, so the files are those a build with these formats
would have written. One line per folder; exit 0 only when every folder was exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from n4d4d.cli.app import app


@app.command()
def export(
    folders: List[Path] = typer.Argument(..., help="asset folders written by n4d4d build"),
    formats: str = typer.Option(..., "--formats", help="comma list: usda usdc urdf mjcf glb 3mf"),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="write OUT/<name>/ instead of replacing each folder"),
) -> None:
    """Re-export built assets in other formats from their saved records (no rebuild)."""
    from pydantic import ValidationError
    from rich.console import Console
    from rich.text import Text

    from n4d4d.asset import Asset
    from n4d4d.errors import N4d4dError
    from n4d4d.options import BuildOptions

    console = Console(stderr=True, highlight=False)
    try:
        wanted = BuildOptions(formats=formats).formats
    except ValidationError as exc:
        console.print(f"error: bad options: --formats: {exc.errors()[0]['msg']}", markup=False)
        raise typer.Exit(2)
    ok = 0
    for folder in folders:
        try:
            asset = Asset.load(folder)
            target = (out / asset.name) if out is not None else folder
            written = asset.save(target, formats=wanted, keep_failed=True)
        except N4d4dError as exc:
            console.print(Text.assemble(("error", "red"), f" {exc}"), soft_wrap=True)
            continue
        ok += 1
        console.print(Text.assemble(("exported", "green"), f" {asset.name}: {', '.join(wanted)} -> {written}"),
                      soft_wrap=True)
    console.print(f"{ok} exported, {len(folders) - ok} failed", markup=False)
    raise typer.Exit(0 if ok == len(folders) else 1)
