"""Engine prefetch: Warp and Newton imported in a background thread while the first stages run,
charged to no budget (issue 13: set-up is nobody's stage; the physics stage does not wait for it).

The truth is the OS's own accounting: ``resource.getrusage`` (the whole process, every thread)
and the burning thread's ``time.thread_time``; a background thread's CPU must show in the first
and not in :func:`n4d4d.budget.process_cpu_seconds`.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

from n4d4d.budget import Budget, background_cpu_seconds, process_cpu_seconds, run_in_background


def _rusage() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    return s.ru_utime + s.ru_stime


def _burn(seconds: float) -> None:
    t0 = time.thread_time()
    x = 0
    while time.thread_time() - t0 < seconds:
        x += 1


def test_background_cpu_is_charged_to_no_budget():
    """A thread burning 0.4 CPU s: the process's rusage grows by about that, the budget clock
    by almost nothing (tolerance 0.1 s: the main thread's own polling and Python's start of
    the thread), and a 0.2 CPU s budget started before it is not spent by it."""
    budget = Budget(0.2, what="test stage")
    r0, p0, b0 = _rusage(), process_cpu_seconds(), background_cpu_seconds()
    th = run_in_background(lambda: _burn(0.4), name="burner")
    while th.is_alive():
        time.sleep(0.01)
    th.join()
    assert th.error is None
    spent = background_cpu_seconds() - b0
    assert 0.39 <= spent <= 0.6, spent  # the thread's own clock: what it burned
    assert _rusage() - r0 >= 0.35  # the OS saw it
    assert process_cpu_seconds() - p0 < 0.1  # the budget clock did not
    budget.check("after the burn")  # not raised: the burn is nobody's work
    assert budget.cpu_used() < 0.1


def test_a_live_background_thread_is_left_out_while_it_runs():
    """Read while the thread is still burning: its CPU so far is already left out (read from
    the thread's own POSIX clock, not only once it ends)."""
    p0 = process_cpu_seconds()
    th = run_in_background(lambda: _burn(0.6), name="burner-live")
    time.sleep(0.05)
    while background_cpu_seconds() < 0.2 and th.is_alive():
        time.sleep(0.01)
    assert th.is_alive()
    assert process_cpu_seconds() - p0 < 0.1
    th.join()


def test_an_error_in_the_background_is_kept_not_raised():
    def fail():
        raise RuntimeError("no engine")

    th = run_in_background(fail, name="failing")
    th.join()
    assert isinstance(th.error, RuntimeError) and "no engine" in str(th.error)


def test_prefetch_imports_newton_in_a_fresh_process():
    """In a fresh interpreter, ``prefetch_engines(force=True)`` starts one thread that imports
    Newton; a second call starts none; after ``wait_for_engines`` Newton is imported and the
    certificate's ``load_engines`` finds it loaded (0 s of set-up left for the physics stage),
    and the import's CPU (seconds, measured by the thread's clock) was charged to no budget."""
    code = (
        "import json, sys\n"
        "from n4d4d import pipeline\n"
        "from n4d4d.budget import background_cpu_seconds, process_cpu_seconds\n"
        "c0 = process_cpu_seconds()\n"
        "first = pipeline.prefetch_engines(force=True)\n"
        "second = pipeline.prefetch_engines(force=True)\n"
        "error = pipeline.wait_for_engines()\n"
        "charged = process_cpu_seconds() - c0\n"
        "from n4d4d.physics_validation.certificate import load_engines\n"
        "left = load_engines(('newton',))\n"
        "print(json.dumps({'first': first, 'second': second, 'newton': 'newton' in sys.modules,\n"
        "  'error': repr(error), 'background': background_cpu_seconds(),\n"
        "  'charged': charged, 'left': left}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["first"] is True and r["second"] is False
    assert r["newton"] and r["error"] == "None"
    assert r["background"] > 0.5  # importing Newton is seconds of CPU (4-5 s on the dev machine)
    assert r["charged"] < 0.5 * r["background"]  # ... and the budget clock saw little of it
    assert r["left"] < 0.05  # load_engines: already loaded, nothing to do
