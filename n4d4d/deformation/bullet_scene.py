"""The asset in a PyBullet scene for motion clips: the multibodies, state reads in n4d4d's
conventions, and the PD drive the certificate uses (client and ground plane are the certificate's
own, :func:`n4d4d.physics_validation.bullet_client` / ``bullet_ground_plane``).

Layout (the same as the certificate's, :mod:`n4d4d.physics_validation.rigid_model`): each part
is a link whose frame sits at its joint pivot with the asset's axes; its collision hulls form one
compound shape, the certificate's own (:func:`n4d4d.physics_validation.penetration.hull_shape`:
each hull shrunk by Bullet's 1 mm convex margin, a thin one by 0.9 of its inscribed radius, so
the shape Bullet collides is the hull the sweeps measure); its inertial frame is the centre of mass with
the principal axes, the principal moments set explicitly. Linear and angular damping are 0, and
the joints' built-in velocity motors are switched off: what moves a joint is gravity, contact and
the explicit drive of :func:`drive_torques` (Isaac Lab's ``IdealPDActuator``: torque
``kp (target - q) - kd dq`` clipped to the effort limit, computed once per step from the state
before it).

Conversions happen here and only here: PyBullet quaternions are (x, y, z, w), n4d4d's (w, x, y,
z). Poses returned are those of :mod:`n4d4d.kinematics`: a part frame's ``(4, 4)`` transform to
world, so a rest point ``x`` lands at ``pose @ [x - origin, 1]``.

This module does not decide what to simulate (see :mod:`.articulate`, :mod:`.drop`); it builds,
reads and drives. A fresh client per clip (never PyBullet's global one).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from n4d4d.asset import Asset, Material
from n4d4d.conventions import wxyz_to_xyzw, xyzw_to_wxyz

#: Torsional and rolling friction (m), Newton's ``ShapeConfig`` defaults, as the certificate's
#: PyBullet checks use: a contact patch resists spinning and rolling.
SPINNING_FRICTION_M = 0.005
ROLLING_FRICTION_M = 0.0001


#: Bullet's own ``gContactBreakingThreshold`` (``btPersistentManifold.cpp``), the value every
#: PyBullet client starts with and the one the certificate's checks run under.
BULLET_CONTACT_BREAKING_THRESHOLD = 0.02


@contextlib.contextmanager
def contact_breaking_threshold(client, value: float | None):
    """Run the block with Bullet's contact breaking threshold set to ``value``, then put back
    :data:`BULLET_CONTACT_BREAKING_THRESHOLD` (``None``: leave it alone).

    The threshold is a dimensionless factor: a contact manifold between two collision objects
    keeps (and the narrowphase adds) only points within ``value * r`` (m) of each other, ``r``
    the smaller of the two shapes' angular motion discs (bounding radius plus centre offset,
    ``btCollisionShape::getContactBreakingThreshold``, relative thresholds being Bullet's
    default); AABBs are grown by ``value`` metres. A manifold point is refreshed each step only
    by moving its two stored body-local points with the bodies and measuring them along its
    stored normal (``btPersistentManifold::refreshContactPoints``), and dropped once it drifts
    tangentially farther than that bound. A point found at a corner, its normal tilted against a
    direction of sliding, therefore "closes" as the parts slide past each other at a constant
    gap and stops them: PartNet-Mobility 45332's drawer, sliding 1.46 mm past its closed door,
    stopped at 62 mm of 724 mm on such a point (its normal 11 degrees off the true one, its
    distance -0.01 mm while the hulls' closest points were 1.46 mm apart) at the default 0.02, and
    slides through at 0.005, 0.002 and 0.001 (ramps of 0.72 and 2.9 m/s).

    Bullet keeps the threshold in one global variable, shared by every client in the process,
    hence a context that restores it (clips and the certificate's checks run one after another).
    """
    if value is None:
        yield
        return
    client.setPhysicsEngineParameter(contactBreakingThreshold=float(value))
    try:
        yield
    finally:
        client.setPhysicsEngineParameter(contactBreakingThreshold=BULLET_CONTACT_BREAKING_THRESHOLD)


def connect(time_step: float):
    """A new quiet DIRECT ``BulletClient`` (gravity -Z, deterministic pairs, fixed step ``time_step``
    s): :func:`n4d4d.physics_validation.bullet_client`, the certificate's."""
    from n4d4d.physics_validation import bullet_client

    return bullet_client(time_step)


def add_ground(client) -> int:
    """The certificate's ground plane z = 0 (:func:`n4d4d.physics_validation.bullet_ground_plane`)."""
    from n4d4d.physics_validation import bullet_ground_plane

    return bullet_ground_plane(client)


@dataclass(frozen=True)
class Scene:
    """The asset's handles in one client.

    Attributes:
        client: the ``BulletClient``.
        bodies: body id per model link. links: PyBullet link index per model link (-1: base).
        origins: ``(B, 3)`` part-frame origins in the asset frame at rest (m).
        coms: ``(B, 3)`` centres of mass in the asset frame at rest (m).
        principal: ``(B, 4)`` principal-axes quaternions (x, y, z, w) of the inertial frames.
        movable: model link indices whose joint moves (revolute, continuous, prismatic).
        by_body: the movable links per multibody, ``(body id, model link indices, PyBullet link
            indices)`` each: joint reads and drive torques are one batched call per body
            (``getJointStates`` / ``setJointMotorControlArray``) instead of one per joint.
    """

    client: object
    bodies: tuple[int, ...]
    links: tuple[int, ...]
    origins: np.ndarray
    coms: np.ndarray
    principal: np.ndarray
    movable: tuple[int, ...]
    by_body: tuple[tuple[int, tuple[int, ...], tuple[int, ...]], ...] = ()


def build(client, model, material: Material, pose: np.ndarray, *, fixed_root: bool,
          self_collision: bool = True) -> Scene:
    """Create the asset's multibodies in ``client``, rest pose moved by ``pose`` (4, 4).

    Args:
        model: :func:`n4d4d.physics_validation.rigid_model.rigid_model` of the asset.
        material: friction and restitution of every link.
        pose: ``(4, 4)`` rigid transform applied to the whole asset (asset frame -> world).
        fixed_root: root links static (mass 0), as in the certificate's articulation sweep.
        self_collision: non-adjacent links collide (parent and child never do).

    Returns:
        :class:`Scene`; every joint coordinate starts at 0.
    """
    import pybullet
    from scipy.spatial.transform import Rotation

    from n4d4d.physics_validation.penetration import hull_shape

    pose = np.asarray(pose, np.float64)
    R, t = pose[:3, :3], pose[:3, 3]
    q_world = Rotation.from_matrix(R).as_quat().tolist()
    n = len(model.links)
    bodies, links = [0] * n, [0] * n
    flags = (pybullet.URDF_USE_SELF_COLLISION | pybullet.URDF_USE_SELF_COLLISION_EXCLUDE_PARENT) if self_collision else 0
    types = {"revolute": pybullet.JOINT_REVOLUTE, "continuous": pybullet.JOINT_REVOLUTE,
             "prismatic": pybullet.JOINT_PRISMATIC, "fixed": pybullet.JOINT_FIXED}

    def shape(link):  # the certificate's link shape, so a clip collides what the sweeps measure
        return hull_shape(client, link.hulls, link.origin)

    def inertial(link):
        return ((np.asarray(link.mass.center_of_mass) - link.origin).tolist(),
                wxyz_to_xyzw(link.mass.principal_axes).tolist())

    for root in model.roots:
        tree = [root]
        for link in model.links:
            if link.parent in tree and link.index not in tree:
                tree.append(link.index)
        rl, kids = model.links[root], [model.links[i] for i in tree[1:]]
        index = {root: -1, **{k.index: m for m, k in enumerate(kids)}}
        pos_i, orn_i = inertial(rl)
        kin = [inertial(k) for k in kids]
        body = client.createMultiBody(
            baseMass=0.0 if fixed_root else rl.mass.mass, baseCollisionShapeIndex=shape(rl),
            basePosition=(R @ rl.origin + t).tolist(), baseOrientation=q_world,
            baseInertialFramePosition=pos_i, baseInertialFrameOrientation=orn_i,
            linkMasses=[k.mass.mass for k in kids], linkCollisionShapeIndices=[shape(k) for k in kids],
            linkVisualShapeIndices=[-1] * len(kids),
            linkPositions=[(k.origin - model.links[k.parent].origin).tolist() for k in kids],
            linkOrientations=[[0, 0, 0, 1]] * len(kids),
            linkInertialFramePositions=[p for p, _ in kin], linkInertialFrameOrientations=[o for _, o in kin],
            linkParentIndices=[index[k.parent] + 1 for k in kids],
            linkJointTypes=[types[k.joint.type] for k in kids],
            linkJointAxis=[np.asarray(k.joint.axis, float).tolist() for k in kids], flags=flags)
        for i in tree:
            link, li = model.links[i], index[i]
            bodies[i], links[i] = body, li
            if not (fixed_root and li < 0):
                client.changeDynamics(body, li, localInertiaDiagonal=link.mass.principal_moments.tolist())
            client.changeDynamics(body, li, lateralFriction=material.dynamic_friction,
                                  restitution=material.restitution, spinningFriction=SPINNING_FRICTION_M,
                                  rollingFriction=ROLLING_FRICTION_M, linearDamping=0.0, angularDamping=0.0,
                                  jointDamping=0.0)
            if li >= 0:
                j = link.joint
                client.setJointMotorControl2(body, li, pybullet.VELOCITY_CONTROL, force=0.0)
                if j.type in ("revolute", "prismatic") and np.isfinite([j.lower, j.upper]).all():
                    client.changeDynamics(body, li, jointLowerLimit=float(j.lower), jointUpperLimit=float(j.upper))
    movable = tuple(link.index for link in model.links if link.joint is not None and link.joint.type != "fixed")
    return Scene(client, tuple(bodies), tuple(links), np.array([link.origin for link in model.links]),
                 np.array([link.mass.center_of_mass for link in model.links]),
                 np.array([wxyz_to_xyzw(link.mass.principal_axes) for link in model.links]), movable,
                 _by_body(bodies, links, movable))


def _by_body(bodies, links, indices) -> tuple[tuple[int, tuple[int, ...], tuple[int, ...]], ...]:
    """``indices`` (model link indices) grouped by multibody, in first-seen order:
    ``(body, model indices, PyBullet link indices)``."""
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for i in indices:
        rows = groups.setdefault(bodies[i], ([], []))
        rows[0].append(i)
        rows[1].append(links[i])
    return tuple((b, tuple(m), tuple(li)) for b, (m, li) in groups.items())


def joint_state(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Joint coordinate ``(B,)`` (rad or m) and speed ``(B,)`` per model link (0 for roots and
    fixed joints)."""
    n = len(scene.bodies)
    q, dq = np.zeros(n), np.zeros(n)
    groups = scene.by_body or _by_body(scene.bodies, scene.links, scene.movable)
    for body, idx, li in groups:  # one call per body (the values getJointState gives, in one go)
        for i, s in zip(idx, scene.client.getJointStates(body, li)):
            q[i], dq[i] = s[0], s[1]
    return q, dq


def set_joints(scene: Scene, q: Mapping[int, float]) -> None:
    """Reset joint coordinates (model link index -> rad or m), speeds 0."""
    for i, v in q.items():
        scene.client.resetJointState(scene.bodies[i], scene.links[i], float(v), 0.0)


def link_poses(scene: Scene) -> np.ndarray:
    """``(B, 4, 4)`` part-frame poses (part frame -> world, :mod:`n4d4d.kinematics`) of every link,
    from the inertial frames PyBullet reports: ``R = R_inertial R_principal^T``, origin at
    ``com_world - R (com_rest - origin)``."""
    from scipy.spatial.transform import Rotation

    c = scene.client
    n = len(scene.bodies)
    pos, quat = np.empty((n, 3)), np.empty((n, 4))
    for i, (b, li) in enumerate(zip(scene.bodies, scene.links)):
        p, q = c.getBasePositionAndOrientation(b) if li < 0 else c.getLinkState(b, li, computeForwardKinematics=1)[:2]
        pos[i], quat[i] = p, q
    R = (Rotation.from_quat(quat) * Rotation.from_quat(scene.principal).inv()).as_matrix()
    out = np.tile(np.eye(4), (n, 1, 1))
    out[:, :3, :3] = R
    out[:, :3, 3] = pos - np.einsum("bij,bj->bi", R, scene.coms - scene.origins)
    return out


def root_pose(scene: Scene, root: int = 0) -> np.ndarray:
    """``(7,)`` pose of root link ``root`` as a clip stores it: position (m) and quaternion
    (w, x, y, z) of the asset frame (a root part's frame is the asset frame)."""
    from scipy.spatial.transform import Rotation

    m = link_poses(scene)[root]
    q = xyzw_to_wxyz(Rotation.from_matrix(m[:3, :3]).as_quat())
    q = -q if q[0] < 0 else q
    t = m[:3, 3] - m[:3, :3] @ scene.origins[root]
    return np.concatenate([t, q])


def drive_torques(scene: Scene, targets: np.ndarray, gains: Mapping[int, tuple[float, float, float]],
                  q: np.ndarray, dq: np.ndarray) -> None:
    """Apply the explicit PD torque ``clip(kp (target - q) - kd dq, -effort, effort)`` to each
    link in ``gains`` (model link index -> (kp, kd, effort), SI), ``targets (B,)`` rad or m."""
    import pybullet

    # One setJointMotorControlArray per body: the same torques, elementwise in float64 as the
    # scalar formula, set in one call instead of one per joint (the Python overhead of per-joint
    # calls was a tenth of a many-part drop clip's CPU).
    for body, idx, li in _by_body(scene.bodies, scene.links, list(gains)):
        g = np.array([gains[i] for i in idx], np.float64).reshape(-1, 3)
        ix = np.asarray(idx)
        tau = np.clip(g[:, 0] * (np.asarray(targets, np.float64)[ix] - q[ix]) - g[:, 1] * dq[ix], -g[:, 2], g[:, 2])
        scene.client.setJointMotorControlArray(body, list(li), pybullet.TORQUE_CONTROL, forces=tau.tolist())


def drive_gains(asset: Asset, model) -> dict[int, tuple[float, float, float]]:
    """``(kp, kd, effort)`` per movable link index: ``asset.drives`` where the sim-ready stage
    filled them (SI stiffness, damping, max force), else the certificate's default gains
    (:func:`n4d4d.physics_validation.rigid_model.drive_gains`, effort ``Joint.effort``)."""
    from n4d4d.physics_validation.rigid_model import drive_gains as default_gains

    fallback = default_gains(model)
    out = {}
    for link in model.links:
        j = link.joint
        if j is None or j.type == "fixed":
            continue
        d = asset.drives.get(j.name)
        if d is not None:
            out[link.index] = (float(d.stiffness), float(d.damping), float(d.max_force))
        else:
            kp, kd = fallback[link.index]
            out[link.index] = (kp, kd, float(j.effort))
    return out
