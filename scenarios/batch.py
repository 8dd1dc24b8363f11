"""Batch builds for datasets: many inputs, one folder each, on local processes or on Ray.

Every job builds and saves one asset in isolation (in this process for one local worker, a
fresh worker process, or a Ray task) and returns a :class:`BatchResult`; an error in one job
(bad file, budget exceeded, even a crash of a native library) is recorded in its result and
never stops the others. Output folders are written atomically by :meth:`n4d4d.Asset.save`,
so an interrupted batch leaves complete folders and nothing half-written; re-running with
``skip_existing=True`` resumes it: temporaries a killed run left are removed, and a folder
counts as done only when the file hashes its ``report.json`` records match the files.

Names are planned before any build (:func:`plan_names`): each job's asset name comes from its
source (:attr:`n4d4d.sources.Source.name`) or the ``name`` option, and jobs whose names
collide (``x y.obj`` and ``x_y.obj``, ``a/model.obj`` and ``b/model.obj``) get deterministic
suffixes ``_2``, ``_3`` in job order, with a note, so no folder is written twice.

This module schedules builds; it does not change what a build does (:mod:`n4d4d.pipeline`).
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Sequence, Union

from n4d4d.options import BuildOptions
from n4d4d.sources import Source, as_source

#: A job: ``("path", "/data/chair.obj")``, ``("sample", "random_urdfs/042")`` or a Source.
Job = Union[tuple[Literal["path", "sample"], str], Source]


@dataclass(frozen=True)
class BatchResult:
    """Outcome of one job.

    Attributes:
        job: the job as given.
        name: the asset name planned for it (its folder under the output folder).
        folder: the folder written (``OUT/<name>`` or ``OUT/rejected/<name>``), or None.
        passed: True when the asset passed its physics checks (read from its report.json
            for a skipped job).
        error: one line naming the file and the problem, or None.
        seconds: wall time of the job (s).
        skipped: True when a complete earlier output was found and kept.
        main_file: the main exported file (``asset.usda`` ...), or None.
        reasons: why the physics checks failed ("" when passed).
        notes: remarks for the user (a renamed collision, a stale temporary removed).
    """

    job: Job
    name: str
    folder: str | None
    passed: bool
    error: str | None
    seconds: float
    skipped: bool = False
    main_file: str | None = None
    reasons: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


def job_source(job: Job) -> Source:
    """The :class:`~n4d4d.sources.Source` of a job."""
    if isinstance(job, Source):
        return job
    kind, value = job
    return as_source(sample=value) if kind == "sample" else as_source(value)


def job_name(job: Job, options: BuildOptions | None = None) -> str:
    """The asset name a job gets by itself (before collisions are resolved): the ``name``
    option, else its source's name."""
    from n4d4d.sources import safe_asset_name

    if options is not None and options.name:
        return safe_asset_name(options.name)
    return job_source(job).name


def plan_names(jobs: Sequence[Job], options: BuildOptions | None = None) -> tuple[list[str], list[tuple[str, ...]]]:
    """Distinct asset names for ``jobs`` and a note per job that was renamed.

    Returns ``(names, notes)``: the first job keeping a name keeps it, later ones get
    ``NAME_2``, ``NAME_3``... (skipping names already taken by other jobs), deterministic for
    a given job order. Names are compared case-insensitively, since two folders that differ
    only in case are one folder on macOS and Windows.
    """
    wanted = [job_name(j, options) for j in jobs]
    taken = {n.lower() for n in wanted}
    used: set[str] = set()
    names, notes = [], []
    for job, name in zip(jobs, wanted):
        if name.lower() not in used:
            used.add(name.lower())
            names.append(name)
            notes.append(())
            continue
        k = 2
        while f"{name}_{k}".lower() in used or f"{name}_{k}".lower() in taken:
            k += 1
        new = f"{name}_{k}"
        used.add(new.lower())
        names.append(new)
        notes.append((f"{job_source(job).label}: its name '{name}' is taken by an earlier input; written as '{new}'",))
    return names, notes


def remove_stale_temporaries(out_dir: Path, name: str) -> list[str]:
    """Delete the temporary folders a killed build of ``name`` left in ``out_dir`` (and in
    ``out_dir/rejected``): ``.NAME.tmp.*`` and ``.NAME.old.*`` made by
    :func:`n4d4d.io.atomic.atomic_dir`. Returns the names removed. Call it only when no
    other process is writing ``name``."""
    removed = []
    for parent in (out_dir, out_dir / "rejected"):
        if not parent.is_dir():
            continue
        for pattern in (f".{name}.tmp.*", f".{name}.old.*"):
            for p in parent.glob(pattern):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(str(p.relative_to(out_dir)))
    return removed


def completed_output(out_dir: Path, name: str) -> tuple[Path, dict] | None:
    """The finished folder of ``name`` and its report, or None when there is none or it is
    incomplete: ``OUT/<name>/report.json`` (or ``OUT/rejected/<name>/report.json``) must parse
    and every file its ``files_sha256`` lists must exist with that SHA-256."""
    from n4d4d.io.load import sha256_file

    for folder in (out_dir / name, out_dir / "rejected" / name):
        report_path = folder / "report.json"
        if not report_path.is_file():
            continue
        try:
            report = json.loads(report_path.read_text())
        except (OSError, ValueError):
            return None
        hashes = report.get("files_sha256")
        if not isinstance(hashes, dict):
            return None
        for rel, digest in hashes.items():
            f = folder / rel
            if not f.is_file() or sha256_file(f) != digest:
                return None
        return folder, report
    return None


def _summary(report: dict) -> tuple[str | None, str]:
    files = report.get("files") or {}
    main = next((files[k] for k in ("usda", "usdc", "urdf", "mjcf", "glb", "3mf") if k in files), None)
    reasons = "; ".join(map(str, (report.get("physics") or {}).get("reasons") or []))
    return main, reasons


def build_one(job: Job, out_dir: str, options: dict, keep_failed: bool = False, name: str | None = None,
              progress: Callable[[str, str], None] | None = None) -> BatchResult:
    """Build and save one job as ``name`` (default: its own); never raises (errors go into
    the result)."""
    from n4d4d.errors import N4d4dError
    from n4d4d.pipeline import build

    t0 = time.perf_counter()
    source = None
    try:
        source = job_source(job)
        opts = BuildOptions(**options)
        if name is not None and name != job_name(job, opts):
            opts = opts.model_copy(update={"name": name})
        asset = build(source, options=opts, progress=progress)
        folder = asset.save(Path(out_dir) / asset.name, formats=opts.formats, keep_failed=keep_failed)
        from n4d4d.exporters import FILE_NAMES

        main = next((str(folder / FILE_NAMES[f]) for f in FILE_NAMES if (folder / FILE_NAMES[f]).is_file()),
                    None)  # none in rejected/
        reasons = "; ".join(map(str, (asset.physics or {}).get("reasons", [])))
        return BatchResult(job, asset.name, str(folder), asset.passed, None, time.perf_counter() - t0,
                           main_file=main, reasons=reasons)
    except N4d4dError as exc:
        return BatchResult(job, name or "", None, False, str(exc), time.perf_counter() - t0)
    except Exception as exc:  # one bad asset never stops a batch
        label = source.label if source is not None else str(job)
        return BatchResult(job, name or "", None, False, f"{label}: internal error {type(exc).__name__}: {exc}",
                           time.perf_counter() - t0)


def build_batch(jobs: Sequence[Job], out_dir: str | Path, options: BuildOptions | None = None, *,
                workers: int = 1, backend: Literal["local", "ray"] = "local", keep_failed: bool = False,
                skip_existing: bool = False,
                on_result: Callable[[BatchResult], None] | None = None,
                progress: Callable[[str, str, str], None] | None = None) -> list[BatchResult]:
    """Build every job into ``out_dir/<name>/``; results in the order of ``jobs``.

    Args:
        jobs: inputs, see :data:`Job`.
        out_dir: the dataset folder.
        options: build options shared by all jobs (default: :class:`BuildOptions` defaults).
        workers: local worker processes (``spawn`` context: each starts clean); 1 builds in
            this process. On Ray, the number of tasks in flight at once.
        backend: ``"local"`` or ``"ray"`` (``pip install n4d4d[ray]``; connects to the
            cluster named by ``RAY_ADDRESS``, else starts a local one).
        keep_failed: export assets that fail the physics checks (marked), see ``Asset.save``.
        skip_existing: keep jobs whose output is complete (:func:`completed_output`), with
            the verdict their report gives; temporaries a killed run left are removed first.
        on_result: called with each result as it arrives (progress display).
        progress: ``progress(label, stage, "start" | "done")`` around each stage, for builds
            in this process (one local worker).

    Raises:
        ImportError: backend "ray" without ray installed (message says how to install it).
        ValueError: an unknown backend.
    """
    if backend not in ("local", "ray"):
        raise ValueError(f"unknown backend {backend!r}: local or ray")
    options = options or BuildOptions()
    payload = options.model_dump(mode="python")
    out = Path(out_dir)
    names, notes = plan_names(jobs, options)
    results: dict[int, BatchResult] = {}
    todo = []
    for i, job in enumerate(jobs):
        if skip_existing:
            removed = remove_stale_temporaries(out, names[i])
            extra = tuple(f"{names[i]}: removed {r} left by an interrupted run" for r in removed)
            done = completed_output(out, names[i])
            if done is not None:
                folder, report = done
                main, reasons = _summary(report)
                results[i] = BatchResult(job, names[i], str(folder), bool(report.get("passed")), None, 0.0,
                                         skipped=True, main_file=main, reasons=reasons, notes=notes[i] + extra)
                if on_result:
                    on_result(results[i])
                continue
            notes[i] = notes[i] + extra
        todo.append(i)

    def record(i: int, result: BatchResult) -> None:
        from dataclasses import replace

        results[i] = replace(result, notes=notes[i] + result.notes)
        if on_result:
            on_result(results[i])

    if backend == "ray":
        try:
            import ray
        except ImportError as exc:
            raise ImportError("backend 'ray' needs ray: pip install 'n4d4d[ray]'") from exc
        if not ray.is_initialized():
            ray.init(ignore_reinit_error=True, log_to_driver=False)
        remote = ray.remote(build_one)
        pending = {}
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < max(1, workers):
                i = queue.pop(0)
                pending[remote.remote(jobs[i], str(out), payload, keep_failed, names[i])] = i
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                record(pending.pop(ref), ray.get(ref))
    elif workers <= 1:
        for i in todo:
            label = job_source(jobs[i]).label if progress else ""
            hook = (lambda stage, event, label=label: progress(label, stage, event)) if progress else None
            record(i, build_one(jobs[i], str(out), payload, keep_failed, names[i], progress=hook))
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(build_one, jobs[i], str(out), payload, keep_failed, names[i]): i for i in todo}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # the worker process itself died (native crash)
                    result = BatchResult(jobs[i], names[i], None, False,
                                         f"{job_source(jobs[i]).label}: worker died: {type(exc).__name__}: {exc}", 0.0)
                record(i, result)
    return [results[i] for i in range(len(jobs))]
