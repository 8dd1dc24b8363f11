"""``n4d4d build INPUT... -o OUT/``: the main job on the command line.

One output folder per input (``OUT/<name>/``: asset.usda, report.json, ...), a progress bar
over the stages, one line per asset, and exit code 0 only when every asset passed. One bad
input never stops the batch: its error is printed as one line naming the file and the
problem, and no folder (or a ``rejected/`` report) is left for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from n4d4d.cli.app import app


@app.command()
def build(
    inputs: List[Path] = typer.Argument(None, help="mesh files: OBJ, GLB/glTF, STL, PLY, OFF"),
    out: Path = typer.Option(Path("out"), "-o", "--out", help="output folder; one sub-folder per asset"),
    sample: List[str] = typer.Option([], "--sample", help="pybullet_data sample: duck, teddy, bunny, mug, random_urdfs/NNN"),
    height: Optional[float] = typer.Option(None, help="target height along Z, m"),
    longest_side: Optional[float] = typer.Option(None, "--longest-side", help="target longest side, m"),
    unit: Optional[str] = typer.Option(None, help="length unit of the file: mm, cm, m, in"),
    up: Optional[str] = typer.Option(None, help="up axis of the file: y or z (default y for glTF, z otherwise)"),
    resolution: int = typer.Option(256, help="sparse SDF cells along the longest side"),
    max_faces: int = typer.Option(20_000, "--max-faces", help="face budget of the visual mesh"),
    remesh: str = typer.Option("auto", help="auto | always | never"),
    density: Optional[float] = typer.Option(None, help="kg/m^3 (default 500)"),
    mass: Optional[float] = typer.Option(None, help="total mass, kg (overrides density)"),
    rest_pose: str = typer.Option("auto", "--rest-pose", help="auto (turn a toppling asset into its nearest stable resting pose) | keep"),
    rig: str = typer.Option("auto", help="auto | articulated | skeletal | rigid"),
    joints: str = typer.Option("from-file", help="from-file | infer"),
    max_hulls: int = typer.Option(32, "--max-hulls", help="convex hulls per part"),
    max_hull_vertices: int = typer.Option(64, "--max-hull-vertices", help="vertices per hull"),
    decomposition_time_budget: float = typer.Option(60.0, "--decomposition-time-budget", help="CoACD seconds per part"),
    simulation_time_budget: float = typer.Option(60.0, "--simulation-time-budget", help="seconds for the physics checks"),
    memory_budget_gb: float = typer.Option(8.0, "--memory-budget-gb", help="memory allowed for the sparse volume, GiB"),
    seed: int = typer.Option(0, help="random seed (written into every output)"),
    formats: str = typer.Option("usda", "--formats", help="comma list: usda,usdc,urdf,mjcf,glb,3mf"),
    keep_failed: bool = typer.Option(False, "--keep-failed", help="export assets that fail the physics checks, marked FAILED"),
    workers: int = typer.Option(1, "--workers", help="assets built at once (processes, or Ray tasks)"),
    backend: str = typer.Option("local", "--backend", help="local | ray (pip install 'n4d4d[ray]')"),
    skip_existing: bool = typer.Option(False, "--skip-existing", help="skip inputs whose OUT/<name>/report.json exists"),
) -> None:
    """Build physics-validated, simulator-ready assets from mesh files or samples."""
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from n4d4d.errors import N4d4dError
    from n4d4d.options import BuildOptions
    from n4d4d.pipeline import STAGES
    from n4d4d.pipeline import build as build_asset

    console = Console(stderr=True)
    jobs = [("path", p) for p in (inputs or [])] + [("sample", s) for s in sample]
    if not jobs:
        console.print("error: give at least one INPUT file or --sample NAME")
        raise typer.Exit(2)
    try:
        opts = BuildOptions(
            height=height, longest_side=longest_side, unit=unit, up=up, resolution=resolution,
            max_faces=max_faces, remesh=remesh, density=density, mass=mass, rig=rig, joints=joints,
            rest_pose=rest_pose,
            max_hulls=max_hulls, max_hull_vertices=max_hull_vertices, seed=seed,
            decomposition_time_budget=decomposition_time_budget, simulation_time_budget=simulation_time_budget,
            memory_budget_gb=memory_budget_gb,
            formats=tuple(f.strip() for f in formats.split(",") if f.strip()))
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors())
        console.print(f"error: bad options: {msgs}")
        raise typer.Exit(2)

    if workers > 1 or backend != "local" or skip_existing:
        raise typer.Exit(_run_batch(jobs, out, opts, console, workers=workers, backend=backend,
                                    keep_failed=keep_failed, skip_existing=skip_existing))

    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        for kind, value in jobs:
            label = str(value)
            task = bar.add_task(f"{label}: load", total=len(STAGES))

            def progress(stage: str, event: str, task=task, label=label) -> None:
                if event == "start":
                    bar.update(task, description=f"{label}: {stage}")
                else:
                    bar.advance(task)

            try:
                kwargs = {"sample": value} if kind == "sample" else {"path": value}
                asset = build_asset(progress=progress, options=opts, **kwargs)
                folder = asset.save(out / asset.name, formats=opts.formats, keep_failed=keep_failed)
            except N4d4dError as exc:
                bar.remove_task(task)
                console.print(f"[red]error[/red] {exc}", markup=True, highlight=False, soft_wrap=True)
                results.append(False)
                continue
            except Exception as exc:  # one bad asset never stops a batch
                bar.remove_task(task)
                console.print(f"[red]internal error[/red] {label}: {type(exc).__name__}: {exc}",
                              markup=True, highlight=False, soft_wrap=True)
                results.append(False)
                continue
            bar.remove_task(task)
            seconds = sum(s.seconds for s in asset.stages)
            if asset.passed:
                usd = next(iter(sorted(folder.glob("asset.usd*"))), folder)
                console.print(f"[green]passed[/green] {asset.name}: {usd} ({seconds:.1f} s)",
                              markup=True, highlight=False, soft_wrap=True)
            else:
                reasons = "; ".join(map(str, (asset.physics or {}).get("reasons", []))) or "physics checks failed"
                console.print(f"[yellow]failed[/yellow] {asset.name}: {reasons} -> {folder}",
                              markup=True, highlight=False, soft_wrap=True)
            results.append(asset.passed)
    console.print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    raise typer.Exit(0 if all(results) else 1)


def _run_batch(jobs, out, opts, console, *, workers, backend, keep_failed, skip_existing) -> int:
    """Many inputs through :func:`n4d4d.scenarios.build_batch`, one line per finished asset."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from n4d4d.scenarios import build_batch

    if backend not in ("local", "ray"):
        console.print(f"error: unknown backend {backend!r} (local or ray)")
        return 2
    with Progress(TextColumn("assets"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("assets", total=len(jobs))

        def on_result(r):
            bar.advance(task)
            if r.error:
                console.print(f"[red]error[/red] {r.error}", markup=True, highlight=False, soft_wrap=True)
            else:
                state = "[green]passed[/green]" if r.passed else "[yellow]failed[/yellow]"
                console.print(f"{state} {r.name}: {r.folder} ({r.seconds:.1f} s)", markup=True,
                              highlight=False, soft_wrap=True)

        try:
            results = build_batch([(k, str(v)) for k, v in jobs], out, opts, workers=workers, backend=backend,
                                  keep_failed=keep_failed, skip_existing=skip_existing, on_result=on_result)
        except ImportError as exc:
            console.print(f"error: {exc}")
            return 2
    passed = sum(r.passed for r in results)
    console.print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1
