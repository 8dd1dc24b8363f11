"""Motion families of an asset bolted to the world (``fixed_base``): no ``drop`` (the base does not
fall) and ``articulate``; the same arm loaded free gets its drop. Truth: pybullet_data's
kuka_iiwa/model.urdf, whose root declares mass 0 (PyBullet's static base), loaded both ways."""
from __future__ import annotations

from pathlib import Path

import pybullet_data

from n4d4d.deformation.stage import auto_families
from n4d4d.io.stage import load_stage
from n4d4d.options import BuildOptions
from n4d4d.sources import UrdfFile

KUKA = Path(pybullet_data.getDataPath()) / "kuka_iiwa" / "model.urdf"


def test_a_bolted_arm_is_articulated_not_dropped():
    fixed = load_stage(UrdfFile(KUKA), BuildOptions())
    assert fixed.fixed_base
    chosen, why = auto_families(fixed)
    assert "articulate" in chosen and "drop" not in chosen and "gait" not in chosen
    assert "bolted" in why["drop"]
    free = load_stage(UrdfFile(KUKA), BuildOptions(base="free"))
    assert "drop" in auto_families(free)[0]
