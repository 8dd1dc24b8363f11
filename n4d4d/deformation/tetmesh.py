"""Tetrahedral meshes of a watertight volume, for the ``soft`` motion family.

:func:`tetrahedralize` fills a closed surface with tetrahedra by TetGen (Si 2015, "TetGen, a
Delaunay-based quality tetrahedral mesh generator", ACM TOMS 41(2); the ``tetgen`` package's
bindings): a constrained Delaunay tetrahedralization of the surface as a piecewise linear complex
(``p``), refined to a radius-edge ratio of :data:`MIN_RATIO` and dihedral angles of at least
:data:`MIN_DIHEDRAL_DEG` (``q``) under a volume cap from the target edge length (``a``). A surface
of more than ``max_faces`` triangles is first simplified by the project's one decimator
(:func:`n4d4d.volume.simplify.decimate`, closed and manifold by construction) so that a coarse
elastic body stays coarse. Every tetrahedron is checked to have positive volume (orientation
``(b - a) x (c - a) . (d - a) > 0``); TetGen is deterministic for a given input.

:func:`embed` expresses points (the visual mesh's vertices) as barycentric combinations of the
tetrahedron that contains them (or, outside the tet mesh, the nearest one, extrapolated), so
per-frame surface vertices follow the simulated nodes linearly. :func:`tet_volumes` and
:func:`principal_stretches` are the measures the plausibility check and the clip record use.

TetGen itself is AGPL-3.0 (the ``tetgen`` bindings are MIT); it is an optional dependency (the
``soft`` extra) loaded only here. This module builds meshes; it simulates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: TetGen's radius-edge ratio bound (``-q``): 1.5 keeps elements well shaped for the elastic
#: solver without the point explosion of values near 1.1.
MIN_RATIO = 1.5

#: TetGen's minimum dihedral angle (degrees, ``-q/``): no slivers, whose near-zero volume makes
#: an elastic element stiff and easy to invert.
MIN_DIHEDRAL_DEG = 10.0

#: Default target edge length over the bounding-box diagonal: a coarse body (a cube gets about a
#: hundred tetrahedra), what a per-frame surface needs and a CPU solver steps quickly; the surface
#: triangles still bound the mesh, so thin features keep their own small tetrahedra.
EDGE_FRACTION = 0.25


@dataclass(frozen=True)
class TetMesh:
    """A tetrahedral mesh.

    Attributes:
        nodes: ``(N, 3) float64`` node positions (m, asset frame).
        tets: ``(K, 4) int64`` node indices per tetrahedron, positively oriented.
        source_faces: how many surface triangles were meshed (after any simplification).
    """

    nodes: np.ndarray
    tets: np.ndarray
    source_faces: int = 0


def tet_volumes(nodes: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """Signed volumes (m^3) of ``tets (K, 4)`` over ``nodes (..., N, 3)``: shape ``(..., K)``,
    positive for a positively oriented tetrahedron."""
    P = np.asarray(nodes, np.float64)
    a, b, c, d = (P[..., tets[:, i], :] for i in range(4))
    return np.einsum("...i,...i->...", np.cross(b - a, c - a), d - a) / 6.0


def edge_matrices(nodes: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """``(..., K, 3, 3)`` edge matrices ``[x1 - x0, x2 - x0, x3 - x0]`` (columns) of each tet."""
    P = np.asarray(nodes, np.float64)
    x0 = P[..., tets[:, 0], :]
    return np.stack([P[..., tets[:, i], :] - x0 for i in (1, 2, 3)], axis=-1)


def principal_stretches(rest_inverse: np.ndarray, nodes: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """Principal stretches ``(..., K, 3)``: singular values of the deformation gradient
    ``F = Ds Dm^-1`` of each tet (1 = undeformed; strain along a principal axis is stretch - 1).

    Args:
        rest_inverse: ``(K, 3, 3)`` inverse rest edge matrices ``Dm^-1``.
        nodes: ``(..., N, 3)`` deformed node positions (m).
        tets: ``(K, 4)``.
    """
    F = edge_matrices(nodes, tets) @ rest_inverse
    return np.linalg.svd(F, compute_uv=False)


def tetrahedralize(vertices: np.ndarray, faces: np.ndarray, *, edge_m: float | None = None,
                   max_faces: int = 2000, seed: int = 0, name: str = "") -> TetMesh:
    """Fill a closed surface with quality tetrahedra (module docstring).

    Args:
        vertices: ``(V, 3) float64`` surface vertices (m). faces: ``(F, 3) int64``, closed,
            manifold, outward oriented (the static stage's watertight mesh).
        edge_m: target edge length (m); default :data:`EDGE_FRACTION` of the bounding-box
            diagonal. The volume cap is that of a regular tetrahedron of this edge.
        max_faces: a surface with more triangles is simplified to this many first.
        seed: seeds the simplifier's jitter. name: the asset's name, for errors.

    Returns:
        A :class:`TetMesh` whose tets all have positive volume.

    Raises:
        StageInputError: the surface is not closed (no volume to fill), TetGen fails on it, or
            a tetrahedron comes out with non-positive volume.
    """
    import trimesh

    from n4d4d.errors import StageInputError

    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    tm = trimesh.Trimesh(v, f, process=False)
    if not tm.is_watertight or tm.volume <= 0:
        raise StageInputError(f"asset '{name}': the soft family needs a closed, outward-oriented surface "
                              f"(watertight {tm.is_watertight}, volume {tm.volume:.3g} m^3)")
    if len(f) > max_faces:
        from n4d4d.asset import Mesh
        from n4d4d.volume.simplify import decimate

        small = decimate(Mesh(v, f), max_faces, seed=seed)
        v, f = np.asarray(small.vertices, np.float64), np.asarray(small.faces, np.int64)
    h = float(edge_m) if edge_m is not None else EDGE_FRACTION * float(np.linalg.norm(np.ptp(v, axis=0)))
    try:
        import tetgen
    except ImportError as exc:
        raise StageInputError(f"asset '{name}': the soft family needs the 'tetgen' package "
                              "(pip install 'n4d4d[soft]')") from exc

    try:
        gen = tetgen.TetGen(v, f.astype(np.int32))
        nodes, tets, *_ = gen.tetrahedralize(quality=True, minratio=MIN_RATIO, mindihedral=MIN_DIHEDRAL_DEG,
                                             maxvolume=h ** 3 / (6.0 * np.sqrt(2.0)), fixedvolume=True)
    except RuntimeError as exc:
        raise StageInputError(f"asset '{name}': TetGen could not mesh the surface ({exc})") from exc
    nodes = np.asarray(nodes, np.float64)
    tets = np.asarray(tets, np.int64)
    if len(tets) == 0:
        raise StageInputError(f"asset '{name}': TetGen made no tetrahedra")
    vol = tet_volumes(nodes, tets)
    if vol.min() <= 0:
        raise StageInputError(f"asset '{name}': {int((vol <= 0).sum())} of {len(tets)} tetrahedra have "
                              "non-positive volume")
    return TetMesh(nodes, tets, int(len(f)))


def embed(points: np.ndarray, nodes: np.ndarray, tets: np.ndarray, k: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric embedding of ``points (P, 3)`` in the tet mesh.

    Each point takes the tetrahedron, among the ``k`` whose centroids are nearest, in which its
    smallest barycentric coordinate is largest: the one containing it when one does (all four
    coordinates >= 0), else the nearest, extrapolated linearly. A point within 1e-9 m of a node
    is that node.

    Returns:
        ``(idx (P, 4) int64, weights (P, 4) float64)``: the point is ``sum_i weights[:, i] *
        nodes[idx[:, i]]`` (weights sum to 1), for rest and deformed nodes alike.
    """
    from scipy.spatial import cKDTree

    p = np.asarray(points, np.float64)
    X = np.asarray(nodes, np.float64)
    cent = X[tets].mean(axis=1)
    _, cand = cKDTree(cent).query(p, k=min(k, len(tets)))
    cand = np.atleast_2d(cand.T).T if cand.ndim == 1 else cand  # (P, k)
    T = X[tets[cand]]  # (P, k, 4, 3)
    A = np.stack([T[:, :, i] - T[:, :, 0] for i in (1, 2, 3)], axis=-1)  # (P, k, 3, 3)
    rhs = p[:, None, :] - T[:, :, 0]
    lam = np.linalg.solve(A, rhs[..., None])[..., 0]  # (P, k, 3)
    bary = np.concatenate([1.0 - lam.sum(-1, keepdims=True), lam], axis=-1)  # (P, k, 4)
    best = np.argmax(bary.min(axis=-1), axis=1)
    rows = np.arange(len(p))
    idx = tets[cand[rows, best]]
    w = bary[rows, best]
    near_d, near_i = cKDTree(X).query(p)
    on = near_d < 1e-9
    idx[on] = near_i[on, None]
    w[on] = np.array([1.0, 0.0, 0.0, 0.0])
    return idx.astype(np.int64), w
