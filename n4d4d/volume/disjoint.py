"""Part solids that do not overlap: neighbouring closed part meshes made disjoint with a clearance.

After rigging, every part mesh is closed (watertight), but parts closed one by one overlap where
the input's parts touch or where closing thickened them (PartNet storage furniture: a cabinet
body closed across its front opening swallows 14 % of its door). Simulators then push the
overlapping parts apart with huge joint forces. :func:`make_disjoint` removes every overlap,
and every contact closer than ``clearance``, by exact mesh booleans (manifold3d, the Manifold library:
guaranteed-manifold output):

- every pair of parts whose solids overlap or come closer than ``clearance`` (measured with
  ``Manifold.min_gap``) is separated, adjacent (joined by a joint) or not;
- one part of the pair is cut: ``A <- A - dilate(B, clearance)``. Which one (``cut``):
  ``"larger"`` (default) cuts the part of larger volume, the one the overlap is the smaller
  fraction of, so a door keeps its thickness and the cabinet body gets the pocket the door sits
  in (on PartNet 40147 cutting the door would take 14 % of it, cutting the body 0.6 %);
  ``"child"`` cuts the joint's child (the larger part for a pair without a joint);
- ``dilate`` is the Minkowski sum with the axis-aligned cube of half side ``r``, which contains
  the ball of radius ``r``, so the Euclidean gap left is at least ``r``; it is built where it
  can reach ``A`` only (:func:`dilate_near`: each near triangle's sum with the cube is the
  convex hull of 24 points). ``r = clearance * (1 + 2 * SIMPLIFY_FRACTION)``, and the cut part
  is then simplified with tolerance ``SIMPLIFY_FRACTION * clearance`` (``Manifold.simplify``:
  the pocket's many small faces merged), so two simplified neighbours still keep
  ``clearance``; the gap left is measured (``Manifold.min_gap``) and the cut redone wider once
  if it falls short;
- a cut part stays one closed manifold solid: its connected pieces (``Manifold.decompose``)
  smaller than :data:`SLIVER_FRACTION` of its volume before the cut are dropped (internal voids
  are kept); if nothing but slivers would remain, the part is kept as it was and a note says so.

Each part is cut once, by all the parts it must clear at once (one boolean against the union
of their dilations: a remote's body is not cut 57 times for 57 buttons).

Figures (JSON): the clearance, every separated pair's overlap volume (m^3, and as a fraction
of the smaller part), its depth (``2 V / A`` of the intersection solid: a slab's thickness) and
gap before and after and which part was cut; per cut part the parts that cut it, how each was
dilated on each attempt (``dilations``: a second word means the cut was redone), the volume
removed against the overlaps it had (``overlap_m3``: the rest is the clearance layer, or an
over-cut), slivers dropped and pieces left; the sum of part volumes before
and after against the union of the parts before and against the asset's watertight visual
volume; each joint pivot's distance to its two parts (0 inside) before and after.

What it does not: close open part meshes (rigging does), move parts, or touch the visual mesh:
a part keeps its ``face_indices`` into ``Asset.visual`` (its look), while its ``mesh`` (what the
collision, mass and physics stages use) is the cut solid.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Literal, Sequence

import numpy as np

from n4d4d.asset import Asset, Joint, Mesh, Part, StageRecord

#: A connected piece of a cut part below this fraction of the part's volume before the cut is a
#: sliver (a thin rim left between a pocket and the outside) and is dropped.
SLIVER_FRACTION = 0.01
#: Simplification tolerance of a cut part, as a fraction of the clearance; the dilation is
#: enlarged by twice this so two simplified neighbours still keep the clearance.
SIMPLIFY_FRACTION = 0.05
#: A hinge pivot (revolute, continuous joint) is still "near" a part when its distance to the
#: part's solid grew by at most the larger of this many clearances (a pocket moves a surface back
#: by about one clearance, up to sqrt(3) of the dilation on a slanted face) and
#: :data:`PIVOT_NEAR_FRACTION` of the child's bounding-box diagonal (a pivot that sat in the
#: overlap is left inside one part only: 4.6 mm from PartNet 40147's body, whose door is 1 m).
PIVOT_SLACK_CLEARANCES = 3.0
#: Up to this many triangles of a part near the part it cuts are dilated one by one (a convex
#: hull each, about 2-5 ms apiece); a part with more is simplified first (:func:`dilate_near`).
EXACT_TRIANGLES = 2000
#: A part with at least this fraction of its convex hull's volume is dilated as its hull (one
#: convex hull of 8 V points instead of one per triangle): a button, a knob, a door panel.
CONVEX_FRACTION = 0.95
#: A part with too many near faces to dilate one by one is dilated as its hull when the hull
#: takes at most this fraction of the cut part's volume more than the part itself.
HULL_OVERCUT_FRACTION = 0.01
PIVOT_NEAR_FRACTION = 0.01
#: :func:`dilate_near`'s words for a dilation by the convex hull (the widest it makes)
HULL_DILATIONS = ("hull", "convex hull", "hull of many faces")


def to_manifold(mesh: Mesh):
    """``manifold3d.Manifold`` of a closed :class:`Mesh` (m), or None when manifold3d rejects
    it (not closed, not manifold) or it is empty."""
    import manifold3d as mf

    m = mf.Manifold(mf.Mesh64(vert_properties=np.array(mesh.vertices, np.float64, order="C"),
                              tri_verts=np.array(mesh.faces, np.uint64, order="C")))
    return m if m.status() == mf.Error.NoError and not m.is_empty() else None


def from_manifold(m, like: Mesh) -> Mesh:
    """The :class:`Mesh` of manifold ``m`` (outward-oriented triangles), keeping ``like``'s base
    colour (per-vertex attributes do not survive a boolean)."""
    out = m.to_mesh64()
    return Mesh(vertices=np.asarray(out.vert_properties, np.float64)[:, :3],
                faces=np.asarray(out.tri_verts, np.int64), base_color=like.base_color)


def _arrays(m) -> tuple[np.ndarray, np.ndarray]:
    out = m.to_mesh64()
    return (np.ascontiguousarray(np.asarray(out.vert_properties, np.float64)[:, :3]),
            np.ascontiguousarray(np.asarray(out.tri_verts, np.int64)))


def _signed_distance(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Signed distance ``(P,) float64`` (m, negative inside) from ``points (P, 3)`` to the closed
    solid ``(vertices (V, 3) float64, faces (F, 3) int64)``, a manifold3d output (closed,
    edge-manifold, outward-oriented, not self-intersecting).

    The sign is libigl's angle-weighted pseudonormal test (Baerentzen and Aanaes 2005, "Signed
    distance computation using the angle weighted pseudonormal"), exact for such a mesh and a
    few times cheaper than libigl's default generalized winding number (Jacobson et al. 2013),
    which it matches on every manifold3d solid (``tests/test_cost_disjoint.py``); the unsigned
    distance is the same AABB-tree closest point in both."""
    import igl

    return igl.signed_distance(np.ascontiguousarray(points, np.float64), vertices, faces,
                               sign_type=igl.SignedDistanceType.SIGNED_DISTANCE_TYPE_PSEUDONORMAL)[0]


def _near_triangles(b, a, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Corners ``(T, 3, 3)`` of the triangles of ``b`` that a cube of half side ``r`` around
    them can reach ``a`` from: vertices within ``sqrt(3) r`` plus the longest edge of ``a``, or
    inside it; and the longest edge ``(T,)`` (m)."""
    vb, fb = _arrays(b)
    va, fa = _arrays(a)
    dist = _signed_distance(vb, va, fa)  # negative inside a
    tri = vb[fb]
    longest = np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=2).max(axis=1)
    near = dist[fb].min(axis=1) <= np.sqrt(3.0) * r + longest
    return tri[near], longest[near]


def dilate_near(b, a, r: float, hull_only: bool = False, how: list | None = None):
    """``b`` grown by the cube ``[-r, r]^3`` (m, the Minkowski sum) wherever that can reach the
    solid ``a``: ``b`` united with, for each triangle of ``b`` near ``a``, the hull of the
    triangle's corners moved to the cube's 8 corners (the triangle's Minkowski sum with the
    cube: exact, whatever the part's thickness).

    A nearly convex ``b`` (at least :data:`CONVEX_FRACTION` of its convex hull's volume) is
    dilated as its hull: the hull of the hull's vertices moved to the cube's corners, exact for
    the hull, which covers ``b`` and at most 5 % more.

    Over :data:`EXACT_TRIANGLES` near triangles, ``b``'s hull is used all the same when it
    takes at most :data:`HULL_OVERCUT_FRACTION` of ``a``'s volume more than ``b`` itself (a
    hollow button closed as a thin shell, 20,000 faces: its pocket is the button's outline);
    otherwise ``b`` is first simplified with tolerance
    ``tau`` (``Manifold.simplify``; 0.5, 2, 8, 32 clearances in turn, until few enough) and
    dilated by ``r + tau``, which still contains the exact dilation: a wider gap there, at a
    bounded cost. ``hull_only``: the hull's dilation whatever ``b`` is (it contains the exact
    one: the fallback when a simplification moved a surface more than its tolerance). Returns
    ``(manifold, tau)``; ``how``, if a list, gets one word appended: which dilation was used
    (``"hull"``, ``"convex hull"``, ``"hull of many faces"``, ``"exact"``, ``"simplified"``,
    ``"none near"``)."""
    import manifold3d as mf

    hull = b.hull()
    vh, _ = _arrays(hull)
    corners = np.array([[x, y, z] for x in (-r, r) for y in (-r, r) for z in (-r, r)])
    hull_dilated = mf.Manifold.hull_points((vh[:, None, :] + corners[None]).reshape(-1, 3))
    how = [] if how is None else how
    if hull_only or b.volume() >= CONVEX_FRACTION * hull.volume():  # a knob, a button, a door panel
        how.append("hull" if hull_only else "convex hull")
        return hull_dilated, 0.0
    tau, src = 0.0, b
    tri, _ = _near_triangles(src, a, r)
    if len(tri) > EXACT_TRIANGLES:  # many near faces: the hull, if it takes little more of a
        extra = (a ^ hull).volume() - (a ^ b).volume()
        if extra <= HULL_OVERCUT_FRACTION * a.volume():
            how.append("hull of many faces")
            return hull_dilated, 0.0
    for factor in (0.5, 2.0, 8.0, 32.0):
        if len(tri) <= EXACT_TRIANGLES:
            break
        tau = factor * r
        src = b.simplify(tau)
        tri, _ = _near_triangles(src, a, r + tau)
    if len(tri) == 0:
        how.append("none near")
        return b, tau
    how.append("simplified" if tau > 0 else "exact")
    g = r + tau
    corners = np.array([[x, y, z] for x in (-g, g) for y in (-g, g) for z in (-g, g)])
    pts = (tri[:, :, None, :] + corners[None, None]).reshape(-1, 24, 3)
    hulls = [mf.Manifold.hull_points(p) for p in pts]
    return mf.Manifold.batch_boolean([b] + hulls, mf.OpType.Add), tau


def _box(lo, hi):
    import manifold3d as mf

    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    return mf.Manifold.cube((hi - lo).tolist()).translate(lo.tolist())


def _bounds(m) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(m.bounding_box(), np.float64)
    return b[:3], b[3:]


def _overlap(a, b) -> tuple[float, float]:
    """Volume (m^3) of ``a`` and ``b``'s intersection and its depth ``2 V / A`` (m)."""
    inter = a ^ b
    vol = float(inter.volume()) if not inter.is_empty() else 0.0
    area = float(inter.surface_area()) if vol > 0 else 0.0
    return vol, (2.0 * vol / area if area > 0 else 0.0)


def _gap(a, b, search: float) -> float:
    """Distance (m) between ``a`` and ``b``, 0 when they overlap, ``search`` when farther."""
    return float(a.min_gap(b, search))


def _cut(a, cutters, clearance: float, volume_before: float):
    """``a`` minus the union of ``dilate_near`` of each of ``cutters``, simplified, slivers
    dropped: ``(result, dropped_m3, pieces, tau, hows, gaps)`` (``tau``: the largest
    simplification tolerance a dilation used, m; ``hows``: per cutter, how it was dilated on each
    attempt; ``gaps``: per cutter, ``_gap(result, cutter, 2 clearance)`` (m) as measured for the
    short check, or None when it was not measured on ``result`` itself: no clearance, or slivers
    dropped after it); ``result`` is None when only slivers would remain. Should the gap left be
    short of ``clearance`` (a simplification that moved a surface more than its tolerance: seen on
    PartNet 40147's drawer at 2.6 mm), the cut is redone once with the convex hulls of the
    cutters it is short of dilated (which contain the exact dilation); not when every cutter it
    is short of was dilated as its hull already (the redo would be the same boolean again)."""
    import manifold3d as mf

    r = clearance * (1.0 + 2.0 * SIMPLIFY_FRACTION)
    tau = 0.0
    short = [False] * len(cutters)
    grown = [None] * len(cutters)
    hows = [[] for _ in cutters]  # per cutter, how it was dilated on each attempt (figures)
    gaps = [None] * len(cutters)
    for _ in range(2):
        if r == 0:
            out = a - mf.Manifold.batch_boolean(list(cutters), mf.OpType.Add)
            break
        grown = [dilate_near(b, a, r, hull_only=True, how=h) if s else (g or dilate_near(b, a, r, how=h))
                 for b, s, g, h in zip(cutters, short, grown, hows)]
        tau = max(t for _, t in grown)
        out = (a - mf.Manifold.batch_boolean([g for g, _ in grown], mf.OpType.Add)).simplify(
            SIMPLIFY_FRACTION * clearance)
        if out.is_empty():
            break
        gaps = [_gap(out, b, 2.0 * clearance) for b in cutters]
        short = [g < clearance for g in gaps]
        if all(h[-1] in HULL_DILATIONS for h, s in zip(hows, short) if s):
            break  # nothing short, or the hull already (the widest dilation): no redo
    if out.is_empty():
        return None, volume_before, 0, tau, hows, [None] * len(cutters)
    solids = [p for p in out.decompose() if p.volume() > 0]  # negative pieces: internal voids
    slivers = [p for p in solids if p.volume() < SLIVER_FRACTION * volume_before]
    kept = len(solids) - len(slivers)
    if kept == 0:
        return None, float(out.volume()), 0, tau, hows, [None] * len(cutters)
    if slivers:
        out = out - mf.Manifold.batch_boolean(slivers, mf.OpType.Add)
        gaps = [None] * len(cutters)
    return out, float(sum(p.volume() for p in slivers)), kept, tau, hows, gaps


def _point_distance(m, point: np.ndarray) -> float:
    """Distance (m) from ``point (3,)`` to the solid ``m``: 0 inside or on it."""
    v, f = _arrays(m)
    s = _signed_distance(np.asarray(point, np.float64).reshape(1, 3), v, f)
    return float(max(s[0], 0.0))  # negative inside


def make_disjoint(parts: Sequence[Part], joints: Sequence[Joint] = (), clearance: float = 5e-4, *,
                  cut: Literal["larger", "child"] = "larger", whole_volume: float | None = None,
                  ) -> tuple[tuple[Part, ...], dict, list[str]]:
    """Make the closed part solids of ``parts`` pairwise disjoint, ``clearance`` apart.

    Args:
        parts: rigid parts whose ``mesh`` is closed (asset frame, m); a part manifold3d rejects
            (not closed or not manifold) is left as it is, with a note.
        joints: the joints between them (pairs joined by one are "adjacent"; pivots checked).
        clearance: smallest gap (m) left between two parts' solids; ``>= 0`` (0 removes
            overlaps only: the parts may touch).
        cut: which part of a pair loses material: ``"larger"`` (the one of larger volume) or
            ``"child"`` (the joint's child; the larger one for a pair without a joint). See the
            module docstring for why ``"larger"`` is the default.
        whole_volume: the asset's watertight volume (m^3, the visual mesh's) that the part
            volumes are compared with, or None.

    Returns:
        ``(parts, figures, notes)``: the parts with cut meshes (same order, names and
        ``face_indices``), JSON figures (see the module docstring) and notes for the report.

    Raises:
        ValueError: negative clearance or unknown ``cut``.
    """
    if clearance < 0:
        raise ValueError(f"part clearance must be >= 0 m, got {clearance}")
    if cut not in ("larger", "child"):
        raise ValueError(f"cut must be 'larger' or 'child', got {cut!r}")
    t0 = time.perf_counter()
    notes: list[str] = []
    solids = [to_manifold(p.mesh) for p in parts]
    for p, m in zip(parts, solids):
        if m is None:
            notes.append(f"part {p.name}: its mesh is not a closed manifold, left out of the disjoint step")
    vol0 = [float(m.volume()) if m is not None else 0.0 for m in solids]
    union0 = _union_volume(solids)
    index = {p.name: i for i, p in enumerate(parts)}
    child_of = {}
    for j in joints:
        if j.parent in index and j.child in index:
            child_of[frozenset((index[j.parent], index[j.child]))] = index[j.child]
    pivots_before = _pivots(joints, index, solids)
    search = max(2.0 * clearance, 1e-9)
    pairs, todo = [], {}
    for i, k in _candidate_pairs(solids, search):
        gap = _gap(solids[i], solids[k], search)
        if (clearance > 0 and gap >= clearance) or (clearance == 0 and gap > 0):
            continue
        vol, depth = _overlap(solids[i], solids[k])
        if clearance == 0 and vol <= 0:
            continue
        adjacent = frozenset((i, k)) in child_of
        if cut == "child" and adjacent:
            target = child_of[frozenset((i, k))]
        else:
            target = i if vol0[i] >= vol0[k] else k
        todo.setdefault(target, []).append(k if target == i else i)
        pairs.append({"parts": [parts[i].name, parts[k].name], "adjacent": adjacent, "overlap_before_m3": vol,
                      "overlap_before_fraction": vol / max(min(vol0[i], vol0[k]), 1e-300),
                      "overlap_depth_before_m": depth, "gap_before_m": gap, "cut": parts[target].name})
    # each part is cut once, by all the parts it must clear (as they were: a cutter that is cut
    # itself only shrinks, so the gaps hold)
    originals, cut_any, cut_parts = list(solids), set(), {}
    known_gap = {}  # (cut part, cutter) -> (its cut solid, the cutter's solid, the gap _cut measured)
    for target in sorted(todo):
        before = vol0[target]
        result, dropped, pieces, tau, hows, gaps = _cut(solids[target], [originals[o] for o in todo[target]],
                                                        clearance, before)
        for o, g in zip(todo[target], gaps):
            if g is not None:
                known_gap[(target, o)] = (result, originals[o], g)
        name = parts[target].name
        record = {"cut_by": [parts[o].name for o in todo[target]], "dilation_simplified_m": tau,
                  "dilations": {parts[o].name: h for o, h in zip(todo[target], hows)}}
        if result is None:
            notes.append(f"part {name} would vanish when cut against {', '.join(record['cut_by'])}: kept as it was")
            record.update(removed_m3=0.0, kept_because="the cut would leave only slivers")
            for e in pairs:
                if e["cut"] == name:
                    e["cut"] = None
        else:
            solids[target] = result
            cut_any.add(target)
            overlap = sum(e["overlap_before_m3"] for e in pairs if e["cut"] == name)
            record.update(removed_m3=before - float(result.volume()), overlap_m3=overlap,
                          slivers_dropped_m3=dropped, pieces=pieces)
            if pieces > 1:
                notes.append(f"part {name} is {pieces} pieces after the cut against {', '.join(record['cut_by'])}")
        cut_parts[name] = record
    for e in pairs:
        a, b = solids[index[e["parts"][0]]], solids[index[e["parts"][1]]]
        e["overlap_after_m3"], e["overlap_depth_after_m"] = _overlap(a, b)
        i, k = index[e["parts"][0]], index[e["parts"][1]]
        known = known_gap.get((i, k)) or known_gap.get((k, i))
        # the gap _cut measured between these very solids (neither changed since), else measured
        e["gap_after_m"] = known[2] if known and {id(known[0]), id(known[1])} == {id(a), id(b)} \
            else _gap(a, b, search)
    out = tuple(dataclasses.replace(p, mesh=from_manifold(solids[n], p.mesh)) if n in cut_any else p
                for n, p in enumerate(parts))
    vol1 = [float(m.volume()) if m is not None else 0.0 for m in solids]
    pivots_after = _pivots(joints, index, solids)
    pivots = {}
    for name, before in pivots_before.items():
        after = pivots_after[name]
        slack = max(PIVOT_SLACK_CLEARANCES * clearance, PIVOT_NEAR_FRACTION * before.pop("child_diagonal_m"))
        after.pop("child_diagonal_m")
        near = all(after[s] <= before[s] + slack + 1e-9 for s in ("parent_m", "child_m"))
        pivots[name] = {"before": before, "after": after, "near_both": near}
        if not near:
            notes.append(f"joint {name}: pivot moved away from its parts by the cut "
                         f"({1e3 * after['parent_m']:.1f} / {1e3 * after['child_m']:.1f} mm from parent / child)")
    sum0, sum1 = float(sum(vol0)), float(sum(vol1))
    figures = {
        "clearance_m": float(clearance), "cut_rule": cut, "sliver_fraction": SLIVER_FRACTION,
        "pairs_separated": len(pairs), "parts_cut": sorted(parts[n].name for n in cut_any), "pairs": pairs,
        "cut_parts": cut_parts,
        "volume_sum_before_m3": sum0, "volume_sum_after_m3": sum1, "union_before_m3": union0,
        "sum_after_vs_union_before": sum1 / union0 - 1.0 if union0 > 0 else None,
        "whole_volume_m3": whole_volume,
        "sum_after_vs_whole": sum1 / whole_volume - 1.0 if whole_volume else None,
        "pivots": pivots,
        "max_overlap_after_fraction": max((e["overlap_after_m3"] / max(min(vol1[index[e["parts"][0]]],
                                                                         vol1[index[e["parts"][1]]]), 1e-300)
                                           for e in pairs), default=0.0),
        "min_gap_after_m": min((e["gap_after_m"] for e in pairs), default=None),
        "seconds": time.perf_counter() - t0,
    }
    if pairs:
        notes.append(f"{len(pairs)} pair(s) of part solids made disjoint with {1e3 * clearance:g} mm clearance "
                     f"(cut: {', '.join(figures['parts_cut']) or 'none'})")
    return out, figures, notes


def _union_volume(solids) -> float:
    import manifold3d as mf

    ms = [m for m in solids if m is not None]
    return float(mf.Manifold.batch_boolean(ms, mf.OpType.Add).volume()) if ms else 0.0


def _candidate_pairs(solids, margin: float):
    """Index pairs ``(i, k)``, ``i < k``, of valid solids whose bounding boxes, grown by
    ``margin`` (m), intersect; in index order (deterministic)."""
    boxes = [None if m is None else _bounds(m) for m in solids]
    for i, k in itertools.combinations(range(len(solids)), 2):
        if boxes[i] is None or boxes[k] is None:
            continue
        (lo1, hi1), (lo2, hi2) = boxes[i], boxes[k]
        if np.all(lo1 - margin <= hi2) and np.all(lo2 - margin <= hi1):
            yield i, k


def _pivots(joints, index, solids) -> dict:
    """Hinge pivots' distances (m) to their parent's and child's solids (prismatic and fixed
    joints have no pivot on the parts: their origin is only a frame)."""
    out = {}
    for j in joints:
        ip, ic = index.get(j.parent), index.get(j.child)
        if j.type not in ("revolute", "continuous") or ip is None or ic is None \
                or solids[ip] is None or solids[ic] is None:
            continue
        lo, hi = _bounds(solids[ic])
        out[j.name] = {"parent_m": _point_distance(solids[ip], j.origin),
                       "child_m": _point_distance(solids[ic], j.origin),
                       "child_diagonal_m": float(np.linalg.norm(hi - lo))}
    return out


def disjoint_parts(asset: Asset, clearance: float, *, cut: Literal["larger", "child"] = "larger") -> Asset:
    """``asset`` with its part solids made disjoint (:func:`make_disjoint`), the figures added to
    its last stage record (the rigging stage's) under ``"disjoint"`` and the notes appended.

    An asset with fewer than two parts, or a skinned one (its single body is the skin), is
    returned unchanged (the same object). Raises ValueError for a negative clearance.
    """
    if clearance < 0:
        raise ValueError(f"part clearance must be >= 0 m, got {clearance}")
    if len(asset.parts) < 2 or asset.skeleton is not None:
        return asset
    whole = to_manifold(asset.visual) if asset.visual is not None else None
    parts, figures, notes = make_disjoint(asset.parts, asset.joints, clearance, cut=cut,
                                          whole_volume=float(whole.volume()) if whole is not None else None)
    stages = asset.stages
    if stages:
        last = stages[-1]
        stages = stages[:-1] + (StageRecord(last.name, last.seconds + figures["seconds"],
                                            {**last.figures, "disjoint": figures}),)
    return asset.replace(parts=parts, stages=stages, notes=asset.notes + tuple(notes))


def part_overlaps(parts: Sequence[Part], search: float = 0.01) -> list[dict]:
    """Every pair of closed part solids that overlap or come within ``search`` (m) of each
    other, in index order: ``{"parts": [a, b], "overlap_m3", "overlap_fraction" (of the smaller
    part's volume), "overlap_depth_m" (``2 V / A`` of the intersection), "gap_m"}``. Measures
    only (the certificate's SimReady link-overlap check looks at hulls, this at the solids)."""
    solids = [to_manifold(p.mesh) for p in parts]
    out = []
    for i, k in _candidate_pairs(solids, search):
        vol, depth = _overlap(solids[i], solids[k])
        gap = _gap(solids[i], solids[k], search)
        if gap >= search:
            continue
        smaller = max(min(solids[i].volume(), solids[k].volume()), 1e-300)
        out.append({"parts": [parts[i].name, parts[k].name], "overlap_m3": vol,
                    "overlap_fraction": vol / smaller, "overlap_depth_m": depth, "gap_m": gap})
    return out
