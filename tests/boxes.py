"""Test geometry shared by several test files: axis-aligned boxes given by their corners."""

from __future__ import annotations

import numpy as np


def box_between(lo, hi):
    """A closed ``trimesh.Trimesh`` box with corners ``lo`` and ``hi`` ``(3,)`` (m)."""
    import trimesh

    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    T = np.eye(4)
    T[:3, 3] = (lo + hi) / 2
    return trimesh.creation.box(extents=hi - lo, transform=T)
