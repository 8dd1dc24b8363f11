"""CoACD in a killable child process under a CPU budget, its settings, and the pieces it returned.

:class:`CoacdSettings` are the CoACD parameters the decomposition uses (measured for speed at
equal fidelity: :mod:`.decomposition`'s docstring); :func:`run_worker` runs one decomposition
child process (:mod:`._coacd_worker`, :mod:`._vhacd_worker`) under a
:class:`~n4d4d.budget.Budget`; :func:`run_coacd` runs CoACD and keeps its pieces for the rest of
the process (:data:`PIECES_CACHED`), so the same input with the same settings is not cut twice.
This module runs CoACD; judging and choosing its pieces is :mod:`.decomposition`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from n4d4d.budget import Budget
from n4d4d.errors import InputError, TimeBudgetError

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
    merge: bool = False

    def kwargs(self, max_hulls: int, seed: int) -> dict:
        """Keyword arguments of ``coacd.run_coacd`` (hull vertices are reduced here, not by
        CoACD's ``decimate``)."""
        return dict(threshold=self.threshold, max_convex_hull=max_hulls, preprocess_mode=self.preprocess_mode,
                    preprocess_resolution=self.preprocess_resolution, resolution=self.resolution,
                    mcts_nodes=self.mcts_nodes, mcts_iterations=self.mcts_iterations,
                    mcts_max_depth=self.mcts_max_depth, merge=self.merge, decimate=False, seed=seed)


#: argv of the CoACD child process (:mod:`._coacd_worker`); a module attribute so a test can
#: stand a child that hangs in for it.
COACD_COMMAND: tuple[str, ...] = ("-m", "n4d4d.physics_validation._coacd_worker")


def run_worker(command: Sequence[str], vertices: np.ndarray, faces: np.ndarray, kwargs: dict, *,
               budget: Budget, name: str = "", what: str = "CoACD") -> list[tuple[np.ndarray, np.ndarray]]:
    """One decomposition child process (``python <command>``, the protocol of
    :mod:`._coacd_worker`) under ``budget`` (:func:`n4d4d.budget.run_child`).

    Returns:
        The pieces, each ``(vertices (n, 3) float64, faces (m, 3) int64)``.

    Raises:
        TimeBudgetError: the budget's CPU seconds ran out (the child has been killed and reaped).
        HangError: its wall-clock guard tripped first (likewise).
        InputError: the method failed or the child died (its exit code and last words are given).
    """
    import pickle
    import sys

    from n4d4d.budget import run_child

    payload = pickle.dumps((np.ascontiguousarray(vertices, dtype=np.float64),
                            np.ascontiguousarray(faces, dtype=np.int32), dict(kwargs)))
    out, err, code = run_child([sys.executable, *command], payload, budget, stage=what)
    if code != 0 or not out:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
        raise InputError(f"{what} died (exit code {code}){': ' + tail[0] if tail else ''}", name or None)
    status, result = pickle.loads(out)
    if status != "ok":
        raise InputError(f"{what} failed: {result}", name or None)
    return result


def run_coacd(vertices: np.ndarray, faces: np.ndarray, kwargs: dict, *, budget: Budget | None = None,
              time_budget_s: float | None = None, name: str = "") -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """``coacd.run_coacd`` in a killable child process (:mod:`._coacd_worker`), under a CPU budget.

    Args:
        vertices: ``(V, 3) float64`` (m). faces: ``(F, 3)`` int.
        kwargs: keyword arguments of ``coacd.run_coacd``.
        budget: the :class:`~n4d4d.budget.Budget` charged (CPU seconds of the child count).
        time_budget_s: without ``budget``, CPU seconds of a fresh one (default 60).
        name: asset / part name for errors.

    Returns:
        ``(pieces, cpu_seconds)``: CoACD's pieces, each ``(vertices (n, 3) float64, faces
        (m, 3) int64)``, and the CPU seconds of the call (the child's, user + system), which
        unlike wall time do not grow when other processes share the cores.

    Raises:
        TimeBudgetError: the budget ran out (the child has been killed and reaped);
            :class:`~n4d4d.budget.HangError` when its wall-clock guard tripped first.
        InputError: CoACD failed or the child died (its exit code and last words are given).
    """
    from n4d4d.budget import process_cpu_seconds

    budget = budget or Budget(60.0 if time_budget_s is None else time_budget_s,
                              what="CoACD convex decomposition", label=name or None)
    c0 = process_cpu_seconds()
    key = _cache_key(vertices, faces, kwargs)
    if key is not None and key in _PIECES:
        pieces, cost = _PIECES[key]
        if budget.cpu_left() < cost:  # the run would not have fitted: stopped, as it would have been
            raise TimeBudgetError(f"{budget.what} (CoACD) needs {cost:.1f} CPU s, {budget.cpu_left():.1f} left",
                                  budget.label)
        return pieces, 0.0
    pieces = run_worker(COACD_COMMAND, vertices, faces, kwargs, budget=budget, name=name, what="CoACD")
    cost = process_cpu_seconds() - c0
    if key is not None:
        _PIECES[key] = (pieces, cost)
    while len(_PIECES) > PIECES_CACHED:
        _PIECES.pop(next(iter(_PIECES)))
    return pieces, cost


#: CoACD results kept in this process (the last few), with the CPU seconds each took: the
#: collision stage decomposes a part again with a larger hull budget when the first misses
#: (``--max-hulls-fallback``) and again without the fast path when a small part's hull is
#: blocked; CoACD's pieces do not depend on ``max_convex_hull`` when its merge is off
#: (checked: husky's user rail, the same 15 pieces with 4, 32 and no limit), so the same
#: input, settings and command are not run twice. A kept result is used only when the budget
#: has its CPU seconds left (otherwise the call is stopped, as the run would have been).
PIECES_CACHED = 8
_PIECES: dict = {}


def _cache_key(vertices, faces, kwargs) -> tuple | None:
    import hashlib

    if kwargs.get("merge", True):
        return None  # CoACD's own merge depends on max_convex_hull: no reuse
    h = hashlib.sha1(np.ascontiguousarray(vertices, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
    return (tuple(COACD_COMMAND), h.hexdigest(),
            tuple(sorted((k, v) for k, v in kwargs.items() if k != "max_convex_hull")))
