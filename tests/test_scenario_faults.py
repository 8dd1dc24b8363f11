"""One asset that crashes, hangs or eats memory in its worker is that asset's failure, with its
reason; the pool replaces the worker and every other asset completes.

The faults come from the test hook ``N4D4D_TEST_FAULT`` (:mod:`n4d4d.scenarios.pool`): the
worker calls ``os.abort()``, sleeps forever, or allocates ~300 MB/s instead of building.
"""

from __future__ import annotations

import pytest
import trimesh

from n4d4d.options import BuildOptions
from n4d4d.scenarios import build_batch

FAST = BuildOptions(resolution=64, max_hulls=4, unit="m", motion="none")


@pytest.fixture
def boxes(tmp_path):
    paths = []
    for name, ext in (("crash", (0.05, 0.05, 0.05)), ("good", (0.06, 0.05, 0.04))):
        paths.append(tmp_path / f"{name}.obj")
        trimesh.creation.box(ext).export(paths[-1])
    return paths


def test_aborting_worker_is_replaced_and_the_next_asset_builds(boxes, tmp_path, monkeypatch):
    monkeypatch.setenv("N4D4D_TEST_FAULT", "crash=abort")
    out = tmp_path / "out"
    # one worker: the asset after the crash can only build if the dead worker was replaced
    res = build_batch([("path", str(p)) for p in boxes], out, FAST, workers=1, isolate=True)
    assert not res[0].passed and "worker process died (signal SIGABRT)" in res[0].error
    assert str(boxes[0]) in res[0].error  # the failure names the input
    assert res[1].passed and res[1].error is None and (out / "good" / "asset.usda").is_file()
    assert not (out / "crash").exists() and not [p for p in out.rglob(".*")]


def test_hang_and_runaway_memory_are_stopped_by_their_limits(boxes, tmp_path, monkeypatch):
    import time

    from n4d4d.scenarios.batch import AssetJob
    from n4d4d.sources import MeshFile

    monkeypatch.setenv("N4D4D_TEST_FAULT", "hang=hang,oom=oom")
    jobs = [AssetJob(MeshFile(boxes[0]), FAST.model_copy(update={"name": n})) for n in ("hang", "oom")]
    t0 = time.monotonic()
    res = build_batch(jobs, tmp_path / "out", workers=2, time_limit_s=4.0, memory_limit_gb=0.4)
    took = time.monotonic() - t0
    assert "ran past the time limit of 4 s" in res[0].error and res[0].seconds >= 4.0
    assert "over the memory limit of 0.4 GiB" in res[1].error
    assert took < 30  # both stopped by the watchdog, not by finishing
