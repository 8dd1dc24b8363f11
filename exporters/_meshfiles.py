"""Mesh files shared by the URDF and MJCF exporters: ``meshes/`` beside the main file.

Per part, in the part's frame (see :mod:`n4d4d.kinematics`), metres:

- ``<part>_visual.obj``: the visual mesh (Wavefront OBJ through trimesh) with vertex normals,
  and with UVs, an MTL file and the base-colour texture PNG when the asset has a texture;
- ``<part>_hull_<k>.stl``: one binary STL per convex collision hull (float32 coordinates:
  about 0.1 um of rounding at metre scale, far below any collision margin).

Each file is written atomically. This module does not write the URDF or MJCF itself.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from n4d4d.asset import Asset
from n4d4d.errors import ExportError
from n4d4d.io.atomic import atomic_write_bytes
from n4d4d.kinematics import PartFrame

from ._common import part_visual


@dataclass(frozen=True)
class PartMeshFiles:
    """File names of one part's meshes, relative to the mesh folder.

    Attributes:
        visual: the visual OBJ file name.
        hulls: one STL file name per collision hull, in ``asset.collision`` order.
        texture: the base-colour PNG file name (referenced by the OBJ's MTL), or None.
        rgba: ``(4,) float64`` colour in [0, 1] (:func:`part_color`), or None.
    """

    visual: str
    hulls: tuple[str, ...]
    texture: str | None
    rgba: np.ndarray | None


def write_part_meshes(asset: Asset, frames: list[PartFrame], mesh_dir: Path) -> dict[str, PartMeshFiles]:
    """Write every part's visual OBJ and hull STLs into ``mesh_dir``; returns name -> files.

    Keys are the sanitised part names of ``frames``. Raises :class:`ExportError` when a hull
    or visual mesh is empty.
    """
    import trimesh

    mesh_dir = Path(mesh_dir)
    mesh_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, PartMeshFiles] = {}
    for f in frames:
        vis, _ = part_visual(asset, f.part)
        if len(vis.faces) == 0:
            raise ExportError(f"part '{f.part.name}' has an empty visual mesh", asset.name)
        tm = trimesh.Trimesh(vis.vertices - f.origin, vis.faces, process=False,
                             vertex_normals=vis.normals)
        texture = None
        if vis.uvs is not None and vis.texture_png is not None:
            from PIL import Image

            image = Image.open(io.BytesIO(vis.texture_png))
            uv = np.column_stack([vis.uvs[:, 0], 1.0 - vis.uvs[:, 1]])  # OBJ vt: v up
            diffuse = (np.ones(4) if vis.base_color is None else np.clip(vis.base_color, 0, 1)) * 255
            material = trimesh.visual.material.SimpleMaterial(  # Kd multiplies the texture: white
                image=image, name=f"{f.name}_material", diffuse=diffuse.round().astype(np.uint8))
            tm.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
        text, extra = trimesh.exchange.obj.export_obj(
            tm, include_normals=vis.normals is not None, include_color=False,
            include_texture=True,
            return_texture=True, mtl_name=f"{f.name}_visual.mtl")
        for name, data in extra.items():
            atomic_write_bytes(mesh_dir / name, data)
            if name.lower().endswith((".png", ".jpg", ".jpeg")):
                texture = name
        visual_name = f"{f.name}_visual.obj"
        atomic_write_bytes(mesh_dir / visual_name, text.encode("utf-8"))
        hulls = []
        for k, hull in enumerate(asset.collision[f.part.name]):
            if len(hull.faces) == 0:
                raise ExportError(f"part '{f.part.name}' hull {k} is empty", asset.name)
            h = trimesh.Trimesh(hull.vertices - f.origin, hull.faces, process=False)
            name = f"{f.name}_hull_{k:03d}.stl"
            atomic_write_bytes(mesh_dir / name, h.export(file_type="stl"))
            hulls.append(name)
        out[f.name] = PartMeshFiles(visual_name, tuple(hulls), texture, part_color(vis))
    return out


def part_color(mesh) -> np.ndarray | None:
    """``(4,) float64`` RGBA in [0, 1] of a part's material: its base colour, else the colour its
    vertex colours all share (within 2/255: a sub-mesh of one material baked onto the remesh by
    closest point), else None (URDF and MJCF give a mesh one colour)."""
    if mesh.base_color is not None:
        return np.asarray(mesh.base_color, np.float64)
    if mesh.vertex_colors is not None and len(mesh.vertex_colors):
        c = np.asarray(mesh.vertex_colors, np.float64)
        if np.ptp(c, axis=0).max() <= 2.0:
            return np.median(c, axis=0) / 255.0
    return None
