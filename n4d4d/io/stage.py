"""The load stage: a :class:`~n4d4d.sources.Source` -> a fresh :class:`~n4d4d.asset.Asset`.

Dispatches on the source: a mesh file is read (:func:`n4d4d.io.load.load_mesh`), scaled to
real size and set on the ground (:mod:`n4d4d.io.scale`); a URDF keeps its links as parts and
its joints (:func:`n4d4d.io.urdf.load_urdf_asset`), lengths in metres, set on the ground; a
pybullet_data sample is a mesh file at its URDF's scale; a generated source raises until the
generator can sample. Provenance (source, SHA-256, seed, options, versions) is written here,
once. This module does not remesh or rig.

Up axis (``--up``, default ``auto``): glTF/GLB files are Y up by their specification and
samples carry their own; an OBJ, STL, PLY or OFF file says nothing, and most tools write OBJ
Y up, so :func:`choose_up` reads the file both ways and keeps the reading that stands:

- a reading *stands as authored* when its centre of mass (of the solid for a closed mesh, of
  the surface for an open one) lies over its *support polygon*, the convex hull in the ground
  plane of the vertices within :data:`SUPPORT_TOLERANCE` of the bounding-box diagonal of its
  lowest point (what a flat ground touches), and a nudge of :data:`MIN_TIP_DEG` would not
  tip it over (its tip-over angle, from the centre of mass to the nearest support edge, is
  larger);
- the Y-up reading is chosen when it stands and the Z-up one does not, or when neither stands
  and its support polygon is more than :data:`AREA_RATIO` times as large (as a fraction of the
  reading's footprint, the bounding box in the ground plane); otherwise the file is read as
  written, Z up (so a box, a ball or a column authored Z up keeps its pose).

An open car shell authored Y up stands on its wheels that way (its Z-up reading balances on a
bumper); pybullet_data's duck, the classic cow, spot, homer and teapot are read Y up (their
Z-up readings lie on a side or a nose and topple); fandisk (neither reading stands) stays Z.
The choice and both readings' figures are in the load stage's record (``up``) and a note.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from n4d4d.asset import Asset, Material, Provenance, StageRecord
from n4d4d.errors import InputError
from n4d4d.options import BuildOptions
from n4d4d.sources import Generated, MeshFile, Sample, Source, UrdfFile, generated_mesh, safe_asset_name

#: Formats whose up axis ``--up auto`` chooses (:func:`choose_up`); glTF is Y up by its spec.
AUTO_UP_FORMATS = (".obj", ".stl", ".ply", ".off")

#: Support polygon tolerance: vertices within this fraction of the bounding-box diagonal of the
#: lowest one touch the ground (feet and wheels are rarely exactly coplanar; 0.5% of a 25 cm
#: asset is 1.25 mm). Measured on the classic meshes: the Y-up readings of cow, spot, homer,
#: teapot and duck rest on 16-35% of their footprint, their Z-up readings on 0.3-1.7% and topple.
SUPPORT_TOLERANCE = 0.005

#: A reading whose tip-over angle (from its centre of mass to the nearest edge of its support
#: polygon) is below this does not stand: a nudge would tip it (degrees). A car shell authored
#: Y up balances on its nose at ~2 degrees when read Z up; homer stands on its feet at 8.
MIN_TIP_DEG = 5.0

#: When neither reading stands, the Y-up one must have a support polygon this many times larger
#: (footprint fraction) to be chosen over the file as written.
AREA_RATIO = 2.0

#: Packages whose versions shape a build's result (written into provenance).
DEPENDENCIES = ("numpy", "scipy", "trimesh", "scikit-image", "fast-simplification", "warp-lang",
                "libigl", "coacd", "pybullet", "newton", "usd-core", "mujoco")


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


def support(vertices: np.ndarray, faces: np.ndarray) -> dict:
    """How a Z-up mesh stands on a flat ground as authored (the module docstring's rule).

    Args:
        vertices: ``(V, 3) float64``, Z up (any length unit). faces: ``(F, 3)`` int.

    Returns:
        JSON-ready ``stands`` (bool), ``support_fraction`` (support polygon area over the
        footprint, the bounding box in the ground plane), ``tip_deg`` (tip-over angle; 0 when
        the centre of mass is not over the support polygon), ``center_of_mass``.
    """
    import trimesh
    from scipy.spatial import ConvexHull, QhullError

    v = np.asarray(vertices, dtype=np.float64)
    tm = trimesh.Trimesh(v, np.asarray(faces), process=False)
    if tm.is_watertight and tm.is_winding_consistent and tm.volume > 0:
        com = np.asarray(tm.center_mass)
    else:  # an open shell: its mass is in its surface
        com = (tm.triangles_center * tm.area_faces[:, None]).sum(axis=0) / max(float(tm.area), 1e-300)
    lo, hi = v.min(axis=0), v.max(axis=0)
    diag = float(np.linalg.norm(hi - lo))
    low = v[v[:, 2] <= lo[2] + SUPPORT_TOLERANCE * diag][:, :2]
    area, tip = 0.0, 0.0
    try:
        hull = ConvexHull(low)
        area = float(hull.volume)
        margin = float((-(hull.equations[:, :2] @ com[:2] + hull.equations[:, 2])).min())
        if margin > 0:
            tip = float(np.degrees(np.arctan2(margin, max(com[2] - lo[2], 1e-300))))
    except (QhullError, ValueError):  # one point or a line: nothing to stand on
        pass
    footprint = max(float((hi[0] - lo[0]) * (hi[1] - lo[1])), 1e-300)
    return {"stands": tip >= MIN_TIP_DEG, "support_fraction": area / footprint, "tip_deg": tip,
            "center_of_mass": com.tolist()}


def choose_up(mesh) -> tuple[str, dict]:
    """``--up auto`` for a file with no up axis of its own: ``"y"`` or ``"z"`` by the module
    docstring's rule.

    Args:
        mesh: the file read Z up as written (:func:`n4d4d.io.load.load_mesh` with ``up="z"``).

    Returns:
        ``(axis, figures)``: figures are JSON-ready ``chosen``, ``rule`` (one line: why),
        ``readings`` (``"z"`` and ``"y"``: :func:`support` of each).
    """
    from n4d4d.conventions import Y_UP_TO_Z_UP

    z = support(mesh.vertices, mesh.faces)
    y = support(np.asarray(mesh.vertices) @ Y_UP_TO_Z_UP.T, mesh.faces)
    if y["stands"] and not z["stands"]:
        axis, why = "y", "the Y-up reading stands as authored, the Z-up one would topple"
    elif not y["stands"] and not z["stands"] and y["support_fraction"] > AREA_RATIO * z["support_fraction"]:
        axis, why = "y", (f"neither reading stands; the Y-up one rests on more than {AREA_RATIO:g} times the "
                          "support of the Z-up one")
    elif z["stands"]:
        axis, why = "z", "the file as written (Z up) stands as authored"
    else:
        axis, why = "z", "neither reading stands, nor has a clearly larger support: the file as written (Z up)"
    return axis, {"chosen": axis, "rule": why, "readings": {"z": z, "y": y}}


def _read_mesh(path: Path, up: str, solid: bool = True):
    """The mesh of ``path`` Z up, and the up-axis figures (None unless ``up`` is "auto" and the
    format has no up axis of its own). ``solid=False`` lets a flat sheet through (it is given a
    thickness by ``--solidify``)."""
    from n4d4d.conventions import Y_UP_TO_Z_UP
    from n4d4d.io.load import Y_UP_FORMATS, load_mesh

    suffix = path.suffix.lower()
    if up != "auto":
        return load_mesh(path, up=up, solid=solid), None
    if suffix in Y_UP_FORMATS or suffix not in AUTO_UP_FORMATS:
        return load_mesh(path, solid=solid), None  # glTF: Y up by its specification
    mesh = load_mesh(path, up="z", solid=solid)
    axis, figures = choose_up(mesh)
    if axis == "y":  # a proper rotation, as load_mesh(up="y") applies
        mesh = mesh.replace(vertices=np.asarray(mesh.vertices) @ Y_UP_TO_Z_UP.T)
    return mesh, figures


def load_stage(source: Source, opts: BuildOptions) -> Asset:
    """Load and scale ``source`` into a fresh Asset with ``source_mesh``, parts and joints
    (URDF), material and provenance; the asset's name is ``opts.name`` or ``source.name``.

    ``opts.up`` "auto" (the default) reads glTF Y up, a sample with its own up axis, and an
    OBJ / STL / PLY / OFF file the way :func:`choose_up` finds it stands; the stage record's
    ``up`` and a note say which and why.

    Raises:
        InputError and subclasses: what :func:`n4d4d.io.load.load_mesh` and
            :func:`n4d4d.io.urdf.load_urdf_asset` raise, size options given for a URDF, and what
            :func:`n4d4d.sources.generated_mesh` raises for a :class:`Generated` source.
        EmptyMeshError: a mesh with no extent (:func:`n4d4d.io.scale.scale_to_size`).
    """
    from n4d4d.io.load import sha256_file
    from n4d4d.io.scale import ground_offset, scale_to_size

    t0 = time.perf_counter()
    parts, joints, collision = (), (), {}
    name = source.name
    up_figures, notes = None, ()
    if isinstance(source, UrdfFile):
        from n4d4d.io.urdf import load_urdf_asset

        path = Path(source.path)
        if any(getattr(opts, k) is not None for k in ("height", "longest_side", "unit")):
            raise InputError("size options do not apply to URDF input (URDF lengths are metres)", path)
        urdf = load_urdf_asset(path, merge_fixed=opts.merge_fixed, base=opts.base, up=opts.up)
        offset = ground_offset(urdf.source_mesh.vertices)  # rest on z = 0 like every other input
        mesh = urdf.source_mesh.replace(vertices=urdf.source_mesh.vertices + offset)
        parts = tuple(dataclasses.replace(p, mesh=p.mesh.replace(vertices=p.mesh.vertices + offset))
                      for p in urdf.parts)
        joints = tuple(dataclasses.replace(j, origin=np.asarray(j.origin) + offset) for j in urdf.joints)
        collision = {n: tuple(h.translated(offset) for h in hs) for n, hs in urdf.collision.items()}
        factor, how = 1.0, "URDF lengths are metres (kept as authored), set on the ground"
        notes = tuple(urdf.notes)  # dropped joints, merged links, the base and up-axis rules
    elif isinstance(source, Generated):
        path = None
        mesh, digest, gen_figures = generated_mesh(source)  # m, Z up, on the ground
        notes = (f"generated: {source.label} (category {gen_figures['category']})",)
        mesh, factor, how = scale_to_size(mesh, opts, (1.0, "the generator's metres"), None)
    elif isinstance(source, (MeshFile, Sample)):
        file_scale, up = None, opts.up
        if isinstance(source, Sample):
            from n4d4d.io.samples import resolve_sample

            s = resolve_sample(source.sample)
            path, file_scale, up = s.path, (s.scale, s.scale_source), (s.up if opts.up == "auto" else opts.up)
        else:
            path = Path(source.path)
        mesh, up_figures = _read_mesh(path, up, solid=opts.solidify is None)
        if up_figures is not None:
            notes = (f"read {up_figures['chosen'].upper()} up (--up auto): {up_figures['rule']}",)
        mesh, factor, how = scale_to_size(mesh, opts, file_scale, path)
        if opts.solidify is not None:
            from n4d4d.io.scale import ground_offset
            from n4d4d.volume import solidify

            faces_before = len(mesh.faces)
            mesh = solidify(mesh, opts.solidify, path)
            mesh = mesh.replace(vertices=mesh.vertices + ground_offset(mesh.vertices))
            notes += (f"solidified: the sheet ({faces_before} faces) given a {1e3 * opts.solidify:g} mm wall, "
                      "offset symmetrically about it (--solidify)",)
    else:
        raise InputError(f"unknown source type {type(source).__name__}")
    provenance = Provenance(
        source=source.label, source_sha256=sha256_file(path) if path is not None else digest, seed=opts.seed,
        options=opts.model_dump(mode="json"), versions=dependency_versions(),
    )
    figures = {"file": str(path) if path is not None else None, "source": source.label, "vertices": len(mesh.vertices),
               "faces": len(mesh.faces), "submeshes": len(mesh.submesh_names), "scale_m_per_unit": factor,
               "size": how, "extents_m": np.ptp(mesh.vertices, axis=0).round(6).tolist()}
    if up_figures is not None:
        figures["up"] = up_figures
    if isinstance(source, Generated):
        figures["generated"] = gen_figures
    material = Material(density=opts.density or Material().density, static_friction=opts.static_friction,
                        dynamic_friction=opts.dynamic_friction, restitution=opts.restitution)
    asset = Asset(name=safe_asset_name(opts.name) if opts.name else name, source_mesh=mesh, parts=parts,
                  joints=joints, collision=collision, material=material, provenance=provenance,
                  inertials=urdf.inertials if isinstance(source, UrdfFile) else None,
                  fixed_base=bool(urdf.fixed_base) if isinstance(source, UrdfFile) else False,
                  notes=(how,) + notes)
    return asset.with_stage(StageRecord("load", time.perf_counter() - t0, figures))
