"""The animate stage: families chosen by structure for --motion auto, explicit lists, none, the
stage record's figures, and clip_checks as the certificate calls it."""

from __future__ import annotations

import pytest

from n4d4d.deformation import animate_stage, clip_checks, shapes
from n4d4d.deformation.stage import auto_families, summary_line
from n4d4d.options import BuildOptions
from n4d4d.physics_validation import collision_stage, mass_stage


@pytest.fixture(scope="module")
def lid():
    return mass_stage(collision_stage(shapes.hinged_lid_box()))


def test_auto_makes_articulate_and_drop_for_a_hinged_lid(lid):
    out = animate_stage(lid, BuildOptions(motion="auto", seconds=2, fps=30))
    rec = out.stages[-1]
    assert rec.name == "animate"
    assert [c.name for c in out.motion_clips] == ["articulate", "drop"]
    assert rec.figures["families"] == ["articulate", "drop"]
    assert rec.figures["skipped"]["gait"].startswith("no legs")
    clips = {c["name"]: c for c in rec.figures["clips"]}
    assert clips["articulate"]["frames"] == 61 and clips["articulate"]["passed"]
    assert clips["drop"]["ends_at_rest"] and clips["drop"]["frames"] >= 61
    assert summary_line(out).startswith("articulate 61f ok, drop ")
    checks = clip_checks(out)
    assert [c.name for c in checks] == ["clip:articulate", "clip:drop"]
    assert all(c.passed for c in checks), [c.reasons for c in checks]
    assert checks[0].threshold["joint_limit_violations"] == 0


def test_explicit_families_skip_with_reasons_and_none_makes_nothing(lid):
    out = animate_stage(lid, BuildOptions(motion="articulate,gait,soft,imported", seconds=1))
    rec = out.stages[-1].figures
    assert [c.name for c in out.motion_clips] == ["articulate"]
    assert rec["skipped"]["gait"].startswith("no legs")
    assert "not marked deformable" in rec["skipped"]["soft"]  # soft needs --deformable
    assert rec["skipped"]["imported"]  # a procedural shape has no file animation to import
    none = animate_stage(lid, BuildOptions(motion="none"))
    assert none.motion_clips == () and none.stages[-1].figures["clips"] == []
    assert summary_line(none) == "no motion clips"


def test_auto_gives_a_legged_asset_gait_and_idle_not_articulate():
    from n4d4d.asset import Mesh
    from n4d4d.generator.procedural import make_shape

    a = make_shape("animal", 1)
    a = a.replace(collision={p.name: (Mesh.from_trimesh(p.mesh.to_trimesh().convex_hull),) for p in a.parts})
    chosen, why = auto_families(a)
    assert chosen == ["drop", "gait", "idle"]
    assert "legs" in why["articulate"]
