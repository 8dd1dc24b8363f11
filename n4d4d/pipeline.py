"""The main job: a source -> a sim-ready :class:`~n4d4d.asset.Asset`, one declared stage table.

:data:`STAGES` is the pipeline: an ordered table of :class:`Stage` rows ``(name, function,
module)``, in the order of DESIGN.md's data flow. Its names are the ones that appear in
progress bars, in the stage records (``asset.stages``) and in ``report.json``:

====================  ===========================================  ==============================
name                  what                                         owner (module)
====================  ===========================================  ==============================
``load``              source -> scaled, grounded mesh; provenance  :mod:`n4d4d.io.stage`
``rest_pose``         turn a toppling input onto a stable face     :mod:`n4d4d.physics_validation`
``static``            watertight mesh + sparse SDF volume          :mod:`n4d4d.volume.stage`
``rigging``           parts, joints, skeleton, skin weights        :mod:`n4d4d.rigging`
``collision``         CoACD hulls per part                         :mod:`n4d4d.physics_validation`
``mass``              mass properties per part and joint drives    :mod:`n4d4d.physics_validation`
``animate``           motion clips                                 :mod:`n4d4d.deformation`
``physics``           the two-engine certificate (clips included)  :mod:`n4d4d.physics_validation`
====================  ===========================================  ==============================

Each function is ``(Asset, BuildOptions) -> Asset`` (``load`` takes the source instead); this
module only sequences them, times them and reports progress. It computes nothing itself.
Writing files is :meth:`Asset.save` (:mod:`n4d4d.output`). Nothing runs beside the stages: importing
Warp and Newton in a background thread while the collision stage waited on CoACD saved 0.9 s of
the duck's 8 s, and deadlocked once in ten builds (the import loading USD's native libraries while
the main thread was inside manifold3d), so the engines are imported by the physics stage itself;
batches import them once per pool instead (:mod:`n4d4d.scenarios.zygote`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from n4d4d.asset import Asset
from n4d4d.errors import InputError, N4d4dError
from n4d4d.options import BuildOptions
from n4d4d.sources import Generated, Source, SourceLike, as_source

ProgressCallback = Callable[[str, str], None]
StageFunction = Callable[[Asset, BuildOptions], Asset]


@dataclass(frozen=True)
class Stage:
    """One row of the stage table: ``name`` (as in stage records), ``run`` ((Asset,
    BuildOptions) -> Asset; for ``load``, (Source, BuildOptions) -> Asset) and ``module`` (the
    module that owns the stage)."""

    name: str
    run: Callable[[Any, BuildOptions], Asset]
    module: str


def _load(source: Source, opts: BuildOptions) -> Asset:
    from n4d4d.io.stage import load_stage

    return load_stage(source, opts)


def _rest_pose(asset: Asset, opts: BuildOptions) -> Asset:
    """Runs before ``static`` so the volume, parts and hulls are all built in the pose the
    asset rests in. An articulated input (URDF parts and joints) that topples in its authored
    pose is turned as one rigid body onto its stable resting face, like a mesh (PartNet-Mobility
    remote 100405 stood on its end and fell 395 mm; :func:`.physics_validation.rest_pose_stage`);
    ``--rest-pose keep``, or an input that declares its own inertials (a robot, whose authored
    pose and inertial frames go together), keeps the authored pose (the certificate then
    reports a toppling asset as failing)."""
    from n4d4d.asset import StageRecord
    from n4d4d.physics_validation import rest_pose_stage

    declared = asset.inertials is not None and bool(asset.inertials.parts)
    if opts.rest_pose == "keep" or declared:
        why = "--rest-pose keep" if opts.rest_pose == "keep" else "input declares its own inertials"
        return asset.with_stage(StageRecord("rest_pose", 0.0, {"rotated": False, "kept_because": why}))
    return rest_pose_stage(asset, seed=opts.seed, time_budget_s=opts.simulation_time_budget,
                           memory_budget_bytes=int(opts.memory_budget_gb * 2**30))


def _static(asset: Asset, opts: BuildOptions) -> Asset:
    """The static stage, then (``--topology quad``) the visual mesh made quad-dominant."""
    from n4d4d.volume.stage import static_stage
    from n4d4d.volume.topology import topology_stage

    return topology_stage(static_stage(asset, opts), opts.topology, max_faces=opts.max_faces, seed=opts.seed)


def _rigging(asset: Asset, opts: BuildOptions) -> Asset:
    """Rigging, the closed part solids made disjoint (``--part-clearance`` apart), then the asset
    set back on the ground by its closed parts."""
    from n4d4d import rigging
    from n4d4d.volume.disjoint import disjoint_parts
    from n4d4d.volume.ground import reground

    rigged = rigging.rig_stage(asset, mode=opts.rig, joints=opts.joints, seed=opts.seed,
                               time_budget_s=opts.rigging_time_budget, sheet_thickness=opts.solidify)
    return reground(disjoint_parts(rigged, opts.part_clearance))


def _collision(asset: Asset, opts: BuildOptions) -> Asset:
    """Collision hulls per part. Decompositions reused across congruent parts are scoped to this
    asset (``congruent.clear()`` first), so that a long-lived worker's outputs never depend on
    the assets it built before."""
    from n4d4d.physics_validation import collision_stage, congruent

    congruent.clear()
    return collision_stage(asset, max_hulls=opts.max_hulls, max_hull_vertices=opts.max_hull_vertices,
                           max_hulls_fallback=opts.max_hulls_fallback,
                           time_budget_s=opts.decomposition_time_budget, seed=opts.seed, collision=opts.collision)


def _mass(asset: Asset, opts: BuildOptions) -> Asset:
    from n4d4d.physics_validation import mass_stage

    return mass_stage(asset, density=None if opts.mass else asset.material.density, mass=opts.mass,
                      shell_thickness=opts.shell_thickness)


def _animate(asset: Asset, opts: BuildOptions) -> Asset:
    from n4d4d.deformation import animate_stage

    return animate_stage(asset, opts)


def _physics(asset: Asset, opts: BuildOptions) -> Asset:
    """The certificate checks the USD that ships: the exporter writes ``asset.usda`` into a
    staging folder, Newton checks that file, and the report records its SHA-256
    (``physics.usd_sha256``). :meth:`Asset.save` writes the same bytes again: the USD
    writer reads nothing the physics stage adds (a test compares the hashes)."""
    import tempfile
    from pathlib import Path

    from n4d4d.exporters import FILE_NAMES, export
    from n4d4d.physics_validation import stability_stage

    with tempfile.TemporaryDirectory(prefix=f"n4d4d-{asset.name}-") as staging:
        usd = export(asset, Path(staging), ("usda",))["usda"]
        assert usd.name == FILE_NAMES["usda"]
        return stability_stage(asset, seed=opts.seed, time_budget_s=opts.simulation_time_budget, usd_path=usd)


#: The pipeline, in order (see the module docstring's table).
STAGES: tuple[Stage, ...] = (
    Stage("load", _load, "n4d4d.io.stage"),
    Stage("rest_pose", _rest_pose, "n4d4d.physics_validation"),
    Stage("static", _static, "n4d4d.volume.stage"),
    Stage("rigging", _rigging, "n4d4d.rigging"),
    Stage("collision", _collision, "n4d4d.physics_validation"),
    Stage("mass", _mass, "n4d4d.physics_validation"),
    Stage("animate", _animate, "n4d4d.deformation"),
    Stage("physics", _physics, "n4d4d.physics_validation"),
)

#: Stage names in order: progress bars, stage records and the report use these.
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)


def resolve_options(options: BuildOptions | None = None, **overrides: Any) -> BuildOptions:
    """The :class:`BuildOptions` of a build from ``options=`` or keywords, never both.

    Raises:
        InputError: ``options`` given together with keywords (which would be ignored
            otherwise), naming them.
        pydantic.ValidationError: bad option values (an unknown export format included).
    """
    if options is not None:
        if overrides:
            raise InputError(f"give options either as options=BuildOptions(...) or as keywords, not both "
                             f"(got options= and {', '.join(sorted(overrides))})")
        if not isinstance(options, BuildOptions):
            options = BuildOptions(**dict(options))
        return options
    return BuildOptions(**overrides)


def run_stage(stage: Stage, value: Any, opts: BuildOptions, progress: ProgressCallback | None = None,
              source: str | None = None) -> Asset:
    """Run one stage; an n4d4d error that does not name its file gets ``source`` and the stage."""
    if progress:
        progress(stage.name, "start")
    try:
        out = stage.run(value, opts)
    except N4d4dError as exc:
        if exc.path is None and source is not None:
            raise type(exc)(f"{stage.name} stage: {exc.problem}", source) from exc
        raise
    if progress:
        progress(stage.name, "done")
    return out


def build(source: SourceLike | None = None, *, sample: str | None = None,
          options: BuildOptions | None = None, progress: ProgressCallback | None = None,
          **kwargs: Any) -> Asset:
    """Build a physics-checked, simulator-ready asset from a source.

    Args:
        source: a mesh file (OBJ, GLB/glTF, STL, PLY, OFF) or URDF path (str or Path), or an
            :class:`n4d4d.sources.Source` (``MeshFile``, ``UrdfFile``, ``Sample``,
            ``Generated``). Exactly one of ``source``/``sample``.
        sample: a pybullet_data sample name (``duck``, ``teddy``, ``bunny``, ``mug``,
            ``random_urdfs/NNN``), built at the size its URDF gives.
        options: a :class:`~n4d4d.options.BuildOptions`; or give its fields as keywords
            (``height``, ``resolution``, ``seed``, ``formats``, ...), not both. For a
            ``Generated`` source whose options do not set ``seed``, the later stages' seed is
            the sampling seed, so ``Generated(category, seed=k)`` gives the same asset here and
            in ``n4d4d build --generate category --seed k``.
        progress: called as ``progress(stage, "start" | "done")`` around each stage, with the
            names of :data:`STAGE_NAMES`.

    Returns:
        The Asset with visual mesh, volume, parts, joints, collision hulls, mass properties,
        drives, motion clips, physics report (``asset.passed``), provenance and one stage
        record per stage. ``asset.save(out_dir)`` writes the formats the options name.

    Raises:
        InputError (and subclasses): missing file, unknown format, empty, zero-volume or
            non-finite mesh, ``options=`` with conflicting keywords, a ``Generated`` source
            while the generator cannot sample. MemoryBudgetError: the volume would exceed the
            memory budget. TimeBudgetError: CoACD or the simulation ran past its budget.
            pydantic.ValidationError: bad option values, an unknown export format included
            (before any stage runs).
    """
    opts = resolve_options(options, **kwargs)
    src = as_source(source, sample=sample)
    if isinstance(src, Generated) and "seed" not in opts.model_fields_set:
        # one number reproduces a generated asset: its later stages are seeded by its sampling seed
        opts = opts.model_copy(update={"seed": int(src.seed)})
    asset = run_stage(STAGES[0], src, opts, progress, src.label)
    for stage in STAGES[1:]:
        asset = run_stage(stage, asset, opts, progress, asset.provenance.source)
    return asset
