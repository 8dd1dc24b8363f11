"""Newton's rest and drop checks run at 2 substeps first and again at 4 only where the coarse
verdict is not a clear pass (``check_newton(coarse_first=True)``, the default): a box resting on
its face is decided at 2, at the height statics gives; a cone on its tip, which must topple,
fails and is judged at 4 (the failing placements re-run), as it would be without the coarse run.
"""

from __future__ import annotations

import pytest

from n4d4d.exporters.usd import write_usd
from n4d4d.physics_validation import collision_stage, mass_stage, shapes
from n4d4d.physics_validation.newton_check import CLEAR_FRACTION, check_newton, clear_pass


def _ready(asset, tmp_path):
    asset = mass_stage(collision_stage(asset))
    return asset, write_usd(asset, tmp_path / f"{asset.name}.usda")


def test_a_resting_box_is_decided_at_the_coarse_substeps(tmp_path):
    box, usd = _ready(shapes.box((0.1, 0.15, 0.2)), tmp_path)
    res = check_newton(box, usd_path=usd, orientations=1)
    assert res["passed"], res["reasons"]
    assert [c.details["substeps"] for c in res["checks"]] == [2, 2]
    rest = res["checks"][0].measured
    # statics: the 0.2 m tall box stands on its 0.1 x 0.15 face, its COM 0.1 m up (1 mm: XPBD's
    # resting contact and the float32 state)
    assert rest["final_positions_m"][0][2] == pytest.approx(0.1, abs=1e-3)
    fine = check_newton(box, usd_path=usd, orientations=1, coarse_first=False)
    assert [c.details["substeps"] for c in fine["checks"]] == [4, 4] and fine["passed"]
    assert fine["checks"][0].measured["final_positions_m"][0][2] == pytest.approx(0.1, abs=1e-3)


def test_a_cone_on_its_tip_fails_and_is_judged_at_the_fine_substeps(tmp_path):
    cone, usd = _ready(shapes.cone_on_tip(), tmp_path)
    res = check_newton(cone, usd_path=usd, orientations=0)
    (rest,) = res["checks"]
    assert not rest.passed  # a cone on its tip topples (unstable equilibrium)
    assert rest.details["substeps"] == 4 and "unclear worlds again at 4: 1 of 1" in res["solver"]


def test_clear_pass_needs_margin_on_penetration_and_forces():
    from n4d4d.asset import CheckResult
    from n4d4d.physics_validation.thresholds import StabilityThresholds

    th = StabilityThresholds()
    bound = th.max_penetration_m

    def result(pen, passed=True, force=1.0):
        return CheckResult("drop", measured={"max_penetration_m": pen, "rest_penetration_m": 0.0,
                                             "rest_force_ratio": force},
                           threshold={"max_penetration_m": bound}, passed=passed)

    assert clear_pass(result(0.4 * bound), {}, th)
    assert not clear_pass(result(0.6 * bound), {}, th)  # within its bound, but not clearly: run finer
    assert not clear_pass(result(0.0, passed=False), {}, th)
    assert clear_pass(result(0.0), {"hinge": 1.0}, th)  # a joint carrying its links' weight
    # preload: 1.3 x the weight is within the certificate's 1.5 but not clearly (1 + 0.5 x 0.5)
    assert not clear_pass(result(0.0), {"hinge": 1.3}, th)
    assert not clear_pass(result(0.0, force=1.3), {}, th)
    assert CLEAR_FRACTION == 0.5


def _trajectory(depth: float, speed: float = 0.0):
    """A body resting 0.1 m up for 9 s at 1/120 s samples, ``depth`` m into the ground all along
    after the first second, moving at ``speed`` m/s for one sample mid-run."""
    import numpy as np

    from n4d4d.physics_validation.trajectory import Trajectory

    t = np.arange(1, 1081) / 120.0
    pos = np.tile([0.0, 0.0, 0.1], (len(t), 1, 1))
    quat = np.tile([1.0, 0.0, 0.0, 0.0], (len(t), 1, 1))
    lin = np.zeros((len(t), 1, 3))
    lin[500, 0, 0] = speed
    pen = np.where(t > 1.0, depth, 0.0)
    return Trajectory(t, pos, quat, lin, np.zeros_like(lin), pen, np.full(len(t), 9.81), 0.0, pos[0], quat[0], None)


def test_only_runs_failed_by_sinking_go_to_the_finest_substeps():
    from n4d4d.physics_validation.newton_check import penetration_only
    from n4d4d.physics_validation.rigid_model import rigid_model
    from n4d4d.physics_validation.thresholds import StabilityThresholds

    th = StabilityThresholds()
    box = rigid_model(mass_stage(collision_stage(shapes.box((0.1, 0.1, 0.2)))))
    masses = [box.total_mass]
    assert not penetration_only(_trajectory(0.0), "rest", th, box, masses)  # passes: nothing to refine
    assert penetration_only(_trajectory(0.005), "rest", th, box, masses)  # sinks 5 mm > 3 mm, nothing else
    # sinking and exploding: the explosion is not the solver's slow convergence
    assert not penetration_only(_trajectory(0.005, speed=50.0), "rest", th, box, masses)
