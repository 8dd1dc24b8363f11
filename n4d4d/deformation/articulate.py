"""The ``articulate`` motion family: every movable joint driven open and closed through its limits
by the certificate's PD drive, simulated in PyBullet, recorded as it happened.

The asset stands in its authored pose with its root links fixed (as mounted, and as the
certificate's articulation sweep holds it), under gravity, above the ground plane, with
self-collision on between non-adjacent parts, so a drawer that meets a collider or a door that
hits its neighbour stops there and the clip shows it. Movable joints move one after the other
(the others held at their rest coordinates), each following its target schedule over its segment
of the clip (:func:`open_close_schedule`): rest -> upper, hold, -> lower, hold, -> rest, hold
(continuous joints: one turn forward and back). A joint's rest coordinate is the certificate's,
0 clipped into its limits (:func:`~n4d4d.physics_validation.rigid_model.rest_coordinate`): every
clip starts there, so a joint whose authored zero its limits forbid (pybullet_data's a1 calves)
never starts, or is held, outside its limits. Each ramp is a
minimum-jerk profile (Flash & Hogan 1985, ``10u^3 - 15u^4 + 6u^5``) then rate-limited to
``Joint.velocity``. The drive is the explicit PD of :func:`.bullet_scene.drive_torques` with the
asset's drive gains (:func:`.bullet_scene.drive_gains`), effort-clipped. Contacts run at
Bullet's contact breaking threshold :data:`BREAKING_THRESHOLD` (not its 0.02), so a contact point
found at a corner is not carried along a part sliding past a neighbour until it jams it.

:func:`simulate_clip` is the engine loop both this family and :mod:`.drop` use: drives on or
off, root fixed or free, initial joint coordinates, an early stop once at rest. The clip's
``joint_positions`` and ``root_poses`` are what PyBullet integrated (sampled at the clip's frame
rate from a :data:`TIME_STEP_S` simulation); ``commanded_positions`` are the targets. Per-frame vertices are
not stored: forward kinematics of the parts reproduces every frame.

This module does not judge the clip (see :mod:`.plausibility`).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, Mapping

import numpy as np

from n4d4d.asset import Asset, Joint, MotionClip

#: Simulation step of motion clips (s): a quarter of the certificate's 1/240 s. The drive is the
#: certificate's (same gains, same effort clip, the same explicit PD), but its explicit integration
#: at 240 Hz goes unstable on thin links: the procedural lamp's arm (principal moment 1e-5 kg m^2)
#: overshoots its limits by 0.33 rad there and stays within them at 960 Hz, and a drop sampled right
#: after impact shows up to one step's travel below the ground at 240 Hz (the hinged lid from 5 cm:
#: 5.5 mm) against under 0.5 mm at 960 Hz (four seeded poses). A clip should show the asset's motion,
#: not the integrator's; it costs four times the steps (0.1-0.6 s per clip here).
TIME_STEP_S = 1.0 / 960.0

#: Shortest time (s) one joint's open-close segment gets: three ramps and three holds of the 10 Hz
#: drive (each hold 0.1 s, six of the drive's 16 ms time constants).
MIN_SEGMENT_S = 1.0

#: Share of a joint's segment spent holding still at each limit and at the end (the rest
#: ramps), long enough for the 10 Hz drive to settle (four time constants of 16 ms and more).
HOLD_SHARE = 0.1


#: Bullet contact breaking threshold (dimensionless, a factor of each shape's bounding radius:
#: :func:`.bullet_scene.contact_breaking_threshold`) of ``articulate`` clips, a tenth of Bullet's
#: 0.02. Parts driven along their joints slide past their neighbours at constant gaps, and at 0.02
#: a contact point Bullet found at a corner is carried along for up to 2 % of the part's radius
#: (8 mm on a 40 cm drawer) measured along its stale, tilted normal, until that distance reads
#: contact and the drawer jams 1.46 mm away from the closed door (PartNet-Mobility 45332, both
#: drawers). At 0.005 that drawer slides, but a box flap folded back to its limit with its edges
#: 0.4-0.6 mm from two neighbouring flaps (PartNet-Mobility 100154, flaps of radius 0.6 m: points
#: kept for 3 mm of drift) jammed on its way back on such a point, read at -0.01 mm and pushed
#: at 1.4 kN while the hulls were 0.63 mm apart, held there by the solver so it never drifted
#: off (the flap stuck at -3.89 rad; with Bullet's joint limits off, at -3.92 on the other
#: neighbour). At 0.002 (1.2 mm of drift for that flap) all four flaps fold back and return, and
#: the 45332 drawers slide. A real blocker is found afresh by the narrowphase every step, so it
#: still stops the part (tests/test_clip_ghost_contact.py, tests/test_sweep_prerequisites.py's
#: cupboard). The cost is a shorter speculative reach: a part of radius r closing faster than
#: 0.002 r / TIME_STEP_S (1.9 r m/s: 0.77 m/s at r = 40 cm, 0.1 m/s at 5 cm) is met one step
#: late, up to one step's travel inside its blocker (1 mm at 1 m/s) before the solver pushes it
#: out. Drop clips keep Bullet's default (a falling part meets the ground fast).
BREAKING_THRESHOLD = 0.002


def _min_jerk(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u ** 3 * (10.0 - 15.0 * u + 6.0 * u * u)


def open_close_schedule(joint: Joint, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Waypoints of one joint's target over an ``articulate`` clip of ``seconds`` s.

    Finite limits: q0 -> upper, hold, -> lower, hold, -> q0, hold, with q0 the joint's rest
    coordinate (0 clipped into the limits,
    :func:`~n4d4d.physics_validation.rigid_model.rest_coordinate`); continuous (or unlimited)
    joints: 0 -> 2 pi, hold, -> 0, hold. Holds take :data:`HOLD_SHARE` of the clip each; the
    ramps share the rest in proportion to the distance they travel.

    Returns:
        ``(times (K,), values (K,))`` float64, s and rad or m; consecutive equal values are holds.
    """
    from n4d4d.physics_validation.rigid_model import rest_coordinate

    finite = joint.type != "continuous" and bool(np.isfinite([joint.lower, joint.upper]).all())
    q0 = rest_coordinate(joint)
    way = [q0, float(joint.upper), float(joint.lower), q0] if finite else [0.0, 2 * np.pi, 0.0]
    holds = len(way) - 1
    ramp_time = seconds * (1.0 - HOLD_SHARE * holds)
    dist = np.abs(np.diff(way))
    share = dist / dist.sum() if dist.sum() > 0 else np.full(len(dist), 1.0 / len(dist))
    times, values, t = [0.0], [way[0]], 0.0
    for k in range(len(dist)):
        t += ramp_time * share[k]
        times.append(t)
        values.append(way[k + 1])
        t += seconds * HOLD_SHARE
        times.append(t)
        values.append(way[k + 1])
    return np.array(times), np.array(values)


#: Share of a joint's effort limit the ``articulate`` schedule may ask for at its peak
#: acceleration; the rest is left to gravity, damping and the tracking error of the drive.
EFFORT_SHARE = 0.5

#: Peak acceleration of a minimum-jerk ramp over distance d in time T is this times d / T^2
#: (10 / sqrt(3), at u = 1/2 -+ sqrt(3)/6).
MIN_JERK_PEAK_ACCEL = 10.0 / np.sqrt(3.0)


def feasible_segment(joint: Joint, kp: float, kd: float, effort: float) -> float:
    """Shortest segment (s) of :func:`open_close_schedule` whose ramps a drive of gains
    ``(kp, kd)`` and effort limit ``effort`` (N m or N) can follow using at most
    :data:`EFFORT_SHARE` of its effort at the peak acceleration.

    The inertia the drive sees is read off its gains: a critically damped PD has ``kp = I w^2``,
    ``kd = 2 I w``, so ``I = kd^2 / (4 kp)`` (kg m^2 or kg). A ramp of ``d_k`` given the share
    ``d_k / D`` of the ramp time ``T`` peaks at ``MIN_JERK_PEAK_ACCEL * D^2 / (T^2 d_k)``, largest
    for the shortest ramp, so ``T >= D sqrt(MIN_JERK_PEAK_ACCEL I / (EFFORT_SHARE effort d_min))``;
    the holds take their :data:`HOLD_SHARE` on top. 0 when the drive has no gain or effort.
    (pybullet's r2d2 authors 1 kg m^2 wheels with a 100 N m effort: a full turn and back needs a
    2.1 s segment, not the 1 s one a four-group 4 s clip gives, or its drive saturates and
    overshoots by 4 rad.)
    """
    if kp <= 0 or kd <= 0 or effort <= 0 or not np.isfinite(effort):
        return 0.0
    inertia = kd * kd / (4.0 * kp)
    _, way = open_close_schedule(joint, 1.0)
    dist = np.abs(np.diff(way))
    dist = dist[dist > 1e-12]
    if not len(dist):
        return 0.0
    ramp = dist.sum() * np.sqrt(MIN_JERK_PEAK_ACCEL * inertia / (EFFORT_SHARE * effort * dist.min()))
    holds = (len(way) - 1) // 2  # the schedule's values: start, then (ramp end, hold end) per ramp
    return float(ramp / (1.0 - HOLD_SHARE * holds))


def schedule_targets(times: np.ndarray, values: np.ndarray, t: np.ndarray, velocity: float,
                     dt: float) -> np.ndarray:
    """Target ``(N,)`` at step times ``t (N,)`` (uniform step ``dt``): minimum-jerk between the
    waypoints ``(times, values)``, then rate-limited to ``velocity`` (rad/s or m/s)."""
    t = np.asarray(t, np.float64)
    out = np.full(len(t), values[-1], np.float64)
    for k in range(len(times) - 1):
        sel = (t >= times[k]) & (t < times[k + 1])
        span = max(times[k + 1] - times[k], 1e-12)
        out[sel] = values[k] + (values[k + 1] - values[k]) * _min_jerk((t[sel] - times[k]) / span)
    out[t < times[0]] = values[0]
    limited = np.empty_like(out)
    cur, cap = float(values[0]), float(velocity) * dt
    for n, want in enumerate(out):
        cur += float(np.clip(want - cur, -cap, cap))
        limited[n] = cur
    return limited


def joint_groups(asset: Asset, time_step: float = TIME_STEP_S) -> list[list[Joint]]:
    """The movable joints of ``asset`` in groups that may move together in an ``articulate``
    clip: the certificate's groups of independent sweeps
    (:func:`n4d4d.physics_validation.sweep_groups.group_sweeps`), each group in link order, the
    groups in order of their first joint (the kinematic tree's, as the certificate sweeps).

    Raises:
        StageInputError: the asset lacks hulls or mass (``rigid_model``).
    """
    from n4d4d.physics_validation.articulation import plan_sweeps
    from n4d4d.physics_validation.rigid_model import rigid_model
    from n4d4d.physics_validation.sweep_groups import group_sweeps

    model = rigid_model(asset)
    sweeps = plan_sweeps(model, time_step, 0.0)
    return [[s.joint for s in g] for g in group_sweeps(model, sweeps)]


def _sweep_groups(model, time_step: float) -> list[list]:
    """The certificate's groups of :class:`~n4d4d.physics_validation.articulation.Sweep` (with
    their holds, :mod:`n4d4d.physics_validation.prerequisites`)."""
    from n4d4d.physics_validation.articulation import plan_sweeps
    from n4d4d.physics_validation.sweep_groups import group_sweeps

    return group_sweeps(model, plan_sweeps(model, time_step, 0.0))


def hold_ramp_s(joint: Joint, value: float) -> float:
    """Seconds (s) an ``articulate`` clip gives a held joint to move to ``value`` (rad or m) before
    the joints that need it move, and back after: twice the time at ``Joint.velocity``, at least
    half of :data:`MIN_SEGMENT_S`."""
    return max(0.5 * MIN_SEGMENT_S, 2.0 * abs(float(value)) / max(float(joint.velocity), 1e-6))


def simulate_clip(asset: Asset, *, name: str, family: str, seconds: float, fps: float,
                  targets: Mapping[str, np.ndarray] | None = None, drives: bool = True,
                  fixed_root: bool = True, pose: np.ndarray | None = None,
                  initial: Mapping[str, float] | None = None,
                  rest: Callable[[np.ndarray, np.ndarray], bool] | None = None,
                  max_seconds: float | None = None, time_step: float = TIME_STEP_S,
                  breaking_threshold: float | None = None) -> MotionClip:
    """Simulate ``asset`` in PyBullet and record a :class:`~n4d4d.asset.MotionClip`.

    Args:
        asset: with parts, collision hulls and mass properties (joints and drives optional).
        name, family: the clip's name and family.
        seconds: simulated time (s). fps: frames per second of the clip (frames are taken
            at the simulation step nearest each ``k / fps``).
        targets: joint name -> ``(N,)`` drive target at every step (rad or m); joints without
            a track hold their rest coordinate (0 clipped into the limits). Ignored without
            ``drives``.
        drives: apply the PD drive to every movable joint; False leaves every joint free
            (passive), its built-in motor switched off.
        fixed_root: root links static in their placed pose.
        pose: ``(4, 4)`` placement of the asset (default identity: the authored pose).
        initial: joint name -> starting coordinate (rad or m), speed 0 (default: every joint
            at its rest coordinate, :func:`~n4d4d.physics_validation.rigid_model.rest_coordinate`).
        rest: ``rest(times (k,), root_poses (k, 7)) -> bool`` called on the frames so far once
            ``seconds`` have passed; the simulation goes on (to ``max_seconds``) until it is True.
        max_seconds: hard end when ``rest`` is given (default ``seconds``).
        time_step: simulation step (s).
        breaking_threshold: Bullet's contact breaking threshold (dimensionless factor of the
            shapes' bounding radii) while simulating,
            :func:`.bullet_scene.contact_breaking_threshold`; ``None`` keeps Bullet's 0.02.

    Returns:
        The clip: ``times (T,)`` s from 0, ``joint_positions`` per movable joint ``(T,)``,
        ``root_poses (T, 7)`` of the first root part (position m, quaternion w, x, y, z),
        ``commanded_positions`` per driven joint ``(T,)`` (empty without drives).

    Raises:
        StageInputError: the asset lacks hulls or mass (``rigid_model``).
        ValueError: a target track is shorter than the simulation.
    """
    from n4d4d.physics_validation.rigid_model import rest_coordinates, rigid_model

    from . import bullet_scene as bs

    model = rigid_model(asset)
    rest_q = rest_coordinates(model)
    horizon = max(seconds, max_seconds or seconds) if rest is not None else seconds
    steps = int(round(horizon / time_step))
    every = max(1, int(round(1.0 / (fps * time_step))))
    by_name = {link.joint.name: link.index for link in model.links if link.joint is not None}
    goal = np.zeros((steps, len(model.links)))
    for i, v in rest_q.items():
        goal[:, i] = v
    for jn, track in (targets or {}).items():
        track = np.asarray(track, np.float64)
        if len(track) < steps:
            raise ValueError(f"target track of joint '{jn}' has {len(track)} steps, the simulation {steps}")
        goal[:, by_name[jn]] = track[:steps]
    stack = contextlib.ExitStack()
    client = bs.connect(time_step)
    try:
        stack.enter_context(bs.contact_breaking_threshold(client, breaking_threshold))
        bs.add_ground(client)
        scene = bs.build(client, model, asset.material, np.eye(4) if pose is None else pose, fixed_root=fixed_root)
        start = {i: v for i, v in rest_q.items() if v != 0.0}
        start.update({by_name[k]: v for k, v in (initial or {}).items()})
        if start:
            bs.set_joints(scene, start)
        gains = bs.drive_gains(asset, model) if drives else {}
        times, roots, qs, cmd = [0.0], [bs.root_pose(scene)], [bs.joint_state(scene)[0]], [goal[0]]
        end_at = int(round(seconds / time_step))
        for k in range(steps):
            q, dq = bs.joint_state(scene)
            if gains:
                bs.drive_torques(scene, goal[k], gains, q, dq)
            client.stepSimulation()
            if (k + 1) % every:
                continue
            times.append((k + 1) * time_step)
            roots.append(bs.root_pose(scene))
            qs.append(bs.joint_state(scene)[0])
            cmd.append(goal[k])
            if rest is not None and k + 1 >= end_at and rest(np.array(times), np.array(roots)):
                break
    finally:
        stack.close()
        client.disconnect()
    qs, cmd = np.array(qs), np.array(cmd)
    movable = [link for link in model.links if link.index in scene.movable]
    return MotionClip(
        name=name, times=np.array(times), root_poses=np.array(roots), family=family,
        joint_positions={link.joint.name: qs[:, link.index].copy() for link in movable},
        commanded_positions={link.joint.name: cmd[:, link.index].copy() for link in movable} if gains else {})


def articulate_clip(asset: Asset, *, fps: float = 30.0, seconds: float = 4.0,
                    name: str = "articulate", time_step: float = TIME_STEP_S) -> MotionClip:
    """Every movable joint driven open and closed through its limits (module docstring).

    Joints move group after group, each group in a segment of ``max(seconds / n, MIN_SEGMENT_S)``
    for n groups (the clip lasts ``seconds``, or :data:`MIN_SEGMENT_S` per group when there are
    more groups than that allows), lengthened where a joint's drive could not follow it within
    its effort limit (:func:`feasible_segment`), the other joints held at their rest
    coordinates (:func:`open_close_schedule`), except the joints a
    group needs out of its way (:mod:`n4d4d.physics_validation.prerequisites`: a cabinet door
    opened before the drawers behind it move, closed after them; :func:`hold_ramp_s` each way).
    A group is a set of *independent*
    joints as the certificate's sweeps group them
    (:func:`n4d4d.physics_validation.sweep_groups.group_sweeps`: each joint's parent held rigidly
    to the fixed root, the parts each one moves apart over their whole ranges), so a camera's 18
    buttons press together instead of one after the other (19 joints: 3 groups, a 4 s clip
    instead of 19 s, and a fifth of the simulation). Joints that are not independent (a chain's
    shoulder and elbow) move one at a time, which keeps each drive at the effective inertia its
    gains were tuned for (all at once, a folded elbow can leave a shoulder drive with a quarter
    of its inertia, and the explicit PD can go unstable).

    Args:
        asset: with movable joints, parts, collision hulls and mass properties; drive gains from
            ``asset.drives`` (else the certificate's defaults).
        fps: frames per second. seconds: clip length (s). time_step: simulation step (s).

    Returns:
        A clip of family ``"articulate"``: ``joint_positions`` (simulated), ``commanded_positions``
        (targets), ``root_poses`` (the authored pose: the root is fixed; simulated
        :func:`~n4d4d.physics_validation.articulation.sweep_lift` above it, clear of the ground),
        ``times`` s.

    Raises:
        StageInputError: missing hulls or mass. ValueError: no movable joint.
    """
    from n4d4d.physics_validation.articulation import sweep_lift
    from n4d4d.physics_validation.rigid_model import rest_coordinate, rigid_model

    from . import bullet_scene as bs

    model = rigid_model(asset)
    sweep_groups = _sweep_groups(model, time_step)
    if not sweep_groups:
        raise ValueError(f"{asset.name}: articulate needs a movable joint")
    groups = [[sw.joint for sw in g] for g in sweep_groups]
    holds = [[(model.links[i].joint, v) for i, v in g[0].holds] for g in sweep_groups]
    gains = bs.drive_gains(asset, model)
    index = {link.joint.name: link.index for link in model.links if link.joint is not None}
    base = max(seconds / len(groups), MIN_SEGMENT_S)
    segments = [max([base] + [feasible_segment(j, *gains[index[j.name]]) for j in group]) for group in groups]
    ramps = [max([0.0] + [hold_ramp_s(j, v) for j, v in held]) for held in holds]
    lengths = [seg + 2.0 * ramp for seg, ramp in zip(segments, ramps)]
    starts = np.concatenate([[0.0], np.cumsum(lengths)])
    total = float(starts[-1])
    steps = int(round(total / time_step))
    t = time_step * np.arange(1, steps + 1)
    # each joint's target: its rest coordinate q0, plus each schedule's excursion from q0 (every
    # schedule starts and ends at q0, so the excursions are zero outside their segments and add)
    targets = {}
    for k, group in enumerate(groups):
        for j in group:
            q0 = rest_coordinate(j)
            wt, wv = open_close_schedule(j, segments[k])
            track = schedule_targets(wt + starts[k] + ramps[k], wv, t, j.velocity, time_step)
            targets[j.name] = targets.get(j.name, q0) + (track - q0)
        for j, v in holds[k]:  # q0 -> v, held while the group moves, -> q0
            q0 = rest_coordinate(j)
            wt = starts[k] + np.array([0.0, ramps[k], ramps[k] + segments[k], 2.0 * ramps[k] + segments[k]])
            track = schedule_targets(wt, np.array([q0, v, v, q0]), t, j.velocity, time_step)
            targets[j.name] = targets.get(j.name, q0) + (track - q0)
    # Simulated raised clear of the ground, as the certificate's sweeps are (sweep_lift): with the
    # root immovable, a wheel or foot resting on the ground is held by its friction, and a wheel's
    # full turn stops at 0 rad. The recorded root pose is the authored one.
    lift = sweep_lift(model)
    pose = np.eye(4)
    pose[2, 3] = lift
    clip = simulate_clip(asset, name=name, family="articulate", seconds=total, fps=fps, targets=targets,
                         drives=True, fixed_root=True, time_step=time_step, pose=pose,
                         breaking_threshold=BREAKING_THRESHOLD)
    roots = np.array(clip.root_poses, np.float64, copy=True)
    roots[:, 2] -= lift
    return dataclasses.replace(clip, root_poses=roots)
