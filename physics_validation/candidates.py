"""Candidate hull sets beside CoACD's, and how candidates are compared.

:func:`finish_hulls` turns pieces into hulls within the hull and vertex budgets;
:func:`plane_cut_candidate` measures the plane cuts of :mod:`.plane_cuts` as a candidate;
:func:`overshoot` ranks candidates that miss as many bounds; :func:`wall_thickness` is the thin
wall's measure that sets the thin-wall CoACD retry's threshold. A candidate is the tuple
``(misses, p95_pct, method, hulls, fidelity figures)``. Which candidate a part gets is
:mod:`.shell_search`'s choice; this module builds and measures them.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from n4d4d.asset import Mesh

from .fidelity import fidelity_misses, measure
from .hulls import hull_of, merge_to_budget, reduce_hull
from .thresholds import FidelityThresholds


def finish_hulls(pieces: Sequence[np.ndarray], max_hulls: int, max_vertices: int) -> list[Mesh]:
    """Hulls of the pieces' vertices within the budgets: merged (cheapest added volume first,
    :func:`.hulls.merge_to_budget`, which cuts every hull to ``max_vertices``) when there are
    more than ``max_hulls``, else each cut to ``max_vertices``."""
    if len(pieces) > max_hulls:
        return merge_to_budget([Mesh(np.asarray(p, dtype=np.float64), np.zeros((0, 3), np.int64)) for p in pieces],
                               max_hulls, max_vertices)
    return [h for h in (reduce_hull(p, max_vertices) for p in pieces) if h is not None]


def attempt_summary(fid: dict) -> dict:
    """The figures of a fidelity measure (:func:`.fidelity.measure`) an attempt record keeps: mean,
    p95 and Hausdorff distance (% of the part's diagonal) and the hull/solid volume ratio."""
    return {k: fid[k] for k in ("mean_pct", "p95_pct", "hausdorff_pct", "volume_ratio")}


#: CPU seconds the plane cuts may take when the search budget has less left: drawn from the
#: part's fallback reserve (:class:`.fallback.Reserve`), as the cheaper methods are.
PLANE_CUT_MIN_S = 2.0


def plane_cut_candidate(mesh, v, f, max_hulls, max_vertices, fidelity, seed, budget, reserve, asset_diagonal,
                         attempts) -> list:
    """The hulls of :func:`.plane_cuts.plane_cut_pieces` of the shell (``v``, ``f``: what
    CoACD is given, simplified within 0.1% of the diagonal; ``mesh`` when None), measured
    against ``mesh``, as a one-element candidate list (none when manifold3d refuses the
    surface); its attempt record joins ``attempts``.

    A hollow round shell (:func:`.sector_cuts.revolution_axis`: a tube, a ring) is cut into
    angular sectors first (:func:`.sector_cuts.sector_pieces`, method "sector-cuts"): no single
    plane lowers a tube's hull volume, so the greedy cuts alone never start (102417's lens
    barrel link_0, 64 hulls: plane cuts 2.59 times its volume at 32, CoACD 1.67 at 64; sectors
    1.30 at 64)."""
    from .plane_cuts import plane_cut_pieces
    from .sector_cuts import revolution_axis, sector_pieces

    t1 = time.perf_counter()
    own = budget.cpu_left() >= PLANE_CUT_MIN_S
    b = budget if own else reserve.draw(0.5, "plane cuts")
    c0 = b.cpu_used()
    # no cap of their own below the search budget: capped at half the dearest CoACD run (at
    # least 1 CPU s), husky's user rail (9 shells, CoACD runs of 0.2-3 s) came out at hull
    # volume ratio 1.540 instead of 1.327 (64 hulls), failing the certificate; uncapped, a part
    # the cuts cannot help pays for them (102417's link_2: 2.8-4.4 CPU s after a 3.2 s CoACD run)
    cap = b
    src = mesh if v is None else Mesh(np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int64))
    axis = revolution_axis(src) if max_hulls >= 3 else None
    method, pieces = "plane-cuts", None
    if axis is not None:
        method = "sector-cuts"
        pieces = sector_pieces(src, max_hulls, budget=cap, axis=axis, good_ratio=fidelity.max_volume_ratio)
    if pieces is None:
        method, pieces = "plane-cuts", plane_cut_pieces(src, max_hulls, budget=cap)
    if not own:
        reserve.spend(b)
    if not pieces:
        attempts.append({"method": method, "skipped": "not a valid closed manifold"})
        return []
    hulls = finish_hulls(pieces, max_hulls, max_vertices)
    if not hulls:
        return []
    tri = np.asarray(src.vertices)[np.asarray(src.faces)]
    solid = abs(float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6.0)
    rough = sum(float(h.volume) for h in (hull_of(x.vertices) for x in hulls) if h is not None) / max(solid, 1e-300)
    if rough > fidelity.max_volume_ratio and cap.cpu_left() <= 0:  # stopped short: not worth measuring
        attempts.append({"method": method, "cpu_seconds": b.cpu_used() - c0,
                         "skipped": f"stopped by the budget at hull volume ratio {rough:.2f}"})
        return []
    fid = measure(mesh, hulls, fidelity, seed, asset_diagonal)
    misses = fidelity_misses(fid, fidelity)
    attempts.append({"method": method, "seconds": time.perf_counter() - t1, "cpu_seconds": b.cpu_used() - c0,
                     "hulls": len(hulls), **attempt_summary(fid), "misses": misses})
    return [(misses, fid["p95_pct"], method, hulls, fid)]


#: Finest concavity threshold a thin-wall retry goes to (:func:`wall_thickness`).
MIN_THRESHOLD = 0.004


def wall_thickness(tm) -> float:
    """Mean wall thickness (m) of a closed thin part: twice its volume over its area (exact
    for a flat plate or a tube wall whose thickness is small beside its size)."""
    return 2.0 * abs(float(tm.volume)) / max(float(tm.area), 1e-300)


def overshoot(fid: dict, fidelity: FidelityThresholds) -> float:
    """How far figures miss the bounds, summed relative excess (0 when they meet them): the
    tie-break between candidates with as many misses (a volume ratio of 2.1 is a smaller
    miss than 2.8, whatever their distances). Small parts (``asset_scale``) are judged on
    distances only, as :func:`.fidelity.fidelity_misses` judges them."""
    k = fid.get("asset_scale")
    scale = 1.0 if k is None else float(k)
    out = max(scale * fid["p95_pct"] / fidelity.max_hausdorff_p95_pct - 1.0, 0.0)
    out += max(scale * fid["mean_pct"] / fidelity.max_mean_distance_pct - 1.0, 0.0)
    if k is None:
        r = fid["volume_ratio"]
        out += max(r / fidelity.max_volume_ratio - 1.0, 0.0) + max(fidelity.min_volume_ratio / max(r, 1e-12) - 1.0, 0.0)
    return out
