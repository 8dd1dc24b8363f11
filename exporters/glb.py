"""GLB export (``asset.glb``): glTF 2.0 binary through trimesh, converted to glTF's Y up.

The scene has one node per part, named after it and nested along the kinematic tree (root
parts are the scene's root nodes; the asset name is in the scene's ``extras``), each
translated to its part frame (see :mod:`n4d4d.kinematics`) and holding that part's
visual mesh. Coordinates are turned from n4d4d's Z up into glTF's Y up by
:data:`n4d4d.conventions.Z_UP_TO_Y_UP` (a -90 degree rotation about X) baked into vertices,
normals and node translations, so a loader that ignores node transforms still sees Y up.
Units stay metres (glTF 2.0 section 3.4). Materials are glTF metallic-roughness, one per part
mesh: base-colour texture with UVs (glTF's v-down convention, as ``Mesh.uvs``), base-colour
factor, or vertex colours (``COLOR_0`` under a white material, :func:`add_missing_materials`).

A skeleton with skin weights becomes a glTF skin, and motion clips become glTF animations
(node TRS tracks), added by :mod:`.glb_anim` since trimesh writes neither. The build's
provenance (seed, source, versions) is the glTF ``asset.extras["n4d4d"]``. Collision hulls,
mass and joints are not written: glTF's core spec has no physics.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from n4d4d.asset import Asset, Mesh
from n4d4d.conventions import Z_UP_TO_Y_UP
from n4d4d.errors import ExportError
from n4d4d.io.atomic import atomic_write_bytes
from n4d4d.kinematics import kinematic_tree, safe_name

from ._common import part_visual, provenance_info


def to_trimesh_visual(mesh: Mesh, rotation: np.ndarray, origin: np.ndarray, name: str):
    """``mesh`` in a part frame at ``origin`` (m, asset frame), rotated by ``rotation`` (3, 3).

    Returns a ``trimesh.Trimesh`` (``process=False``: vertex order kept) carrying normals and a
    PBR material (base-colour texture and factor) or vertex colours.
    """
    import trimesh
    from trimesh.visual.material import PBRMaterial

    verts = (mesh.vertices - origin) @ rotation.T
    normals = None if mesh.normals is None else mesh.normals @ rotation.T
    tm = trimesh.Trimesh(verts, mesh.faces, vertex_normals=normals, process=False)
    factor = None if mesh.base_color is None else np.round(np.clip(mesh.base_color, 0, 1) * 255).astype(np.uint8)
    if mesh.texture_png is not None and mesh.uvs is not None:
        from PIL import Image

        image = Image.open(io.BytesIO(mesh.texture_png))
        material = PBRMaterial(name=f"{name}_material", baseColorTexture=image, baseColorFactor=factor,
                               metallicFactor=0.0, roughnessFactor=0.6)
        # trimesh keeps OpenGL's v-up internally and flips v on glTF export
        uv = np.column_stack([mesh.uvs[:, 0], 1.0 - mesh.uvs[:, 1]])
        tm.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    elif mesh.vertex_colors is not None:
        tm.visual = trimesh.visual.ColorVisuals(tm, vertex_colors=np.asarray(mesh.vertex_colors))
    elif factor is not None:
        material = PBRMaterial(name=f"{name}_material", baseColorFactor=factor, metallicFactor=0.0,
                               roughnessFactor=0.6)
        tm.visual = trimesh.visual.TextureVisuals(material=material)
    return tm


def add_missing_materials(tree: dict) -> None:
    """Give every primitive without a material one of its own, named after its node: white
    base colour (glTF multiplies it with ``COLOR_0``, so vertex colours show as they are),
    metallic 0, roughness 0.6 as the other materials. trimesh writes vertex-coloured meshes
    without a material; this keeps "one material per part mesh" in every case."""
    materials = tree.setdefault("materials", [])
    for node in tree.get("nodes", []):
        if "mesh" not in node:
            continue
        for prim in tree["meshes"][node["mesh"]]["primitives"]:
            if "material" not in prim:
                materials.append({"name": f"{node.get('name', 'mesh')}_material", "pbrMetallicRoughness": {
                    "baseColorFactor": [1.0, 1.0, 1.0, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.6}})
                prim["material"] = len(materials) - 1
    if not materials:
        tree.pop("materials")


def write_glb(asset: Asset, path: Path) -> Path:
    """Write the parts' visual meshes of ``asset`` as a Y-up glTF 2.0 binary at ``path``.

    Returns ``path``. Raises :class:`ExportError` when the asset has no parts or a part has an
    empty visual mesh, or when trimesh fails; the file is written atomically.
    """
    import trimesh

    path = Path(path)
    if not asset.parts:
        raise ExportError("GLB export needs at least one part", asset.name)
    frames = kinematic_tree(asset)
    scene = trimesh.Scene(base_frame=safe_name(asset.name))
    origins = {f.name: f.origin for f in frames}
    for f in frames:
        vis, _ = part_visual(asset, f.part)
        if len(vis.faces) == 0:
            raise ExportError(f"part '{f.part.name}' has an empty visual mesh", asset.name)
        parent_origin = np.zeros(3) if f.parent is None else origins[f.parent]
        T = np.eye(4)
        T[:3, 3] = Z_UP_TO_Y_UP @ (f.origin - parent_origin)
        scene.add_geometry(to_trimesh_visual(vis, Z_UP_TO_Y_UP, f.origin, f.name), node_name=f.name,
                           geom_name=f.name, parent_node_name=f.parent or scene.graph.base_frame,
                           transform=T)
    scene.metadata["n4d4d"] = {"asset": asset.name, "up": "Y (converted from n4d4d's Z up)",
                               "source": asset.provenance.source if asset.provenance else ""}
    data = scene.export(file_type="glb", include_normals=any(
        part_visual(asset, f.part)[0].normals is not None for f in frames))
    from .glb_anim import add_skin_and_animations, join_glb, split_glb

    tree, blob = split_glb(add_skin_and_animations(data, asset, frames))
    add_missing_materials(tree)
    tree.setdefault("asset", {"version": "2.0"}).setdefault("extras", {})["n4d4d"] = provenance_info(asset)
    atomic_write_bytes(path, join_glb(tree, blob))
    return path
