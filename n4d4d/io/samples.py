"""Named sample meshes from ``pybullet_data`` (installed with pybullet), for ``--sample NAME``.

Each sample is a mesh file plus the length unit and up axis its pybullet URDF gives it, so a
sample builds at its real size without ``--height``. Names: ``duck``, ``teddy``, ``bunny``,
``mug`` and ``random_urdfs/NNN`` (000..999). This module only resolves names to files.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from n4d4d.errors import MissingFileError


@dataclass(frozen=True)
class Sample:
    """A resolved sample: mesh file, metres per file unit, and the file's up axis."""

    name: str
    path: Path
    scale: float
    up: str
    scale_source: str = ""


# name -> (mesh file, URDF giving its scale or None, scale if no URDF, up axis)
_NAMED = {
    "duck": ("duck.obj", "duck_vhacd.urdf", None, "y"),
    "teddy": ("teddy2_VHACD_CHs.obj", "teddy_vhacd.urdf", None, "z"),
    # bunny.obj has no URDF: 0.1 m per unit makes it ~0.2 m tall, the size of a toy.
    "bunny": ("bunny.obj", None, 0.1, "z"),
    "mug": ("objects/mug.obj", "objects/mug.urdf", None, "z"),
}

SAMPLE_NAMES = tuple(_NAMED) + ("random_urdfs/NNN",)


def _urdf_mesh_scale(urdf: Path) -> float:
    """The first ``<mesh scale="s s s">`` of a URDF's visual (1.0 when absent)."""
    mesh = ET.parse(urdf).getroot().find(".//visual/geometry/mesh")
    if mesh is None or "scale" not in mesh.attrib:
        return 1.0
    return float(mesh.attrib["scale"].split()[0])


def resolve_sample(name: str) -> Sample:
    """Resolve a sample name to its mesh file and real-world scale.

    Raises:
        MissingFileError: unknown name, or the file is missing from pybullet_data.
    """
    import pybullet_data

    root = Path(pybullet_data.getDataPath())
    if name in _NAMED:
        mesh, urdf, scale, up = _NAMED[name]
        path = root / mesh
        source = "its pybullet URDF" if urdf else "n4d4d's sample table"
        if urdf is not None:
            scale = _urdf_mesh_scale(root / urdf)
    elif name.startswith("random_urdfs/") and name.split("/", 1)[1].isdigit():
        n = f"{int(name.split('/', 1)[1]):03d}"
        name, source = f"random_urdfs/{n}", "its pybullet URDF"
        path, up = root / "random_urdfs" / n / f"{n}.obj", "z"
        urdf_path = path.with_suffix(".urdf")
        scale = _urdf_mesh_scale(urdf_path) if urdf_path.is_file() else 1.0
    else:
        raise MissingFileError(f"unknown sample; choose one of {', '.join(SAMPLE_NAMES)}", f"sample:{name}")
    if not path.is_file():
        raise MissingFileError("sample mesh missing from pybullet_data", path)
    return Sample(name=name, path=path, scale=float(scale), up=up, scale_source=source)
