"""The evaluation harness on pybullet_data robots (and the dev set when present)."""

from __future__ import annotations

import numpy as np

from n4d4d.rigging.harness import evaluate, summarize


def test_harness_scores_r2d2(pybullet_data):
    """r2d2's URDF is the truth: 4 wheels (cylinders), a head (sphere with an eye), a gripper
    pole and two fingers. Floors below are what both tracks must keep achieving (measured on
    each: type acc 0.88, axis and pivot medians ~0); the pole's prismatic slide (it slides
    into the body, which geometry forbids) is the known type miss, the fingers' axes (they
    turn across the pole, geometry also lets them turn about it) the known axis misses."""
    res = evaluate([pybullet_data / "r2d2.urdf"])
    for r in res:
        assert r.error is None and r.true_joints == 8 and r.matched == 8, r
    summary = summarize(res)
    for track in ("kept", "merged"):
        s = summary[track]
        assert s["type_acc"] >= 0.75, track
        assert s["axis_med"] <= 3.0 and s["pivot_med"] <= 2.0, track


def test_cli_prints_table(pybullet_data):
    from typer.testing import CliRunner

    from n4d4d.cli import app

    out = CliRunner().invoke(app, ["eval", "rigging", str(pybullet_data / "cartpole.urdf")])
    assert out.exit_code == 0, out.output
    assert "kept" in out.output and "merged" in out.output and "by category" in out.output
    assert "by true joint type" in out.output and "leave-one-category-out" in out.output


def test_skeleton_track_on_dev_skins(shared_data):
    """CesiumMan and RiggedSimple (a branchless cylinder: the axis fallback, not one joint).
    Measured CD-J2J 0.029 and 0.112; floors with room for seeds and platforms."""
    paths = sorted((shared_data / "rigged").glob("*.glb"))
    res = {r.name: r for r in evaluate(paths)}
    for r in res.values():
        assert r.error is None and r.cd_j2j is not None and np.isfinite(r.cd_j2j)
    assert res["CesiumMan"].cd_j2j <= 0.04
    assert res["RiggedSimple"].matched >= 3 and res["RiggedSimple"].cd_j2j <= 0.14
