"""What every exporter shares: the kinematic tree, part frames, part visuals, names, poses.

Part frames are the one convention all formats agree on, so that a URDF link, an MJCF body,
a USD rigid-body Xform and a glTF node of the same part sit at the same place:

- a part's frame has the asset frame's orientation (identity rotation at rest);
- its origin is the pivot (``Joint.origin``) of the joint whose child it is, or the asset
  origin for a root part (a part that is no joint's child).

Meshes are written in their part's frame (asset-frame vertices minus the part origin), so a
URDF joint origin is the offset between two part origins and its axis is ``Joint.axis``
unchanged. This module writes no file except through :func:`cleanup_on_failure`, which
removes what a failed export created.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from n4d4d.asset import Asset, Joint, Mesh, MotionClip, Part
from n4d4d.errors import ExportError


@dataclass(frozen=True)
class PartFrame:
    """One part in the kinematic tree.

    Attributes:
        part: the :class:`~n4d4d.asset.Part`.
        name: sanitised unique identifier (``[A-Za-z_][A-Za-z0-9_]*``) used for prims,
            links, bodies, nodes and file names.
        parent: name (sanitised) of the parent part, or None for a root part.
        joint: the joint whose child this part is, or None for a root part.
        origin: ``(3,) float64`` part-frame origin in the asset frame (m).
    """

    part: Part
    name: str
    parent: str | None
    joint: Joint | None
    origin: np.ndarray


def safe_name(name: str, taken: set[str] | None = None) -> str:
    """``name`` as an identifier valid in USD, URDF, MJCF and file names; unique in ``taken``.

    Characters outside ``[A-Za-z0-9_]`` become ``_``, a leading digit gets a ``_`` prefix,
    and a clash with ``taken`` gets a numeric suffix. The result is added to ``taken``.
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


def require_exportable(asset: Asset, what: str) -> None:
    """Raise :class:`ExportError` unless ``asset`` has parts with collision hulls and mass.

    ``what`` names the format for the message. Every part needs at least one hull
    (``asset.collision[part]``) and its :class:`~n4d4d.asset.MassProperties`.
    """
    if not asset.parts:
        raise ExportError(f"{what} export needs at least one part (run the static stage)", asset.name)
    for p in asset.parts:
        if not asset.collision.get(p.name):
            raise ExportError(f"{what} export: part '{p.name}' has no collision hulls", asset.name)
        if p.name not in asset.mass:
            raise ExportError(f"{what} export: part '{p.name}' has no mass properties", asset.name)
        m = asset.mass[p.name]
        if not (np.isfinite(m.mass) and m.mass > 0):
            raise ExportError(f"{what} export: part '{p.name}' has mass {m.mass}", asset.name)


def kinematic_tree(asset: Asset) -> list[PartFrame]:
    """The parts in parent-before-child order, with their frames.

    Returns one :class:`PartFrame` per part; roots keep their order in ``asset.parts``, each
    followed depth-first by its descendants. Raises :class:`ExportError` when a joint names an
    unknown part, a part is the child of two joints, a joint joins a part to itself, or the
    joints form a cycle.
    """
    names = [p.name for p in asset.parts]
    if len(set(names)) != len(names):
        raise ExportError(f"part names are not unique: {names}", asset.name)
    parent_joint: dict[str, Joint] = {}
    children: dict[str, list[Joint]] = {n: [] for n in names}
    for j in asset.joints:
        for end in (j.parent, j.child):
            if end not in children:
                raise ExportError(f"joint '{j.name}' names unknown part '{end}'", asset.name)
        if j.parent == j.child:
            raise ExportError(f"joint '{j.name}' joins part '{j.child}' to itself", asset.name)
        if j.child in parent_joint:
            raise ExportError(f"part '{j.child}' is the child of two joints "
                              f"('{parent_joint[j.child].name}', '{j.name}')", asset.name)
        parent_joint[j.child] = j
        children[j.parent].append(j)
    taken: set[str] = set()
    ids = {n: safe_name(n, taken) for n in names}
    out: list[PartFrame] = []

    def visit(name: str, joint: Joint | None) -> None:
        origin = np.zeros(3) if joint is None else np.asarray(joint.origin, np.float64).reshape(3)
        if not np.all(np.isfinite(origin)):
            raise ExportError(f"joint '{joint.name}' has a non-finite origin", asset.name)
        out.append(PartFrame(asset.part(name), ids[name], None if joint is None else ids[joint.parent],
                             joint, origin))
        for j in children[name]:
            visit(j.child, j)

    for n in names:
        if n not in parent_joint:
            visit(n, None)
    if len(out) != len(names):
        raise ExportError("the joints form a cycle: no root part reaches "
                          f"{sorted(set(names) - {f.part.name for f in out})}", asset.name)
    return out


def part_visual(asset: Asset, part: Part) -> tuple[Mesh, np.ndarray | None]:
    """The visual mesh of ``part`` (asset frame) and its vertices' indices in ``asset.visual``.

    With ``part.face_indices`` the part's faces of ``asset.visual`` are cut out, keeping
    normals, UVs, vertex colours, base colour and texture; a single part without face indices
    uses ``asset.visual`` whole when it has the part mesh's size. Otherwise ``part.mesh`` is
    used and the index is None. The index is ``(V_part,) int64`` and maps the returned mesh's
    vertices to rows of ``asset.visual.vertices`` (and of ``asset.skin_weights``, and of a
    clip's ``vertices``).
    """
    vis = asset.visual
    if vis is not None and part.face_indices is not None:
        fi = np.asarray(part.face_indices, np.int64)
        sub = vis.faces[fi]
        used, inverse = np.unique(sub, return_inverse=True)
        pick = (lambda a: None if a is None else a[used])
        return vis.replace(vertices=vis.vertices[used], faces=inverse.reshape(-1, 3),
                           normals=pick(vis.normals), uvs=pick(vis.uvs),
                           vertex_colors=pick(vis.vertex_colors),
                           face_submesh=None if vis.face_submesh is None else vis.face_submesh[fi]), used
    if vis is not None and len(asset.parts) == 1 and (
            part.mesh is vis or (len(part.mesh.vertices) == len(vis.vertices)
                                 and len(part.mesh.faces) == len(vis.faces))):
        return vis, np.arange(len(vis.vertices))
    return part.mesh, None


def effective_type(joint: Joint) -> str:
    """The joint's type as written: a revolute joint without finite limits is continuous."""
    if joint.type == "revolute" and not (np.isfinite(joint.lower) and np.isfinite(joint.upper)):
        return "continuous"
    return joint.type


def unit_axis(joint: Joint, asset_name: str) -> np.ndarray:
    """``Joint.axis`` as a unit ``(3,) float64`` vector; ExportError when zero or non-finite."""
    a = np.asarray(joint.axis, np.float64).reshape(3)
    n = float(np.linalg.norm(a))
    if not np.isfinite(n) or n < 1e-9:
        raise ExportError(f"joint '{joint.name}' has a zero or non-finite axis {a}", asset_name)
    return a / n


def quat_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector ``a`` onto unit vector ``b``, as (w, x, y, z)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    c = float(np.dot(a, b))
    if c < -1 + 1e-12:  # opposite: half turn about any axis perpendicular to a
        perp = np.cross(a, [1.0, 0, 0]) if abs(a[0]) < 0.9 else np.cross(a, [0, 1.0, 0])
        perp /= np.linalg.norm(perp)
        return np.array([0.0, *perp])
    q = np.array([1.0 + c, *np.cross(a, b)])
    return q / np.linalg.norm(q)


def part_poses(asset: Asset, frames: list[PartFrame], clip: MotionClip) -> dict[str, np.ndarray]:
    """World poses of every part frame over a clip, by forward kinematics.

    Each part's pose is its parent's pose, then the rest offset between the two part origins,
    then the joint's motion at the clip's coordinate (rotation about the joint axis through the
    part origin for revolute / continuous, translation along it for prismatic; fixed and
    untracked joints stay at 0). Root parts follow ``clip.root_poses`` (identity without it).

    Returns part name (sanitised) -> ``(T, 4, 4) float64`` homogeneous transforms
    (column-vector convention, metres). Raises ExportError when a track's length is not T.
    """
    from scipy.spatial.transform import Rotation

    times = np.asarray(clip.times, np.float64)
    T = len(times)
    root = np.tile(np.eye(4), (T, 1, 1))
    if clip.root_poses is not None:
        rp = np.asarray(clip.root_poses, np.float64)
        if rp.shape != (T, 7):
            raise ExportError(f"clip '{clip.name}': root_poses has shape {rp.shape}, want ({T}, 7)", asset.name)
        root[:, :3, :3] = Rotation.from_quat(rp[:, 3:], scalar_first=True).as_matrix()
        root[:, :3, 3] = rp[:, :3]
    out: dict[str, np.ndarray] = {}
    for f in frames:
        if f.joint is None:
            pose = root.copy()
            pose[:, :3, 3] += np.einsum("tij,j->ti", root[:, :3, :3], f.origin)
            out[f.name] = pose
            continue
        parent = out[f.parent]
        parent_origin = next(g.origin for g in frames if g.name == f.parent)
        local = np.tile(np.eye(4), (T, 1, 1))
        local[:, :3, 3] = f.origin - parent_origin
        q = np.asarray(clip.joint_positions.get(f.joint.name, np.zeros(T)), np.float64)
        if q.shape != (T,):
            raise ExportError(f"clip '{clip.name}': track '{f.joint.name}' has shape {q.shape}, want ({T},)",
                              asset.name)
        kind = effective_type(f.joint)
        motion = np.tile(np.eye(4), (T, 1, 1))
        if kind in ("revolute", "continuous"):
            motion[:, :3, :3] = Rotation.from_rotvec(q[:, None] * unit_axis(f.joint, asset.name)).as_matrix()
        elif kind == "prismatic":
            motion[:, :3, 3] = q[:, None] * unit_axis(f.joint, asset.name)
        out[f.name] = parent @ local @ motion
    return out


@contextlib.contextmanager
def cleanup_on_failure(out_dir: Path) -> Iterator[None]:
    """Remove every file or folder under ``out_dir`` that appeared inside the block, on failure.

    Each exporter writes its files atomically; this makes a failed multi-file export (URDF and
    its meshes, say) leave ``out_dir`` as it was, and re-raises the error.
    """
    out_dir = Path(out_dir)
    before = set(out_dir.rglob("*")) if out_dir.exists() else set()
    try:
        yield
    except BaseException:
        if out_dir.exists():
            for p in sorted(set(out_dir.rglob("*")) - before, key=lambda p: len(p.parts)):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
        raise
