"""Hollow parts weigh their walls: shell mass and inertia against closed forms and MuJoCo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from n4d4d.asset import Asset, Mesh, Part


def _mesh(tm) -> Mesh:
    return Mesh(np.asarray(tm.vertices), np.asarray(tm.faces))


def _carcass(w=0.9, d=0.5, h=1.4, t=0.03):
    """A cabinet carcass: a closed box of panels ``t`` thick, open at the front (manifold3d)."""
    import trimesh

    outer = trimesh.creation.box(extents=[w, d, h])
    inner = trimesh.creation.box(extents=[w - 2 * t, d, h - 2 * t],
                                 transform=trimesh.transformations.translation_matrix([0, t, 0]))
    return trimesh.boolean.difference([outer, inner], engine="manifold")


def test_thin_box_shell_closed_form():
    """Mass on the surface of an a x b x c box (surface density s): m = s A and, about the
    centre, I_zz = s [2ab (a^2 + b^2)/12 + 2bc (b^2/12 + a^2/4) + 2ac (a^2/12 + b^2/4)], the sum
    of its six plates (parallel axis theorem). The triangle integrals are exact: 1e-9."""
    import trimesh

    from n4d4d.physics_validation.mass import surface_mass_properties

    a, b, c, s = 0.3, 0.5, 0.7, 2.5
    p = surface_mass_properties(_mesh(trimesh.creation.box(extents=[a, b, c])), s)
    area = 2 * (a * b + b * c + a * c)
    assert abs(p.mass - s * area) < 1e-12

    def i_axis(a, b, c):  # about the axis along c
        return s * (2 * a * b * (a**2 + b**2) / 12 + 2 * b * c * (b**2 / 12 + a**2 / 4)
                    + 2 * a * c * (a**2 / 12 + b**2 / 4))

    expected = np.diag([i_axis(b, c, a), i_axis(a, c, b), i_axis(a, b, c)])
    assert np.allclose(p.inertia, expected, rtol=1e-9, atol=1e-15)
    assert np.allclose(p.center_of_mass, 0.0, atol=1e-15)


def test_spherical_shell_against_exact_hollow_sphere():
    """A 1 mm wall under a sphere of R = 0.1 m against the exact hollow sphere
    (m = rho 4/3 pi (R^3 - r^3), I = 2/5 m (R^5 - r^5) / (R^3 - r^3)): the mid-surface model is
    exact to (t/R)^2 = 1e-4; the icosphere's area falls short of the sphere's by 0.1% (its
    inertia by 0.2%): 0.3% allowed. Its inertia is a shell's, about 2/3 m R^2, not a solid's
    2/5 m R^2."""
    import trimesh

    from n4d4d.physics_validation.mass import shell_mass_properties

    R, t, rho = 0.1, 0.001, 1000.0
    r = R - t
    p = shell_mass_properties(_mesh(trimesh.creation.icosphere(subdivisions=5, radius=R)), t, density=rho)
    m = rho * 4 / 3 * math.pi * (R**3 - r**3)
    inertia = 0.4 * m * (R**5 - r**5) / (R**3 - r**3)
    assert abs(p.mass / m - 1) < 0.003
    assert np.allclose(p.principal_moments, inertia, rtol=0.003)
    assert abs(p.principal_moments[0] / (p.mass * R**2) - 2 / 3) < 0.01  # mid-surface at R - t/2
    assert abs(p.volume - p.mass / rho) < 1e-15


def test_shell_matches_mujoco_shell_inertia(tmp_path):
    """MuJoCo's mesh inertia "shell" (mass on the surface, density per m^2) on a non-convex,
    off-centre mesh: same mass, COM and inertia (1e-6 relative: MuJoCo stores float32-rounded
    vertices)."""
    import mujoco
    import trimesh

    from n4d4d.physics_validation.mass import surface_mass_properties

    tm = _carcass(0.4, 0.3, 0.5, 0.02)
    tm.apply_translation([0.1, -0.2, 0.3])
    tm.export(tmp_path / "c.stl")
    xml = f"""<mujoco><compiler meshdir="{tmp_path}"/><asset><mesh name="c" file="c.stl" inertia="shell"/></asset>
      <worldbody><body name="b"><freejoint/><geom type="mesh" mesh="c" density="3.0"/></body></worldbody></mujoco>"""
    model = mujoco.MjModel.from_xml_string(xml)
    ours = surface_mass_properties(_mesh(tm), 3.0)
    assert abs(model.body_mass[1] / ours.mass - 1) < 1e-6
    assert np.allclose(np.sort(model.body_inertia[1]), ours.principal_moments, rtol=1e-5)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    assert np.allclose(data.xipos[1], ours.center_of_mass, atol=1e-6)


def test_mass_model_decisions():
    import trimesh

    from n4d4d.physics_validation.mass import mass_model

    carcass = mass_model(_mesh(_carcass()))
    assert carcass["model"] == "shell" and carcass["sides"] == 2
    assert carcass["wall_thickness_m"] == pytest.approx(0.014)  # 1% of the 1.4 m longest side, under 2V/A
    assert mass_model(_mesh(trimesh.creation.box(extents=[0.2, 0.2, 0.2])))["model"] == "solid"
    panel = mass_model(_mesh(trimesh.creation.box(extents=[0.9, 1.2, 0.02])))  # a board: convex, solid
    assert panel["model"] == "solid" and panel["thin_walled"] is False
    hollow = trimesh.util.concatenate([trimesh.creation.icosphere(radius=0.1),
                                       trimesh.creation.icosphere(radius=0.09)])
    hollow.faces[len(hollow.faces) // 2:] = hollow.faces[len(hollow.faces) // 2:, ::-1]  # inner wall inward
    assert mass_model(_mesh(hollow))["cavity"] is True and mass_model(_mesh(hollow))["model"] == "solid"
    assert mass_model(_mesh(_carcass()), shell_thickness=0)["model"] == "solid"
    forced = mass_model(_mesh(trimesh.creation.box(extents=[0.2, 0.2, 0.2])), shell_thickness=0.002)
    assert forced["model"] == "shell" and forced["sides"] == 1 and forced["wall_thickness_m"] == 0.002


def test_mass_stage_weighs_walls_and_reports_them():
    """A carcass of 3 cm panels (as voxel closing leaves them) weighs its 14 mm board walls:
    rho * (A/2) * 0.014; ``--shell-thickness 0`` gives the solid's rho V; ``--mass`` spreads by
    wall volume."""
    from n4d4d.physics_validation import mass_stage

    tm = _carcass()
    part = Part("body", _mesh(tm))
    asset = Asset("cab", visual=part.mesh, parts=(part,))
    shell = mass_stage(asset, density=500.0)
    assert shell.mass["body"].mass == pytest.approx(500.0 * tm.area / 2 * 0.014, rel=1e-7)  # float sums
    fig = shell.stages[-1].figures["parts"]["body"]["mass_model"]
    assert fig["model"] == "shell" and fig["wall_thickness_m"] == pytest.approx(0.014)
    solid = mass_stage(asset, density=500.0, shell_thickness=0.0)
    assert solid.mass["body"].mass == pytest.approx(500.0 * tm.volume, rel=1e-9)
    assert solid.mass["body"].mass > 2 * shell.mass["body"].mass
    given = mass_stage(asset, mass=20.0)
    assert given.mass["body"].mass == pytest.approx(20.0)
    # inertia of the walls scales with their mass, shape for shape (same surface)
    ratio = given.mass["body"].principal_moments / shell.mass["body"].principal_moments
    assert np.allclose(ratio, 20.0 / shell.mass["body"].mass, rtol=1e-9)
