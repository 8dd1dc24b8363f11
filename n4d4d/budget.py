"""Time budgets that count work (CPU seconds), with a wall-clock guard that only catches hangs.

A build that fails because the machine was busy is a defect: on a 2-core machine shared with
other work, wall time grows with the load while the CPU time of a computation does not. So a
:class:`Budget` measures the CPU seconds of this process (all its threads) and of its child
processes, both those already reaped (``RUSAGE_CHILDREN``) and those still running that the
caller asked it to :meth:`~Budget.watch` (CoACD runs in a child); :meth:`Budget.check` raises
:class:`~n4d4d.errors.TimeBudgetError` once they exceed the budget. A separate wall-clock guard,
``wall_factor`` times the budget (at least ``min_wall_s``), catches what CPU time cannot: a
stage that waits forever (a child that stopped, a deadlock, a process starved of any CPU); it
raises :class:`HangError`, which says it is a hang, not a slow computation.

Work that is nobody's stage is never charged: Warp kernel compilation (a fresh machine's
first build spends tens of CPU seconds compiling Warp and Newton kernels) is measured by
:func:`install_compile_meter`, which times every ``Module._compile`` call of Warp, and a budget
subtracts what was compiled while it ran; :meth:`Budget.excluded` runs any other block that is
nobody's work (importing the physics engines, once per process) the same way. Both are
reported apart (:attr:`Budget.excluded_cpu_s`).

CPU time is read with ``resource.getrusage`` (user + system, POSIX); a watched child's with
psutil (``/proc`` on Linux). This module measures and decides; it kills nothing itself except
through :func:`run_child`, which supervises one child process under a budget. It does not
share CPU between stages: each stage makes its own Budget.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from n4d4d.errors import TimeBudgetError

#: Default wall-clock guard: a budget of ``c`` CPU seconds is declared hung after
#: ``WALL_FACTOR * c`` wall seconds. 10x leaves room for a machine whose load is 10x its
#: cores (each process then gets about a tenth of a core), the busiest measured in issue 13
#: short of a load of 27 on 2 cores.
WALL_FACTOR = 10.0

#: The wall guard is never shorter than this (s): process start-up and imports cost wall
#: seconds even for a tiny budget, and a hang is minutes, not a fraction of a second.
MIN_WALL_S = 10.0


_COMPILE = {"cpu_s": 0.0, "wall_s": 0.0, "modules": 0, "installed": False}


def install_compile_meter() -> bool:
    """Time every Warp kernel-module compilation from now on (CPU and wall seconds, in
    :func:`compile_seconds`), so that no budget is charged for it. Idempotent; call it after
    importing warp. Warp (1.x) compiles a module in ``warp._src.context.Module._compile`` in
    the calling process; that method is wrapped (nothing else changes). Returns False, and
    measures nothing, when this Warp has no such method (compilation is then charged).
    """
    if _COMPILE["installed"]:
        return True
    try:
        from warp._src.context import Module
    except ImportError:
        return False
    original = getattr(Module, "_compile", None)
    if original is None:
        return False
    import functools

    @functools.wraps(original)
    def metered(self, *args, **kwargs):
        c0, w0 = process_cpu_seconds(), time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            _COMPILE["cpu_s"] += process_cpu_seconds() - c0
            _COMPILE["wall_s"] += time.perf_counter() - w0
            _COMPILE["modules"] += 1

    Module._compile = metered
    _COMPILE["installed"] = True
    return True


def compile_seconds() -> tuple[float, float, int]:
    """``(cpu_s, wall_s, modules)`` of Warp compilation in this process since
    :func:`install_compile_meter`."""
    return _COMPILE["cpu_s"], _COMPILE["wall_s"], _COMPILE["modules"]


class HangError(TimeBudgetError):
    """A stage made too little progress for too long: the wall-clock guard of its budget
    tripped before its CPU budget was spent (a hung child, a deadlock, a starved process).
    ``cpu_s`` and ``wall_s`` are what was measured when it was stopped."""

    def __init__(self, message: str, path=None, *, cpu_s: float = 0.0, wall_s: float = 0.0):
        self.cpu_s, self.wall_s = float(cpu_s), float(wall_s)
        super().__init__(message, path)


def process_cpu_seconds() -> float:
    """CPU seconds (user + system) of this process, all threads, plus its reaped children."""
    import resource

    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux ``PR_SET_PDEATHSIG``;
    no-op elsewhere). Every child n4d4d starts calls it first (build workers, their zygote, the
    CoACD and V-HACD children), so a killed build never leaves work running; a child of a
    child whose parent was killed by SIGTERM was otherwise re-parented to init and ran on."""
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG = 1
    except OSError:  # pragma: no cover - no libc: a closed pipe still ends the child
        pass


def child_cpu_seconds(pid: int) -> float:
    """CPU seconds of a running child process ``pid`` (all its threads and its own reaped
    children), or 0.0 once it is gone."""
    import psutil

    try:
        t = psutil.Process(pid).cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return 0.0
    return t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)


class Budget:
    """A CPU-time budget with a wall-clock hang guard, started on construction.

    Args:
        cpu_s: CPU seconds allowed (this process's and its children's), > 0.
        wall_factor: the hang guard is ``max(wall_factor * cpu_s, min_wall_s)`` wall seconds.
        min_wall_s: the shortest hang guard (s).
        what: what the budget is for, as error messages say it ("CoACD convex decomposition").
        label: the file or asset the errors name.
        cpu_clock, wall_clock: the clocks (seconds, monotonic); defaults
            :func:`process_cpu_seconds` and ``time.perf_counter``. Tests pass their own.

    Attributes:
        excluded_cpu_s, excluded_wall_s: seconds charged to nothing: :meth:`excluded` blocks
            and Warp kernel compilation (:func:`install_compile_meter`) since the start.

    Raises:
        ValueError: ``cpu_s`` or ``wall_factor`` not positive.
    """

    def __init__(self, cpu_s: float, *, wall_factor: float = WALL_FACTOR, min_wall_s: float = MIN_WALL_S,
                 what: str = "stage", label: str | None = None, cpu_clock: Callable[[], float] | None = None,
                 wall_clock: Callable[[], float] | None = None):
        if not cpu_s > 0 or not wall_factor > 0:
            raise ValueError(f"a budget needs cpu_s > 0 and wall_factor > 0, got {cpu_s}, {wall_factor}")
        self.cpu_s, self.wall_factor, self.what, self.label = float(cpu_s), float(wall_factor), what, label
        self.wall_s = max(self.wall_factor * self.cpu_s, float(min_wall_s))
        self._cpu, self._wall = cpu_clock or process_cpu_seconds, wall_clock or time.perf_counter
        self._cpu0, self._wall0 = self._cpu(), self._wall()
        self._compile0 = compile_seconds()
        self._excluded_cpu = self._excluded_wall = 0.0
        self._watched: list[int] = []

    # -- measuring ---------------------------------------------------------------------------
    @property
    def excluded_cpu_s(self) -> float:
        return self._excluded_cpu + compile_seconds()[0] - self._compile0[0]

    @property
    def excluded_wall_s(self) -> float:
        return self._excluded_wall + compile_seconds()[1] - self._compile0[1]

    def cpu_used(self) -> float:
        """CPU seconds charged so far: this process and its reaped children since the start,
        plus the watched children still running, minus :meth:`excluded` blocks."""
        live = sum(child_cpu_seconds(pid) for pid in self._watched)
        return self._cpu() - self._cpu0 - self.excluded_cpu_s + live

    def wall_used(self) -> float:
        """Wall seconds since the start, minus :meth:`excluded` blocks."""
        return self._wall() - self._wall0 - self.excluded_wall_s

    def cpu_left(self) -> float:
        """CPU seconds left (may be negative)."""
        return self.cpu_s - self.cpu_used()

    def wall_left(self) -> float:
        """Wall seconds left before the hang guard trips (may be negative)."""
        return self.wall_s - self.wall_used()

    def fraction_used(self) -> float:
        """The larger of the CPU and wall-guard fractions spent, in [0, inf)."""
        return max(self.cpu_used() / self.cpu_s, self.wall_used() / self.wall_s)

    def exhausted(self) -> bool:
        """True once either clock is past its limit (what :meth:`check` would raise for)."""
        return self.cpu_left() <= 0 or self.wall_left() <= 0

    def figures(self) -> dict:
        """JSON-ready: ``cpu_budget_s``, ``wall_guard_s`` (the limits), ``cpu_s``, ``wall_s``
        (charged so far), ``excluded_cpu_seconds``, ``excluded_wall_seconds`` (charged to
        nothing). The measured values carry timing key names (:func:`n4d4d.conventions.is_timing_key`),
        so outputs keep them with the other timings and stay byte-reproducible."""
        return {"cpu_budget_s": self.cpu_s, "wall_guard_s": self.wall_s, "cpu_s": self.cpu_used(),
                "wall_s": self.wall_used(), "excluded_cpu_seconds": self.excluded_cpu_s,
                "excluded_wall_seconds": self.excluded_wall_s}

    # -- deciding ----------------------------------------------------------------------------
    def check(self, stage: str | None = None) -> None:
        """Raise if the budget is spent.

        Args:
            stage: what is running now (named in the message), e.g. "newton drop checks".

        Raises:
            TimeBudgetError: more than ``cpu_s`` CPU seconds charged.
            HangError: the wall guard tripped first: ``wall_s`` wall seconds passed while
                less than ``cpu_s`` CPU seconds of work were done.
        """
        cpu, wall = self.cpu_used(), self.wall_used()
        where = f" ({stage})" if stage and stage != self.what else ""
        if cpu > self.cpu_s:
            raise TimeBudgetError(f"{self.what}{where} ran past its CPU time budget of {self.cpu_s:g} s "
                                  f"({cpu:.1f} CPU s in {wall:.1f} s wall) and was stopped", self.label)
        if wall > self.wall_s:
            raise HangError(f"{self.what}{where} looks hung: {wall:.1f} s wall, past its hang guard of "
                            f"{self.wall_s:g} s ({self.wall_factor:g} x its CPU budget of {self.cpu_s:g} s), "
                            f"with only {cpu:.1f} CPU s of work done; stopped", self.label, cpu_s=cpu, wall_s=wall)

    @contextmanager
    def excluded(self) -> Iterator[None]:
        """A block whose CPU and wall seconds are charged to no stage (engine loading and
        kernel compilation); they add to :attr:`excluded_cpu_s` / :attr:`excluded_wall_s`."""
        c0, w0, k0 = self._cpu(), self._wall(), compile_seconds()
        try:
            yield
        finally:  # compilation inside the block is already excluded: not twice
            k1 = compile_seconds()
            self._excluded_cpu += self._cpu() - c0 - (k1[0] - k0[0])
            self._excluded_wall += self._wall() - w0 - (k1[1] - k0[1])

    @contextmanager
    def watching(self, pid: int) -> Iterator[None]:
        """While the block runs, the running child ``pid``'s CPU seconds count toward the
        budget. Reap the child inside the block: once reaped, ``RUSAGE_CHILDREN`` counts it."""
        self._watched.append(pid)
        try:
            yield
        finally:
            self._watched.remove(pid)

    def sub(self, cpu_s: float, *, what: str | None = None) -> "Budget":
        """A budget of at most ``cpu_s`` CPU seconds, capped by what is left of this one, for one
        piece of this budget's work; its wall guard is ``wall_factor`` times that (at least
        :data:`MIN_WALL_S`), never past what is left of this one's."""
        left = max(min(cpu_s, self.cpu_left()), 1e-3)
        b = Budget(left, wall_factor=self.wall_factor, what=what or self.what,
                   label=self.label, cpu_clock=self._cpu, wall_clock=self._wall)
        b.wall_s = max(min(b.wall_s, self.wall_left()), 1e-3)  # never past the parent's guard
        return b


def run_child(command: Sequence[str], payload: bytes, budget: Budget, *, poll_s: float = 0.05,
              stage: str | None = None) -> tuple[bytes, bytes, int]:
    """Run ``command`` as a child process fed ``payload`` on stdin, under ``budget``.

    The child's CPU seconds are charged to ``budget`` while it runs (:meth:`Budget.watching`);
    it is killed, and reaped, as soon as :meth:`Budget.check` would raise, and no child
    outlives the call, whatever happens.

    Args:
        command: argv of the child.
        payload: bytes written to its stdin (then closed).
        budget: the budget charged.
        poll_s: seconds between checks.
        stage: what :meth:`Budget.check` names.

    Returns:
        ``(stdout bytes, stderr bytes, exit code)``.

    Raises:
        TimeBudgetError: the budget's CPU seconds ran out (child killed).
        HangError: its wall guard tripped first (child killed).
    """
    import subprocess
    import tempfile
    import threading

    # stdout/stderr into temporary files: no pipe can fill up and block the child, and no
    # reader threads are needed; stdin is fed from a thread (large payloads would block).
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(list(command), stdin=subprocess.PIPE, stdout=out, stderr=err)
        try:
            def feed():
                try:
                    proc.stdin.write(payload)
                    proc.stdin.close()
                except (BrokenPipeError, OSError):  # the child died or was killed: its exit says why
                    pass

            writer = threading.Thread(target=feed, daemon=True)
            with budget.watching(proc.pid):
                writer.start()
                while True:
                    try:
                        proc.wait(timeout=poll_s)
                        break
                    except subprocess.TimeoutExpired:
                        budget.check(stage)
            writer.join(timeout=1.0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdin and not proc.stdin.closed:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        out.seek(0)
        err.seek(0)
        return out.read(), err.read(), proc.returncode
