"""Lay out a scene in PyBullet before settling: supports on the ground, objects on their top.

Kubric's protocol (Greff et al. 2022, ``kubric.core.simulator`` ``move_until_no_overlap``):
each object gets a pose sampled in the spawn region and is rejected while it overlaps
anything already there (PyBullet collision detection on the exported convex hulls, so the
test is the simulator's own), then everything is simulated until at rest
(:mod:`n4d4d.scenarios.settle`). Modes:

- ``random``: position uniform in the region, yaw uniform in [0, 2 pi) (``random_yaw``),
  height the top of the surface under the object's footprint plus ``drop_height``; up to
  ``max_tries`` draws, after which the object is left out with a note.
- ``grid``: row-major cells in the region, as wide as the widest object plus ``spacing``.
- ``stacked``: one column at the region's centre, each object ``drop_height`` above the top of
  the one below.

The surface is a height map of the supports and the ground, ray-cast before any object is
placed, so objects are never spawned on one another in ``random`` and ``grid`` mode. Frames:
each asset's frame is its URDF base link frame (the asset frame, which rests on z = 0); poses
are ``(position (3,) m, quaternion (w, x, y, z))`` in the environment frame, Z up; PyBullet's
``(x, y, z, w)`` and its base inertial frame are converted at this boundary only.

This module places; it does not simulate or judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Height (m) rays start from and the resolution (m) of the surface height map.
RAY_TOP, HEIGHT_MAP_STEP = 50.0, 0.01


@dataclass
class Body:
    """A body in the PyBullet scene: an asset instance, a support, or the ground."""

    key: str               # instance name (unique in the environment)
    asset: str             # asset name (its folder under assets/)
    role: str              # "object", "support" or "ground"
    uid: int               # PyBullet body id
    urdf: Path | None = None
    joint_indices: tuple[int, ...] = ()
    joint_targets: tuple[float, ...] = ()
    local_lo: np.ndarray = field(default_factory=lambda: np.zeros(3))   # asset-frame AABB at rest (m)
    local_hi: np.ndarray = field(default_factory=lambda: np.zeros(3))
    placed: bool = False
    note: str = ""


def xyzw(q_wxyz) -> tuple[float, float, float, float]:
    w, x, y, z = map(float, q_wxyz)
    return (x, y, z, w)


def wxyz(q_xyzw) -> tuple[float, float, float, float]:
    x, y, z, w = map(float, q_xyzw)
    return (w, x, y, z)


def yaw_quat(yaw: float) -> tuple[float, float, float, float]:
    """(w, x, y, z) of a rotation by ``yaw`` rad about +Z."""
    return (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))


def set_frame_pose(pb, cid: int, uid: int, pos, quat_wxyz) -> None:
    """Put the base *link frame* of ``uid`` at ``pos``/``quat_wxyz`` (PyBullet poses the base's
    inertial frame; the URDF's inertial origin is undone here), at rest."""
    info = pb.getDynamicsInfo(uid, -1, physicsClientId=cid)
    com, orn = pb.multiplyTransforms(tuple(map(float, pos)), xyzw(quat_wxyz), info[3], info[4])
    pb.resetBasePositionAndOrientation(uid, com, orn, physicsClientId=cid)
    pb.resetBaseVelocity(uid, (0, 0, 0), (0, 0, 0), physicsClientId=cid)


def frame_pose(pb, cid: int, uid: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Position (3,) m and quaternion (w, x, y, z) of the base link frame of ``uid``."""
    com, orn = pb.getBasePositionAndOrientation(uid, physicsClientId=cid)
    info = pb.getDynamicsInfo(uid, -1, physicsClientId=cid)
    inv_pos, inv_orn = pb.invertTransform(info[3], info[4])
    pos, quat = pb.multiplyTransforms(com, orn, inv_pos, inv_orn)
    return np.array(pos), wxyz(quat)


def body_aabb(pb, cid: int, uid: int) -> tuple[np.ndarray, np.ndarray]:
    """World AABB (lo, hi) over the base and every link of ``uid``."""
    los, his = [], []
    for link in range(-1, pb.getNumJoints(uid, physicsClientId=cid)):
        lo, hi = pb.getAABB(uid, link, physicsClientId=cid)
        los.append(lo)
        his.append(hi)
    return np.min(los, axis=0), np.max(his, axis=0)


def load_body(pb, cid: int, key: str, asset: str, role: str, urdf: Path, joint_fractions=None) -> Body:
    """Load ``urdf`` (inertia from the file, hulls as collision shapes), set its joints to
    ``joint_fractions`` of their ranges (held there by position motors with the URDF's
    effort), and measure its rest AABB in its own frame. An asset bolted to the world (its URDF
    has a ``world`` root link or a zero-mass root: :func:`n4d4d.io.urdf.fixed_base_rule`, as the
    build wrote it for ``Asset.fixed_base``) is loaded with a fixed base: it stays where it is
    placed."""
    from n4d4d.io.urdf import fixed_base_rule
    from n4d4d.io.urdf_model import parse_urdf

    fixed, _why = fixed_base_rule(parse_urdf(urdf))
    uid = pb.loadURDF(str(urdf), basePosition=(0, 0, 0), useFixedBase=bool(fixed),
                      flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=cid)
    set_frame_pose(pb, cid, uid, (0, 0, 0), (1, 0, 0, 0))
    lo, hi = body_aabb(pb, cid, uid)
    joints, targets = [], []
    fractions = list(joint_fractions or [])
    for j in range(pb.getNumJoints(uid, physicsClientId=cid)):
        info = pb.getJointInfo(uid, j, physicsClientId=cid)
        if info[2] not in (pb.JOINT_REVOLUTE, pb.JOINT_PRISMATIC):
            continue
        lower, upper, effort = float(info[8]), float(info[9]), float(info[10])
        f = fractions[len(joints)] if len(joints) < len(fractions) else None
        if f is None:
            q = 0.0
        elif upper > lower:
            q = lower + f * (upper - lower)
        else:  # continuous (PyBullet reports lower > upper)
            q = (2.0 * f - 1.0) * math.pi
        pb.resetJointState(uid, j, q, 0.0, physicsClientId=cid)
        pb.setJointMotorControl2(uid, j, pb.POSITION_CONTROL, targetPosition=q, force=max(effort, 0.0),
                                 physicsClientId=cid)
        joints.append(j)
        targets.append(q)
    return Body(key, asset, role, uid, Path(urdf), tuple(joints), tuple(targets), np.asarray(lo), np.asarray(hi))


def footprint(body: Body, yaw: float) -> np.ndarray:
    """(4, 2) corners (m) of the body's rest AABB, turned by ``yaw``, around its frame origin."""
    lo, hi = body.local_lo, body.local_hi
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    c, s = math.cos(yaw), math.sin(yaw)
    return corners @ np.array([[c, s], [-s, c]])


class HeightMap:
    """Top of the supports and ground (z = 0) over a region, from vertical ray casts."""

    def __init__(self, pb, cid: int, lo, hi, step: float = HEIGHT_MAP_STEP):
        self.lo, self.step = np.asarray(lo, float) - 0.5, step
        n = np.ceil((np.asarray(hi, float) + 0.5 - self.lo) / step).astype(int) + 1
        xs = self.lo[0] + step * np.arange(n[0])
        ys = self.lo[1] + step * np.arange(n[1])
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        starts = [(float(x), float(y), RAY_TOP) for x, y in zip(gx.ravel(), gy.ravel())]
        ends = [(x, y, -1.0) for x, y, _ in starts]
        z = np.zeros(len(starts))
        for k in range(0, len(starts), 16_000):  # PyBullet caps one batch
            hits = pb.rayTestBatch(starts[k:k + 16_000], ends[k:k + 16_000], physicsClientId=cid)
            z[k:k + len(hits)] = [h[3][2] if h[0] >= 0 else 0.0 for h in hits]
        self.z = np.maximum(z.reshape(gx.shape), 0.0)

    def top(self, points_xy: np.ndarray) -> float:
        """Highest surface (m) under the polygon spanned by ``points_xy`` (its bounding box)."""
        lo = np.floor((points_xy.min(axis=0) - self.lo) / self.step).astype(int)
        hi = np.ceil((points_xy.max(axis=0) - self.lo) / self.step).astype(int)
        lo = np.clip(lo, 0, np.array(self.z.shape) - 1)
        hi = np.clip(hi, 0, np.array(self.z.shape) - 1)
        return float(self.z[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1].max())


def overlaps(pb, cid: int, body: Body, others: list[Body]) -> bool:
    """True when ``body`` touches or interpenetrates any of ``others`` (closest points < 0.5 mm)."""
    for o in others:
        if pb.getClosestPoints(body.uid, o.uid, 0.0005, physicsClientId=cid):
            return True
    return False


def place_objects(pb, cid: int, objects: list[Body], fixed: list[Body], placement, region, rng) -> None:
    """Pose every body of ``objects`` by ``placement`` (a :class:`~n4d4d.scenarios.spec.
    Placement`) in ``region`` ``((x0, y0), (x1, y1))``; ``fixed`` (supports) are already placed.
    A body that finds no free pose is removed from the simulation with ``placed = False`` and
    a note."""
    (x0, y0), (x1, y1) = region
    heights = HeightMap(pb, cid, (x0, y0), (x1, y1))
    done: list[Body] = []
    park = 1000.0
    for b in objects:  # park everything apart first, so unplaced bodies never collide
        set_frame_pose(pb, cid, b.uid, (park, 0, 0), (1, 0, 0, 0))
        park += 10.0
    if placement.mode == "grid":
        cell = max(float(np.max(b.local_hi[:2] - b.local_lo[:2])) for b in objects) + placement.spacing if objects else 0
        cols = max(1, int((x1 - x0) // cell)) if cell else 1
    for k, b in enumerate(objects):
        if placement.mode == "stacked":
            below = max((body_aabb(pb, cid, d.uid)[1][2] for d in done), default=None)
            centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
            foot = footprint(b, 0.0) + centre
            z = (below if below is not None else heights.top(foot)) + placement.drop_height - b.local_lo[2]
            set_frame_pose(pb, cid, b.uid, (*centre, z), (1, 0, 0, 0))
            b.placed = True
        elif placement.mode == "grid":
            r, c = divmod(k, cols)
            centre = np.array([x0 + (c + 0.5) * cell, y0 + (r + 0.5) * cell])
            centre -= (b.local_lo[:2] + b.local_hi[:2]) / 2
            z = heights.top(footprint(b, 0.0) + centre) + placement.drop_height - b.local_lo[2]
            set_frame_pose(pb, cid, b.uid, (*centre, z), (1, 0, 0, 0))
            b.placed = not overlaps(pb, cid, b, done)
            if centre[1] + b.local_hi[1] > y1 + 1e-9:
                b.note = "grid cell beyond the placement region"
        else:
            for _ in range(placement.max_tries):
                yaw = float(rng.uniform(0, 2 * math.pi)) if placement.random_yaw else 0.0
                foot0 = footprint(b, yaw)
                lo, hi = foot0.min(axis=0), foot0.max(axis=0)
                if np.any(hi - lo > np.array([x1 - x0, y1 - y0])):
                    break
                centre = np.array([rng.uniform(x0 - lo[0], x1 - hi[0]), rng.uniform(y0 - lo[1], y1 - hi[1])])
                z = heights.top(foot0 + centre) + placement.drop_height - b.local_lo[2]
                set_frame_pose(pb, cid, b.uid, (*centre, z), yaw_quat(yaw))
                if not overlaps(pb, cid, b, done + fixed):
                    b.placed = True
                    break
        if b.placed:
            done.append(b)
        else:
            pb.removeBody(b.uid, physicsClientId=cid)
            b.note = b.note or (f"no free pose found in {placement.max_tries} tries" if placement.mode == "random"
                                else "overlaps a neighbour") + ": left out of the scene"
