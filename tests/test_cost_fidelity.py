"""Collision fidelity's volume figures from one boolean (issue 13: ``over`` from the identity
vol(U - P) = vol(U) - vol(P) + vol(P - U)) against the closed form of two offset boxes."""

from __future__ import annotations

import pytest

from boxes import box_between

from n4d4d.asset import Mesh
from n4d4d.physics_validation.fidelity import collision_fidelity


def test_over_and_under_volume_of_an_offset_box_hull():
    # part: a 0.1 m cube; hull: the same cube moved 0.03 m along x and 0.02 m along y, so the
    # hull covers 0.07 x 0.08 x 0.1 of the part: over = under = 1 - 0.56 = 0.44, ratio 1
    part = Mesh.from_trimesh(box_between([0, 0, 0], [0.1, 0.1, 0.1]))
    hull = Mesh.from_trimesh(box_between([0.03, 0.02, 0], [0.13, 0.12, 0.1]))
    fid = collision_fidelity(part, [hull], samples=2000, seed=0)
    assert fid["volume_exact"]
    # 1e-9: float rounding of exact booleans on boxes (no sampling enters the volumes)
    assert fid["over_volume_ratio"] == pytest.approx(0.44, abs=1e-9)
    assert fid["under_volume_ratio"] == pytest.approx(0.44, abs=1e-9)
    assert fid["volume_ratio"] == pytest.approx(1.0, abs=1e-9)
    # a hull inside the part: nothing over, the rest under
    inner = Mesh.from_trimesh(box_between([0.02, 0.02, 0.02], [0.08, 0.08, 0.08]))
    fid = collision_fidelity(part, [inner], samples=2000, seed=0)
    assert fid["over_volume_ratio"] == pytest.approx(0.0, abs=1e-9)
    assert fid["under_volume_ratio"] == pytest.approx(1 - 0.216, abs=1e-9)
