"""A drawer behind a cabinet door (PartNet-Mobility storage furniture 45213's layout): its sweep
is run with the door held open, in the certificate and in the ``articulate`` clip, while a door
that cannot open far enough to clear the drawer still fails the check.

Geometry (closed form): base x in [-0.15, 0.15]; drawer x in [0.151, 0.251], y in [-0.1, 0.1],
sliding +X by 0.15 m; door x in [0.253, 0.273], y in [-0.15, 0.15], hinged on its -Y edge about
-Z (swings outward). Door closed, the drawer's front reaches x = 0.401 > 0.253: 148 mm into the
door at full travel. Door open at 1.6 rad (92 deg) it lies along +X at y < -0.14, clear of the
drawer's |y| <= 0.1. Open only 0.2 rad, its far edge is still at x <= 0.273 + 0.3 sin 0.2 and
its inner face crosses the drawer's path: no hold clears the range."""
from __future__ import annotations

import pytest
from boxes import cupboard as make_cupboard

from n4d4d.physics_validation.articulation import check_articulation
from n4d4d.physics_validation.prerequisites import sweep_prerequisites
from n4d4d.physics_validation.rigid_model import rigid_model


@pytest.fixture(scope="module")
def cupboard():
    return make_cupboard(1.6)


def test_the_drawer_needs_the_door_open(cupboard):
    holds = sweep_prerequisites(rigid_model(cupboard), 0.001)
    assert holds == {"slide": {"hinge": pytest.approx(1.6)}}


def test_the_certificate_sweeps_the_drawer_with_the_door_open(cupboard):
    res = check_articulation(cupboard, rigid_model(cupboard))
    assert res.passed, res.reasons
    slide = res.measured["slide"]
    assert slide["max_q"] == pytest.approx(0.15, abs=0.01)  # the drawer ran its whole travel
    assert slide["max_link_overlap_m"] <= 0.001


def test_a_door_that_cannot_clear_the_drawer_still_fails():
    tight = make_cupboard(0.2)
    assert sweep_prerequisites(rigid_model(tight), 0.001) == {}
    res = check_articulation(tight, rigid_model(tight))
    assert not res.passed
    assert any("slide" in r and "into each other" in r for r in res.reasons), res.reasons


def test_the_articulate_clip_opens_the_door_before_the_drawer_and_closes_it_after(cupboard):
    from n4d4d.deformation.articulate import articulate_clip

    clip = articulate_clip(cupboard)
    slide, hinge = clip.joint_positions["slide"], clip.joint_positions["hinge"]
    assert slide.max() == pytest.approx(0.15, abs=0.01)  # not stopped by the door
    out = slide > 0.02
    assert hinge[out].min() > 1.5  # the door stays open while the drawer is out
    assert abs(hinge[-1]) < 0.05 and abs(slide[-1]) < 0.01  # both back home at the end


def test_newton_sweeps_the_drawer_with_the_door_open(cupboard, tmp_path):
    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation.newton_articulation import check_articulation_newton

    usd = write_usd(cupboard, tmp_path / "cupboard.usda")
    res = check_articulation_newton(cupboard, rigid_model(cupboard), usd_path=usd)
    assert res.passed, res.reasons
    assert res.measured["slide"]["max_q"] == pytest.approx(0.15, abs=0.01)
    assert res.measured["slide"]["max_link_overlap_m"] <= 0.001
