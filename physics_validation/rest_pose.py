"""The nearest stable resting orientation of a mesh, for assets authored in an unstable pose.

Some inputs are modelled in an orientation they cannot rest in (a few of pybullet_data's
random_urdfs tip over when placed as authored): the certificate's rest check then fails them
("unstable rest pose"). :func:`stable_orientation` finds the rotation that brings such a mesh
onto the face it would fall onto: the mesh's convex hull (all that touches a flat ground),
with the mesh's own mass properties, is placed as authored in PyBullet, given the rest check's
seeded tilt, and let settle; the settled "up" direction, expressed in the mesh frame, is turned
back onto +Z by the smallest rotation (no turn about the vertical: the asset keeps its heading).

The work is bounded whatever the mesh's size (issue 17: a 1.3 M-face STL spent 209 s here):
the hull is built from at most ~2.3k points (:func:`probe_points`: extreme points along 256
directions plus an even subsample of the hull's vertices), the simulation has a time budget past which the authored
pose is kept, and :func:`estimate_memory_bytes` gives the stage's peak before it starts.

:func:`rest_pose_stage` is the stage that applies the rotation (to the loaded mesh, and for an
articulated input its parts, joints and colliders, before remeshing, so that every later stage
sees the stable pose); whether it runs is the pipeline's decision (``--rest-pose``).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from n4d4d.asset import Asset, Mesh, Part, StageRecord

from .thresholds import StabilityThresholds


def minimal_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(3, 3)`` smallest rotation taking unit vector ``a`` onto unit vector ``b``."""
    a = np.asarray(a, dtype=np.float64) / np.linalg.norm(a)
    b = np.asarray(b, dtype=np.float64) / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    if c < -1.0 + 1e-12:  # opposite: half turn about any axis normal to a
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


#: A mesh with more vertices than this is represented, for its hull, by its extreme points
#: along :data:`PROBE_DIRECTIONS` directions plus an even subsample of this many vertices.
PROBE_MAX_VERTICES = 20_000
#: At most this many hull vertices (plus the extreme points) reach the probe hull's builder.
#: trimesh's and Qhull's default hull of many cocircular points is slow (a 25k-section cone:
#: 10-16 s per hull of its 12.5k rim points, against 0.5 s for 3k); a joggled Qhull ("QJ",
#: 0.06 s) picks the hull vertices first.
PROBE_HULL_POINTS = 2_000
#: Directions (a Fibonacci sphere) whose extreme vertices are kept: they are vertices of the
#: mesh's hull, so a spike the hull rests on is not lost to subsampling. As many as the probe
#: hull keeps vertices (255): finer directions would be decimated away again.
PROBE_DIRECTIONS = 256
#: Vertices whose extreme points are searched at once (bounds the (directions, chunk) array:
#: 256 x 16384 float32 = 16 MB).
_CHUNK = 16384


#: Peak bytes per input face of the rest-pose stage (the stage's closedness and volume checks,
#: mass properties, the probe's points and hull): 596 B per face traced by tracemalloc on a
#: 1.3 M-face icosphere, rounded up.
BYTES_PER_FACE = 800


def estimate_memory_bytes(n_faces: int) -> int:
    """Peak memory (bytes) the rest-pose stage needs for a mesh of ``n_faces``, known before
    it starts (the probe itself is bounded: :func:`probe_points`)."""
    return int(n_faces * BYTES_PER_FACE) + 64 * 2**20


def probe_hull(mesh: Mesh) -> Mesh:
    """Convex hull of ``mesh`` from :func:`probe_points` (bounded work, whatever its size): the
    body a flat ground touches, for a mesh that is not closed.

    Raises:
        EmptyMeshError: the points are flat (no hull).
    """
    from n4d4d.errors import EmptyMeshError

    from .hulls import hull_of

    h = hull_of(probe_points(_used_vertices(mesh)))
    if h is None:
        raise EmptyMeshError("the mesh's convex hull is flat: it has no resting face")
    return Mesh.from_trimesh(h)


def _used_vertices(mesh: Mesh) -> np.ndarray:
    """The vertices some face uses (a stray vertex is no part of the body)."""
    f = np.asarray(mesh.faces).reshape(-1)
    return np.asarray(mesh.vertices)[np.flatnonzero(np.bincount(f, minlength=len(mesh.vertices)))]


def fibonacci_directions(n: int) -> np.ndarray:
    """``(n, 3) float64`` unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(np.maximum(0.0, 1.0 - z * z))
    phi = i * np.pi * (3.0 - np.sqrt(5.0))
    return np.c_[r * np.cos(phi), r * np.sin(phi), z]


def _extremes(v: np.ndarray, directions: int) -> np.ndarray:
    """Index of the vertex farthest along each of ``directions`` directions, O(V) memory-bounded."""
    dirs = fibonacci_directions(directions).astype(np.float32)
    c = v.mean(axis=0)
    best = np.full(directions, -np.inf, dtype=np.float32)
    arg = np.zeros(directions, dtype=np.int64)
    rows = np.arange(directions)
    for lo in range(0, len(v), _CHUNK):
        proj = dirs @ (v[lo:lo + _CHUNK] - c).astype(np.float32).T  # (directions, chunk), rows contiguous
        k = proj.argmax(axis=1)
        val = proj[rows, k]
        better = val > best
        best[better], arg[better] = val[better], k[better] + lo
    return arg


def _even(idx: np.ndarray, n: int) -> np.ndarray:
    return idx[::-(-len(idx) // n)] if len(idx) > n else idx


def probe_points(vertices: np.ndarray, max_vertices: int = PROBE_MAX_VERTICES,
                 directions: int = PROBE_DIRECTIONS, hull_points: int = PROBE_HULL_POINTS) -> np.ndarray:
    """At most ``hull_points + directions`` points whose convex hull stands in for the hull of
    ``vertices (V, 3)`` (m), in their original order: all of them when there are at most
    ``hull_points``; else the extreme vertex along each of ``directions`` directions (exact hull
    vertices) with an even subsample of ``max_vertices``, cut to the vertices of their joggled
    hull and, if still more than ``hull_points``, to the extremes and an even subsample of the
    rest. Work and memory are O(V) with a fixed chunk, whatever V."""
    from scipy.spatial import ConvexHull, QhullError

    v = np.asarray(vertices, dtype=np.float64)
    if len(v) <= hull_points:
        return v
    ext = _extremes(v, directions)
    idx = np.unique(np.r_[ext, _even(np.arange(len(v)), max_vertices)])
    try:
        on_hull = idx[np.sort(ConvexHull(v[idx], qhull_options="QJ").vertices)]
    except (QhullError, ValueError):  # flat: the caller's hull builder says so
        on_hull = idx
    keep = np.unique(np.r_[ext, _even(np.setdiff1d(on_hull, ext), hull_points)])
    return v[keep]


def stable_orientation(mesh: Mesh, *, seed: int = 0, min_angle_rad: float = 0.1,
                       thresholds: StabilityThresholds | None = None,
                       time_budget_s: float = 60.0,
                       memory_budget_bytes: int | None = None) -> tuple[np.ndarray, dict]:
    """Rotation ``R`` (3, 3) such that ``R @ x`` puts ``mesh`` (asset frame, Z up) in the stable
    resting orientation nearest to its authored one.

    The work is bounded whatever the mesh's size: the probe body is the convex hull of at most
    ~2.3k points (:func:`probe_points`) reduced to 255 vertices, with the mesh's own mass
    properties (one O(F) pass); the simulation is one fixed-length PyBullet run of that hull.
    A 1.3 M-face icosphere takes ~7 s here (108 s when the hull was built from every vertex).

    Args:
        mesh: closed surface (m). seed: seeds the tilt that starts the fall.
        min_angle_rad: settled tilts below this return the identity (the authored pose rests).
        thresholds: simulation step, tilt and duration (default :class:`StabilityThresholds`).
        time_budget_s: wall seconds for the whole search; past it the authored pose is kept
            (identity) and ``figures["budget_exceeded"]`` says so, instead of failing the build.
        memory_budget_bytes: refuse, before any work, a mesh whose
            :func:`estimate_memory_bytes` exceeds this (None: no limit).

    Returns:
        ``(R, figures)``: figures ``angle_rad`` (of R), ``settled_tilt_rad`` (what the
        simulation found), ``com_drop_m``, ``seconds``, ``probe_points``, ``budget_exceeded``.

    Raises:
        EmptyMeshError: the mesh encloses no volume, or its hull is flat.
        MemoryBudgetError: the estimate exceeds ``memory_budget_bytes``.
    """
    from scipy.spatial.transform import Rotation

    from n4d4d.errors import EmptyMeshError, MemoryBudgetError, TimeBudgetError

    from .hulls import hull_of, reduce_hull
    from .mass import mass_properties
    from .pybullet_check import rest_pose, simulate
    from .rigid_model import rigid_model

    need = estimate_memory_bytes(len(mesh.faces))
    if memory_budget_bytes is not None and need > memory_budget_bytes:
        raise MemoryBudgetError(f"the rest-pose search needs about {need / 2**30:.2f} GiB for {len(mesh.faces)} faces, "
                                f"over the budget of {memory_budget_bytes / 2**30:.2f} GiB")
    th = thresholds or StabilityThresholds()
    t0 = time.perf_counter()
    deadline = t0 + float(time_budget_s)
    mp = mass_properties(mesh, density=1000.0)
    pts = probe_points(_used_vertices(mesh))
    full_hull = hull_of(pts)
    hull = None if full_hull is None else reduce_hull(full_hull.vertices, 255)
    if hull is None:
        raise EmptyMeshError("the mesh's convex hull is flat: it has no resting face")
    body = mesh if len(mesh.vertices) <= PROBE_MAX_VERTICES else hull  # a big mesh is not carried along
    probe = Asset(name="rest_pose_probe", visual=body, parts=(Part("base", body),),
                  collision={"base": (hull,)}, mass={"base": mp})
    model = rigid_model(probe)
    R0, t = rest_pose(model, th, seed)
    base = {"probe_points": int(len(pts)), "budget_exceeded": False}
    try:
        traj, _ = simulate(model, probe, R0, t, th, deadline=deadline, name="rest_pose_probe")
    except TimeBudgetError:
        return np.eye(3), {**base, "angle_rad": 0.0, "settled_tilt_rad": None, "com_drop_m": None,
                           "seconds": time.perf_counter() - t0, "budget_exceeded": True}
    w, x, y, z = traj.quats[-1][0]
    final = Rotation.from_quat([x, y, z, w]).as_matrix()
    up_in_mesh = final.T @ np.array([0.0, 0.0, 1.0])  # world up, in the mesh frame
    R = minimal_rotation(up_in_mesh, [0.0, 0.0, 1.0])
    angle = float(np.arccos(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)))
    figures = {**base, "settled_tilt_rad": angle,
               "com_drop_m": float(traj.placed_positions[0, 2] - traj.positions[-1, 0, 2]),
               "seconds": time.perf_counter() - t0}
    if angle < min_angle_rad:
        return np.eye(3), {**figures, "angle_rad": 0.0}
    return R, {**figures, "angle_rad": angle}


#: Largest angle (rad) between a stable orientation and the quarter-turn rotation it is snapped to
#: for an articulated input (:func:`rest_pose_stage`): 5 degrees.
QUARTER_TURN_TOLERANCE_RAD = float(np.radians(5.0))


def quarter_turn(R: np.ndarray, tolerance_rad: float = QUARTER_TURN_TOLERANCE_RAD) -> np.ndarray | None:
    """The rotation among the 24 that map the coordinate axes onto themselves (signed
    permutation matrices of determinant 1) nearest ``R`` ``(3, 3)``, if within ``tolerance_rad``
    (geodesic angle ``arccos((tr(P^T R) - 1) / 2)``); else None."""
    import itertools

    best, best_angle = None, np.inf
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            P = np.zeros((3, 3))
            P[range(3), perm] = signs
            if np.linalg.det(P) < 0:
                continue
            angle = float(np.arccos(np.clip((np.trace(P.T @ R) - 1.0) / 2.0, -1.0, 1.0)))
            if angle < best_angle:
                best, best_angle = P, angle
    return best if best_angle <= tolerance_rad else None


def rest_pose_stage(asset: Asset, *, seed: int = 0, min_angle_rad: float = 0.1, time_budget_s: float = 60.0,
                    memory_budget_bytes: int | None = None) -> Asset:
    """Turn the loaded mesh onto the stable resting face nearest its authored orientation.

    Runs before the static stage (so the volume, parts and hulls are all built in the stable
    pose). About 45% of pybullet_data's random_urdfs 000-070 are authored in a pose they topple
    from (the certificate's rest check fails them, in both engines); this stage finds where they
    come to rest (:func:`.rest_pose.stable_orientation`, on the mesh if it is closed, else on its
    convex hull, which is all a flat ground touches) and rotates the mesh there with the
    smallest rotation (heading kept), then sets it back on z = 0, centred over the origin in x, y.

    Args:
        asset: with ``source_mesh`` (asset frame, metres, Z up).
        seed: seeds the tilt that starts the fall.
        min_angle_rad: smaller turns are left undone (the authored pose already rests).
        time_budget_s: simulation seconds of the search; past it the authored pose is kept and
            the record says ``budget_exceeded`` (a note too).
        memory_budget_bytes: refuse, before any work, a mesh whose search would need more
            (:func:`.rest_pose.estimate_memory_bytes`); None: no limit.

    An articulated input (parts and joints, e.g. a PartNet-Mobility URDF) is judged as one rigid
    body in its authored joint coordinates and, when it topples, turned as one: its parts'
    meshes, joint origins and axes and the file's colliders with the same rigid transform
    (``x -> R x + t``), so every later stage builds it in the pose it rests in. It turns only by
    a quarter-turn rotation (:func:`quarter_turn`: the stable face within
    :data:`QUARTER_TURN_TOLERANCE_RAD` of one, snapped to it), so that the axis-aligned panels
    of CAD input stay aligned with the voxel grids its parts are closed on; a stable face off
    the authored axes keeps the authored pose, with a note (PartNet-Mobility camera 102417's
    face is 31 degrees off: turned, its parts closed on the slant missed their hull fidelity,
    link_0-2 volume ratios 1.7-2.9).

    A fixed-base asset (:attr:`~n4d4d.asset.Asset.fixed_base`: bolted to the world) keeps its
    authored pose: it cannot topple.

    Returns:
        The asset with ``source_mesh`` (and any parts, joints and colliders) turned (unchanged
        if stable), a "rest_pose" stage record (``angle_rad``, ``rotation``, ``translation_m``
        when turned, ``com_drop_m``, ``seconds``) and, when turned, a note.

    Raises:
        StageInputError: no source mesh. EmptyMeshError: no volume at all.
        MemoryBudgetError: the search would exceed ``memory_budget_bytes``.
    """
    import numpy as np
    import trimesh

    asset.require("rest_pose", "source_mesh")
    t0 = time.perf_counter()
    if asset.fixed_base:  # bolted to the world: it cannot topple, and its mount fixes its pose
        return asset.with_stage(StageRecord("rest_pose", time.perf_counter() - t0,
                                            {"angle_rad": 0.0, "kept_because": "fixed base"}))
    src = asset.source_mesh
    need = estimate_memory_bytes(len(src.faces))
    if memory_budget_bytes is not None and need > memory_budget_bytes:
        from n4d4d.errors import MemoryBudgetError

        raise MemoryBudgetError(f"the rest-pose search of {len(src.faces)} faces would need about "
                                f"{need / 2**30:.1f} GiB, over the {memory_budget_bytes / 2**30:.1f} GiB budget",
                                asset.provenance.source if asset.provenance else asset.name)
    tm = trimesh.Trimesh(np.asarray(src.vertices), np.asarray(src.faces), process=False)
    probe = src if (tm.is_watertight and tm.is_winding_consistent and tm.volume > 0) else probe_hull(src)
    R, fig = stable_orientation(probe, seed=seed, min_angle_rad=min_angle_rad, time_budget_s=time_budget_s,
                                memory_budget_bytes=memory_budget_bytes)
    figures = {**fig, "rotation": R.tolist(), "probe": "mesh" if probe is src else "convex hull"}
    if fig["angle_rad"] == 0.0:
        notes = asset.notes
        if fig.get("budget_exceeded"):
            notes += (f"rest-pose search stopped at its {time_budget_s:g} s budget: authored pose kept",)
        return asset.with_stage(StageRecord("rest_pose", time.perf_counter() - t0, figures), notes=notes)
    if asset.joints:  # articulated: quarter turns only, so the authored axes stay on the part grids
        P = quarter_turn(R)
        if P is None:
            figures["kept_because"] = ("its stable face lies off the authored axes (an articulated input turns "
                                       "by quarter turns only)")
            note = (f"authored pose kept: it topples, and its stable face is {np.degrees(fig['angle_rad']):.0f} "
                    "degrees off its authored axes (articulated inputs turn by quarter turns only)")
            return asset.with_stage(StageRecord("rest_pose", time.perf_counter() - t0, figures),
                                    notes=asset.notes + (note,))
        R = P
        figures["rotation"] = R.tolist()
    v = np.asarray(src.vertices) @ R.T
    lo, hi = v.min(axis=0), v.max(axis=0)
    t = -np.array([0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]), lo[2]])
    figures["translation_m"] = t.tolist()
    note = (f"turned {np.degrees(fig['angle_rad']):.0f} degrees onto its stable resting face "
            "(authored pose topples)")
    changes = {"source_mesh": src.transformed(R, t)}
    if asset.parts:  # an articulated input turns as one rigid body: parts, joints, the file's colliders
        changes.update(
            parts=tuple(dataclasses.replace(p, mesh=p.mesh.transformed(R, t)) for p in asset.parts),
            joints=tuple(dataclasses.replace(j, origin=R @ np.asarray(j.origin) + t, axis=R @ np.asarray(j.axis))
                         for j in asset.joints),
            collision={n: tuple(h.transformed(R, t) for h in hs) for n, hs in asset.collision.items()})
    return asset.with_stage(StageRecord("rest_pose", time.perf_counter() - t0, figures),
                            notes=asset.notes + (note,), **changes)
