"""A thin leg on its motor's shaft (pybullet_data's minitaur, issue 18): the leg touches the
body along an edge too, yet it turns about its round hub's axis, the file's joint axis, rather
than swinging about that edge (which put the axis 90 degrees off)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def test_minitaur_leg_turns_about_its_hub():
    """The file's motor joint axis is the truth; 3 degrees is issue 18's axis bound (the hub
    is a tessellated cylinder whose fitted axis is exact to well under a degree); the pivot
    within 2 % of the robot's diagonal (issue 18's pivot bound) of the file's axis line."""
    pybullet_data = pytest.importorskip("pybullet_data")
    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.rigging.geometry import PartGeometry
    from n4d4d.rigging.joints import infer_joint
    from n4d4d.rigging.metrics import axis_angle_deg, point_line_distance

    path = Path(pybullet_data.getDataPath()) / "quadruped" / "minitaur.urdf"
    asset = load_urdf_asset(path)
    parts = {p.name: p for p in asset.parts}
    truth = next(j for j in asset.joints if j.name == "motor_front_rightR_joint")
    P, C = (PartGeometry(n, parts[n].mesh.vertices, parts[n].mesh.faces, seed=0) for n in (truth.parent, truth.child))
    j = infer_joint(P, C, object_diag=asset.visual.diagonal)
    assert j.type in ("revolute", "continuous"), j.source
    assert axis_angle_deg(j.axis, truth.axis) < 3.0, j.source
    assert point_line_distance(j.origin, truth.origin, truth.axis) < 0.02 * asset.visual.diagonal
