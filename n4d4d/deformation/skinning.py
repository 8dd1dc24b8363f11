"""Skeleton forward kinematics over a clip, and skinning: linear blend and dual quaternion.

Skeleton poses follow :class:`~n4d4d.asset.MotionClip`'s semantics: each joint's world transform
at time t is its parent's, then its bind-pose local transform (``B_parent^-1 B_j``, ``B`` from
:func:`n4d4d.kinematics.skeleton_bind`), then the clip's
rotation ``joint_rotations[j](t)`` (identity without a track); the skeleton root follows
``clip.root_poses`` (the asset root part carries the skin), then its bind transform, then its
rotation. This is what :mod:`n4d4d.exporters.usd_skel` and :mod:`n4d4d.exporters.glb_anim`
write, so the vertices computed here are those a viewer shows.

Skinning maps bind-pose vertices ``v`` (asset frame) with weights ``w (V, J)``:

- linear blend skinning (LBS, Magnenat-Thalmann et al. 1988; glTF's and UsdSkel's default):
  ``v' = (sum_j w_j S_j) v`` with ``S_j = W_j B_j^-1``; it loses volume at bends and collapses
  at twists (the candy-wrapper artefact);
- dual-quaternion skinning (DQS, Kavan, Collins, Zara & O'Sullivan 2008, "Geometric skinning
  with approximate dual quaternion blending"): each ``S_j`` as a unit dual quaternion, blended
  linearly with signs aligned to the vertex's heaviest joint (antipodality), normalised, applied
  as a rigid motion; it keeps volume at twists and bends, slightly bulging at bends.

Only the rigid part of each ``S_j`` enters DQS (scale and shear are dropped, the rotation is the
polar factor). This module computes arrays; it does not read or write files.
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import MotionClip, Skeleton


def local_bind(skeleton: Skeleton) -> np.ndarray:
    """``(J, 4, 4)`` bind-pose local transforms: ``B_parent^-1 B_j``, the root's own ``B_root``
    (``B`` = :func:`n4d4d.kinematics.skeleton_bind`)."""
    from n4d4d.kinematics import skeleton_bind

    B = skeleton_bind(skeleton)
    out = B.copy()
    for j, p in enumerate(np.asarray(skeleton.parents)):
        if p >= 0:
            out[j] = np.linalg.inv(B[p]) @ B[j]
    return out


def rotation_matrices(quats_wxyz: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotation matrices of unit quaternions ``(..., 4)`` (w, x, y, z)."""
    q = np.asarray(quats_wxyz, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)


def skeleton_poses(skeleton: Skeleton, clip: MotionClip) -> np.ndarray:
    """World transforms ``(T, J, 4, 4) float64`` of every skeleton joint over ``clip`` (module
    docstring). Raises ValueError when a rotation track is not ``(T, 4)`` or names an unknown
    joint, or the root poses are not ``(T, 7)``; KinematicsError when the parents form no tree."""
    from n4d4d.kinematics import root_matrices, skeleton_order

    T = len(np.asarray(clip.times))
    names = list(skeleton.joint_names)
    unknown = set(clip.joint_rotations) - set(names)
    if unknown:
        raise ValueError(f"clip '{clip.name}' rotates unknown skeleton joints {sorted(unknown)}")
    local = local_bind(skeleton)
    root = np.tile(np.eye(4), (T, 1, 1))
    if clip.root_poses is not None:
        rp = np.asarray(clip.root_poses, np.float64)
        if rp.shape != (T, 7):
            raise ValueError(f"clip '{clip.name}': root_poses has shape {rp.shape}, want ({T}, 7)")
        root = root_matrices(rp)
    out = np.empty((T, len(names), 4, 4))
    parents = np.asarray(skeleton.parents)
    for j in skeleton_order(parents).tolist():
        m = out[:, parents[j]] @ local[j] if parents[j] >= 0 else root @ local[j]
        track = clip.joint_rotations.get(names[j])
        if track is not None:
            q = np.asarray(track, np.float64)
            if q.shape != (T, 4):
                raise ValueError(f"clip '{clip.name}': rotation track '{names[j]}' has shape {q.shape}, want ({T}, 4)")
            rot = np.tile(np.eye(4), (T, 1, 1))
            rot[:, :3, :3] = rotation_matrices(q)
            m = m @ rot
        out[:, j] = m
    return out


def skinning_matrices(skeleton: Skeleton, poses: np.ndarray) -> np.ndarray:
    """``(T, J, 4, 4)`` ``S_j = W_j B_j^-1`` from world poses ``(T, J, 4, 4)``."""
    from n4d4d.kinematics import skeleton_bind

    return poses @ np.linalg.inv(skeleton_bind(skeleton))[None]


def lbs(vertices: np.ndarray, weights: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Linear blend skinning.

    Args:
        vertices: ``(V, 3) float64`` bind-pose vertices (m). weights: ``(V, J)`` rows summing to 1.
        transforms: ``(T, J, 4, 4)`` or ``(J, 4, 4)`` skinning matrices ``W_j B_j^-1``.

    Returns:
        ``(T, V, 3)`` (or ``(V, 3)``) float64 skinned vertices (m).
    """
    S = np.asarray(transforms, np.float64)
    single = S.ndim == 3
    S = S[None] if single else S
    v = np.asarray(vertices, np.float64)
    w = np.asarray(weights, np.float64)
    out = np.empty((len(S), len(v), 3))
    for t, St in enumerate(S):
        A = (w @ St[:, :3, :].reshape(len(St), 12)).reshape(len(v), 3, 4)
        out[t] = np.einsum("vij,vj->vi", A[:, :, :3], v) + A[:, :, 3]
    return out[0] if single else out


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)


def dual_quaternions(transforms: np.ndarray) -> np.ndarray:
    """Unit dual quaternions ``(..., 8)`` (real w, x, y, z, then dual w, x, y, z) of the rigid part
    of ``(..., 4, 4)`` transforms: rotation = polar factor of the 3 x 3 block, translation as is."""
    from scipy.spatial.transform import Rotation

    M = np.asarray(transforms, np.float64)
    shape = M.shape[:-2]
    A = M[..., :3, :3].reshape(-1, 3, 3)
    U, _, Vt = np.linalg.svd(A)
    R = U @ Vt
    flip = np.linalg.det(R) < 0
    if flip.any():
        U[flip, :, -1] *= -1
        R = U @ Vt
    qr = Rotation.from_matrix(R).as_quat(scalar_first=True).reshape(*shape, 4)
    t = np.concatenate([np.zeros(shape + (1,)), M[..., :3, 3]], -1)
    qd = 0.5 * _quat_mul(t, qr)
    return np.concatenate([qr, qd], -1)


def dqs(vertices: np.ndarray, weights: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Dual-quaternion skinning (Kavan et al. 2008), same arguments and result as :func:`lbs`.

    Per vertex, each joint's dual quaternion is sign-flipped to the hemisphere of the vertex's
    heaviest joint's, blended with the weights, divided by the norm of the real part and applied:
    ``v' = R(q0) v + t`` with ``t = 2 vec(q_e conj(q0))``.
    """
    S = np.asarray(transforms, np.float64)
    single = S.ndim == 3
    S = S[None] if single else S
    v = np.asarray(vertices, np.float64)
    w = np.asarray(weights, np.float64)
    pivot = np.argmax(w, axis=1)
    out = np.empty((len(S), len(v), 3))
    for t, St in enumerate(S):
        dq = dual_quaternions(St)  # (J, 8)
        sign = np.sign(dq[pivot, :4] @ dq[:, :4].T)  # (V, J)
        sign[sign == 0] = 1.0
        b = (w * sign) @ dq  # (V, 8)
        n = np.linalg.norm(b[:, :4], axis=1, keepdims=True)
        q0, qe = b[:, :4] / n, b[:, 4:] / n
        conj = q0 * np.array([1.0, -1.0, -1.0, -1.0])
        trans = 2.0 * _quat_mul(qe, conj)[:, 1:]
        out[t] = np.einsum("vij,vj->vi", rotation_matrices(q0), v) + trans
    return out[0] if single else out


def skin_clip(vertices: np.ndarray, weights: np.ndarray, skeleton: Skeleton, clip: MotionClip,
              method: str = "lbs") -> np.ndarray:
    """Per-frame vertices ``(T, V, 3) float64`` of a skinned mesh over ``clip``.

    Args:
        vertices: ``(V, 3)`` bind-pose vertices (asset frame, m). weights: ``(V, J)``.
        skeleton: the skeleton the weights refer to. clip: root poses and joint rotations.
        method: ``"lbs"`` or ``"dqs"``.

    Raises:
        ValueError: unknown method, weights not ``(V, J)``, or a malformed clip.
    """
    w = np.asarray(weights, np.float64)
    if w.shape != (len(vertices), len(skeleton.joint_names)):
        raise ValueError(f"skin weights have shape {w.shape}, want ({len(vertices)}, {len(skeleton.joint_names)})")
    if method not in ("lbs", "dqs"):
        raise ValueError(f"unknown skinning method '{method}'; known: lbs, dqs")
    S = skinning_matrices(skeleton, skeleton_poses(skeleton, clip))
    return (lbs if method == "lbs" else dqs)(vertices, w, S)


def mesh_volumes(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Enclosed volume (m^3) of a closed, outward-oriented mesh per frame: ``(T,)`` for
    ``vertices (T, V, 3)``, a scalar array for ``(V, 3)`` (divergence theorem, one signed
    tetrahedron per face from the origin)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    a, b, c = v[..., f[:, 0], :], v[..., f[:, 1], :], v[..., f[:, 2], :]
    return np.einsum("...fi,...fi->...", a, np.cross(b, c)) / 6.0
