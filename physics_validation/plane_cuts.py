"""Convex pieces by plane cuts: a solid bisected where its hulls waste the most volume.

CoACD's concavity is a distance (a Hausdorff-like measure relative to the bounding box), so a
thin plate that bends (a bumper, a rail, the lip of a cap) is "convex enough" to it long
before its hull stops filling the bend: pybullet_data husky's bumpers come out of CoACD as 6
hulls at 2.8 times the solid's volume, well inside CoACD's threshold and past the
certificate's volume bound (1.35). This module cuts for volume instead.

:func:`plane_cut_pieces` keeps a set of closed pieces (manifold3d solids, starting from the
part's connected shells) and repeatedly splits the piece whose convex hull exceeds its own
volume the most by the plane that most reduces the summed hull volume of what it leaves,
each connected component of a cut counted as its own piece (a cut through both arms of a U
leaves three). Candidate planes: normals along the piece's principal axes and the frame axes,
at :data:`CUT_FRACTIONS` of its extent along each. The cut faces lie on the plane, so the
pieces' hulls cover the solid exactly (no gap between pieces) and only exceed it where a
piece still bends. It stops when the summed hull volume is within ``target_ratio`` of the
solid's, when the hull budget is spent, or when no cut helps. This is greedy top-down
bisection with a volume objective, the hierarchical scheme of V-HACD (Mamou and Ghorbel, "A
simple and efficient approach for 3D mesh approximate convex decomposition", ICIP 2009)
with a cost that sees a bend's volume, not its depth.

Cost: a few manifold3d splits and hulls per candidate (milliseconds on a few thousand
faces), no child process. This module makes pieces; whether they are used is decided by
:mod:`.decomposition` on measured fidelity.
"""

from __future__ import annotations

import heapq

import numpy as np

from n4d4d.asset import Mesh

#: Positions of the candidate planes along each direction, as fractions of the piece's extent
#: along it (7 positions: a corner of an L or U lands within an eighth of its extent of one).
CUT_FRACTIONS = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875)

#: A component a cut leaves with less than this fraction of the piece's volume is dropped (a
#: sliver of round-off at a face the plane grazes); its hull would add nothing a collider needs.
MIN_PIECE_FRACTION = 1e-6

#: A cut is made only when it lowers the piece's hull volume by more than this fraction of it.
MIN_GAIN = 1e-3


def _manifold(vertices: np.ndarray, faces: np.ndarray):
    import manifold3d as mf

    m = mf.Manifold(mf.Mesh64(vert_properties=np.array(vertices, dtype=np.float64, order="C"),
                              tri_verts=np.array(faces, dtype=np.uint64, order="C")))
    return m if m.status() == mf.Error.NoError and not m.is_empty() else None


def _points(m) -> np.ndarray:
    return np.asarray(m.to_mesh64().vert_properties, dtype=np.float64)[:, :3]


class _Piece:
    """A closed piece: its manifold, volume, hull volume and vertices."""

    __slots__ = ("solid", "volume", "hull_volume", "points")

    def __init__(self, solid):
        self.solid = solid
        self.volume = float(solid.volume())
        self.hull_volume = float(solid.hull().volume())
        self.points = _points(solid)

    @property
    def excess(self) -> float:
        return self.hull_volume - self.volume


def _directions(points: np.ndarray) -> np.ndarray:
    """``(K, 3)`` unit normals to try: principal axes of ``points`` and the frame axes, deduplicated."""
    c = points - points.mean(axis=0)
    try:
        _, _, vt = np.linalg.svd(c, full_matrices=False)
    except np.linalg.LinAlgError:
        vt = np.zeros((0, 3))
    out = []
    for d in list(vt) + list(np.eye(3)):
        d = d / max(np.linalg.norm(d), 1e-300)
        if all(abs(float(d @ e)) < 0.999 for e in out):
            out.append(d)
    return np.array(out)


def _split(piece: _Piece, normal: np.ndarray, offset: float, floor: float) -> list[_Piece]:
    a, b = piece.solid.split_by_plane(normal.tolist(), float(offset))
    out = []
    for side in (a, b):
        if side.is_empty():
            continue
        out += [_Piece(c) for c in side.decompose() if c.volume() > floor]
    return out


def _best_cut(piece: _Piece, room: int, floor: float):
    """The cut of ``piece`` into at most ``room + 1`` pieces with the least summed hull volume,
    as ``(pieces, hull_volume)``, or None when no candidate lowers it by :data:`MIN_GAIN`."""
    best, best_v, where = None, piece.hull_volume * (1.0 - MIN_GAIN), None

    def consider(n, offset):
        nonlocal best, best_v
        parts = _split(piece, n, offset, floor)
        if 2 <= len(parts) <= room + 1:
            v = sum(p.hull_volume for p in parts)
            if v < best_v:
                best, best_v = parts, v
                return True
        return False

    for n in _directions(piece.points):
        proj = piece.points @ n
        lo, hi = float(proj.min()), float(proj.max())
        if hi - lo <= 0:
            continue
        for f in CUT_FRACTIONS:
            if consider(n, lo + f * (hi - lo)):
                where = (n, proj, lo + (f - STEP) * (hi - lo), lo + (f + STEP) * (hi - lo))
    if where is not None:  # refine: the vertex planes near the best cut (a shoulder, a corner)
        n, proj, a, b = where
        levels = np.unique(proj[(proj > a) & (proj < b)])
        if len(levels) > REFINE_LEVELS:
            levels = levels[np.linspace(0, len(levels) - 1, REFINE_LEVELS).round().astype(int)]
        for offset in levels:
            consider(n, float(offset))
    return None if best is None else (best, best_v)


#: Half the spacing of :data:`CUT_FRACTIONS`: the window, either side of the best position,
#: whose vertex planes are tried next (at most :data:`REFINE_LEVELS` of them, evenly by rank):
#: a plane through a shoulder's or a corner's vertices leaves no sliver of one piece on the
#: other (a button's cap cut 0.25 mm above its stem keeps a disk whose hull spans the stem).
STEP = 0.0625
REFINE_LEVELS = 16


def _halve(piece: _Piece, floor: float) -> list[_Piece] | None:
    """``piece`` cut at the middle of its extent along the principal axis whose cut leaves the
    least summed hull volume (ties within :data:`MIN_GAIN` to the shorter axis: a straight tube
    is first cut along its length, into arcs whose hulls then shrink, not across it, into
    rings whose hulls do not); None when no plane splits it."""
    c = piece.points - piece.points.mean(axis=0)
    try:
        _, _, vt = np.linalg.svd(c, full_matrices=False)
    except np.linalg.LinAlgError:
        return None
    best, best_v = None, np.inf
    for n in vt[::-1]:
        proj = piece.points @ n
        lo, hi = float(proj.min()), float(proj.max())
        if hi - lo <= 0:
            continue
        parts = _split(piece, n, 0.5 * (lo + hi), floor)
        if len(parts) < 2:
            continue
        v = sum(p.hull_volume for p in parts)
        if v < best_v * (1.0 - MIN_GAIN):
            best, best_v = parts, v
    return best


def _overcut(pieces: list[_Piece], count: int, leaf_ratio: float, floor: float, budget) -> list[_Piece]:
    """Pieces halved (:func:`_halve`), the one with the largest hull excess first, until there
    are ``count`` or every piece's hull is within ``leaf_ratio`` of its volume."""
    heap = [(-p.excess, k) for k, p in enumerate(pieces) if p.hull_volume > leaf_ratio * p.volume]
    heapq.heapify(heap)
    alive = dict(enumerate(pieces))
    nxt = len(pieces)
    while heap and len(alive) < count:
        if budget is not None and budget.cpu_left() <= 0:
            break
        _, k = heapq.heappop(heap)
        parts = _halve(alive[k], floor)
        if parts is None:
            continue
        del alive[k]
        for p in parts:
            alive[nxt] = p
            if p.hull_volume > leaf_ratio * p.volume:
                heapq.heappush(heap, (-p.excess, nxt))
            nxt += 1
    return list(alive.values())


#: When the greedy cuts stop short of the target, the pieces are halved on to this many times
#: the hull budget and merged back (:func:`.hulls.merge_to_budget`, least added volume first),
#: and that set is kept when its hulls hold less volume: a hollow tube has no single cut that
#: lowers its hull volume (half a ring has half the ring's hull). Measured on husky's parts
#: (summed hull volume / solid at 32 and 64 pieces; factor 0 = greedy only): user rail 1.78 /
#: 1.40 greedy, 1.54 / 1.33 at 2, 1.55 / 1.33 at 4, 1.58 / 1.34 at 8; top plate at 32: 1.35,
#: 1.06, 1.04, 1.04; the CPU seconds grow with the factor (user rail at 64: 1.1, 1.9, 2.3, 2.8).
OVERCUT_FACTOR = 4


def plane_cut_pieces(mesh: Mesh, max_pieces: int, *, target_ratio: float = 1.1,
                     budget=None) -> list[np.ndarray] | None:
    """Closed pieces of ``mesh`` whose convex hulls follow its volume (module docstring).

    Args:
        mesh: the part's closed surface (a valid manifold; metres, asset frame).
        max_pieces: at most this many pieces (the hull budget), >= 1.
        target_ratio: stop once the pieces' summed hull volume is at most this times the
            solid's (the certificate's bound is 1.35; a little below leaves room for the vertex
            reduction's bulge).
        budget: a :class:`n4d4d.budget.Budget` whose CPU seconds, once spent, stop the cutting
            (the pieces so far are returned), or None.

    Returns:
        The pieces' vertices, one ``(n, 3) float64`` array per piece (their convex hulls are
        the colliders: :func:`.hulls.reduce_hull`), or None when ``mesh`` is not a valid closed
        manifold (manifold3d refuses it) or has no volume.
    """
    solid = _manifold(mesh.vertices, mesh.faces)
    if solid is None or solid.volume() <= 0:
        return None
    total = float(solid.volume())
    pieces = pieces_of(solid, MIN_PIECE_FRACTION * total)
    if not pieces:
        return None
    return refine_pieces(pieces, total, max_pieces, target_ratio=target_ratio, budget=budget)


def refine_pieces(pieces: list, total: float, max_pieces: int, *, target_ratio: float = 1.1,
                  budget=None) -> list[np.ndarray]:
    """The cutting of :func:`plane_cut_pieces` from given closed pieces: the greedy plane cuts,
    then, when they stop short of ``target_ratio``, the halving to :data:`OVERCUT_FACTOR` times
    ``max_pieces`` and the merge back, whichever holds less hull volume.

    Args:
        pieces: :class:`_Piece` s (manifold3d solids; :func:`pieces_of` makes them).
        total: the solid's volume (m^3). max_pieces, target_ratio, budget: as
            :func:`plane_cut_pieces`.

    Returns:
        The pieces' vertices, one ``(n, 3) float64`` array per piece.
    """
    floor = MIN_PIECE_FRACTION * total
    hull_sum = sum(p.hull_volume for p in pieces)
    heap = [(-p.excess, k) for k, p in enumerate(pieces)]
    heapq.heapify(heap)
    alive = {k: p for k, p in enumerate(pieces)}
    nxt = len(pieces)
    while heap and len(alive) < max_pieces and hull_sum > target_ratio * total:
        if budget is not None and budget.cpu_left() <= 0:
            break
        _, k = heapq.heappop(heap)
        piece = alive[k]
        cut = _best_cut(piece, max_pieces - len(alive), floor)
        if cut is None:
            continue  # no plane helps this piece: it stays whole, the next worst is tried
        parts, v = cut
        del alive[k]
        hull_sum += v - piece.hull_volume
        for p in parts:
            alive[nxt] = p
            heapq.heappush(heap, (-p.excess, nxt))
            nxt += 1
    greedy = list(alive.values())
    if hull_sum <= target_ratio * total or max_pieces < 2 or (budget is not None and budget.cpu_left() <= 0):
        return [p.points for p in greedy]
    from .hulls import merge_to_budget

    fine = _overcut(greedy, OVERCUT_FACTOR * max_pieces, target_ratio, floor, budget)
    merged = merge_to_budget([Mesh(p.points, np.zeros((0, 3), np.int64)) for p in fine], max_pieces, 10 ** 9)
    merged_sum = sum(float(_hull_volume(h.vertices)) for h in merged)
    return [np.asarray(h.vertices) for h in merged] if merged_sum < hull_sum else [p.points for p in greedy]


def pieces_of(solid, floor: float) -> list:
    """The connected components of a manifold3d solid above ``floor`` m^3, as :class:`_Piece` s."""
    return [_Piece(c) for c in solid.decompose() if c.volume() > floor]


def _hull_volume(points: np.ndarray) -> float:
    from .hulls import _qhull

    h = _qhull(np.asarray(points, dtype=np.float64))
    return 0.0 if h is None else float(h.volume)
