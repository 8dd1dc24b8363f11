"""``python -m n4d4d`` runs the same command line as the installed ``n4d4d`` script."""
from __future__ import annotations

import subprocess
import sys


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "n4d4d", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "build" in out.stdout and "generate" in out.stdout


def test_python_dash_m_exits_non_zero_on_a_missing_file(tmp_path):
    out = subprocess.run([sys.executable, "-m", "n4d4d", "build", str(tmp_path / "nope.obj"), "-o", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "nope.obj" in out.stdout + out.stderr
