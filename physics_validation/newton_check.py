"""Newton stability checks on the asset exactly as exported to USD (Newton on Warp, CPU).

The caller hands in the asset's USD file (the pipeline writes it once with the USD exporter
into its staging folder and ships that file; this module never writes one, and the report
carries the file's SHA-256), loaded with ``newton.ModelBuilder.add_usd``, so what is checked is
the file a user loads in Isaac Sim / Isaac Lab / Newton: its bodies, MassAPI values, convex-hull
colliders, joints, physics material and joint drives (the writer authors each movable joint's
DriveAPI from ``asset.drives``, the servo holding the rest coordinate that PyBullet applies
too; Newton's importer converts them to SI, so nothing is overridden here). The rest
placement and the seeded drop placements of :mod:`.pybullet_check` become separate Newton
*worlds* of one model (``ModelBuilder.replicate`` with one transform per world) and are stepped
together: on the CPU, Warp's cost is dominated by kernel launches, so four placements cost
little more than one. A static plane z = 0 with the asset's friction is shared by all worlds.

Solver: ``SolverXPBD`` with eight iterations per substep and sticky contact matching; every
placement is stepped at two substeps first (:data:`COARSE_SUBSTEPS`) and again at four
(:data:`._newton_sim.REST_DROP_SUBSTEPS`: the far end of a toppling body sank 11.7 mm at two)
only where the coarse verdict is not a clear pass (:func:`clear_pass`), and at eight of four
iterations where that run fails only by sinking or creeping (:func:`penetration_only`: a light
link under a heavy body); see
:data:`._newton_sim.SUBSTEPS` for the sticky contacts; Newton's
position-based rigid solver runs on the CPU device, and
SolverMuJoCo needs the mujoco_warp package, which is not a dependency; SolverFeatherstone's
penalty contact had a resting box bouncing at 4 cm/s after one step, and cost as much per step
as XPBD), at the same step as PyBullet. Trajectories go through the same verdict as PyBullet's
(:func:`.trajectory.evaluate`); ground penetration is measured geometrically from the colliders
Newton loaded.

Forces (Infinigen-Sim's rest-force test, as in PyBullet): the solver fills Newton's
``CONTACT_F`` and ``BODY_PARENT_F`` observables every substep. ``CONTACT_F`` is XPBD's impulse
per contact over the substep divided by its duration (after XPBD's 1/N contact weighting);
the ground force of a world is the vertical part of the sum over its contacts with the ground
plane, sampled at the last substep of every second step (:mod:`._newton_kernels`), and the
rest check's ``rest_force_ratio`` is its mean over the last ``rest_window_s`` divided by the
weight, as in PyBullet. ``BODY_PARENT_F`` is the wrench the parent transmits through a body's
inbound joint (constraint reaction, drive included); ``joint_force_ratios`` is the mean norm of
its force part over the window divided by the weight of the links the joint carries (its
subtree), PyBullet's joint-reaction measure. Newton documents both as approximate for XPBD
(relaxation, a finite iteration count, contact weighting); measured at rest: a box 1.0000 of
its weight, the hinged arm's hinge 1.0000 of the arm's. No momentum balance is needed.

Joint anchors: after loading, each prismatic joint is anchored at its child's COM and each
revolute joint at the foot of the child's COM on its axis (:func:`._newton_sim.anchor_joints_at_com`):
the same joints (coordinates, limits, drives unchanged), which XPBD converges on; anchored at
the file's link frames, 0.4-0.5 m from 102417's buttons, it let them stray 10-25 mm off their
axes at rest.

Contact pairs: the file filters parent/child and welded neighbours, and every shape's contact
gap is :data:`._newton_sim.CONTACT_GAP_M` (Newton's 0.1 m default generated 4,384 contacts a
step on 102417, nearly all between parts centimetres apart; 1 cm halves a step's cost and kept
every verdict on the test shapes). With ``contact_filter``, the link pairs
:mod:`.contact_filter` proves apart while the joints stay in range (a camera's buttons,
concentric rings on one axis, shape by shape) are not handed to the collision pipeline; the
proof's guarantee is checked on each run itself (:func:`.contact_filter.unproven`: every skipped
pair apart on every recorded state), and a placement whose run does not show it is run again
testing the pairs that came near, then every pair. XPBD applies no force for a contact at a
positive separation (and does not count it in its contact weighting), so a skipped pair that
stays apart changes nothing.

The first run on a machine compiles Newton's CPU kernels (minutes, cached in Warp's kernel
cache afterwards). This module does not change the asset or the file.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from n4d4d.asset import Asset
from n4d4d.conventions import GRAVITY_MAGNITUDE, xyzw_to_wxyz
from n4d4d.errors import StageInputError, TimeBudgetError

from ._newton_sim import (REST_DROP_ITERATIONS, REST_DROP_SUBSTEPS, STABILITY_ITERATIONS, STABILITY_SUBSTEPS,
                          Stepper, anchor_joints_at_com, newton_modules, on_ground, pin_world_welded,
                          start_at_rest)
from .thresholds import StabilityThresholds, as_dict
from .trajectory import Trajectory, decided_failure, evaluate, settled


#: A body farther than this (m) from the origin in any coordinate has left any world a check
#: places it in (placements sit at the origin, a drop falls 5 cm): its solve diverged. XPBD can
#: diverge to large finite numbers (pybullet_data's minitaur: bodies 1e16 m below the ground,
#: read as "sinks 9.5e18 mm into the ground"), which is an explosion. So is a body whose frame
#: lies more than :data:`DIVERGED_BELOW` asset diagonals (at least 1 m) below the ground plane,
#: which no contact lets a body reach (minitaur's rest world: 456 m down).
DIVERGED_M = 1.0e4
DIVERGED_BELOW = 10.0


def _shape_points(newton, sub, s: int) -> np.ndarray:
    """``(n, 3) float64`` points of collider ``s`` of builder ``sub`` in the shape's own frame
    (m): a mesh's vertices times its scale; for an analytic shape (a URDF's primitives, written
    as UsdGeom Cube / Sphere / Cylinder / Capsule) its corners (box: scale = half extents) or
    points on its surface (sphere: radius; capsule and cylinder: radius, half height, along
    the shape's local Z)."""
    src = sub.shape_source[s]
    scale = np.asarray(sub.shape_scale[s], dtype=np.float64)
    if src is not None and getattr(src, "vertices", None) is not None:
        return np.asarray(src.vertices, dtype=np.float64) * scale
    kind, geo = int(sub.shape_type[s]), newton.GeoType
    t = np.linspace(0.0, 2.0 * np.pi, 32, endpoint=False)
    ring = np.column_stack([np.cos(t), np.sin(t), np.zeros_like(t)])
    if kind == int(geo.BOX):
        return np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64) * scale
    if kind == int(geo.SPHERE):
        return np.vstack([scale[0] * ring, scale[0] * ring[:, [0, 2, 1]], scale[0] * ring[:, [2, 0, 1]]])
    if kind in (int(geo.CAPSULE), int(geo.CYLINDER)):
        r, h = scale[0], scale[1]
        caps = [r * ring + [0, 0, h], r * ring - [0, 0, h]]
        if kind == int(geo.CAPSULE):
            caps += [[0, 0, h + r], [0, 0, -h - r]]
        return np.vstack(caps)
    return np.zeros((0, 3))


def _load(path: Path, xforms: list[tuple[np.ndarray, np.ndarray]], mu: float, *, with_shapes: bool = False):
    """Model with one world per placement ``(R, t)`` and a shared ground plane; joint drives
    as the file authors them.

    Returns ``(model, masses, points, com, joints, labels)``, and ``shapes`` last with
    ``with_shapes``: ``masses`` (kg) of the bodies of one
    world in Newton's order (depth first along the joints, not always the asset's link order),
    ``points[b]`` collider vertices in body b's frame, ``com[b]`` body COM in its frame,
    ``joints`` ``(label, child body, subtree mass (kg), subtree body indices)`` per joint between
    two bodies (the child's subtree), ``labels`` each body's prim name (last path element),
    ``shapes`` ``(shape_body (S,) int, vertices per shape (asset frame at rest, m; empty for a
    shape that does not collide))`` of one world's S shapes (the model's shape k of world w is
    ``w S + k``).
    """
    _, newton = newton_modules()
    from scipy.spatial.transform import Rotation

    sub = newton.ModelBuilder()
    sub.add_usd(str(path))
    anchor_joints_at_com(sub)  # the same joints, anchored where XPBD converges
    start_at_rest(sub)  # every joint at its rest coordinate (0 clipped into its limits), as in PyBullet
    n = sub.body_count
    points, com, rest = [], [], [np.zeros((0, 3))] * sub.shape_count
    for b in range(n):
        pts = []
        bq = np.asarray(sub.body_q[b], dtype=np.float64)
        Rb = Rotation.from_quat(bq[3:7]).as_matrix()
        for s in range(sub.shape_count):
            if sub.shape_body[s] != b or not (sub.shape_flags[s] & int(newton.ShapeFlags.COLLIDE_SHAPES)):
                continue
            v = _shape_points(newton, sub, s)
            tf = sub.shape_transform[s]
            R = Rotation.from_quat(np.asarray(tf[3:7], dtype=np.float64)).as_matrix()
            pts.append(v @ R.T + np.asarray(tf[0:3], dtype=np.float64))
            rest[s] = pts[-1] @ Rb.T + bq[0:3]  # the file's rest pose: the asset frame
        points.append(np.vstack(pts) if pts else np.zeros((0, 3)))
        com.append(np.asarray(sub.body_com[b], dtype=np.float64))
    masses = np.asarray(sub.body_mass[:n], dtype=np.float64)
    joints = []
    for j in range(sub.joint_count):
        if sub.joint_parent[j] < 0:
            continue
        tree, grown = {sub.joint_child[j]}, True
        while grown:
            more = {sub.joint_child[k] for k in range(sub.joint_count) if sub.joint_parent[k] in tree}
            grown = not more <= tree
            tree |= more
        joints.append((str(sub.joint_label[j]), sub.joint_child[j], float(masses[sorted(tree)].sum()), tree))
    labels = [str(sub.body_label[b]).rsplit("/", 1)[-1] for b in range(n)]
    shapes = (np.asarray(sub.shape_body[:sub.shape_count], dtype=np.int64), rest)
    pin_world_welded(sub)  # a fixed base's root immovable (after its mass is read: the checks weigh by it)
    out = (on_ground(sub, xforms, mu), masses, points, com, joints, labels)
    return (*out, shapes) if with_shapes else out


def simulate_usd(path: Path, xforms: list[tuple[np.ndarray, np.ndarray]], *, mu: float, time_step: float,
                 steps: int, deadline: float = float("inf"), name: str = "",
                 iterations: int | None = None, capture: bool = True,
                 early_exit: StabilityThresholds | None = None,
                 bodies: int | None = None, body_order: list[str] | None = None, budget=None,
                 stop_on_failure: list[dict] | None = None,
                 support_contact_m: float = StabilityThresholds.support_contact_m,
                 skip_pairs=None, pair_counts: dict | None = None, substeps: int | None = None,
                 ) -> tuple[list[Trajectory], np.ndarray, list[dict]]:
    """Step the USD asset from each placement (one Newton world each); one trajectory per placement.

    Args:
        path: USD file. xforms: placements ``(R (3, 3), t (3,))``, ``x_world = R x_file + t``.
        mu: friction coefficient of the ground (the asset's, so any combination rule keeps it).
        time_step: s. steps: number of steps (rounded up to even: states are sampled every
            second step). deadline: ``time.perf_counter()`` limit.
        iterations: XPBD iterations per substep (default
            :data:`._newton_sim.REST_DROP_ITERATIONS`; each step is
            :data:`._newton_sim.REST_DROP_SUBSTEPS` substeps).
        early_exit: stop once every world has rested for a whole window by these thresholds
            (:func:`.trajectory.settled`); None runs all ``steps``.
        capture: record two steps as a Warp graph once and replay it (Warp captures on the
            CPU too). Newton's collide + XPBD step is ~40 kernel launches whose Python-side
            launch cost (~0.1 ms each) dominates on the CPU; a replay calls the compiled
            kernels directly, ~50x faster. ``False`` launches every kernel from Python.
        bodies: the number of bodies the file must have (the asset's parts), or None.
        body_order: body prim names in the order the trajectories and masses are to come in
            (the asset's link order, :attr:`.rigid_model.RigidModel.frames` names), or None
            for Newton's own order.
        budget: a :class:`~n4d4d.budget.Budget` checked every 60 steps, or None.
        stop_on_failure: with ``early_exit``, one dict per world of keyword arguments of
            :func:`.trajectory.decided_failure` (``diagonal``, ``mass``, ``min_moment``,
            ``drop_height_m``): a world that has exploded counts as done, and the run stops once
            every world is settled or exploded (the exploded worlds' trajectories say
            ``stopped``).
        support_contact_m: a body whose lowest collider point ends the run within this of the
            ground is in ground contact (:class:`StabilityThresholds`).
        skip_pairs: a :class:`.contact_filter.ClearPairs` of the model in ``body_order``'s
            link order (then required): the shape pairs it proves apart
            (:func:`.contact_filter.skipped_shape_pairs`) are not tested; the caller verifies the
            proof's premise on the trajectories (:func:`.contact_filter.excursion`). None tests
            every pair the file allows.
        pair_counts: a dict filled with ``shape_pairs`` (the model's candidate shape pairs, all
            worlds, ground included) and ``tested`` (those handed to the collision pipeline).
        substeps: XPBD substeps per step (default :data:`._newton_sim.REST_DROP_SUBSTEPS`; even).

    Returns:
        ``(trajectories, body masses (kg), joint force ratios)``, states sampled every second
        step. Trajectory body order (and the masses') is ``body_order``'s, else Newton's; each
        trajectory's ``ground_force`` is the vertical force of the ground on the asset (N, see
        the module docstring). Joint force ratios: per world, joint label -> ``(T,)`` norm of
        the force the joint transmits divided by the weight it carries: its child subtree's,
        or the whole asset's when a body of that subtree ends the run in ground contact (a
        leg standing on the ground carries the body; Infinigen-Sim's test assumes hanging
        links).

    Raises:
        TimeBudgetError: past ``deadline``. StageInputError: the file does not have ``bodies``
        bodies (it is not the asset's export; checked before any step). A file Newton cannot
        load raises Newton's own exception.
    """
    wp, newton = newton_modules()
    from scipy.spatial.transform import Rotation

    from . import _newton_kernels as K

    th, early_exit = early_exit, early_exit is not None
    model, masses, points, com, joints, labels, (sub_body, sub_points) = _load(path, xforms, mu, with_shapes=True)
    nb = len(masses)
    if bodies is not None and nb != bodies:
        raise StageInputError(f"the USD file {Path(path).name} has {nb} bodies, the asset {bodies} parts: "
                              "it is not this asset's export", name or None)
    order = np.arange(nb)
    if body_order is not None:
        if sorted(body_order) != sorted(labels):
            raise StageInputError(f"the USD file {Path(path).name} has bodies {labels}, the asset {list(body_order)}: "
                                  "it is not this asset's export", name or None)
        order = np.array([labels.index(b) for b in body_order])
    W = len(xforms)
    kinds = newton.solvers.SolverXPBD.ObservableKind
    pairs = model.shape_contact_pairs.numpy().reshape(-1, 2)
    tested = None
    if skip_pairs is not None:
        from .contact_filter import skipped_shape_pairs

        if body_order is None:
            raise ValueError("skip_pairs names bodies in body_order's link order: pass body_order")
        link = np.full(nb, -1)
        link[order] = np.arange(nb)  # Newton body (one world) -> body_order index
        S = len(sub_body)
        shape_link = np.where(sub_body >= 0, link[np.clip(sub_body, 0, None)], -1)
        local = (pairs < W * S).all(axis=1)  # both shapes in worlds (not the shared ground)
        skip = np.zeros(len(pairs), dtype=bool)
        skip[local] = skipped_shape_pairs(skip_pairs, pairs[local] % S, shape_link, sub_points)
        tested = pairs[~skip]
    if pair_counts is not None:
        pair_counts.update(shape_pairs=int(len(pairs)), tested=int(len(pairs if tested is None else tested)))
    sim = Stepper(model, iterations=iterations or REST_DROP_ITERATIONS, substeps=substeps or REST_DROP_SUBSTEPS,
                  observables=frozenset({kinds.CONTACT_F, kinds.BODY_PARENT_F}), shape_pairs=tested)
    ground = wp.zeros(W, dtype=wp.vec3, device="cpu")

    diag = max([float(d.get("diagonal", 0.0)) for d in (stop_on_failure or [])] + [0.0])
    below = max(1.0, DIVERGED_BELOW * diag)  # a frame this far under the ground: diverged (DIVERGED_BELOW)
    lows = np.full((W, nb), np.inf)
    last_q = np.zeros((W, nb, 7))
    last_q[..., 6] = 1.0  # identity (x, y, z, w) until a finite state has been read

    def read(state):
        q = state.body_q.numpy().astype(np.float64).reshape(W, nb, 7)
        qd = state.body_qd.numpy().astype(np.float64).reshape(W, nb, 6)
        # A world whose solve diverged (non-finite pose or velocity, a quaternion of zero norm:
        # pybullet_data's a1 did; or a body flung past DIVERGED_M: minitaur's sank 1e16 m) is an
        # explosion, not a crash: it keeps its last finite pose and
        # reads infinite speed, so decided_failure ends it and evaluate names it "explosion".
        diverged = ~(np.isfinite(q).all(axis=(1, 2)) & np.isfinite(qd).all(axis=(1, 2))
                     & (np.linalg.norm(q[..., 3:7], axis=-1) > 1e-6).all(axis=1)
                     & (np.abs(q[..., :3]) <= DIVERGED_M).all(axis=(1, 2))
                     & (q[..., 2] >= -below).all(axis=1))
        if diverged.any():
            q[diverged], qd[diverged] = last_q[diverged], np.inf
        last_q[:] = q
        rot = Rotation.from_quat(q[..., 3:7].reshape(-1, 4))
        c = q[..., :3] + rot.apply(np.tile(np.vstack(com), (W, 1))).reshape(W, nb, 3)
        wxyz = xyzw_to_wxyz(q[..., 3:7])  # Newton's body_q: position, quaternion (x, y, z, w)
        lows[:] = np.inf  # (W, nb) lowest collider point of each body
        for b in range(nb):
            if len(points[b]):
                R = Rotation.from_quat(q[:, b, 3:7]).as_matrix()  # (W, 3, 3)
                z = np.einsum("wj,nj->wn", R[:, 2, :], points[b]) + q[:, b, 2:3]
                lows[:, b] = z.min(axis=1)
        return c, wxyz, qd[..., :3], qd[..., 3:], np.maximum(0.0, -lows.min(axis=1))

    def two_steps():  # an even number of substeps: a replay leaves the newest state in states[0]
        sim.step(time_step)
        sim.step(time_step)
        ground.zero_()  # the ground's force in the last substep
        c = sim.contacts
        wp.launch(K.static_contact_force, dim=c.rigid_contact_max, device="cpu",
                  inputs=[c.rigid_contact_count, c.rigid_contact_shape0, c.rigid_contact_shape1,
                          sim.observables.contact_f, model.shape_body, model.shape_world], outputs=[ground])

    def forces():  # (W,) ground force, (W, joints) transmitted joint forces (N)
        f = np.linalg.norm(sim.observables.body_parent_f.numpy().reshape(W, nb, 6)[..., :3], axis=-1)
        return ground.numpy()[:, 2], f[:, [child for _, child, _, _ in joints]]

    p0, q0, _, _, pen0 = read(sim.states[0])
    n = (steps + 1) // 2
    pos, quat = np.empty((n, W, nb, 3)), np.empty((n, W, nb, 4))
    lin, ang, pen = np.empty((n, W, nb, 3)), np.empty((n, W, nb, 3)), np.empty((n, W))
    gforce, jforce = np.empty((n, W)), np.empty((n, W, len(joints)))
    graph = None
    exploded = [None] * W
    seen, peaks = 0, np.zeros((W, 2))  # running peak speed, angular speed per world
    for k in range(n):
        if graph is None and capture and k == 1:  # step 0 ran eagerly: kernels are loaded
            with wp.ScopedCapture(device="cpu") as cap:
                two_steps()
            graph = cap.graph  # the capture did not execute: replay it for this sample
        if graph is not None:
            wp.capture_launch(graph)
        else:
            two_steps()
        pos[k], quat[k], lin[k], ang[k], pen[k] = read(sim.states[0])
        gforce[k], jforce[k] = forces()
        if k % 30 == 29:
            if time.perf_counter() > deadline:
                raise TimeBudgetError("Newton stability check ran past its time budget", name or None)
            if budget is not None:
                budget.check("Newton rest and drop checks")
            tk = 2 * time_step * np.arange(1, k + 2)
            if early_exit and stop_on_failure is not None:
                new = slice(seen, k + 1)
                peaks = np.maximum(peaks, np.stack([np.linalg.norm(lin[new], axis=-1).max(axis=(0, 2)),
                                                    np.linalg.norm(ang[new], axis=-1).max(axis=(0, 2))], axis=1))
                seen = k + 1
                exploded = [exploded[w] or decided_failure(peaks[w, 0], peaks[w, 1], 0.0, 0.0, th, **stop_on_failure[w])
                            for w in range(W)]
            if early_exit and all(exploded[w] or settled(tk, pos[:k + 1, w], quat[:k + 1, w], th) for w in range(W)):
                n = k + 1  # every world at rest for a whole window (or failed for good): the verdicts are decided
                break
    else:
        exploded = [None] * W  # ran to the end: nothing was cut short
    pos, quat, lin, ang, pen, gforce, jforce = pos[:n], quat[:n], lin[:n], ang[:n], pen[:n], gforce[:n], jforce[:n]
    times = 2 * time_step * np.arange(1, n + 1)
    trajs = [Trajectory(times, pos[:, w][:, order], quat[:, w][:, order], lin[:, w][:, order], ang[:, w][:, order],
                        pen[:, w], gforce[:, w], float(pen0[w]), p0[w][order], q0[w][order], exploded[w])
             for w in range(W)]
    total = float(masses.sum())
    ratios = []
    for w in range(W):  # the weight each joint carries, from the contacts of the last state
        grounded = lows[w] <= support_contact_m
        ratios.append({label: jforce[:, w, c] / (GRAVITY_MAGNITUDE * (total if grounded[sorted(tree)].any() else carried))
                       for c, (label, _, carried, tree) in enumerate(joints)})
    return trajs, masses[order], ratios


def settle_usd_in_newton(path: str | Path, seconds: float = 2.0, *, time_step: float = 1.0 / 240.0,
                         mu: float = 0.6) -> dict:
    """Load a USD asset in Newton, as authored, over a ground plane z = 0 and let it settle.

    Returns:
        ``{"bodies", "final_speed" (max COM speed at the end, m/s), "final_angular_speed"
        (rad/s), "min_height" (lowest collider point over the run, m), "seconds"}``.
    """
    t0 = time.perf_counter()
    steps = int(round(seconds / time_step))
    (traj,), masses, _ = simulate_usd(Path(path), [(np.eye(3), np.zeros(3))], mu=mu, time_step=time_step,
                                      steps=steps)
    return {"bodies": len(masses),
            "final_speed": float(np.linalg.norm(traj.linear_velocities[-1], axis=-1).max()),
            "final_angular_speed": float(np.linalg.norm(traj.angular_velocities[-1], axis=-1).max()),
            "min_height": -float(max(traj.penetration.max(initial=0.0), traj.initial_penetration)),
            "seconds": time.perf_counter() - t0}


#: Substeps of the first run of the rest and drop checks (:func:`check_newton`, ``coarse_first``):
#: half of :data:`._newton_sim.REST_DROP_SUBSTEPS`, at half its cost.
COARSE_SUBSTEPS = 2

#: A coarse run's verdict stands when it passes with its penetration within this fraction of its
#: bounds (:func:`clear_pass`).
CLEAR_FRACTION = 0.5


def window_means(traj: Trajectory, ratio: dict, th: StabilityThresholds) -> dict:
    """Joint label -> mean of its force-ratio series ``ratio[label]`` ``(T,)`` over the last
    ``th.rest_window_s`` of ``traj`` (what the rest check reports as ``joint_force_ratios``)."""
    w0 = int(np.searchsorted(traj.times, traj.times[-1] - th.rest_window_s - 1e-9))
    return {label: float(r[w0:].mean()) for label, r in ratio.items()}


def clear_pass(result, ratios: dict, th: StabilityThresholds) -> bool:
    """Whether a check run at :data:`COARSE_SUBSTEPS` is decided: it passed, its ground
    penetration (peak and at rest) stays within :data:`CLEAR_FRACTION` of the bounds, and its
    constraint forces at rest (ratios to the weight carried, 1 at a plain rest) exceed 1 by at
    most that fraction of the certificate's allowance ``max_rest_force_ratio - 1``
    (:class:`.thresholds.CertificateThresholds`' default: 1.25 x the weight), so that the
    fine substeps could not turn it into a failure on what they were brought in for. Those were
    penetration (a toppling body's far end sank 11.7 mm at 2 substeps, bound 9.2: 103100) and the
    creep of light links (which fails a coarse run outright, and so is run again). Finer steps
    are the more accurate, and in XPBD they penetrate and creep less (Macklin et al. 2019): a
    clear coarse pass is what the fine run gives, at half the cost (102417's rest and drops:
    23.6 against 47.7 CPU s, every verdict the same).

    Args:
        result: the coarse run's :class:`~n4d4d.asset.CheckResult` (:func:`.trajectory.evaluate`).
        ratios: joint label -> the joint's force ratio at rest in that run (mean over the last
            ``rest_window_s``: :func:`window_means`).
        th: the stability thresholds it was judged by.
    """
    from .thresholds import CertificateThresholds

    if not result.passed:
        return False
    m, bound = result.measured, result.threshold
    if m["max_penetration_m"] > CLEAR_FRACTION * bound["max_penetration_m"]:
        return False
    if m["rest_penetration_m"] > CLEAR_FRACTION * th.max_penetration_m:
        return False
    limit = 1.0 + CLEAR_FRACTION * (CertificateThresholds().max_rest_force_ratio - 1.0)  # 1: the weight itself
    forces = [m.get("rest_force_ratio", np.nan), *ratios.values()]
    return not any(np.isfinite(f) and f > limit for f in forces)


def penetration_only(traj: Trajectory, kind: str, th: StabilityThresholds, model, masses) -> bool:
    """Whether the run ``traj`` of a ``kind`` ("rest" or "drop") check fails only by sinking or
    creeping: it fails, and judged with no ground-penetration, drift or settling bound it would
    pass (no explosion, no toppling, no placed-pose penetration). That is how XPBD's slow
    convergence on a light link pressed into the ground by a heavy body through its joint shows
    (:data:`._newton_sim.STABILITY_SUBSTEPS`: 8867's 43 g handle under its 21 kg door 11-13 mm
    deep at 2-4 substeps, 7.3 mm at 8; 7167's door 18.4 mm deep and creeping, 3.8 mm at 8), and
    such a run is stepped again at those finest substeps (Macklin et al. 2019: smaller steps
    converge such chains better than more iterations), whose verdict stands: a body that really
    sinks, slides or rolls (PartNet 3574's bottle) does so at any substep, and fails again."""
    from dataclasses import replace as dc_replace

    kw = dict(kind=kind, mass=model.total_mass, diagonal=model.diagonal, min_moment=model.min_moment,
              masses=masses, drop_height_m=th.drop_height_m if kind == "drop" else 0.0)
    if evaluate(traj, th, **kw).passed or traj.stopped is not None:
        return False
    if traj.initial_penetration > th.max_penetration_m:
        return False  # placed into the ground: the asset's own geometry, not the solver
    inf = float("inf")
    loose = dc_replace(th, max_penetration_m=inf, max_drift_m=inf, max_drift_rad=inf, settle_time_s=inf)
    return evaluate(traj, loose, **kw).passed


def check_newton(asset: Asset, *, usd_path: str | Path, thresholds: StabilityThresholds | None = None,
                 seed: int = 0, orientations: int = 3, time_budget_s: float = 60.0, budget=None,
                 contact_filter: bool = False, coarse_first: bool = True) -> dict:
    """Rest and drop checks of ``asset`` in Newton, on its exported USD file ``usd_path``.

    The placements are exactly those of :func:`.pybullet_check.check_pybullet` with the same
    seed, so the two engines' verdicts and rest poses compare one to one.

    Args:
        asset: with parts, collision hulls and mass properties; ``usd_path`` must be its USD
            export (the pipeline writes it with :func:`n4d4d.exporters.usd.write_usd` into
            its staging folder; this module never writes one).
        usd_path: the USD file to check (read, never changed).
        thresholds: bounds (default :class:`StabilityThresholds`).
        seed: seeds the rest tilt axis and drop orientations.
        orientations: number of drops.
        time_budget_s: CPU seconds for load and simulation (with a wall-clock hang guard,
            :class:`n4d4d.budget.Budget`).
        budget: a running Budget to charge instead of a fresh one of ``time_budget_s``.
        contact_filter: skip the contact tests of link pairs proven apart while the joints stay
            in range (:func:`.contact_filter.clear_pairs`: a camera's buttons); each placement's
            run then shows every skipped pair apart on every recorded state
            (:func:`.contact_filter.unproven`), or that placement is run again testing the
            pairs that came near, then (if still not shown) every pair. Off by default: with
            :data:`._newton_sim.CONTACT_GAP_M` a skipped pair costs little (102417: 1,480 of
            19,164 shape pairs tested, a step 6% cheaper), while an asset whose joints XPBD
            lets come apart runs every placement twice (102417's buttons stray up to 6 cm:
            50.9 CPU s against 26.2 testing every pair).
        coarse_first: run every placement at :data:`COARSE_SUBSTEPS` first and again at
            :data:`._newton_sim.REST_DROP_SUBSTEPS` only those whose coarse verdict is not a
            clear pass (:func:`clear_pass`), and at :data:`._newton_sim.STABILITY_SUBSTEPS`
            those that then fail only by sinking or creeping (:func:`penetration_only`); each
            check's ``details["substeps"]`` says which run decided it. False: every placement
            at the fine substeps, once.

    Returns:
        dict like :func:`.pybullet_check.check_pybullet`'s (``checks``: CheckResult records,
        engine "newton"), with ``version``, ``solver``, ``bodies``, ``usd_sha256`` (hex SHA-256 of the
        file's bytes as checked) and ``contact_filter`` (``shape_pairs`` the file allows and
        ``tested`` of them in the first run, ``link_pairs_skipped`` and ``coaxial_link_pairs``
        proven apart, ``runs``, ``retested``: the link pairs tested again after each run that
        did not show them apart, ``worlds_rerun``: the placements run again each time) and
        ``warnings``: the joints whose rest coordinate lies outside their limits
        (:func:`.rigid_model.rest_outside_limits`; pybullet_data's a1: its calves, the cause of
        its worlds' divergence), also among the rest check's ``details["warnings"]`` (which
        the certificate gathers).

    Raises:
        TimeBudgetError: past the budget (:class:`~n4d4d.budget.HangError`: its hang guard).
        MissingFileError: no file at ``usd_path``. StageInputError: the file's bodies are not
        the asset's parts.
    """
    from importlib.metadata import version

    from scipy.spatial.transform import Rotation

    from n4d4d.budget import Budget
    from n4d4d.kinematics import body_prim_names, joint_names, kinematic_tree

    from ._newton_sim import usd_sha256
    from .pybullet_check import check_runs
    from .contact_filter import clear_pairs, unproven, without
    from .rigid_model import rest_outside_limits, rigid_model

    th = thresholds or StabilityThresholds()
    t0 = time.perf_counter()
    budget = budget or Budget(time_budget_s, what="Newton stability checks", label=asset.name)
    model = rigid_model(asset)
    path, digest = Path(usd_path), usd_sha256(usd_path, asset.name)
    runs = check_runs(model, th, orientations, seed)  # a fixed base: the file welds its root to the world
    stop = [{"diagonal": model.diagonal, "mass": model.total_mass, "min_moment": model.min_moment,
             "drop_height_m": th.drop_height_m if kind == "drop" else 0.0} for kind, _, _ in runs]
    clear = clear_pairs(model) if contact_filter else None
    if clear is not None and not (clear.pairs or clear.coaxial):
        clear = None
    filt = {"link_pairs_skipped": len(clear.pairs) if clear else 0,
            "coaxial_link_pairs": len(clear.coaxial) if clear else 0, "runs": 0, "retested": [],
            "worlds_rerun": []}

    substeps = COARSE_SUBSTEPS if coarse_first else REST_DROP_SUBSTEPS

    def sim(skip, worlds, n_sub=None, iterations=None, filter_run=True):
        counts: dict = {}
        out = simulate_usd(path, [runs[w][1:] for w in worlds], mu=asset.material.dynamic_friction,
                           early_exit=th, time_step=th.time_step_s, steps=th.steps, name=asset.name,
                           support_contact_m=th.support_contact_m, iterations=iterations,
                           bodies=len(model.links), budget=budget, stop_on_failure=[stop[w] for w in worlds],
                           body_order=list(body_prim_names(model.frames).values()), skip_pairs=skip,
                           pair_counts=counts, substeps=n_sub or substeps)
        if filt["runs"] == 0:
            filt.update(counts)
        filt["runs"] += filter_run  # the filter's own runs (the finer re-runs are the solver's)
        return out

    def near(skip, trajs, worlds):  # per world: the skipped pairs its run does not show apart
        return {w: unproven(skip, tr.positions, tr.quats, tr.placed_positions, tr.placed_quats, runs[w][1:])
                for w, tr in zip(worlds, trajs)} if skip else {w: [] for w in worlds}

    # The filter's guarantee is checked on each run itself: every skipped pair shown apart on
    # every recorded state (contact_filter.unproven). The worlds (placements) are independent,
    # so only a world that fails is run again: testing the pairs that came near, then, if it
    # still fails, every pair.
    worlds = list(range(len(runs)))
    trajs, masses, ratios = sim(clear, worlds)
    trajs, ratios = list(trajs), list(ratios)
    skip = clear
    for attempt in range(2):
        bad = {w: p for w, p in near(skip, [trajs[w] for w in worlds], worlds).items() if p}
        if not bad:
            break
        worlds = sorted(bad)
        pairs = sorted({p for ps in bad.values() for p in ps})
        filt["retested"].append([[model.links[i].name, model.links[j].name] for i, j in pairs])
        filt["worlds_rerun"].append(worlds)
        skip = without(skip, pairs) if attempt == 0 else None
        if skip is not None and not (skip.pairs or skip.coaxial):
            skip = None
        t2, _, r2 = sim(skip, worlds)
        for w, tr, r in zip(worlds, t2, r2):
            trajs[w], ratios[w] = tr, r
        if skip is None:
            break
    refined = []  # the worlds whose coarse verdict was not clear, run again at the fine substeps
    if coarse_first:
        refined = [w for w, (kind, _, _), tr in zip(range(len(runs)), runs, trajs)
                   if not clear_pass(evaluate(tr, th, kind=kind, mass=model.total_mass, diagonal=model.diagonal,
                                               min_moment=model.min_moment, masses=masses,
                                               drop_height_m=th.drop_height_m if kind == "drop" else 0.0),
                                      window_means(tr, ratios[w], th), th)]
        if refined:
            t2, _, r2 = sim(None, refined, REST_DROP_SUBSTEPS, filter_run=False)  # every pair: unverified otherwise
            for w, tr, r in zip(refined, t2, r2):
                trajs[w], ratios[w] = tr, r
    finest = []  # failed by sinking or creeping alone: the light-link case, run at the finest substeps
    if coarse_first:
        finest = [w for w in (refined if coarse_first else range(len(runs)))
                  if penetration_only(trajs[w], runs[w][0], th, model, masses)]
        if finest:
            t3, _, r3 = sim(None, finest, STABILITY_SUBSTEPS, STABILITY_ITERATIONS, filter_run=False)
            for w, tr, r in zip(finest, t3, r3):
                trajs[w], ratios[w] = tr, r
    sim_seconds = time.perf_counter() - t0

    by_prim = {prim: name for name, prim in joint_names(kinematic_tree(asset)).items()}
    outside = rest_outside_limits(model)  # every world starts at the rest coordinates
    checks = []
    for (kind, R, _t), traj, ratio in zip(runs, trajs, ratios):
        result = evaluate(traj, th, kind=kind, mass=model.total_mass, diagonal=model.diagonal,
                          min_moment=model.min_moment, drop_height_m=th.drop_height_m if kind == "drop" else 0.0,
                          masses=masses)
        forces = {by_prim.get(label.rsplit("/", 1)[-1], label): r for label, r in window_means(traj, ratio, th).items()}
        orientation = xyzw_to_wxyz(Rotation.from_matrix(R).as_quat()).tolist()
        warn = result.details.get("warnings", []) + (outside if kind == "rest" else [])  # once, not per drop
        n_sub = (STABILITY_SUBSTEPS if len(checks) in finest else
                 REST_DROP_SUBSTEPS if (not coarse_first or len(checks) in refined) else COARSE_SUBSTEPS)
        checks.append(replace(result, engine="newton", measured={**result.measured, "joint_force_ratios": forces},
                              details={**result.details, "orientation_wxyz": orientation, "warnings": warn,
                                       "substeps": n_sub},
                              seconds=sim_seconds / len(runs)))
    reasons = [f"{c.name}{'' if c.name == 'rest' else ' ' + str(i)}: {r}"
               for i, c in enumerate(checks) for r in c.reasons]
    solver = (f"SolverXPBD(iterations={REST_DROP_ITERATIONS}, substeps={COARSE_SUBSTEPS}, "
              f"unclear worlds again at {REST_DROP_SUBSTEPS}: {len(refined)} of {len(runs)}, failed by sinking or "
              f"creeping alone at {STABILITY_SUBSTEPS} x {STABILITY_ITERATIONS}: {len(finest)})" if coarse_first else
              f"SolverXPBD(iterations={REST_DROP_ITERATIONS}, substeps={REST_DROP_SUBSTEPS})")
    return {"engine": "newton", "version": version("newton"), "solver": solver,
            "bodies": len(masses), "usd_sha256": digest, "contact_filter": filt, "checks": checks, "thresholds": as_dict(th),
            "passed": not reasons, "reasons": reasons, "warnings": outside,
            "seconds": time.perf_counter() - t0, "seed": seed}
