"""torch's CPU threads on a shared machine (n4d4d.cpu): the idle cores, at least one; a given
count as given; the setting restored after a limited block."""

from __future__ import annotations

import os

import pytest

from n4d4d import cpu


@pytest.mark.parametrize("load,cores,expect", [(0.0, 2, 2), (0.4, 2, 2), (1.2, 2, 1), (9.0, 2, 1),
                                               (3.0, 16, 13), (40.0, 16, 1)])
def test_idle_cores_rule(monkeypatch, load, cores, expect):
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert cpu.torch_threads() == expect
    assert cpu.torch_threads(5) == 5                      # --threads N is used as given
    with pytest.raises(ValueError):
        cpu.torch_threads(-1)


def test_limit_restores_torch_setting(monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    with cpu.torch_thread_limit(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu.torch_thread_limit(before + 4) as n:          # never raised above the caller's count
        assert n == before and torch.get_num_threads() == before


def test_generation_is_the_same_whatever_torch_threads_the_caller_set():
    """Without the one-thread rule, mug seed 1's vertices differed (by 1.5e-8 m) between one and
    two threads: the sample depended on the machine's core count. Bit-for-bit equality asked."""
    torch = pytest.importorskip("torch")
    import numpy as np

    import n4d4d

    before = torch.get_num_threads()
    meshes = []
    try:
        for threads in (2, 1):
            torch.set_num_threads(threads)
            meshes.append(n4d4d.generate("mug", seed=1)[0].mesh)
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(meshes[0].vertices, meshes[1].vertices)
    assert np.array_equal(meshes[0].faces, meshes[1].faces)
