"""Mass properties against closed forms: box and sphere inertia, mass from density or total mass."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from n4d4d.asset import Mesh
from n4d4d.errors import EmptyMeshError
from n4d4d.physics_validation import mass_stage
from n4d4d.physics_validation.mass import mass_properties
from n4d4d.physics_validation.shapes import box, hinged_arm


def _box_inertia(m, a, b, c):
    return m / 12.0 * np.array([b * b + c * c, a * a + c * c, a * a + b * b])


def test_box_matches_closed_form():
    a, b, c, rho = 0.1, 0.2, 0.3, 700.0
    tm = trimesh.creation.box(extents=[a, b, c])
    tm.apply_translation([1.0, -2.0, 0.5])
    mp = mass_properties(Mesh.from_trimesh(tm), density=rho)
    m = rho * a * b * c
    # A box mesh is exact: volume integrals over its 12 triangles are exact up to round-off;
    # the 2 m offset costs a few digits in the parallel-axis shift back to the COM (1e-9).
    assert mp.mass == pytest.approx(m, rel=1e-12)
    np.testing.assert_allclose(mp.center_of_mass, [1.0, -2.0, 0.5], atol=1e-12)
    np.testing.assert_allclose(mp.inertia, np.diag(_box_inertia(m, a, b, c)), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mp.principal_moments, np.sort(_box_inertia(m, a, b, c)), rtol=1e-9)


def test_rotated_box_principal_axes():
    a, b, c = 0.1, 0.2, 0.4
    rot = Rotation.from_euler("xyz", [0.3, -0.7, 1.1])
    tm = trimesh.creation.box(extents=[a, b, c])
    T = np.eye(4)
    T[:3, :3] = rot.as_matrix()
    tm.apply_transform(T)
    mp = mass_properties(Mesh.from_trimesh(tm), mass=2.0)
    moments = _box_inertia(2.0, a, b, c)
    np.testing.assert_allclose(mp.principal_moments, np.sort(moments), rtol=1e-9)
    assert np.all(np.diff(mp.principal_moments) >= 0)
    # Columns of the principal quaternion's matrix are the box axes (up to sign) in
    # ascending-moment order; R diag(moments) R^T must rebuild the tensor.
    R = Rotation.from_quat(mp.principal_axes, scalar_first=True).as_matrix()  # (w, x, y, z)
    np.testing.assert_allclose(R @ np.diag(mp.principal_moments) @ R.T, mp.inertia, atol=1e-12)
    order = np.argsort(moments)
    for k in range(3):
        assert abs(abs(R[:, k] @ rot.as_matrix()[:, order[k]]) - 1.0) < 1e-9
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_sphere_matches_closed_form():
    r, rho = 0.05, 1000.0
    tm = trimesh.creation.icosphere(subdivisions=5, radius=r)
    mp = mass_properties(Mesh.from_trimesh(tm), density=rho)
    m_exact = rho * 4.0 / 3.0 * np.pi * r**3
    # The 20,480-face icosphere is inscribed in the sphere: its volume is 0.1% short, its
    # second moment ~0.2% short (both scale with the faceting depth); 0.5% covers both.
    assert mp.mass == pytest.approx(m_exact, rel=5e-3)
    np.testing.assert_allclose(mp.principal_moments, 0.4 * m_exact * r * r, rtol=5e-3)
    # Against the polytope's own mass the 2/5 m r^2 law holds closer still.
    np.testing.assert_allclose(np.diag(mp.inertia), 0.4 * mp.mass * r * r, rtol=3e-3)


def test_mass_gives_density_and_errors():
    tm = trimesh.creation.box(extents=[0.1, 0.1, 0.1])
    mp = mass_properties(Mesh.from_trimesh(tm), mass=3.0)
    assert mp.mass == pytest.approx(3.0)
    assert mp.density == pytest.approx(3.0 / 1e-3)
    with pytest.raises(ValueError):
        mass_properties(Mesh.from_trimesh(tm), density=1.0, mass=1.0)
    with pytest.raises(ValueError):
        mass_properties(Mesh.from_trimesh(tm))
    flat = Mesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0]], faces=[[0, 1, 2]])
    with pytest.raises(EmptyMeshError):
        mass_properties(flat, density=1.0)
    inverted = Mesh(vertices=tm.vertices, faces=np.asarray(tm.faces)[:, ::-1])
    with pytest.raises(EmptyMeshError):
        mass_properties(inverted, density=1.0)


def test_mass_stage_distributes_total_mass_by_volume():
    asset = hinged_arm()
    out = mass_stage(asset, mass=10.0)
    v_base, v_arm = 0.2 * 0.2 * 0.1, 0.2 * 0.04 * 0.02
    assert out.mass["base"].mass + out.mass["arm"].mass == pytest.approx(10.0)
    assert out.mass["base"].mass / out.mass["arm"].mass == pytest.approx(v_base / v_arm)
    assert out.stages[-1].name == "mass" and out.stages[-1].figures["total_mass_kg"] == pytest.approx(10.0)
    default = mass_stage(box())  # the material's density (500 kg/m^3)
    assert default.mass["base"].mass == pytest.approx(500.0 * 0.1 * 0.15 * 0.2)


def test_overlapping_shells_count_their_overlap_once():
    from n4d4d.asset import Asset, Part

    a = trimesh.creation.box(extents=[0.1, 0.1, 0.1])
    b = trimesh.creation.box(extents=[0.1, 0.1, 0.1])
    b.apply_translation([0.05, 0.0, 0.0])  # half overlapping: the solid is 0.15 x 0.1 x 0.1 m
    part = Part("base", Mesh.from_trimesh(trimesh.util.concatenate([a, b])))
    out = mass_stage(Asset(name="twin", parts=(part,)), density=1000.0)
    assert out.mass["base"].mass == pytest.approx(1000.0 * 0.15 * 0.1 * 0.1, rel=1e-9)
    assert out.mass["base"].center_of_mass[0] == pytest.approx(0.025, abs=1e-9)
    assert "union" in out.stages[-1].figures["parts"]["base"]["volume_source"]
