"""Procedural animals stand: each knee rests over-straightened on its joint stop, so the body's
weight presses it into the limit (which carries the load in any engine) instead of bending it
against a servo tuned to the leg's own inertia, which small animals' knees could not hold.

Before: 9 of 20 procedural animals toppled or crept in the rest and drop checks (seed 17,
L = 0.34 m, fell 132 mm in both engines); after: 19 of 20 pass both engines (the 20-seed loop of
the closing note). Colliders are each part's convex hull (the parts are capsules and
ellipsoids), mass and drives from the mass stage, as in :mod:`tests.test_herd_drives`.
"""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.asset import Mesh
from n4d4d.conventions import GRAVITY_MAGNITUDE
from n4d4d.physics_validation import mass_stage

#: PyBullet's default step, the step of every certificate check.
DT = 1.0 / 240.0


def _animal(seed: int):
    from n4d4d.generator.procedural import make_shape

    a = make_shape("animal", seed)
    hulls = {p.name: (Mesh.from_trimesh(p.mesh.to_trimesh().convex_hull),) for p in a.parts}
    return mass_stage(a.replace(collision=hulls))


def _knee_levers(asset) -> dict[str, float]:
    """Per knee: the moment (N m per N) about the knee axis of an upward unit ground force at the
    foot's lowest point, signed so that a positive value drives the knee into its stop at 0
    (below a [0, upper] range, above a [lower, 0] one). Statics of the rest pose: the moment is
    ``((f - k) x z) . a`` for foot point f, pivot k, axis a."""
    parts = {p.name: p for p in asset.parts}
    out = {}
    for j in asset.joints:
        if not j.name.endswith("_knee"):
            continue
        v = np.asarray(parts[j.child].mesh.vertices)
        f = v[np.argmin(v[:, 2])]
        a = np.asarray(j.axis, float) / np.linalg.norm(j.axis)
        m = float(np.cross(f - np.asarray(j.origin), [0.0, 0.0, 1.0]) @ a)
        assert j.lower == 0.0 or j.upper == 0.0, (j.name, j.lower, j.upper)  # the rest pose is a stop
        out[j.name] = -m if j.lower == 0.0 else m
    return out


def test_every_knee_is_pressed_into_its_stop_by_the_ground_force():
    """Closed-form statics over 20 seeds (80 knees): each knee's lever pushes it into its stop, by at least
    a quarter of the smallest over-straightening (0.06 rad between the segments: a lever of
    (D / 2) tan(0.03), D the hip height above the foot's centre) so a small sway cannot take
    the knee off it. Before, every knee sat bent the other way (levers of the wrong sign)."""
    from n4d4d.generator.procedural import make_shape

    for seed in range(20):
        a = make_shape("animal", seed)
        levers = _knee_levers(a)
        assert len(levers) == 4
        hip = {j.child: j.origin for j in a.joints}
        for name, lever in levers.items():
            D = hip[name.replace("_knee", "_upper")][2]
            assert lever > 0.25 * 0.5 * D * np.tan(0.03), (seed, name, lever)


def _stand_in_pybullet(asset, seconds: float = 2.0):
    """Stand the animal on the ground in its authored pose with every joint servoed at 0 (the
    certificate's explicit PD, torque clipped to effort), for ``seconds``. Returns the knees'
    final coordinates (rad), their servo torques (N m) and the COM drop (m)."""
    import pybullet

    from n4d4d.physics_validation import _bullet
    from n4d4d.physics_validation.rigid_model import link_drives, rigid_model

    model = rigid_model(asset)
    drives = link_drives(model, asset)
    client = _bullet.connect(DT)
    try:
        _bullet.ground_plane(client)
        h = _bullet.build(client, model, asset.material, np.eye(3), np.zeros(3))
        body = h.bodies[0]
        idx = sorted(drives)
        li = [h.links[i] for i in idx]
        kp = np.array([drives[i].stiffness for i in idx])
        kd = np.array([drives[i].damping for i in idx])
        effort = np.array([drives[i].max_force for i in idx])
        com0 = np.array(client.getBasePositionAndOrientation(body)[0])
        for _ in range(int(seconds / DT)):
            st = client.getJointStates(body, li)
            q, dq = np.array([s[0] for s in st]), np.array([s[1] for s in st])
            tau = np.clip(-kp * q - kd * dq, -effort, effort)
            client.setJointMotorControlArray(body, li, pybullet.TORQUE_CONTROL, forces=tau.tolist())
            client.stepSimulation()
        drop = com0[2] - client.getBasePositionAndOrientation(body)[0][2]
        names = [model.links[i].joint.name for i in idx]
        knees = [k for k, n in enumerate(names) if n.endswith("_knee")]
        return {names[k]: float(q[k]) for k in knees}, {names[k]: float(tau[k]) for k in knees}, float(drop)
    finally:
        client.disconnect()


@pytest.mark.parametrize("seed", [17, 12])
def test_knee_stops_carry_the_standing_load_in_pybullet(seed):
    """Seed 17 (L = 0.34 m, the smallest of 20) and seed 12 (L = 0.90 m) stand: the knees stay
    on their stops (within 0.01 rad: the limit's contact softness) and their servos carry under
    10% of the static load torque (a quarter of the weight times the lever), so the limit carries
    the rest. Before, both toppled in the PyBullet rest check (COM fell 132 and 397 mm)."""
    a = _animal(seed)
    q, tau, drop = _stand_in_pybullet(a)
    weight = sum(m.mass for m in a.mass.values()) * GRAVITY_MAGNITUDE
    levers = _knee_levers(a)
    for name in levers:
        assert abs(q[name]) < 0.01, (name, q[name])
        load = 0.25 * weight * levers[name]
        assert abs(tau[name]) < 0.1 * load, (name, tau[name], load)
    # the torso sinks by the hip servos' sag and the contact's softness only: millimetres
    # (measured 1-4 mm), where a buckling knee let it fall by a leg length
    assert drop < 0.01


def test_small_animal_passes_rest_and_drops_in_both_engines(tmp_path):
    """The certificate's rest check and two drops, PyBullet and Newton (the exported USD), on the
    smallest animal of the 20-seed loop: before, its rest check failed in both engines ("the
    centre of mass fell 132 mm after a 0.01 rad tilt: it toppled")."""
    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation.newton_check import check_newton
    from n4d4d.physics_validation.pybullet_check import check_pybullet

    a = _animal(17)
    for res in (check_pybullet(a, seed=0, orientations=2),
                check_newton(a, usd_path=write_usd(a, tmp_path / "animal.usda"), seed=0, orientations=2)):
        assert res["passed"], [r for c in res["checks"] for r in c.reasons]
        rest = res["checks"][0]
        assert rest.name == "rest" and rest.measured["rest_com_drop_m"] < 0.005  # measured 1.2 / 1.6 mm
