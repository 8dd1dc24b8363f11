"""Entry point of a long-lived build worker: ``python -m n4d4d.scenarios.worker RFD WFD``.

The worker reads tasks from file descriptor ``RFD`` and writes messages to ``WFD``, both
:class:`multiprocessing.connection.Connection` framings of pickles, until it reads ``None`` or
its parent goes away. A task is ``(key, job, out_dir, options, keep_failed, name, fault)``;
it answers ``("progress", key, stage, event)`` around each stage and ``("result", key,
BatchResult)`` at the end. ``("probe", names)`` is answered with ``("probe", loaded)``, one
bool per module name: whether this worker has imported it (what the zygote preloaded). Heavy
libraries (Warp, Newton, torch) are imported once, by the zygote or the first build, and reused
for every later one.

A plain subprocess rather than a ``multiprocessing`` child, so that no user ``__main__`` module
is ever re-imported, and its standard output is sent to standard error so that a library that
prints cannot corrupt the message stream. On Linux the worker asks to be killed when its
parent dies (``PR_SET_PDEATHSIG``), so a killed driver never leaves a worker writing into the
output folder.

``fault`` is a test hook only (see :data:`n4d4d.scenarios.pool.FAULT_ENV`): ``"abort"`` calls
:func:`os.abort` before building, ``"hang"`` sleeps forever, ``"oom"`` allocates memory until
stopped. This module does not decide time or memory limits: :mod:`n4d4d.scenarios.pool` does.
"""

from __future__ import annotations

import os
import sys

from n4d4d.budget import die_with_parent


def inject_fault(fault: str | None) -> None:
    """Test hook: misbehave as ``fault`` says (``abort``, ``hang``, ``oom``); None does nothing."""
    if fault == "abort":
        os.abort()
    if fault == "hang":
        import time

        while True:
            time.sleep(3600)
    if fault == "oom":
        import time

        hog = []
        while True:  # ~300 MB/s, slow enough for a watchdog polling a few times a second
            hog.append(bytearray(16 << 20))
            for i in range(0, len(hog[-1]), 4096):
                hog[-1][i] = 1
            time.sleep(0.05)


def serve(reader, writer) -> None:
    """Answer tasks from ``reader`` on ``writer`` until ``None`` or end of file."""
    from n4d4d.scenarios.batch import build_one

    while True:
        try:
            task = reader.recv()
        except EOFError:
            return
        if task is None:
            return
        if len(task) == 2 and task[0] == "probe":  # ("probe", names): which modules are loaded
            writer.send(("probe", [name in sys.modules for name in task[1]]))
            continue
        key, job, out_dir, options, keep_failed, name, fault = task
        inject_fault(fault)

        def progress(stage: str, event: str, key=key) -> None:
            writer.send(("progress", key, stage, event))

        writer.send(("result", key, build_one(job, out_dir, options, keep_failed, name, progress=progress)))


def main(argv: list[str]) -> None:
    from multiprocessing.connection import Connection

    die_with_parent()
    os.dup2(2, 1)  # anything printed goes to stderr, never into the message pipe
    reader, writer = Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False)
    serve(reader, writer)


if __name__ == "__main__":
    main(sys.argv[1:])
