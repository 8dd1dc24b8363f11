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

#: Solver substeps per time step (1/480 s substeps). With one substep, or without sticky
#: contacts, a resting mug (28 hulls, many contact points) creeps 2-8 mm/s in XPBD whatever the
#: iteration count (2 to 32 tried); two substeps with sticky contacts hold it to 0.05 mm/s
#: (measured on pybullet_data's mug, rest + 3 drops; the duck and the test shapes likewise).
SUBSTEPS = 2

#: Keyword arguments of ``newton.CollisionPipeline``: "sticky" contact matching keeps each
#: contact's anchor from step to step instead of regenerating it, which stops the creep above.
PIPELINE_OPTIONS: dict = {"contact_matching": "sticky"}

#: Contact detection gap (m) of every shape and the ground: the pipeline generates contacts for
#: shapes closer than this (Newton's default ``ModelBuilder.rigid_gap`` is 0.1 m, which on a
#: 1.8 m camera made 4,384 contacts a step, nearly all between parts centimetres apart). XPBD
#: applies no force to a contact at a positive separation, and contacts are generated every
#: substep, so a smaller gap changes the physics only for a pair that closes more than the gap
#: within one 1/480 s substep (over 4.8 m/s; a 5 cm drop lands at 1 m/s), and then it is caught
#: one substep later. Halves the cost of a step on 102417 (0.96 -> 0.46 CPU s per 20 steps).
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
    pairs it leaves out cannot touch (:mod:`.contact_filter`).

    :meth:`step` swaps the buffers every substep; a captured graph must hold an even number of
    substeps so that each replay leaves the newest state in ``states[0]`` again.
    """

    def __init__(self, model, *, iterations: int | None = None, observables: frozenset[str] = frozenset(),
                 shape_pairs: np.ndarray | None = None):
        wp, newton = newton_modules()
        self.model = model
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
        """Advance ``states[0]`` by ``dt`` seconds in :data:`SUBSTEPS` substeps."""
        for _ in range(SUBSTEPS):
            a, b = self.states
            a.clear_forces()
            self.pipe.collide(a, self.contacts)
            self.solver.step(a, b, self.control, self.contacts, dt / SUBSTEPS, observables=self.observables)
            self.states.reverse()
