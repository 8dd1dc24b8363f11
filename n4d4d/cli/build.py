"""``n4d4d build INPUT... -o OUT/``: the main job on the command line.

One output folder per input (``OUT/<name>/``: asset.usda, report.json, ...), a progress bar
over the stages, one line per asset, and exit code 0 only when every asset passed. One bad
input never stops the batch: its error is printed as one line naming the file and the
problem, and no folder (or a ``rejected/`` report) is left for it.

The build options are not typed here: every field of :class:`n4d4d.options.BuildOptions`
becomes an option (``--max-faces`` for ``max_faces``) with its default, choices and help
text (:func:`build_option_parameters`). User text (paths, names, error messages) is printed
as plain text, never parsed as console markup.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any, List, Optional

import typer

from n4d4d.cli.app import app
from n4d4d.options import BuildOptions

#: Options of ``n4d4d build`` that are not build options (where the outputs go, batch control).
COMMAND_ONLY = ("inputs", "out", "sample", "generate", "count", "keep_failed", "workers", "backend", "skip_existing")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_option_parameters() -> list[inspect.Parameter]:
    """One keyword-only :class:`inspect.Parameter` with a ``typer.Option`` per field of
    :class:`BuildOptions`: same default, same choices (a ``Literal`` becomes a
    choice), help text from the field's description; ``bool`` fields become
    ``--x/--no-x`` flags and the ``formats`` tuple a comma list."""
    params = []
    for name, field in BuildOptions.model_fields.items():
        ann, default, help_text = field.annotation, field.default, field.description or ""
        args = typing.get_args(ann)
        optional = type(None) in args
        inner = next((a for a in args if a is not type(None)), ann) if optional else ann
        extra: dict[str, Any] = {}
        if typing.get_origin(inner) is typing.Literal:
            py_type: Any = Optional[inner] if optional else inner  # typer makes a click.Choice
            decls = [_flag(name)]
        elif inner is bool:
            py_type, decls = bool, [f"{_flag(name)}/--no-{name.replace('_', '-')}"]
        elif typing.get_origin(inner) is tuple:
            py_type, decls, default = str, [_flag(name)], ",".join(default)
            help_text += " (comma list)"
        else:
            py_type = Optional[inner] if optional else inner
            decls = [_flag(name)]
        option = typer.Option(default, *decls, help=help_text, show_default=default is not None, **extra)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=py_type))
    return params


def _build(inputs: List[Path], out: Path, sample: List[str], keep_failed: bool, workers: int,
           backend: str, skip_existing: bool, generate: Optional[str] = None, count: int = 1,
           **build_options: Any) -> None:
    """Build physics-validated, simulator-ready assets from mesh files, URDFs or samples."""
    from pydantic import ValidationError
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    jobs = [("path", str(p)) for p in (inputs or [])] + [("sample", s) for s in sample]
    if generate:  # shapes from the SSA generator, seeds --seed .. --seed + n - 1
        from n4d4d.sources import Generated

        seed0 = int(build_options.get("seed") or 0)
        jobs += [Generated(generate, seed=seed0 + i) for i in range(count)]
        if not jobs[:-count]:
            # generated shapes only: each one's later stages take its own sampling seed, as
            # n4d4d.build(Generated(category, seed)) does (with other inputs, --seed seeds them all)
            build_options.pop("seed", None)
    if not jobs:
        console.print("error: give at least one INPUT file, --sample NAME or --generate CATEGORY", markup=False)
        raise typer.Exit(2)
    if backend not in ("local", "ray"):
        console.print(f"error: unknown backend {backend!r} (local or ray)", markup=False)
        raise typer.Exit(2)
    try:
        opts = BuildOptions(**build_options)
    except ValidationError as exc:
        msgs = "; ".join(f"{_flag(str(e['loc'][0])) if e['loc'] else 'options'}: {e['msg']}" for e in exc.errors())
        console.print(f"error: bad options: {msgs}", markup=False)
        raise typer.Exit(2)
    raise typer.Exit(_run(jobs, out, opts, console, workers=workers, backend=backend,
                          keep_failed=keep_failed, skip_existing=skip_existing))


def _run(jobs, out, opts, console, *, workers, backend, keep_failed, skip_existing) -> int:
    """Every job through :func:`n4d4d.scenarios.build_batch` (in this process for one local
    worker, with a progress bar over the stages), one plain-text line per asset."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.text import Text

    from n4d4d.pipeline import STAGE_NAMES
    from n4d4d.scenarios import build_batch

    def line(state: str, style: str, text: str) -> None:
        console.print(Text.assemble((state, style), " ", text), soft_wrap=True)

    with Progress(TextColumn("{task.fields[label]}", markup=False), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        overall = bar.add_task("", total=len(jobs), label="assets")
        stage_task = bar.add_task("", total=len(STAGE_NAMES), label="", visible=False)

        def progress(label: str, stage: str, event: str) -> None:
            if event == "start":
                if stage == STAGE_NAMES[0]:
                    bar.reset(stage_task, total=len(STAGE_NAMES), visible=True)
                bar.update(stage_task, label=f"{label}: {stage}")
            else:
                bar.advance(stage_task)

        def on_result(r) -> None:
            bar.advance(overall)
            bar.update(stage_task, visible=False)
            if r.error:
                line("error", "red", r.error)
            elif r.skipped:
                line("skipped", "cyan", f"{r.name}: {'passed' if r.passed else 'failed'} earlier -> {r.folder}")
            elif r.passed:
                line("passed", "green", f"{r.name}: {r.main_file or r.folder} ({r.seconds:.1f} s)")
            else:
                line("failed", "yellow", f"{r.name}: {r.reasons or 'physics checks failed'} -> {r.folder}")
            if r.clips and not r.error:
                line("clips", "blue", f"{r.name}: {r.clips}")
            for note in r.notes:
                line("note", "blue", note)

        try:
            results = build_batch(jobs, out, opts, workers=workers, backend=backend, keep_failed=keep_failed,
                                  skip_existing=skip_existing, on_result=on_result,
                                  progress=progress if workers <= 1 and backend == "local" else None)
        except ImportError as exc:
            console.print(f"error: {exc}", markup=False)
            return 2
    if opts.report and any(r.folder for r in results):
        from n4d4d.report.index import write_index

        try:
            index = write_index(Path(out))
            console.print(Text.assemble(("index", "blue"), f" {index}"), soft_wrap=True)
        except Exception as exc:  # a view of the batch: never fails it
            console.print(Text.assemble(("warning", "yellow"), f" index.html not written: {exc}"), soft_wrap=True)
    passed = sum(r.passed for r in results)
    skipped = sum(r.skipped for r in results)
    console.print(f"{passed} passed, {len(results) - passed} failed"
                  + (f" ({skipped} skipped: built earlier)" if skipped else ""), markup=False)
    return 0 if passed == len(results) else 1


def _command_parameters() -> list[inspect.Parameter]:
    P = inspect.Parameter
    kw = P.KEYWORD_ONLY
    return [
        P("inputs", P.POSITIONAL_OR_KEYWORD, annotation=Optional[List[Path]],
          default=typer.Argument(None, help="mesh files (OBJ, GLB/glTF, STL, PLY, OFF) or URDFs")),
        P("out", kw, annotation=Path, default=typer.Option(Path("out"), "-o", "--out",
                                                           help="output folder; one sub-folder per asset")),
        P("sample", kw, annotation=List[str], default=typer.Option(
            [], "--sample", help="pybullet_data sample: duck, teddy, bunny, mug, random_urdfs/NNN")),
        P("generate", kw, annotation=Optional[str], default=typer.Option(
            None, "--generate", help="a category for the SSA generator (n4d4d generate --list): build -n samples")),
        P("count", kw, annotation=int, default=typer.Option(
            1, "-n", "--count", min=1, help="--generate: number of samples (seeds --seed, --seed + 1, ...)")),
        *build_option_parameters(),
        P("keep_failed", kw, annotation=bool, default=typer.Option(
            False, "--keep-failed", help="export assets that fail the physics checks, marked FAILED")),
        P("workers", kw, annotation=int, default=typer.Option(
            1, "--workers", min=1, help="assets built at once (processes, or Ray tasks)")),
        P("backend", kw, annotation=str, default=typer.Option(
            "local", "--backend", help="local | ray (the ray extra: pip install 'n4d4d\\[ray]')")),
        P("skip_existing", kw, annotation=bool, default=typer.Option(
            False, "--skip-existing", help="skip inputs whose OUT/<name>/ is complete (verified by the "
                                           "hashes in its report.json); stale temporaries are removed")),
    ]


def build(**kwargs: Any) -> None:
    """Build physics-validated, simulator-ready assets from mesh files, URDFs or samples."""
    _build(**kwargs)


build.__signature__ = inspect.Signature(_command_parameters())  # type: ignore[attr-defined]
app.command(name="build")(build)
