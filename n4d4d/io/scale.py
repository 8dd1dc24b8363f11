"""Real-world size of a loaded mesh: scale it by the build options and set it on the ground.

Part of the load stage (:mod:`n4d4d.io.stage`). Scaling rules, in order: ``height`` (Z
extent), ``longest_side``, ``unit`` (file units, :data:`n4d4d.conventions.UNIT_SCALE`), a
sample's own scale (its URDF), else :data:`n4d4d.options.DEFAULT_LONGEST_SIDE` with a note
saying so. This module does not read files or remesh.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from n4d4d.asset import Mesh
from n4d4d.errors import EmptyMeshError
from n4d4d.options import DEFAULT_LONGEST_SIDE, BuildOptions


def ground_offset(vertices: np.ndarray) -> np.ndarray:
    """``(3,) float64`` offset (m) putting the lowest point of ``vertices`` ``(N, 3)`` at
    z = 0 and the bounding box centred on x = y = 0."""
    v = np.asarray(vertices, np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    return -np.array([0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]), lo[2]])


def scale_to_size(mesh: Mesh, opts: BuildOptions, file_scale: tuple[float, str] | None = None,
                  path: str | Path | None = None) -> tuple[Mesh, float, str]:
    """Scale ``mesh`` to real-world size and drop it so its lowest point is at z = 0.

    Args:
        mesh: the loaded mesh (asset frame, Z up, file units).
        opts: build options (``height``, ``longest_side``, ``unit``).
        file_scale: ``(m per file unit, where it comes from)``, e.g. a sample's URDF scale,
            used when the options give no size.
        path: the input file, named in errors.

    Returns:
        The scaled mesh (normals dropped: they are recomputed downstream), the factor applied
        (m per file unit), and a sentence for the report saying how the size was chosen.

    Raises:
        EmptyMeshError: a mesh with no extent (all vertices at one point), or ``height`` asked
            of a mesh flat in Z.
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
    v = v + ground_offset(v)
    return mesh.replace(vertices=v, normals=None), float(factor), how
