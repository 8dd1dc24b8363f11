"""Batch builds for datasets: many inputs, one folder each, on local processes or on Ray.

Every job builds and saves one asset in isolation (in this process for one unisolated local
worker, in a long-lived worker process of :class:`~n4d4d.scenarios.pool.WorkerPool` under a
time and memory limit, or in a Ray task) and returns a :class:`BatchResult`; an error in one
job (bad file, budget exceeded, even a native crash, a hang or a runaway allocation of one
asset's worker) is recorded in its result and never stops the others. Output folders are
written atomically by :meth:`n4d4d.Asset.save`, so an interrupted batch leaves complete
folders and nothing half-written (a worker stopped mid-write has its temporary removed by the
driver); re-running with
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Literal, Sequence, Union

from n4d4d.options import BuildOptions
from n4d4d.scenarios.pool import faults_from_env
from n4d4d.sources import Source, as_source


@dataclass(frozen=True)
class AssetJob:
    """A job with its own build options (a scenario's randomised asset).

    Attributes:
        source: what to build.
        options: this job's build options (its seed, size, material...); they replace the
            batch's shared options; ``options.name`` is the asset's name when set.
        joint_damping: drive damping (SI: N m s/rad for angular, N s/m for linear drives) set
            on every joint drive after the ``mass`` stage computed the drives, so the physics
            certificate tests, and the files carry, the randomised servo; None keeps them.
        keep_failed: export this asset even when it fails its physics checks (marked), or not;
            None follows the batch's ``keep_failed``.
    """

    source: Source
    options: BuildOptions
    joint_damping: float | None = None
    keep_failed: bool | None = None


#: A job: ``("path", "/data/chair.obj")``, ``("sample", "random_urdfs/042")``, a Source, or an
#: :class:`AssetJob` (a source with its own options).
Job = Union[tuple[Literal["path", "sample"], str], Source, AssetJob]

#: Seconds one asset may take in a worker before it is stopped (``build_batch(time_limit_s=)``).
DEFAULT_TIME_LIMIT_S = 1800.0


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
        clips: the motion clips with frame counts and verdicts, one line
            (:func:`n4d4d.deformation.stage.summary_line`), or "".
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
    clips: str = ""


def job_source(job: Job) -> Source:
    """The :class:`~n4d4d.sources.Source` of a job."""
    if isinstance(job, AssetJob):
        return job.source
    if isinstance(job, Source):
        return job
    kind, value = job
    return as_source(sample=value) if kind == "sample" else as_source(value)


def job_name(job: Job, options: BuildOptions | None = None) -> str:
    """The asset name a job gets by itself (before collisions are resolved): the ``name``
    option (an :class:`AssetJob`'s own options first), else its source's name."""
    from n4d4d.sources import safe_asset_name

    if isinstance(job, AssetJob):
        options = job.options
    if options is not None and options.name:
        return safe_asset_name(options.name)
    return job_source(job).name


def unique_names(wanted: Sequence[str], labels: Sequence[str]) -> tuple[list[str], list[tuple[str, ...]]]:
    """Distinct names for ``wanted`` (already safe names) and a note per renamed one.

    The first keeps a name, later ones get ``NAME_2``, ``NAME_3``... (skipping names wanted by
    others), compared case-insensitively (two folders that differ only in case are one folder
    on macOS and Windows); ``labels`` name the inputs in the notes.
    """
    taken = {n.lower() for n in wanted}
    used: set[str] = set()
    names, notes = [], []
    for label, name in zip(labels, wanted):
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
        notes.append((f"{label}: its name '{name}' is taken by an earlier input; written as '{new}'",))
    return names, notes


def plan_names(jobs: Sequence[Job], options: BuildOptions | None = None) -> tuple[list[str], list[tuple[str, ...]]]:
    """Distinct asset names for ``jobs`` and a note per job that was renamed.

    Returns ``(names, notes)``: the first job keeping a name keeps it, later ones get
    ``NAME_2``, ``NAME_3``... (skipping names already taken by other jobs), deterministic for
    a given job order (:func:`unique_names`).
    """
    return unique_names([job_name(j, options) for j in jobs], [job_source(j).label for j in jobs])


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


def with_joint_damping(asset, damping: float):
    """``asset`` with every drive's damping set to ``damping`` (SI per radian or per metre) and a
    ``joint_damping`` stage record saying so; unchanged (no record) without drives."""
    from n4d4d.asset import StageRecord

    if not asset.drives:
        return asset
    drives = {k: replace(d, damping=float(damping)) for k, d in asset.drives.items()}
    return asset.with_stage(StageRecord("joint_damping", 0.0, {"damping_si": float(damping), "joints": sorted(drives)}),
                            drives=drives)


def _build_job(job: Job, source: Source, opts: BuildOptions, progress):
    """The pipeline's stage table for one job; an :class:`AssetJob` with ``joint_damping``
    gets it applied right after the ``mass`` stage (where drives are computed)."""
    from n4d4d.pipeline import STAGES, run_stage

    damping = job.joint_damping if isinstance(job, AssetJob) else None
    asset = run_stage(STAGES[0], source, opts, progress, source.label)
    for stage in STAGES[1:]:
        asset = run_stage(stage, asset, opts, progress, asset.provenance.source)
        if stage.name == "mass" and damping is not None:
            asset = with_joint_damping(asset, damping)
    return asset


def build_one(job: Job, out_dir: str, options: dict, keep_failed: bool = False, name: str | None = None,
              progress: Callable[[str, str], None] | None = None) -> BatchResult:
    """Build and save one job as ``name`` (default: its own); never raises (errors go into
    the result). ``options`` (plain values of :class:`BuildOptions`) is ignored for an
    :class:`AssetJob`, which carries its own."""
    from n4d4d.errors import N4d4dError

    t0 = time.perf_counter()
    source = None
    try:
        source = job_source(job)
        opts = job.options if isinstance(job, AssetJob) else BuildOptions(**options)
        if name is not None and name != job_name(job, opts):
            opts = opts.model_copy(update={"name": name})
        asset = _build_job(job, source, opts, progress)
        if isinstance(job, AssetJob) and job.keep_failed is not None:
            keep_failed = job.keep_failed
        folder = asset.save(Path(out_dir) / asset.name, formats=opts.formats, keep_failed=keep_failed)
        from n4d4d.exporters import FILE_NAMES

        main = next((str(folder / FILE_NAMES[f]) for f in FILE_NAMES if (folder / FILE_NAMES[f]).is_file()),
                    None)  # none in rejected/
        reasons = "; ".join(map(str, (asset.physics or {}).get("reasons", [])))
        from n4d4d.deformation.stage import summary_line

        return BatchResult(job, asset.name, str(folder), asset.passed, None, time.perf_counter() - t0,
                           main_file=main, reasons=reasons, clips=summary_line(asset))
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
                progress: Callable[[str, str, str], None] | None = None,
                isolate: bool | None = None, time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
                memory_limit_gb: float | None = None, ray_address: str | None = None) -> list[BatchResult]:
    """Build every job into ``out_dir/<name>/``; results in the order of ``jobs``.

    Args:
        jobs: inputs, see :data:`Job`.
        out_dir: the dataset folder (a path every worker sees, for Ray on a cluster).
        options: build options shared by all jobs (default: :class:`BuildOptions` defaults);
            an :class:`AssetJob` uses its own.
        workers: local worker processes (long-lived, see :mod:`n4d4d.scenarios.pool`); 1
            builds in this process unless ``isolate``. On Ray, the number of tasks in flight.
        backend: ``"local"`` or ``"ray"`` (``pip install n4d4d[ray]``; connects to
            ``ray_address``, else to the cluster named by ``RAY_ADDRESS``, else starts a local
            one; an already initialised Ray is used as it is). Each Ray task asks for 1 CPU.
        keep_failed: export assets that fail the physics checks (marked), see ``Asset.save``.
        skip_existing: keep jobs whose output is complete (:func:`completed_output`), with
            the verdict their report gives; temporaries a killed run left are removed first.
        on_result: called with each result as it arrives (progress display).
        progress: ``progress(label, stage, "start" | "done")`` around each stage (local
            builds, in this process or in pool workers; not for Ray tasks).
        isolate: build in worker processes even with one worker (default: only for
            ``workers > 1``), so a crash, hang or runaway memory of one asset is contained.
        time_limit_s: wall seconds one asset may take in a worker (pool or Ray) before it is
            stopped and recorded failed; None: no limit. Not applied to in-process builds.
        memory_limit_gb: resident GiB one asset's worker (with its children) may use before it
            is stopped and recorded failed (default: twice ``options.memory_budget_gb`` plus
            4 GiB for the libraries); None in this process.
        ray_address: the Ray cluster to join (``ray.init(address=...)``).

    Raises:
        ImportError: backend "ray" without ray installed (message says how to install it).
        ValueError: an unknown backend.
    """
    if backend not in ("local", "ray"):
        raise ValueError(f"unknown backend {backend!r}: local or ray")
    options = options or BuildOptions()
    payload = options.model_dump(mode="python")
    out = Path(out_dir)
    if memory_limit_gb is None:
        memory_limit_gb = 2.0 * options.memory_budget_gb + 4.0
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
        results[i] = replace(result, notes=notes[i] + result.notes)
        if on_result:
            on_result(results[i])

    def failed(i: int, message: str, seconds: float) -> None:
        """A job whose worker was lost: its reason, and any temporary it left removed."""
        removed = remove_stale_temporaries(out, names[i])
        extra = tuple(f"{names[i]}: removed {r} left by the stopped worker" for r in removed)
        record(i, BatchResult(jobs[i], names[i], None, False, f"{job_source(jobs[i]).label}: {message}", seconds,
                              notes=extra))

    faults = faults_from_env()
    if backend == "ray":
        from n4d4d.scenarios.ray_backend import run_on_ray

        run_on_ray([(i, (jobs[i], str(out), payload, keep_failed, names[i], faults.get(names[i]))) for i in todo],
                   workers=workers, time_limit_s=time_limit_s, memory_limit_gb=memory_limit_gb,
                   address=ray_address, on_result=record, on_failure=failed)
    elif workers <= 1 and not isolate:
        for i in todo:
            label = job_source(jobs[i]).label if progress else ""
            hook = (lambda stage, event, label=label: progress(label, stage, event)) if progress else None
            record(i, build_one(jobs[i], str(out), payload, keep_failed, names[i], progress=hook))
    else:
        from n4d4d.scenarios.pool import WorkerPool

        def on_progress(i: int, stage: str, event: str) -> None:
            if progress:
                progress(job_source(jobs[i]).label, stage, event)

        def on_failure(i: int, failure) -> None:
            failed(i, failure.message, failure.seconds)

        tasks = [(i, (jobs[i], str(out), payload, keep_failed, names[i], faults.get(names[i]))) for i in todo]
        with WorkerPool(max(1, workers), time_limit_s=time_limit_s, memory_limit_gb=memory_limit_gb) as pool:
            pool.run(tasks, on_result=record, on_failure=on_failure, on_progress=on_progress)
    return [results[i] for i in range(len(jobs))]
