"""Newton boundary (private): the solver settings every Newton check uses, worlds over a ground
plane, and a stepper that Warp graph capture can record.

:mod:`.newton_check` (rest and drop) and :mod:`.newton_articulation` (joint sweeps) build their
models here so that both run the same XPBD solver, substeps and contact pipeline. Imported
lazily: ``newton`` and ``warp`` load inside the functions.
"""

from __future__ import annotations

import numpy as np

#: XPBD solver iterations per substep.
XPBD_ITERATIONS = 8

#: Solver substeps per time step of the articulation sweeps (1/480 s substeps; the rest and drop
#: checks run :data:`REST_DROP_SUBSTEPS`). With one substep, or without sticky
#: contacts, a resting mug (28 hulls, many contact points) creeps 2-8 mm/s in XPBD whatever the
#: iteration count (2 to 32 tried); two substeps with sticky contacts hold it to 0.05 mm/s
#: (measured on pybullet_data's mug, rest + 3 drops; the duck and the test shapes likewise).
SUBSTEPS = 2

#: Finer solver settings, 8 substeps of 4 iterations (1/1920 s substeps at the certificate's
#: 1/240 s step), for a light link pressed by a heavy body through its joint (the articulation
#: sweeps use them when a link is outweighed by a child, :mod:`.newton_articulation`). XPBD
#: solves a joint and a ground contact one after the other, each correction shared by inverse
#: mass, so such a link is pushed out by the contact and pulled back by the joint, converging at
#: a rate set by the mass ratio; smaller steps converge such chains far better than more
#: iterations (Macklin et al. 2019, "Small steps in physics simulation"). In the drop checks
#: (peak / resting penetration, mm, 2 x 8 -> 8 x 4): the door 8867's 43 g handle under its 21 kg
#: door 13.3 / 2.8 -> 7.3 / 0.3; the 382 kg microwave 7167 lying on its 9 kg door 18.4 / 3.9 ->
#: 3.8 / 0.5. The rest and drop checks use them only for a placement that fails by sinking or
#: creeping alone at :data:`REST_DROP_SUBSTEPS` (:func:`.newton_check.penetration_only`; 7167
#: then passes), not for all: four iterations let 102417's gram-light buttons creep (its rest
#: check failed, still moving at 8 s), and its rest and drops cost 3.5x (20.5 -> 71.4 CPU s).
STABILITY_ITERATIONS = 4
STABILITY_SUBSTEPS = 8

#: Solver iterations and substeps per step of the rest and drop checks (:mod:`.newton_check`):
#: 4 substeps of 8 iterations (1/960 s substeps). A body that lands on a corner and topples
#: brings its far end down at several times the drop's free-fall speed (the 2 m refrigerator
#: 103100: 6 m/s, against 1 m/s for the 5 cm drop), and at 2 substeps XPBD's contact, its
#: correction divided among the body's active contacts, let it sink 11.7 mm (bound 9.2); at 4:
#: 0.2 mm. 102417 keeps passing (its rest and drops 20.5 -> 43.6 CPU s). Not enough for a light
#: link under a heavy body (8867's handle 11.4 mm; 7167's door creeps 16 mm a second): see
#: :data:`STABILITY_SUBSTEPS`, which fixes those at a cost the checks cannot carry.
#: The checks run every placement at 2 substeps first and at these 4 only where that verdict is
#: not clear (:func:`.newton_check.clear_pass`: 102417's rest and drops 47.7 -> 22.3 CPU s).
REST_DROP_ITERATIONS = 8
REST_DROP_SUBSTEPS = 4

#: Keyword arguments of ``newton.CollisionPipeline``: "sticky" contact matching keeps each
#: contact's anchor from step to step instead of regenerating it, which stops the creep above.
PIPELINE_OPTIONS: dict = {"contact_matching": "sticky"}

#: Contact detection gap (m) of every shape and the ground: the pipeline generates contacts for
#: shapes closer than this (Newton's default ``ModelBuilder.rigid_gap`` is 0.1 m, which on a
#: 1.8 m camera made 4,384 contacts a step, nearly all between parts centimetres apart). XPBD
#: applies no force to a contact at a positive separation, and contacts are generated every
#: substep, so a smaller gap changes the physics only for a pair that closes more than the gap
#: (Newton adds the two shapes' gaps: 2 cm) within one substep: over 9.6 m/s at the sweeps'
#: 1/480 s substeps, 19 m/s at the rest and drop checks' 1/960 s (a 5 cm drop lands at 1 m/s,
#: the far end of a 2 m body toppling after it at 6 m/s), and then it is caught one substep
#: later. Halves the cost of a step on 102417 (0.96 -> 0.46 CPU s per 20 steps).
CONTACT_GAP_M = 0.01

#: Keyword arguments of ``newton.solvers.SolverXPBD`` besides iterations.
SOLVER_OPTIONS: dict = {}


def usd_sha256(path, name: str = "") -> str:
    """Hex SHA-256 of the bytes of the USD file at ``path`` (the file a Newton check reads).

    Raises:
        MissingFileError: no file at ``path`` (names it and the asset ``name``).
    """
    import hashlib
    from pathlib import Path

    from n4d4d.errors import MissingFileError

    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"no USD file to check (asset '{name}')" if name else "no USD file to check", p)
    return hashlib.sha256(p.read_bytes()).hexdigest()


def newton_modules():
    """``(warp, newton)``, imported with Warp's log quieted to warnings and Warp's kernel
    compilation metered (:func:`n4d4d.budget.install_compile_meter`: no budget is charged for it)."""
    import warp as wp

    from n4d4d.budget import install_compile_meter

    wp.config.log_level = max(wp.config.log_level, wp.LOG_WARNING)
    install_compile_meter()
    import newton

    return wp, newton


def anchor_joints_at_com(sub) -> dict[str, float]:
    """Move the anchor of every prismatic joint of builder ``sub`` to its child's COM, and of
    every revolute joint along its axis to the foot of the child's COM on the axis; returns
    joint label -> how far the anchor moved (m). ``sub`` is changed; call it right after
    ``add_usd``, with the bodies at the file's rest pose (joint coordinates 0).

    The same constraint, better conditioned: a prismatic joint keeps the child's rotation
    equal to the parent's and its displacement on the axis, whatever point the frames are
    anchored at, and a revolute joint's anchor can be any point of its axis (the joint
    coordinate, the limits and the drives are unchanged: the frames keep their rotations and
    coincide at rest as before). XPBD, however, corrects the anchor's offset with the child's
    inverse mass and inertia about its COM (Mueller et al. 2020, "Detailed Rigid Body
    Simulation with Extended Position Based Dynamics", eq. 2-3): anchored at the link frame,
    which PartNet-Mobility puts at the object's origin, 0.37-0.54 m from 102417's 0.6-2 g
    buttons, each residual twist of a button left by the relaxed Jacobi iterations shows up
    half a metre away, and the buttons strayed 10-25 mm off their axes and 8 mm beyond their
    12 mm travel at rest. Anchored at the COM: under 0.1 mm (measured over 4 s of the rest
    placement). MuJoCo, PhysX and Bullet solve joints in reduced or exact coordinates, where
    the anchor point of a prismatic joint does not matter."""
    from scipy.spatial.transform import Rotation

    import warp as wp

    _, newton = newton_modules()
    moved = {}
    for j in range(sub.joint_count):
        kind = sub.joint_type[j]
        if kind not in (newton.JointType.PRISMATIC, newton.JointType.REVOLUTE) or sub.joint_parent[j] < 0:
            continue
        xp, xc = np.asarray(sub.joint_X_p[j], np.float64), np.asarray(sub.joint_X_c[j], np.float64)
        rp, rc = Rotation.from_quat(xp[3:7]), Rotation.from_quat(xc[3:7])
        com = np.asarray(sub.body_com[sub.joint_child[j]], np.float64)  # child body frame
        shift = com - xc[:3]  # child body frame
        if kind == newton.JointType.REVOLUTE:  # along the axis only: the anchor stays on it
            axis = rc.apply(np.asarray(sub.joint_axis[sub.joint_qd_start[j]], np.float64))
            axis /= max(np.linalg.norm(axis), 1e-300)
            shift = axis * float(shift @ axis)
        # at rest the two joint frames coincide: a child-frame vector is rp rc^-1 of it in the parent's
        new_p = xp[:3] + rp.apply(rc.inv().apply(shift))
        sub.joint_X_p[j] = wp.transform(wp.vec3(*map(float, new_p)), wp.quat(*map(float, xp[3:7])))
        sub.joint_X_c[j] = wp.transform(wp.vec3(*map(float, xc[:3] + shift)), wp.quat(*map(float, xc[3:7])))
        moved[str(sub.joint_label[j])] = float(np.linalg.norm(shift))
    return moved


def start_at_rest(sub) -> dict[str, float]:
    """Start every revolute and prismatic joint of builder ``sub`` at its rest coordinate
    ``clip(0, lower, upper)`` (:func:`.rigid_model.rest_coordinate`, from the file's limits as
    Newton loaded them, SI) and move the bodies there; returns joint label -> coordinate for the
    joints moved (rad or m; most assets: none). ``sub`` is changed; call it after ``add_usd``
    and :func:`anchor_joints_at_com`, with the bodies at the file's pose (coordinates 0).

    XPBD steps maximal coordinates, so the bodies themselves (``body_q``) are posed, by Newton's
    forward kinematics of each joint between two bodies, parents first: the child's pose is
    ``body_q[parent] * X_p * J(q) * X_c^-1`` with ``J(q)`` a turn of ``q`` about the joint axis
    (revolute) or a shift of ``q`` along it (prismatic), the axis in the joint frame; ``joint_q``
    gets the coordinate. Root bodies (a free or world-fixed joint) keep their pose. Started at
    the file's 0 outside the limits (pybullet_data's a1: calves 0.92 rad past theirs), XPBD
    snapped the joints into range in one substep and the worlds diverged.
    """
    from scipy.spatial.transform import Rotation

    import warp as wp

    _, newton = newton_modules()
    moving = (newton.JointType.REVOLUTE, newton.JointType.PRISMATIC)
    q0 = {}
    for j in range(sub.joint_count):
        if sub.joint_type[j] in moving and sub.joint_parent[j] >= 0:
            d = sub.joint_qd_start[j]
            lo, hi = float(sub.joint_limit_lower[d]), float(sub.joint_limit_upper[d])
            q = min(max(0.0, lo), hi) if np.isfinite(lo) and np.isfinite(hi) and lo <= hi else 0.0
            if q:
                q0[j] = q
    if not q0:
        return {}

    def tf(x):  # warp transform (p, q xyzw) -> (Rotation, p)
        x = np.asarray(x, np.float64)
        return Rotation.from_quat(x[3:7]), x[:3]

    def mul(a, b):
        return a[0] * b[0], a[1] + a[0].apply(b[1])

    def inv(a):
        r = a[0].inv()
        return r, -r.apply(a[1])

    by_child = {sub.joint_child[j]: j for j in range(sub.joint_count) if sub.joint_parent[j] >= 0}
    pose = {b: tf(sub.body_q[b]) for b in range(sub.body_count)}
    done = set()

    def place(b):  # pose of body b after its ancestors are placed
        if b in done or b not in by_child:
            return
        j = by_child[b]
        p = sub.joint_parent[j]
        place(p)
        q = q0.get(j, 0.0)
        if q or p in moved:
            a = np.asarray(sub.joint_axis[sub.joint_qd_start[j]], np.float64) if sub.joint_type[j] in moving else np.zeros(3)
            a = a / max(np.linalg.norm(a), 1e-300)
            if sub.joint_type[j] == newton.JointType.REVOLUTE:
                J = (Rotation.from_rotvec(q * a), np.zeros(3))
            else:
                J = (Rotation.identity(), q * a)
            pose[b] = mul(mul(mul(pose[p], tf(sub.joint_X_p[j])), J), inv(tf(sub.joint_X_c[j])))
            moved.add(b)
        done.add(b)

    moved: set[int] = set()
    for b in range(sub.body_count):
        place(b)
    for b in moved:
        r, t = pose[b]
        sub.body_q[b] = wp.transform(wp.vec3(*map(float, t)), wp.quat(*map(float, r.as_quat())))
    for j, q in q0.items():
        sub.joint_q[sub.joint_q_start[j]] = q
    return {str(sub.joint_label[j]): q for j, q in q0.items()}


def pin_world_welded(sub) -> list[int]:
    """Make every body of builder ``sub`` that a fixed joint welds to the world (a fixed-base
    asset's root, :attr:`n4d4d.asset.Asset.fixed_base`, or the sweeps' ``floating=False`` roots)
    immovable: mass and inertia 0, so Newton gives it zero inverse mass and inertia; returns the
    bodies pinned. ``sub`` is changed; call it after reading the masses the checks weigh by.

    XPBD corrects a joint by sharing the correction between its two bodies by inverse mass
    (Mueller et al. 2020, eq. 2-3), the world's share being 0: a welded root is still moved by
    the corrections of the joints below it and pulled back by its weld, a light root under a
    heavy arm converging as slowly as any light link (:mod:`.newton_articulation`; measured on
    a 0.29 kg base carrying a 3 kg arm: its sweeps reached 11-18 rad/s against 2 rad/s
    commanded). Pinned, the root is exactly the static base PyBullet makes of it (base mass 0)."""
    _, newton = newton_modules()
    pinned = []
    for j in range(sub.joint_count):
        if sub.joint_parent[j] < 0 and sub.joint_type[j] == newton.JointType.FIXED:
            b = sub.joint_child[j]
            sub.body_mass[b] = 0.0
            sub.body_inertia[b] = type(sub.body_inertia[b])(*([0.0] * 9))
            pinned.append(b)
    return pinned


def on_ground(sub, xforms: list[tuple[np.ndarray, np.ndarray]] | int, mu: float):
    """The finalized CPU model with one world per placement of builder ``sub`` over a shared
    static plane z = 0 with friction ``mu``.

    ``xforms``: placements ``(R (3, 3), t (3,))`` (``x_world = R x_file + t``), or a number of
    worlds all at the file's pose. Every shape's contact gap is set to at most
    :data:`CONTACT_GAP_M` (``sub`` is changed).
    """
    wp, newton = newton_modules()
    from scipy.spatial.transform import Rotation

    sub.shape_gap = [min(CONTACT_GAP_M, g) for g in sub.shape_gap]
    main = newton.ModelBuilder()
    main.rigid_gap = CONTACT_GAP_M
    if isinstance(xforms, int):
        main.replicate(sub, xforms)
    else:
        tfs = [wp.transform(wp.vec3(*map(float, t)), wp.quat(*map(float, Rotation.from_matrix(R).as_quat())))
               for R, t in xforms]
        main.replicate(sub, len(xforms), xforms=tfs)
    main.add_ground_plane(cfg=newton.ModelBuilder.ShapeConfig(mu=mu))
    return main.finalize(device="cpu")


class Stepper:
    """``SolverXPBD`` and the collision pipeline with the settings above, stepping ``model``.

    Attributes:
        states: two ``newton.State`` buffers; :meth:`step` leaves the newest in ``states[0]``.
        control: the ``newton.Control`` the solver reads (joint targets, ``joint_f``).
        contacts: the pipeline's contacts. observables: the solver observables filled every
            substep (``SolverBase.observables`` of the requested kinds), or None.

    ``shape_pairs``: ``(P, 2) int`` the shape pairs the pipeline tests (its explicit broad phase),
    or None for the model's own ``shape_contact_pairs``; a caller passing fewer must prove the
    pairs it leaves out cannot touch (:mod:`.contact_filter`). ``iterations`` and ``substeps``
    default to :data:`XPBD_ITERATIONS` and :data:`SUBSTEPS`.

    :meth:`step` swaps the buffers every substep; a captured graph must hold an even number of
    substeps so that each replay leaves the newest state in ``states[0]`` again.
    """

    def __init__(self, model, *, iterations: int | None = None, observables: frozenset[str] = frozenset(),
                 shape_pairs: np.ndarray | None = None, substeps: int | None = None):
        wp, newton = newton_modules()
        self.model = model
        self.substeps = int(substeps or SUBSTEPS)
        self.solver = newton.solvers.SolverXPBD(model, iterations=iterations or XPBD_ITERATIONS, **SOLVER_OPTIONS)
        self.states = [model.state(), model.state()]
        self.control = model.control()
        extra = {} if shape_pairs is None else {
            "shape_pairs_filtered": wp.array(np.asarray(shape_pairs, dtype=np.int32).reshape(-1, 2), dtype=wp.vec2i,
                                             device=model.device)}
        self.pipe = newton.CollisionPipeline(model, **PIPELINE_OPTIONS, **extra)
        self.contacts = self.pipe.contacts()
        self.observables = self.solver.observables(observables, contacts=self.contacts) if observables else None

    def step(self, dt: float) -> None:
        """Advance ``states[0]`` by ``dt`` seconds in ``substeps`` substeps."""
        for _ in range(self.substeps):
            a, b = self.states
            a.clear_forces()
            self.pipe.collide(a, self.contacts)
            self.solver.step(a, b, self.control, self.contacts, dt / self.substeps, observables=self.observables)
            self.states.reverse()
