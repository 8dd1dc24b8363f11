"""n4d4d: physics-validated 4D assets for simulation and robotics.

Turn a mesh (or, later, a generated shape) into a sim-ready asset: watertight remesh through a
sparse signed-distance volume, parts and joints, collision hulls, mass properties, a physics
certificate from PyBullet and Newton, and USD / URDF / MJCF / GLB / 3MF files.

    import n4d4d
    asset = n4d4d.build("mug.obj", height=0.1)
    asset.save("out/mug")

Importing ``n4d4d`` is light: heavy dependencies load when a stage runs.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from n4d4d.asset import (  # noqa: E402
    Asset,
    CheckResult,
    Drive,
    Joint,
    Material,
    MassProperties,
    Mesh,
    MotionClip,
    Part,
    Provenance,
    Skeleton,
    StageRecord,
)
from n4d4d.errors import N4d4dError  # noqa: E402


def build(source: Any = None, **options: Any) -> Asset:
    """Build a sim-ready :class:`Asset` from a source: a mesh or URDF path, an
    :mod:`n4d4d.sources` record, or ``sample=NAME``; see :func:`n4d4d.pipeline.build` for the
    options, return value and errors."""
    from n4d4d.pipeline import build as _build

    return _build(source, **options)


def generate(category: str | None = None, seed: int = 0, n: int = 1, **options: Any) -> list:
    """``n`` new shapes from the SSA flow generator (seeds ``seed .. seed + n - 1``), each a
    :class:`n4d4d.generator.generate.GeneratedShape` whose ``mesh`` is a closed :class:`Mesh`
    (m, Z up); ``coarse=MESH`` / ``like=MESH, strength=S`` as in ``n4d4d generate``. Pass the
    result's meshes, or ``n4d4d.sources.Generated(category, seed)``, to :func:`build`. Raises
    :class:`~n4d4d.errors.InputError` for an unknown category (listing the known ones)."""
    from n4d4d.generator.generate import generate as _generate

    return _generate(category, seed, n, **options)


__all__ = [
    "Asset", "CheckResult", "Drive", "Joint", "Material", "MassProperties", "Mesh", "MotionClip", "Part",
    "Provenance", "Skeleton", "StageRecord", "N4d4dError", "build", "generate", "__version__",
]
