"""Newton sweeps a light link carrying a heavy child (:func:`n4d4d.physics_validation.newton_articulation.light_links`).

PartNet-Mobility 2490's caster forks (4 g) carry 200 g wheels; XPBD's joint solve, its
corrections shared by inverse mass, diverged at the sweeps' 2 substeps of 8 iterations (infinite
speed in all ten sweeps) while PyBullet swept them at the commanded 6.28 rad/s.

Geometry (closed form, uniform density): a fixed base, a fork cube of edge ``f`` on a vertical
continuous swivel below it, and a 0.05 x 0.02 x 0.05 m wheel block on a horizontal continuous axle
below the fork, so the wheel outweighs the fork (0.05 x 0.02 x 0.05) / f^3 times: 50 at f = 1 cm
(measured at 2 x 8: explodes), 6.25 at f = 2 cm (sweeps). Each joint turns 0 -> 2 pi -> 0 at
6.28 rad/s.
"""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from boxes import box_between

from n4d4d.asset import Asset, Joint, Mesh, Part
from n4d4d.physics_validation import collision_stage, mass_stage


def _caster(f: float) -> Asset:
    meshes = {"base": box_between([-0.1, -0.1, 0.3], [0.1, 0.1, 0.4]),
              "fork": box_between([-f / 2, -f / 2, 0.3 - f], [f / 2, f / 2, 0.3]),
              "wheel": box_between([-0.025, -0.01, 0.3 - f - 0.05], [0.025, 0.01, 0.3 - f])}
    turn = dict(lower=-np.inf, upper=np.inf, effort=10.0, velocity=2 * np.pi)
    joints = (Joint(name="swivel", type="continuous", parent="base", child="fork", origin=np.array([0.0, 0.0, 0.3]),
                    axis=np.array([0.0, 0.0, 1.0]), **turn),
              Joint(name="axle", type="continuous", parent="fork", child="wheel",
                    origin=np.array([0.0, 0.0, 0.3 - f - 0.025]), axis=np.array([0.0, 1.0, 0.0]), **turn))
    parts = tuple(Part(n, Mesh.from_trimesh(m)) for n, m in meshes.items())
    visual = Mesh.from_trimesh(trimesh.util.concatenate(list(meshes.values())))
    return mass_stage(collision_stage(Asset(name=f"caster_{f}", visual=visual, parts=parts, joints=joints)))


@pytest.mark.parametrize("f, ratio", [(0.01, 50.0), (0.02, 6.25)])
def test_a_light_fork_under_a_heavy_wheel_sweeps_in_newton(f, ratio, tmp_path):
    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation.newton_articulation import LIGHT_LINK_RATIO, check_articulation_newton, light_links
    from n4d4d.physics_validation.rigid_model import rigid_model

    asset = _caster(f)
    model = rigid_model(asset)
    light = light_links(model)
    if ratio > LIGHT_LINK_RATIO:
        assert [(a, b) for a, b, _ in light] == [("fork", "wheel")]
        assert light[0][2] == pytest.approx(ratio, rel=1e-6)  # uniform density: the volume ratio
    else:
        assert light == []
    res = check_articulation_newton(asset, model, usd_path=write_usd(asset, tmp_path / "caster.usda"))
    assert res.passed, res.reasons
    fine = "substeps=8" in res.details["solver"]
    assert fine == (ratio > LIGHT_LINK_RATIO), res.details["solver"]
    for name, m in res.measured.items():
        # the sweep's explosion bound is 3 x 6.28 + 1 rad/s; a followed turn peaks near the
        # commanded 6.28 (within 10%: the 10 Hz servo's overshoot on the ramp's corners)
        assert m["peak_joint_speed"] == pytest.approx(2 * np.pi, rel=0.1), (name, m["peak_joint_speed"])
        assert m["max_q"] == pytest.approx(2 * np.pi, abs=0.2), name  # the servo's lag of 2 v / w = 0.2 rad
