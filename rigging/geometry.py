"""Geometric queries the rigging stage shares: surface samples, exact point-to-mesh distance,
inside tests, principal axes and rotational-symmetry (solid of revolution) detection.

What it does: wraps one part's triangle mesh (asset frame, m) in :class:`PartGeometry`, which
caches seeded area-weighted surface samples, a libigl AABB tree for exact unsigned distances
and the generalized winding number (Jacobson et al. 2013) for inside tests. Inside tests run
on an optional closed *solid* version of the part when one is given (the rigging stage passes
the part meshes closed by :func:`n4d4d.volume.solids.close_solid`): the winding number of an
open triangle soup (PartNet-Mobility's thin, double-sided sheets) is near 0 everywhere, so
such a part would never block a sweep.
Surface samples, distances and symmetry tests always use the mesh as given, whose exact
cylinders and planes any closing would blur. What it does not: change the mesh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def rotation_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation ``(3, 3)`` by ``angle`` rad about unit ``axis`` ``(3,)``."""
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def rotate_about(points: np.ndarray, pivot: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Points ``(N, 3)`` rotated by ``angle`` rad about the line ``pivot + t axis``."""
    R = rotation_matrix(axis, angle)
    return (points - pivot) @ R.T + pivot


def pca(points: np.ndarray):
    """Principal axes of ``(N, 3)`` points: ``(mean (3,), eigenvalues (3,) descending,
    eigenvectors (3, 3) as columns)``."""
    mean = points.mean(axis=0)
    c = np.cov((points - mean).T) if len(points) > 1 else np.zeros((3, 3))
    w, v = np.linalg.eigh(c)
    order = np.argsort(w)[::-1]
    return mean, np.maximum(w[order], 0.0), v[:, order]


def surface_pca(V: np.ndarray, F: np.ndarray):
    """Exact area-weighted principal axes of a triangle surface: ``(centroid (3,),
    eigenvalues (3,) descending, eigenvectors (3, 3) columns)``, using the closed-form second
    moment of a triangle ``A/12 (a a^T + b b^T + c c^T + s s^T)``, ``s = a + b + c``."""
    t = V[F]
    A = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    tot = max(A.sum(), 1e-300)
    s = t.sum(1)
    mean = (A[:, None] * s / 3.0).sum(0) / tot
    M = np.einsum("f,fki,fkj->ij", A, t, t) + np.einsum("f,fi,fj->ij", A, s, s)
    C = M / (12.0 * tot) - np.outer(mean, mean)
    w, v = np.linalg.eigh(C)
    order = np.argsort(w)[::-1]
    return mean, np.maximum(w[order], 0.0), v[:, order]


@dataclass
class PartGeometry:
    """Cached queries on one part mesh.

    Attributes:
        name: part name.
        vertices: ``(V, 3) float64`` (m, asset frame); faces ``(F, 3) int64``.
        points: ``(N, 3) float64`` area-weighted surface samples (seeded).
        normals: ``(N, 3) float64`` face normals at the samples.
        solid: optional ``(vertices (S, 3) float64, faces (G, 3) int64)`` of a closed version
            of the part used by :meth:`inside` and :meth:`interior_points` (same frame).
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    n_samples: int = 1500
    seed: int = 0
    solid: tuple | None = None
    points: np.ndarray = field(init=False)
    normals: np.ndarray = field(init=False)
    _interior: np.ndarray | None = field(init=False, default=None)
    _aabb: object = field(init=False, default=None)
    _grids: dict = field(init=False, default_factory=dict)
    _hull: object = field(init=False, default=False)

    def __post_init__(self):
        V = np.asarray(self.vertices, np.float64)
        F = np.asarray(self.faces, np.int64).reshape(-1, 3)
        used, inv = np.unique(F, return_inverse=True)  # a piece given as the whole mesh's
        self.vertices = np.ascontiguousarray(V[used])  # vertices and some faces keeps its own
        self.faces = np.ascontiguousarray(inv.reshape(-1, 3), np.int64)
        self.points, self.normals = sample_surface(self.vertices, self.faces, self.n_samples, self.seed)

    @property
    def diag(self) -> float:
        """Bounding-box diagonal (m)."""
        return float(np.linalg.norm(self.vertices.max(0) - self.vertices.min(0)))

    @property
    def area(self) -> float:
        """Surface area (m^2)."""
        t = self.vertices[self.faces]
        return float(0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum())

    @property
    def spacing(self) -> float:
        """Mean spacing of the surface samples (m): ``sqrt(area / N)``."""
        return float(np.sqrt(self.area / max(len(self.points), 1)))

    def distance(self, q: np.ndarray) -> np.ndarray:
        """Exact unsigned distance ``(M,)`` (m) from points ``(M, 3)`` to this mesh."""
        import igl

        if self._aabb is None:
            self._aabb = igl.AABB()
            self._aabb.init(self.vertices, self.faces)
        d2 = self._aabb.squared_distance(self.vertices, self.faces, np.ascontiguousarray(q, np.float64))[0]
        return np.sqrt(np.maximum(d2, 0.0))

    def interior_points(self, n: int = 700) -> np.ndarray:
        """Up to ``n`` ``(M, 3)`` points uniformly inside the part (rejection sampling in its
        bounding box by :meth:`inside`, seeded); empty for a part that encloses nothing."""
        if self._interior is None:
            rng = np.random.default_rng(self.seed + 1)
            V = self.vertices if self.solid is None else np.asarray(self.solid[0])
            lo, hi = V.min(0), V.max(0)
            q = rng.uniform(lo, hi, size=(4 * n, 3))
            self._interior = q[self.inside(q)][:n]
        return self._interior

    def grid(self, resolution: int = 128, *, fill: bool = True):
        """The part's :class:`~n4d4d.rigging.voxels.SolidGrid` at cell size diagonal /
        ``resolution`` (cached): its closed volume, or with ``fill`` False its surface
        cells only; open sheets are one cell thick either way."""
        key = (resolution, fill)
        if key not in self._grids:
            from n4d4d.rigging.voxels import solid_grid

            self._grids[key] = solid_grid(self.vertices, self.faces, self.diag / resolution, fill=fill)
        return self._grids[key]

    def pieces(self) -> list["PartGeometry"]:
        """The part's pieces (:func:`mesh_components`) of at least 8 triangles as
        :class:`PartGeometry` (600 samples each, names ``"<name>#<k>"``), cached; empty for a
        part of one piece or of more than 200."""
        if "pieces" not in self._grids:
            comps = mesh_components(self.vertices, self.faces)
            out = []
            if 2 <= len(comps) <= 200:
                out = [PartGeometry(f"{self.name}#{k}", self.vertices, self.faces[c], n_samples=600, seed=self.seed)
                       for k, c in enumerate(comps) if len(c) >= 8]
            self._grids["pieces"] = out
        return self._grids["pieces"]

    def revolution(self) -> list:
        """:func:`revolution_axes` of the part (cached)."""
        if "revolution" not in self._grids:
            self._grids["revolution"] = revolution_axes(self)
        return self._grids["revolution"]

    def hull_equations(self) -> np.ndarray | None:
        """``(H, 4) float64`` facet planes ``n . x + d <= 0`` of the vertices' convex hull
        (cached), or None when the hull is degenerate (a flat or empty part)."""
        if self._hull is False:
            from scipy.spatial import ConvexHull, QhullError

            try:
                self._hull = ConvexHull(self.vertices).equations
            except (QhullError, ValueError):
                self._hull = None
        return self._hull

    def inside(self, q: np.ndarray) -> np.ndarray:
        """``(M,) bool``: generalized winding number of the mesh at each point > 0.5."""
        import igl

        V, F = (self.vertices, self.faces) if self.solid is None else self.solid
        V, F = np.ascontiguousarray(V, np.float64), np.ascontiguousarray(F, np.int64)
        return igl.fast_winding_number(V, F, np.ascontiguousarray(q, np.float64)) > 0.5


def sample_surface(V: np.ndarray, F: np.ndarray, n: int, seed: int):
    """``n`` area-weighted random surface points ``(n, 3)`` and their face normals ``(n, 3)``,
    drawn with ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    t = V[F]
    cr = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    area = np.linalg.norm(cr, axis=1)
    if area.sum() <= 0:
        return np.repeat(V[:1], n, 0), np.tile([0.0, 0.0, 1.0], (n, 1))
    fi = rng.choice(len(F), size=n, p=area / area.sum())
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    p = t[fi, 0] + u[:, None] * (t[fi, 1] - t[fi, 0]) + v[:, None] * (t[fi, 2] - t[fi, 0])
    nrm = cr[fi] / np.maximum(area[fi, None], 1e-300)
    return p, nrm


def revolution_axes(part: PartGeometry, tol: float = 0.03):
    """Axes about which ``part`` is (nearly) a solid of revolution.

    Each principal axis of the surface samples, through their area centroid, is tested: the
    samples rotated by 50, 90 and 137 degrees must lie on the surface again (mean distance
    to the mesh <= ``tol`` x the samples' RMS distance from the axis, so a long thin box is
    not mistaken for a cylinder). Returns a list of ``(point (3,), axis
    (3,), residual)`` sorted by residual; empty when the part has no such axis. A sphere
    passes for all three axes.
    """
    mean, _, vecs = surface_pca(part.vertices, part.faces)
    out = []
    sub = part.points[:: max(1, len(part.points) // 400)]
    for k in range(3):
        a = vecs[:, k]
        res = max(float(part.distance(rotate_about(sub, mean, a, np.deg2rad(deg))).mean())
                  for deg in (50.0, 90.0, 137.0))
        rel = sub - mean
        radial = np.sqrt(np.mean(np.sum(rel * rel, 1) - (rel @ a) ** 2))
        res /= max(radial, 1e-12)
        if res <= tol:
            out.append((mean, a, res))
    return sorted(out, key=lambda r: r[2])


def mesh_components(vertices: np.ndarray, faces: np.ndarray, *, tol: float = 1e-6) -> list[np.ndarray]:
    """Pieces of a triangle mesh: ``[faces (F_i,) int64, ...]``, largest first.

    Vertices closer than ``tol`` x the bounding-box diagonal are welded first (UV and normal
    seams, OBJ soups that repeat every corner), duplicate triangles (double-sided sheets, as
    PartNet-Mobility ships them) counted once, and two triangles are joined when they share an
    edge that exactly two distinct triangles use. Edges used by three or more triangles are
    where separate bodies touch (two boxes sharing an edge, a pin through a plate modelled on
    coincident vertices), so they do not join; nor does a shared single vertex.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    V = np.asarray(vertices, np.float64)
    F = np.asarray(faces, np.int64).reshape(-1, 3)
    if len(F) == 0:
        return []
    scale = max(float(np.linalg.norm(np.ptp(V[np.unique(F)], axis=0))), 1e-300) * tol
    _, weld = np.unique(np.round(V / scale), axis=0, return_inverse=True)
    W = weld.ravel()[F]
    _, first, tri = np.unique(np.sort(W, 1), axis=0, return_index=True, return_inverse=True)
    U = W[first]
    edges = np.sort(np.concatenate([U[:, [0, 1]], U[:, [1, 2]], U[:, [2, 0]]]), 1)
    _, eid, count = np.unique(edges, axis=0, return_inverse=True, return_counts=True)
    eid = eid.ravel()
    keep = count[eid] == 2
    nu, ne = len(U), len(count)
    fid = np.tile(np.arange(nu), 3)
    g = coo_matrix((np.ones(int(keep.sum())), (fid[keep], nu + eid[keep])), shape=(nu + ne, nu + ne))
    _, lab = connected_components(g, directed=False)
    lab = lab[:nu][tri.ravel()]
    order = np.argsort(-np.bincount(lab))
    groups = [np.flatnonzero(lab == k).astype(np.int64) for k in order]
    return [g for g in groups if len(g)]
