"""``n4d4d validate FILE...``: check USD, URDF and MJCF files (n4d4d's or anyone's) before a
simulator loads them: OpenUSD's and SimReady's validators, the SimReady physics rules that need
no GPU, mass and inertia sanity, link overlap and rest in PyBullet and Newton, and cross-format
agreement when a folder holds several formats (:mod:`n4d4d.validate`).

Prints one table per file (rule, verdict, first reason) or, with ``--json``, one JSON document
(a list of file reports). Exit status 1 when any check fails, 2 when no file was given.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from n4d4d.cli.app import app


@app.command()
def validate(
    files: List[Path] = typer.Argument(..., help="USD (.usd .usda .usdc .usdz), URDF or MJCF (.xml) files, "
                                                 "or folders holding them"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document instead of tables"),
    physics: bool = typer.Option(True, "--physics/--no-physics",
                                 help="run the overlap and rest checks in PyBullet and Newton"),
    seed: int = typer.Option(0, "--seed", help="seed of the rest check's tilt"),
) -> None:
    """Validate simulator files: USD/SimReady rules, mass sanity, rest in two engines."""
    import json

    from n4d4d.validate import validate_paths

    reports = validate_paths(files, physics=physics, seed=seed)
    if not reports:
        typer.echo("no USD, URDF or MJCF file found", err=True)
        raise typer.Exit(2)
    if json_out:
        typer.echo(json.dumps([r.to_json() for r in reports], indent=1))
    else:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        for r in reports:
            table = Table(title=f"{r.path} ({r.format}): {'PASSED' if r.passed else 'FAILED'}",
                          title_justify="left")
            table.add_column("rule")
            table.add_column("engine")
            table.add_column("result")
            table.add_column("first reason", overflow="fold")
            for c in r.checks:
                more = f" (+{len(c.reasons) - 1} more)" if len(c.reasons) > 1 else ""
                table.add_row(c.name, c.engine, "pass" if c.passed else "[red]FAIL[/red]",
                              (c.reasons[0] + more) if c.reasons else "")
            console.print(table)
            for n in r.notes:
                console.print(f"  note: {n}", highlight=False)
    if not all(r.passed for r in reports):
        raise typer.Exit(1)
