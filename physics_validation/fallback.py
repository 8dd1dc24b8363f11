"""Cheaper decompositions for when CoACD's search runs out of budget: degrade, don't fail.

When the budget of :func:`.decomposition.convex_decomposition` stops CoACD (CPU seconds spent,
or its wall-clock guard caught a hang) before any result met the fidelity bounds, the part
still gets hulls. :func:`fallback_candidates` measures, cheapest first, and stops as soon as
one meets the bounds:

1. the convex hull of the shell, cut to the vertex budget (always: milliseconds);
2. CoACD with coarse settings (:data:`COARSE`: a coarser concavity threshold, a shallow and
   short tree search, lower sampling resolution), in its child process;
3. V-HACD 2 (Mamou et al., ``pybullet.vhacd``) in its own child process, its hulls merged to
   the hull budget.

Steps 2 and 3 share a reserve of :func:`fallback_cpu_s` CPU seconds per part (a Budget of its
own, with its 10x wall guard; half for step 2, the rest for step 3); a step that runs out is
stopped and recorded. Every candidate's fidelity is measured (:func:`.fidelity.collision_fidelity`);
the caller keeps the best (fewest misses, then smallest p95 distance). :class:`Reserve` keeps
the record of what was tried and chosen, for the figures and the note the asset carries. This
module decides nothing about the certificate: a fallback whose fidelity misses the bounds fails
the ``collision_fidelity`` check there.
"""

from __future__ import annotations

from dataclasses import replace

from n4d4d.budget import Budget, HangError
from n4d4d.errors import InputError, TimeBudgetError

from .fidelity import fidelity_misses
from .hulls import merge_to_budget, reduce_hull

#: Share of the search budget a fallback may spend on top of it, and its floor and ceiling
#: (CPU s): a quarter keeps a whole part within 1.25x its budget; 2 s lets coarse CoACD finish
#: on a compact part even when the budget was tiny; 15 s bounds the worst case.
FALLBACK_SHARE, FALLBACK_MIN_S, FALLBACK_MAX_S = 0.25, 2.0, 15.0

#: V-HACD settings of step 3 (``pybullet.vhacd`` keywords; hull vertices are set per call).
#: 50,000 voxels instead of V-HACD's 100,000 halves its time.
VHACD_OPTIONS = {"resolution": 50_000, "concavity": 0.0025, "planeDownsampling": 4,
                 "convexhullDownsampling": 4, "depth": 20, "mode": 0, "pca": 0}


def fallback_cpu_s(budget_s: float) -> float:
    """CPU seconds a part's fallbacks may spend beyond its search budget of ``budget_s``."""
    return float(min(max(FALLBACK_SHARE * budget_s, FALLBACK_MIN_S), FALLBACK_MAX_S))


def coarse_settings(settings):
    """The :class:`~.coacd_runner.CoacdSettings` of step 2: ``settings`` with a concavity
    threshold of 0.1, one level of tree search, 20 iterations, 8 nodes and a sampling
    resolution of 500 (CoACD's defaults: 0.05, 3, 150, 20, 2000)."""
    return replace(settings, threshold=max(settings.threshold, 0.1), mcts_max_depth=1, mcts_iterations=20,
                   mcts_nodes=8, resolution=500)


class Reserve:
    """The fallback CPU seconds of one part, shared by its shells, and what the fallbacks did.

    Args:
        budget_s: the part's search budget (CPU s); the reserve is :func:`fallback_cpu_s` of it.
    """

    def __init__(self, budget_s: float):
        self.budget_s = float(budget_s)
        self.seconds = self.left = fallback_cpu_s(budget_s)
        self.events: list[dict] = []

    def draw(self, fraction: float, what: str) -> Budget:
        """A Budget of ``fraction`` of what is left (at least 0.05 CPU s)."""
        return Budget(max(self.left * fraction, 0.05), what=what, min_wall_s=5.0)

    def spend(self, budget: Budget) -> None:
        self.left = max(self.left - budget.cpu_used(), 0.0)

    def record(self, event: dict) -> None:
        self.events.append(event)

    def chosen(self, method: str, shell: int | None) -> None:
        for e in self.events:
            if e.get("shell") == shell and "method" not in e:
                e["method"] = method

    def summary(self, method: str | None, shell_figures: list | None) -> dict | None:
        """None when no fallback ran; else JSON-ready ``reason``, ``method``, ``budget_s``,
        ``reserve_s``, ``reserve_used_seconds``, ``events`` and ``text`` (one sentence)."""
        if not self.events:
            return None
        reasons = sorted({e["reason"] for e in self.events})
        why = ("CoACD looked hung (its wall-clock guard tripped)" if reasons == ["hang"]
               else f"CoACD reached its CPU budget of {self.budget_s:g} s" if reasons == ["cpu budget"]
               else f"CoACD reached its CPU budget of {self.budget_s:g} s or hung")
        chosen = [e.get("method", "?") for e in self.events]
        if method is not None:
            text = f"{why} before a result met the fidelity bounds; used {chosen[0]} instead"
        else:
            text = (f"{why} on {len(self.events)} of its {len(shell_figures or [])} shells; those use "
                    + ", ".join(f"shell {e['shell']}: {e.get('method', '?')}" for e in self.events))
        tried = [t for e in self.events for t in e.get("tried", [])]
        stopped = [t for t in tried if t.get("stopped")]
        if stopped:
            text += " (" + "; ".join(f"{t['method']} stopped: {t['stopped']}" for t in stopped) + ")"
        return {"reason": "hang" if reasons == ["hang"] else "cpu budget", "method": chosen[0] if method else "shells",
                "budget_s": self.budget_s, "reserve_s": self.seconds, "reserve_used_seconds": self.seconds - self.left,
                "events": self.events, "text": text}


def _candidate(mesh, hulls, method, fidelity, seed, asset_diagonal=None):
    from .fidelity import measure

    fid = measure(mesh, hulls, fidelity, seed, asset_diagonal)
    return (fidelity_misses(fid, fidelity), fid["p95_pct"], method, list(hulls), fid)


def fallback_candidates(mesh, full, vertices, faces, max_hulls: int, max_vertices: int, settings, fidelity,
                        seed: int, reserve: Reserve, name: str, *, reason: str,
                        shell: int | None = None, asset_diagonal: float | None = None) -> tuple[list, list[dict]]:
    """Candidates of steps 1-3 (module docstring) for one shell, cheapest first, stopping at
    the first that meets the bounds.

    Args:
        mesh: the shell's closed surface (:class:`~n4d4d.asset.Mesh`, m).
        full: its convex hull (trimesh). vertices, faces: what CoACD was given (simplified).
        max_hulls, max_vertices: the hull budgets. settings: the CoACD settings of the search.
        fidelity: :class:`~.thresholds.FidelityThresholds`. seed: CoACD's and the samplers'.
        reserve: the part's :class:`Reserve` (drawn from, and told what happened).
        name: for errors. reason: why the search stopped ("cpu budget" or "hang").
        shell: the shell's index, or None for a one-shell part.
        asset_diagonal: the asset's diagonal (m) for a small part judged at the asset's scale
            (:func:`.fidelity.measure`), or None.

    Returns:
        ``(candidates, attempts)``: ``(misses, p95, method, hulls, fidelity)`` tuples (methods
        "convex-hull", "coacd-coarse", "vhacd") and one attempt record per step run.
    """
    from .candidates import finish_hulls
    from .coacd_runner import COACD_COMMAND, run_worker

    event = {"shell": shell, "reason": reason, "tried": []}
    reserve.record(event)
    hull = reduce_hull(full.vertices, max_vertices)
    out = [_candidate(mesh, [hull], "convex-hull", fidelity, seed, asset_diagonal)]
    event["tried"].append({"method": "convex-hull", "passed": not out[-1][0]})
    steps = (("coacd-coarse", 0.5, COACD_COMMAND, coarse_settings(settings).kwargs(max_hulls, seed)),
             ("vhacd", 1.0, VHACD_COMMAND, {**VHACD_OPTIONS, "maxNumVerticesPerCH": int(max_vertices)}))
    for method, fraction, command, kwargs in steps:
        if any(not c[0] for c in out) or max_hulls < 2:  # met the bounds (or one hull is all there may be)
            break
        budget = reserve.draw(fraction, f"{method} fallback")
        try:
            pieces = run_worker(command, vertices, faces, kwargs, budget=budget, name=name, what=method)
            hulls = finish_hulls([p[0] for p in pieces], max_hulls, max_vertices)
            if len(hulls) > max_hulls:
                hulls = merge_to_budget(hulls, max_hulls, max_vertices)
            if hulls:
                out.append(_candidate(mesh, hulls, method, fidelity, seed, asset_diagonal))
                event["tried"].append({"method": method, "cpu_seconds": budget.cpu_used(), "hulls": len(hulls),
                                       "passed": not out[-1][0]})
        except TimeBudgetError as exc:
            why = "hung" if isinstance(exc, HangError) else f"its {budget.cpu_s:.2g} CPU s ran out"
            event["tried"].append({"method": method, "cpu_seconds": budget.cpu_used(), "stopped": why})
        except InputError as exc:
            event["tried"].append({"method": method, "failed": exc.problem})
        finally:
            reserve.spend(budget)
    attempts = [{"fallback": t["method"], **{k: v for k, v in t.items() if k != "method"}} for t in event["tried"]]
    return out, attempts


#: argv of the V-HACD child process (:mod:`._vhacd_worker`).
VHACD_COMMAND: tuple[str, ...] = ("-m", "n4d4d.physics_validation._vhacd_worker")
