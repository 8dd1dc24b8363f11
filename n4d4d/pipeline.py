"""The main job: mesh file -> sim-ready :class:`~n4d4d.asset.Asset`, stage by stage.

``build`` runs, in order: load (trimesh, Z up, real-world scale) -> pose (nearest stable
resting pose when the authored one topples) -> static (watertight remesh through the sparse
SDF volume, :mod:`n4d4d.volume`) -> rig (parts, joints, skeleton:
:mod:`n4d4d.rigging`) -> collision (CoACD hulls per part) -> mass (per part) -> physics
(stability checks, :mod:`n4d4d.physics_validation`). Each stage is a function
``Asset -> Asset``; this module only sequences them, times them and reports progress.
Writing files is :meth:`Asset.save` (:mod:`n4d4d.output`).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from n4d4d.asset import Asset, Material, Mesh, Provenance, StageRecord
from n4d4d.errors import EmptyMeshError, InputError, N4d4dError
from n4d4d.options import DEFAULT_LONGEST_SIDE, BuildOptions

#: Stage names in order, for progress bars.
STAGES = ("load", "pose", "static", "rig", "collision", "mass", "physics")

#: Packages whose versions shape a build's result (written into provenance).
DEPENDENCIES = ("numpy", "scipy", "trimesh", "scikit-image", "fast-simplification", "warp-lang",
                "libigl", "coacd", "pybullet", "newton", "usd-core", "mujoco")

ProgressCallback = Callable[[str, str], None]


def dependency_versions() -> dict[str, str]:
    """n4d4d's version and those of :data:`DEPENDENCIES` (``"absent"`` if not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    from n4d4d import __version__

    out = {"n4d4d": __version__}
    for name in DEPENDENCIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def _safe_name(text: str) -> str:
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in text).strip("_") or "asset"
    return ("_" + name) if name[0].isdigit() else name


def _ground(vertices: np.ndarray) -> np.ndarray:
    """Offset putting the lowest point at z = 0 and the bounding box centred on x = y = 0."""
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    return -np.array([0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]), lo[2]])


def scale_to_size(mesh: Mesh, opts: BuildOptions, file_scale: tuple[float, str] | None = None,
                  path: str | Path | None = None) -> tuple[Mesh, float, str]:
    """Scale ``mesh`` to real-world size and drop it so its lowest point is at z = 0.

    Returns the scaled mesh, the factor applied (m per file unit), and a sentence for the
    report saying how the size was chosen. ``file_scale`` (m per unit and where it comes from,
    e.g. a sample's URDF scale) is used when the options give no size. Raises EmptyMeshError for a mesh with no
    extent (all vertices at one point).
    """
    extents = np.ptp(mesh.vertices, axis=0)
    if extents.max() <= 0:
        raise EmptyMeshError("the mesh has zero extent (all vertices coincide)", path)
    if opts.height is not None:
        if extents[2] <= 0:
            raise EmptyMeshError("the mesh is flat in Z, so --height cannot scale it", path)
        factor, how = opts.height / extents[2], f"scaled to the requested height {opts.height} m"
    elif opts.longest_side is not None:
        factor, how = opts.longest_side / extents.max(), f"scaled to the requested longest side {opts.longest_side} m"
    elif opts.unit is not None:
        from n4d4d.conventions import UNIT_SCALE

        factor, how = UNIT_SCALE[opts.unit], f"file units read as {opts.unit}"
    elif file_scale is not None:
        factor, how = file_scale[0], f"sample scale {file_scale[0]} m per file unit (from {file_scale[1]})"
    else:
        factor = DEFAULT_LONGEST_SIDE / extents.max()
        how = (f"no size given: scaled to the default longest side {DEFAULT_LONGEST_SIDE} m "
               "(give --height, --longest-side or --unit for real size)")
    v = mesh.vertices * factor
    v = v + _ground(v)
    return mesh.replace(vertices=v, normals=None), float(factor), how


def _timed(stage: str, fn: Callable[[], Any], progress: ProgressCallback | None, source: str | None = None):
    """Run one stage; an n4d4d error that does not name its file gets ``source`` and the stage."""
    if progress:
        progress(stage, "start")
    t0 = time.perf_counter()
    try:
        out = fn()
    except N4d4dError as exc:
        if exc.path is None and source is not None:
            raise type(exc)(f"{stage} stage: {exc.problem}", source) from exc
        raise
    if progress:
        progress(stage, "done")
    return out, time.perf_counter() - t0


def load_stage(source: str | Path, opts: BuildOptions, *, sample: str | None = None) -> Asset:
    """Load and scale the input into a fresh Asset with ``source_mesh`` and provenance.

    Raises the typed errors of :func:`n4d4d.io.load.load_mesh` and :func:`scale_to_size`.
    """
    from n4d4d.io.load import load_mesh, sha256_file

    file_scale, up = None, opts.up
    if sample is not None:
        from n4d4d.io.samples import resolve_sample

        s = resolve_sample(sample)
        source, file_scale, up, sample = s.path, (s.scale, s.scale_source), opts.up or s.up, s.name
    path = Path(source)
    t0 = time.perf_counter()
    parts, joints = (), ()
    if path.suffix.lower() == ".urdf":
        from n4d4d.io.urdf import load_urdf_asset

        if any(getattr(opts, k) is not None for k in ("height", "longest_side", "unit")):
            raise InputError("size options do not apply to URDF input (URDF lengths are metres)", path)
        urdf = load_urdf_asset(path)
        offset = _ground(urdf.source_mesh.vertices)  # rest on z = 0 like every other input
        mesh = urdf.source_mesh.replace(vertices=urdf.source_mesh.vertices + offset)
        parts = tuple(dataclasses.replace(p, mesh=p.mesh.replace(vertices=p.mesh.vertices + offset))
                      for p in urdf.parts)
        joints = tuple(dataclasses.replace(j, origin=np.asarray(j.origin) + offset) for j in urdf.joints)
        factor, how = 1.0, "URDF lengths are metres (kept as authored), set on the ground"
        name = _safe_name(opts.name or urdf.name)
    else:
        mesh = load_mesh(path, up=up)
        mesh, factor, how = scale_to_size(mesh, opts, file_scale, path)
        name = _safe_name(opts.name or (sample.replace("/", "_") if sample else path.stem))
    provenance = Provenance(
        source=f"sample:{sample}" if sample else str(path),
        source_sha256=sha256_file(path), seed=opts.seed,
        options=opts.model_dump(mode="json"), versions=dependency_versions(),
    )
    figures = {"file": str(path), "vertices": len(mesh.vertices), "faces": len(mesh.faces),
               "submeshes": len(mesh.submesh_names), "scale_m_per_unit": factor, "size": how,
               "extents_m": np.ptp(mesh.vertices, axis=0).round(6).tolist()}
    material = Material(density=opts.density or Material().density, static_friction=opts.static_friction,
                        dynamic_friction=opts.dynamic_friction, restitution=opts.restitution)
    asset = Asset(name=name, source_mesh=mesh, parts=parts, joints=joints, material=material,
                  provenance=provenance, notes=(how,))
    return asset.with_stage(StageRecord("load", time.perf_counter() - t0, figures))


def static_stage(asset: Asset, opts: BuildOptions) -> Asset:
    """Watertight, manifold visual mesh and sparse SDF volume from the loaded mesh."""
    from n4d4d.volume import remesh_watertight

    asset.require("static", "source_mesh")
    t0 = time.perf_counter()
    visual, volume, figures = remesh_watertight(
        asset.source_mesh, resolution=opts.resolution, max_faces=opts.max_faces, mode=opts.remesh,
        memory_budget_bytes=int(opts.memory_budget_gb * 2**30), path=asset.provenance.source)
    if len(visual.faces) == 0:
        raise EmptyMeshError("the watertight remesh is empty", asset.provenance.source)
    return asset.with_stage(StageRecord("static", time.perf_counter() - t0, figures),
                            visual=visual, volume=volume)


def rest_pose_stage(asset: Asset, opts: BuildOptions) -> Asset:
    """Turn an input authored in a pose it topples from onto its nearest stable resting face.

    A simulator places an asset as authored; one that topples from there (a random blob, a
    figure leaning back) is not at rest where the scene puts it. With ``rest_pose="auto"``
    this runs :func:`n4d4d.physics_validation.rest_pose_stage` before the static stage, so the
    volume, parts and hulls are all built in the stable pose; the rotation is in the stage
    record and a note. ``"keep"``, or an input that declares parts and joints (URDF), keeps the
    authored pose (the physics checks then report a toppling asset as failing).
    """
    from n4d4d.physics_validation import rest_pose_stage as turn_to_rest

    if opts.rest_pose == "keep" or asset.parts:
        why = "--rest-pose keep" if opts.rest_pose == "keep" else "input declares parts and joints"
        return asset.with_stage(StageRecord("rest_pose", 0.0, {"rotated": False, "kept_because": why}))
    return turn_to_rest(asset, seed=opts.seed)


def rig_stage(asset: Asset, opts: BuildOptions) -> Asset:
    """Parts, joints, skeleton and skin weights (:func:`n4d4d.rigging.rig_stage`), then the asset
    set back on the ground by its parts (:func:`reground`)."""
    from n4d4d import rigging

    return reground(rigging.rig_stage(asset, mode=opts.rig, joints=opts.joints, seed=opts.seed))


#: Part meshes whose lowest point is within this of z = 0 (m) are left where they are.
GROUND_TOLERANCE_M = 1e-6


def reground(asset: Asset) -> Asset:
    """Move the asset along z so that its lowest part point is at z = 0.

    Loading sets the input mesh on the ground, but rigging closes open part surfaces by voxel
    re-extraction (:mod:`n4d4d.rigging.parts`), which gives a sheet about one voxel of thickness
    around where it was: PartNet-Mobility's cabinet 40147, whose bottom panel is an open sheet,
    comes out 15.9 mm below the ground, and would start every physics check sunk into it. Parts
    are what the collision hulls and the simulators see, so they decide where the ground is.

    Moves ``source_mesh``, ``visual``, ``volume``, ``parts`` and joint origins by the same
    offset and adds a note; an asset with a skeleton or motion clips (their frames are not moved
    here), or already on the ground, is returned unchanged.
    """
    if not asset.parts or asset.skeleton is not None or asset.motion_clips:
        return asset
    low = min(float(np.asarray(p.mesh.vertices)[:, 2].min()) for p in asset.parts)
    if abs(low) <= GROUND_TOLERANCE_M:
        return asset
    dz = np.array([0.0, 0.0, -low])

    def up(mesh):
        return None if mesh is None else mesh.replace(vertices=np.asarray(mesh.vertices) + dz)

    volume = asset.volume
    if volume is not None:
        volume = dataclasses.replace(volume, origin=np.asarray(volume.origin) + dz)
    return asset.replace(
        source_mesh=up(asset.source_mesh), visual=up(asset.visual), volume=volume,
        parts=tuple(dataclasses.replace(p, mesh=up(p.mesh)) for p in asset.parts),
        joints=tuple(dataclasses.replace(j, origin=np.asarray(j.origin) + dz) for j in asset.joints),
        notes=asset.notes + (f"moved {1e3 * -low:+.1f} mm along z: closed part meshes reach "
                             f"{'below' if low < 0 else 'above'} the ground the input stood on",))


def build(path: str | Path | None = None, *, sample: str | None = None,
          progress: ProgressCallback | None = None, **options: Any) -> Asset:
    """Build a physics-checked, simulator-ready asset from a mesh file or a named sample.

    Args:
        path: mesh file (OBJ, GLB/glTF, STL, PLY, OFF). Exactly one of ``path``/``sample``.
        sample: a pybullet_data sample name (``duck``, ``teddy``, ``bunny``, ``mug``,
            ``random_urdfs/NNN``), built at the size its URDF gives.
        progress: called as ``progress(stage, "start" | "done")`` around each stage.
        **options: the fields of :class:`~n4d4d.options.BuildOptions` (``height``,
            ``resolution``, ``max_faces``, ``density``, ``mass``, ``seed``, ...).

    Returns:
        The Asset with visual mesh, volume, parts, joints, collision hulls, mass properties,
        physics report (``asset.passed``), provenance and per-stage records. Save it with
        ``asset.save(out_dir)``.

    Raises:
        InputError (and subclasses): missing file, unknown format, empty, zero-volume or
            non-finite mesh. MemoryBudgetError: the volume would exceed the memory budget.
            TimeBudgetError: CoACD or the simulation ran past its budget.
            pydantic.ValidationError: bad options.
    """
    opts = options.pop("options", None) or BuildOptions(**options)
    if (path is None) == (sample is None):
        raise InputError("give exactly one of a path or a sample name")
    asset, t = _timed("load", lambda: load_stage(path, opts, sample=sample), progress)
    from n4d4d.physics_validation import collision_stage, mass_stage, stability_stage

    steps = [
        ("pose", lambda a: rest_pose_stage(a, opts)),
        ("static", lambda a: static_stage(a, opts)),
        ("rig", lambda a: rig_stage(a, opts)),
        ("collision", lambda a: collision_stage(
            a, max_hulls=opts.max_hulls, max_hull_vertices=opts.max_hull_vertices,
            time_budget_s=opts.decomposition_time_budget, seed=opts.seed)),
        ("mass", lambda a: mass_stage(a, density=None if opts.mass else asset.material.density, mass=opts.mass)),
        ("physics", lambda a: stability_stage(a, seed=opts.seed, time_budget_s=opts.simulation_time_budget)),
    ]
    for stage, fn in steps:
        asset, _ = _timed(stage, lambda: fn(asset), progress, asset.provenance.source)
    return asset
