"""Decompositions reused across congruent parts: a part that is a rigid motion or a mirror image of
one decomposed earlier in the process gets that part's hulls, moved onto it, when they measure as
well on it as they did on their own part.

Robots repeat their limbs: pybullet_data's mini_cheetah has four thighs and four shanks, each
re-closed from the same open collision mesh in its own pose (so their meshes differ in the last
digits and in a few dozen faces), and each took 50-65 CPU s of CoACD runs, plane cuts and finer
retries at 32 and then 64 hulls. Exact caching (:mod:`.coacd_runner`) cannot see that they are
the same shape. Here a part is described by its area-weighted surface centroid, the principal
axes of its surface's second moments (each oriented by the sign of the third moment along it,
so a mirror image maps with a reflection) and its volume, area and principal moments, which
must agree within :data:`FEATURE_TOLERANCE`; the earlier part's hulls are then mapped from its
frame to the new part's and measured against the new part (:func:`.fidelity.measure`). They
are used when they miss no more bounds than they did on their own part and their overshoot
(:func:`.candidates.overshoot`) grows by at most :data:`OVERSHOOT_SLACK`; otherwise the
part is decomposed as usual (the cost of the trial: one fidelity measure). Parts whose
principal moments are nearly equal have no well-defined axes; the measure rejects a wrong
mapping. Only searches that cost at least :data:`MIN_SEARCH_CPU_S` are kept, the last
:data:`KEPT` of them, under the same budgets, settings, seed and asset diagonal.

A part whose mesh is the very same (bit for bit) as a kept one gets the kept hulls and figures
unchanged, as a fresh search would give them (the search is seeded), so building one asset
twice in a process gives the same hulls. A congruent part that is not the same gets moved
hulls, which depend on which part was decomposed first: a process that builds many assets
should scope the store to one asset (:func:`clear` at the start of each collision stage), so
that its outputs do not depend on what the process built before.

This module reuses and measures; it does not decompose.
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Mesh

#: Relative agreement of volume, area and each principal second moment of two congruent parts:
#: a filter only (the moved hulls are measured on the part itself). Parts re-closed from one
#: mesh in different poses differ by up to 0.2% (mini_cheetah's thighs), pybullet_data husky's
#: front and rear bumpers by 1.06% in volume and 0.6% in moments.
FEATURE_TOLERANCE = 0.02

#: How much more a reused set may overshoot the bounds than it did on its own part (summed
#: relative excess, :func:`.candidates.overshoot`).
OVERSHOOT_SLACK = 0.02

#: Searches cheaper than this (CPU s: the convex fast path, a small part) are not kept: redoing
#: them costs what the trial would.
MIN_SEARCH_CPU_S = 2.0

#: How many decompositions are kept in the process (the most recent).
KEPT = 16

_STORE: list[dict] = []


def part_frame(mesh: Mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(centroid (3,), axes (3, 3), features (5,))`` of a closed surface (m): the area-weighted
    centroid of its faces, its principal axes as columns (ascending second moment, each oriented
    so the area-weighted third moment along it is positive; the matrix may be a reflection), and
    ``(volume m^3, area m^2, three principal second moments m^2)``."""
    v = np.asarray(mesh.vertices, dtype=np.float64)
    tri = v[np.asarray(mesh.faces)]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = 0.5 * np.linalg.norm(cross, axis=1)
    total = max(float(area.sum()), 1e-300)
    centres = tri.mean(axis=1)
    c = (centres * area[:, None]).sum(axis=0) / total
    d = centres - c
    w, U = np.linalg.eigh((d * area[:, None]).T @ d / total)
    third = ((d @ U) ** 3 * area[:, None]).sum(axis=0)
    U = U * np.where(third < 0, -1.0, 1.0)[None, :]
    volume = abs(float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6.0)
    return c, U, np.array([volume, total, *w])


def _agree(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= FEATURE_TOLERANCE * np.maximum(np.abs(a), np.abs(b))))


def moved_hulls(hulls, source: tuple, target: tuple) -> list[Mesh]:
    """``hulls`` mapped from the frame ``source`` to ``target`` (each ``(centroid, axes)`` of
    :func:`part_frame`): ``x' = c_t + A_t A_s^T (x - c_s)``, re-hulled so that faces stay
    outward under a reflection."""
    from .hulls import hull_of

    (cs, As), (ct, At) = source[:2], target[:2]
    M = At @ As.T
    out = []
    for h in hulls:
        t = hull_of((np.asarray(h.vertices) - cs) @ M.T + ct)
        if t is not None:
            out.append(Mesh.from_trimesh(t))
    return out


def clear() -> None:
    """Forget every kept decomposition (call at the start of an asset's collision stage)."""
    del _STORE[:]


def _digest(mesh: Mesh) -> str:
    import hashlib

    h = hashlib.sha1(np.ascontiguousarray(mesh.vertices, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(mesh.faces, dtype=np.int64).tobytes())
    return h.hexdigest()


def reuse(mesh: Mesh, key: tuple, fidelity, seed: int, asset_diagonal: float | None):
    """The hulls of a congruent part decomposed earlier under the same ``key`` (budgets,
    settings, seed, scale), moved onto ``mesh`` and measured, when they measure as well on it
    (module docstring); else None.

    Returns:
        ``(hulls, fidelity figures, entry, same)`` where ``entry`` is the earlier part's record
        (its ``name``, ``figures``) and ``same`` is True for the very same mesh (its hulls and
        figures as they were), or None.
    """
    from .candidates import overshoot
    from .fidelity import fidelity_misses, measure

    if not _STORE:
        return None
    digest = _digest(mesh)
    for entry in reversed(_STORE):
        if entry["key"] == key and entry["digest"] == digest:  # the same mesh: the search's own result
            return list(entry["hulls"]), entry["figures"]["fidelity"], entry, True
    frame = part_frame(mesh)
    for entry in reversed(_STORE):
        if entry["key"] != key or not _agree(entry["frame"][2], frame[2]):
            continue
        hulls = moved_hulls(entry["hulls"], entry["frame"], frame)
        if len(hulls) != len(entry["hulls"]):
            continue
        fid = measure(mesh, hulls, fidelity, seed, asset_diagonal)
        src = entry["figures"]["fidelity"]
        if (len(fidelity_misses(fid, fidelity)) <= len(fidelity_misses(src, fidelity))
                and overshoot(fid, fidelity) <= overshoot(src, fidelity) + OVERSHOOT_SLACK):
            return hulls, fid, entry, False
    return None


def remember(mesh: Mesh, key: tuple, hulls, figures: dict, name: str) -> None:
    """Keep a decomposition of ``mesh`` (its ``figures`` as
    :func:`.decomposition.convex_decomposition` returns them) for congruent parts, when its
    search cost at least :data:`MIN_SEARCH_CPU_S`."""
    if figures.get("cpu_seconds", 0.0) < MIN_SEARCH_CPU_S or figures.get("reused_from"):
        return
    _STORE.append({"key": key, "frame": part_frame(mesh), "digest": _digest(mesh), "hulls": tuple(hulls),
                   "figures": figures, "name": name})
    del _STORE[:-KEPT]
