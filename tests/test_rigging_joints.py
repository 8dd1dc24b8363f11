"""Joint inference that generalises (issue 18) on procedural shapes with analytic joints: keys
inset in a slab slide along the inset normal, temples turn about their hinge edges, a cube cut
in two is no mechanism, a knob on a panel turns; and the confidence machinery (threshold
choice, leave-one-category-out) against hand-computed counts."""

from __future__ import annotations

import numpy as np

from n4d4d.rigging import procedural, rig_stage
from n4d4d.rigging.metrics import axis_angle_deg, point_line_distance


def _movable(asset):
    return [j for j in asset.joints if j.type != "fixed"]


def test_keypad_keys_slide_along_the_inset_normal():
    """12 keys in pockets: 12 prismatic joints into the slab (-Z). The axis is the contact's
    refined face normal of axis-aligned boxes (exact up to float noise; 1 degree allows a
    sampled normal). Travel: the 3 mm to the pocket floor, found by stepping 1/24 of the
    key's 12 mm height (0.5 mm) and bisecting 4 times: within 0.6 mm."""
    asset, truth = procedural.keypad()
    out = rig_stage(asset, mode="articulated", joints="infer", seed=0)
    moving = _movable(out)
    assert len(moving) == 12
    by_child = {t.child: t for t in truth}
    for j in moving:
        t = by_child[j.child]
        assert j.parent == "slab" and j.type == "prismatic"
        assert float(np.dot(j.axis, t.axis)) > np.cos(np.deg2rad(1.0))  # into the slab
        assert j.lower == 0.0 and abs(j.upper - t.upper) < 0.0006


def test_glasses_temples_turn_about_their_hinge_edges():
    """Frame + two temples: two revolute joints about Z (the hinge edges) within 3 degrees,
    through a line within a temple's width (4 mm) of the true hinge edge, folding inward at
    least 80 degrees (the tip meets the front at ~95 degrees; sweep steps and probe spacing
    lose a few)."""
    asset, truth = procedural.glasses()
    out = rig_stage(asset, mode="articulated", joints="infer", seed=0)
    moving = {j.child: j for j in _movable(out)}
    assert set(moving) == {"temple_left", "temple_right"}
    for t in truth:
        j = moving[t.child]
        assert j.type == "revolute" and j.parent == "frame"
        assert axis_angle_deg(j.axis, t.axis) < 3.0
        assert point_line_distance(j.origin, t.origin, t.axis) < 0.004
        inward = j.upper if float(np.dot(j.axis, t.axis)) > 0 else -j.lower
        assert inward > np.deg2rad(80.0)


def test_split_cube_has_no_joint():
    """Two halves of a cube glued face to face: nothing says they move; no joint is emitted
    (the only motions the sweep finds, sliding off or spinning on the face, have low
    confidence)."""
    asset, truth = procedural.split_cube()
    assert truth == ()
    out = rig_stage(asset, mode="articulated", joints="infer", seed=0)
    assert _movable(out) == []
    auto = rig_stage(asset, seed=0)  # auto mode: no movable joint, one rigid part
    assert len(auto.parts) == 1 and auto.joints == ()


def test_knob_on_panel_is_continuous_about_its_axis():
    """A disc on a panel (a dial): continuous about its axis (the sweep is free a full turn),
    axis within 1 degree, pivot on the axis within 1 mm (the disc is an exact 64-gon)."""
    asset, (truth,) = procedural.knob_on_panel()
    out = rig_stage(asset, mode="articulated", joints="infer", seed=0)
    (j,) = _movable(out)
    assert j.type == "continuous"
    assert axis_angle_deg(j.axis, truth.axis) < 1.0
    assert point_line_distance(j.origin, truth.origin, truth.axis) < 0.001


def test_threshold_choice_and_leave_one_category_out():
    """Hand-made records: category A has two right joints (0.9, 0.8) and a false one (0.3);
    B a right joint (0.6) and a false extra (0.5). F0.5 over both picks 0.6 (tp 3, fp 0,
    n 4: F = 0.94, against 0.79 at 0.3 and 0.5, 0.83 at 0.8); leaving A out, B alone picks
    0.6 (F = 1); leaving B out, A alone picks 0.8 (tp 2, fp 0, n 3: F = 0.91)."""
    from n4d4d.rigging.harness import Extra, JointRecord, ObjectResult
    from n4d4d.rigging.scoring import choose_threshold, counts, loco_thresholds

    def rec(conf, ok):
        return JointRecord("j", "revolute", "revolute", conf, class_ok=ok, strict_ok=ok)

    a = ObjectResult("a", "kept", "A", [rec(0.9, True), rec(0.8, True), rec(0.3, False)])
    b = ObjectResult("b", "kept", "B", [rec(0.6, True)], [Extra("x", "revolute", 0.5)])
    assert counts([a, b], 0.0) == {"n": 4, "tp": 3, "strict": 3, "fp": 2, "extra": 1}
    assert choose_threshold([a, b]) == 0.6
    assert loco_thresholds([a, b])["kept"] == {"A": 0.6, "B": 0.8}
    # at most 0.1 false joints per true one: on B alone (n 1) 0.5 lets the extra through,
    # 0.6 does not; on A with max_false 0 the false 0.3 must go: 0.8 (F = 0.91) beats 0.9
    assert choose_threshold([b], max_false=0.0) == 0.6
    assert choose_threshold([a], max_false=0.0) == 0.8
    # nothing meets the bound: every joint fused (a threshold above every confidence)
    c = ObjectResult("c", "merged", "C", [], [Extra("y", "revolute", 0.7)])
    assert choose_threshold([c]) > 0.7


def test_dev_set_temples_and_phone_buttons(shared_data):
    """PartNet-Mobility objects of two categories with the parts kept (the harness's kept
    track): eyeglass temples are revolute about their hinges and phone buttons prismatic
    along their inset normal. Measured: temple axes 1.1-9.9 degrees off (101293's contact
    and temples are tilted ~10 degrees from the annotated vertical axis), pivots 0.2-1.3 % of
    the diagonal; 6 of the phone's 7 buttons within 0.1 degree (the seventh sits on a curved
    edge: 90 degrees off). Bounds: 12 degrees and the issue's 2 %; 6 of 7."""
    from n4d4d.rigging.harness import evaluate

    pm = shared_data / "partnet-mobility"
    res = {r.name: r for r in evaluate([pm / "101287", pm / "101293", pm / "103927"]) if r.track == "kept"}
    for name in ("101287/mobility.urdf", "101293/mobility.urdf"):
        r = res[name]
        assert r.error is None and len(r.records) == 2
        for rec in r.records:
            assert rec.pred_type == "revolute" and rec.axis_deg < 12.0 and rec.pivot_pct < 2.0, rec
    phone = res["103927/mobility.urdf"]
    good = [x for x in phone.records if x.pred_type == "prismatic" and x.axis_deg < 1.0]
    assert len(phone.records) == 7 and len(good) >= 6


def test_targets_without_data_are_reported_as_such_not_as_met_or_missed():
    """A robot whose joints are all continuous has no limit to score (the pooled limit figure is
    NaN): its target reads "no data", while a measured figure below its bound reads missed."""
    from n4d4d.rigging.scoring import TARGETS, met

    fig = {k: bound for k, (bound, _) in TARGETS["kept"].items()}  # each exactly at its bound: met
    fig["limit_ok"] = float("nan")
    out = met("kept", fig)
    assert out["limit_ok"] is None and all(out[k] is True for k in out if k != "limit_ok")
    fig["limit_ok"], fig["class_acc"] = 0.41, 0.5
    out = met("kept", fig)
    assert out["limit_ok"] is False and out["class_acc"] is False and out["axis_med"] is True
