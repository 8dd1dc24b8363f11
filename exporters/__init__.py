"""Exporters: write an :class:`~n4d4d.asset.Asset` in the formats simulators and tools load.

One module per format: :mod:`.usd` (UsdGeom / UsdShade / UsdPhysics / UsdSkel, for Isaac Sim,
Isaac Lab and Newton), :mod:`.urdf` (PyBullet, ROS), :mod:`.mjcf` (MuJoCo, built with
``mujoco.MjSpec``), :mod:`.glb` (glTF 2.0 binary, Y up) and :mod:`.threemf` (3MF core, mm).
All share the part frames of :mod:`n4d4d.kinematics`. Every file is written atomically, and a failed
:func:`export` removes whatever it had created, so ``out_dir`` is left as it was.

This package does not compute anything physical (hulls, mass, joints come from earlier
stages) and does not make the output folder atomic as a whole: :meth:`Asset.save` does that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from n4d4d.asset import Asset
from n4d4d.errors import ExportError

#: Formats :func:`export` writes, in the order it writes them.
FORMATS = ("usda", "usdc", "urdf", "mjcf", "glb", "3mf")

#: Main file name of each format inside the output folder.
FILE_NAMES = {"usda": "asset.usda", "usdc": "asset.usdc", "urdf": "asset.urdf", "mjcf": "asset.xml",
              "glb": "asset.glb", "3mf": "asset.3mf"}


def export(asset: Asset, out_dir: Path, formats: Sequence[str]) -> dict[str, Path]:
    """Write ``asset`` into the existing folder ``out_dir`` in each of ``formats``.

    Args:
        asset: an asset with parts, collision hulls and mass properties per part.
        out_dir: an existing folder (``Asset.save`` passes its temporary folder).
        formats: names from :data:`FORMATS` (case-insensitive, duplicates ignored).

    Returns:
        format -> path of its main file (``asset.usda``, ``asset.usdc``, ``asset.urdf`` with
        ``meshes/``, ``asset.xml`` with ``meshes/``, ``asset.glb``, ``asset.3mf``).

    Raises:
        ExportError: an unknown format, a missing ``out_dir``, an asset a format cannot hold,
            or a writer failure. Everything this call created in ``out_dir`` is removed first.
    """
    from ._common import cleanup_on_failure

    out_dir = Path(out_dir)
    wanted = list(dict.fromkeys(str(f).lower().lstrip(".") for f in formats))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ExportError(f"unknown export format(s) {unknown}; known: {', '.join(FORMATS)}", asset.name)
    if not out_dir.is_dir():
        raise ExportError(f"output folder {out_dir} does not exist", asset.name)
    written: dict[str, Path] = {}
    with cleanup_on_failure(out_dir):
        for fmt in wanted:
            target = out_dir / FILE_NAMES[fmt]
            try:
                written[fmt] = _writer(fmt)(asset, target)
            except ExportError:
                raise
            except Exception as e:  # a library failure becomes a typed error naming the format
                raise ExportError(f"{fmt} export failed: {type(e).__name__}: {e}", asset.name) from e
    return written


def _writer(fmt: str):
    if fmt in ("usda", "usdc"):
        from .usd import write_usd

        return write_usd
    if fmt == "urdf":
        from .urdf import write_urdf

        return write_urdf
    if fmt == "mjcf":
        from .mjcf import write_mjcf

        return write_mjcf
    if fmt == "glb":
        from .glb import write_glb

        return write_glb
    from .threemf import write_3mf

    return write_3mf


__all__ = ["FORMATS", "FILE_NAMES", "export"]
