"""Units, axes and rotation conventions of n4d4d, stated once.

Every array inside n4d4d follows these rules; conversions happen only at the boundary of an
engine or file format (loaders, exporters, physics clients), never in between. This module
holds the constants and the small conversions those boundaries share. It does not load or
write anything.

- Units: SI. Lengths in metres, masses in kilograms, time in seconds, angles in radians,
  density in kg/m^3. USD joint limits are degrees and MJCF declares its angle unit: exporters
  convert.
- Axes: right-handed, Z up. glTF is Y up: ``Y_UP_TO_Z_UP`` converts at load and its inverse
  at export.
- Quaternions: scalar first, ``(w, x, y, z)``. PyBullet and scipy use ``(x, y, z, w)``:
  convert with :func:`wxyz_to_xyzw` / :func:`xyzw_to_wxyz` at that boundary only.
- Mesh arrays: vertices ``(V, 3) float64`` metres, faces ``(F, 3) int64`` counter-clockwise
  seen from outside (outward normals); per-frame vertices ``(T, V, 3) float64``.
- Randomness: every sampler takes an explicit seed or ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

UP_AXIS = "Z"
LENGTH_UNIT = "m"
MASS_UNIT = "kg"
TIME_UNIT = "s"
ANGLE_UNIT = "rad"
QUATERNION_ORDER = "wxyz"

#: Standard gravity (m/s^2): CGPM 1901, the value every engine and file here is given.
GRAVITY_MAGNITUDE = 9.80665
#: Gravity vector, m/s^2, along -Z (Z up); shape (3,), float64, read-only.
GRAVITY = np.array([0.0, 0.0, -GRAVITY_MAGNITUDE])
GRAVITY.setflags(write=False)

VERTEX_DTYPE = np.float64
FACE_DTYPE = np.int64

#: Rotation taking glTF's Y-up frame to n4d4d's Z-up frame: +90 degrees about X,
#: so glTF +Y (up) becomes +Z and glTF +Z (front) becomes -Y. Shape (3, 3), float64.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
#: Inverse of :data:`Y_UP_TO_Z_UP` (its transpose), used by Y-up exporters.
Z_UP_TO_Y_UP = Y_UP_TO_Z_UP.T.copy()


def wxyz_to_xyzw(q: np.ndarray) -> np.ndarray:
    """Reorder quaternion(s) ``(..., 4)`` from n4d4d's ``(w, x, y, z)`` to ``(x, y, z, w)``.

    Used at the PyBullet / scipy boundary. Returns a new float64 array of the same shape.
    """
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[..., 1:], q[..., :1]], axis=-1)


def xyzw_to_wxyz(q: np.ndarray) -> np.ndarray:
    """Reorder quaternion(s) ``(..., 4)`` from ``(x, y, z, w)`` to n4d4d's ``(w, x, y, z)``."""
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[..., 3:], q[..., :3]], axis=-1)


#: Metres per unit, for ``--unit``.
UNIT_SCALE = {"mm": 1e-3, "cm": 1e-2, "m": 1.0, "in": 0.0254}

#: Keys whose values are wall-clock times (s) besides ``seconds`` and ``*_seconds``. Outputs
#: keep such values in one place (report.json's ``timings`` section), so that every other
#: byte a build writes is the same for the same input, options and seed.
TIMING_KEYS = frozenset({"seconds_per_check", "wall_s", "cpu_s", "elapsed_s", "time_s"})


def is_timing_key(key: str) -> bool:
    """True for a key naming a wall-clock time (s): ``seconds``, ``*_seconds``,
    :data:`TIMING_KEYS`."""
    return key == "seconds" or key.endswith("_seconds") or key in TIMING_KEYS
