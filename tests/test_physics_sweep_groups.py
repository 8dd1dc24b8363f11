"""Independent joint sweeps run together (physics_validation.sweep_groups) and measure what each
would measure alone: same verdict figures per joint, in PyBullet and in Newton."""

from __future__ import annotations

import pytest

from n4d4d.exporters.usd import write_usd
from n4d4d.physics_validation import collision_stage, mass_stage, shapes
from n4d4d.physics_validation import sweep_groups
from n4d4d.physics_validation.articulation import check_articulation, plan_sweeps
from n4d4d.physics_validation.newton_articulation import check_articulation_newton
from n4d4d.physics_validation.rigid_model import rigid_model


@pytest.fixture(scope="module")
def cabinet():
    asset = mass_stage(collision_stage(shapes.cabinet(), max_hulls=4))
    return asset, rigid_model(asset)


def _alone(monkeypatch):
    """Every sweep its own group: the one-joint-at-a-time sweeps, for comparison."""
    monkeypatch.setattr(sweep_groups, "group_sweeps", lambda model, sweeps: [[s] for s in sweeps])
    import n4d4d.physics_validation.articulation as art
    import n4d4d.physics_validation.newton_articulation as nart

    monkeypatch.setattr(art, "group_sweeps", sweep_groups.group_sweeps)
    monkeypatch.setattr(nart, "group_sweeps", sweep_groups.group_sweeps)


def test_drawers_and_lid_are_one_group_the_knob_its_own(cabinet):
    asset, model = cabinet
    groups = sweep_groups.group_sweeps(model, plan_sweeps(model, 1 / 240, 0.5))
    names = [[s.joint.name for s in g] for g in groups]
    # The knob rides on the lid (a moving frame): never grouped. Drawers and lid hang from the
    # root and their swept boxes are apart (drawers below z = 0.11 m, the lid above 0.2 m).
    assert names == [["slide_a", "slide_b", "lid_hinge"], ["knob_turn"]]


def _figures(result):
    return {j: (m["min_q"], m["max_q"], m["peak_joint_speed"], m["max_link_overlap_m"])
            for j, m in result.measured.items()}


def test_grouped_sweeps_measure_what_lone_sweeps_measure_pybullet(cabinet, monkeypatch):
    asset, model = cabinet
    grouped = check_articulation(asset, model)
    assert grouped.details["groups"] == [["slide_a", "slide_b", "lid_hinge"], ["knob_turn"]]
    _alone(monkeypatch)
    alone = check_articulation(asset, model)
    assert len(alone.details["groups"]) == 4
    assert grouped.passed == alone.passed and grouped.reasons == alone.reasons
    # A fixed-base multibody: branches from the fixed root are dynamically decoupled
    # (Featherstone), so the figures agree to round-off.
    for j, g in _figures(grouped).items():
        assert g == pytest.approx(_figures(alone)[j], abs=1e-6), j


def test_grouped_sweeps_measure_what_lone_sweeps_measure_newton(cabinet, monkeypatch, tmp_path):
    asset, model = cabinet
    usd = write_usd(asset, tmp_path / "cabinet.usda")
    grouped = check_articulation_newton(asset, model, usd_path=usd)
    assert grouped.details["groups"] == [["slide_a", "slide_b", "lid_hinge"], ["knob_turn"]]
    _alone(monkeypatch)
    alone = check_articulation_newton(asset, model, usd_path=usd)
    assert grouped.passed == alone.passed
    # XPBD solves the root's fixed joint iteratively: the swept neighbours nudge it a little.
    # 1 mm / 1 mrad on the extremes is a tenth of the certificate's limit tolerance.
    for j, g in _figures(grouped).items():
        a = _figures(alone)[j]
        assert g[:2] == pytest.approx(a[:2], abs=1e-3), j
        assert g[2] == pytest.approx(a[2], rel=0.05, abs=0.02), j
