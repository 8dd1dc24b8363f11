"""3MF export (``asset.3mf``) through trimesh, in millimetres, per the 3MF Core Specification.

One ``<object type="model">`` per part (its visual mesh, placed at rest pose in the asset
frame) and one build item each; the model's ``unit`` is ``"millimeter"`` (3MF Core spec,
chapter 3: the default unit, and the one trimesh writes), so coordinates are n4d4d metres
times 1000. 3MF's build volume is Z up like n4d4d, so no axis change is needed.

Colours, textures, joints and physics are not written: 3MF here is for printing the shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from n4d4d.asset import Asset
from n4d4d.errors import ExportError
from n4d4d.io.atomic import atomic_write_bytes

from n4d4d.kinematics import kinematic_tree, safe_name

from ._common import part_visual

#: Millimetres per metre: 3MF model unit "millimeter".
MM_PER_M = 1000.0


def write_3mf(asset: Asset, path: Path) -> Path:
    """Write each part's visual mesh of ``asset`` into a 3MF package at ``path`` (mm).

    Returns ``path``. Raises :class:`ExportError` when the asset has no parts or a part's
    mesh is empty; the file is written atomically.
    """
    import trimesh

    path = Path(path)
    if not asset.parts:
        raise ExportError("3MF export needs at least one part", asset.name)
    scene = trimesh.Scene(base_frame=safe_name(asset.name))
    for f in kinematic_tree(asset):
        vis, _ = part_visual(asset, f.part)
        if len(vis.faces) == 0:
            raise ExportError(f"part '{f.part.name}' has an empty visual mesh", asset.name)
        tm = trimesh.Trimesh(np.asarray(vis.vertices) * MM_PER_M, vis.faces, process=False)
        scene.add_geometry(tm, node_name=f.name, geom_name=f.name)
    atomic_write_bytes(path, scene.export(file_type="3mf"))
    return path
