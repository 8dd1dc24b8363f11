"""Flat sheets lying on another part: a precision check of a merged mesh's segmentation (issue
18, item 3: "a decal / zero-thickness sheet lying on another part is not a part").

What it does: :func:`fuse_sheets` finds the groups of a merged mesh (``[(name, faces)]`` as
:func:`n4d4d.rigging.parts.component_groups` gives them) that are *flat sheets*: a single layer
of triangles whose extent along its thinnest principal direction is under
:data:`SHEET_FLATNESS` of its largest extent (a plane to rounding, as a label printed on a key
cap, a screen's glass or a logo is modelled), and that *lie on* one other group: at least
:data:`SHEET_ON` of the sheet's surface samples are within :data:`SHEET_GAP` x the sheet's
diagonal of that group's surface. Such a sheet is fused into the group it lies on: it is that
part's surface detail, and it moves with it. A sheet touching others along an edge only (a
flap, a door modelled as one plane and hinged at its side) lies on nothing and is left alone.

Measured (merged track of issue 18's subset, session 13's records at eda8a7c): the pieces
whose flatness was under 1e-3 were 67 predicted movable joints, 63 of them wrong (41 the
labels on PartNet-Mobility 103251's phone keys, floating 0.4 % of their diagonal above the
key caps); the 4 right were key labels matched to their key. No piece flatter than 1e-3 and
thicker than :data:`SHEET_FLATNESS` was found, so the bound is not tuned to these objects:
it says "planar to floating point".

What it does not: fuse curved thin shells (a box flap, a door panel), which have a thickness
or a curvature, or look at parts declared by the input (a URDF's links, labelled sub-meshes).
"""

from __future__ import annotations

import numpy as np

SHEET_FLATNESS = 1e-6  # thinnest / largest principal extent under this: a plane (to rounding)
SHEET_GAP = 0.02  # a sheet's sample lies on a part within this fraction of the sheet's diagonal ...
SHEET_ON = 0.9  # ... and a sheet lies on the part when this share of its samples do
SHEET_SAMPLES = 400


def flatness(vertices: np.ndarray, faces: np.ndarray) -> float:
    """``ptp along the thinnest / ptp along the widest`` area-weighted principal direction of a
    triangle surface ``vertices (V, 3) float64``, ``faces (F, 3) int64`` (0 for a plane; 1 for
    a cube; 0 for a surface of no extent)."""
    from n4d4d.rigging.geometry import surface_pca

    f = np.asarray(faces, np.int64).reshape(-1, 3)
    used = np.unique(f)
    v = np.asarray(vertices, np.float64)[used]
    if len(used) < 3:
        return 0.0
    _, _, axes = surface_pca(np.asarray(vertices, np.float64), f)
    ext = np.ptp(v @ axes, axis=0)
    return float(ext.min() / ext.max()) if ext.max() > 0 else 0.0


def fuse_sheets(mesh, groups: list[tuple[str, np.ndarray]], *, seed: int = 0,
                flat: float = SHEET_FLATNESS, gap: float = SHEET_GAP,
                on: float = SHEET_ON) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """Fuse each flat sheet into the group it lies on (see the module docstring).

    Args:
        mesh: the whole :class:`~n4d4d.asset.Mesh` (asset frame, m).
        groups: ``[(name, faces (F_i,) int64), ...]`` of ``mesh``.
        seed: seed of the sheets' surface samples.
        flat, gap, on: :data:`SHEET_FLATNESS`, :data:`SHEET_GAP`, :data:`SHEET_ON`.

    Returns:
        The groups (order kept, a fused sheet's faces added to its host) and the names of the
        sheets fused away. A sheet lying on another sheet is fused into it only when that one
        stays (sheets are visited largest first).
    """
    from n4d4d.rigging.geometry import PartGeometry

    groups = [(n, np.asarray(f, np.int64)) for n, f in groups]
    if len(groups) < 2:
        return groups, []
    sheets = [k for k, (_, f) in enumerate(groups) if flatness(mesh.vertices, mesh.faces[f]) < flat]
    if not sheets:
        return groups, []
    V, F = mesh.vertices, mesh.faces
    box = [(V[np.unique(F[f])].min(0), V[np.unique(F[f])].max(0)) for _, f in groups]
    geos: dict[int, PartGeometry] = {}

    def geo(k: int) -> PartGeometry:
        if k not in geos:
            geos[k] = PartGeometry(groups[k][0], V, F[groups[k][1]], n_samples=SHEET_SAMPLES, seed=seed)
        return geos[k]

    host: dict[int, int] = {}
    for k in sorted(sheets, key=lambda k: -len(groups[k][1])):
        s = geo(k)
        eps = gap * s.diag
        lo, hi = box[k][0] - eps, box[k][1] + eps
        best, best_j = 0.0, None
        for j in range(len(groups)):
            if j == k or host.get(j) is not None or np.any(box[j][0] > hi) or np.any(lo > box[j][1]):
                continue
            share = float((geo(j).distance(s.points) <= eps).mean())
            if share > best:
                best, best_j = share, j
        if best_j is not None and best >= on:
            host[k] = best_j
    if not host:
        return groups, []

    def root(k: int) -> int:
        while k in host:
            k = host[k]
        return k

    faces = {k: [f] for k, (_, f) in enumerate(groups)}
    for k in host:
        faces[root(k)].append(groups[k][1])
    out = [(n, np.sort(np.concatenate(faces[k]))) for k, (n, _) in enumerate(groups) if k not in host]
    return out, [groups[k][0] for k in host]
