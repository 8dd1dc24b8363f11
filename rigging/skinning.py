"""Skin weights by bone heat (Baran & Popovic 2007, "Automatic rigging and animation of 3D
characters", the method of Pinocchio and Blender's "automatic weights").

What it does: treats each bone (segment parent joint -> child joint) as a heat source and
solves, for all bones at once with one sparse factorization,
``(-L + M H) w_b = M H p_b``, where ``L`` is the cotangent Laplacian and ``M`` the Voronoi
mass matrix of the mesh (libigl), ``H = diag(c / d_i^2)`` with ``d_i`` the distance of vertex
``i`` to its nearest bone and ``c = 1``, and ``p_b`` is 1 at vertices whose nearest bone is
``b`` (ties within 1 % share). A bone moves with its parent joint (glTF / UsdSkel skinning),
so bone weights are summed into their parent joint's column. Weights are then clipped to be
non-negative, only the 4 largest per vertex are kept (the glTF ``JOINTS_0`` / ``WEIGHTS_0``
limit) and rows are renormalized to sum to 1.

What it does not: Pinocchio's visibility test (a bone hidden behind other geometry still
heats a vertex; it matters for fingers pressed together, little for limbs), or bounded
biharmonic weights (they need a tetrahedral mesh).
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Mesh, Skeleton

MAX_INFLUENCES = 4


def point_segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance ``(N,)`` from points ``(N, 3)`` to the segment ``a``-``b`` (m)."""
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-300), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def limit_influences(w: np.ndarray, k: int = MAX_INFLUENCES) -> np.ndarray:
    """Keep the ``k`` largest non-negative weights per row of ``(V, J)``, rows summing to 1
    (a row with no positive weight keeps its largest entry at 1)."""
    w = np.clip(np.asarray(w, np.float64), 0.0, None)
    if w.shape[1] > k:
        drop = np.argsort(-w, axis=1)[:, k:]
        np.put_along_axis(w, drop, 0.0, axis=1)
    s = w.sum(1, keepdims=True)
    zero = s[:, 0] <= 0
    if zero.any():
        w[zero] = 0.0
        w[zero, 0] = 1.0
        s = w.sum(1, keepdims=True)
    return w / s


def bone_heat_weights(mesh: Mesh, skeleton: Skeleton) -> np.ndarray:
    """Skin weights ``(V, J) float64`` of ``mesh``'s vertices to ``skeleton``'s joints.

    Rows are non-negative, sum to 1 and have at most 4 non-zeros. A skeleton with one
    joint binds everything to it. Raises ValueError for a mesh without faces.
    """
    import igl
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    V = np.asarray(mesh.vertices, np.float64)
    F = np.asarray(mesh.faces, np.int64)
    if len(F) == 0:
        raise ValueError("bone heat needs a mesh with faces")
    J = len(skeleton.joint_names)
    W = np.zeros((len(V), J))
    pairs = [(int(p), j) for j, p in enumerate(skeleton.parents) if p >= 0]
    if not pairs:
        W[:, 0] = 1.0
        return W
    P = skeleton.bind_positions
    D = np.stack([point_segment_distance(V, P[p], P[c]) for p, c in pairs], 1)
    dmin = D.min(1)
    nearest = D <= dmin[:, None] * 1.01 + 1e-12
    p_mat = nearest / nearest.sum(1, keepdims=True)
    h = 1.0 / np.maximum(dmin, 1e-3 * mesh.diagonal) ** 2
    L = igl.cotmatrix(V, F)
    M = igl.massmatrix(V, F, igl.MASSMATRIX_TYPE_VORONOI)
    MH = sp.diags(M.diagonal() * h)
    A = (-L + MH).tocsc()
    # vertices no face uses would make A singular: pin them to their nearest bone
    used = np.zeros(len(V), bool)
    used[F.ravel()] = True
    A = A + sp.diags((~used).astype(float))
    rhs = MH @ p_mat + np.where(~used[:, None], p_mat, 0.0)
    wb = splu(A).solve(np.asarray(rhs))
    for b, (p, _) in enumerate(pairs):
        W[:, p] += wb[:, b]
    return limit_influences(W)
