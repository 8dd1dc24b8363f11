"""A batch killed at any moment and resumed gives the outputs of an uninterrupted run.

``n4d4d build ... --workers 2`` is run in its own process group and killed with SIGKILL (the
whole group: the driver and its workers) at several moments; ``--skip-existing`` then
finishes it. The result is compared file by file, bytes for every exported file and
report.json apart from its ``timings`` section, with an uninterrupted one-worker run, so this
also checks that outputs do not depend on the worker count. Nothing temporary may be left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trimesh

ARGS = ["--resolution", "64", "--max-hulls", "4", "--unit", "m", "--formats", "usda,urdf,mjcf,3mf"]


def _n4d4d(*args, **kw):
    cmd = [sys.executable, "-c", "from n4d4d.cli import main; main()", "build", *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, **kw)


def _snapshot(out: Path) -> dict[str, object]:
    """Relative path -> bytes (report.json: parsed, without timings) of every entry. The HTML
    report and its pictures are a view that shows wall times: their presence is compared,
    not their bytes."""
    snap = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.name in ("report.html", "index.html") or "report_files" in p.parts:
            snap[rel] = "view"
        elif p.is_dir():
            snap[rel] = "dir"
        elif p.name == "report.json":
            snap[rel] = {k: v for k, v in json.loads(p.read_text()).items() if k != "timings"}
        else:
            snap[rel] = p.read_bytes()
    return snap


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    files = []
    for k, ext in enumerate([(0.1, 0.08, 0.06), (0.05, 0.05, 0.05), (0.12, 0.04, 0.04)]):
        files.append(d / f"box{k}.obj")
        trimesh.creation.box(ext).export(files[-1])
    return files


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    proc = _n4d4d(*inputs, "-o", out, *ARGS)
    text = proc.communicate(timeout=300)[0].decode()
    assert proc.returncode == 0, text
    return _snapshot(out)


@pytest.mark.parametrize("kill_after_s", [3.0, 7.0])
def test_sigkill_then_resume_matches_an_uninterrupted_run(inputs, reference, tmp_path, kill_after_s):
    out = tmp_path / "out"
    proc = _n4d4d(*inputs, "-o", out, "--workers", "2", *ARGS)
    time.sleep(kill_after_s)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc = _n4d4d(*inputs, "-o", out, "--workers", "2", "--skip-existing", *ARGS)
    text = proc.communicate(timeout=300)[0].decode()
    assert proc.returncode == 0, text
    assert "3 passed, 0 failed" in text, text
    assert not [p for p in out.rglob(".*")], "temporaries left behind"
    assert _snapshot(out) == reference
