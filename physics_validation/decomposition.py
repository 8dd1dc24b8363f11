"""Convex decomposition of one rigid part into simulator-ready hulls, under budgets.

CoACD (Wei et al., "Approximate Convex Decomposition for 3D Meshes with Collision-Aware
Concavity and Tree Search", SIGGRAPH 2022) cuts the part into convex pieces; each piece's
convex hull is then cut down to at most ``max_hull_vertices`` vertices (PhysX's GPU limit is
64, Isaac Lab's default) by quadric-error decimation of the hull followed by re-hulling, which
keeps the hull's surface where it was, within a 1 mm bulge (CoACD's own ``decimate`` removes
vertices and shrinks the hull inward: measured on duck.obj, hull volume ratio 0.91 against
0.99 here, mean surface distance 1.0% against 0.36% of the diagonal, before the bulge cap). At most ``max_hulls`` hulls per part (CoACD's
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

Default CoACD settings: a finer concavity threshold than CoACD's own (0.04 against 0.05) and
a lighter search (``mcts_iterations`` 60 instead of 150, ``mcts_max_depth`` 2 instead of 3,
``resolution`` 1000 instead of 2000), no CoACD remesh of a closed input, and a closed input
above 2,000 faces simplified within 0.1% of its diagonal first. On pybullet_data's
duck.obj at its real size (benchmarks/physics.py): CoACD's defaults take 60 s of CPU for 11
hulls of up to 5,290 vertices (mean / p95 surface distance 0.17% / 0.75% of the diagonal,
volume ratio 1.064); these settings take 4.2 s for 14 hulls of at most 64 vertices (0.12% /
0.77%, 0.983). CoACD CPU time on duck, teddy, mug, bunny: 4.2, 0.0, 8.3, 9.2 s.
This module does not place hulls in a simulator; it returns meshes in the part's frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from n4d4d.asset import Mesh
from n4d4d.errors import EmptyMeshError, InputError, TimeBudgetError

from .fidelity import collision_fidelity, fidelity_misses
from .hulls import hull_of, merge_to_budget, reduce_hull
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

    threshold: float = 0.04
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


def _finish(pieces: Sequence[np.ndarray], max_hulls: int, max_vertices: int) -> list[Mesh]:
    hulls = [h for h in (reduce_hull(p, max_vertices) for p in pieces) if h is not None]
    return merge_to_budget(hulls, max_hulls, max_vertices) if len(hulls) > max_hulls else hulls


def _summary(fid: dict) -> dict:
    return {k: fid[k] for k in ("mean_pct", "p95_pct", "hausdorff_pct", "volume_ratio")}


def convex_decomposition(mesh: Mesh, *, max_hulls: int = 32, max_hull_vertices: int = 64,
                         threshold: float = 0.04, time_budget_s: float = 60.0, seed: int = 0,
                         name: str = "", settings: CoacdSettings | None = None,
                         fidelity: FidelityThresholds | None = None) -> tuple[tuple[Mesh, ...], dict]:
    """Convex hulls of a closed part mesh, within hull, vertex and time budgets.

    An open mesh whose only openings are seams (vertices duplicated along UV or normal
    discontinuities, as in most OBJ files) is sealed by merging them first, which spares CoACD's
    slow manifold remesh (duck.obj: 3.6 s instead of 36 s of CoACD CPU time).

    A part made of several connected shells (pybullet_data's teddy is 15 overlapping convex
    shells, on which CoACD crashes) is decomposed shell by shell, each with a share of the
    hull budget proportional to its volume (at least one hull) and of the time budget
    proportional to its faces; the union is then measured against the whole part.

    Args:
        mesh: closed part surface, metres, asset frame.
        max_hulls: at most this many hulls (Isaac Lab / PhysX GPU: 32 by default).
        max_hull_vertices: at most this many vertices per hull (PhysX GPU limit: 64).
        threshold: CoACD concavity threshold of the first attempt (CoACD's default is 0.05;
            0.04 here, see the module docstring).
        time_budget_s: wall seconds for everything (CoACD attempts and fidelity).
        seed: CoACD's seed and the fidelity sampler's.
        name: asset / part name for errors.
        settings: CoACD settings (default :class:`CoacdSettings`; ``threshold`` overrides its
            threshold).
        fidelity: fidelity bounds (default :class:`FidelityThresholds`).

    Returns:
        ``(hulls, figures)``: closed convex :class:`Mesh` es (outward faces, asset frame), and a
        JSON-ready dict: ``method`` ("convex" fast path, "coacd", or "shells" when the part
        has several connected shells, each decomposed on its own: ``shells`` lists them), ``hulls``,
        ``max_hull_vertices``, ``seconds``, ``convexity_ratio`` (part / convex-hull volume),
        ``volume_ratio`` (hull union / part), ``surface_distance_mean_pct`` and
        ``surface_distance_p95_pct`` (symmetric, % of bounding-box diagonal), ``fidelity``
        (all of :func:`~.fidelity.collision_fidelity`), ``fidelity_passed``,
        ``fidelity_misses``, ``attempts`` (threshold, seconds, summary per CoACD run),
        ``thresholds``.

    Raises:
        EmptyMeshError: no faces or no volume. InputError: non-finite vertices, or CoACD failed
            (a crash on a closed mesh is retried once with CoACD's manifold preprocessing).
        TimeBudgetError: the first CoACD run did not finish within ``time_budget_s`` (no child
            process is left running). ValueError: budgets below 1 hull / 4 vertices.
    """
    import trimesh

    if max_hulls < 1 or max_hull_vertices < 4:
        raise ValueError(f"need max_hulls >= 1 and max_hull_vertices >= 4, got {max_hulls}, {max_hull_vertices}")
    fidelity = fidelity or FidelityThresholds()
    settings = replace(settings or CoacdSettings(), threshold=threshold)
    t0 = time.perf_counter()
    if len(mesh.faces) == 0:
        raise EmptyMeshError("convex decomposition of a mesh with no faces", name or None)
    if not np.isfinite(mesh.vertices).all():
        raise InputError("mesh has non-finite vertices", name or None)
    tm = trimesh.Trimesh(np.array(mesh.vertices), np.array(mesh.faces), process=False)
    if not tm.is_watertight:  # UV / normal seams split vertices: merged, the surface may close
        sealed = tm.copy()
        sealed.merge_vertices(merge_tex=True, merge_norm=True)
        if sealed.is_watertight and sealed.is_winding_consistent and sealed.volume > 0:
            tm, mesh = sealed, Mesh(np.asarray(sealed.vertices), np.asarray(sealed.faces))
    full = hull_of(mesh.vertices)
    if full is None or abs(tm.volume) <= 0:
        raise EmptyMeshError("the part encloses no volume (flat or empty)", name or None)
    convexity = float(abs(tm.volume) / full.volume)
    deadline = t0 + time_budget_s
    shells = _closed_shells(tm)
    if len(shells) <= 1:
        hulls, method, attempts, fid, used = _decompose_shell(mesh, tm, max_hulls, max_hull_vertices, settings,
                                                              fidelity, seed, deadline, time_budget_s, name)
        shell_figures = None
    else:
        hulls, attempts, shell_figures, used = _decompose_shells(shells, max_hulls, max_hull_vertices, settings,
                                                                 fidelity, seed, deadline, time_budget_s, name)
        method, fid = "shells", collision_fidelity(mesh, hulls, samples=fidelity.samples, seed=seed)
        if len(shells) > max_hulls:  # hulls had to bridge the gaps between shells: say why, and the way out
            fid = {**fid, "hint": f"the part is {len(shells)} separate shells, more than the {max_hulls} hulls "
                                  f"allowed: hulls bridge the gaps between shells (--max-hulls {len(shells)} "
                                  "gives one hull per shell, if the simulator accepts that many)"}
    misses = fidelity_misses(fid, fidelity)
    figures = {
        "method": method, "hulls": len(hulls), "max_hull_vertices": max(len(h.vertices) for h in hulls),
        "seconds": time.perf_counter() - t0, "convexity_ratio": convexity,
        "volume_ratio": fid["volume_ratio"], "surface_distance_mean_pct": fid["mean_pct"],
        "surface_distance_p95_pct": fid["p95_pct"], "fidelity": fid, "fidelity_passed": not misses,
        "fidelity_misses": misses, "attempts": attempts,
        "budgets": {"max_hulls": max_hulls, "max_hull_vertices": max_hull_vertices, "time_budget_s": time_budget_s},
        "coacd": as_dict(used), "thresholds": as_dict(fidelity),
    }
    if shell_figures is not None:
        figures["shells"] = shell_figures
    return tuple(hulls), figures


#: Closed inputs above this many faces are simplified before CoACD (manifold3d's
#: ``Manifold.simplify``, which keeps the mesh closed and manifold) with a tolerance of
#: :data:`SIMPLIFY_TOLERANCE` times the bounding-box diagonal. CoACD's time grows with the face
#: count; on pybullet_data's mug (20k faces -> 5.2k) its CPU time halves (16.4 s -> 8.3 s) at
#: equal fidelity against the full mesh (mean / p95 0.066% / 0.60% -> 0.064% / 0.58%).
SIMPLIFY_ABOVE_FACES = 2000
SIMPLIFY_TOLERANCE = 0.001


def _coacd_input(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces handed to CoACD: ``mesh`` simplified within 0.1% of its diagonal when
    it is large and a valid closed manifold (see :data:`SIMPLIFY_ABOVE_FACES`), else as is."""
    if len(mesh.faces) <= SIMPLIFY_ABOVE_FACES:
        return mesh.vertices, mesh.faces
    import manifold3d as mf

    m = mf.Manifold(mf.Mesh64(vert_properties=np.array(mesh.vertices, dtype=np.float64, order="C"),
                              tri_verts=np.array(mesh.faces, dtype=np.uint64, order="C")))
    if m.status() != mf.Error.NoError or m.is_empty():
        return mesh.vertices, mesh.faces
    out = m.simplify(SIMPLIFY_TOLERANCE * mesh.diagonal).to_mesh64()
    faces = np.asarray(out.tri_verts, dtype=np.int64)
    if len(faces) < 4:
        return mesh.vertices, mesh.faces
    return np.asarray(out.vert_properties, dtype=np.float64)[:, :3], faces


def _closed_shells(tm) -> list:
    """The part's connected shells when it has several and each is closed (vertices merged
    across UV / normal seams first, so an open-looking but sealed surface is one shell);
    otherwise ``[tm]``: an open surface is decomposed whole, through CoACD's manifold remesh."""
    if tm.body_count <= 1:
        return [tm]
    merged = tm.copy()
    merged.merge_vertices(merge_tex=True, merge_norm=True)
    if merged.body_count <= 1:
        return [tm]
    shells = [s for s in merged.split(only_watertight=False) if len(s.faces) >= 4]
    return shells if shells and all(s.is_watertight for s in shells) else [tm]


def _decompose_shells(shells, max_hulls, max_vertices, settings, fidelity, seed, deadline, budget, name):
    """Each shell on its own (hull budget by volume, time by faces), then merged to budget."""
    if len(shells) >= max_hulls:  # a hull per shell at most: hull them all, merge the cheapest
        hulls = merge_to_budget([Mesh(np.asarray(s.vertices), np.asarray(s.faces)) for s in shells],
                                max_hulls, max_vertices)
        figs = [{"shell": i, "faces": len(s.faces), "volume_m3": abs(float(s.volume)), "method": "merged hull"}
                for i, s in enumerate(shells)]
        return hulls, [], figs, settings
    vols = np.array([max(abs(float(s.volume)), 0.0) for s in shells])
    order = np.argsort(-vols)
    spare = max(max_hulls - len(shells), 0)
    share = 1 + np.floor(spare * vols / max(vols.sum(), 1e-300)).astype(int)
    faces_left = sum(len(s.faces) for s in shells)
    area = max(sum(float(s.area) for s in shells), 1e-300)
    hulls, attempts, figs, used = [], [], [], settings
    for i in order:
        s = shells[i]
        left = deadline - time.perf_counter()
        sub_deadline = time.perf_counter() + max(left * len(s.faces) / max(faces_left, 1), 0.0)
        faces_left -= len(s.faces)
        part = Mesh(np.asarray(s.vertices), np.asarray(s.faces))
        fid_i = replace(fidelity, samples=max(2000, int(fidelity.samples * float(s.area) / area)))
        h, method, att, _fid, used = _decompose_shell(part, s, int(share[i]), max_vertices, settings, fid_i,
                                                      seed, sub_deadline, budget, name)
        hulls += h
        attempts += [{**a, "shell": int(i)} for a in att]
        figs.append({"shell": int(i), "faces": len(s.faces), "volume_m3": float(vols[i]), "method": method,
                     "hulls": len(h)})
    if len(hulls) > max_hulls:
        hulls = merge_to_budget(hulls, max_hulls, max_vertices)
    return hulls, attempts, figs, used


def _decompose_shell(mesh, tm, max_hulls, max_vertices, settings, fidelity, seed, deadline, budget, name):
    """Fast path or CoACD (with finer retries) for one connected shell.

    Returns ``(hulls, method, attempts, fidelity figures, settings used)``.
    """
    full = hull_of(mesh.vertices)
    if full is None:  # a flat shell: nothing to collide with
        raise EmptyMeshError("a shell of the part is flat (no volume)", name or None)
    convexity = float(abs(tm.volume) / full.volume)
    if settings.preprocess_mode == "auto":
        closed = tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
        settings = replace(settings, preprocess_mode="off" if closed else "on")
    if max_hulls == 1:  # one hull is all the budget allows: its convex hull, nothing to choose
        return [reduce_hull(full.vertices, max_vertices)], "convex", [], None, settings
    candidates, attempts = [], []  # candidates: (misses, p95, method, hulls, fid)
    if convexity >= fidelity.convex_fast_path_ratio:
        hull = reduce_hull(full.vertices, max_vertices)
        fid = collision_fidelity(mesh, [hull], samples=fidelity.samples, seed=seed)
        candidates.append((fidelity_misses(fid, fidelity), fid["p95_pct"], "convex", [hull], fid))
    thr = settings.threshold
    for _attempt in range(4):  # the first run, at most two finer retries, one crash retry
        if any(not c[0] for c in candidates):
            break
        left = deadline - time.perf_counter()
        done = [a for a in attempts if "hulls" in a]
        if done and left < 1.5 * done[-1]["seconds"] + 1.0:
            attempts.append({"threshold": thr, "skipped": f"{left:.1f} s of budget left"})
            break  # a finer run would not fit: keep the best so far (figures say so)
        t1 = time.perf_counter()
        try:
            v, f = _coacd_input(mesh) if settings.preprocess_mode == "off" else (mesh.vertices, mesh.faces)
            pieces, cpu = run_coacd(v, f, replace(settings, threshold=thr).kwargs(max_hulls, seed),
                                    time_budget_s=max(left, 0.0), name=name, budget_label=budget)
        except TimeBudgetError:
            if not candidates:
                raise
            attempts.append({"threshold": thr, "seconds": time.perf_counter() - t1, "timed_out": True})
            break
        except InputError as exc:
            if settings.preprocess_mode != "off" or "died" not in str(exc):
                raise
            attempts.append({"threshold": thr, "seconds": time.perf_counter() - t1, "crashed": exc.problem})
            settings = replace(settings, preprocess_mode="on")  # CoACD's manifold remesh, then again
            continue
        hulls = _finish([p[0] for p in pieces], max_hulls, max_vertices)
        if not hulls:
            raise InputError("CoACD returned no usable (non-flat) hull", name or None)
        fid = collision_fidelity(mesh, hulls, samples=fidelity.samples, seed=seed)
        misses = fidelity_misses(fid, fidelity)
        attempts.append({"threshold": thr, "preprocess": settings.preprocess_mode, "seconds": time.perf_counter() - t1,
                         "coacd_cpu_seconds": cpu, "hulls": len(hulls), **_summary(fid), "misses": misses})
        candidates.append((misses, fid["p95_pct"], "coacd", hulls, fid))
        thr *= fidelity.retry_threshold_factor
    misses, _, method, hulls, fid = min(candidates, key=lambda c: (len(c[0]), c[1]))
    return list(hulls), method, attempts, fid, settings
