"""``n4d4d eval rigging [PATH...]``: score joint and skeleton inference against ground truth.

Paths may be URDF files, PartNet-Mobility folders (holding ``mobility.urdf``) and skinned
glTF / GLB files; with none, the development set in ``../shared/data`` and pybullet_data's
robots are used. Prints a rich table (per object and pooled per track, with the issue's
targets) and exits 0 when the run completes, whatever the scores. Method and metric
definitions: :mod:`n4d4d.rigging.harness`, :mod:`n4d4d.rigging.metrics`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from n4d4d.cli.app import eval_app


@eval_app.command("rigging")
def eval_rigging(
    paths: Optional[List[Path]] = typer.Argument(None, help="URDF files, PartNet-Mobility folders, skinned glTF/GLB"),
    seed: int = typer.Option(0, help="seed of every sampler"),
    time_budget: float = typer.Option(120.0, help="joint-inference budget per object and track (s)"),
) -> None:
    """Infer joints (kept-parts and merged-mesh tracks) and skeletons, and print the metrics."""
    from rich.console import Console

    from n4d4d.rigging.harness import default_paths, evaluate, render_table

    console = Console(width=200)  # the table is wide; never wrap it to a narrow pipe
    todo = list(paths) if paths else default_paths()
    missing = [p for p in todo if not Path(p).exists()]
    if missing:
        console.print(f"[red]not found: {', '.join(map(str, missing))}[/red]")
        raise typer.Exit(2)
    results = evaluate(todo, seed=seed, time_budget_s=time_budget)
    console.print(render_table(results))
