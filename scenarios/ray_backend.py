"""The Ray backend of :func:`n4d4d.scenarios.batch.build_batch`: each asset a Ray task.

Tasks run on a local Ray or an existing cluster (``ray.init(address=...)``, or the cluster
``RAY_ADDRESS`` names); an already initialised Ray is used as it is (tests start
``ray.init(num_cpus=2)``). Each task declares ``num_cpus=1`` and is never retried (a crash is
that asset's failure, not something to repeat); at most ``workers`` are in flight and results
stream back as they finish (``ray.wait``). Ray reuses its worker processes, so the libraries
are imported once per worker, as in the local pool.

Limits: the driver cancels (``ray.cancel(force=True)``, which kills the worker) a task that
runs past ``time_limit_s``, counted from its submission (so ask for no more ``workers`` than
the cluster has CPUs, or queued tasks use up their time waiting); a thread inside the task ends its worker (exit code
:data:`MEMORY_EXIT`) when the worker and its children hold more than ``memory_limit_gb``
resident, which the driver sees as a dead worker. Outputs must go to a path every node sees;
the driver alone writes manifests. Install with ``pip install 'n4d4d[ray]'``.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

#: Exit status of a Ray worker that the in-task memory watchdog ended.
MEMORY_EXIT = 137

#: Seconds between two looks at the tasks in flight (time limit) and at a task's memory.
POLL_S = 0.5


def _memory_watchdog(limit_bytes: float, stop) -> None:
    from n4d4d.scenarios.pool import tree_rss

    pid = os.getpid()
    while not stop.wait(POLL_S):
        if tree_rss(pid) > limit_bytes:
            os.write(2, f"n4d4d: over the memory limit of {limit_bytes / (1 << 30):g} GiB, stopping\n".encode())
            os._exit(MEMORY_EXIT)


def ray_build(job, out_dir: str, options: dict, keep_failed: bool, name: str, fault: str | None,
              memory_limit_gb: float | None):
    """Body of one Ray task: :func:`~n4d4d.scenarios.batch.build_one` under a memory watchdog."""
    import threading

    from n4d4d.scenarios.batch import build_one
    from n4d4d.scenarios.worker import inject_fault

    stop = threading.Event()
    if memory_limit_gb is not None:
        threading.Thread(target=_memory_watchdog, args=(memory_limit_gb * (1 << 30), stop), daemon=True).start()
    try:
        inject_fault(fault)
        return build_one(job, out_dir, options, keep_failed, name)
    finally:
        stop.set()


def ensure_ray(address: str | None = None):
    """The ``ray`` module, initialised: as it is when already initialised, else joined to
    ``address`` (or ``RAY_ADDRESS``), else a local Ray. Raises ImportError naming the extra."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError("backend 'ray' needs ray: pip install 'n4d4d[ray]'") from exc
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, ignore_reinit_error=True,
                 log_to_driver=False)
    return ray


def run_on_ray(tasks: list[tuple[int, tuple]], *, workers: int, time_limit_s: float | None,
               memory_limit_gb: float | None, address: str | None,
               on_result: Callable[[int, Any], None], on_failure: Callable[[int, str, float], None]) -> None:
    """Run ``(key, (job, out_dir, options, keep_failed, name, fault))`` tasks on Ray.

    Calls ``on_result(key, BatchResult)`` as results arrive and ``on_failure(key, message,
    seconds)`` for a task whose worker died, that raised inside Ray, or that ran past
    ``time_limit_s`` (cancelled).
    """
    ray = ensure_ray(address)
    from ray.exceptions import RayError

    remote = ray.remote(num_cpus=1, max_retries=0)(ray_build)
    queue = list(tasks)
    pending: dict[Any, tuple[int, float]] = {}
    while queue or pending:
        while queue and len(pending) < max(1, workers):
            key, payload = queue.pop(0)
            pending[remote.remote(*payload, memory_limit_gb)] = (key, time.monotonic())
        done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
        for ref in done:
            key, t0 = pending.pop(ref)
            try:
                result = ray.get(ref)
            except RayError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                limit = f" or over the memory limit of {memory_limit_gb:g} GiB" if memory_limit_gb else ""
                on_failure(key, f"Ray worker died (a native crash{limit}): {type(exc).__name__}: {first}",
                           time.monotonic() - t0)
                continue
            on_result(key, result)
        if time_limit_s is not None:
            now = time.monotonic()
            for ref, (key, t0) in list(pending.items()):
                if now - t0 > time_limit_s:
                    ray.cancel(ref, force=True)
                    ray.wait([ref], timeout=10)  # the worker is gone before its temporaries are removed
                    pending.pop(ref)
                    on_failure(key, f"ran past the time limit of {time_limit_s:g} s and was stopped", now - t0)
