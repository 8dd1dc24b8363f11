"""The asset as rigid bodies and joints, ready to hand to a physics engine.

Turns an :class:`~n4d4d.asset.Asset` (parts, collision hulls, mass properties, joints) into a
forest of :class:`Link` records, one per frame of :func:`n4d4d.kinematics.kinematic_tree` (the
one kinematic tree): each part becomes a link whose frame sits at its joint's pivot
(``Joint.origin``, asset frame) with the asset's axes (the root part's frame is the asset frame),
its hulls and centre of mass in the asset frame, and its joint's axis unchanged (asset axes =
link axes). This is URDF's convention with identity joint rotations, and the layout the USD
exporter writes. Link poses come from :func:`n4d4d.kinematics.forward_kinematics`
(:func:`link_transforms`); drive gains are derived here (:func:`drive_gains`). Engine-specific
building lives in :mod:`.pybullet_check` and :mod:`.newton_check`; this module only arranges
data and answers adjacency and inertia questions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from n4d4d.asset import Asset, Drive, Joint, MassProperties, Mesh
from n4d4d.errors import StageInputError
from n4d4d.kinematics import (PartFrame, effective_type, forward_kinematics, kinematic_tree, point_transform,
                              unit_axis)


@dataclass(frozen=True)
class Link:
    """One rigid part as a simulator link.

    Attributes:
        name: part name.
        index: position in :attr:`RigidModel.links` (parents come before children).
        parent: index of the parent link, or -1 for a root.
        joint: the joint to the parent (None for a root).
        origin: ``(3,) float64`` link-frame origin in the asset frame at rest (m): the joint
            pivot, or zeros for a root. Link axes are the asset's axes.
        hulls: convex hulls, vertices in the asset frame (m).
        mass: the part's mass properties (COM and inertia in the asset frame).
    """

    name: str
    index: int
    parent: int
    joint: Joint | None
    origin: np.ndarray
    hulls: tuple[Mesh, ...]
    mass: MassProperties


@dataclass(frozen=True)
class RigidModel:
    """The asset's links (parents first), with the derived figures the checks need.

    Attributes:
        links: one :class:`Link` per part, parents first.
        frames: the matching :class:`n4d4d.kinematics.PartFrame` of each link (same order).
        fixed_base: the root links are bolted to the world (:attr:`n4d4d.asset.Asset.fixed_base`).
    """

    links: tuple[Link, ...]
    frames: tuple[PartFrame, ...] = ()
    fixed_base: bool = False

    @property
    def roots(self) -> list[int]:
        """Indices of root links (one per free-floating body tree)."""
        return [link.index for link in self.links if link.parent < 0]

    @property
    def total_mass(self) -> float:
        """Sum of link masses (kg)."""
        return float(sum(link.mass.mass for link in self.links))

    @property
    def min_moment(self) -> float:
        """Smallest principal moment over all links (kg m^2)."""
        return float(min(link.mass.principal_moments.min() for link in self.links))

    def hull_points(self) -> np.ndarray:
        """All hull vertices in the asset frame, ``(N, 3) float64`` (m), as placed (every joint
        coordinate 0)."""
        return np.vstack([h.vertices for link in self.links for h in link.hulls])

    def rest_transforms(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Pose ``(R (3, 3), t (3,))`` of every link at the rest coordinates
        (:func:`rest_coordinates`), relative to the parts as placed (:func:`link_transforms`)."""
        return link_transforms(self, {self.links[i].joint.name: q for i, q in rest_coordinates(self).items()})

    def rest_hull_points(self) -> np.ndarray:
        """All hull vertices at the rest coordinates (:func:`rest_coordinates`), asset frame,
        ``(N, 3) float64`` (m): where every engine check places the asset from. Equal to
        :meth:`hull_points` when every joint's 0 lies within its limits."""
        poses = self.rest_transforms()
        return np.vstack([h.vertices @ R.T + t for link, (R, t) in zip(self.links, poses) for h in link.hulls])

    def rest_com(self) -> np.ndarray:
        """``(3,) float64`` total centre of mass at the rest coordinates, asset frame (m)."""
        poses = self.rest_transforms()
        return sum(link.mass.mass * (R @ np.asarray(link.mass.center_of_mass) + t)
                   for link, (R, t) in zip(self.links, poses)) / self.total_mass

    @property
    def diagonal(self) -> float:
        """Bounding-box diagonal of all hulls (m)."""
        pts = self.hull_points()
        return float(np.linalg.norm(pts.max(axis=0) - pts.min(axis=0)))

    def welded(self) -> set[tuple[int, int]]:
        """Pairs ``(i, j)``, i < j, that are neighbours through links welded by fixed joints
        (:func:`n4d4d.kinematics.welded_pairs`): the files filter their contacts, so the checks
        count them adjacent."""
        from n4d4d.kinematics import welded_pairs

        return set(welded_pairs(list(self.frames))) if self.frames else set()

    def adjacent(self, i: int, j: int, welded: set[tuple[int, int]] | None = None) -> bool:
        """True when links ``i`` and ``j`` are joined by a joint (parent and child), or are
        neighbours through a welded group (:meth:`welded`, computed unless given)."""
        if self.links[i].parent == j or self.links[j].parent == i:
            return True
        return (min(i, j), max(i, j)) in (self.welded() if welded is None else welded)

    def non_adjacent_pairs(self) -> list[tuple[int, int]]:
        """Pairs ``(i, j)``, i < j, of links not adjacent (:meth:`adjacent`; SimReady BA.002's pairs)."""
        n, welded = len(self.links), self.welded()
        return [(i, j) for i in range(n) for j in range(i + 1, n) if not self.adjacent(i, j, welded)]


def rigid_model(asset: Asset, *, hulls: bool = True) -> RigidModel:
    """The :class:`RigidModel` of ``asset``: one link per :func:`n4d4d.kinematics.kinematic_tree`
    frame, in its order (parents first; the order the USD writer gives Newton its bodies).

    ``hulls=False`` accepts parts without collision hulls (their links hold none): enough for
    the inertia questions of :func:`drive_gains`, not for a simulation.

    Raises:
        StageInputError: a part lacks hulls (with ``hulls``) or mass properties.
        KinematicsError (a StageInputError): a joint names an unknown part, a part has two
            parent joints, or the joints form a cycle.
    """
    for p in asset.parts:
        if hulls and not asset.collision.get(p.name):
            raise StageInputError(f"part '{p.name}' has no collision hulls (run the collision stage first)", asset.name)
        if p.name not in asset.mass:
            raise StageInputError(f"part '{p.name}' has no mass properties (run the mass stage first)", asset.name)
    frames = kinematic_tree(asset)
    links = tuple(Link(name=f.part.name, index=f.index, parent=f.parent_index, joint=f.joint, origin=f.origin,
                       hulls=tuple(asset.collision.get(f.part.name, ())), mass=asset.mass[f.part.name])
                  for f in frames)
    return RigidModel(links=links, frames=tuple(frames), fixed_base=bool(asset.fixed_base))


def link_transforms(model: RigidModel, joint_positions: Mapping[str, float] | None = None,
                    root: tuple[np.ndarray, np.ndarray] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pose ``(R (3, 3), t (3,))`` of every link for the given joint coordinates, by
    :func:`n4d4d.kinematics.forward_kinematics`.

    Args:
        model: the links (parents first).
        joint_positions: joint name -> coordinate (rad or m); missing joints are at 0.
        root: ``(R, t)`` applied to every root link (default identity: the authored pose).

    Returns:
        One ``(R, t)`` per link, in ``model.links`` order, mapping rest asset-frame points to
        posed world points (``x_world = R x_rest + t``).
    """
    T = None
    if root is not None:
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = root
    poses = forward_kinematics(list(model.frames), joint_positions, T)
    return [point_transform(poses[f.name], f.origin) for f in model.frames]


#: Closed-loop natural frequency of the default joint drives (Hz): a stiff position servo that
#: an explicit PD integrates stably at 240 Hz (omega * dt = 0.26, for the inertia the joint
#: sees with the other joints free: :func:`apparent_inertia`), sagging under gravity by under
#: 0.03 rad for a 10 cm lever.
NATURAL_FREQUENCY_HZ = 10.0


def subtree(model: RigidModel, index: int) -> list[int]:
    """Indices of link ``index`` and every link below it (parents first)."""
    out = [index]
    for other in model.links:
        if other.parent in out and other.index not in out:
            out.append(other.index)
    return out


def effective_inertia(model: RigidModel, index: int) -> float:
    """Inertia (kg m^2) of link ``index``'s subtree about its joint axis (revolute), or its
    mass (kg) for a prismatic joint, at the rest pose."""
    link = model.links[index]
    j = link.joint
    a = unit_axis(j)
    total = 0.0
    for i in subtree(model, index):
        mp = model.links[i].mass
        if j.type == "prismatic":
            total += mp.mass
        else:
            r = np.cross(np.asarray(mp.center_of_mass) - link.origin, a)
            total += float(a @ mp.inertia @ a) + mp.mass * float(r @ r)
    return max(total, 1e-9)


def joint_space_inertia(model: RigidModel) -> tuple[list[int], np.ndarray]:
    """The joint-space mass matrix of ``model`` at the rest pose, root links fixed.

    Composite of the links' spatial inertias through their COM Jacobians (Featherstone,
    *Rigid Body Dynamics Algorithms*, 2008, eq. 6.9: ``M = sum_k J_k^T I_k J_k``): column j of
    link k's Jacobian is ``[a_j x (c_k - o_j); a_j]`` for a revolute joint j above k (axis
    ``a_j``, pivot ``o_j``, COM ``c_k``, asset frame) and ``[a_j; 0]`` for a prismatic one.

    Returns:
        ``(links, M)``: the child link index of each movable joint (model order), and ``M``
        ``(n, n) float64`` (kg m^2, kg m or kg by the joints' kinds), symmetric positive
        definite when every link has mass.
    """
    movable = [link.index for link in model.links if link.joint is not None and link.joint.type != "fixed"]
    col = {i: c for c, i in enumerate(movable)}
    n = len(movable)
    M = np.zeros((n, n))
    for link in model.links:
        mp = link.mass
        c = np.asarray(mp.center_of_mass, dtype=np.float64)
        J = np.zeros((6, n))  # rows: COM linear velocity, angular velocity
        i = link.index
        while i >= 0:
            up = model.links[i]
            if i in col:
                a = unit_axis(up.joint)
                if effective_type(up.joint) == "prismatic":
                    J[:3, col[i]] = a
                else:
                    J[:3, col[i]] = np.cross(a, c - up.origin)
                    J[3:, col[i]] = a
            i = up.parent
        M += mp.mass * J[:3].T @ J[:3] + J[3:].T @ np.asarray(mp.inertia, dtype=np.float64) @ J[3:]
    return movable, M


def apparent_inertia(model: RigidModel) -> dict[int, float]:
    """Inertia (kg m^2, or mass in kg for a prismatic joint) each movable joint sees with every
    other joint free, root links fixed: ``1 / (M^-1)_ii`` of :func:`joint_space_inertia`
    (keyed by child link index).

    A joint's own subtree held rigid (:func:`effective_inertia`) overstates it for a chain: a
    hip whose knee is servoed, not welded, accelerates the leg as if its lower part hung from a
    hinge, and an explicit PD tuned for the rigid leg then oscillates and diverges at the
    simulation step (a procedural quadruped's hip: 0.29 kg m^2 apparent against 1.08 rigid).
    A joint with no movable joint below or above it sees its rigid subtree (the same figure).
    """
    movable, M = joint_space_inertia(model)
    if not movable:
        return {}
    try:
        inv = np.linalg.inv(M)
    except np.linalg.LinAlgError:  # a massless chain: fall back to the rigid subtree
        return {i: effective_inertia(model, i) for i in movable}
    return {i: max(1.0 / float(inv[c, c]), 1e-9) if inv[c, c] > 0 else effective_inertia(model, i)
            for c, i in enumerate(movable)}


def drive_gains(model: RigidModel, frequency_hz: float = NATURAL_FREQUENCY_HZ) -> dict[int, tuple[float, float]]:
    """PD gains ``(kp, kd)`` per movable joint (keyed by child link index): critically damped at
    ``frequency_hz`` for the inertia the joint sees with the other joints free
    (:func:`apparent_inertia`; N m/rad and N m s/rad, or N/m and N s/m), so that the explicit
    PD the checks apply at 240 Hz stays stable along a chain of joints, not only at a lone one.

    The stability checks hold movable joints at their rest coordinate with these drives (in both
    engines), the articulation sweep drives them along their range: the asset as a robot or a
    prop with its joints servoed, not a rag doll.
    """
    w = 2.0 * np.pi * frequency_hz
    return {i: (m * w * w, 2.0 * m * w) for i, m in apparent_inertia(model).items()}


def drives_of(asset: Asset, frequency_hz: float = NATURAL_FREQUENCY_HZ) -> dict[str, Drive]:
    """The :class:`~n4d4d.asset.Drive` of every movable joint of ``asset`` (joint name -> drive):
    the :func:`drive_gains` servo (SI, per radian or per metre) holding the rest coordinate
    (``target`` = :func:`rest_coordinate`: 0 clipped into the limits), ``max_force`` =
    ``Joint.effort``. Needs mass properties, not hulls.

    Not stiffened for a standing load. A rule that raised a supporting joint's servo up to
    19.1 Hz (omega h = 0.5 at the checks' 1/240 s explicit PD; kp = load / 0.05 rad, the load
    the asset's weight at the support's lever) was tried (session 13): pybullet_data's a1 then
    landed from 2 of 3 PyBullet drops (0 of 3 at 10 Hz; merged fixed links 3 of 3 against 1),
    but its Newton sweeps exploded at those gains (hip, thigh, calf 27-42 rad/s) and its Newton
    rest exploded as it toppled, and no robot stood: a1 still sits back off its clipped pose,
    laikago's knees buckle. A light shank (a1's calf, 0.0022 kg m^2 apparent inertia) cannot
    carry its standing load under an explicit PD at this step at a stable gain (31 N m/rad at
    19.1 Hz against the 440 its load asks for), so the rule is not used.

    Raises:
        StageInputError: a part lacks mass properties. KinematicsError: the joints do not form
        a forest, or a movable joint's axis is zero.
    """
    model = rigid_model(asset, hulls=False)
    out = {}
    for index, (kp, kd) in drive_gains(model, frequency_hz).items():
        j = model.links[index].joint
        out[j.name] = Drive(joint=j.name, kind="linear" if effective_type(j) == "prismatic" else "angular",
                            stiffness=float(kp), damping=float(kd), target=rest_coordinate(j),
                            max_force=float(j.effort), frequency_hz=float(frequency_hz))
    return out


def link_drives(model: RigidModel, asset: Asset) -> dict[int, Drive]:
    """``asset.drives`` keyed by child link index of ``model``: what the engine checks servo with.

    Raises:
        StageInputError: a movable joint has no drive (the mass stage, or
        :func:`.stages.drives_stage` for an asset built by hand, fills ``asset.drives``).
    """
    out, missing = {}, []
    for link in model.links:
        if link.joint is None or link.joint.type == "fixed":
            continue
        d = asset.drives.get(link.joint.name)
        if d is None:
            missing.append(link.joint.name)
        else:
            out[link.index] = d
    if missing:
        raise StageInputError(f"joints {missing} have no drives (asset.drives is filled by the mass stage, "
                              "or drives_stage for an asset built by hand)", asset.name)
    return out


def rest_coordinate(joint: Joint) -> float:
    """The coordinate (rad or m) movable ``joint`` rests at: 0 (the parts as placed) clipped
    into its limits, ``clip(0, lower, upper)``; 0 for a continuous joint or infinite limits.

    The rule every engine world follows: both engines start each joint there (rest and drop
    checks, articulation sweeps), the drives hold it (:func:`drives_of`'s ``target``) and the
    sweeps start and end there. A URDF may author a zero its own limits forbid (pybullet_data's
    a1 and aliengo: calves at 0 with limits [-2.697, -0.916] rad; Franka's panda: joint4 at 0
    with [-3.072, -0.070]); the nearest allowed coordinate, not the range's midpoint, keeps the
    authored pose as far as the limits allow (a1's calf at -0.916 rad keeps its foot under the
    hip; at the midpoint, -1.81 rad, the foot folds above the knee).
    """
    if joint.type not in ("revolute", "prismatic") or not np.isfinite([joint.lower, joint.upper]).all():
        return 0.0
    return float(min(max(0.0, float(joint.lower)), float(joint.upper)))


def rest_coordinates(model: RigidModel) -> dict[int, float]:
    """:func:`rest_coordinate` of every movable joint of ``model``, keyed by child link index
    (rad or m; 0 for most joints)."""
    return {link.index: rest_coordinate(link.joint) for link in model.links
            if link.joint is not None and link.joint.type != "fixed"}


def rest_outside_limits(model: RigidModel, tol: float = 1e-9) -> list[str]:
    """One sentence per movable joint of ``model`` whose authored zero (the parts as placed)
    lies outside its limits ``[lower, upper]`` (rad or m) by more than ``tol`` (rounding of
    limits written as text): such a joint rests, and every engine world starts, at the nearest
    limit instead (:func:`rest_coordinate`), which the sentence names.

    Such a zero violates the asset's own joints: pybullet_data's a1 has its calves at 0 with
    limits [-2.697, -0.916] rad (the URDF's zero pose has straight legs its limits forbid).
    Started there, XPBD projected the coordinate onto the limit in one 1/480 s substep (0.92
    rad: ~440 rad/s) and the solve of the whole chain went non-finite within two steps, which is
    why the worlds start at the clipped coordinate. Returns an empty list when every zero is
    within its limits.
    """
    out = []
    for link in model.links:
        j = link.joint
        if j is None or j.type not in ("revolute", "prismatic") or not np.isfinite([j.lower, j.upper]).all():
            continue
        if j.lower > tol or j.upper < -tol:
            unit = "rad" if j.type == "revolute" else "m"
            out.append(f"joint '{j.name}' is authored at coordinate 0 outside its limits [{j.lower:.4g}, {j.upper:.4g}] "
                       f"{unit}: it rests at {rest_coordinate(j):.4g} {unit} (the nearest limit), where every engine "
                       "world starts and its drive holds it")
    return out
