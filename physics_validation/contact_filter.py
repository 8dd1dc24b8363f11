"""Link pairs that cannot touch while their joints stay in range: contact tests a simulation may skip.

A many-part object (a camera with 20 buttons, each with its own convex hulls) hands Newton's
collision pipeline thousands of shape pairs (102417: 19,164 over four placements), most of them
between parts that sit centimetres apart on the same body. Those pairs can never touch while
the joints hold: a button moves only through its own joint (and the joints above it), within
the joint's limits, so the set of places its hulls can reach relative to the root part is
bounded. (Measured on 102417 once the contact gap is 1 cm, :data:`._newton_sim.CONTACT_GAP_M`:
skipping them makes a step only 6% cheaper, so :func:`.newton_check.check_newton` leaves this
off by default.)

:func:`clear_pairs` proves it pair by pair, kinematically, for any motion of the root:

- each link's *swept box* is the axis-aligned box, in the rest frame of its tree's root part,
  of its hull vertices over every configuration of the movable joints between it and the root,
  each over its limits widened by :data:`SLACK_RAD` / :data:`SLACK_M` (continuous joints: the
  whole turn). The box is taken over a grid of :data:`SAMPLES` coordinates per joint and grown
  by the grid's worst-case error: a vertex at distance r from a revolute axis moves at most
  ``r dq`` for ``dq`` of the joint, and every configuration is within half a grid step of a
  grid point in each coordinate (the distances used are invariant under the chain's motion or
  bounded by the triangle inequality through the pivots, see :func:`swept_boxes`);
- two non-adjacent links of the same tree whose swept boxes stay more than ``2 pad_m`` apart
  along some axis cannot touch while every vertex stays within ``pad_m`` of its box;
- links with more than :data:`MAX_CHAIN` movable joints above them, and links of different
  trees (separate free bodies), are never filtered (their reach is not bounded this way).

The premise (joints within their widened limits, joints not pulled apart) is the engine's
promise, not a proof, so the caller verifies it after the run: :func:`excursion` measures, on
every recorded state of a trajectory, how far any link's hull vertex went outside its swept box
(in the root's frame). Within ``pad_m`` the skipped pairs were apart at every recorded state
(between two recorded states, one step apart in pairs, a vertex would have to leave the padded
box and come back); beyond it the run is void and must be repeated without the filter
(:func:`.newton_check.check_newton` does). Adjacent links (parent and child, welded
neighbours) are not this module's business: the exported file filters them already.

This module only computes pairs and measures trajectories; it does not simulate.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from .rigid_model import RigidModel, link_transforms

#: Revolute limits are widened by this (rad) for the swept boxes: XPBD's limit constraint is
#: solved iteratively and a drop can push a joint a little past its stop.
SLACK_RAD = 0.05

#: Prismatic limits are widened by this (m), for the same reason.
SLACK_M = 0.002

#: A skipped pair's swept boxes are more than twice this apart (m); a run is valid when no
#: hull vertex left its link's swept box by more than this (2 mm: ten times the sub-0.2 mm
#: joint drift measured at rest on the test shapes, far below any part's size).
PAD_M = 0.002

#: Grid coordinates per joint (limits included) for the swept boxes.
SAMPLES = 17

#: Links with more movable joints than this between them and their root are never filtered
#: (the grid grows as SAMPLES ** joints).
MAX_CHAIN = 2


@dataclass(frozen=True)
class ClearPairs:
    """Link pairs proven apart while joints stay in range (module docstring).

    Attributes:
        pairs: link index pairs ``(i, j)``, i < j, whose contact tests may be skipped.
        roots: ``(L,) int`` index of each link's tree root.
        boxes: ``(L, 2, 3) float64`` swept box (low, high) of each link in its root's rest
            frame (m); ``+-inf`` where unbounded.
        vertices: per link, ``(n, 3) float64`` its hulls' vertices in the asset frame at rest (m).
        pad_m: the clearance the pairs were proven with (m).
        coaxial: non-adjacent link pairs not in ``pairs`` that each turn about one revolute
            joint on a common axis line, ``(i, j) -> (point (3,), unit direction (3,))`` in the
            root's rest frame: their shapes are tested shape by shape
            (:func:`skipped_shape_pairs`).
    """

    pairs: tuple[tuple[int, int], ...]
    roots: np.ndarray
    boxes: np.ndarray
    vertices: tuple[np.ndarray, ...]
    pad_m: float
    coaxial: dict = None


def _vertices(model: RigidModel, i: int) -> np.ndarray:
    """The link's hull vertices reduced to their convex hull's (the same convex set)."""
    hulls = model.links[i].hulls
    pts = np.vstack([h.vertices for h in hulls]).astype(np.float64) if hulls else np.zeros((0, 3))
    if len(pts) > 8:
        from scipy.spatial import ConvexHull, QhullError

        try:
            pts = pts[ConvexHull(pts).vertices]
        except (QhullError, ValueError):  # flat or degenerate: keep every vertex
            pass
    return pts


def _chain(model: RigidModel, i: int) -> tuple[list[int], int]:
    """The links whose joints are movable between link ``i`` and its root (nearest first), and the root."""
    out, k = [], i
    while model.links[k].parent >= 0:
        if model.links[k].joint.type != "fixed":
            out.append(k)
        k = model.links[k].parent
    return out, k


def _grid(joint) -> tuple[np.ndarray, float, bool]:
    """Grid coordinates over the widened range, the grid step, and whether it is angular."""
    angular = joint.type != "prismatic"
    lo, hi = float(joint.lower), float(joint.upper)
    if joint.type == "continuous" or not np.isfinite([lo, hi]).all() or (angular and hi - lo + 2 * SLACK_RAD >= 2 * np.pi):
        q = np.linspace(-np.pi, np.pi, SAMPLES)
    else:
        s = SLACK_RAD if angular else SLACK_M
        q = np.linspace(lo - s, hi + s, SAMPLES)
    return q, float(q[1] - q[0]), angular


def swept_boxes(model: RigidModel) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Each link's swept box in its root's rest frame (module docstring).

    The grid error: for a chain of movable joints ``j_1`` (the link's own, nearest) ... ``j_k``
    with pivots ``o_1 .. o_k`` (rest, asset frame), a vertex's distance to ``o_1`` is fixed by
    the chain's motion, and its distance to ``o_m`` is at most ``max |p - o_1| + sum
    |o_l - o_(l+1)|`` (l < m), plus the travel of any prismatic joint among them: each of
    those distances is fixed by the motion. A revolute
    joint's half step ``dq / 2`` then moves a vertex at most that radius times ``dq / 2``, a
    prismatic one ``dq / 2``; the box of the grid is grown by the sum.

    Returns:
        ``(roots (L,) int, boxes (L, 2, 3) float64 (m; +-inf where the chain is longer than
        MAX_CHAIN), vertices per link (asset frame, m))``.
    """
    L = len(model.links)
    roots = np.zeros(L, dtype=int)
    boxes = np.tile(np.array([[-np.inf] * 3, [np.inf] * 3]), (L, 1, 1))
    verts = tuple(_vertices(model, i) for i in range(L))
    cache: dict[tuple[int, ...], list] = {}
    for i in range(L):
        chain, roots[i] = _chain(model, i)
        if len(chain) > MAX_CHAIN or not len(verts[i]):
            continue
        grids = [_grid(model.links[k].joint) for k in chain]
        key = tuple(chain)
        if key not in cache:
            names = [model.links[k].joint.name for k in chain]
            cache[key] = [link_transforms(model, dict(zip(names, map(float, q))))
                          for q in product(*(g[0] for g in grids))]
        p = verts[i]
        lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
        for tf in cache[key]:
            R, t = tf[i]
            Rr, tr = tf[roots[i]]  # the root at rest is the identity unless it was moved: undo it anyway
            x = (p @ R.T + t - tr) @ Rr
            lo, hi = np.minimum(lo, x.min(axis=0)), np.maximum(hi, x.max(axis=0))
        err, reach = 0.0, float(np.linalg.norm(p - model.links[chain[0]].origin, axis=1).max()) if chain else 0.0
        for m, (k, (q, dq, angular)) in enumerate(zip(chain, grids)):
            if m:
                reach += float(np.linalg.norm(model.links[chain[m - 1]].origin - model.links[k].origin))
            err += (reach if angular else 1.0) * dq / 2
            if not angular:  # a slide moves the link away from the pivots above it by its travel
                reach += float(np.abs(q).max())
        boxes[i] = [lo - err, hi + err]
    return roots, boxes, verts


def clear_pairs(model: RigidModel, pad_m: float = PAD_M) -> ClearPairs:
    """The non-adjacent link pairs of one tree whose swept boxes are more than ``2 pad_m`` apart.

    Args:
        model: the links (hulls in the asset frame, joints with limits).
        pad_m: clearance (m): the pair's boxes are apart by more than twice this, and a run is
            valid while :func:`excursion` stays within it.

    Returns:
        :class:`ClearPairs` (empty ``pairs`` for a single link or when nothing is provably apart).
    """
    roots, boxes, verts = swept_boxes(model)
    pairs, coaxial = [], {}
    for i, j in model.non_adjacent_pairs():
        if roots[i] != roots[j]:
            continue
        gap = np.maximum(boxes[j][0] - boxes[i][1], boxes[i][0] - boxes[j][1])
        if np.isfinite(gap).all() and gap.max() > 2 * pad_m:
            pairs.append((i, j))
        elif (axis := _common_axis(model, i, j)) is not None:
            coaxial[(i, j)] = axis
    return ClearPairs(tuple(pairs), roots, boxes, verts, float(pad_m), coaxial)


def _hinge(model: RigidModel, i: int):
    """``(point, unit axis)`` of link ``i``'s joint when it is the only movable joint between
    the link and its root and it turns (revolute or continuous), else None."""
    from n4d4d.kinematics import unit_axis

    chain, _ = _chain(model, i)
    if chain != [i] or model.links[i].joint.type not in ("revolute", "continuous"):
        return None
    return np.asarray(model.links[i].origin, np.float64), unit_axis(model.links[i].joint)


def _common_axis(model: RigidModel, i: int, j: int):
    """The axis line links ``i`` and ``j`` both turn about (each its only movable joint), or None.
    Collinear within :data:`AXIS_TOL`: the offset's effect is below a micrometre for parts of
    a metre, far inside the pad."""
    a, b = _hinge(model, i), _hinge(model, j)
    if a is None or b is None:
        return None
    (o1, u1), (o2, u2) = a, b
    d = o2 - o1
    if np.linalg.norm(np.cross(u1, u2)) > AXIS_TOL or np.linalg.norm(d - (d @ u1) * u1) > AXIS_TOL:
        return None
    return o1, u1


#: Two hinge axes count as one line when their directions differ by under this (rad) and
#: their pivots lie within this (m) of one line.
AXIS_TOL = 1e-6


def annuli(points: list[np.ndarray], axis) -> np.ndarray:
    """``(S, 4)`` ``(z_low, z_high, r_low, r_high)`` (m) of each convex shape (its vertices
    ``points[s]`` ``(n, 3)``, root rest frame) about ``axis`` ``(point, unit direction)``: the
    solid of revolution every turn of the shape about the axis stays in. z is linear and r convex
    over the shape, so ``z`` and ``r_high`` come from the vertices; ``r_low`` is the distance
    from the axis to the shape's projection on a plane normal to it (a convex polygon, 0 when
    the axis pierces it)."""
    from scipy.spatial import ConvexHull, QhullError

    o, u = axis
    e1 = np.cross(u, [1.0, 0.0, 0.0] if abs(u[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(u, e1)
    out = np.zeros((len(points), 4))
    for s, p in enumerate(points):
        x = np.asarray(p, np.float64) - o
        z, xy = x @ u, np.column_stack([x @ e1, x @ e2])
        r = np.linalg.norm(xy, axis=1)
        rlo = 0.0
        try:
            hull = ConvexHull(xy)
            eq = hull.equations  # a.x + b <= 0 inside
            if (eq[:, 2] > 0).any():  # the axis (origin) is outside the polygon: distance to its edges
                v = xy[hull.vertices]
                w = np.roll(v, -1, axis=0) - v
                tt = np.clip(-(v * w).sum(axis=1) / np.maximum((w * w).sum(axis=1), 1e-300), 0.0, 1.0)
                rlo = float(np.linalg.norm(v + tt[:, None] * w, axis=1).min())
        except (QhullError, ValueError):  # a flat projection: its segment's nearest point bounds it
            rlo = 0.0
        out[s] = (z.min(), z.max(), rlo, r.max())
    return out


def skipped_shape_pairs(clear: ClearPairs, pairs: np.ndarray, shape_link: np.ndarray,
                        shape_points: list[np.ndarray]) -> np.ndarray:
    """Which candidate shape pairs need no contact test.

    Args:
        clear: :func:`clear_pairs` of the model.
        pairs: ``(P, 2) int`` shape indices of one world. shape_link: ``(S,) int`` each shape's
            link index in the model (-1: no link, e.g. the ground).
        shape_points: per shape, ``(n, 3)`` its vertices in the asset frame at rest (m).

    Returns:
        ``(P,) bool``: the pair's links are in ``clear.pairs``, or they are coaxial
        (``clear.coaxial``) and the two shapes' annuli (:func:`annuli`) are more than ``2 pad_m``
        apart in z or in r.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    la, lb = shape_link[pairs[:, 0]], shape_link[pairs[:, 1]]
    lo, hi = np.minimum(la, lb), np.maximum(la, lb)
    n = max(len(clear.roots), 1)
    skip = np.isin(lo * n + hi, np.array([i * n + j for i, j in clear.pairs], dtype=np.int64)) & (lo >= 0)
    for (i, j), axis in (clear.coaxial or {}).items():
        rows = np.nonzero((lo == i) & (hi == j))[0]
        if not len(rows):
            continue
        shapes = np.unique(pairs[rows])
        ann = dict(zip(shapes.tolist(), annuli([shape_points[s] for s in shapes], axis)))
        A = np.array([ann[s] for s in pairs[rows, 0]])
        B = np.array([ann[s] for s in pairs[rows, 1]])
        gap = np.maximum.reduce([B[:, 0] - A[:, 1], A[:, 0] - B[:, 1], B[:, 2] - A[:, 3], A[:, 2] - B[:, 3]])
        skip[rows] = gap > 2 * clear.pad_m
    return skip


def _root_frame(clear: ClearPairs, i: int, pos, Rt, R0, c0, placement) -> np.ndarray:
    """``(T, n, 3)`` link ``i``'s hull vertices over a run in its root's rest frame (:func:`excursion`)."""
    P, t = placement
    r = int(clear.roots[i])
    D_i = Rt[:, i] @ R0[i].T  # (T, 3, 3) rotation since the placed pose
    D_r = Rt[:, r] @ R0[r].T
    A = clear.vertices[i] @ P.T + t - c0[i]  # X0 - c_i0, (n, 3)
    x = pos[:, i, None, :] + np.einsum("tab,nb->tna", D_i, A)
    y = c0[r] + np.einsum("tba,tnb->tna", D_r, x - pos[:, r, None, :])  # D_r^T (x - c_r)
    return (y - t) @ P  # R^T (y - t), row vectors


def _motion(positions, quats, placed_positions, placed_quats, placement):
    from scipy.spatial.transform import Rotation

    from n4d4d.conventions import wxyz_to_xyzw

    def rot(q):  # (..., 4) wxyz -> (..., 3, 3)
        return Rotation.from_quat(wxyz_to_xyzw(q.reshape(-1, 4))).as_matrix().reshape(*q.shape[:-1], 3, 3)

    return (np.asarray(positions, np.float64), rot(np.asarray(quats, np.float64)),
            rot(np.asarray(placed_quats, np.float64)), np.asarray(placed_positions, np.float64),
            tuple(np.asarray(a, np.float64) for a in placement))


def _deviation(clear: ClearPairs, i: int, rest: np.ndarray, Rt, R0, placement, axis) -> np.ndarray:
    """``(T,)`` largest distance of link ``i``'s vertices (``rest``, root rest frame) from the
    vertices turned about ``axis`` by the link's twist angle relative to its root."""
    from scipy.spatial.transform import Rotation

    from n4d4d.kinematics import axis_angle_matrix

    P = placement[0]
    r = int(clear.roots[i])
    D_i, D_r = Rt[:, i] @ R0[i].T, Rt[:, r] @ R0[r].T
    M = np.einsum("ba,tbc,cd->tad", P, np.einsum("tba,tbc->tac", D_r, D_i), P)  # R^T D_r^T D_i R
    q = Rotation.from_matrix(M).as_quat()  # (x, y, z, w)
    o, u = axis
    theta = 2.0 * np.arctan2(q[:, :3] @ u, q[:, 3])  # twist about the axis
    ideal = np.einsum("tab,nb->tna", axis_angle_matrix(u, theta), clear.vertices[i] - o) + o
    return np.linalg.norm(rest - ideal, axis=-1).max(axis=1)


def excursion(clear: ClearPairs, positions: np.ndarray, quats: np.ndarray, placed_positions: np.ndarray,
              placed_quats: np.ndarray, placement: tuple[np.ndarray, np.ndarray]) -> float:
    """How far (m) a link of a skipped pair strayed from what the joint-range proof assumed, over a run.

    A rest vertex ``p`` is placed at ``X0 = R p + t``; link i's recorded rigid motion (COM
    ``c_i``, rotation ``D_i`` since the placed pose) carries it to ``x = c_i + D_i (X0 - c_i0)``;
    in its root r's placed frame that is ``y = c_r0 + D_r^T (x - c_r)``, and in the root's rest
    frame ``R^T (y - t)``. For a link of ``clear.pairs`` the measure is the distance of that
    point outside the link's swept box (per axis); for a link of a coaxial pair, its distance
    from the vertex turned about the axis by the link's twist angle (the motion the annuli
    assume). A rigid motion's displacement is convex in the point, so the hull vertices bound
    it over the whole link. Within ``clear.pad_m`` the joint-range proof holds for the run;
    :func:`unproven` asks the weaker question the filter needs.

    Args:
        clear: :func:`clear_pairs` of the model simulated.
        positions: ``(T, L, 3)`` COM positions (m), links in model order. quats: ``(T, L, 4)``
            orientations (w, x, y, z). placed_positions: ``(L, 3)``, placed_quats ``(L, 4)``:
            the placed pose before the first step (the trajectory's).
        placement: ``(R (3, 3), t (3,))`` of the run, ``x_world = R x_file + t``.

    Returns:
        The largest such distance over every recorded state (0 when nothing strayed; ``inf``
        for a state that is not finite).
    """
    boxed = sorted({i for p in clear.pairs for i in p})
    axes = {i: ax for pair, ax in (clear.coaxial or {}).items() for i in pair}
    links = sorted(set(boxed) | set(axes))
    if not links:
        return 0.0
    pos, Rt, R0, c0, placement = _motion(positions, quats, placed_positions, placed_quats, placement)
    if not (np.isfinite(pos[:, links]).all() and np.isfinite(Rt[:, links]).all()):
        return float("inf")
    worst = 0.0
    for i in links:
        rest = _root_frame(clear, i, pos, Rt, R0, c0, placement)
        if i in boxed:
            lo, hi = clear.boxes[i]
            worst = max(worst, float(np.maximum(np.maximum(lo - rest, rest - hi), 0.0).max()))
        if i in axes:
            worst = max(worst, float(_deviation(clear, i, rest, Rt, R0, placement, axes[i]).max()))
    return worst


def unproven(clear: ClearPairs, positions: np.ndarray, quats: np.ndarray, placed_positions: np.ndarray,
             placed_quats: np.ndarray, placement: tuple[np.ndarray, np.ndarray]) -> list[tuple[int, int]]:
    """The skipped pairs a run does not show apart: the run is valid when this is empty.

    The question the filter needs is not whether the joints held (:func:`excursion`) but
    whether a skipped pair came near touching. On every recorded state (links posed in their
    root's rest frame, as in :func:`excursion`):

    - a pair of ``clear.pairs`` is apart when the boxes of the two links' posed hull vertices
      (each hull lies in its box) are apart along some axis by more than the largest distance
      either link's vertices moved between this state and its neighbours (the motion between
      two recorded states, one step apart, is taken to be no larger);
    - a coaxial pair is apart when the two links' deviations from a turn about the axis
      (:func:`excursion`'s measure), with the same motion to the neighbouring states, add up
      to less than ``2 pad_m``, the least annulus gap of the shape pairs skipped (r and z
      move by no more than a point does).

    Args: as :func:`excursion`.

    Returns:
        Link pairs ``(i, j)`` (of ``clear.pairs`` or ``clear.coaxial``) not shown apart on some
        state; every pair when a state is not finite.
    """
    boxed = sorted({i for p in clear.pairs for i in p})
    axes = {i: ax for pair, ax in (clear.coaxial or {}).items() for i in pair}
    links = sorted(set(boxed) | set(axes))
    everything = list(clear.pairs) + list(clear.coaxial or {})
    if not links:
        return []
    pos, Rt, R0, c0, placement = _motion(positions, quats, placed_positions, placed_quats, placement)
    if not (np.isfinite(pos[:, links]).all() and np.isfinite(Rt[:, links]).all()):
        return everything
    lo, hi, step, dev = {}, {}, {}, {}
    for i in links:
        rest = _root_frame(clear, i, pos, Rt, R0, c0, placement)
        lo[i], hi[i] = rest.min(axis=1), rest.max(axis=1)  # (T, 3)
        moved = np.linalg.norm(np.diff(rest, axis=0), axis=-1).max(axis=1) if len(rest) > 1 else np.zeros(0)
        step[i] = np.maximum(np.append(moved, 0.0), np.insert(moved, 0, 0.0))  # (T,) either side
        if i in axes:
            dev[i] = _deviation(clear, i, rest, Rt, R0, placement, axes[i])
    out = []
    for i, j in clear.pairs:
        gap = np.maximum(lo[j] - hi[i], lo[i] - hi[j]).max(axis=1)  # (T,)
        if not (gap > step[i] + step[j]).all():
            out.append((i, j))
    for i, j in clear.coaxial or {}:
        if not (dev[i] + dev[j] + step[i] + step[j] < 2 * clear.pad_m).all():
            out.append((i, j))
    return out


def without(clear: ClearPairs, pairs: list[tuple[int, int]]) -> ClearPairs:
    """``clear`` less the link pairs ``pairs`` (those to be tested again)."""
    from dataclasses import replace

    drop = set(pairs)
    return replace(clear, pairs=tuple(p for p in clear.pairs if p not in drop),
                   coaxial={p: a for p, a in (clear.coaxial or {}).items() if p not in drop})
