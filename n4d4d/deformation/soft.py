"""The ``soft`` motion family: the asset as an elastic body, dropped and pushed, simulated in Newton.

The watertight visual mesh is filled with tetrahedra (:func:`.tetmesh.tetrahedralize`), each a
Neo-Hookean element with Lamé parameters from the build's Young's modulus ``E`` and Poisson
ratio ``nu`` (``mu = E / (2 (1 + nu))``, ``lambda = E nu / ((1 + nu)(1 - 2 nu))``) and the asset's
density, and stepped by Newton's Vertex Block Descent solver (Chen et al. 2024, "Vertex Block
Descent", ACM TOG 43(4); ``newton.solvers.SolverVBD``, ``ModelBuilder.add_soft_mesh``) on the CPU
or GPU Warp gives. The clip:

1. **drop**: released at rest in the asset's rest orientation (the one the rest-pose stage chose
   to stand on) turned by a seeded yaw, centred over the origin, the lowest node
   ``drop_height_m`` above the ground (default the certificate's drop height, as the ``drop``
   family), falling under gravity onto the ground (Coulomb friction: the asset's dynamic
   friction). A tumbling landing on a corner is the rigid ``drop`` family's test; here the body
   lands on the face it stands on, so its impact strain has a closed form to compare with (an
   elastic bar meeting a rigid wall at speed v: strain v / c, c = sqrt(E / rho));
2. **push**: at :data:`PUSH_AT` of the clip length, a horizontal force in a seeded direction on
   every node, in proportion to its mass, for :data:`PUSH_SECONDS`: an acceleration of
   :data:`PUSH_SPEED_M_S` / :data:`PUSH_SECONDS` (10 m/s^2, more than friction's ``mu g`` for
   ``mu`` < 1), so the body slides while friction at its base shears it; a rigid block would
   slide ``d = a1 t^2 / 2 + (a1 t)^2 / (2 mu g)``, ``a1 = a - mu g`` (the test's closed form);
3. then on until every node has rested for the rest window (the ``drop`` family's rule, on
   nodes instead of the root), up to the certificate's drop horizon past ``seconds``.

Ground contact is Newton's particle-plane penalty: each node a sphere of radius
:data:`RADIUS_FRACTION` of the shortest tet edge, the plane lowered by that radius so that the
nodes themselves, the body's surface, rest on z = 0; the penalty stiffness is
:data:`CONTACT_STIFFNESS_FACTOR` times ``E`` times the mean edge length (an element's own
stiffness scale), so contact deflection stays far below the elastic strain.

The visual vertices are embedded in the tet mesh (:func:`.tetmesh.embed`) and follow the nodes
linearly: the clip's ``vertices (T, V, 3)`` are the visual mesh's, what the exporters animate
(USD point time samples, glTF morph targets). The record (:class:`SoftClip`) also keeps the
nodes per frame, the tets, and per frame the smallest tet volume ratio and the largest principal
strain over the solver steps since the frame before (an impact lasts a few milliseconds, less
than a frame), which :mod:`.plausibility` checks (inverted tetrahedra, volume, recovery). This
module simulates; it does not judge the clip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from n4d4d.asset import Asset, MotionClip

#: Solver steps per second (VBD is implicit: stable at any step, accurate at this one for the
#: impact of a body a few centimetres across at E ~ 1e5 Pa, whose contact lasts ~10 ms).
STEPS_PER_SECOND = 300.0

#: VBD iterations per step (5 converge the coarse meshes this family makes to under a
#: tenth of a millimetre of sag; each iteration costs a full sweep over the colours).
ITERATIONS = 5

#: Newton's viscous damping coefficient ``k_damp`` (stiffness proportional, s): settles
#: the elastic ringing of a 10 cm body (first mode ~35 Hz at 1e5 Pa) within a fraction of a second.
DAMPING = 1.0e-2

#: Node contact radius over the shortest tet edge.
RADIUS_FRACTION = 0.1

#: Contact penalty stiffness (N/m) over ``E * mean edge length`` (an element's stiffness).
CONTACT_STIFFNESS_FACTOR = 100.0

#: When the push begins (share of the clip's ``seconds``), how long it lasts (s), and the speed
#: its impulse would give the body without friction (m/s).
PUSH_AT, PUSH_SECONDS, PUSH_SPEED_M_S = 0.45, 0.1, 1.0


@dataclass(frozen=True)
class SoftClip(MotionClip):
    """A ``soft`` clip: a :class:`~n4d4d.asset.MotionClip` (``vertices (T, V, 3)``: the visual
    mesh per frame; ``root_poses`` None: the body has no rigid root) with its elastic body.

    Attributes:
        tet_vertices: ``(T, N, 3) float64`` node positions per frame (m, world).
        rest_nodes: ``(N, 3) float64`` node positions at rest (m, asset frame).
        tets: ``(K, 4) int64`` positively oriented tetrahedra.
        min_volume_ratio: ``(T,) float64`` smallest tet volume over its rest volume in any
            solver step since the frame before (<= 0: an inverted element).
        max_strain: ``(T,) float64`` largest principal strain ``|stretch - 1|`` of any tet in any
            solver step since the frame before.
        material: ``youngs_modulus`` (Pa), ``poisson_ratio``, ``density`` (kg/m^3), ``mu`` and
            ``lambda`` (Pa), the solver's settings and the push (start s, duration s, direction).
    """

    tet_vertices: np.ndarray | None = None
    rest_nodes: np.ndarray | None = None
    tets: np.ndarray | None = None
    min_volume_ratio: np.ndarray | None = None
    max_strain: np.ndarray | None = None
    material: Mapping[str, object] = field(default_factory=dict)


def lame(youngs_modulus: float, poisson_ratio: float) -> tuple[float, float]:
    """Lamé parameters ``(mu, lambda)`` (Pa) of an isotropic material from ``E`` (Pa) and ``nu``
    in (0, 0.5). Raises ValueError outside those ranges."""
    E, nu = float(youngs_modulus), float(poisson_ratio)
    if not (E > 0 and 0 < nu < 0.5):
        raise ValueError(f"Young's modulus must be > 0 and Poisson ratio in (0, 0.5), got {E}, {nu}")
    return E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))


def nodes_at_rest(tail: np.ndarray, times: np.ndarray, window_s: float, speed_m_s: float) -> bool:
    """True when the points ``tail (k, N, 3)``, the frames of a clip's last ``window_s`` (at
    least that long by ``times``, the whole clip's sample times), each stay within ``speed_m_s *
    window_s`` of where they end: the ``drop`` family's rest rule (:func:`.drop.at_rest`) on
    every node instead of a root."""
    times = np.asarray(times)
    if len(tail) < 2 or len(times) < 2 or times[-1] - times[0] < window_s:
        return False
    return bool(np.linalg.norm(tail - tail[-1], axis=-1).max() < speed_m_s * window_s)


def rest_shape_error(points: np.ndarray, rest: np.ndarray) -> float:
    """RMS distance (m) of ``points (N, 3)`` from ``rest (N, 3)`` after the rigid motion that fits
    them best (Kabsch 1976, least squares, no scaling): how far a body is from its rest shape."""
    A = np.asarray(points, np.float64) - np.mean(points, axis=0)
    B = np.asarray(rest, np.float64) - np.mean(rest, axis=0)
    U, _, Vt = np.linalg.svd(B.T @ A)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    return float(np.sqrt(((B @ (U @ D @ Vt) - A) ** 2).sum(axis=1).mean()))


def soft_clip(asset: Asset, *, youngs_modulus: float = 1.0e5, poisson_ratio: float = 0.3, seed: int = 0,
              fps: float = 30.0, seconds: float = 2.0, height_m: float | None = None,
              edge_m: float | None = None, name: str = "soft") -> SoftClip:
    """Drop and push ``asset`` as an elastic body (module docstring).

    Args:
        asset: with a watertight visual mesh (the static stage's); ``material.density``
            (kg/m^3) and ``material.dynamic_friction`` are used.
        youngs_modulus: E (Pa). poisson_ratio: nu in (0, 0.5).
        seed: seeds the drop's yaw and the push direction.
        fps: frames per second. seconds: least clip length (s); the push starts at
            :data:`PUSH_AT` of it.
        height_m: clearance of the lowest node at release (m); default the certificate's drop
            height. edge_m: target tet edge (m), default :func:`.tetmesh.tetrahedralize`'s.

    Returns:
        A :class:`SoftClip` of family ``"soft"``.

    Raises:
        StageInputError: no visual mesh, or one that is not closed (:func:`.tetmesh.tetrahedralize`).
        ValueError: E or nu out of range.
    """
    from scipy.spatial.transform import Rotation

    from n4d4d.errors import StageInputError
    from n4d4d.physics_validation.thresholds import StabilityThresholds
    from n4d4d.physics_validation.thresholds_motion import MotionThresholds

    from .tetmesh import edge_matrices, embed, principal_stretches, tet_volumes, tetrahedralize

    if asset.visual is None:
        raise StageInputError(f"asset '{asset.name}': the soft family needs the visual mesh (static stage)")
    mu, lam = lame(youngs_modulus, poisson_ratio)
    st, mt = StabilityThresholds(), MotionThresholds()
    tm = tetrahedralize(asset.visual.vertices, asset.visual.faces, edge_m=edge_m, seed=seed, name=asset.name)
    rest, tets = tm.nodes, tm.tets
    idx, w = embed(asset.visual.vertices, rest, tets)
    rest_vol = tet_volumes(rest, tets)
    rest_inv = np.linalg.inv(edge_matrices(rest, tets))
    edges = np.linalg.norm(rest[tets[:, [0, 0, 0, 1, 1, 2]]] - rest[tets[:, [1, 2, 3, 2, 3, 3]]], axis=-1)
    radius = RADIUS_FRACTION * float(edges.min())

    rng = np.random.default_rng(seed)
    R = Rotation.from_euler("z", rng.uniform(0.0, 2.0 * np.pi)).as_matrix()
    centroid = rest.mean(axis=0)
    start = (rest - [centroid[0], centroid[1], 0.0]) @ R.T
    start[:, 2] += (st.drop_height_m if height_m is None else height_m) - start[:, 2].min()
    yaw = rng.uniform(0.0, 2.0 * np.pi)
    push_dir = np.array([np.cos(yaw), np.sin(yaw), 0.0])

    import warp as wp

    from n4d4d.budget import install_compile_meter

    wp.config.log_level = max(wp.config.log_level, wp.LOG_WARNING)  # as the certificate's Newton checks
    install_compile_meter()  # compiling Newton's kernels is charged to no budget
    import newton
    density = float(asset.material.density)
    b = newton.ModelBuilder()
    mu_friction = float(asset.material.dynamic_friction)
    # Newton mixes a particle-shape contact's friction as sqrt(mu_soft mu_shape): both the same
    b.add_ground_plane(height=-radius, cfg=newton.ModelBuilder.ShapeConfig(mu=mu_friction))
    b.add_soft_mesh(pos=wp.vec3(0.0, 0.0, 0.0), rot=wp.quat_identity(), scale=1.0, vel=wp.vec3(0.0, 0.0, 0.0),
                    vertices=[wp.vec3(*p) for p in start], indices=tets.ravel().tolist(), density=density,
                    k_mu=mu, k_lambda=lam, k_damp=DAMPING, particle_radius=radius)
    b.color()
    model = b.finalize()
    model.soft_contact_ke = CONTACT_STIFFNESS_FACTOR * float(youngs_modulus) * float(edges.mean())
    model.soft_contact_kd = 0.0
    model.soft_contact_mu = mu_friction
    solver = newton.solvers.SolverVBD(model=model, iterations=ITERATIONS, particle_enable_self_contact=False,
                                      particle_enable_tile_solve=False)
    s0, s1, control = model.state(), model.state(), model.control()
    pipeline = newton.CollisionPipeline(model)
    contacts = pipeline.contacts()

    node_mass = np.zeros(len(rest))  # a quarter of each tet's mass on each of its nodes
    np.add.at(node_mass, tets.ravel(), np.repeat(density * rest_vol / 4.0, 4))
    push_t0, force_wp = PUSH_AT * seconds, None

    sub = max(1, int(np.ceil(STEPS_PER_SECOND / fps)))
    dt = 1.0 / (fps * sub)
    horizon = seconds + st.duration_s
    window = max(2, int(round(mt.rest_window_s * fps)) + 1)
    frames, vmin, smax = [start.copy()], [1.0], [0.0]
    t, step = 0.0, 0
    while True:
        lo, hi = 1.0, 0.0
        for _ in range(sub):
            s0.clear_forces()
            if push_t0 <= t < push_t0 + PUSH_SECONDS:
                if force_wp is None:  # m_i a on every node
                    force = np.outer(node_mass, push_dir * (PUSH_SPEED_M_S / PUSH_SECONDS))
                    force_wp = wp.array(force.astype(np.float32), dtype=wp.vec3, device=model.device)
                wp.copy(s0.particle_f, force_wp)
            pipeline.collide(s0, contacts)
            solver.step(s0, s1, control, contacts, dt)
            s0, s1 = s1, s0
            step += 1
            t = step * dt
            x = s0.particle_q.numpy().astype(np.float64)
            lo = min(lo, float((tet_volumes(x, tets) / rest_vol).min()))
            hi = max(hi, float(np.abs(principal_stretches(rest_inv, x, tets) - 1.0).max()))
        if not np.isfinite(x).all():
            raise StageInputError(f"asset '{asset.name}': the elastic simulation diverged at t = {t:.3f} s")
        frames.append(x)
        vmin.append(lo)
        smax.append(hi)
        n = len(frames)
        if (n - 1) / fps >= seconds and t >= push_t0 + PUSH_SECONDS + mt.rest_window_s and \
                (nodes_at_rest(np.array(frames[-window:]), np.arange(n) / fps, mt.rest_window_s,
                               mt.rest_linear_speed_m_s) or t >= horizon):
            break
    X = np.array(frames)
    verts = np.einsum("pk,tpkj->tpj", w, X[:, idx])
    times = np.arange(len(X)) / fps
    material = {"youngs_modulus": float(youngs_modulus), "poisson_ratio": float(poisson_ratio), "density": density,
                "mu": mu, "lambda": lam, "solver": "newton.solvers.SolverVBD", "iterations": ITERATIONS,
                "steps_per_second": fps * sub, "k_damp": DAMPING, "contact_ke": model.soft_contact_ke,
                "node_radius_m": radius, "nodes": int(len(rest)), "tets": int(len(tets)),
                "push_start_s": push_t0, "push_seconds": PUSH_SECONDS, "push_speed_m_s": PUSH_SPEED_M_S,
                "push_direction": push_dir.tolist(), "seed": int(seed)}
    return SoftClip(name, times, vertices=verts, family="soft", tet_vertices=X, rest_nodes=rest, tets=tets,
                    min_volume_ratio=np.array(vmin), max_strain=np.array(smax), material=material)
