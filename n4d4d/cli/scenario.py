"""``n4d4d scenario run SPEC -o OUT``: build a scenario's assets, settle its scene, write the
scene USD and the manifest (:mod:`n4d4d.scenarios.run`).

Prints a live progress bar (assets done, failed, rate, ETA), one plain-text line per asset,
and at the end a summary: pass rate, failures by check, time per stage, settle figures.
``--dry-run`` prints the plan (names, sources, seeds, drawn values) and writes nothing. Exit
code: 0 when every asset passed, 1 when some failed, 2 for a bad spec or option (the message
names the file, line and field). User text (paths, names, errors) is printed as plain text,
never parsed as console markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from n4d4d.cli.app import app

scenario_app = typer.Typer(help="Scenario specs: many randomised assets, a settled scene.usda, a manifest.",
                           no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")


def _line(console, state: str, style: str, text: str) -> None:
    from rich.text import Text

    console.print(Text.assemble((state, style), " ", text), soft_wrap=True)


def print_plan(console, plan) -> None:
    """One plain line per planned build: role, name, source, seed, values drawn, instances."""
    for a in plan.assets:
        draws = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in a.draws.items())
        extra = f" x{a.instances}" if a.instances > 1 else ""
        _line(console, "plan", "cyan", f"{a.role} {a.name}{extra}: {a.label} seed={a.seed}" + (f" {draws}" if draws else ""))
    n_obj = sum(a.instances for a in plan.objects)
    console.print(f"{len(plan.assets)} builds ({len(plan.supports)} supports), {n_obj} placements per environment, "
                  f"{plan.spec.scene.envs} environments -> {plan.out}", markup=False, highlight=False)


def print_summary(console, summary: dict) -> None:
    """The end-of-run tables: verdicts, failures by check, seconds per stage, settle figures."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title="assets", title_justify="left")
    for c in ("assets", "passed", "failed", "pass rate"):
        t.add_column(c, justify="right")
    t.add_row(str(summary["assets"]), str(summary["passed"]), str(summary["failed"]), f"{100 * summary['pass_rate']:.1f}%")
    console.print(t)
    if summary["failures_by_check"]:
        f = Table(title="failures by check", title_justify="left")
        f.add_column("check")
        f.add_column("assets", justify="right")
        for name, count in summary["failures_by_check"].items():
            f.add_row(Text(name), str(count))
        console.print(f)
    s = Table(title="time per stage", title_justify="left")
    for c in ("stage", "total s", "mean s", "assets"):
        s.add_column(c, justify="left" if c == "stage" else "right")
    for name, v in summary["seconds_per_stage"].items():
        s.add_row(name, f"{v['total_s']:.1f}", "-" if v["mean_s"] is None else f"{v['mean_s']:.2f}", str(v["assets"]))
    console.print(s)
    st = summary["settle"]
    g = Table(title="settled scene", title_justify="left")
    g.add_column("figure")
    g.add_column("value", justify="right")

    def mm(x):
        return "-" if x is None else f"{1000 * x:.2f} mm"

    g.add_row("environments", str(st["envs"]))
    g.add_row("placed / left out", f"{st['placed']} / {st['left_out']}")
    g.add_row("all at rest", str(st["all_at_rest"]))
    g.add_row("max support gap (bound)", f"{mm(st['max_gap_m'])} ({mm(st['gap_bound_m'])})")
    g.add_row("max penetration (bound)", f"{mm(st['max_penetration_m'])} ({mm(st['penetration_bound_m'])})")
    g.add_row("over the gap / penetration bound", f"{st['over_gap_bound']} / {st['over_penetration_bound']}")
    g.add_row("Newton: max motion in 1 s", mm(st["newton_max_motion_1s_m"]))
    if st.get("newton_error"):
        g.add_row("Newton error", Text(st["newton_error"]))
    console.print(g)


@scenario_app.command("run")
def run(spec: Path = typer.Argument(..., help="scenario spec (YAML)"),
        out: Path = typer.Option(Path("out"), "-o", "--out", help="output folder: assets/, scene.usda, manifests"),
        workers: int = typer.Option(1, "--workers", min=1, help="assets built at once (processes, or Ray tasks)"),
        backend: str = typer.Option("local", "--backend", help="local | ray (needs ray: the n4d4d ray extra)"),
        ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to join (ray.init(address=...))"),
        dry_run: bool = typer.Option(False, "--dry-run", help="print what would be built; write nothing"),
        verify: bool = typer.Option(True, "--verify/--no-verify", help="load scene.usda in Newton, measure 1 s of motion"),
        ) -> None:
    """Build a scenario spec into OUT (resumes: complete, hash-verified assets are kept)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from n4d4d.errors import InputError
    from n4d4d.scenarios.plan import plan_scenario
    from n4d4d.scenarios.run import run_scenario
    from n4d4d.scenarios.spec import load_spec

    console = Console(stderr=True, highlight=False)
    if backend not in ("local", "ray"):
        console.print(f"error: unknown backend {backend!r} (local or ray)", markup=False)
        raise typer.Exit(2)
    try:
        parsed = load_spec(spec)
        plan = plan_scenario(parsed, out)
    except InputError as exc:
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(2)
    if dry_run:
        print_plan(console, plan)
        raise typer.Exit(0)
    with Progress(TextColumn("{task.fields[label]}", markup=False), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("{task.fields[failed]} failed"), TextColumn("{task.fields[rate]}"),
                  TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("", total=len(plan.assets), label="assets", failed=0, rate="")
        built = {"n": 0, "failed": 0, "seconds": 0.0}

        def on_result(r) -> None:
            built["failed"] += 0 if r.passed else 1
            if not r.skipped:
                built["n"] += 1
                built["seconds"] += r.seconds
            elapsed = bar.tasks[task].elapsed or 0.0
            rate = f"{3600 * built['n'] / elapsed:.0f} assets/h" if built["n"] and elapsed > 0 else ""
            bar.update(task, advance=1, failed=built["failed"], rate=rate)
            if r.error:
                _line(console, "error", "red", r.error)
            elif r.skipped:
                _line(console, "skipped", "cyan", f"{r.name}: {'passed' if r.passed else 'failed'} earlier")
            elif r.passed:
                _line(console, "passed", "green", f"{r.name} ({r.seconds:.1f} s)")
            else:
                _line(console, "failed", "yellow", f"{r.name}: {r.reasons or 'physics checks failed'}")
            for note in r.notes:
                _line(console, "note", "blue", note)

        def on_phase(name: str) -> None:
            if name != "build":
                bar.update(task, label=name)

        try:
            result = run_scenario(parsed, out, workers=workers, backend=backend, ray_address=ray_address,
                                  verify=verify, on_result=on_result, on_phase=on_phase)
        except ImportError as exc:
            console.print(f"error: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(2)
    print_summary(console, result.summary)
    console.print(f"scene: {result.scene}", markup=False)
    console.print(f"manifest: {result.files['assets']} ({result.files['assets_jsonl'].name}), "
                  f"{result.files['placements']}", markup=False)
    console.print(f"{result.summary['passed']} passed, {result.summary['failed']} failed", markup=False)
    raise typer.Exit(0 if result.summary["failed"] == 0 else 1)
