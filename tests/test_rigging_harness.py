"""The evaluation harness on pybullet_data robots (and the dev set when present)."""

from __future__ import annotations

import numpy as np

from n4d4d.rigging.harness import evaluate, summarize


def test_harness_scores_r2d2(pybullet_data):
    """r2d2's URDF is the truth: 4 wheels (cylinders), a head (sphere) and a gripper. Floors
    below are what the kept-parts track must keep achieving (measured: type acc 0.88, axis
    median < 1 degree, pivot median ~0 %); the gripper's prismatic slide is the known miss."""
    res = evaluate([pybullet_data / "r2d2.urdf"])
    kept = next(r for r in res if r.track == "kept")
    assert kept.error is None and kept.true_joints == 8 and kept.matched == 8
    s = summarize(res)["kept"]
    assert s["type_acc"] >= 0.75
    assert s["axis_med"] <= 3.0 and s["pivot_med"] <= 2.0


def test_cli_prints_table(pybullet_data):
    from typer.testing import CliRunner

    from n4d4d.cli import app

    out = CliRunner().invoke(app, ["eval", "rigging", str(pybullet_data / "cartpole.urdf")])
    assert out.exit_code == 0, out.output
    assert "kept" in out.output and "merged" in out.output and "CD-J2J" in out.output


def test_skeleton_track_on_dev_skins(shared_data):
    paths = sorted((shared_data / "rigged").glob("*.glb"))
    res = evaluate(paths)
    for r in res:
        assert r.error is None and r.cd_j2j is not None and np.isfinite(r.cd_j2j)
