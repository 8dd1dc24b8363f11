"""Articulation sweeps: drive every movable joint through its range and watch what happens.

In a fresh PyBullet client, the asset stands in its authored pose with its root links fixed,
under gravity, above the ground plane. Each movable joint in turn follows a piecewise-linear
target (0 -> upper -> lower -> 0; continuous joints 0 -> 2 pi -> 0) at
``min(Joint.velocity, range / 1 s)`` while every other joint holds 0. The drive is an explicit
PD torque clipped to ``Joint.effort`` (Isaac Lab's explicit ``IdealPDActuator`` model, no
gravity feed-forward). Default gains put
each joint's closed loop at ``natural_frequency_hz`` with critical damping, from the
effective inertia of the subtree about the joint axis (:func:`.rigid_model.drive_gains`);
``gain_scale`` multiplies them (a test
uses absurd gains to make a joint explode).

Verdicts (:class:`~.thresholds.CertificateThresholds`): joint coordinates stay within limits
(plus ``limit_tolerance_*``); no explosion (peak joint speed under ``max_sweep_speed_factor``
times the commanded speed plus 1 rad/s or m/s); non-adjacent links never overlap by more than
``max_link_penetration_m`` (measured geometrically on the swept poses, with self-collision off
in the simulation so that a range that drives parts through each other is seen, not hidden by
contact). This module does not tune gains or change limits; it reports.
"""

from __future__ import annotations

import time

import numpy as np

from n4d4d.asset import Asset
from n4d4d.errors import TimeBudgetError

from .rigid_model import RigidModel, drive_gains
from .thresholds import Thresholds

def _schedule(j, speed: float) -> tuple[np.ndarray, np.ndarray]:
    if j.type == "continuous" or not np.isfinite([j.lower, j.upper]).all():
        way = [0.0, 2 * np.pi, 0.0]
    else:
        way = [0.0, float(j.upper), float(j.lower), 0.0]
    t = [0.0]
    for a, b in zip(way[:-1], way[1:]):
        t.append(t[-1] + abs(b - a) / speed)
    return np.array(t), np.array(way)


def check_articulation(asset: Asset, model: RigidModel, th: Thresholds | None = None, *,
                       gain_scale: float = 1.0, time_budget_s: float = 60.0, label: str | None = None,
                       time_step: float = 1.0 / 240.0, hold_s: float = 0.5) -> dict:
    """Sweep every movable joint of ``asset`` through its range (module docstring).

    Args:
        asset: with joints, parts, hulls and mass properties.
        model: ``rigid_model(asset)``.
        th: thresholds (default :class:`~.thresholds.Thresholds`).
        gain_scale: multiplies the default PD gains.
        time_budget_s: wall seconds for all sweeps.
        label: what a TimeBudgetError names.
        time_step: s. hold_s: seconds held at the end of each sweep.

    Returns:
        Check dict ``name`` "articulation", ``engine`` "pybullet": ``measured`` per joint
        {``range``, ``min_q``, ``max_q``, ``peak_joint_speed``, ``speed_bound``,
        ``max_link_overlap_m``, ``gains``}, ``threshold``, ``passed``, ``reasons``, ``seconds``.

    Raises:
        TimeBudgetError: past ``time_budget_s``.
    """
    from . import _bullet
    from .kinematics import link_transforms
    from .penetration import HullWorld

    th = th or Thresholds()
    ct = th.certificate
    t0 = time.perf_counter()
    movable = [link for link in model.links if link.joint is not None and link.joint.type != "fixed"]
    pairs = model.non_adjacent_pairs()
    per_joint, reasons = {}, []
    client = _bullet.connect(time_step)
    import pybullet  # loaded quietly by connect()

    world = HullWorld(model) if pairs else None
    try:
        _bullet.ground_plane(client)
        h = _bullet.build(client, model, asset.material, np.eye(3), np.zeros(3), self_collision=False,
                          fixed_root=True)
        joints = [(link, h.bodies[link.index], h.links[link.index]) for link in model.links if link.joint is not None]
        for target in movable:
            for _, b, li in joints:
                client.resetJointState(b, li, 0.0, 0.0)
            j = target.joint
            finite = np.isfinite([j.lower, j.upper]).all() and j.type != "continuous"
            span = (j.upper - j.lower) if finite else 2 * np.pi
            speed = min(float(j.velocity), max(span, 1e-6) / 1.0)
            ts, qs = _schedule(j, speed)
            steps = int(np.ceil((ts[-1] + hold_s) / time_step))
            gains = {i: (gain_scale * kp, gain_scale * kd) for i, (kp, kd) in drive_gains(model).items()}
            qmin, qmax, peak, overlap = np.inf, -np.inf, 0.0, 0.0
            for k in range(steps):
                t = (k + 1) * time_step
                goal = float(np.interp(t, ts, qs))
                qs_now, dq_now, taus = {}, {}, []
                for link, b, li in joints:
                    q, dq = client.getJointState(b, li)[:2]
                    qs_now[link.joint.name], dq_now[link.index] = q, dq
                    want = goal if link is target else 0.0
                    kp, kd = gains[link.index]
                    taus.append((b, li, kp * (want - q) - kd * dq, link.joint.effort))
                for b, li, tau, effort in taus:
                    client.setJointMotorControl2(b, li, pybullet.TORQUE_CONTROL,
                                                 force=float(np.clip(tau, -effort, effort)))
                client.stepSimulation()
                q, dq = client.getJointState(h.bodies[target.index], h.links[target.index])[:2]
                qmin, qmax, peak = min(qmin, q), max(qmax, q), max(peak, abs(dq))
                if world is not None and k % 8 == 0:
                    world.set_poses(link_transforms(model, qs_now))
                    overlap = max(overlap, max(world.depth(a, c) for a, c in pairs))
                if k % 120 == 0 and time.perf_counter() - t0 > time_budget_s:
                    raise TimeBudgetError(f"articulation sweeps ran past their time budget of {time_budget_s:g} s",
                                          label or asset.name)
            bound = ct.max_sweep_speed_factor * speed + 1.0
            tol = ct.limit_tolerance_m if j.type == "prismatic" else ct.limit_tolerance_rad
            per_joint[j.name] = {"type": j.type, "range": [float(j.lower), float(j.upper)], "sweep_speed": speed,
                                 "min_q": qmin, "max_q": qmax, "peak_joint_speed": peak, "speed_bound": bound,
                                 "max_link_overlap_m": overlap, "gains": list(gains[target.index])}
            if not np.isfinite(peak) or peak > bound:
                reasons.append(f"joint '{j.name}' exploded: peak speed {peak:.3g} > {bound:.3g} during its sweep")
            elif finite and (qmin < j.lower - tol or qmax > j.upper + tol):
                reasons.append(f"joint '{j.name}' left its limits [{j.lower:.3g}, {j.upper:.3g}]: "
                               f"reached [{qmin:.3g}, {qmax:.3g}] (tolerance {tol})")
            if overlap > ct.max_link_penetration_m:
                reasons.append(f"joint '{j.name}' sweep drives non-adjacent links {1e3 * overlap:.1f} mm into each "
                               f"other (bound {1e3 * ct.max_link_penetration_m:.1f} mm)")
    finally:
        client.disconnect()
        if world is not None:
            world.close()
    return {"name": "articulation", "engine": "pybullet", "passed": not reasons, "measured": per_joint,
            "threshold": {k: getattr(ct, k) for k in ("limit_tolerance_rad", "limit_tolerance_m",
                                                      "max_sweep_speed_factor", "max_link_penetration_m")},
            "reasons": reasons, "seconds": time.perf_counter() - t0}
