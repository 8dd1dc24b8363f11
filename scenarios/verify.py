"""Check a written ``scene.usda`` in Newton: load it with ``ModelBuilder.add_usd`` and measure
how far every placed object moves in its first simulated second.

A settled scene must start at rest in a second engine too: the PyBullet poses, written into
the USD, are loaded by Newton (bodies, convex-hull colliders, masses, joints, drives, the
ground plane of the scene), simulated for ``seconds`` with ``SolverXPBD`` (8 iterations, two
substeps per 1/240 s step, sticky contact matching: the settings the asset certificate uses
in :mod:`n4d4d.physics_validation`), and each instance's largest body displacement from its
start is reported, keyed by ``(env index, instance key)`` from the prim paths
``/World/envs/env_<i>/<key>/...``.

This module measures; bounds and verdicts are the caller's (the spec's settle bounds).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

#: Simulation step (s) and substeps, XPBD iterations and contact matching, as the certificate.
DT, SUBSTEPS, ITERATIONS = 1.0 / 240.0, 2, 8

_PATH = re.compile(r"^/World/envs/env_(\d+)/([^/]+)/")


def newton_motion(scene: str | Path, seconds: float = 1.0) -> dict[tuple[int, str], float]:
    """``(env, key)`` -> largest displacement (m) of any body of that instance over the first
    ``seconds`` of a Newton simulation of ``scene`` (a ``scene.usda`` of
    :func:`n4d4d.scenarios.scene.write_scene`).

    Raises:
        Exception: what ``newton`` raises for a file it cannot load (the caller records it).
    """
    import warp as wp

    wp.config.log_level = max(wp.config.log_level, wp.LOG_WARNING)
    import newton

    builder = newton.ModelBuilder()
    builder.add_usd(str(scene))
    model = builder.finalize(device="cpu")
    owners: dict[int, tuple[int, str]] = {}
    for b, label in enumerate(builder.body_label):
        m = _PATH.match(label + "/")
        if m:
            owners[b] = (int(m.group(1)), m.group(2))
    solver = newton.solvers.SolverXPBD(model, iterations=ITERATIONS)
    states = [model.state(), model.state()]
    control = model.control()
    pipe = newton.CollisionPipeline(model, contact_matching="sticky")
    contacts = pipe.contacts()
    start = states[0].body_q.numpy()[:, :3].copy()
    worst = np.zeros(len(start))
    for _ in range(int(round(seconds / DT))):
        for _ in range(SUBSTEPS):
            a, b = states
            a.clear_forces()
            pipe.collide(a, contacts)
            solver.step(a, b, control, contacts, DT / SUBSTEPS)
            states.reverse()
        now = states[0].body_q.numpy()[:, :3]
        worst = np.maximum(worst, np.linalg.norm(now - start, axis=1))
    out: dict[tuple[int, str], float] = {}
    for b, owner in owners.items():
        out[owner] = max(out.get(owner, 0.0), float(worst[b]))
    return out
