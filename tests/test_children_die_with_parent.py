"""A killed build leaves no work running: the CoACD and V-HACD children and the build workers ask
the kernel to kill them when their parent dies (``n4d4d.budget.die_with_parent``,
``PR_SET_PDEATHSIG``). Before, a parent stopped with SIGTERM left its CoACD child running,
re-parented to init, until its decomposition ended. Truth: the OS's process table (psutil).

The child is given a decomposition that takes minutes (a finely meshed torus at a concavity
threshold of 0.005 with unlimited hulls: over 10 CPU minutes here), so it is busy inside CoACD,
not waiting on its stdin (a closed pipe would end a waiting child without the fix); it must be
gone within 10 s of its parent's death."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

PARENT = """
import pickle, subprocess, sys, time
import trimesh
m = trimesh.creation.torus(0.1, 0.03, major_sections=64, minor_sections=32)
kwargs = dict(threshold=0.005, max_convex_hull=-1, preprocess_resolution=80, resolution=4000,
              mcts_iterations=200, mcts_max_depth=5)
child = subprocess.Popen([sys.executable, "-m", "n4d4d.physics_validation._coacd_worker"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
child.stdin.write(pickle.dumps((m.vertices, m.faces, kwargs)))
child.stdin.close()
print(child.pid, flush=True)
time.sleep(600)
"""


def test_coacd_child_dies_with_its_parent():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        child = psutil.Process(pid)
        time.sleep(3.0)  # into CoACD
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=30)
        try:
            child.wait(timeout=10)
        except psutil.TimeoutExpired:
            child.kill()
            pytest.fail("the CoACD child outlived its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
