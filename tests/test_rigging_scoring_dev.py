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
