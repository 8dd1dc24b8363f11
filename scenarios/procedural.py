"""Procedural shapes as URDF inputs: a family's seeded shape written so ``n4d4d build`` reads it.

:func:`write_procedural_urdf` takes a shape of :func:`n4d4d.generator.procedural.make_shape`
(parts and ground-truth joints, metres, Z up), optionally scales it to a longest side, and
writes ``model.urdf`` with one OBJ per part (``meshes/<part>.obj``, in its link frame) into a
folder, atomically and byte for byte the same for the same family, seed and size. The build
then keeps the joints as authored (:class:`n4d4d.sources.UrdfFile`; the asset takes the
folder's name, since ``model.urdf`` is a generic stem). URDF conventions (wiki.ros.org/urdf/XML):
a link's frame sits at the pivot of the joint whose child it is (the root at the shape's
origin), asset orientation; a joint's ``<origin>`` is the child frame minus the parent frame,
its ``<axis>`` the unit axis in that frame.

This module writes geometry and joints only: no inertials, collisions or materials (the
pipeline computes those).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: The URDF file name inside a procedural source folder (generic: the asset takes the folder's name).
URDF_NAME = "model.urdf"


def _f(x: float) -> str:
    return repr(round(float(x), 9))


def _obj(vertices: np.ndarray, faces: np.ndarray) -> str:
    lines = ["# n4d4d procedural part, metres, Z up, link frame"]
    lines += [f"v {x:.7f} {y:.7f} {z:.7f}" for x, y, z in vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    return "\n".join(lines) + "\n"


def procedural_urdf_files(family: str, seed: int, longest_side: float | None = None) -> dict[str, str]:
    """Relative path -> text of the files of one procedural shape as a URDF (see module doc).

    Args:
        family: a family of :func:`n4d4d.generator.procedural.families`.
        seed: the shape's seed (>= 0).
        longest_side: scale the whole shape uniformly to this bounding-box side (m), or None
            to keep the family's drawn real-world size.

    Raises:
        KeyError: unknown family. RuntimeError: the family made a broken shape.
    """
    from n4d4d.generator.procedural import make_shape
    from n4d4d.kinematics import safe_name

    asset = make_shape(family, int(seed))
    factor = 1.0
    if longest_side is not None:
        lo, hi = asset.visual.bounds
        factor = float(longest_side) / float(np.max(hi - lo))
    children = {j.child: j for j in asset.joints}
    taken: set[str] = set()
    link = {p.name: safe_name(p.name, taken) for p in asset.parts}
    origin = {p.name: (np.asarray(children[p.name].origin) * factor if p.name in children else np.zeros(3))
              for p in asset.parts}
    files: dict[str, str] = {}
    xml = ['<?xml version="1.0"?>', f'<robot name="{safe_name(asset.name)}">']
    for p in asset.parts:
        rel = f"meshes/{link[p.name]}.obj"
        files[rel] = _obj(np.asarray(p.mesh.vertices) * factor - origin[p.name], np.asarray(p.mesh.faces))
        xml += [f'  <link name="{link[p.name]}">', "    <visual>", '      <origin xyz="0 0 0" rpy="0 0 0"/>',
                f'      <geometry><mesh filename="{rel}"/></geometry>', "    </visual>", "  </link>"]
    jtaken: set[str] = set()
    for j in asset.joints:
        xyz = " ".join(_f(v) for v in origin[j.child] - origin[j.parent])
        axis = np.asarray(j.axis, float) / np.linalg.norm(j.axis)
        xml += [f'  <joint name="{safe_name(j.name, jtaken)}" type="{j.type}">', f'    <parent link="{link[j.parent]}"/>',
                f'    <child link="{link[j.child]}"/>', f'    <origin xyz="{xyz}" rpy="0 0 0"/>',
                f'    <axis xyz="{" ".join(_f(v) for v in axis)}"/>']
        scale = factor if j.type == "prismatic" else 1.0
        if j.type in ("revolute", "prismatic"):
            xml.append(f'    <limit lower="{_f(j.lower * scale)}" upper="{_f(j.upper * scale)}" '
                       f'effort="{_f(j.effort)}" velocity="{_f(j.velocity)}"/>')
        elif j.type == "continuous":
            xml.append(f'    <limit effort="{_f(j.effort)}" velocity="{_f(j.velocity)}"/>')
        xml.append("  </joint>")
    xml.append("</robot>")
    files[URDF_NAME] = "\n".join(xml) + "\n"
    return files


def write_procedural_urdf(folder: str | Path, family: str, seed: int, longest_side: float | None = None) -> Path:
    """Write :func:`procedural_urdf_files` into ``folder`` (atomically, as a whole) unless it
    already holds exactly those files; returns the path of its ``model.urdf``."""
    from n4d4d.io.atomic import atomic_dir

    folder = Path(folder)
    files = procedural_urdf_files(family, seed, longest_side)
    if folder.is_dir() and all((folder / rel).is_file() and (folder / rel).read_text() == text
                               for rel, text in files.items()):
        return folder / URDF_NAME
    with atomic_dir(folder) as tmp:
        for rel, text in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(text)
    return folder / URDF_NAME
