"""Settle one environment of a scene in PyBullet and measure how well it rests.

:func:`settle_environment` builds the environment in its own PyBullet client (DIRECT, a
static plane z = 0 with the spec's ground friction and restitution): supports on the ground
at their position and yaw, objects laid out by :mod:`n4d4d.scenarios.placement`, each loaded
from its exported ``asset.urdf`` (the same convex hulls, masses and inertias the USD carries;
joints set to their drawn initial positions and held there by position motors with the
URDF's effort). It then simulates at ``settle.timestep`` until every body's linear and angular
speeds stay under ``rest_speed`` / ``rest_angular_speed`` for ``rest_seconds``, or for
``max_seconds`` at most (Kubric's "simulate until at rest").

Measured per body (:class:`Settled`): the settled pose of its frame and of every link, its
joint positions, its support gap (the smallest distance ``max(0, d)`` to a body *below* it
or the ground, where below means the normal of the closest points is within 60 degrees of
+Z, so a neighbour touching its side never hides a floating object: an object at rest on
something is at 0, a floating one is not, Infinigen issue #376's defect), the body it rests
on, its penetration depth (the deepest contact with anything, ``max(0, -d)``) and its speed
at the end. PyBullet runs single-threaded and deterministically: the same spec and seed give
the same figures.

This module simulates and measures; it does not write USD (:mod:`n4d4d.scenarios.scene`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from n4d4d.scenarios.placement import Body, body_aabb, frame_pose, load_body, place_objects, set_frame_pose, wxyz, yaw_quat

#: Distance (m) up to which closest points are looked for when measuring gaps.
GAP_QUERY = 1.0

#: A body supports another when the normal of their closest points, from it towards the other,
#: has at least this upward component (cos 60 deg: a contact from below, not a side neighbour).
SUPPORT_NORMAL_Z = 0.5


@dataclass(frozen=True)
class Settled:
    """One body of a settled environment (lengths m, angles rad, quaternions (w, x, y, z)).

    Attributes:
        key: instance name; asset: asset name; role: ``"object"`` or ``"support"``.
        placed: False when placement found no free pose (the other fields are then empty).
        position, orientation: settled pose of the asset frame in the environment frame.
        links: link name -> (position (3,), quaternion (4,)) of every link frame, env frame.
        joints: joint name -> settled coordinate; targets: joint name -> held coordinate.
        gap_m: distance to the nearest body below it, or the ground (0 when touching).
        penetration_m: deepest contact with any other body or the ground.
        resting_on: key of that body (``"ground"`` for the plane).
        speed_m_s, angular_speed_rad_s: at the end of settling.
        note: why it was left out, or "".
    """

    key: str
    asset: str
    role: str
    placed: bool
    position: tuple = ()
    orientation: tuple = ()
    links: dict = field(default_factory=dict)
    joints: dict = field(default_factory=dict)
    targets: dict = field(default_factory=dict)
    gap_m: float = 0.0
    penetration_m: float = 0.0
    resting_on: str = ""
    speed_m_s: float = 0.0
    angular_speed_rad_s: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class SettledEnv:
    """A settled environment: its bodies, the simulated time (s), whether all came to rest."""

    index: int
    bodies: tuple[Settled, ...]
    seconds: float
    at_rest: bool
    region: tuple


def _speeds(pb, cid: int, b: Body) -> tuple[float, float]:
    lin, ang = pb.getBaseVelocity(b.uid, physicsClientId=cid)
    v, w = float(np.linalg.norm(lin)), float(np.linalg.norm(ang))
    n = pb.getNumJoints(b.uid, physicsClientId=cid)
    if n:
        for s in pb.getLinkStates(b.uid, list(range(n)), computeLinkVelocity=1, physicsClientId=cid):
            v, w = max(v, float(np.linalg.norm(s[6]))), max(w, float(np.linalg.norm(s[7])))
    return v, w


def _measure(pb, cid: int, b: Body, bodies: list[Body], ground: int) -> Settled:
    pos, quat = frame_pose(pb, cid, b.uid)
    links = {pb.getBodyInfo(b.uid, physicsClientId=cid)[0].decode(): (tuple(map(float, pos)), tuple(quat))}
    joints, targets = {}, {}
    for j in range(pb.getNumJoints(b.uid, physicsClientId=cid)):
        info = pb.getJointInfo(b.uid, j, physicsClientId=cid)
        st = pb.getLinkState(b.uid, j, computeForwardKinematics=1, physicsClientId=cid)
        links[info[12].decode()] = (tuple(map(float, st[4])), wxyz(st[5]))
        if j in b.joint_indices:
            name = info[1].decode()
            joints[name] = float(pb.getJointState(b.uid, j, physicsClientId=cid)[0])
            targets[name] = float(b.joint_targets[b.joint_indices.index(j)])
    others = [(o.key, o.uid) for o in bodies if o is not b and o.placed] + [("ground", ground)]
    below, depth = [], 0.0
    for key, uid in others:
        pts = pb.getClosestPoints(b.uid, uid, GAP_QUERY, physicsClientId=cid)
        if pts:
            p = min(pts, key=lambda q: q[8])
            depth = max(depth, -p[8])
            if p[7][2] >= SUPPORT_NORMAL_Z:  # contactNormalOnB points from the other body up into b
                below.append((p[8], key))
    gap, nearest = min(below) if below else (math.inf, "")
    v, w = _speeds(pb, cid, b)
    return Settled(b.key, b.asset, b.role, True, tuple(map(float, pos)), tuple(quat), links, joints, targets,
                   max(0.0, gap) if math.isfinite(gap) else math.inf, max(0.0, depth), nearest, v, w, b.note)


def default_region(supports: list[Body], pb, cid: int, margin: float = 0.02) -> tuple:
    """The top face of the first support (its AABB, shrunk by ``margin`` m), else a 1 m square."""
    if not supports:
        return ((-0.5, -0.5), (0.5, 0.5))
    lo, hi = body_aabb(pb, cid, supports[0].uid)
    return ((float(lo[0] + margin), float(lo[1] + margin)), (float(hi[0] - margin), float(hi[1] - margin)))


def settle_environment(index: int, supports: list[tuple], objects: list[tuple], scene, rng: np.random.Generator
                       ) -> SettledEnv:
    """Lay out and settle one environment.

    Args:
        index: environment index (reported).
        supports: ``(key, asset name, urdf path, (x, y), yaw)`` per support.
        objects: ``(key, asset name, urdf path, joint fractions or None)`` per object instance,
            in placement order.
        scene: the spec's :class:`~n4d4d.scenarios.spec.Scene` (ground, placement, settle).
        rng: the environment's generator (placement draws).
    """
    import pybullet as pb

    cid = pb.connect(pb.DIRECT)
    try:
        st = scene.settle
        pb.setGravity(0, 0, -9.80665, physicsClientId=cid)
        pb.setTimeStep(st.timestep, physicsClientId=cid)
        pb.setPhysicsEngineParameter(deterministicOverlappingPairs=1, physicsClientId=cid)
        ground = pb.createMultiBody(0, pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=cid),
                                    physicsClientId=cid)
        pb.changeDynamics(ground, -1, lateralFriction=scene.ground.friction, restitution=scene.ground.restitution,
                          physicsClientId=cid)
        sup = []
        for key, asset, urdf, (x, y), yaw in supports:
            b = load_body(pb, cid, key, asset, "support", Path(urdf))
            set_frame_pose(pb, cid, b.uid, (x, y, -float(b.local_lo[2])), yaw_quat(yaw))
            b.placed = True
            sup.append(b)
        region = tuple(map(tuple, scene.placement.region)) if scene.placement.region else default_region(sup, pb, cid)
        objs = [load_body(pb, cid, key, asset, "object", Path(urdf), fractions) for key, asset, urdf, fractions in objects]
        place_objects(pb, cid, objs, sup, scene.placement, region, rng)
        live = sup + [b for b in objs if b.placed]
        steps, check = int(round(st.max_seconds / st.timestep)), max(1, int(round(0.02 / st.timestep)))
        calm, t, at_rest = 0.0, 0.0, False
        for k in range(1, steps + 1):
            pb.stepSimulation(physicsClientId=cid)
            t = k * st.timestep
            if k % check == 0:
                speeds = [_speeds(pb, cid, b) for b in live]
                still = all(v < st.rest_speed and w < st.rest_angular_speed for v, w in speeds)
                calm = calm + check * st.timestep if still else 0.0
                if calm >= st.rest_seconds:
                    at_rest = True
                    break
        settled = [_measure(pb, cid, b, live, ground) for b in live]
        left_out = [Settled(b.key, b.asset, b.role, False, note=b.note) for b in objs if not b.placed]
        order = {b.key: i for i, b in enumerate(sup + objs)}
        bodies = tuple(sorted(settled + left_out, key=lambda s: order[s.key]))
        return SettledEnv(index, bodies, float(t), at_rest, region)
    finally:
        pb.disconnect(physicsClientId=cid)
