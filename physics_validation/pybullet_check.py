"""PyBullet stability checks: rest in the authored pose, and drops from seeded orientations.

For each check a fresh DIRECT client (never the global one) gets a ground plane z = 0 and the
asset built from its collision hulls, mass properties and joints (:mod:`._bullet`), then is
stepped at :attr:`StabilityThresholds.time_step_s` (each step in
:data:`._bullet.STABILITY_SUBSTEPS` substeps: the far end of a toppling body lands at several
times the drop's free-fall speed) for ``settle_time_s + rest_window_s`` seconds while every
link's COM pose and velocity, the deepest ground penetration and the ground normal force are
recorded; :func:`.trajectory.evaluate` gives the verdict.

- ``rest``: the asset in its authored pose (asset frame = world, ground at z = 0), tilted by
  ``rest_perturbation_rad`` about a seeded horizontal axis through the COM and lifted so its
  lowest hull point stays at the authored height; it must stay where it was placed.
- ``drop``: ``orientations`` seeded uniform random orientations, lowest hull point
  ``drop_height_m`` above the ground; it must land without tunnelling or explosion and rest.
- a fixed-base asset (``asset.fixed_base``: a robot arm on its mount) has its root links static
  and only the rest check, untilted and lifted clear of the ground (:func:`check_runs`).

A simulation stops early once the body has rested for a whole ``rest_window_s``
(:func:`.trajectory.settled`): the verdict is then decided, so ``settle_time_s`` can be
generous without making quick settlers pay for it.

Ground penetration is measured geometrically (the lowest hull vertex below z = 0, exact for a
plane) and compared with PyBullet's own contact depth (reported as ``engine_penetration_m``).
This module does not change the asset; it reports. Every world starts with each movable joint
at its rest coordinate (:func:`.rigid_model.rest_coordinate`: 0 clipped into the joint's
limits), where the asset's PD drives hold it (``asset.drives``, filled by the mass stage: stiffness,
damping, torque clipped to ``max_force``) and kept within their limits: the asset as a servoed
robot or a prop, not a rag doll.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from n4d4d.asset import Asset
from n4d4d.conventions import GRAVITY_MAGNITUDE, xyzw_to_wxyz
from n4d4d.errors import TimeBudgetError

from .rigid_model import RigidModel, rigid_model
from .thresholds import StabilityThresholds, as_dict
from .trajectory import Trajectory, decided_failure, evaluate, settled


def rest_pose(model: RigidModel, th: StabilityThresholds, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """World placement ``(R (3, 3), t (3,))`` of the rest check: a seeded tilt of
    ``th.rest_perturbation_rad`` about a horizontal axis through the total COM, then a vertical
    shift putting the lowest hull point at its authored height (that of the parts as placed: the
    ground the build stood them on); COM and hull points at the rest coordinates
    (:func:`.rigid_model.rest_coordinates`), where every world starts, so that a robot whose
    legs its limits bend (a1's calves) stands on the ground, not above it."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    phi = rng.uniform(0.0, 2.0 * np.pi)
    R = Rotation.from_rotvec(th.rest_perturbation_rad * np.array([np.cos(phi), np.sin(phi), 0.0])).as_matrix()
    com, pts = model.rest_com(), model.rest_hull_points()
    t = com - R @ com
    t[2] += model.hull_points()[:, 2].min() - ((pts - com) @ R.T + com)[:, 2].min()
    return R, t


def fixed_base_pose(model: RigidModel) -> tuple[np.ndarray, np.ndarray]:
    """World placement ``(R, t)`` of a fixed-base asset's rest check (:attr:`.rigid_model.RigidModel.fixed_base`,
    a robot bolted to the world): no tilt (its mount holds the base; a tilt would only turn
    gravity), raised as for the articulation sweeps (:func:`.articulation.sweep_lift`) so that
    its lowest hull point at the rest coordinates is clear of the ground and only what the
    drives let sag can touch it."""
    from .articulation import sweep_lift

    return np.eye(3), np.array([0.0, 0.0, sweep_lift(model)])


def check_runs(model: RigidModel, th: StabilityThresholds, orientations: int, seed: int) -> list[tuple]:
    """The placements ``(kind, R, t)`` of the rest and drop checks, the same in both engines: the
    rest check (:func:`rest_pose`) and ``orientations`` drops (:func:`drop_poses`); a fixed-base
    asset only its rest check (:func:`fixed_base_pose`): a bolted arm is not dropped, and its
    base cannot topple, so what it checks is that the drives hold the links at rest without
    explosion, sagging (the COM drop) or driving them into the ground."""
    if model.fixed_base:
        return [("rest", *fixed_base_pose(model))]
    return [("rest", *rest_pose(model, th, seed))] + [("drop", R, t) for R, t in drop_poses(model, th, orientations, seed)]


def drop_poses(model: RigidModel, th: StabilityThresholds, n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` seeded uniform random placements ``(R, t)``: COM above the origin, lowest hull point
    ``th.drop_height_m`` above the ground (both at the rest coordinates, as :func:`rest_pose`)."""
    from scipy.spatial.transform import Rotation

    if n <= 0:
        return []
    rots = Rotation.random(n, random_state=np.random.default_rng(seed + 1)).as_matrix().reshape(n, 3, 3)
    com, pts = model.rest_com(), model.rest_hull_points()
    out = []
    for R in rots:
        t = -R @ com
        t[2] = th.drop_height_m - (pts @ R.T)[:, 2].min()
        out.append((R, t))
    return out


def link_lowest_points(points: tuple[np.ndarray, ...], pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
    """Lowest z (m) of each link's ``points`` (relative to its COM, link axes) at COM positions
    ``pos (..., B, 3)`` and link orientations ``quat (..., B, 4)`` (w, x, y, z); shape
    ``(..., B)``, ``inf`` for a link without points."""
    pos, quat = np.asarray(pos, dtype=np.float64), np.asarray(quat, dtype=np.float64)
    w, x, y, z = np.moveaxis(quat, -1, 0)
    # third row of the rotation matrix: world z of a body-frame vector
    row = np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1)
    low = np.full(pos.shape[:-1], np.inf)
    for b, p in enumerate(points):
        if len(p):
            low[..., b] = (row[..., b, :] @ p.T).min(axis=-1) + pos[..., b, 2]
    return low


def lowest_point(points: tuple[np.ndarray, ...], pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
    """Lowest z (m) over all links (:func:`link_lowest_points`); shape ``(...)``."""
    return link_lowest_points(points, pos, quat).min(axis=-1)


def simulate(model: RigidModel, asset: Asset, R: np.ndarray, t: np.ndarray, th: StabilityThresholds,
             *, deadline: float = float("inf"), name: str = "", budget=None,
             stop_on_failure: dict | None = None, substeps: int = 1,
             fixed_root: bool | None = None) -> tuple[Trajectory, dict]:
    """Run one PyBullet simulation from placement ``(R, t)``, recorded after every step of
    ``th.time_step_s``.

    Returns:
        ``(trajectory, extras)``: extras ``engine_penetration_m`` (deepest contact depth
        PyBullet itself reported, m, including its 1 mm convex margin) and
        ``joint_force_ratios`` (joint name -> mean joint reaction force over the last
        ``rest_window_s`` divided by the weight it carries: its links', or the asset's whole
        weight when one of them ends the run in ground contact).

    Args:
        deadline: a ``time.perf_counter()`` limit (wall), checked with ``budget``.
        budget: a :class:`~n4d4d.budget.Budget` (CPU seconds, hang guard), checked every 60
            steps, or None.
        stop_on_failure: keyword arguments of :func:`.trajectory.decided_failure` (``th``
            aside: ``diagonal``, ``mass``, ``min_moment``, ``drop_height_m``): the run stops
            once a failure no later step can undo is seen (the trajectory's ``stopped`` says
            which); None runs on.
        substeps: each step is simulated in this many substeps (:func:`._bullet.connect`); the
            rest and drop checks (:func:`check_pybullet`) use :data:`._bullet.STABILITY_SUBSTEPS`.
            The PD drives' torques are computed once per step and held over its substeps.
        fixed_root: the root links are static (:func:`._bullet.build`); None: as the model
            says (:attr:`.rigid_model.RigidModel.fixed_base`).

    Raises:
        TimeBudgetError: ``time.perf_counter()`` passed ``deadline``, or ``budget`` ran out
            (:class:`~n4d4d.budget.HangError` when its hang guard tripped).
    """
    from . import _bullet

    client = _bullet.connect(th.time_step_s, substeps=substeps)
    try:
        plane = _bullet.ground_plane(client)
        fixed = model.fixed_base if fixed_root is None else fixed_root
        h = _bullet.build(client, model, asset.material, R, t, fixed_root=fixed)
        import pybullet

        from .rigid_model import link_drives, subtree

        drives = link_drives(model, asset)
        held = {}  # body -> (link indices, kp, kd, targets, efforts): one batched call per body a step
        for i, d in drives.items():
            held.setdefault(h.bodies[i], []).append((h.links[i], d.stiffness, d.damping, d.target, d.max_force))
        held = {b: tuple(np.array(c) for c in zip(*rows)) for b, rows in held.items()}
        jointed = [i for i, link in enumerate(model.links) if link.joint is not None]
        sensed = {}  # body -> (columns of jforce, link indices)
        for c, i in enumerate(jointed):
            sensed.setdefault(h.bodies[i], ([], []))
            sensed[h.bodies[i]][0].append(c)
            sensed[h.bodies[i]][1].append(h.links[i])
        for i in jointed:  # reaction forces of every joint (Infinigen-Sim's constraint-force test)
            client.enableJointForceTorqueSensor(h.bodies[i], h.links[i], True)
        jforce = np.zeros((th.steps, len(jointed)))
        p0, q0, _, _ = _bullet.read_state(client, h)
        q0 = _bullet.link_orientations(h, q0)
        initial = max(0.0, -float(lowest_point(h.points, p0, q0)))
        n = th.steps
        T, B = n, len(model.links)
        pos, quat = np.empty((T, B, 3)), np.empty((T, B, 4))
        lin, ang = np.empty((T, B, 3)), np.empty((T, B, 3))
        force = np.empty(T)
        engine_pen, stopped = 0.0, None
        seen, peaks = 0, np.zeros(3)  # rows folded into the running peaks (speed, angular speed, depth)
        for k in range(n):
            for b, (li, kp, kd, target, effort) in held.items():  # joints servoed at their rest coordinate
                st = client.getJointStates(b, li.tolist())
                q, dq = np.array([s[0] for s in st]), np.array([s[1] for s in st])
                client.setJointMotorControlArray(b, li.tolist(), pybullet.TORQUE_CONTROL,
                                                 forces=np.clip(kp * (target - q) - kd * dq, -effort, effort).tolist())
            client.stepSimulation()
            pos[k], quat[k], lin[k], ang[k] = _bullet.read_state(client, h)
            d, force[k] = _bullet.ground_contacts(client, h, plane)
            for b, (cols, li) in sensed.items():
                jforce[k, cols] = [np.linalg.norm(s[2][:3]) for s in client.getJointStates(b, li)]
            # PyBullet reports a contact's normal force as the last substep's impulse divided by
            # the whole step (a box at rest reads 0.25 of its weight at four substeps): times the
            # substeps, the force. Its joint reaction forces are forces already.
            force[k] *= substeps
            engine_pen = max(engine_pen, d)
            if k % 60 == 59:
                if time.perf_counter() > deadline:
                    raise TimeBudgetError("PyBullet stability check ran past its time budget", name or None)
                if budget is not None:
                    budget.check("PyBullet rest and drop checks")
                if settled(th.time_step_s * np.arange(1, k + 2), pos[:k + 1], quat[:k + 1], th):
                    n = k + 1  # at rest for a whole window: nothing left to learn
                    break
                if stop_on_failure is not None:
                    new = slice(seen, k + 1)
                    low = lowest_point(h.points, pos[new], _bullet.link_orientations(h, quat[new]))
                    peaks = np.maximum(peaks, [np.linalg.norm(lin[new], axis=-1).max(),
                                               np.linalg.norm(ang[new], axis=-1).max(), max(0.0, -float(low.min()))])
                    seen = k + 1
                    stopped = decided_failure(*map(float, peaks), initial, th, **stop_on_failure)
                    if stopped is not None:
                        n = k + 1  # failed for good: the rest of the run cannot change the verdict
                        break
    finally:
        client.disconnect()
    pos, quat, lin, ang, force, jforce = pos[:n], quat[:n], lin[:n], ang[:n], force[:n], jforce[:n]
    quat = _bullet.link_orientations(h, quat)
    pen = np.maximum(0.0, -lowest_point(h.points, pos, quat))
    times = th.time_step_s * np.arange(1, n + 1)
    w0 = int(np.searchsorted(times, times[-1] - th.rest_window_s - 1e-9))
    # the weight a joint carries: its subtree's, or the whole asset's when a link of the subtree
    # ends the run in ground contact (a leg carries the body; StabilityThresholds.support_contact_m)
    grounded = link_lowest_points(h.points, pos[-1], quat[-1]) <= th.support_contact_m
    weight = {i: GRAVITY_MAGNITUDE * (model.total_mass if grounded[subtree(model, i)].any()
                                      else sum(model.links[j].mass.mass for j in subtree(model, i))) for i in jointed}
    ratios = {model.links[i].joint.name: float(jforce[w0:, c].mean() / weight[i]) for c, i in enumerate(jointed)}
    extras = {"engine_penetration_m": engine_pen, "joint_force_ratios": ratios}
    return Trajectory(times, pos, quat, lin, ang, pen, force, initial, p0, q0, stopped), extras


def check_pybullet(asset: Asset, *, thresholds: StabilityThresholds | None = None, seed: int = 0,
                   orientations: int = 3, time_budget_s: float = 60.0, budget=None) -> dict:
    """Rest and drop checks of ``asset`` in PyBullet.

    Args:
        asset: with parts, collision hulls and mass properties per part (joints optional).
        thresholds: bounds (default :class:`StabilityThresholds`).
        seed: seeds the rest-check tilt axis and the drop orientations.
        orientations: number of drops (seeded uniform random orientations).
        time_budget_s: CPU seconds for all simulations of this call (with a wall-clock hang
            guard, :class:`n4d4d.budget.Budget`).
        budget: a running Budget to charge instead of a fresh one of ``time_budget_s``.

    Returns:
        dict: ``engine`` ("pybullet"), ``version``, ``checks`` (one
        :class:`~n4d4d.asset.CheckResult` per simulation: ``name`` "rest" or "drop", ``engine``
        "pybullet", ``measured``, ``threshold``, ``passed``, ``reasons``, ``seconds``,
        ``details`` {``orientation_wxyz``, ``warnings``, ``series``}), ``thresholds``,
        ``passed``, ``reasons`` (prefixed by the check name), ``seconds``, ``seed``.

    Raises:
        StageInputError: missing hulls / mass (see :func:`.rigid_model.rigid_model`).
        TimeBudgetError: the simulations ran past the budget (message names the asset);
            :class:`~n4d4d.budget.HangError` when its hang guard tripped.
    """
    from importlib.metadata import version

    from scipy.spatial.transform import Rotation

    from n4d4d.budget import Budget

    th = thresholds or StabilityThresholds()
    t0 = time.perf_counter()
    budget = budget or Budget(time_budget_s, what="PyBullet stability checks", label=asset.name)
    from ._bullet import STABILITY_SUBSTEPS

    model = rigid_model(asset)
    runs = check_runs(model, th, orientations, seed)
    checks = []
    masses = np.array([link.mass.mass for link in model.links])
    for kind, R, t in runs:
        t1 = time.perf_counter()
        stop = {"diagonal": model.diagonal, "mass": model.total_mass, "min_moment": model.min_moment,
                "drop_height_m": th.drop_height_m if kind == "drop" else 0.0}
        traj, extras = simulate(model, asset, R, t, th, name=asset.name, budget=budget, stop_on_failure=stop,
                                substeps=STABILITY_SUBSTEPS)
        result = evaluate(traj, th, kind=kind, mass=model.total_mass, diagonal=model.diagonal,
                          min_moment=model.min_moment, drop_height_m=th.drop_height_m if kind == "drop" else 0.0,
                          masses=masses)
        orientation = xyzw_to_wxyz(Rotation.from_matrix(R).as_quat()).tolist()
        checks.append(replace(result, engine="pybullet", measured={**result.measured, **extras},
                              details={**result.details, "orientation_wxyz": orientation},
                              seconds=time.perf_counter() - t1))
    reasons = [f"{c.name}{'' if c.name == 'rest' else ' ' + str(i)}: {r}"
               for i, c in enumerate(checks) for r in c.reasons]
    return {"engine": "pybullet", "version": version("pybullet"), "checks": checks,
            "thresholds": as_dict(th), "passed": not reasons, "reasons": reasons,
            "seconds": time.perf_counter() - t0, "seed": seed}
