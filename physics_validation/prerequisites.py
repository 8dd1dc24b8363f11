"""Sweep prerequisites: the other joints that must be moved out of the way before a joint can run
through its range (a drawer behind a cabinet door opens once the door is open).

PartNet-Mobility storage furniture often puts drawers behind a door: with the door closed, a
drawer's sweep drives it into the door (45213: 311 mm at mid-travel, both engines), and the
articulation check and the ``articulate`` motion clip, which move one joint at a time with the
others at 0, call a sound asset broken. A person opens the door first; so do the sweeps here.

:func:`sweep_prerequisites` finds, for each movable joint J, a *hold*: joint coordinates of other
joints at which J's whole range is clear of every non-adjacent link. It samples J's range
(:data:`PREREQUISITE_SAMPLES` coordinates, limits included) with the hull GJK/EPA depth of
:class:`.penetration.HullWorld`, the measure the sweeps themselves use; where a link that J's
subtree meets hangs below another movable joint K (not above J: moving K would move J too), K is
tried at each of its finite limits, farthest from 0 first, and kept at the one that clears most;
the search repeats (greedy) until J's range is clear. A hold is returned only when it clears the
whole sampled range and the held pose itself (J at 0) is clear; otherwise J has none and its
sweep is judged as before, so a drawer that hits a fixed shelf still fails. Continuous joints are
never held (no coordinate of a knob turns it out of the way).

The hold only changes the pose the sweep starts from: the engines then drive every joint and
measure the overlaps as they do for any sweep, so a hold that is wrong between the samples
still fails the check.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .rigid_model import RigidModel, link_transforms, subtree

#: Coordinates sampled across a joint's range when looking for its prerequisites (limits included).
PREREQUISITE_SAMPLES = 13


def _range(joint) -> np.ndarray | None:
    if joint.type == "continuous" or not np.isfinite([joint.lower, joint.upper]).all():
        return None
    return np.linspace(float(joint.lower), float(joint.upper), PREREQUISITE_SAMPLES)


def _mover(model: RigidModel, index: int, ancestors: set[int]) -> int | None:
    """The nearest link at or above ``index`` whose joint is movable with finite limits and is
    not one of ``ancestors`` (the links above the swept joint), or None."""
    i = index
    while i >= 0:
        link = model.links[i]
        if i in ancestors:
            return None
        j = link.joint
        if j is not None and j.type not in ("fixed", "continuous") and _range(j) is not None:
            return i
        i = link.parent
    return None


def sweep_prerequisites(model: RigidModel, bound_m: float, *, world=None,
                        candidates: Mapping[int, list[tuple[int, int]]] | None = None) -> dict[str, dict[str, float]]:
    """Holds that clear each movable joint's range (module docstring).

    Args:
        model: the links with their hulls (:func:`.rigid_model.rigid_model`).
        bound_m: largest overlap (m) between non-adjacent links that counts as clear (the
            certificate's ``max_link_penetration_m``).
        world: a :class:`.penetration.HullWorld` of ``model`` to query (default: one made here
            and closed).
        candidates: swept link index -> the non-adjacent pairs its sweep may meet; joints whose
            link is absent are not searched (default: every movable joint, with every
            non-adjacent pair that has a link of its subtree on one side only).

    Returns:
        Joint name -> ``{other joint name: coordinate (rad or m)}``, only for the joints that
        need a hold and have one; every other joint is absent.
    """
    from .penetration import HullWorld

    pairs_all = model.non_adjacent_pairs()
    if not pairs_all:
        return {}
    names = {link.index: link.joint.name for link in model.links if link.joint is not None}
    out: dict[str, dict[str, float]] = {}
    own = world is None
    world = world or HullWorld(model)
    try:
        for link in model.links:
            qs = _range(link.joint) if link.joint is not None else None
            if qs is None:
                continue
            if candidates is not None and link.index not in candidates:
                continue
            mine = set(subtree(model, link.index))
            pairs = (list(candidates[link.index]) if candidates is not None
                     else [(a, c) for a, c in pairs_all if (a in mine) != (c in mine)])
            if not pairs:
                continue
            above = set()
            i = link.parent
            while i >= 0:
                above.add(i)
                i = model.links[i].parent

            def depths(hold: dict[int, float], values=qs) -> np.ndarray:  # (samples, pairs)
                rows = []
                for q in values:
                    pose = {names[i]: v for i, v in hold.items()}
                    pose[link.joint.name] = float(q)
                    rows.append(world.pair_depths(pairs, link_transforms(model, pose)))
                return np.array(rows)

            d = depths({})
            if d.max() <= bound_m:
                continue
            hold: dict[int, float] = {}
            tried: set[int] = set()
            while d.max() > bound_m:
                worst = d.max(axis=0)
                movers = []
                for k in np.argsort(-worst):
                    if worst[k] <= bound_m:
                        break
                    a, c = pairs[k]
                    other = c if a in mine else a
                    m = _mover(model, other, above | mine)
                    if m is not None and m not in tried and m not in movers:
                        movers.append(m)
                if not movers:
                    break
                m = movers[0]
                tried.add(m)
                j = model.links[m].joint
                best, best_d = None, d
                for v in sorted({float(j.lower), float(j.upper)} - {0.0}, key=lambda x: -abs(x)):
                    dd = depths({**hold, m: v})
                    if dd.max(axis=0).sum() < best_d.max(axis=0).sum() - 1e-9:
                        best, best_d = v, dd
                if best is not None:
                    hold[m], d = best, best_d
            if hold and d.max() <= bound_m and depths(hold, [0.0]).max() <= bound_m:
                out[link.joint.name] = {names[i]: v for i, v in hold.items()}
    finally:
        if own:
            world.close()
    return out
