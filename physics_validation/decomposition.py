"""Convex decomposition of one rigid part into simulator-ready hulls, under budgets.

CoACD (Wei et al., "Approximate Convex Decomposition for 3D Meshes with Collision-Aware
Concavity and Tree Search", SIGGRAPH 2022) cuts the part into convex pieces; each piece's
convex hull is then cut down to at most ``max_hull_vertices`` vertices (PhysX's GPU limit is
64, Isaac Lab's default) by quadric-error decimation of the hull followed by re-hulling, which
keeps the hull's surface where it was, within a 1 mm bulge (CoACD's own ``decimate`` removes
vertices and shrinks the hull inward: on duck.obj it loses ~9% of the volume against ~1% here,
see ``benchmarks/physics.py``). At most ``max_hulls`` hulls per part (CoACD's
``max_convex_hull`` merge, then a greedy merge here if needed).

Budgets and fast path:

- A part whose volume is at least :attr:`FidelityThresholds.convex_fast_path_ratio` of its
  convex hull's is given its (reduced) convex hull, without CoACD, if that meets the fidelity
  bounds.
- CoACD has no timeout of its own: it runs in a child process (a plain subprocess, data over its
  pipes) that is killed when the time budget runs out, raising
  :class:`~n4d4d.errors.TimeBudgetError`; no child outlives the call.
- Fidelity (:mod:`.fidelity`) is measured on every result; a miss triggers a retry with a finer
  concavity threshold when the remaining budget allows, and the best result is kept.

Default CoACD settings are lighter than CoACD's own (``mcts_iterations`` 60 instead of 150,
``mcts_max_depth`` 2 instead of 3, ``resolution`` 1000 instead of 2000): on 2 cores they take
a fraction of the default's time at equal fidelity (measured by ``benchmarks/physics.py``).
This module does not place hulls in a simulator; it returns meshes in the part's frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from n4d4d.asset import Mesh
from n4d4d.errors import EmptyMeshError, InputError, TimeBudgetError

from .fidelity import collision_fidelity, fidelity_misses
from .thresholds import FidelityThresholds, as_dict


@dataclass(frozen=True)
class CoacdSettings:
    """CoACD parameters used here (see ``coacd.run_coacd``); defaults measured for speed at
    equal fidelity (module docstring). ``threshold`` is CoACD's concavity bound (relative).

    ``preprocess_mode`` "auto" here means: no CoACD remesh for a closed, consistently wound
    mesh (trimesh's check; the pipeline's visual meshes are), CoACD's manifold remesh at
    ``preprocess_resolution`` otherwise. CoACD's own "auto" test remeshed the closed 17k-face
    duck, tripling its time and coarsening its hulls (6 s vs 21 s CPU, benchmarks/physics.py).
    """

    threshold: float = 0.05
    preprocess_mode: str = "auto"
    preprocess_resolution: int = 50
    resolution: int = 1000
    mcts_nodes: int = 12
    mcts_iterations: int = 60
    mcts_max_depth: int = 2

    def kwargs(self, max_hulls: int, seed: int) -> dict:
        """Keyword arguments of ``coacd.run_coacd`` (hull vertices are reduced here, not by
        CoACD's ``decimate``)."""
        return dict(threshold=self.threshold, max_convex_hull=max_hulls, preprocess_mode=self.preprocess_mode,
                    preprocess_resolution=self.preprocess_resolution, resolution=self.resolution,
                    mcts_nodes=self.mcts_nodes, mcts_iterations=self.mcts_iterations,
                    mcts_max_depth=self.mcts_max_depth, merge=True, decimate=False, seed=seed)


def run_coacd(vertices: np.ndarray, faces: np.ndarray, kwargs: dict, *, time_budget_s: float,
              name: str = "", budget_label: float | None = None) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """``coacd.run_coacd`` in a killable child process (:mod:`._coacd_worker`).

    Args:
        vertices: ``(V, 3) float64`` (m). faces: ``(F, 3)`` int.
        kwargs: keyword arguments of ``coacd.run_coacd``.
        time_budget_s: wall seconds before the child is killed.
        name: asset / part name for errors.
        budget_label: the budget named in the error message (default ``time_budget_s``; the
            caller's whole budget when this run got only what was left of it).

    Returns:
        ``(pieces, cpu_seconds)``: CoACD's pieces, each ``(vertices (n, 3) float64, faces
        (m, 3) int64)``, and the child's CPU time (user + system, s), which unlike wall time
        does not grow when other processes share the cores.

    Raises:
        TimeBudgetError: the budget ran out (the child has been killed and reaped).
        InputError: CoACD failed or the child died (its exit code and last words are given).
    """
    import pickle
    import resource
    import subprocess
    import sys

    payload = pickle.dumps((np.ascontiguousarray(vertices, dtype=np.float64),
                            np.ascontiguousarray(faces, dtype=np.int32), dict(kwargs)))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, "-m", "n4d4d.physics_validation._coacd_worker"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(payload, timeout=max(time_budget_s, 1e-3))
    except subprocess.TimeoutExpired:
        raise TimeBudgetError(f"CoACD convex decomposition ran past its time budget of "
                              f"{budget_label or time_budget_s:g} s and was stopped", name or None) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()  # reap it and close the pipes
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0 or not out:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
        raise InputError(f"CoACD died (exit code {proc.returncode}){': ' + tail[0] if tail else ''}",
                         name or None)
    status, result = pickle.loads(out)
    if status != "ok":
        raise InputError(f"CoACD failed: {result}", name or None)
    return result, cpu


def _hull(points: np.ndarray):
    import trimesh

    try:
        h = trimesh.convex.convex_hull(np.asarray(points, dtype=np.float64))
    except Exception:  # qhull: flat or degenerate point set
        return None
    return h if len(h.faces) >= 4 and h.volume > 0 else None


#: How far a reduced hull may reach beyond the full hull of its piece: 1% of the hull's size,
#: at most 1 mm. Quadric decimation puts vertices where neighbouring face planes meet, which
#: on a gently curved base can be millimetres outside (the duck's hulls sank 3 mm below its
#: base: a 3 mm initial ground penetration); capping the bulge keeps most of decimation's
#: advantage over inscribed hulls (duck.obj, 17k faces: mean surface distance 0.40% of the
#: diagonal against 0.36% uncapped and 0.86% inscribed; volume ratio 0.989 / 0.990 / 0.947).
MAX_BULGE_FRACTION = 0.01
MAX_BULGE_M = 0.001


def _pull_inside(points: np.ndarray, hull, tol: float = 0.0) -> np.ndarray:
    """Move each point lying more than ``tol`` metres outside any face plane of convex ``hull``
    (trimesh) radially toward the hull's centroid, onto the plane moved out by ``tol``; points
    within that margin are unchanged."""
    normals = np.asarray(hull.face_normals)
    offsets = np.einsum("ij,ij->i", normals, np.asarray(hull.triangles_center)) + tol
    c = np.asarray(hull.centroid)
    d = points - c
    denom = d @ normals.T  # (P, F)
    room = offsets - normals @ c  # (F,) > 0: the centroid is inside
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > 1e-15, room[None, :] / denom, np.inf).min(axis=1)
    return c + np.minimum(s, 1.0)[:, None] * d


def reduce_hull(points: np.ndarray, max_vertices: int) -> Mesh | None:
    """Closed convex hull of ``points`` with at most ``max_vertices`` vertices.

    Quadric-error decimation (fast-simplification) of the full hull to ``2 k - 4`` faces places
    vertices to minimise distance to the original face planes, so the result straddles the
    original surface instead of shrinking inside it (as keeping a subset of vertices, or
    CoACD's own ``decimate``, does); vertices it pushed farther than :data:`MAX_BULGE_FRACTION`
    of the hull's size (at most :data:`MAX_BULGE_M`) outside the full hull are pulled back
    radially to that margin, and the result is re-hulled. Falls back to farthest-point sampling
    of hull vertices if decimation stalls.

    Args:
        points: ``(N, 3) float64`` (m). max_vertices: >= 4.

    Returns:
        The hull as a :class:`Mesh` (outward faces), or None for a flat / degenerate set.
    """
    h = _hull(points)
    if h is None:
        return None
    full = h
    tol = min(MAX_BULGE_FRACTION * float(np.linalg.norm(np.ptp(h.vertices, axis=0))), MAX_BULGE_M)
    k = int(max_vertices)
    target = k
    for _ in range(6):
        if len(h.vertices) <= k:
            return Mesh.from_trimesh(h)
        import fast_simplification

        centre = full.vertices.mean(axis=0)
        v, _f = fast_simplification.simplify(np.asarray(h.vertices - centre, dtype=np.float32),
                                             np.asarray(h.faces, dtype=np.int64),
                                             target_count=max(2 * target - 4, 4), agg=7)
        nh = _hull(_pull_inside(np.asarray(v, dtype=np.float64) + centre, full, tol))
        if nh is None:
            break
        h, target = nh, max(target - 4, 4)
    if len(h.vertices) > k:  # farthest-point sampling of the hull's own vertices
        v = np.asarray(h.vertices)
        idx = [int(np.argmax(np.linalg.norm(v - v.mean(axis=0), axis=1)))]
        d = np.linalg.norm(v - v[idx[0]], axis=1)
        for _ in range(k - 1):
            idx.append(int(np.argmax(d)))
            d = np.minimum(d, np.linalg.norm(v - v[idx[-1]], axis=1))
        h = _hull(v[idx])
        if h is None:
            return None
    return Mesh.from_trimesh(h)


def _merge_to_budget(hulls: list[Mesh], max_hulls: int, max_vertices: int) -> list[Mesh]:
    """Greedily merge the pair whose joint hull adds the least volume until within budget."""
    import trimesh

    def vol(m: Mesh) -> float:
        return float(trimesh.Trimesh(m.vertices, m.faces, process=False).volume)

    hulls = list(hulls)
    while len(hulls) > max_hulls:
        best = None
        for i in range(len(hulls)):
            for j in range(i + 1, len(hulls)):
                merged = reduce_hull(np.vstack([hulls[i].vertices, hulls[j].vertices]), max_vertices)
                if merged is None:
                    continue
                cost = vol(merged) - vol(hulls[i]) - vol(hulls[j])
                if best is None or cost < best[0]:
                    best = (cost, i, j, merged)
        _, i, j, merged = best
        hulls = [h for k, h in enumerate(hulls) if k not in (i, j)] + [merged]
    return hulls


def _finish(pieces: Sequence[np.ndarray], max_hulls: int, max_vertices: int) -> list[Mesh]:
    hulls = [h for h in (reduce_hull(p, max_vertices) for p in pieces) if h is not None]
    return _merge_to_budget(hulls, max_hulls, max_vertices) if len(hulls) > max_hulls else hulls


def _summary(fid: dict) -> dict:
    return {k: fid[k] for k in ("mean_pct", "p95_pct", "hausdorff_pct", "volume_ratio")}


def convex_decomposition(mesh: Mesh, *, max_hulls: int = 32, max_hull_vertices: int = 64,
                         threshold: float = 0.05, time_budget_s: float = 30.0, seed: int = 0,
                         name: str = "", settings: CoacdSettings | None = None,
                         fidelity: FidelityThresholds | None = None) -> tuple[tuple[Mesh, ...], dict]:
    """Convex hulls of a closed part mesh, within hull, vertex and time budgets.

    Args:
        mesh: closed part surface, metres, asset frame.
        max_hulls: at most this many hulls (Isaac Lab / PhysX GPU: 32 by default).
        max_hull_vertices: at most this many vertices per hull (PhysX GPU limit: 64).
        threshold: CoACD concavity threshold of the first attempt (CoACD's default 0.05).
        time_budget_s: wall seconds for everything (CoACD attempts and fidelity).
        seed: CoACD's seed and the fidelity sampler's.
        name: asset / part name for errors.
        settings: CoACD settings (default :class:`CoacdSettings`; ``threshold`` overrides its
            threshold).
        fidelity: fidelity bounds (default :class:`FidelityThresholds`).

    Returns:
        ``(hulls, figures)``: closed convex :class:`Mesh` es (outward faces, asset frame), and a
        JSON-ready dict: ``method`` ("convex" fast path or "coacd"), ``hulls``,
        ``max_hull_vertices``, ``seconds``, ``convexity_ratio`` (part / convex-hull volume),
        ``volume_ratio`` (hull union / part), ``surface_distance_mean_pct`` and
        ``surface_distance_p95_pct`` (symmetric, % of bounding-box diagonal), ``fidelity``
        (all of :func:`~.fidelity.collision_fidelity`), ``fidelity_passed``,
        ``fidelity_misses``, ``attempts`` (threshold, seconds, summary per CoACD run),
        ``thresholds``.

    Raises:
        EmptyMeshError: no faces or no volume. InputError: non-finite vertices or CoACD failed.
        TimeBudgetError: the first CoACD run did not finish within ``time_budget_s`` (no child
            process is left running). ValueError: budgets below 1 hull / 4 vertices.
    """
    import trimesh

    if max_hulls < 1 or max_hull_vertices < 4:
        raise ValueError(f"need max_hulls >= 1 and max_hull_vertices >= 4, got {max_hulls}, {max_hull_vertices}")
    fidelity = fidelity or FidelityThresholds()
    settings = settings or CoacdSettings()
    from dataclasses import replace

    settings = replace(settings, threshold=threshold)
    t0 = time.perf_counter()
    if len(mesh.faces) == 0:
        raise EmptyMeshError("convex decomposition of a mesh with no faces", name or None)
    if not np.isfinite(mesh.vertices).all():
        raise InputError("mesh has non-finite vertices", name or None)
    tm = trimesh.Trimesh(np.array(mesh.vertices), np.array(mesh.faces), process=False)
    full = _hull(mesh.vertices)
    if full is None or abs(tm.volume) <= 0:
        raise EmptyMeshError("the part encloses no volume (flat or empty)", name or None)
    convexity = float(abs(tm.volume) / full.volume)
    if settings.preprocess_mode == "auto":
        closed = tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
        settings = replace(settings, preprocess_mode="off" if closed else "on")

    candidates = []  # (misses, p95, method, hulls, fid)
    attempts = []
    if convexity >= fidelity.convex_fast_path_ratio:
        hull = reduce_hull(full.vertices, max_hull_vertices)
        fid = collision_fidelity(mesh, [hull], samples=fidelity.samples, seed=seed)
        candidates.append((fidelity_misses(fid, fidelity), fid["p95_pct"], "convex", [hull], fid))

    thr = settings.threshold
    for _attempt in range(3):  # the first run, then at most two finer retries
        if any(not c[0] for c in candidates):
            break
        left = time_budget_s - (time.perf_counter() - t0)
        if attempts and left < 1.5 * attempts[-1]["seconds"] + 1.0:
            attempts.append({"threshold": thr, "skipped": f"{left:.1f} s of budget left"})
            break  # a finer run would not fit: keep the best so far (figures say so)
        t1 = time.perf_counter()
        try:
            pieces, cpu = run_coacd(mesh.vertices, mesh.faces, replace(settings, threshold=thr).kwargs(max_hulls, seed),
                                    time_budget_s=max(left, 0.0), name=name, budget_label=time_budget_s)
        except TimeBudgetError:
            if not candidates:
                raise
            attempts.append({"threshold": thr, "seconds": time.perf_counter() - t1, "timed_out": True})
            break
        hulls = _finish([p[0] for p in pieces], max_hulls, max_hull_vertices)
        if not hulls:
            raise InputError("CoACD returned no usable (non-flat) hull", name or None)
        fid = collision_fidelity(mesh, hulls, samples=fidelity.samples, seed=seed)
        misses = fidelity_misses(fid, fidelity)
        attempts.append({"threshold": thr, "seconds": time.perf_counter() - t1, "coacd_cpu_seconds": cpu,
                         "hulls": len(hulls),
                         **_summary(fid), "misses": misses})
        candidates.append((misses, fid["p95_pct"], "coacd", hulls, fid))
        thr *= fidelity.retry_threshold_factor

    misses, _, method, hulls, fid = min(candidates, key=lambda c: (len(c[0]), c[1]))
    figures = {
        "method": method, "hulls": len(hulls), "max_hull_vertices": max(len(h.vertices) for h in hulls),
        "seconds": time.perf_counter() - t0, "convexity_ratio": convexity,
        "volume_ratio": fid["volume_ratio"], "surface_distance_mean_pct": fid["mean_pct"],
        "surface_distance_p95_pct": fid["p95_pct"], "fidelity": fid, "fidelity_passed": not misses,
        "fidelity_misses": misses, "attempts": attempts,
        "budgets": {"max_hulls": max_hulls, "max_hull_vertices": max_hull_vertices, "time_budget_s": time_budget_s},
        "coacd": as_dict(settings), "thresholds": as_dict(fidelity),
    }
    return tuple(hulls), figures
