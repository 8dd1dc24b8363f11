"""The load stage: a :class:`~n4d4d.sources.Source` -> a fresh :class:`~n4d4d.asset.Asset`.

Dispatches on the source: a mesh file is read (:func:`n4d4d.io.load.load_mesh`), scaled to
real size and set on the ground (:mod:`n4d4d.io.scale`); a URDF keeps its links as parts and
its joints (:func:`n4d4d.io.urdf.load_urdf_asset`), lengths in metres, set on the ground; a
pybullet_data sample is a mesh file at its URDF's scale; a generated source raises until the
generator can sample. Provenance (source, SHA-256, seed, options, versions) is written here,
once. This module does not remesh or rig.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from n4d4d.asset import Asset, Material, Provenance, StageRecord
from n4d4d.errors import InputError
from n4d4d.options import BuildOptions
from n4d4d.sources import Generated, MeshFile, Sample, Source, UrdfFile, check_generated, safe_asset_name

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


def load_stage(source: Source, opts: BuildOptions) -> Asset:
    """Load and scale ``source`` into a fresh Asset with ``source_mesh``, parts and joints
    (URDF), material and provenance; the asset's name is ``opts.name`` or ``source.name``.

    Raises:
        InputError and subclasses: what :func:`n4d4d.io.load.load_mesh` and
            :func:`n4d4d.io.urdf.load_urdf_asset` raise, size options given for a URDF, and
            :class:`~n4d4d.errors.GeneratorUnavailableError` for a :class:`Generated` source.
        EmptyMeshError: a mesh with no extent (:func:`n4d4d.io.scale.scale_to_size`).
    """
    from n4d4d.io.load import load_mesh, sha256_file
    from n4d4d.io.scale import ground_offset, scale_to_size

    t0 = time.perf_counter()
    if isinstance(source, Generated):
        check_generated(source)
    parts, joints = (), ()
    name = source.name
    if isinstance(source, UrdfFile):
        from n4d4d.io.urdf import load_urdf_asset

        path = Path(source.path)
        if any(getattr(opts, k) is not None for k in ("height", "longest_side", "unit")):
            raise InputError("size options do not apply to URDF input (URDF lengths are metres)", path)
        urdf = load_urdf_asset(path)
        offset = ground_offset(urdf.source_mesh.vertices)  # rest on z = 0 like every other input
        mesh = urdf.source_mesh.replace(vertices=urdf.source_mesh.vertices + offset)
        parts = tuple(dataclasses.replace(p, mesh=p.mesh.replace(vertices=p.mesh.vertices + offset))
                      for p in urdf.parts)
        joints = tuple(dataclasses.replace(j, origin=np.asarray(j.origin) + offset) for j in urdf.joints)
        factor, how = 1.0, "URDF lengths are metres (kept as authored), set on the ground"
    elif isinstance(source, (MeshFile, Sample)):
        file_scale, up = None, opts.up
        if isinstance(source, Sample):
            from n4d4d.io.samples import resolve_sample

            s = resolve_sample(source.sample)
            path, file_scale, up = s.path, (s.scale, s.scale_source), opts.up or s.up
        else:
            path = Path(source.path)
        mesh = load_mesh(path, up=up)
        mesh, factor, how = scale_to_size(mesh, opts, file_scale, path)
    else:
        raise InputError(f"unknown source type {type(source).__name__}")
    provenance = Provenance(
        source=source.label, source_sha256=sha256_file(path), seed=opts.seed,
        options=opts.model_dump(mode="json"), versions=dependency_versions(),
    )
    figures = {"file": str(path), "source": source.label, "vertices": len(mesh.vertices),
               "faces": len(mesh.faces), "submeshes": len(mesh.submesh_names), "scale_m_per_unit": factor,
               "size": how, "extents_m": np.ptp(mesh.vertices, axis=0).round(6).tolist()}
    material = Material(density=opts.density or Material().density, static_friction=opts.static_friction,
                        dynamic_friction=opts.dynamic_friction, restitution=opts.restitution)
    asset = Asset(name=safe_asset_name(opts.name) if opts.name else name, source_mesh=mesh, parts=parts,
                  joints=joints, material=material, provenance=provenance, notes=(how,))
    return asset.with_stage(StageRecord("load", time.perf_counter() - t0, figures))
