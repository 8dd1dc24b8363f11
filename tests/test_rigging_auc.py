"""The confidence's ranking quality (:func:`n4d4d.rigging.scoring.roc_auc`,
:func:`~n4d4d.rigging.scoring.confidence_auc`) and the curve over thresholds
(:func:`~n4d4d.rigging.scoring.threshold_curve`) against counts worked out by hand."""

from __future__ import annotations

import numpy as np

from n4d4d.rigging.harness import Extra, JointRecord, ObjectResult
from n4d4d.rigging.scoring import confidence_auc, roc_auc, threshold_curve


def test_roc_auc_closed_form():
    """Perfect ranking 1, reversed 0, all tied 0.5; scores (0.9 R, 0.8 W, 0.7 R, 0.1 W):
    of the 4 right/wrong pairs 3 are ordered right, so 0.75; NaN with one label only."""
    assert roc_auc([3, 2, 1, 0], [1, 1, 0, 0]) == 1.0
    assert roc_auc([0, 1, 2, 3], [1, 1, 0, 0]) == 0.0
    assert roc_auc([1, 1, 1, 1], [1, 0, 1, 0]) == 0.5
    assert abs(roc_auc([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]) - 0.75) < 1e-12
    assert np.isnan(roc_auc([1, 2], [1, 1]))


def _result():
    """Two true joints: one matched right at confidence 0.9, one matched with the wrong class
    at 0.6; one extra at 0.8."""
    recs = [JointRecord("a", "revolute", "revolute", 0.9, class_ok=True, strict_ok=True, axis_deg=1.0),
            JointRecord("b", "prismatic", "revolute", 0.6, class_ok=False, axis_deg=80.0)]
    return ObjectResult("o", "merged", "c", records=recs, extras=[Extra("x", "prismatic", 0.8)])


def test_confidence_auc_and_curve_by_hand():
    """Right: 0.9; wrong: 0.6 and 0.8 (the extra): AUC 1. At 0: class 1/2, extras 1 (0.5 per
    true joint), false 2 (the wrong class and the extra) per 2; at 0.7: the same class, false 1
    per 2; at 0.85: only the right joint, precision 1; at 0.95: nothing."""
    r = _result()
    assert confidence_auc([r]) == 1.0
    rows = threshold_curve([r], (0.0, 0.7, 0.85, 0.95))
    assert [x["class_acc"] for x in rows] == [0.5, 0.5, 0.5, 0.0]
    assert [x["extra"] for x in rows] == [1, 1, 0, 0]
    assert [x["false_per_joint"] for x in rows] == [1.0, 0.5, 0.0, 0.0]
    assert rows[2]["precision"] == 1.0


def test_over_budget_counts_the_stage_cpu_seconds():
    """The rigging budget is CPU seconds (``n4d4d.budget.process_cpu_seconds``): a stage that
    spent 71 CPU s in 218 s of wall time on a loaded machine is within a 120 s budget; 130
    CPU s is over; a record without CPU figures (written before them) falls back on its
    stage's wall seconds."""
    r = ObjectResult("o", "merged", budget_s=120.0, seconds=230.0, stage_seconds=218.0,
                     cpu_s={"parts": 2.0, "closing": 48.0, "joints": 21.0})
    assert not r.over_budget
    r.cpu_s = {"parts": 2.0, "closing": 48.0, "joints": 80.0}
    assert r.over_budget
    assert ObjectResult("o", "merged", budget_s=120.0, stage_seconds=130.0).over_budget
    assert not ObjectResult("o", "merged", budget_s=120.0, stage_seconds=110.0).over_budget
