"""A pre-loaded parent that forks build workers: the engines are imported once per pool, not once
per worker (``python -m n4d4d.scenarios.zygote SOCKFD``).

Why: each build worker imports Warp, Newton, PyBullet, pxr and the stage modules before its
first build, about 7 CPU s on the 2-core development machine (``python -c "import newton"``
alone is 4.1-4.5 CPU s of Python-side code generation). With two workers that is paid twice,
and a batch's CPU seconds per asset rose with the worker count (issue 13: 4.67 CPU s per asset
with two workers against 4.11 with one over random_urdfs 000-023). A zygote imports them once;
every worker is an ``os.fork`` of it and starts with them loaded (the pages shared copy-on-write
until written). This is the pre-fork model of web servers (gunicorn's ``--preload``) and of
Python's ``multiprocessing`` forkserver with ``set_forkserver_preload``.

Fork safety: the zygote imports modules and runs no build, no torch, Warp kernel or BLAS call,
and its environment has the pool's thread variables (one BLAS/OpenMP thread, USD's work pool
limited to one: :data:`n4d4d.scenarios.pool.THREAD_VARS`) before anything is imported, so it
has one thread and a fork copies it in a consistent state. It checks this before every fork
(``/proc/self/task``) and refuses to fork a process with more threads (a user's environment
asking for thread pools): the pool then starts plain workers.

Protocol (Linux, an ``AF_UNIX`` ``SOCK_SEQPACKET`` socket pair, one pickled message per packet,
request then answer):

- ``("fork",)`` with three file descriptors attached (the worker's task pipe to read, its result
  pipe to write, the file its standard output and error go to): the zygote forks a worker that
  runs :func:`n4d4d.scenarios.worker.serve` on them; answer ``("pid", pid)``.
- ``("poll", pid)``: answer ``("code", returncode)``: None while the worker runs, else as
  :attr:`subprocess.Popen.returncode` gives it (negative: killed by that signal). The zygote
  reaps its workers only when asked, so a pid is never reused before the pool has seen it end.
- end of file (the pool closed its end, or died): the zygote exits; its workers, which ask to be
  killed when their parent dies, exit with it.

What it does not do: schedule, time or limit anything (:mod:`n4d4d.scenarios.pool` does), or
work off Linux (the pool then starts plain worker processes, :class:`Zygote` raising OSError).
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import time

#: Bytes of one message; every message is a short tuple.
PACKET = 4096


#: What a build imports lazily, inside its stages (measured: the modules one build of
#: random_urdfs/001 and its ``save`` added to ``sys.modules`` after the stage modules and the
#: engines were loaded). Nothing here makes a thread, an OpenGL context or a file: the report's
#: renderer (:mod:`n4d4d.report.render`) is left out, since it makes a GL context on first use.
PRELOAD = ("trimesh", "scipy.spatial", "scipy.ndimage", "scipy.optimize", "scipy.sparse.csgraph",
           "skimage.measure", "manifold3d", "igl", "shapely", "rtree", "networkx", "lxml.etree", "PIL.Image",
           "mujoco", "matplotlib.figure", "matplotlib.backends.backend_agg", "rich",
           "n4d4d.io.urdf", "n4d4d.volume.remesh", "n4d4d.volume.sdf", "n4d4d.volume.texture",
           "n4d4d.physics_validation.certificate", "n4d4d.physics_validation.stages",
           "n4d4d.output", "n4d4d.report.plots", "n4d4d.report.html")


def preload() -> list[str]:
    """Import what a build imports (the stage modules of :data:`n4d4d.pipeline.STAGES`, the
    exporters, the batch driver, :data:`PRELOAD`) and load both physics engines; returns the
    modules that could not be imported (a worker then imports them itself, and reports the
    error where it matters)."""
    import importlib

    from n4d4d.pipeline import STAGES

    failed = []
    for name in ["n4d4d.scenarios.batch", "n4d4d.exporters", *sorted({s.module for s in STAGES}), *PRELOAD]:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a worker imports it again and gets the error
            failed.append(name)
    try:
        from n4d4d.physics_validation.certificate import load_engines

        load_engines(("pybullet", "newton"))
    except Exception:  # noqa: BLE001
        failed.append("engines")
    return failed


def thread_count() -> int:
    """Threads of this process (``/proc/self/task``; 1 where there is no /proc)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _send(sock: socket.socket, message: tuple, fds: tuple[int, ...] = ()) -> None:
    data = pickle.dumps(message)
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def _returncode(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _worker(sock: socket.socket, fds: list[int]) -> None:
    """The forked worker: serve tasks on the passed pipes, then leave without running the
    zygote's exit handlers (``os._exit``)."""
    code = 1
    try:
        sock.close()
        task_r, res_w, err = fds
        os.dup2(err, 2)
        os.dup2(err, 1)  # anything printed goes to the error file, never into a pipe
        os.close(err)
        from multiprocessing.connection import Connection

        from n4d4d.budget import die_with_parent
        from n4d4d.scenarios.worker import serve

        die_with_parent()
        serve(Connection(task_r, writable=False), Connection(res_w, readable=False))
        code = 0
    except BaseException:  # noqa: BLE001 - reported on the error file the pool reads
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve_forks(sock: socket.socket) -> None:
    """Answer ``fork`` and ``poll`` requests on ``sock`` until end of file."""
    codes: dict[int, int] = {}
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, PACKET, 3)
        except OSError:
            return
        if not data:
            return
        message = pickle.loads(data)
        if message[0] == "fork":
            threads = thread_count()
            if threads != 1:
                for fd in fds:
                    os.close(fd)
                _send(sock, ("error", f"the zygote has {threads} threads; forking it is not safe"))
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _worker(sock, fds)
            for fd in fds:
                os.close(fd)
            _send(sock, ("pid", pid))
        elif message[0] == "poll":
            pid = int(message[1])
            if pid not in codes:
                try:
                    done, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done, status = pid, 0
                if done:
                    codes[pid] = _returncode(status)
            _send(sock, ("code", codes.get(pid)))


class Zygote:
    """The pool's end of a zygote process: start it, fork workers, poll them.

    Args:
        env: the zygote's environment (the workers inherit it).
        stderr: a file (object with ``fileno``) for the zygote's own output.

    Raises:
        OSError: no ``SOCK_SEQPACKET`` Unix sockets or no ``socket.send_fds`` (not Linux), or the
            zygote could not start.
    """

    def __init__(self, env: dict, stderr):
        if not (hasattr(socket, "send_fds") and hasattr(socket, "SOCK_SEQPACKET") and hasattr(os, "fork")):
            raise OSError("this platform has no SOCK_SEQPACKET Unix sockets with descriptor passing")
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "n4d4d.scenarios.zygote", str(theirs.fileno())],
                                         pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                         stdout=stderr, stderr=stderr, close_fds=True, env=env)
        finally:
            theirs.close()
        self.sock = mine

    def _ask(self, message: tuple, fds: tuple[int, ...] = ()) -> tuple:
        _send(self.sock, message, fds)
        data = self.sock.recv(PACKET)
        if not data:
            raise OSError(f"the worker zygote is gone ({self.proc.poll()})")
        return pickle.loads(data)

    def fork(self, task_r: int, res_w: int, err: int) -> "ForkedWorker":
        """A new worker reading tasks from ``task_r`` and writing results to ``res_w``, its
        output to ``err`` (the caller closes its own copies). OSError when the zygote is gone
        or refuses to fork (it has more than one thread)."""
        kind, value = self._ask(("fork",), (task_r, res_w, err))
        if kind != "pid":
            raise OSError(f"the worker zygote did not fork: {value}")
        return ForkedWorker(self, int(value))

    def poll(self, pid: int) -> int | None:
        """Worker ``pid``'s return code as :attr:`subprocess.Popen.returncode` gives it (negative:
        the signal that killed it), None while it runs. OSError when the zygote is gone."""
        return self._ask(("poll", pid))[1]

    def close(self) -> None:
        """Stop the zygote (its end of the socket reads end of file) and reap it."""
        try:
            self.sock.close()
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait()


class ForkedWorker:
    """A worker forked by a :class:`Zygote`, with the part of :class:`subprocess.Popen` the pool
    uses: ``pid``, :meth:`poll` and :meth:`wait`."""

    def __init__(self, zygote: Zygote, pid: int):
        self.zygote, self.pid, self.returncode = zygote, pid, None

    def poll(self) -> int | None:
        """The return code once the worker has ended (asked of the zygote, which reaps it), else
        None; -9 once the zygote itself is gone (its workers die with it)."""
        if self.returncode is None:
            try:
                self.returncode = self.zygote.poll(self.pid)
            except OSError:  # the zygote is gone, and its workers with it
                self.returncode = -9
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Poll until the worker ends; its return code. subprocess.TimeoutExpired after
        ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode


def main(argv: list[str]) -> None:
    from n4d4d.budget import die_with_parent

    die_with_parent()
    os.dup2(2, 1)
    sock = socket.socket(fileno=int(argv[0]))
    preload()
    serve_forks(sock)


if __name__ == "__main__":
    main(sys.argv[1:])
