"""Workers forked from a pre-loaded zygote (issue 13 item 4: the engines imported once per pool,
not once per worker). The truths: the OS's process table (the workers' parent is the zygote, and
the zygote has one thread when it forks), the worker's own module table (Newton is already there
before its first build), and the bytes of a build through a plain worker."""

from __future__ import annotations

import os
import tempfile

import psutil
import pytest

from n4d4d.scenarios.pool import THREAD_VARS
from n4d4d.scenarios.zygote import Zygote

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not os.path.isdir("/proc/self/task"),
                                reason="the zygote forks (Linux)")


def _env() -> dict:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env.setdefault(var, "1")
    return env


def _fork(z: Zygote, err):
    """A worker forked by ``z``: (worker, task pipe's write end, result pipe's read end)."""
    task_r, task_w = os.pipe()
    res_r, res_w = os.pipe()
    w = z.fork(task_r, res_w, err.fileno())
    os.close(task_r)
    os.close(res_w)
    return w, task_w, res_r


def test_forked_worker_starts_with_the_engines_loaded_and_one_thread_was_forked(tmp_path):
    """A worker forked by the zygote is the zygote's child, and its first task finds Newton and
    the stage modules imported (the ``probe`` task of :func:`n4d4d.scenarios.worker.serve`
    answers with what its ``sys.modules`` holds, before any build); the zygote itself has a
    single thread when it forks (what makes a fork safe)."""
    from multiprocessing.connection import Connection

    err = tempfile.TemporaryFile(mode="a+b")
    z = Zygote(_env(), err)
    try:
        w, task_w, res_r = _fork(z, err)
        writer, reader = Connection(task_w, readable=False), Connection(res_r, writable=False)
        assert psutil.Process(w.pid).ppid() == z.proc.pid
        assert psutil.Process(z.proc.pid).num_threads() == 1
        writer.send(("probe", ("newton", "n4d4d.volume.stage", "n4d4d.physics_validation.certificate")))
        assert reader.poll(120), "no answer from the forked worker"
        kind, loaded = reader.recv()
        assert kind == "probe" and loaded == [True, True, True]
        assert w.poll() is None  # still serving
        writer.send(None)
        assert w.wait(timeout=30) == 0
    finally:
        z.close()
        err.close()
    assert z.proc.returncode == 0


def test_a_killed_worker_reads_as_killed():
    """``poll`` gives what ``subprocess.Popen`` would: minus the signal that killed it."""
    err = tempfile.TemporaryFile(mode="a+b")
    z = Zygote(_env(), err)
    try:
        w, task_w, res_r = _fork(z, err)
        os.kill(w.pid, 9)
        assert w.wait(timeout=30) == -9
        os.close(task_w)
        os.close(res_r)
    finally:
        z.close()
        err.close()
