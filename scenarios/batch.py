"""Batch builds for datasets: many inputs, one folder each, on local processes or on Ray.

Every job builds and saves one asset in isolation (a fresh worker process, or a Ray task) and
returns a :class:`BatchResult`; an error in one job (bad file, budget exceeded, even a crash of
a native library) is recorded in its result and never stops the others. Output folders are
written atomically by :meth:`n4d4d.Asset.save`, so an interrupted batch leaves complete folders
and nothing half-written: re-running with ``skip_existing=True`` resumes it.

This module schedules builds; it does not change what a build does (:mod:`n4d4d.pipeline`).
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Sequence

from n4d4d.options import BuildOptions

#: A job: ``("path", "/data/chair.obj")`` or ``("sample", "random_urdfs/042")``.
Job = tuple[Literal["path", "sample"], str]


@dataclass(frozen=True)
class BatchResult:
    """Outcome of one job.

    Attributes:
        job: the job as given.
        name: asset name ("" if the build failed before naming it).
        folder: the folder written (``OUT/<name>`` or ``OUT/rejected/<name>``), or None.
        passed: True when the asset passed its physics checks.
        error: one line naming the file and the problem, or None.
        seconds: wall time of the job (s).
    """

    job: Job
    name: str
    folder: str | None
    passed: bool
    error: str | None
    seconds: float


def job_name(job: Job) -> str:
    """The asset name a job will get without an explicit ``name`` option."""
    from n4d4d.pipeline import _safe_name

    kind, value = job
    return _safe_name(value.replace("/", "_") if kind == "sample" else Path(value).stem)


def build_one(job: Job, out_dir: str, options: dict, keep_failed: bool = False) -> BatchResult:
    """Build and save one job; never raises (errors go into the result)."""
    from n4d4d.errors import N4d4dError
    from n4d4d.pipeline import build

    t0 = time.perf_counter()
    kind, value = job
    try:
        opts = BuildOptions(**options)
        asset = build(**({"sample": value} if kind == "sample" else {"path": value}), options=opts)
        folder = asset.save(Path(out_dir) / asset.name, formats=opts.formats, keep_failed=keep_failed)
        return BatchResult(job, asset.name, str(folder), asset.passed, None, time.perf_counter() - t0)
    except N4d4dError as exc:
        return BatchResult(job, "", None, False, str(exc), time.perf_counter() - t0)
    except Exception as exc:  # one bad asset never stops a batch
        return BatchResult(job, "", None, False, f"{value}: internal error {type(exc).__name__}: {exc}",
                           time.perf_counter() - t0)


def build_batch(jobs: Sequence[Job], out_dir: str | Path, options: BuildOptions | None = None, *,
                workers: int = 1, backend: Literal["local", "ray"] = "local", keep_failed: bool = False,
                skip_existing: bool = False,
                on_result: Callable[[BatchResult], None] | None = None) -> list[BatchResult]:
    """Build every job into ``out_dir/<name>/``; results in the order of ``jobs``.

    Args:
        jobs: inputs, see :data:`Job`.
        out_dir: the dataset folder.
        options: build options shared by all jobs (default: :class:`BuildOptions` defaults).
        workers: local worker processes (``spawn`` context: each starts clean). On Ray, the
            number of tasks in flight at once.
        backend: ``"local"`` or ``"ray"`` (``pip install n4d4d[ray]``; connects to the
            cluster named by ``RAY_ADDRESS``, else starts a local one).
        keep_failed: export assets that fail the physics checks (marked), see ``Asset.save``.
        skip_existing: skip jobs whose ``out_dir/<name>/report.json`` already exists.
        on_result: called with each result as it arrives (progress display).

    Raises:
        ImportError: backend "ray" without ray installed (message says how to install it).
    """
    options = options or BuildOptions()
    payload = options.model_dump(mode="python")
    out = str(out_dir)
    results: dict[int, BatchResult] = {}
    todo = []
    for i, job in enumerate(jobs):
        if skip_existing and (Path(out) / job_name(job) / "report.json").is_file():
            results[i] = BatchResult(job, job_name(job), str(Path(out) / job_name(job)), True, None, 0.0)
        else:
            todo.append(i)

    def record(i: int, result: BatchResult) -> None:
        results[i] = result
        if on_result:
            on_result(result)

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
                pending[remote.remote(jobs[i], out, payload, keep_failed)] = i
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                record(pending.pop(ref), ray.get(ref))
    elif workers <= 1:
        for i in todo:
            record(i, build_one(jobs[i], out, payload, keep_failed))
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(build_one, jobs[i], out, payload, keep_failed): i for i in todo}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # the worker process itself died (native crash)
                    result = BatchResult(jobs[i], "", None, False,
                                         f"{jobs[i][1]}: worker died: {type(exc).__name__}: {exc}", 0.0)
                record(i, result)
    return [results[i] for i in range(len(jobs))]
