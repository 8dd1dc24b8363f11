"""CPU-time budgets (n4d4d.budget): work is charged, waiting is not; a child's CPU counts; the
wall-clock guard reports a hang as a hang; compilation and excluded blocks are charged to nothing."""

from __future__ import annotations

import sys
import time

import psutil
import pytest

from n4d4d.budget import Budget, HangError, process_cpu_seconds, run_child
from n4d4d.errors import TimeBudgetError


def _spin(seconds: float) -> None:
    """Burn about ``seconds`` of this process's CPU."""
    c0 = process_cpu_seconds()
    while process_cpu_seconds() - c0 < seconds:
        sum(i * i for i in range(2000))


def test_waiting_is_not_charged_work_is():
    b = Budget(0.3, min_wall_s=30.0, what="test stage", label="thing.obj")
    time.sleep(0.5)  # longer than the budget, but no work
    b.check()  # still within: a busy or idle machine does not spend a CPU budget
    assert b.cpu_used() < 0.3 and b.wall_used() >= 0.5
    with pytest.raises(TimeBudgetError, match=r"thing\.obj: test stage ran past its CPU time budget") as info:
        while True:
            _spin(0.05)
            b.check()
    assert not isinstance(info.value, HangError)
    # The budget's clock is the process's CPU clock: what it charged is what the process spent.
    assert 0.3 <= b.cpu_used() <= 0.3 + 0.2


def test_excluded_block_is_charged_to_nothing():
    b = Budget(0.2, min_wall_s=30.0)
    with b.excluded():
        _spin(0.3)
    b.check()  # 0.3 CPU s spent, none of it charged
    assert b.cpu_used() < 0.1 and b.excluded_cpu_s >= 0.3


def test_a_running_childs_cpu_counts_and_it_is_killed():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    b = Budget(0.5, min_wall_s=60.0, what="spinning child")
    t0 = time.perf_counter()
    with pytest.raises(TimeBudgetError, match="spinning child ran past its CPU time budget") as info:
        run_child([sys.executable, "-c", "while True: pass"], b"", b)
    assert not isinstance(info.value, HangError)
    assert time.perf_counter() - t0 < 30.0  # stopped by its CPU, long before the hang guard
    assert b.cpu_used() >= 0.5  # the child's CPU, reaped, still charged (RUSAGE_CHILDREN)
    after = {p.pid for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE}
    assert after <= before


def test_a_hung_child_is_reported_as_a_hang():
    """A child that sleeps uses no CPU: only the wall guard (10 x 0.05 s, at least 1 s) stops it."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    b = Budget(0.05, wall_factor=10.0, min_wall_s=1.0, what="sleeping child", label="x.obj")
    t0 = time.perf_counter()
    with pytest.raises(HangError, match=r"x\.obj: sleeping child looks hung") as info:
        run_child([sys.executable, "-c", "import time; time.sleep(120)"], b"", b)
    assert 1.0 <= time.perf_counter() - t0 < 20.0
    assert info.value.wall_s >= 1.0 and info.value.cpu_s < 0.05
    after = {p.pid for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE}
    assert after <= before


def test_run_child_passes_data_both_ways():
    b = Budget(20.0)
    out, err, code = run_child([sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read()[::-1])"],
                               b"x" * 200_000 + b"end", b)
    assert code == 0 and out == (b"x" * 200_000 + b"end")[::-1]


def test_kernel_compilation_is_not_charged(tmp_path, monkeypatch):
    """A Warp kernel never seen before compiles on first launch (in this process); the compile
    meter moves those CPU seconds out of every running budget."""
    import uuid

    wp = pytest.importorskip("warp")
    from n4d4d.budget import compile_seconds, install_compile_meter

    assert install_compile_meter()
    tag = uuid.uuid4().hex[:12]  # new source: no cache hit
    (tmp_path / f"k_{tag}.py").write_text(
        "import warp as wp\n"
        "@wp.kernel\n"
        f"def k_{tag}(a: wp.array(dtype=float)):\n"
        "    i = wp.tid()\n"
        f"    a[i] = a[i] * 2.0 + {int(tag[:6], 16) % 1000}.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(f"k_{tag}")
    b = Budget(1000.0)
    k0 = compile_seconds()
    c0 = process_cpu_seconds()
    a = wp.zeros(8, dtype=float, device="cpu")
    wp.launch(getattr(module, f"k_{tag}"), dim=8, inputs=[a], device="cpu")
    spent = process_cpu_seconds() - c0
    compiled = compile_seconds()[0] - k0[0]
    assert compile_seconds()[2] > k0[2] and compiled > 0.0  # it did compile
    # Everything but the compilation (a launch, hashing) is charged: well under what compiling cost.
    assert b.cpu_used() == pytest.approx(spent - compiled, abs=0.05)
    assert b.excluded_cpu_s == pytest.approx(compiled, abs=1e-9)


def test_a_stalled_physics_stage_is_reported_as_a_hang(monkeypatch):
    """A physics stage whose engine stalls (each step waits 20 ms, doing no work: a starved or
    blocked process looks like this) is stopped by the wall guard and reported as a hang, naming
    the asset and the check that was running; with CPU time unspent it is not a budget overrun."""
    from n4d4d.physics_validation import _bullet, collision_stage, mass_stage, shapes, stability_stage

    asset = mass_stage(collision_stage(shapes.box()))
    connect = _bullet.connect

    class Stalling:
        def __init__(self, client):
            self._client = client

        def __getattr__(self, name):
            return getattr(self._client, name)

        def stepSimulation(self):
            time.sleep(0.02)
            return self._client.stepSimulation()

    monkeypatch.setattr(_bullet, "connect", lambda dt, **kw: Stalling(connect(dt, **kw)))
    budget = Budget(0.5, wall_factor=10.0, min_wall_s=2.0, what="physics checks", label="box.obj")
    t0 = time.perf_counter()
    with pytest.raises(HangError, match=r"box\.obj: physics checks \(PyBullet rest and drop checks\) looks hung"):
        stability_stage(asset, engines=("pybullet",), budget=budget)
    assert time.perf_counter() - t0 < 30.0
