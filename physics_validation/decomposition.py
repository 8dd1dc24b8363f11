"""Convex decomposition of one rigid part into simulator-ready hulls, under budgets.

CoACD (Wei et al., "Approximate Convex Decomposition for 3D Meshes with Collision-Aware
Concavity and Tree Search", SIGGRAPH 2022) cuts the part into convex pieces; each piece's
convex hull is then cut down to at most ``max_hull_vertices`` vertices (PhysX's GPU limit is
64, Isaac Lab's default) by quadric-error decimation of the hull followed by re-hulling, which
keeps the hull's surface where it was, within a 1 mm bulge (CoACD's own ``decimate`` removes
vertices and shrinks the hull inward: measured on duck.obj, hull volume ratio 0.91 against
0.99 here, mean surface distance 1.0% against 0.36% of the diagonal, before the bulge cap).
At most ``max_hulls`` hulls per part (CoACD's pieces merged here, see below).

Budgets, fast path and fallbacks:

- A part whose volume is at least :attr:`FidelityThresholds.convex_fast_path_ratio` of its
  convex hull's is given its (reduced) convex hull, without CoACD, if that meets the fidelity
  bounds; so is a part small beside its asset (``asset_diagonal``), judged at the asset's
  scale (:attr:`FidelityThresholds.small_part_fraction`).
- The time budget counts work, not the clock (:class:`n4d4d.budget.Budget`): CPU seconds of
  this process and of CoACD's child process (a plain subprocess, data over its pipes; CoACD
  has no timeout of its own), with a wall-clock guard of 10x that only catches a hang. The
  child is killed as soon as the budget is spent; no child outlives the call.
- Fidelity (:mod:`.fidelity`) is measured on every result; a miss triggers a retry with a finer
  concavity threshold when the remaining budget allows and a finer cut can help (when only the
  volume ratio misses with the hull budget spent: once, for a near miss, :data:`VOLUME_NEAR_MISS`),
  and the best result is kept.
- Plane cuts for volume (:mod:`.plane_cuts`): the first CoACD result that misses the bounds
  (and a search that ends with none meeting them) gets a candidate from bisecting the shell by
  the planes that most cut its summed hull volume, before any finer CoACD run. CoACD's
  concavity is a distance, so a thin bent plate is convex enough to it while its hulls fill
  the bend (pybullet_data husky's bumpers: 6 hulls at 2.8 times the solid's volume); the
  candidate, measured, is kept when its fidelity is better.
- Hollow round parts (a tube, a ring: :func:`.sector_cuts.revolution_axis`) get angular sectors
  refined by plane cuts (:mod:`.sector_cuts`) as that candidate instead: no single plane lowers
  a tube's hull volume.
- Congruent parts (:mod:`.congruent`): a part that is a rigid motion or mirror image of one
  decomposed earlier in the process under the same budgets (a robot's repeated legs) is given
  that part's hulls, moved onto it, when they measure as well on it (one fidelity measure
  instead of a search; ``reused_from`` names the part).
- Degrade, don't fail: when CoACD is stopped by the budget (or hangs) before any result meets
  the bounds, :mod:`.fallback` spends at most :func:`.fallback.fallback_cpu_s` more CPU seconds
  on cheaper methods (CoACD with coarse settings, V-HACD) and always has the convex hull of
  each shell; the best of everything measured is used, with its fidelity and a note saying
  what happened. Whether that fidelity is good enough is the certificate's verdict
  (``collision_fidelity``), not an exception.

Default CoACD settings: a finer concavity threshold than CoACD's own (0.04 against 0.05) and
a lighter search (``mcts_iterations`` 60 instead of 150, ``mcts_max_depth`` 2 instead of 3,
``resolution`` 1000 instead of 2000), no CoACD remesh of a closed input, and a closed input
above 2,000 faces simplified within 0.1% of its diagonal first (:mod:`.preprocess`). CoACD's own
merge is off (it weighs every pair of its pieces by concavity, O(n^2) hull and distance
evaluations: 30% of its time on the bunny): its pieces are merged here to the hull budget by
least added volume (:func:`.hulls.merge_to_budget`, O(n k log n)), measured cheaper at equal or
better fidelity (CPU s, mean / p95 % of the diagonal, benchmarks/decomposition.py): bunny
10.1 -> 6.1 (0.073 / 0.87 -> 0.063 / 0.76), suzanne 15.9 -> 13.9 (0.073 / 0.83 -> 0.076 /
0.79), mug 8.5 -> 7.6, cow 8.1 -> 7.8, duck 4.3 -> 3.4 (0.119 / 0.78 -> 0.114 / 0.73). On
pybullet_data's duck.obj at its real size (benchmarks/physics.py, before that change): CoACD's
defaults take 60 s of CPU for 11 hulls of up to 5,290 vertices (mean / p95 surface distance
0.17% / 0.75% of the diagonal, volume ratio 1.064); these settings took 4.2 s for 14 hulls
of at most 64 vertices (0.12% / 0.77%, 0.983).
This module does not place hulls in a simulator; it returns meshes in the part's frame.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from n4d4d.asset import Mesh
from n4d4d.budget import Budget
from n4d4d.errors import EmptyMeshError, InputError

from .candidates import attempt_summary, overshoot, plane_cut_candidate
from .coacd_runner import CoacdSettings
from .congruent import remember, reuse
from .fidelity import asset_scale, fidelity_misses, measure
from .hulls import hull_of
from .shell_search import decompose_shell, decompose_shells
from .thresholds import FidelityThresholds, as_dict


def convex_decomposition(mesh: Mesh, *, max_hulls: int = 32, max_hull_vertices: int = 64,
                         threshold: float = 0.04, time_budget_s: float = 60.0, seed: int = 0,
                         name: str = "", settings: CoacdSettings | None = None,
                         fidelity: FidelityThresholds | None = None,
                         budget: Budget | None = None,
                         asset_diagonal: float | None = None,
                         fast_path: bool = True) -> tuple[tuple[Mesh, ...], dict]:
    """Convex hulls of a closed part mesh, within hull, vertex and CPU-time budgets.

    A part with sealed cavities is decomposed as its outer solid (:func:`.preprocess.fill_voids`:
    nothing outside can reach them; PartNet-Mobility camera 102417's body has 65 of them, 45% of
    its outer volume, whose filling alone put its hull volume ratio at 2.09).

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
        time_budget_s: CPU seconds of the search (CoACD runs, retries, fidelity; this process
            and its children), with a wall-clock hang guard of 10x; past it, a fallback
            (module docstring) may spend :func:`.fallback.fallback_cpu_s` more.
        seed: CoACD's seed and the fidelity sampler's.
        name: asset / part name for errors.
        settings: CoACD settings (default :class:`CoacdSettings`; ``threshold`` overrides its
            threshold).
        fidelity: fidelity bounds (default :class:`FidelityThresholds`).
        budget: a running :class:`~n4d4d.budget.Budget` to use instead of a fresh one of
            ``time_budget_s`` CPU seconds.
        asset_diagonal: the whole asset's bounding-box diagonal (m) when the part is one of
            several: a part small beside it (:attr:`FidelityThresholds.small_part_fraction`) is
            judged at the asset's scale (:func:`.fidelity.fidelity_misses`; its fidelity
            figures carry ``asset_scale``) and takes the convex fast path whenever its hull meets
            the bounds so judged, whatever its convexity ratio.
        fast_path: False skips the convex fast path (a small part whose one hull cannot be
            kept clear of a neighbour's, :func:`.stages.collision_stage`): CoACD decides.

    Returns:
        ``(hulls, figures)``: closed convex :class:`Mesh` es (outward faces, asset frame), and a
        JSON-ready dict: ``method`` ("convex" fast path, "coacd", "plane-cuts"
        (:mod:`.plane_cuts`, when CoACD's result missed the bounds), "sector-cuts" (the same for
        a hollow round part, :mod:`.sector_cuts`), "shells" when the part
        has several connected shells, each decomposed on its own: ``shells`` lists them, or the
        fallback's: "coacd-coarse", "vhacd", "convex-hull"), ``hulls``,
        ``max_hull_vertices``, ``seconds`` (wall), ``cpu_seconds``, ``convexity_ratio`` (part /
        convex-hull volume), ``volume_ratio`` (hull union / part), ``surface_distance_mean_pct``
        and ``surface_distance_p95_pct`` (symmetric, % of bounding-box diagonal), ``fidelity``
        (all of :func:`~.fidelity.collision_fidelity`), ``fidelity_passed``,
        ``fidelity_misses``, ``attempts`` (threshold, seconds, summary per CoACD run),
        ``fallback`` (None, or ``reason`` "cpu budget" | "hang", ``method``, ``budget_s``),
        ``notes`` (what a user should know: a fallback and its fidelity), ``budget``
        (:meth:`~n4d4d.budget.Budget.figures`), ``thresholds``, ``enclosed_voids`` and
        ``void_volume_m3`` (sealed cavities filled, :func:`.preprocess.fill_voids`).

    Raises:
        EmptyMeshError: no faces or no volume. InputError: non-finite vertices, or CoACD failed
            (a crash on a closed mesh is retried once with CoACD's manifold preprocessing).
            ValueError: budgets below 1 hull / 4 vertices.
    """
    import trimesh

    from .fallback import Reserve
    from .preprocess import closed_shells, fill_voids

    if max_hulls < 1 or max_hull_vertices < 4:
        raise ValueError(f"need max_hulls >= 1 and max_hull_vertices >= 4, got {max_hulls}, {max_hull_vertices}")
    fidelity = fidelity or FidelityThresholds()
    settings = replace(settings or CoacdSettings(), threshold=threshold)
    budget = budget or Budget(time_budget_s, what="convex decomposition", label=name or None)
    reserve = Reserve(budget.cpu_s)
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
    mesh, voids, void_volume = fill_voids(mesh)  # sealed cavities: nothing can reach them
    if voids:
        tm = trimesh.Trimesh(np.array(mesh.vertices), np.array(mesh.faces), process=False)
    full = hull_of(mesh.vertices)
    if full is None or abs(tm.volume) <= 0:
        raise EmptyMeshError("the part encloses no volume (flat or empty)", name or None)
    convexity = float(abs(tm.volume) / full.volume)
    small = asset_scale(mesh.diagonal, asset_diagonal, fidelity) is not None
    big = asset_diagonal if small else None  # judge at the asset's scale (small parts only)
    key = (max_hulls, max_hull_vertices, settings, repr(sorted(as_dict(fidelity).items())), bool(fast_path),
           asset_diagonal, int(seed), float(budget.cpu_s))
    hit = reuse(mesh, key, fidelity, seed, big)  # a congruent part decomposed before (a robot's other legs)
    if hit is not None:
        return _reused(hit, convexity, budget, t0, voids, void_volume, fidelity)
    shells = closed_shells(tm)
    if len(shells) <= 1:
        hulls, method, attempts, fid, used = decompose_shell(mesh, tm, max_hulls, max_hull_vertices, settings,
                                                              fidelity, seed, budget, reserve, name, asset_diagonal=big,
                                                              fast_path=fast_path)
        shell_figures = None
    else:
        hulls, attempts, shell_figures, used = decompose_shells(shells, max_hulls, max_hull_vertices, settings,
                                                                 fidelity, seed, budget, reserve, name, big, fast_path)
        method, fid = "shells", measure(mesh, hulls, fidelity, seed, big)
        if fidelity_misses(fid, fidelity) and max_hulls >= 2:
            # the shells' hull shares are by volume; cuts over the whole part go where the hulls
            # waste the most (husky's user rail, 9 shells: volume ratio 1.80 by shells)
            from .preprocess import coacd_input

            v, f = coacd_input(mesh)
            cut = plane_cut_candidate(mesh, v, f, max_hulls, max_hull_vertices, fidelity, seed, budget, reserve,
                                       big, attempts)
            if cut and ((len(cut[0][0]), overshoot(cut[0][4], fidelity), cut[0][1])
                        < (len(fidelity_misses(fid, fidelity)), overshoot(fid, fidelity), fid["p95_pct"])):
                hulls, method, fid = cut[0][3], cut[0][2], cut[0][4]
        if len(shells) > max_hulls:  # hulls had to bridge the gaps between shells: say why, and the way out
            fid = {**fid, "hint": f"the part is {len(shells)} separate shells, more than the {max_hulls} hulls "
                                  f"allowed: hulls bridge the gaps between shells (--max-hulls {len(shells)} "
                                  "gives one hull per shell, if the simulator accepts that many)"}
    misses = fidelity_misses(fid, fidelity)
    fallback = reserve.summary(method if shell_figures is None else None, shell_figures)
    notes = []
    if fallback is not None:
        verdict = "meets the fidelity bounds" if not misses else "misses the fidelity bounds: " + "; ".join(misses)
        notes.append(f"convex decomposition{' of ' + name if name else ''}: {fallback['text']}; its fidelity: "
                     f"mean {fid['mean_pct']:.2f}% / p95 {fid['p95_pct']:.2f}% of the diagonal, volume ratio "
                     f"{fid['volume_ratio']:.3f} ({verdict})")
    figures = {
        "method": method, "hulls": len(hulls), "max_hull_vertices": max(len(h.vertices) for h in hulls),
        "seconds": time.perf_counter() - t0, "cpu_seconds": budget.cpu_used(), "convexity_ratio": convexity,
        "volume_ratio": fid["volume_ratio"], "surface_distance_mean_pct": fid["mean_pct"],
        "surface_distance_p95_pct": fid["p95_pct"], "fidelity": fid, "fidelity_passed": not misses,
        "fidelity_misses": misses, "attempts": attempts,
        "fallback": None if fallback is None else {k: v for k, v in fallback.items() if k != "text"},
        "notes": notes,
        "budgets": {"max_hulls": max_hulls, "max_hull_vertices": max_hull_vertices, "time_budget_s": budget.cpu_s},
        "budget": budget.figures(), "coacd": as_dict(used), "thresholds": as_dict(fidelity),
        "enclosed_voids": voids, "void_volume_m3": void_volume,
    }
    if shell_figures is not None:
        figures["shells"] = shell_figures
    remember(mesh, key, hulls, figures, name)
    return tuple(hulls), figures


def _reused(hit, convexity, budget, t0, voids, void_volume, fidelity) -> tuple[tuple[Mesh, ...], dict]:
    """The figures of a decomposition reused from a congruent part (:func:`.congruent.reuse`)."""
    hulls, fid, entry, same = hit
    if same:  # the very same mesh: what its search gave, as a fresh search would give it
        return tuple(hulls), {**entry["figures"], "seconds": time.perf_counter() - t0,
                              "cpu_seconds": budget.cpu_used(), "budget": budget.figures()}
    misses = fidelity_misses(fid, fidelity)
    figures = {
        **entry["figures"], "hulls": len(hulls), "max_hull_vertices": max(len(h.vertices) for h in hulls),
        "seconds": time.perf_counter() - t0, "cpu_seconds": budget.cpu_used(), "convexity_ratio": convexity,
        "volume_ratio": fid["volume_ratio"], "surface_distance_mean_pct": fid["mean_pct"],
        "surface_distance_p95_pct": fid["p95_pct"], "fidelity": fid, "fidelity_passed": not misses,
        "fidelity_misses": misses, "reused_from": entry["name"], "notes": [],
        "attempts": [{"method": "congruent", "from": entry["name"], "cpu_seconds": budget.cpu_used(),
                      **attempt_summary(fid), "misses": misses}],
        "budget": budget.figures(), "enclosed_voids": voids, "void_volume_m3": void_volume,
    }
    return tuple(hulls), figures
