"""Legs: chains of joints that end in a foot touching the ground in the rest pose.

Found from the asset's structure and the rest pose's ground contact, never from names:

- articulated assets (parts and joints): a part that touches the ground (lowest point within
  :func:`contact_tolerance` of z = 0) is a foot when the chain of joints above it, up to the
  first part with more than one child joint (the body) or the root, holds two or more revolute
  joints; the root part itself must be clear of the ground (a body resting on its belly has no
  legs to walk on). The foot point is the foot part's lowest vertex; inverse kinematics pins the
  centre of a rounded sole (:func:`sole_centre`) or, for a flat foot, that vertex.
- skeletal assets (skeleton and skin weights): a leaf joint of the skeleton whose chain, up to
  the first branching joint, has three or more joints (two bones), and whose skinned region
  touches the ground: the foot point is the visual vertex within :func:`contact_tolerance` of the
  ground, weighted mostly to the chain's last two joints, that is most rigidly bound to the last
  bone (inverse kinematics moves it with the whole chain). When the skin also rests on the
  ground at vertices bound to no leg found (a leg the skeleton missed), there are no legs: a gait
  of the others would drag or sink what stands there.

Each leg is labelled by its side (left / right of the body centre) and end (front / hind along
the walking direction, :func:`forward_axis`), which :mod:`.gait` uses for phase offsets. This
module finds and describes; it does not move anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from n4d4d.asset import Asset


@dataclass(frozen=True)
class Leg:
    """One leg.

    Attributes:
        foot: the foot part's name (articulated) or the foot (leaf) joint's name (skeletal).
        chain: articulated: names of the chain's movable joints, hip first; skeletal: skeleton
            joint names from the hip to the foot joint.
        hip: ``(3,) float64`` rest position of the chain's first pivot (asset frame, m).
        foot_point: ``(3,) float64`` rest position of the contact point (asset frame, m).
        length: rest distance hip -> foot point (m).
        side: -1 left, +1 right of the body centre (x in the body's lateral axis).
        front: +1 front, -1 hind (along the walking direction).
        vertex: skeletal legs: index of the visual vertex tracked as the foot; else -1.
        pin: ``(3,) float64`` rest point inverse kinematics holds still in stance: the centre of
            a rounded foot's sole sphere (so the foot rolls about it without sinking or sliding,
            :func:`sole_centre`), else the foot point.
    """

    foot: str
    chain: tuple[str, ...]
    hip: np.ndarray
    foot_point: np.ndarray
    length: float
    side: float
    front: float
    vertex: int = -1
    pin: np.ndarray | None = None


def sole_centre(vertices: np.ndarray, scale: float) -> np.ndarray | None:
    """Centre ``(3,)`` of the sphere that fits a rounded sole: the vertices within ``0.03 scale``
    (m) of the lowest one, fitted by algebraic least squares; None when they are not a sphere cap
    (RMS residual over 2% of the radius, a radius over ``0.3 scale``, or the centre not straight
    above the lowest vertex): a flat or pointed foot."""
    v = np.asarray(vertices, np.float64)
    low = v[np.argmin(v[:, 2])]
    pts = v[v[:, 2] < low[2] + 0.03 * scale]
    if len(pts) < 8:
        return None
    A = np.column_stack([2 * pts, np.ones(len(pts))])
    sol, *_ = np.linalg.lstsq(A, (pts ** 2).sum(1), rcond=None)
    c = sol[:3]
    r = float(np.sqrt(max(sol[3] + c @ c, 0.0)))
    if not (0 < r < 0.3 * scale):
        return None
    resid = np.sqrt(np.mean((np.linalg.norm(pts - c, axis=1) - r) ** 2))
    if resid > 0.02 * r or np.linalg.norm((c - low)[:2]) > 0.1 * r or abs(c[2] - low[2] - r) > 0.1 * r:
        return None
    return c


def contact_tolerance(asset: Asset) -> float:
    """Ground-contact tolerance (m) of the rest pose: 1% of the asset's height, at least 2 mm
    (closed part meshes and curve-skeleton inputs sit within a voxel of the ground they stood on)."""
    pts = asset.visual.vertices if asset.visual is not None else np.vstack([p.mesh.vertices for p in asset.parts])
    return max(0.002, 0.01 * float(np.ptp(np.asarray(pts)[:, 2])))


def forward_axis(feet: np.ndarray) -> np.ndarray:
    """Walking direction ``(3,)``, a unit horizontal vector: -Y (n4d4d's front, glTF's +Z after
    conversion), or -X when the feet ``(F, 3)`` of four or more legs spread farther along X
    than along Y (a body lying along X)."""
    feet = np.asarray(feet)
    if len(feet) >= 4 and np.ptp(feet[:, 0]) > np.ptp(feet[:, 1]):
        return np.array([-1.0, 0.0, 0.0])
    return np.array([0.0, -1.0, 0.0])


def _label(legs: list[Leg], centre: np.ndarray) -> list[Leg]:
    import dataclasses

    if not legs:
        return legs
    fwd = forward_axis(np.array([leg.foot_point for leg in legs]))
    lat = np.cross(fwd, [0.0, 0.0, 1.0])  # right of the walking direction
    out = []
    for leg in legs:
        d = leg.hip - centre
        out.append(dataclasses.replace(leg, side=1.0 if d @ lat >= 0 else -1.0,
                                       front=1.0 if d @ fwd >= 0 else -1.0))
    return out


def articulated_legs(asset: Asset) -> tuple[list[Leg], str]:
    """Legs of an articulated asset (module docstring); ``([], reason)`` when it has none."""
    if len(asset.parts) < 3 or not asset.joints:
        return [], "no legs: the asset has no jointed limbs (fewer than three parts or no joints)"
    tol = contact_tolerance(asset)
    low = {p.name: float(np.asarray(p.mesh.vertices)[:, 2].min()) for p in asset.parts}
    parent_joint = {j.child: j for j in asset.joints}
    kids: dict[str, list] = {p.name: [] for p in asset.parts}
    for j in asset.joints:
        kids[j.parent].append(j)
    roots = [p.name for p in asset.parts if p.name not in parent_joint]
    if any(low[r] <= tol for r in roots):
        return [], "no legs: the body itself rests on the ground"
    legs = []
    for p in asset.parts:
        if low[p.name] > tol or p.name in roots:
            continue
        chain, part = [], p.name
        while part in parent_joint:
            j = parent_joint[part]
            if j.type != "fixed":
                chain.append(j)
            part = j.parent
            if len(kids[part]) > 1 or part in roots:
                break
        if len(chain) < 2 or any(j.type not in ("revolute", "continuous") for j in chain):
            continue
        chain = chain[::-1]
        v = np.asarray(p.mesh.vertices)
        foot = v[np.argmin(v[:, 2])]
        hip = np.asarray(chain[0].origin, np.float64)
        length = float(np.linalg.norm(foot - hip))
        pin = sole_centre(v, length)
        legs.append(Leg(p.name, tuple(j.name for j in chain), hip, foot, length, 0.0, 0.0,
                        pin=foot if pin is None else pin))
    if len(legs) < 2:
        return [], (f"no legs: {len(legs)} part(s) reach the ground through two or more revolute joints "
                    "(a gait needs at least two)")
    centre = np.mean([leg.hip for leg in legs], axis=0)
    return _label(legs, centre), ""


def skeletal_legs(asset: Asset) -> tuple[list[Leg], str]:
    """Legs of a skinned asset (module docstring); ``([], reason)`` when it has none."""
    from n4d4d.kinematics import skeleton_bind

    sk, W = asset.skeleton, asset.skin_weights
    if sk is None or W is None or asset.visual is None:
        return [], "no legs: no skeleton with skin weights"
    parents = np.asarray(sk.parents)
    J = len(parents)
    children = [np.flatnonzero(parents == j) for j in range(J)]
    pos = skeleton_bind(sk)[:, :3, 3]
    V = np.asarray(asset.visual.vertices)
    ground = float(V[:, 2].min())
    tol = contact_tolerance(asset)
    height = float(np.ptp(V[:, 2]))
    owner = np.argmax(np.asarray(W), axis=1)
    legs = []
    for leaf in (j for j in range(J) if len(children[j]) == 0 and parents[j] >= 0):
        chain = [leaf]
        while parents[chain[-1]] >= 0 and len(children[parents[chain[-1]]]) == 1:
            chain.append(int(parents[chain[-1]]))
        chain = chain[::-1]  # hip first
        if len(chain) < 3 or pos[leaf, 2] - ground > 0.25 * height:
            continue
        mine = np.flatnonzero(np.isin(owner, chain[-2:]) & (V[:, 2] - ground <= tol))
        if len(mine) == 0:
            continue
        # the sole vertex most rigidly bound to the last bone (its weight on the joint before the
        # leaf: bone heat gives a bone's weight to its parent joint), nearest the leaf among equals
        wl = np.asarray(W)[mine, chain[-2]]
        best = mine[wl >= wl.max() - 1e-3]
        vi = int(best[np.argmin(np.linalg.norm(V[best, :2] - pos[leaf, :2], axis=1))])
        hip = pos[chain[0]]
        legs.append(Leg(sk.joint_names[leaf], tuple(sk.joint_names[j] for j in chain), hip, V[vi].copy(),
                        float(np.linalg.norm(V[vi] - hip)), 0.0, 0.0, vi))
    if len(legs) < 2:
        return [], (f"no legs: {len(legs)} skeleton chain(s) of two or more bones end at the ground "
                    "(a gait needs at least two)")
    names = list(sk.joint_names)
    on_legs = [names.index(n) for leg in legs for n in leg.chain]
    stray = (V[:, 2] - ground <= tol) & ~np.isin(owner, on_legs)
    if stray.any():  # a gait of the legs found would drag (or sink) the rest of what stands
        return [], (f"no legs: the skin rests on the ground at {int(stray.sum())} vertices bound to no leg "
                    f"(joints {sorted({sk.joint_names[j] for j in owner[stray]})}): the {len(legs)} leg(s) "
                    "found do not carry the body alone")
    root = pos[int(np.flatnonzero(parents < 0)[0])]
    centre = np.array([np.mean([leg.hip[0] for leg in legs]), np.mean([leg.hip[1] for leg in legs]), root[2]])
    return _label(legs, centre), ""


def find_legs(asset: Asset) -> tuple[list[Leg], str, str]:
    """Legs of ``asset``: ``(legs, kind, reason)`` with ``kind`` ``"skeletal"`` (skeleton and skin
    weights) or ``"articulated"`` (parts and joints), and ``reason`` the sentence saying why there
    are none (empty when there are)."""
    if asset.skeleton is not None and asset.skin_weights is not None:
        legs, why = skeletal_legs(asset)
        return legs, "skeletal", why
    legs, why = articulated_legs(asset)
    return legs, "articulated", why


def foot_tracks(asset: Asset, clip, legs: list[Leg], kind: str) -> np.ndarray:
    """World positions ``(T, F, 3) float64`` of each leg's ground contact over ``clip``: the tracked
    vertex of ``clip.vertices`` (skeletal, when present) or the foot point moved rigidly with the
    foot vertex's heaviest joint (skeletal); for an articulated leg the contact point of the foot
    part (forward kinematics): straight below the sole sphere's centre (:func:`sole_centre`) at
    the rest distance, or the foot point itself for a flat foot."""
    T = len(np.asarray(clip.times))
    out = np.empty((T, len(legs), 3))
    if kind == "skeletal":
        if clip.vertices is not None:
            return np.asarray(clip.vertices)[:, [leg.vertex for leg in legs]]
        from .skinning import skeleton_poses, skinning_matrices

        S = skinning_matrices(asset.skeleton, skeleton_poses(asset.skeleton, clip))
        owner = np.argmax(np.asarray(asset.skin_weights), axis=1)
        for f, leg in enumerate(legs):
            M = S[:, owner[leg.vertex]]
            out[:, f] = np.einsum("tij,j->ti", M[:, :3, :3], leg.foot_point) + M[:, :3, 3]
        return out
    from n4d4d.kinematics import kinematic_tree, part_poses

    frames = kinematic_tree(asset)
    poses = part_poses(asset, frames, clip)
    by_part = {f.part.name: f for f in frames}
    for f, leg in enumerate(legs):
        fr = by_part[leg.foot]
        P = poses[fr.name]
        pin = leg.foot_point if leg.pin is None else leg.pin
        # the contact point of a rounded sole is straight below its centre: track that
        out[:, f] = np.einsum("tij,j->ti", P[:, :3, :3], pin - fr.origin) + P[:, :3, 3] - (pin - leg.foot_point)
    return out
