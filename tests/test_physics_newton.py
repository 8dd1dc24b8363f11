"""Newton checks on the exported USD: a box and a sphere come to rest, the unstable cone is
caught, the two engines agree on the rest pose and the rest contact and joint forces,
articulation sweeps (within limits, agreeing with PyBullet, absurd gains caught), and the USD
settle helper.

The first Newton run on a machine compiles its CPU kernels (minutes, then cached by Warp).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from n4d4d.exporters.usd import write_usd
from n4d4d.physics_validation import collision_stage, mass_stage, shapes, stability_stage
from n4d4d.physics_validation.certificate import certify
from n4d4d.physics_validation.newton_articulation import check_articulation_newton
from n4d4d.physics_validation.newton_check import check_newton, settle_usd_in_newton
from n4d4d.physics_validation.rigid_model import NATURAL_FREQUENCY_HZ, drive_gains, rigid_model
from n4d4d.physics_validation.thresholds import CertificateThresholds, StabilityThresholds


def _ready(asset):
    return mass_stage(collision_stage(asset))


def _usd(asset, tmp_path):
    """The asset's USD export, the file the Newton checks read."""
    return write_usd(asset, tmp_path / f"{asset.name}.usda")


@pytest.mark.parametrize("make", [shapes.box, shapes.sphere])


def test_box_and_sphere_come_to_rest_in_newton(make, tmp_path):
    asset = _ready(make())
    res = check_newton(asset, usd_path=_usd(asset, tmp_path), seed=0, orientations=2)
    assert res["engine"] == "newton" and res["bodies"] == 1
    assert res["passed"], res["reasons"]
    th = StabilityThresholds()
    for c in res["checks"]:
        assert c.measured["settle_time_s"] <= th.settle_time_s
        assert c.measured["drift_m"] <= th.max_drift_m


def test_box_rests_at_its_height_in_newton(tmp_path):
    """Closed form: a 0.2 m tall box at rest has its COM 0.1 m above the ground."""
    box = _ready(shapes.box())
    res = check_newton(box, usd_path=_usd(box, tmp_path), seed=0, orientations=0)
    z = res["checks"][0].measured["final_positions_m"][0][2]
    assert z == pytest.approx(0.1, abs=1e-3)  # XPBD resting contact: sub-millimetre


def test_cone_on_its_tip_fails_in_newton(tmp_path):
    cone = _ready(shapes.cone_on_tip())
    res = check_newton(cone, usd_path=_usd(cone, tmp_path), seed=0, orientations=0)
    assert not res["passed"]
    assert any("unstable rest pose" in r or "still moving" in r for r in res["reasons"]), res["reasons"]


def test_engines_agree_on_the_rest_pose(tmp_path):
    box = _ready(shapes.box())
    usd = _usd(box, tmp_path)
    asset = stability_stage(box, engines=("pybullet", "newton"), orientations=1, usd_path=usd)
    p = asset.physics
    # the certificate names the very file Newton read
    assert p["usd_sha256"] == hashlib.sha256(usd.read_bytes()).hexdigest() == p["newton"]["usd_sha256"]
    assert set(p["engines"]) == {"pybullet", "newton"}
    agree = next(c for c in p["checks"] if c["name"] == "cross_engine")
    assert agree["passed"], agree
    assert p["cross_engine"]["position_m"] < 0.005 and p["passed"], p["reasons"]
    # Newton's third law at rest: the ground carries the weight. Newton measures it from XPBD's
    # per-contact forces (CONTACT_F), PyBullet from its contact normal forces; position-level
    # contact, relaxation and a finite iteration count leave solver noise (measured: box 1.3e-4,
    # sphere 3e-5 from 1), bounded by the 2% the PyBullet test allows its contact solver.
    rest = {c["engine"]: c["measured"] for c in p["checks"] if c["name"] == "rest"}
    assert rest["newton"]["rest_force_ratio"] == pytest.approx(1.0, abs=0.02)
    assert rest["newton"]["rest_force_ratio"] == pytest.approx(rest["pybullet"]["rest_force_ratio"], abs=0.02)


def test_settle_usd_in_newton(tmp_path):
    path = write_usd(_ready(shapes.box()), tmp_path / "box.usda")
    out = settle_usd_in_newton(path, seconds=1.0)
    assert out["bodies"] == 1 and out["final_speed"] < 0.01
    assert out["min_height"] > -0.003  # no sinking beyond the penetration bound


@pytest.fixture(scope="module")
def arm():
    return _ready(shapes.hinged_arm())


def test_articulation_sweep_in_newton_reaches_its_limits_and_agrees_with_pybullet(arm):
    report = certify(arm, engines=("pybullet", "newton"), orientations=1, usd_writer=write_usd)
    sweeps = {c["engine"]: c for c in report["checks"] if c["name"] == "articulation"}
    assert set(sweeps) == {"pybullet", "newton"}
    assert report["passed"] and sweeps["newton"]["passed"], report["reasons"]
    nw, pb = sweeps["newton"]["measured"]["hinge"], sweeps["pybullet"]["measured"]["hinge"]
    # Newton drives with the gains its importer read from the USD DriveAPI (float32 attributes).
    assert nw["gains"] == pytest.approx(list(drive_gains(rigid_model(arm))[1]), rel=1e-6)
    # Closed form: a critically damped servo at w = 2 pi 10 rad/s following a ramp of speed v
    # lags it by 2 v / w, so the arm (resting on its lower stop under gravity) comes within
    # that of its upper limit [0, pi/2] and overshoots neither limit beyond the tolerance.
    ct = CertificateThresholds()
    lag = 2 * nw["sweep_speed"] / (2 * np.pi * NATURAL_FREQUENCY_HZ)
    assert np.pi / 2 - lag <= nw["max_q"] <= np.pi / 2 + ct.limit_tolerance_rad
    assert -ct.limit_tolerance_rad <= nw["min_q"] <= 0.01
    # Same explicit PD, same 240 Hz step: the engines differ only by their constraint solvers,
    # and agree on the swept extremes within the limit tolerance (0.02 rad; measured 1e-3 and
    # 2e-3 rad), on the peak joint speed within 5% (measured 0.8%).
    assert abs(nw["max_q"] - pb["max_q"]) <= ct.limit_tolerance_rad
    assert abs(nw["min_q"] - pb["min_q"]) <= ct.limit_tolerance_rad
    assert nw["peak_joint_speed"] == pytest.approx(pb["peak_joint_speed"], rel=0.05)
    # Statics at rest, both engines: the hinge carries the arm's weight (Newton: BODY_PARENT_F),
    # the ground the whole asset's; solver noise as in the box test (measured 1e-4).
    rest = {c["engine"]: c["measured"] for c in report["checks"] if c["name"] == "rest"}
    for engine in ("newton", "pybullet"):
        assert rest[engine]["joint_force_ratios"]["hinge"] == pytest.approx(1.0, abs=0.02), engine
        assert rest[engine]["rest_force_ratio"] == pytest.approx(1.0, abs=0.02), engine


def test_absurd_drive_gains_explode_in_newton(arm, tmp_path):
    # kp dt^2 / I = 1e4 (2 pi 10 / 240)^2 = 685, far beyond an explicit PD's stability (~4)
    absurd = check_articulation_newton(arm, rigid_model(arm), usd_path=_usd(arm, tmp_path), gain_scale=1e4)
    assert absurd.engine == "newton" and not absurd.passed
    assert any("exploded" in r for r in absurd.reasons), absurd.reasons


def test_newton_needs_the_file_it_checks(tmp_path):
    """Without a USD file (or a writer) the certificate says Newton did not run; a path that
    names no file is a typed error; a file of another asset is refused."""
    from n4d4d.errors import MissingFileError, StageInputError

    box = _ready(shapes.box())
    report = certify(box, engines=("newton",), orientations=0)
    assert "newton" not in report["engines"] and report["usd_sha256"] is None
    assert any("newton checks not run: no USD file" in w for w in report["warnings"]), report["warnings"]
    with pytest.raises(MissingFileError, match="no USD file to check"):
        check_newton(box, usd_path=tmp_path / "absent.usda", orientations=0)
    arm = _ready(shapes.hinged_arm())
    with pytest.raises(StageInputError, match="2 bodies, the asset 1 parts"):
        check_newton(box, usd_path=_usd(arm, tmp_path), orientations=0)
