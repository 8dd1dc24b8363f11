"""A persistent pool of build workers with a time and a memory limit per asset.

:class:`WorkerPool` keeps ``workers`` long-lived processes (:mod:`n4d4d.scenarios.worker`)
that build many assets each, forked on Linux from one zygote that has imported Warp, Newton,
PyBullet and the stage modules once for the whole pool (:mod:`n4d4d.scenarios.zygote`). Each
asset runs under a watchdog in this process: a worker that dies (a native crash, ``os.abort()``, a kill from the
kernel's OOM killer), runs past ``time_limit_s`` on one asset, or whose resident memory (its
own plus its children's, CoACD included) goes over ``memory_limit_gb`` is killed with its
children and replaced by a fresh one; that asset is reported failed with the reason (and the
tail of the worker's standard error), and every other asset goes on. A killed worker can
leave a temporary folder behind; the caller removes it (:func:`n4d4d.scenarios.batch.
remove_stale_temporaries`), since no other worker writes that asset.

Each worker runs with one BLAS / OpenMP thread (:data:`THREAD_VARS`), as a Ray task does.

Why a watchdog rather than ``resource.setrlimit(RLIMIT_AS)``: RLIMIT_AS caps virtual address
space, which Warp, torch and the BLAS thread pools reserve far beyond what they use, so a cap
low enough to matter fails good builds at import; resident memory is what exhausts a machine.

Test hook (test-only, never set in normal use): the environment variable :data:`FAULT_ENV`
(``N4D4D_TEST_FAULT``), read by the driver, as ``NAME=abort,OTHER=hang,THIRD=oom`` makes the
worker building asset ``NAME`` call ``os.abort()`` (``hang``: sleep forever, ``oom``: allocate
memory until stopped) instead of building it.

This module schedules and supervises; what a build does is :mod:`n4d4d.pipeline`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

#: Environment variable of the fault-injection test hook (see the module docstring).
FAULT_ENV = "N4D4D_TEST_FAULT"

#: Seconds between two watchdog looks at the busy workers.
POLL_S = 0.25

#: Characters of a dead worker's standard error quoted in its asset's failure.
STDERR_TAIL = 600

#: Thread-pool variables set for every worker (unless already set in the environment): one
#: thread each (BLAS, OpenMP, USD's work pool), as Ray gives a ``num_cpus=1`` task, so the
#: workers (not threads inside one build) share the cores, every build runs with the same
#: thread count whatever the worker count or backend, and the zygote the workers fork from
#: has no thread but its main one (:mod:`n4d4d.scenarios.zygote`; creating a USD stage starts
#: one otherwise).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "PXR_WORK_THREAD_LIMIT")


def faults_from_env() -> dict[str, str]:
    """Asset name -> fault (``abort``, ``hang``, ``oom``) from :data:`FAULT_ENV`; test hook."""
    out = {}
    for item in os.environ.get(FAULT_ENV, "").split(","):
        if "=" in item:
            name, fault = item.split("=", 1)
            if fault.strip() in ("abort", "hang", "oom"):
                out[name.strip()] = fault.strip()
    return out


@dataclass
class _Worker:
    proc: Any  # subprocess.Popen, or a zygote's ForkedWorker (pid, poll, wait)
    reader: Any  # Connection, results from the worker
    writer: Any  # Connection, tasks to the worker
    stderr: Any  # a temporary file opened in append mode
    key: Any = None
    started: float = 0.0
    busy: bool = False


@dataclass
class Failure:
    """Why a task produced no result: ``kind`` is ``"crash"``, ``"timeout"`` or ``"memory"``."""

    kind: str
    message: str
    seconds: float = 0.0
    details: dict = field(default_factory=dict)


def _signal_name(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def tree_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and all its descendants (0 if it is gone)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def kill_tree(pid: int) -> None:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = proc.children(recursive=True) + [proc]
    except psutil.Error:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass


class WorkerPool:
    """``workers`` long-lived build processes supervised with a per-task time and memory limit.

    Args:
        workers: processes (>= 1); started lazily, at most one per pending task.
        time_limit_s: wall seconds one task may take, or None for no limit.
        memory_limit_gb: resident GiB a worker and its children may use during a task, or None.
        zygote: fork the workers from one process that has imported the engines and stage
            modules once (:mod:`n4d4d.scenarios.zygote`; Linux); False, or where it cannot
            run, starts each worker as its own ``python -m n4d4d.scenarios.worker`` process.

    Use as a context manager; :meth:`run` may be called several times.
    """

    def __init__(self, workers: int, *, time_limit_s: float | None = None, memory_limit_gb: float | None = None,
                 zygote: bool = True):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.size = int(workers)
        self.use_zygote, self._zygote, self._zygote_err = bool(zygote), None, None
        self.time_limit_s = time_limit_s
        self.memory_limit = None if memory_limit_gb is None else float(memory_limit_gb) * (1 << 30)
        self._workers: list[_Worker] = []

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _zygote_or_none(self, env: dict):
        """The pool's :class:`~n4d4d.scenarios.zygote.Zygote`, started at the first worker;
        None where it cannot run (not Linux, ``zygote=False``, or it failed: plain workers)."""
        if self._zygote is None and self.use_zygote:
            from n4d4d.scenarios.zygote import Zygote

            try:
                self._zygote_err = tempfile.TemporaryFile(mode="a+b", prefix="n4d4d-zygote-")
                self._zygote = Zygote(env, self._zygote_err)
            except OSError:
                self.use_zygote = False
        return self._zygote if self.use_zygote else None

    def _start(self) -> _Worker:
        from multiprocessing.connection import Connection

        task_r, task_w = os.pipe()
        res_r, res_w = os.pipe()
        err = tempfile.TemporaryFile(mode="a+b", prefix="n4d4d-worker-")
        env = dict(os.environ)
        for var in THREAD_VARS:
            env.setdefault(var, "1")
        proc = None
        zygote = self._zygote_or_none(env)
        if zygote is not None:
            try:
                proc = zygote.fork(task_r, res_w, err.fileno())
            except OSError:  # the zygote died: plain workers from now on
                self.use_zygote = False
        if proc is None:
            proc = subprocess.Popen([sys.executable, "-m", "n4d4d.scenarios.worker", str(task_r), str(res_w)],
                                    pass_fds=(task_r, res_w), stdin=subprocess.DEVNULL,
                                    stdout=err, stderr=err, close_fds=True, env=env)
        os.close(task_r)
        os.close(res_w)
        w = _Worker(proc, Connection(res_r, writable=False), Connection(task_w, readable=False), err)
        self._workers.append(w)
        return w

    def _retire(self, w: _Worker) -> str:
        """Kill ``w`` and its children, forget it; returns the tail of its standard error."""
        kill_tree(w.proc.pid)
        try:
            w.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        for c in (w.reader, w.writer):
            try:
                c.close()
            except OSError:
                pass
        tail = ""
        try:
            w.stderr.seek(0)
            tail = w.stderr.read().decode("utf-8", "replace")[-STDERR_TAIL:].strip()
            w.stderr.close()
        except (OSError, ValueError):
            pass
        self._workers.remove(w)
        return tail

    def run(self, tasks: Iterable[tuple[Any, tuple]], on_result: Callable[[Any, Any], None],
            on_failure: Callable[[Any, Failure], None],
            on_progress: Callable[[Any, str, str], None] | None = None) -> None:
        """Run every ``(key, payload)`` task; ``payload`` is ``(job, out_dir, options,
        keep_failed, name, fault)`` as :func:`n4d4d.scenarios.worker.serve` takes it.

        Calls ``on_result(key, BatchResult)`` for each finished task, ``on_failure(key,
        Failure)`` for one whose worker died, ran out of time or memory, and
        ``on_progress(key, stage, event)`` around each stage. Returns when all are done.
        """
        from multiprocessing.connection import wait

        queue = deque(tasks)
        while queue or any(w.busy for w in self._workers):
            for w in self._workers:
                if not w.busy and queue:
                    self._assign(w, queue.popleft())
            while queue and len(self._workers) < self.size:
                self._assign(self._start(), queue.popleft())
            busy = [w for w in self._workers if w.busy]
            ready = set(wait([w.reader for w in busy], timeout=POLL_S))  # a dead worker's pipe reads EOF
            now = time.monotonic()
            for w in busy:
                if w.reader in ready and self._drain(w, on_result, on_progress):
                    continue
                if w.proc.poll() is not None:
                    code = w.proc.poll()
                    key, took, tail = w.key, now - w.started, self._retire(w)
                    on_failure(key, Failure("crash", f"worker process died ({_signal_name(code)})"
                                            + (f"; its last output: {tail}" if tail else ""), took,
                                            {"returncode": code}))
                elif self.time_limit_s is not None and now - w.started > self.time_limit_s:
                    key, took = w.key, now - w.started
                    self._retire(w)
                    on_failure(key, Failure("timeout", f"ran past the time limit of {self.time_limit_s:g} s and was "
                                            "stopped", took, {"time_limit_s": self.time_limit_s}))
                elif self.memory_limit is not None:
                    rss = tree_rss(w.proc.pid)
                    if rss > self.memory_limit:
                        key, took = w.key, now - w.started
                        self._retire(w)
                        on_failure(key, Failure("memory", f"used {rss / (1 << 30):.2f} GiB, over the memory limit of "
                                                f"{self.memory_limit / (1 << 30):g} GiB, and was stopped", took,
                                                {"rss_bytes": rss}))

    def _assign(self, w: _Worker, task: tuple[Any, tuple]) -> None:
        key, payload = task
        try:
            w.stderr.truncate(0)
        except (OSError, ValueError):
            pass
        w.key, w.started, w.busy = key, time.monotonic(), True
        try:
            w.writer.send((key, *payload))
        except OSError:  # the worker is already gone: the watchdog sees it exit next round
            pass

    def _drain(self, w: _Worker, on_result, on_progress) -> bool:
        """Read every message ``w`` has sent; True when its task's result came (``w`` idle)."""
        try:
            while w.reader.poll():
                kind, key, *rest = w.reader.recv()
                if kind == "progress":
                    if on_progress:
                        on_progress(key, *rest)
                elif kind == "result":
                    w.busy, w.key = False, None
                    on_result(key, rest[0])
                    return True
        except (EOFError, OSError):
            return False
        return False

    def close(self) -> None:
        """Ask idle workers to stop, kill any that do not within a few seconds."""
        for w in list(self._workers):
            try:
                w.writer.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 5.0
        for w in list(self._workers):
            try:
                w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            self._retire(w)
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None
        if self._zygote_err is not None:
            self._zygote_err.close()
            self._zygote_err = None
