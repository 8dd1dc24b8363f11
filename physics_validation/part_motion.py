"""Which parts the simulators collide, and how two parts move relative to each other.

:func:`colliding_pairs` lists the pairs of parts whose contacts the simulators keep (not parent
and child, not neighbours through a welded group); :func:`pair_motions` says, per pair, which
movable joints lie on the tree path between the two parts, as a :class:`Motion`: the plane
normals every rotation keeps, the prismatic travel, and the one rotation axis line when all
rotations share it. :mod:`.hull_clip` uses both to keep hulls apart in every pose; this module
only reads the kinematic tree (:func:`n4d4d.kinematics.kinematic_tree`, asset frame at rest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def colliding_pairs(asset) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, i < j, into ``asset.parts`` of parts the simulators collide: not
    parent and child, not neighbours through a welded group (:func:`n4d4d.kinematics.welded_pairs`,
    which the exporters author as filtered pairs)."""
    from n4d4d.kinematics import kinematic_tree, welded_pairs

    frames = kinematic_tree(asset)
    pos = {p.name: i for i, p in enumerate(asset.parts)}
    at = [pos[f.part.name] for f in frames]  # frame index -> part index
    skip = {(min(at[f.index], at[f.parent_index]), max(at[f.index], at[f.parent_index]))
            for f in frames if f.parent_index >= 0}
    skip |= {(min(at[a], at[b]), max(at[a], at[b])) for a, b in welded_pairs(frames)}
    n = len(asset.parts)
    return [(i, j) for i in range(n) for j in range(i + 1, n) if (i, j) not in skip]


@dataclass(frozen=True)
class Motion:
    """How hull ``a``'s part moves relative to hull ``b``'s through the joints between them.

    Attributes:
        normals: ``(K, 3)`` unit plane normals that every rotation keeps (parallel to all the
            rotation axes; empty when the axes are not parallel), or None: no rotation, so the
            separating-axis candidates of the two hulls.
        slides: ``(m, 3)`` unit prismatic directions of the relative motion (a joint of b's
            side negated) and ``ranges`` ``(m, 2)`` their limits (m): ``a`` may be displaced by
            any ``sum_k t_k slides[k]``, ``t_k`` in ``ranges[k]``, so a plane cut of ``a`` is
            moved back by the largest such displacement along its normal.
        axis: ``(origin (3,), unit axis (3,))`` when every rotation is about this one line and
            every slide along it: a cylinder about it is kept too (one hull pushed outside the
            cylinder round the other's farthest point), else None.
    """

    normals: np.ndarray | None
    slides: np.ndarray
    ranges: np.ndarray
    axis: tuple | None = None

    def shift(self, N: np.ndarray) -> np.ndarray:
        """``(K,)`` the largest displacement of ``a`` towards ``b`` along each normal ``N (K, 3)``."""
        if not len(self.slides):
            return np.zeros(len(N))
        d = N @ self.slides.T  # (K, m)
        return np.maximum(d * self.ranges[:, 0], d * self.ranges[:, 1]).sum(axis=1)


def pair_motions(asset, pairs) -> list[Motion | None]:
    """The :class:`Motion` of each pair ``(i, j)`` of ``asset.parts`` indices: the movable joints
    on the tree path between the two parts (each from the part up to their common ancestor),
    or None when there are none (fixed to each other). Joint axes and origins are the asset
    frame's at rest (:func:`n4d4d.kinematics.kinematic_tree`)."""
    from n4d4d.kinematics import kinematic_tree, unit_axis

    frames = kinematic_tree(asset)
    pos = {p.name: i for i, p in enumerate(asset.parts)}
    frame_of = {pos[f.part.name]: f for f in frames}

    def chain(i: int) -> list:
        out, f = [], frame_of[i]
        while f is not None:
            out.append(f)
            f = frames[f.parent_index] if f.parent_index >= 0 else None
        return out

    motions = []
    scale = max(float(np.linalg.norm(np.ptp(np.vstack([p.mesh.vertices for p in asset.parts]), axis=0))), 1e-9)
    for i, j in pairs:
        ci, cj = chain(i), chain(j)
        shared = {f.index for f in ci} & {f.index for f in cj}
        side = ([(f.joint, 1.0) for f in ci if f.index not in shared]
                + [(f.joint, -1.0) for f in cj if f.index not in shared])
        side = [(jt, sg) for jt, sg in side if jt is not None and jt.type != "fixed"]
        if not side:
            motions.append(None)
            continue
        rot = [(np.asarray(jt.origin, np.float64), unit_axis(jt, asset.name)) for jt, _ in side
               if jt.type in ("revolute", "continuous")]
        pri = [(sg * unit_axis(jt, asset.name), jt.lower, jt.upper) for jt, sg in side if jt.type == "prismatic"]
        slides = np.array([u for u, _, _ in pri]).reshape(-1, 3)
        ranges = np.array([[lo, up] for _, lo, up in pri], dtype=np.float64).reshape(-1, 2)
        ranges = np.where(np.isfinite(ranges), ranges, np.sign(ranges) * scale)  # an unlimited slide: the asset's size
        ranges = np.column_stack([np.minimum(ranges[:, 0], 0.0), np.maximum(ranges[:, 1], 0.0)])  # rest included
        if rot:
            u = rot[0][1]
            parallel = all(abs(float(r[1] @ u)) > 1 - 1e-9 for r in rot)
            normals = u[None] if parallel else np.zeros((0, 3))
            o = rot[0][0]
            coaxial = parallel and all(np.linalg.norm(np.cross(r[0] - o, u)) < 1e-6 * scale for r in rot)
            axis = (o, u) if coaxial and all(abs(float(p @ u)) > 1 - 1e-9 for p in slides) else None
        else:
            normals, axis = None, None
        motions.append(Motion(normals, slides, ranges, axis))
    return motions
