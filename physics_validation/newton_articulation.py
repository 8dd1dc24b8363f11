"""Articulation sweeps in Newton, on the asset exactly as exported to USD.

The sweep of :mod:`.articulation` (each movable joint q0 -> upper -> lower -> q0 from its rest
coordinate q0 while the others hold theirs, every joint starting there; explicit PD torque
clipped to the drive's ``max_force``, same verdicts through :func:`.articulation.sweep_verdict`), run in Newton on the asset's USD file as the caller hands
it in (the file the pipeline ships): ``add_usd(..., floating=False)`` fixes each root
body to the world with a fixed joint (raised by :func:`.articulation.sweep_lift`, as in
PyBullet), self-collision is off (non-adjacent overlap is measured
geometrically, as in PyBullet), and the ground plane z = 0 carries the asset's friction. Every
group of independent sweeps (:mod:`.sweep_groups`: a camera's buttons are one group) is its
own world of one model (``ModelBuilder.replicate``), all stepped together (SolverXPBD, the
substeps and contact settings of :mod:`._newton_sim`, as the rest and drop checks), so J
joints cost about as much as the longest one, in a model of as many worlds as groups.

The drive: the gains are those of the file's DriveAPI as Newton's importer loads them
(``Model.joint_target_ke`` / ``joint_target_kd``, SI per radian), times ``gain_scale``, and the
effort bound is the drive's ``maxForce`` (``Model.joint_effort_limit``). They act as an explicit
PD torque written into ``Control.joint_f`` once per step by a Warp kernel
(:mod:`._newton_kernels`), and XPBD's own drive is switched off for the sweep, because XPBD's
implicit drive (a compliant position constraint) (1) is skipped while the joint sits beyond a
limit, so a lid resting on its stop under gravity never lifts (measured: the hinged arm of
:func:`.shapes.hinged_arm` stays at 0 rad with its target at 1.5 rad), (2) ignores effort limits
and (3) cannot go unstable at any gain, so absurd gains would pass. The explicit PD is the
actuator model of the PyBullet sweep (Isaac Lab's ``IdealPDActuator``), so the two engines are
compared on their physics, not on two actuator models. XPBD's revolute limits are taken on an
angle in (-pi, pi]: a range that reaches within :data:`PI_MARGIN_RAD` of +-pi (a door opening 180
degrees) cannot be held, and the sweep explodes there (measured on PartNet-Mobility's fridge
10797, limits [0, pi]; with the upper limit at pi - 0.1 it sweeps like PyBullet; the box 100154's
flaps, limits [-3.93, 0.785]: peak speeds 925 rad/s and inf). Such a joint whose range spans
less than 2 (pi - :data:`PI_MARGIN_RAD`) is *re-centred* for the sweep (:func:`recentre_revolutes`):
its parent-side joint frame is turned about the axis by the range's midpoint ``m`` and its
limits shifted by ``-m``, so the same bodies at the same poses have the coordinate ``q - m``,
inside (-pi + 0.1, pi - 0.1); the targets are shifted and the recorded coordinates shifted back,
so the verdicts read the file's coordinate. Only a joint whose range is wider than that (and
fails its sweep) gets a warning naming this likely cause. Newton reports a revolute coordinate in
(-pi, pi]: the PD error is taken modulo 2 pi and the recorded coordinate unwrapped, so
continuous joints are followed through the wrap.

XPBD solves each joint with its correction shared by inverse mass, so a light link between its
fixed parent and a heavy child converges at a rate set by the mass ratio (Macklin et al. 2019,
"Small steps in physics simulation"; :mod:`._newton_sim`): PartNet-Mobility 2490's 4 g caster
forks carrying 200 g wheels exploded (infinite speed) at the sweeps' 2 substeps of 8 iterations,
as does a closed-form caster at a ratio of 25.6 (14.8 sweeps). A model with a movable link that
a child outweighs :data:`LIGHT_LINK_RATIO` times (:func:`light_links`) is swept at the rest and
drop checks' finer substeps instead (8 of 4 iterations: the caster sweeps at 50, explodes at 231);
the solver named in the result says which ran, and a light link of a failing sweep is warned of.

Links welded by fixed joints are one body in the sweeps (``ModelBuilder.collapse_fixed_joints``,
every joint but those welds kept, the root's weld to the world too;
the sweeps read only joint coordinates, and the overlaps come from the asset's own geometry):
XPBD solves a fixed joint as one more constraint, and a chain of light welded links diverged
(pybullet_data's TwoJointRobot, 0.2-0.5 kg links joined by four fixed joints: both sweeps read
infinite speed; welded: 5.8 and 6.5 rad/s against a bound of 16), where PyBullet's multibody
welds them exactly.

The step (joint coordinates by ``newton.eval_ik``, the PD kernel, collision, XPBD substeps) is
captured once as a Warp graph over :data:`CHUNK` steps and replayed (launch cost dominates on the
CPU). The kernel records every driven joint's coordinate and speed each step into arrays read
once at the end. This module does not change the asset or the file.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from n4d4d.asset import Asset
from n4d4d.errors import StageInputError

from .articulation import OVERLAP_EVERY, articulation_report, plan_sweeps, sweep_lift, sweep_series, sweep_verdict
from .rigid_model import RigidModel, rest_coordinates, rest_outside_limits
from .sweep_groups import group_sweeps, joint_overlap, moving_pairs, sweep_overlaps
from .thresholds import Thresholds

#: Steps per captured Warp graph (the time budget is checked between graph launches). Even, so
#: that a replay holds an even number of substeps (see :class:`._newton_sim.Stepper`); small,
#: because recording a graph costs as much Python as running its steps eagerly.
CHUNK = 2


#: Margin (rad) from +-pi within which Newton's XPBD cannot hold a revolute range (measured: a
#: range [0, pi] explodes, [0, pi - 0.1] sweeps like PyBullet).
PI_MARGIN_RAD = 0.1


#: A movable link that one of its children outweighs this many times makes the Newton sweeps
#: step at the finer substeps of the rest and drop checks (module docstring; measured on a
#: closed-form caster: 14.8 sweeps, 25.6 explodes at the sweeps' own 2 x 8).
LIGHT_LINK_RATIO = 10.0


def light_links(model: RigidModel, ratio: float = LIGHT_LINK_RATIO) -> list[tuple[str, str, float]]:
    """``(link, heaviest child, child mass / link mass)`` for every link on a movable joint that a
    child link outweighs more than ``ratio`` times (masses in kg from ``Link.mass``), in link order."""
    out = []
    for link in model.links:
        if link.joint is None or link.joint.type == "fixed":
            continue
        kids = [c for c in model.links if c.parent == link.index]
        if not kids:
            continue
        heavy = max(kids, key=lambda c: c.mass.mass)
        r = heavy.mass.mass / max(link.mass.mass, 1e-300)
        if r > ratio:
            out.append((link.name, heavy.name, float(r)))
    return out


def recentre_revolutes(sub, newton) -> dict[int, float]:
    """Re-centre, in Newton builder ``sub``, every revolute joint whose finite range reaches within
    :data:`PI_MARGIN_RAD` of +-pi and spans at most ``2 (pi - PI_MARGIN_RAD)`` (module docstring).

    The joint's parent frame ``joint_X_p`` is turned by ``m = (lower + upper) / 2`` about the
    joint axis (the frames' shared axis, joint frame), its limits become ``[lower - m, upper - m]``
    and its coordinate ``joint_q`` becomes ``-m``: the child's pose ``X_p R(axis, m) R(axis, q')
    X_c^-1`` at ``q' = q - m`` is the file's at ``q``, so the bodies keep their rest poses and
    Newton's coordinate stays inside (-pi, pi] over the whole range. Call it after
    ``add_usd`` and :func:`._newton_sim.anchor_joints_at_com` (which keeps the frames' rotations).

    Args:
        sub: a ``newton.ModelBuilder`` holding the asset (changed in place).
        newton: the ``newton`` module.

    Returns:
        Builder joint index -> offset ``m`` (rad): the file's coordinate is Newton's plus ``m``.
    """
    from scipy.spatial.transform import Rotation

    import warp as wp

    out = {}
    for j in range(sub.joint_count):
        if sub.joint_type[j] != newton.JointType.REVOLUTE:
            continue
        d = sub.joint_qd_start[j]
        lo, hi = float(sub.joint_limit_lower[d]), float(sub.joint_limit_upper[d])
        if not (np.isfinite(lo) and np.isfinite(hi)) or max(abs(lo), abs(hi)) < np.pi - PI_MARGIN_RAD:
            continue
        if hi - lo > 2.0 * (np.pi - PI_MARGIN_RAD):
            continue  # no shift fits it inside (-pi, pi]: left as authored (warned if it fails)
        m = 0.5 * (lo + hi)
        axis = np.asarray(sub.joint_axis[d], np.float64)
        axis /= max(np.linalg.norm(axis), 1e-300)
        xp = np.asarray(sub.joint_X_p[j], np.float64)
        rot = (Rotation.from_quat(xp[3:7]) * Rotation.from_rotvec(m * axis)).as_quat()  # (x, y, z, w)
        sub.joint_X_p[j] = wp.transform(wp.vec3(*map(float, xp[:3])), wp.quat(*map(float, rot)))
        sub.joint_limit_lower[d], sub.joint_limit_upper[d] = lo - m, hi - m
        sub.joint_q[sub.joint_q_start[j]] = float(sub.joint_q[sub.joint_q_start[j]]) - m
        out[j] = m
    return out


def check_articulation_newton(asset: Asset, model: RigidModel, th: Thresholds | None = None, *,
                              usd_path: str | Path, gain_scale: float = 1.0, time_budget_s: float = 60.0,
                              label: str | None = None, time_step: float = 1.0 / 240.0,
                              hold_s: float = 0.5, budget=None) -> dict:
    """Sweep every movable joint of ``asset`` through its range in Newton (module docstring).

    Args:
        asset: with joints, parts, hulls and mass properties.
        model: ``rigid_model(asset)``.
        th: thresholds (default :class:`~.thresholds.Thresholds`).
        usd_path: the asset's USD export to sweep (read, never changed; the pipeline writes it).
        gain_scale: multiplies the drive gains read from the file.
        time_budget_s: CPU seconds for load and all sweeps (with a wall-clock hang guard,
            :class:`n4d4d.budget.Budget`).
        label: what a TimeBudgetError names.
        time_step: s. hold_s: seconds held at the end of each sweep.
        budget: a running Budget to charge instead of a fresh one of ``time_budget_s``.

    Returns:
        :class:`~n4d4d.asset.CheckResult` like :func:`.articulation.check_articulation`'s with
        ``engine`` "newton"; ``details``: ``solver``, ``simulation_seconds``, ``warnings``,
        ``usd_sha256`` (of the file swept), ``series``.

    Raises:
        TimeBudgetError: past the budget (:class:`~n4d4d.budget.HangError`: its hang guard).
        MissingFileError: no file at ``usd_path``. StageInputError: the file's joints are not
        the asset's.
    """
    from n4d4d.budget import Budget
    from n4d4d.kinematics import joint_names, kinematic_tree

    from . import _newton_kernels as K
    from ._newton_sim import (STABILITY_ITERATIONS, STABILITY_SUBSTEPS, SUBSTEPS, XPBD_ITERATIONS, Stepper,
                              anchor_joints_at_com, newton_modules, on_ground, pin_world_welded, start_at_rest,
                              usd_sha256)
    from .penetration import HullWorld

    th = th or Thresholds()
    ct = th.certificate
    t0 = time.perf_counter()
    budget = budget or Budget(time_budget_s, what="Newton articulation sweeps", label=label or asset.name)
    digest = usd_sha256(usd_path, asset.name)
    sweeps = plan_sweeps(model, time_step, hold_s, bound_m=ct.max_link_penetration_m)
    light = light_links(model)  # a light link under a heavy child: the finer substeps (module docstring)
    iterations, substeps = (STABILITY_ITERATIONS, STABILITY_SUBSTEPS) if light else (XPBD_ITERATIONS, SUBSTEPS)
    solver_name = f"SolverXPBD(iterations={iterations}, substeps={substeps})"
    if not sweeps:
        return articulation_report("newton", {}, [], ct, time.perf_counter() - t0, solver=solver_name,
                                   usd_sha256=digest)
    wp, newton = newton_modules()
    sub = newton.ModelBuilder()
    sub.add_usd(str(usd_path), floating=False, enable_self_collisions=False, load_visual_shapes=False)
    welds = [j for j in range(sub.joint_count) if sub.joint_type[j] == newton.JointType.FIXED and sub.joint_parent[j] >= 0]
    if welds:  # welded links one body (module docstring); the root's weld to the world kept (pinned below)
        sub.collapse_fixed_joints(joints_to_keep=[j for j in range(sub.joint_count) if j not in welds])
    anchor_joints_at_com(sub)  # the same joints, anchored where XPBD converges
    start_at_rest(sub)  # every joint at its rest coordinate (0 clipped into its limits), as in PyBullet
    pin_world_welded(sub)  # the fixed roots immovable, as PyBullet's static base
    offsets = recentre_revolutes(sub, newton)  # builder joint -> file coordinate minus Newton's (rad)

    link_of = {link.joint.name: link.index for link in model.links if link.joint is not None}
    by_prim = {prim: name for name, prim in joint_names(kinematic_tree(asset)).items()}
    moving = (newton.JointType.REVOLUTE, newton.JointType.PRISMATIC)
    drives = {}  # sub joint -> (link index, kp, kd, effort)
    for j in range(sub.joint_count):
        if sub.joint_type[j] not in moving:
            continue
        name = by_prim.get(str(sub.joint_label[j]).rsplit("/", 1)[-1])
        if name not in link_of:
            raise StageInputError(f"USD joint '{sub.joint_label[j]}' is not a joint of the asset", label or asset.name)
        d = sub.joint_qd_start[j]
        drives[j] = (link_of[name], gain_scale * float(sub.joint_target_ke[d]), gain_scale * float(sub.joint_target_kd[d]),
                     float(sub.joint_effort_limit[d]))
        sub.joint_target_ke[d] = sub.joint_target_kd[d] = 0.0  # the sweep's explicit PD replaces XPBD's drive
    missing = {s.joint.name for s in sweeps} - {model.links[i].joint.name for i, _, _, _ in drives.values()}
    if missing:
        raise StageInputError(f"the USD file has no movable joint for {sorted(missing)}", label or asset.name)
    groups = group_sweeps(model, sweeps)  # one world per group of independent sweeps
    W = len(groups)
    lift = np.array([0.0, 0.0, sweep_lift(model)])  # as in PyBullet: no foot starts below the ground
    nm = on_ground(sub, [(np.eye(3), lift)] * W, asset.material.dynamic_friction)
    member = {s.link: m for m, s in enumerate(sweeps)}  # table column of each swept joint
    in_world = [{s.link for s in g} for g in groups]

    # One row per driven DOF of every world (world-major, the replicated joint order).
    jw, jq0, jd0 = nm.joint_world.numpy(), nm.joint_q_start.numpy(), nm.joint_qd_start.numpy()
    rows = [(int(jw[g]), g % sub.joint_count) for g in range(nm.joint_count) if g % sub.joint_count in drives]
    links = np.array([drives[j][0] for _, j in rows])
    world = np.array([w for w, _ in rows])
    # Joints held out of a group's way (a door open for the drawers behind it, Sweep.holds): one
    # constant column each, and the world starts there.
    held = {(w, i): (len(sweeps) + k, v) for k, (w, i, v) in
            enumerate((w, i, v) for w, g in enumerate(groups) for i, v in g[0].holds)}
    column = np.array([member[i] if i in in_world[w] else held.get((w, i), (-1,))[0]
                       for i, w in zip(links, world)], dtype=np.int32)
    # Newton reports a revolute coordinate in (-pi, pi]: angles are wrapped for the PD error and
    # unwrapped in the record (a door with limits [0, pi] reaches pi).
    angular = np.array([model.links[i].joint.type != "prismatic" for i in links])
    n = len(rows)
    steps = max(s.steps for s in sweeps)
    total = 1 + CHUNK * int(np.ceil(steps / CHUNK))  # >= steps + 1: post-step states of steps 0..steps-1
    table = np.zeros((total, len(sweeps) + len(held)), dtype=np.float32)
    for m, s in enumerate(sweeps):
        table[:s.steps, m] = s.target(time_step * np.arange(1, s.steps + 1))
    for c, v in held.values():
        table[:, c] = v
    # Re-centred joints (recentre_revolutes): targets in Newton's coordinate, the file's minus the
    # offset. A row that holds its rest coordinate (no column) gets a column of its own holding
    # it (rest_coordinate: 0 clipped into the limits) minus the offset, when that is not 0.
    shift = np.array([offsets.get(j, 0.0) for _, j in rows])
    rest = rest_coordinates(model)
    rest_row = np.array([rest.get(int(i), 0.0) for i in links])
    extra = [r for r in range(len(rows)) if (shift[r] or rest_row[r]) and column[r] < 0]
    if extra:
        table = np.hstack([table, np.zeros((total, len(extra)), dtype=np.float32)])
        for k, r in enumerate(extra):
            column[r] = len(sweeps) + len(held) + k
            table[:, column[r]] = rest_row[r]
    for r in np.flatnonzero(shift):
        table[:, column[r]] -= shift[r]
    f32 = dict(dtype=float, device="cpu")
    i32 = dict(dtype=wp.int32, device="cpu")
    driven = np.array([g for g in range(nm.joint_count) if g % sub.joint_count in drives])
    args = [wp.zeros(1, **i32), wp.array(table, **f32), wp.array(column, **i32),
            wp.array(jq0[driven].astype(np.int32), **i32), wp.array(jd0[driven].astype(np.int32), **i32),
            wp.array(np.array([drives[j][1] for _, j in rows], np.float32), **f32),
            wp.array(np.array([drives[j][2] for _, j in rows], np.float32), **f32),
            wp.array(np.array([drives[j][3] for _, j in rows], np.float32), **f32),
            wp.array(angular.astype(np.int32), **i32)]
    jq, jqd = wp.zeros(nm.joint_coord_count, **f32), wp.zeros(nm.joint_dof_count, **f32)
    hist_q, hist_qd = wp.zeros((total, n), **f32), wp.zeros((total, n), **f32)

    sim = Stepper(nm, iterations=iterations, substeps=substeps)
    if held:  # every other joint starts at its rest coordinate (start_at_rest, in the model's joint_q)
        q_start = nm.joint_q.numpy()
        for r, (w, j) in enumerate(rows):
            if (w, drives[j][0]) in held:
                q_start[jq0[driven[r]]] = held[(w, drives[j][0])][1] - offsets.get(j, 0.0)
        nm.joint_q.assign(q_start)
        newton.eval_fk(nm, nm.joint_q, nm.joint_qd, sim.states[0])

    def run(count: int) -> None:
        for _ in range(count):
            newton.eval_ik(nm, sim.states[0], jq, jqd)
            wp.launch(K.pd_drive, dim=n, inputs=[*args, jq, jqd, sim.control.joint_f, hist_q, hist_qd], device="cpu")
            wp.launch(K.advance, dim=1, inputs=[args[0]], device="cpu")
            sim.step(time_step)

    run(1)  # eagerly: loads every kernel before the capture
    with wp.ScopedCapture(device="cpu") as cap:
        run(CHUNK)
    for _ in range((total - 1) // CHUNK):
        wp.capture_launch(cap.graph)
        budget.check("Newton articulation sweeps")
    hq, hqd = hist_q.numpy().astype(np.float64), hist_qd.numpy().astype(np.float64)
    hq[:, angular] = np.unwrap(hq[:, angular], axis=0)
    hq += shift  # the file's coordinate (re-centred joints)

    sim_done = time.perf_counter()
    per_joint, reasons, warnings, swept = {}, [], [], {}
    hulls = HullWorld(model) if model.non_adjacent_pairs() else None
    kps, kds = args[5].numpy(), args[6].numpy()
    try:
        for w, group in enumerate(groups):
            mine = np.nonzero(world == w)[0]
            length = max(s.steps for s in group)
            q_run = np.zeros((length, len(model.links)))
            q_run[:, links[mine]] = hq[1:length + 1, mine]
            depth = (sweep_overlaps(model, q_run, hulls, moving_pairs(model, group), OVERLAP_EVERY)
                     if hulls is not None else {})
            for s in group:
                i = mine[links[mine] == s.link][0]
                measured, why = sweep_verdict(model, s, q_run[:s.steps, s.link], hqd[1:s.steps + 1, i],
                                              q_run[:s.steps], ct, (kps[i], kds[i]), None,
                                              overlap=joint_overlap(model, s, depth))
                per_joint[s.joint.name] = (measured, why)
                swept[s.joint.name] = q_run[:s.steps, s.link]
    finally:
        if hulls is not None:
            hulls.close()
    for s in sweeps:  # reports in joint order, whatever the grouping
        measured, why = per_joint[s.joint.name]
        per_joint[s.joint.name] = measured
        reasons += why
        reaches_pi = (max(abs(s.joint.lower), abs(s.joint.upper)) >= np.pi - 1e-6
                      and s.joint.upper - s.joint.lower > 2.0 * (np.pi - PI_MARGIN_RAD))  # else re-centred
        if why and s.finite and s.joint.type != "prismatic" and reaches_pi:
            warnings.append(f"joint '{s.joint.name}' range [{s.joint.lower:.4g}, {s.joint.upper:.4g}] reaches +-pi, "
                            "which Newton's XPBD cannot hold: it measures a revolute angle in (-pi, pi], so a joint "
                            "past pi reads as past its other limit and is thrown back (limits within pi - 0.1 "
                            "sweep normally): the likely cause of this joint's failure in Newton")
    if reasons and light:
        warnings.append("light links under heavy children, which XPBD's joint solve converges on slowly (swept at "
                        f"{substeps} substeps of {iterations} iterations): "
                        + ", ".join(f"'{a}' carries '{b}' ({r:.0f} x its mass)" for a, b, r in light))
    warnings += rest_outside_limits(model)  # every sweep starts from the rest pose
    swept = {s.joint.name: swept[s.joint.name] for s in sweeps}
    return articulation_report("newton", per_joint, reasons, ct, time.perf_counter() - t0, solver=solver_name,
                               simulation_seconds=sim_done - t0, warnings=warnings, usd_sha256=digest,
                               series=sweep_series(time_step, swept), groups=[[s.joint.name for s in g] for g in groups])
