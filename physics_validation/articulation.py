"""Articulation sweeps: drive every movable joint through its range and watch what happens.

The asset stands in its authored pose with its root links fixed, under gravity, above the
ground plane: raised so that its lowest hull point is :data:`SWEEP_CLEARANCE_M` above the
ground (:func:`sweep_lift`), so that no foot of a standing asset is pressed into the ground by
the immovable root (PyBullet holds such a foot by friction as if welded: a quadruped's hip, its
foot 0.2 mm deep, never left 0 rad at 100 N m). Each movable joint follows a piecewise-linear
target from its rest coordinate q0 (:func:`.rigid_model.rest_coordinate`: 0 clipped into the
limits; q0 -> upper -> lower -> q0; continuous joints 0 -> 2 pi -> 0) at
``min(Joint.velocity, range / 1 s)`` while every other joint holds its drive's target (its rest
coordinate), then holds q0 for ``hold_s``; every joint starts at its rest coordinate. The
drive is an explicit PD torque clipped to the drive's ``max_force`` (``Joint.effort``; Isaac
Lab's explicit ``IdealPDActuator`` model, no gravity feed-forward), computed once per step from
the joint state. The gains are the asset's drives
(``asset.drives``, filled by the mass stage: each joint's closed loop at
:data:`.rigid_model.NATURAL_FREQUENCY_HZ` with critical damping for the effective inertia of its
subtree about the joint axis; the gains the USD file's drives carry); ``gain_scale`` multiplies
them (a test uses absurd gains to make a joint explode).

Joints that cannot affect each other (:mod:`.sweep_groups`: each hangs rigidly from the fixed
root, and the parts they move keep apart over their ranges) are swept together, in one run, so
a camera's buttons cost about one sweep, not one each; verdicts stay per joint.

A joint whose range is blocked by another movable part that can be moved out of the way (a
drawer behind a cabinet door) is swept with that part held there (:mod:`.prerequisites`: the
door held open at its limit, its drive targeting it from the start); its sweep is then judged
as any other, with every overlap measured.

Two engines run it: :func:`check_articulation` here in PyBullet (a fresh client, one group
after the other), and :func:`.newton_articulation.check_articulation_newton` in Newton from the
exported USD (one world per joint, stepped together). Both record the swept joint's coordinate
and speed after every step and every joint's coordinate, and hand them to
:func:`sweep_verdict`, so the verdicts are the same code.

Verdicts (:class:`~.thresholds.CertificateThresholds`): joint coordinates stay within limits
(plus ``limit_tolerance_*``); no explosion (peak joint speed under ``max_sweep_speed_factor``
times the commanded speed plus 1 rad/s or m/s); non-adjacent links never overlap by more than
``max_link_penetration_m`` (measured geometrically on the swept poses every
:data:`OVERLAP_EVERY` steps, by forward kinematics of the recorded joint coordinates, with
self-collision off in the simulation so that a range that drives parts through each other is
seen, not hidden by contact). This module does not tune gains or change limits; it reports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from n4d4d.asset import Asset, CheckResult, Joint

from .checks import SERIES_SAMPLES, sample_indices
from .rigid_model import RigidModel, link_drives, rest_coordinate, rest_coordinates
from .sweep_groups import group_sweeps, joint_overlap, moving_pairs, sweep_overlaps
from .thresholds import CertificateThresholds, Thresholds

#: Link overlap is measured on every this-many-th step of a sweep (33 ms at 240 Hz: a part at
#: 2 rad/s and 0.2 m from its axis moves 1.3 cm between samples; overlaps that matter last
#: longer than that).
OVERLAP_EVERY = 8


@dataclass(frozen=True)
class Sweep:
    """One joint's sweep.

    Attributes:
        link: index of the joint's child link in the model.
        joint: the joint.
        times: ``(K,)`` waypoint times (s); targets: ``(K,)`` waypoint coordinates (rad or m).
        speed: commanded joint speed (rad/s or m/s).
        steps: simulation steps (waypoints plus the final hold).
        finite: the joint has finite limits (not continuous).
        holds: link index -> coordinate (rad or m) of the other joints held out of the way for
            this sweep (:func:`.prerequisites.sweep_prerequisites`); empty for most joints.
    """

    link: int
    joint: Joint
    times: np.ndarray
    targets: np.ndarray
    speed: float
    steps: int
    finite: bool
    holds: tuple[tuple[int, float], ...] = ()

    def target(self, t: np.ndarray | float) -> np.ndarray | float:
        """Target coordinate at time(s) ``t`` (s); the last waypoint (the rest coordinate) after it."""
        return np.interp(t, self.times, self.targets)


#: Gap (m) between the ground and the lowest hull point of an asset fixed for its sweeps. With
#: the root immovable, a joint motion that first lowers a standing foot (a knee flexing from a
#: slightly over-straightened rest lowers it by (offset)^2 / (2 shank): 0.01-0.3 mm) presses
#: it into the ground, and the contact holds the joint; 2 mm clears such dips while a part
#: that swings down into the ground still meets it.
SWEEP_CLEARANCE_M = 0.002


def sweep_lift(model: RigidModel) -> float:
    """Height (m) the asset is raised for its sweeps, in both engines, so that its lowest hull
    point at the rest coordinates (where the sweeps start: :meth:`.rigid_model.RigidModel.rest_hull_points`)
    is :data:`SWEEP_CLEARANCE_M` above the ground z = 0 (0 when it already is higher)."""
    return max(0.0, SWEEP_CLEARANCE_M - float(model.rest_hull_points()[:, 2].min()))


def plan_sweeps(model: RigidModel, time_step: float, hold_s: float, *,
                prerequisites: bool = True, bound_m: float | None = None) -> list[Sweep]:
    """One :class:`Sweep` per movable joint, in link order.

    With ``prerequisites``, a joint whose range meets a non-adjacent link that another movable
    joint can move out of the way gets that joint's hold (:mod:`.prerequisites`, judged at
    ``bound_m``, default the certificate's ``max_link_penetration_m``); swept boxes that meet no
    non-adjacent link's rest box skip the query.
    """
    holds = _prerequisite_holds(model, bound_m) if prerequisites else {}
    out = []
    for link in model.links:
        j = link.joint
        if j is None or j.type == "fixed":
            continue
        finite = bool(np.isfinite([j.lower, j.upper]).all()) and j.type != "continuous"
        span = (j.upper - j.lower) if finite else 2 * np.pi
        speed = min(float(j.velocity), max(span, 1e-6) / 1.0)
        q0 = rest_coordinate(j)
        way = [q0, float(j.upper), float(j.lower), q0] if finite else [0.0, 2 * np.pi, 0.0]
        t = [0.0]
        for a, b in zip(way[:-1], way[1:]):
            t.append(t[-1] + abs(b - a) / speed)
        steps = int(np.ceil((t[-1] + hold_s) / time_step))
        out.append(Sweep(link.index, j, np.array(t), np.array(way), speed, steps, finite,
                         tuple(sorted(holds.get(j.name, {}).items()))))
    return out


def _prerequisite_holds(model: RigidModel, bound_m: float | None) -> dict[str, dict[int, float]]:
    """Joint name -> {held link index: coordinate} (:func:`.prerequisites.sweep_prerequisites`),
    queried only for the sweeps whose swept box meets a non-adjacent link's rest box."""
    from .prerequisites import sweep_prerequisites
    from .rigid_model import subtree
    from .sweep_groups import BOX_MARGIN_FRACTION, swept_box

    pairs = model.non_adjacent_pairs()
    if not pairs or not any(link.hulls for link in model.links):
        return {}
    bound = CertificateThresholds().max_link_penetration_m if bound_m is None else bound_m
    rest = {}
    for link in model.links:
        pts = np.vstack([h.vertices for h in link.hulls]) if link.hulls else None
        rest[link.index] = None if pts is None else np.stack([pts.min(axis=0), pts.max(axis=0)])
    margin = BOX_MARGIN_FRACTION * model.diagonal
    candidates = {}
    for sw in plan_sweeps(model, 1.0, 0.0, prerequisites=False):
        if not sw.finite or sw.joint.type == "fixed":
            continue
        mine = set(subtree(model, sw.link))
        box = swept_box(model, sw)
        near = []
        for a, c in pairs:
            if (a in mine) == (c in mine):
                continue
            other = rest[c if a in mine else a]
            if other is not None and np.all(box[0] - margin <= other[1]) and np.all(other[0] - margin <= box[1]):
                near.append((a, c))
        if near:
            candidates[sw.link] = near
    if not candidates:
        return {}
    found = sweep_prerequisites(model, bound, candidates=candidates)
    index = {link.joint.name: link.index for link in model.links if link.joint is not None}
    return {jn: {index[k]: v for k, v in hold.items()} for jn, hold in found.items()}


def sweep_verdict(model: RigidModel, sweep: Sweep, q: np.ndarray, dq: np.ndarray, q_all: np.ndarray,
                  ct: CertificateThresholds, gains: tuple[float, float], world=None,
                  overlap: float | None = None) -> tuple[dict, list[str]]:
    """Measured figures and failure reasons of one joint's sweep, in any engine.

    Args:
        model: the links. sweep: the joint's sweep.
        q, dq: ``(T,)`` the swept joint's coordinate (rad or m) and speed after each step.
        q_all: ``(T, L)`` every link's joint coordinate after each step (column = link index;
            roots and fixed joints 0), for the overlap check on every :data:`OVERLAP_EVERY`-th row.
        ct: thresholds. gains: ``(kp, kd)`` the drive used (SI).
        world: a :class:`~.penetration.HullWorld` of the model, or None (no non-adjacent pairs).
        overlap: the sweep's deepest non-adjacent link overlap (m), measured by the caller
            (:func:`.sweep_groups.sweep_overlaps`, for a run of several sweeps); None measures
            it here from ``q_all`` and ``world`` over every non-adjacent pair.

    Returns:
        ``(measured, reasons)``: measured {``type``, ``range``, ``sweep_speed``, ``min_q``,
        ``max_q``, ``peak_joint_speed``, ``speed_bound``, ``max_link_overlap_m``, ``gains``}.
    """
    from .rigid_model import link_transforms

    j = sweep.joint
    q, dq = np.asarray(q, dtype=np.float64), np.asarray(dq, dtype=np.float64)
    finite_run = bool(np.isfinite(q).all() and np.isfinite(dq).all())
    peak = float(np.abs(dq).max(initial=0.0)) if finite_run else float("inf")
    qmin = float(np.nanmin(q)) if len(q) else 0.0
    qmax = float(np.nanmax(q)) if len(q) else 0.0
    if overlap is None and world is not None:
        overlap = 0.0
        pairs = model.non_adjacent_pairs()
        names = {link.index: link.joint.name for link in model.links if link.joint is not None}
        for row in np.asarray(q_all, dtype=np.float64)[::OVERLAP_EVERY]:
            if not np.isfinite(row).all():
                break
            tf = link_transforms(model, {n: row[i] for i, n in names.items()})
            overlap = max(overlap, float(world.pair_depths(pairs, tf).max(initial=0.0)))
    overlap = float(overlap or 0.0)
    bound = ct.max_sweep_speed_factor * sweep.speed + 1.0
    tol = ct.limit_tolerance_m if j.type == "prismatic" else ct.limit_tolerance_rad
    measured = {"type": j.type, "range": [float(j.lower), float(j.upper)], "sweep_speed": sweep.speed,
                "min_q": qmin, "max_q": qmax, "peak_joint_speed": peak, "speed_bound": bound,
                "max_link_overlap_m": overlap, "gains": [float(gains[0]), float(gains[1])]}
    reasons = []
    if not np.isfinite(peak) or peak > bound:
        reasons.append(f"joint '{j.name}' exploded: peak speed {peak:.3g} > {bound:.3g} during its sweep")
    elif sweep.finite and (qmin < j.lower - tol or qmax > j.upper + tol):
        reasons.append(f"joint '{j.name}' left its limits [{j.lower:.3g}, {j.upper:.3g}]: "
                       f"reached [{qmin:.3g}, {qmax:.3g}] (tolerance {tol})")
    if overlap > ct.max_link_penetration_m:
        reasons.append(f"joint '{j.name}' sweep drives non-adjacent links {1e3 * overlap:.1f} mm into each "
                       f"other (bound {1e3 * ct.max_link_penetration_m:.1f} mm)")
    return measured, reasons


def sweep_series(time_step: float, swept: dict[str, np.ndarray], limit: int = SERIES_SAMPLES) -> dict:
    """The sweeps as one downsampled time series for plots: ``t_s`` (s, each sweep starting at
    0: PyBullet runs them one after another, Newton side by side) and ``<joint>_q`` per swept
    joint (rad or m; after its own sweep ends, a joint's series holds its last value), at most
    ``limit`` samples. ``swept``: joint name -> ``(steps,)`` coordinates after each step."""
    n = max((len(q) for q in swept.values()), default=0)
    k = sample_indices(n, limit)
    out = {"t_s": (time_step * (k + 1)).tolist()}
    for name, q in swept.items():
        q = np.asarray(q, dtype=np.float64)
        out[f"{name}_q"] = q[np.minimum(k, len(q) - 1)].tolist() if len(q) else []
    return out


def articulation_report(engine: str, per_joint: dict, reasons: list[str], ct: CertificateThresholds,
                        seconds: float, **details) -> CheckResult:
    """The "articulation" check of one engine (see :func:`check_articulation`); ``details``
    (``series``, ``solver``, ``warnings``, ...) go into ``CheckResult.details``."""
    return CheckResult(name="articulation", engine=engine, measured=per_joint,
                       threshold={k: getattr(ct, k) for k in ("limit_tolerance_rad", "limit_tolerance_m",
                                                              "max_sweep_speed_factor", "max_link_penetration_m")},
                       passed=not reasons, reasons=tuple(reasons), seconds=seconds, details=details)


def check_articulation(asset: Asset, model: RigidModel, th: Thresholds | None = None, *,
                       gain_scale: float = 1.0, time_budget_s: float = 60.0, label: str | None = None,
                       time_step: float = 1.0 / 240.0, hold_s: float = 0.5, budget=None) -> dict:
    """Sweep every movable joint of ``asset`` through its range in PyBullet (module docstring).

    Args:
        asset: with joints, parts, hulls and mass properties.
        model: ``rigid_model(asset)``.
        th: thresholds (default :class:`~.thresholds.Thresholds`).
        gain_scale: multiplies the default PD gains.
        time_budget_s: CPU seconds for all sweeps (with a wall-clock hang guard,
            :class:`n4d4d.budget.Budget`).
        label: what a TimeBudgetError names.
        time_step: s. hold_s: seconds held at the end of each sweep.
        budget: a running Budget to charge instead of a fresh one of ``time_budget_s``.

    Returns:
        :class:`~n4d4d.asset.CheckResult` ``name`` "articulation", ``engine`` "pybullet":
        ``measured`` per joint (:func:`sweep_verdict`), ``threshold``, ``passed``, ``reasons``,
        ``seconds``, ``details["series"]`` (:func:`sweep_series`).

    Raises:
        TimeBudgetError: past the budget (:class:`~n4d4d.budget.HangError`: its hang guard).
    """
    from n4d4d.budget import Budget

    from . import _bullet
    from .penetration import HullWorld

    th = th or Thresholds()
    ct = th.certificate
    t0 = time.perf_counter()
    budget = budget or Budget(time_budget_s, what="PyBullet articulation sweeps", label=label or asset.name)
    sweeps = plan_sweeps(model, time_step, hold_s, bound_m=ct.max_link_penetration_m)
    groups = group_sweeps(model, sweeps)
    drives = link_drives(model, asset)
    gains = {i: (gain_scale * d.stiffness, gain_scale * d.damping) for i, d in drives.items()}
    rest = rest_coordinates(model)  # where every joint starts (0 clipped into its limits)
    per_joint, reasons, swept = {}, {}, {}
    client = _bullet.connect(time_step)
    import pybullet  # loaded quietly by connect()

    world = HullWorld(model) if model.non_adjacent_pairs() else None
    try:
        _bullet.ground_plane(client)
        h = _bullet.build(client, model, asset.material, np.eye(3), np.array([0.0, 0.0, sweep_lift(model)]),
                          self_collision=False, fixed_root=True)
        joints = [(link, h.bodies[link.index], h.links[link.index]) for link in model.links if link.joint is not None]
        per_body = {}  # body -> (model link indices, PyBullet link indices): one batched call per body a step
        for link, b, li in joints:
            per_body.setdefault(b, ([], []))
            per_body[b][0].append(link.index)
            per_body[b][1].append(li)
        driven = {b: np.array([i in drives for i in idx]) for b, (idx, _) in per_body.items()}
        kp = {b: np.array([gains[i][0] if i in drives else 0.0 for i in idx]) for b, (idx, _) in per_body.items()}
        kd = {b: np.array([gains[i][1] if i in drives else 0.0 for i in idx]) for b, (idx, _) in per_body.items()}
        effort = {b: np.array([drives[i].max_force if i in drives else 0.0 for i in idx]) for b, (idx, _) in per_body.items()}
        for group in groups:  # independent sweeps run together (:mod:`.sweep_groups`)
            held = dict(group[0].holds)  # the group's members share their holds (group_sweeps)
            for link, b, li in joints:
                client.resetJointState(b, li, held.get(link.index, rest.get(link.index, 0.0)), 0.0)
            steps = max(sw.steps for sw in group)
            times = time_step * np.arange(1, steps + 1)
            goals = np.zeros((steps, len(model.links)))  # every driven joint's target per step
            for i, d in drives.items():
                goals[:, i] = d.target
            for i, v in held.items():
                goals[:, i] = v
            for sw in group:
                goals[:, sw.link] = sw.target(times)
            q_start = np.zeros(len(model.links))
            for i, v in {**rest, **held}.items():
                q_start[i] = v
            q_all = np.zeros((steps, len(model.links)))
            dq_all = np.zeros((steps, len(model.links)))
            for k in range(steps):
                for b, (idx, lis) in per_body.items():  # the torque from the state before the step
                    if not driven[b].any():
                        continue
                    q, v = (q_all[k - 1, idx], dq_all[k - 1, idx]) if k else (q_start[idx], np.zeros(len(idx)))
                    tau = np.where(driven[b], np.clip(kp[b] * (goals[k, idx] - q) - kd[b] * v, -effort[b], effort[b]), 0.0)
                    client.setJointMotorControlArray(b, [lis[n] for n in np.flatnonzero(driven[b])],
                                                     pybullet.TORQUE_CONTROL, forces=tau[driven[b]].tolist())
                client.stepSimulation()
                for b, (idx, lis) in per_body.items():
                    st = client.getJointStates(b, lis)
                    q_all[k, idx] = [s[0] for s in st]
                    dq_all[k, idx] = [s[1] for s in st]
                if k % 120 == 0:
                    budget.check("PyBullet articulation sweeps")
            depth = (sweep_overlaps(model, q_all, world, moving_pairs(model, group), OVERLAP_EVERY)
                     if world is not None else {})
            for sw in group:
                measured, why = sweep_verdict(model, sw, q_all[:sw.steps, sw.link], dq_all[:sw.steps, sw.link],
                                              q_all[:sw.steps], ct, gains[sw.link], None,
                                              overlap=joint_overlap(model, sw, depth))
                per_joint[sw.joint.name], reasons[sw.joint.name] = measured, why
                swept[sw.joint.name] = q_all[:sw.steps, sw.link]
    finally:
        client.disconnect()
        if world is not None:
            world.close()
    order = [sw.joint.name for sw in sweeps]  # reports in joint order, whatever the grouping
    per_joint = {n: per_joint[n] for n in order}
    reasons = [r for n in order for r in reasons[n]]
    swept = {n: swept[n] for n in order}
    return articulation_report("pybullet", per_joint, reasons, ct, time.perf_counter() - t0,
                               series=sweep_series(time_step, swept), groups=[[sw.joint.name for sw in g] for g in groups])
