"""Voxel lookup grids of part meshes for the collision sweeps: which cells a part's surface
passes through, the cavities it encloses, and how deep a point lies inside. Used by the sweeps
(:mod:`n4d4d.rigging.sweep`) and the joint probes (:mod:`n4d4d.rigging.joints`), where a lookup
per probe replaces a winding number and a distance query (microseconds instead of tens of
milliseconds per pose). It is a collision proxy of the surface as given, not a closer: the
part solids handed to later stages are closed by :func:`n4d4d.volume.solids.close_solid`
(:func:`n4d4d.rigging.parts.close_mesh`).

What it does: marks every cell that the surface passes through (each triangle sampled on a
barycentric lattice finer than half a cell, so no cell it crosses is skipped), fills the
cavities the surface encloses (``scipy.ndimage.binary_fill_holes``: background not reachable
from outside), and gives a smooth inside measure: plus half a cell at occupied cell centres,
minus half a cell at empty ones, interpolated trilinearly (its zero level lies midway between
occupied and empty centres, like the marching-cubes surface of the grid). An open triangle
soup thus becomes a solid at least one cell thick, a closed surface its interior.

What it does not: resolve features thinner than a cell (they become one cell thick), or
close gaps wider than a cell in a surface (a box missing a face stays open, hence empty).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _lattice(k: int) -> np.ndarray:
    """Barycentric ``(m, 2)`` points ``(i / k, j / k)``, ``i + j <= k``."""
    i, j = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    keep = i + j <= k
    return np.stack([i[keep], j[keep]], 1) / float(k)


def surface_points(vertices: np.ndarray, faces: np.ndarray, spacing: float) -> np.ndarray:
    """Points ``(P, 3)`` on every triangle, no farther than ``spacing`` (m) from each other
    along its edges: a barycentric lattice of ``ceil(longest edge / spacing)`` steps."""
    t = np.asarray(vertices, np.float64)[np.asarray(faces, np.int64)]
    if len(t) == 0:
        return np.zeros((0, 3))
    longest = np.max(np.linalg.norm(t - np.roll(t, 1, axis=1), axis=2), axis=1)
    ks = np.maximum(1, np.ceil(longest / spacing)).astype(np.int64)
    out = [t[:, 0]]
    for k in np.unique(ks):
        if k == 1:
            continue
        tri = t[ks == k]
        bary = _lattice(int(k))
        a, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        pts = a[:, None] + bary[None, :, :1] * e1[:, None] + bary[None, :, 1:] * e2[:, None]
        out.append(pts.reshape(-1, 3))
    out += [t[ks == 1, 1], t[ks == 1, 2]]
    return np.concatenate(out)


@dataclass(frozen=True)
class SolidGrid:
    """A filled voxel grid of a part (asset frame, m).

    Attributes:
        occupied: ``(X, Y, Z) bool``, one empty layer all around.
        origin: ``(3,) float64`` centre of cell ``(0, 0, 0)``.
        pitch: cell size (m).
        sdf: ``(X, Y, Z) float32`` inside measure (m) at cell centres: ``+pitch / 2``
            occupied, ``-pitch / 2`` empty; interpolated, it is the signed distance to the
            voxel surface within half a cell of it and saturates beyond.
    """

    occupied: np.ndarray
    origin: np.ndarray
    pitch: float
    sdf: np.ndarray

    def cells(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell indices ``(N, 3) int64`` of ``points (N, 3)`` and whether each is in the grid."""
        idx = np.floor((np.asarray(points) - self.origin) / self.pitch + 0.5).astype(np.int64)
        ok = np.all((idx >= 0) & (idx < np.array(self.occupied.shape)), axis=1)
        return idx, ok

    def depth_at(self, points: np.ndarray) -> np.ndarray:
        """Signed depth ``(N,) float32`` (m) of ``points (N, 3)``: :attr:`sdf` interpolated
        trilinearly, positive inside the solid (at most half a cell); negative outside."""
        from scipy.ndimage import map_coordinates

        c = ((np.asarray(points, np.float64) - self.origin) / self.pitch).T
        return map_coordinates(self.sdf, c, order=1, mode="constant", cval=-0.5 * self.pitch)

    def interior_points(self, n: int, seed: int) -> np.ndarray:
        """Up to ``n`` centres ``(M, 3)`` of occupied cells, drawn with ``default_rng(seed)``."""
        cells = np.argwhere(self.occupied)
        if len(cells) > n:
            cells = cells[np.sort(np.random.default_rng(seed).choice(len(cells), n, replace=False))]
        return cells * self.pitch + self.origin


def solid_grid(vertices: np.ndarray, faces: np.ndarray, pitch: float, *, fill: bool = True) -> SolidGrid:
    """The :class:`SolidGrid` of a triangle mesh at cell size ``pitch`` (m); with ``fill``
    False only the cells the surface crosses (a shell: a part nested in its parent's cavity,
    a magazine in a closed stapler lid, is then not inside the parent).

    Raises ValueError for a non-positive pitch or a mesh without faces.
    """
    from scipy import ndimage

    if not pitch > 0:
        raise ValueError(f"voxel pitch must be positive, got {pitch}")
    V = np.asarray(vertices, np.float64)
    F = np.asarray(faces, np.int64)
    if len(F) == 0:
        raise ValueError("a solid grid needs a mesh with faces")
    pts = surface_points(V, F, 0.5 * pitch)
    lo = pts.min(0) - pitch  # one empty layer on each side
    shape = np.floor((pts.max(0) + pitch - lo) / pitch + 0.5).astype(np.int64) + 1
    idx = np.floor((pts - lo) / pitch + 0.5).astype(np.int64)
    occ = np.zeros(shape, bool)
    occ[idx[:, 0], idx[:, 1], idx[:, 2]] = True
    if fill:
        occ = ndimage.binary_fill_holes(occ)
    return from_occupancy(occ, lo, pitch)


def from_occupancy(occupied: np.ndarray, origin: np.ndarray, pitch: float) -> SolidGrid:
    """A :class:`SolidGrid` of a boolean grid (one empty layer around)."""
    sdf = np.where(occupied, 0.5 * pitch, -0.5 * pitch).astype(np.float32)
    return SolidGrid(occupied, np.asarray(origin, np.float64), float(pitch), sdf)


def fill_except_holding(shell: SolidGrid, points: np.ndarray, min_fraction: float = 0.1) -> SolidGrid:
    """``shell`` (surface cells) with the cavities it encloses filled, except cavities that
    hold at least ``min_fraction`` of ``points (N, 3)``: the space a nested part occupies (a
    drawer in a closed cabinet, a magazine in a stapler lid) is room to move in, not matter,
    while a closed link's interior is matter."""
    from scipy import ndimage

    cavity = ndimage.binary_fill_holes(shell.occupied) & ~shell.occupied
    labels, n = ndimage.label(cavity)
    keep = cavity
    if n:
        idx, ok = shell.cells(points)
        held = labels[idx[ok, 0], idx[ok, 1], idx[ok, 2]]
        count = np.bincount(held, minlength=n + 1)
        drop = np.flatnonzero(count >= min_fraction * max(len(points), 1))
        drop = drop[drop > 0]
        if len(drop):
            keep = cavity & ~np.isin(labels, drop)
    return from_occupancy(shell.occupied | keep, shell.origin, shell.pitch)
