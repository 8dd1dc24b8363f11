"""The kinematics core: part frames, the kinematic tree, forward kinematics, joint helpers, names.

One implementation of the asset's kinematic structure, used by every stage that needs it
(rigid models of the physics checks, exporters, motion). Conventions (URDF semantics with
identity joint rotations, all in the asset frame at the rest pose, SI units):

- a part's frame has the asset frame's orientation (identity rotation at rest);
- its origin is the pivot (``Joint.origin``) of the joint whose child it is, or the asset
  origin for a root part (a part that is no joint's child);
- a joint moves its child relative to its parent by a rotation of ``q`` rad about the line
  through the pivot along the unit ``Joint.axis`` (revolute, continuous), or by a translation
  of ``q`` metres along it (prismatic); fixed joints do not move.

So a URDF link, an MJCF body, a USD rigid-body Xform and a glTF node of the same part sit at
the same place, a joint origin is the offset between two part origins and its axis is
``Joint.axis`` unchanged. Poses are ``4 x 4`` homogeneous transforms (column vectors, metres)
mapping part-frame coordinates to world coordinates; a rest point ``x`` of the asset frame on
part ``p`` lands at ``pose @ [x - origin_p, 1]``.

Quaternions are ``(w, x, y, z)`` (:mod:`n4d4d.conventions`). Errors are
:class:`KinematicsError`. This module computes; it reads and writes no file and simulates
nothing (dynamics are in :mod:`n4d4d.physics_validation`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import numpy as np

from n4d4d.errors import ExportError, StageInputError

if TYPE_CHECKING:  # pragma: no cover
    from n4d4d.asset import Asset, Joint, MotionClip, Part


class KinematicsError(StageInputError, ExportError):
    """The parts and joints do not form a kinematic forest (unknown part, a part with two
    parent joints, a self-joint, a cycle, duplicate part names), or a joint's axis, origin or
    coordinate track is unusable.

    It is a :class:`~n4d4d.errors.StageInputError` (a stage was handed an asset whose structure
    is broken) and an :class:`~n4d4d.errors.ExportError` (an exporter cannot write it), so code
    that catches either keeps working; ``path`` is the asset name.
    """


@dataclass(frozen=True)
class PartFrame:
    """One part in the kinematic tree.

    Attributes:
        part: the :class:`~n4d4d.asset.Part`.
        name: sanitised unique identifier (``[A-Za-z_][A-Za-z0-9_]*``, :func:`safe_name`) used
            for prims, links, bodies, nodes and file names.
        parent: name (sanitised) of the parent part, or None for a root part.
        joint: the joint whose child this part is, or None for a root part.
        origin: ``(3,) float64`` part-frame origin in the asset frame at rest (m).
        index: position in :func:`kinematic_tree`'s list.
        parent_index: index of the parent frame in that list, -1 for a root.
    """

    part: "Part"
    name: str
    parent: str | None
    joint: "Joint | None"
    origin: np.ndarray
    index: int = 0
    parent_index: int = -1


def welded_pairs(frames: "list[PartFrame]") -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, i < j, of frame indices that collide as neighbours without being parent
    and child: parts welded together by fixed joints are one rigid body, so each is a neighbour
    of every part in its welded group and of the parts jointed to that group (a URDF's shoulder
    housing, fixed to the hip, around the thigh that hangs from the hip). Simulators exclude
    only parent-child contacts; exporters author these pairs as filtered (UsdPhysics
    FilteredPairsAPI, MJCF ``<exclude>``) and the physics checks treat them as adjacent.
    Without fixed joints the list is empty.
    """
    group = list(range(len(frames)))
    for f in frames:  # parents come first: a fixed child joins its parent's group
        if f.parent_index >= 0 and f.joint is not None and f.joint.type == "fixed":
            group[f.index] = group[f.parent_index]
    members: dict[int, set[int]] = {}
    for f in frames:
        members.setdefault(group[f.index], set()).add(f.index)
    near: set[tuple[int, int]] = set()
    for g, ms in members.items():
        hood = set(ms)
        for f in frames:  # groups jointed to this one (either way)
            if f.parent_index >= 0 and group[f.index] != g and (f.parent_index in ms or f.index in ms):
                hood |= members[group[f.index]] if f.parent_index in ms else members[group[f.parent_index]]
        near |= {(min(a, b), max(a, b)) for a in ms for b in hood if a != b}
    direct = {(min(f.index, f.parent_index), max(f.index, f.parent_index)) for f in frames if f.parent_index >= 0}
    return sorted(near - direct)


def safe_name(name: str, taken: set[str] | None = None) -> str:
    """``name`` as an identifier valid in USD, URDF, MJCF and file names; unique in ``taken``.

    Characters outside ``[A-Za-z0-9_]`` become ``_``, a leading digit gets a ``_`` prefix, an
    empty name becomes ``_``, and a clash with ``taken`` gets a numeric suffix (``_1``, ``_2``,
    ...). The result is added to ``taken`` when given.
    """
    out = re.sub(r"[^A-Za-z0-9_]", "_", str(name)) or "_"
    if out[0].isdigit():
        out = "_" + out
    if taken is not None:
        base, k = out, 1
        while out in taken:
            out, k = f"{base}_{k}", k + 1
        taken.add(out)
    return out


def effective_type(joint: "Joint") -> str:
    """The joint's type as written: a revolute joint without finite limits is continuous."""
    if joint.type == "revolute" and not (np.isfinite(joint.lower) and np.isfinite(joint.upper)):
        return "continuous"
    return joint.type


def unit_axis(joint: "Joint", asset_name: str = "") -> np.ndarray:
    """``Joint.axis`` as a unit ``(3,) float64`` vector (asset frame = parent frame axes).

    Raises:
        KinematicsError: the axis is zero or non-finite (names ``asset_name`` and the joint).
    """
    a = np.asarray(joint.axis, np.float64).reshape(3)
    n = float(np.linalg.norm(a))
    if not np.isfinite(n) or n < 1e-9:
        raise KinematicsError(f"joint '{joint.name}' has a zero or non-finite axis {a}", asset_name or None)
    return a / n


def quat_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector ``a`` onto unit vector ``b`` (both ``(3,)``), as a
    ``(4,) float64`` quaternion (w, x, y, z); a half turn about an axis normal to ``a`` when
    they are opposite."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    c = float(np.dot(a, b))
    if c < -1 + 1e-12:  # opposite: half turn about any axis perpendicular to a
        perp = np.cross(a, [1.0, 0, 0]) if abs(a[0]) < 0.9 else np.cross(a, [0, 1.0, 0])
        perp /= np.linalg.norm(perp)
        return np.array([0.0, *perp])
    q = np.array([1.0 + c, *np.cross(a, b)])
    return q / np.linalg.norm(q)


def axis_angle_matrix(axis: np.ndarray, angle) -> np.ndarray:
    """Rotation matrices by ``angle`` rad (scalar or ``(...,)`` array) about ``axis`` ``(3,)``
    (normalised here), by Rodrigues' formula. Returns ``(3, 3)`` or ``(..., 3, 3) float64``."""
    a = np.asarray(axis, dtype=np.float64).reshape(3)
    a = a / np.linalg.norm(a)
    k = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    th = np.asarray(angle, dtype=np.float64)[..., None, None]
    return np.eye(3) + np.sin(th) * k + (1.0 - np.cos(th)) * (k @ k)


def kinematic_tree(asset: "Asset") -> list[PartFrame]:
    """The parts of ``asset`` in parent-before-child order, with their frames.

    Returns one :class:`PartFrame` per part; roots keep their order in ``asset.parts``, each
    followed depth-first by its descendants (joints in ``asset.joints`` order).

    Raises:
        KinematicsError: part names are not unique, a joint names an unknown part, a part is
            the child of two joints, a joint joins a part to itself, a joint origin is not
            finite, or the joints form a cycle.
    """
    names = [p.name for p in asset.parts]
    if len(set(names)) != len(names):
        raise KinematicsError(f"part names are not unique: {names}", asset.name)
    parent_joint: dict[str, "Joint"] = {}
    children: dict[str, list["Joint"]] = {n: [] for n in names}
    for j in asset.joints:
        for end in (j.parent, j.child):
            if end not in children:
                raise KinematicsError(f"joint '{j.name}' names unknown part '{end}'", asset.name)
        if j.parent == j.child:
            raise KinematicsError(f"joint '{j.name}' joins part '{j.child}' to itself", asset.name)
        if j.child in parent_joint:
            raise KinematicsError(f"part '{j.child}' is the child of two joints "
                                  f"('{parent_joint[j.child].name}', '{j.name}')", asset.name)
        parent_joint[j.child] = j
        children[j.parent].append(j)
    taken: set[str] = set()
    ids = {n: safe_name(n, taken) for n in names}
    out: list[PartFrame] = []
    index: dict[str, int] = {}
    stack: list[tuple[str, "Joint | None"]] = [(n, None) for n in reversed(names) if n not in parent_joint]
    while stack:  # depth-first, iterative (a long chain must not hit the recursion limit)
        name, joint = stack.pop()
        origin = np.zeros(3) if joint is None else np.asarray(joint.origin, np.float64).reshape(3)
        if not np.all(np.isfinite(origin)):
            raise KinematicsError(f"joint '{joint.name}' has a non-finite origin", asset.name)
        index[name] = len(out)
        out.append(PartFrame(asset.part(name), ids[name], None if joint is None else ids[joint.parent], joint,
                             origin, len(out), -1 if joint is None else index[joint.parent]))
        stack.extend((j.child, j) for j in reversed(children[name]))
    if len(out) != len(names):
        raise KinematicsError("the joints form a cycle: no root part reaches "
                              f"{sorted(set(names) - set(index))}", asset.name)
    return out


def skeleton_order(parents, asset_name: str = "") -> np.ndarray:
    """Parent-first (breadth-first) order of a skeleton's joints: ``(J,) int64`` original
    indices, roots first in index order, so a joint always comes after its parent (UsdSkel and
    glTF skins need it; so does composing local transforms into world ones).

    Args:
        parents: ``(J,)`` parent index per joint, -1 for a root (:class:`~n4d4d.asset.Skeleton`).

    Raises:
        KinematicsError: a parent index out of range, or the parents form a cycle.
    """
    parents = np.asarray(parents, np.int64).reshape(-1)
    J = len(parents)
    if np.any(parents >= J) or np.any(parents < -1):
        raise KinematicsError(f"skeleton parents {parents.tolist()} out of range for {J} joints", asset_name or None)
    order, queue, head = [], [j for j in range(J) if parents[j] < 0], 0
    while head < len(queue):
        j = queue[head]
        head += 1
        order.append(j)
        queue.extend(int(c) for c in np.flatnonzero(parents == j))
    if len(order) != J:
        raise KinematicsError("skeleton parents form a cycle", asset_name or None)
    return np.asarray(order, np.int64)


def skeleton_bind(skeleton) -> np.ndarray:
    """World-space (asset frame) bind transforms ``(J, 4, 4) float64`` of a
    :class:`~n4d4d.asset.Skeleton`: its ``bind_transforms``, or pure translations to its
    ``bind_positions`` (m) when it has none. Column-vector convention."""
    J = len(skeleton.joint_names)
    if skeleton.bind_transforms is not None:
        return np.asarray(skeleton.bind_transforms, np.float64).reshape(J, 4, 4).copy()
    bind = np.tile(np.eye(4), (J, 1, 1))
    bind[:, :3, 3] = np.asarray(skeleton.bind_positions, np.float64).reshape(J, 3)
    return bind


#: Child names of the asset prim that are not bodies (the USD writer's material and joint scopes).
USD_SCOPES = ("Looks", "joints")


def body_prim_names(frames: list[PartFrame]) -> dict[str, str]:
    """Sanitised unique prim name (:func:`safe_name`) of every part's body under the asset prim,
    by frame name, in tree order, unique beside the :data:`USD_SCOPES`: what the USD writer names
    each rigid body, and what a simulator that labels bodies by prim path (Newton's
    ``body_label``) gives back."""
    taken = set(USD_SCOPES)
    return {f.name: safe_name(f.name, taken) for f in frames}


def joint_names(frames: list[PartFrame]) -> dict[str, str]:
    """Sanitised unique identifier (:func:`safe_name`) of every joint, by joint name, in tree
    order: the USD joint prim, URDF joint and MJCF joint names. A simulator that labels joints
    by prim path (Newton's ``joint_label``) maps back to the asset's joints with it."""
    taken: set[str] = set()
    return {f.joint.name: safe_name(f.joint.name, taken) for f in frames if f.joint is not None}


def joint_motion(joint: "Joint", q, asset_name: str = "") -> np.ndarray:
    """The motion ``(T, 4, 4)`` of a child frame relative to its rest placement for joint
    coordinates ``q`` ``(T,)`` (rad or m): a rotation about the unit axis through the frame
    origin (revolute, continuous), a translation along it (prismatic), identity (fixed).

    Raises:
        KinematicsError: a movable joint's axis is zero or non-finite.
    """
    q = np.asarray(q, np.float64).reshape(-1)
    motion = np.tile(np.eye(4), (len(q), 1, 1))
    kind = effective_type(joint)
    if kind in ("revolute", "continuous"):
        motion[:, :3, :3] = axis_angle_matrix(unit_axis(joint, asset_name), q)
    elif kind == "prismatic":
        motion[:, :3, 3] = q[:, None] * unit_axis(joint, asset_name)
    return motion


def _poses(frames: list[PartFrame], coords: Mapping[str, np.ndarray], root: np.ndarray,
           asset_name: str) -> dict[str, np.ndarray]:
    """Batched forward kinematics: ``coords`` joint name -> ``(T,)``, ``root`` ``(T, 4, 4)``."""
    T = len(root)
    out: dict[str, np.ndarray] = {}
    for f in frames:
        if f.joint is None:
            pose = root.copy()
            pose[:, :3, 3] += np.einsum("tij,j->ti", root[:, :3, :3], f.origin)
            out[f.name] = pose
            continue
        local = np.eye(4)
        local[:3, 3] = f.origin - frames[f.parent_index].origin
        q = coords.get(f.joint.name)
        q = np.zeros(T) if q is None else q
        out[f.name] = out[f.parent] @ local @ joint_motion(f.joint, q, asset_name)
    return out


def forward_kinematics(frames: list[PartFrame], joint_positions: Mapping[str, float] | None = None,
                       root: np.ndarray | None = None, asset_name: str = "") -> dict[str, np.ndarray]:
    """World poses of every part frame at one joint configuration.

    Args:
        frames: :func:`kinematic_tree` of the asset.
        joint_positions: joint name -> coordinate (rad or m); missing and fixed joints are at 0.
        root: ``(4, 4)`` pose applied to every root part (a root part's frame is the asset
            frame), default identity: the rest pose.
        asset_name: what errors name.

    Returns:
        part name (sanitised, ``PartFrame.name``) -> ``(4, 4) float64`` pose (part frame to
        world, metres).

    Raises:
        KinematicsError: a movable joint's axis is zero or non-finite.
    """
    coords = {k: np.asarray([float(v)]) for k, v in (joint_positions or {}).items()}
    R = np.eye(4)[None] if root is None else np.asarray(root, np.float64).reshape(1, 4, 4)
    return {k: v[0] for k, v in _poses(frames, coords, R, asset_name).items()}


def root_matrices(root_poses: np.ndarray) -> np.ndarray:
    """``(T, 4, 4)`` transforms from root poses ``(T, 7)``: position (m), quaternion (w, x, y, z)."""
    from scipy.spatial.transform import Rotation

    rp = np.asarray(root_poses, np.float64).reshape(-1, 7)
    out = np.tile(np.eye(4), (len(rp), 1, 1))
    out[:, :3, :3] = Rotation.from_quat(rp[:, 3:], scalar_first=True).as_matrix()
    out[:, :3, 3] = rp[:, :3]
    return out


def part_poses(asset: "Asset", frames: list[PartFrame], clip: "MotionClip") -> dict[str, np.ndarray]:
    """World poses of every part frame over a motion clip, by forward kinematics.

    Each part's pose is its parent's pose, then the rest offset between the two part origins,
    then the joint's motion at the clip's coordinate (:func:`joint_motion`; fixed and untracked
    joints stay at 0). Root parts follow ``clip.root_poses`` (identity without it).

    Args:
        asset: the asset (its name is what errors name). frames: its :func:`kinematic_tree`.
        clip: ``times (T,)``, ``joint_positions`` name -> ``(T,)``, ``root_poses (T, 7)`` or None.

    Returns:
        part name (sanitised) -> ``(T, 4, 4) float64`` transforms (part frame to world, metres).

    Raises:
        KinematicsError: ``root_poses`` is not ``(T, 7)``, a track is not ``(T,)``, or a moved
        joint's axis is zero or non-finite.
    """
    T = len(np.asarray(clip.times))
    if clip.root_poses is None:
        root = np.tile(np.eye(4), (T, 1, 1))
    else:
        rp = np.asarray(clip.root_poses, np.float64)
        if rp.shape != (T, 7):
            raise KinematicsError(f"clip '{clip.name}': root_poses has shape {rp.shape}, want ({T}, 7)", asset.name)
        root = root_matrices(rp)
    coords = {}
    for f in frames:
        if f.joint is not None and f.joint.name in clip.joint_positions:
            q = np.asarray(clip.joint_positions[f.joint.name], np.float64)
            if q.shape != (T,):
                raise KinematicsError(f"clip '{clip.name}': track '{f.joint.name}' has shape {q.shape}, "
                                      f"want ({T},)", asset.name)
            coords[f.joint.name] = q
    return _poses(frames, coords, root, asset.name)


def point_transform(pose: np.ndarray, origin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(R (3, 3), t (3,))`` with ``x_world = R x_rest + t`` for rest points ``x_rest`` (asset
    frame) of a part whose frame origin is ``origin`` ``(3,)`` and whose pose is ``pose`` (4, 4)."""
    pose = np.asarray(pose, np.float64)
    R = pose[:3, :3]
    return R, pose[:3, 3] - R @ np.asarray(origin, np.float64)


__all__ = ["KinematicsError", "PartFrame", "safe_name", "effective_type", "unit_axis", "quat_between",
           "axis_angle_matrix", "kinematic_tree", "skeleton_order", "skeleton_bind", "joint_names", "joint_motion", "forward_kinematics", "root_matrices",
           "part_poses", "point_transform"]
