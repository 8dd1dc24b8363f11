"""The issue 18 targets apply to the dev set (PartNet-Mobility objects and the procedural
families); pybullet_data's robots, whose joint types follow their authors' conventions, are
pooled apart. Hand-made records, so every figure is known in closed form."""

from __future__ import annotations

import io


def _results():
    from n4d4d.rigging.harness import Extra, JointRecord, ObjectResult

    def rec(conf, ok, strict):
        return JointRecord("j", "revolute", "revolute" if strict else "continuous", conf,
                           class_ok=ok, strict_ok=strict)

    dev = ObjectResult("cab/mobility.urdf", "kept", "StorageFurniture", [rec(0.9, True, True), rec(0.8, True, True)])
    dev.records[0].pivot_m, dev.records[1].pivot_m = 0.001, 0.0035  # 1 and 3.5 mm from the true axis line
    proc = ObjectResult("procedural:hinge", "kept", "procedural", [rec(0.7, True, True), rec(0.6, True, False)],
                         [Extra("x", "revolute", 0.5)])
    # a robot whose limited legs its URDF calls continuous: class right, strict wrong
    bot = ObjectResult("laikago", "kept", "robot", [rec(0.9, True, False)] * 4)
    return dev, proc, bot


def _rows(table):
    from rich.console import Console

    con = Console(file=io.StringIO(), width=400)
    con.print(table)
    return [line for line in con.file.getvalue().splitlines() if line.startswith("│ kept")]


def test_dev_set_pooled_apart_from_robots():
    """Dev set: 4 joints, strict 3/4 = 0.75; robots: 4 joints, strict 0/4; together 8 joints,
    strict 3/8 = 0.38. The robot category's leave-one-category-out threshold is the one the dev
    set chooses (0.6: the lowest that keeps the dev set's false extra at 0.5 out)."""
    from n4d4d.rigging.scoring import in_dev, loco_thresholds, pooled_table

    dev, proc, bot = _results()
    results = [dev, proc, bot]
    assert [in_dev(r) for r in results] == [True, True, False]
    assert loco_thresholds(results)["kept"]["robot"] == 0.6
    rows = _rows(pooled_table(results, 0.0, keep=in_dev)[0])
    shipped = [c.strip() for c in rows[0].split("│")[1:-1]]
    assert shipped[2] == "4" and shipped[3] == "1.00" and shipped[4] == "0.75"
    rows = _rows(pooled_table(results, 0.0, keep=lambda r: not in_dev(r))[0])
    shipped = [c.strip() for c in rows[0].split("│")[1:-1]]
    assert shipped[2] == "4" and shipped[4] == "0.00"
    rows = _rows(pooled_table(results, 0.0)[0])
    shipped = [c.strip() for c in rows[0].split("│")[1:-1]]
    assert shipped[2] == "8" and shipped[4] == "0.38"


def test_pivot_in_mm_and_share_within_2mm():
    """Two hinges 1 and 3.5 mm from the true axis line: median 2.25 mm, half within 2 mm;
    results without ``pivot_m`` (older JSON) read as no data, not as met."""
    import math

    from n4d4d.rigging.scoring import figures, met

    dev, proc, _ = _results()
    f = figures([dev], 0.0)
    assert f["pivot_mm_med"] == 2.25 and f["pivot_2mm"] == 0.5
    assert met("kept", f)["pivot_mm_med"] is False
    g = figures([proc], 0.0)
    assert math.isnan(g["pivot_mm_med"]) and met("kept", g)["pivot_mm_med"] is None


def test_joint_errors_give_the_pivot_in_metres():
    """A predicted hinge 3 mm off the true axis line (and sliding along it, which is no error):
    pivot 0.003 m, 0.2 % of a 1.5 m diagonal."""
    from types import SimpleNamespace

    import numpy as np

    from n4d4d.rigging.metrics import joint_errors

    true = SimpleNamespace(type="revolute", axis=np.array([0.0, 0.0, 1.0]), origin=np.zeros(3), lower=0.0, upper=1.5)
    pred = SimpleNamespace(type="revolute", axis=np.array([0.0, 0.0, 1.0]), origin=np.array([0.003, 0.0, 0.4]),
                           lower=0.0, upper=1.5)
    e = joint_errors(pred, true, 1.5)
    assert abs(e["pivot_m"] - 0.003) < 1e-12 and abs(e["pivot_pct"] - 0.2) < 1e-9
