"""The contact filter of the Newton rest and drop checks (physics_validation.contact_filter):
the link pairs it skips never touch at any joint configuration within range (PyBullet's GJK
distance as the independent truth), a pair whose travel does touch is kept, the annuli of
coaxial rings hold every turned point, the premise check catches a joint past its range, and
the Newton checks give the same verdicts with the filter as without while testing fewer pairs.
"""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.asset import Asset, Joint, Mesh, Part
from n4d4d.conventions import xyzw_to_wxyz
from n4d4d.kinematics import axis_angle_matrix
from n4d4d.physics_validation import collision_stage, mass_stage
from n4d4d.physics_validation.contact_filter import (PAD_M, annuli, clear_pairs, excursion, skipped_shape_pairs,
                                                     unproven)
from n4d4d.physics_validation.rigid_model import link_transforms, rigid_model


def _block(extents, centre):
    import trimesh

    m = trimesh.creation.box(extents=extents)
    m.apply_translation(centre)
    return m


def _keypad() -> Asset:
    """A 20 x 10 x 2 cm plate with four 1 cm buttons pressed down 6 mm on prismatic joints:
    three in a row 4 cm apart, and a fourth whose press (along -X, 1.5 cm) runs into the third."""
    import trimesh

    meshes = {"plate": _block([0.2, 0.1, 0.02], [0.0, 0.0, 0.01])}
    joints = []
    for k, x in enumerate([-0.06, -0.02, 0.02]):
        meshes[f"b{k}"] = _block([0.01, 0.01, 0.008], [x, 0.0, 0.026])
        joints.append(Joint(name=f"press{k}", type="prismatic", parent="plate", child=f"b{k}",
                            origin=np.array([x, 0.0, 0.022]), axis=np.array([0.0, 0.0, -1.0]), lower=0.0, upper=0.006,
                            effort=5.0, velocity=0.1))
    meshes["slider"] = _block([0.01, 0.01, 0.008], [0.04, 0.0, 0.026])
    joints.append(Joint(name="slide", type="prismatic", parent="plate", child="slider",
                        origin=np.array([0.04, 0.0, 0.022]), axis=np.array([-1.0, 0.0, 0.0]), lower=0.0, upper=0.015,
                        effort=5.0, velocity=0.1))
    parts = tuple(Part(n, Mesh.from_trimesh(m)) for n, m in meshes.items())
    visual = Mesh.from_trimesh(trimesh.util.concatenate(list(meshes.values())))
    return Asset(name="keypad", visual=visual, parts=parts, joints=tuple(joints))


@pytest.fixture(scope="module")
def keypad():
    return mass_stage(collision_stage(_keypad()))


def _distance(world, i, j, transforms, within=0.05):
    """PyBullet's GJK distance (m) between links i and j (the margin added back), or ``within``."""
    world.set_poses(transforms)
    pts = world.client.getClosestPoints(world.bodies[i], world.bodies[j], within)
    return min((p[8] for p in pts), default=within)


def test_skipped_pairs_never_touch_within_range_and_a_pair_that_does_is_kept(keypad):
    from n4d4d.physics_validation.penetration import HullWorld

    model = rigid_model(keypad)
    clear = clear_pairs(model)
    names = [link.name for link in model.links]
    skipped = {tuple(sorted((names[i], names[j]))) for i, j in clear.pairs}
    # buttons 4 cm apart are skipped; the slider reaches the third button (1 cm apart, 1.5 cm press)
    assert {("b0", "b1"), ("b1", "b2"), ("b0", "slider")} <= skipped
    assert ("b2", "slider") not in skipped
    rng = np.random.default_rng(0)
    joints = [link.joint for link in model.links if link.joint is not None]
    worst = np.inf
    touched = False
    b2, sl = names.index("b2"), names.index("slider")
    with HullWorld(model) as world:
        for _ in range(40):  # random configurations across every joint's range
            q = {j.name: float(rng.uniform(j.lower, j.upper)) for j in joints}
            tf = link_transforms(model, q)
            worst = min(worst, min(_distance(world, i, j, tf) for i, j in clear.pairs))
            touched |= _distance(world, b2, sl, tf) <= 1e-4
    # Bullet's distance is exact to its margin handling (~1e-5 m); the proof says > 2 PAD_M less grid error
    assert worst > PAD_M, worst
    assert touched  # the kept pair really meets: the filter did not skip a pair that can touch


def test_excursion_is_zero_for_motion_in_range_and_catches_a_joint_past_it(keypad):
    from scipy.spatial.transform import Rotation

    model = rigid_model(keypad)
    clear = clear_pairs(model)
    com = np.array([np.asarray(link.mass.center_of_mass) for link in model.links])
    R, t = Rotation.from_euler("xyz", [0.4, -0.3, 1.1]).as_matrix(), np.array([0.3, -0.2, 0.5])

    def run(coords):  # a root tumbling through space, joints following ``coords`` (T, joints)
        T = len(coords)
        spin = Rotation.from_rotvec(np.linspace(0, 1, T)[:, None] * [2.0, 1.0, -0.5]).as_matrix()
        drift = np.linspace(0, 1, T)[:, None] * [0.1, 0.2, -0.3]
        pos, quat = np.zeros((T, len(com), 3)), np.zeros((T, len(com), 4))
        for k, q in enumerate(coords):
            names = [link.joint.name for link in model.links if link.joint is not None]
            tf = link_transforms(model, dict(zip(names, q)), root=(spin[k] @ R, t + drift[k]))
            for i, (Ri, ti) in enumerate(tf):
                pos[k, i] = Ri @ com[i] + ti
                quat[k, i] = xyzw_to_wxyz(Rotation.from_matrix(Ri).as_quat())
        return pos, quat

    uppers = np.array([link.joint.upper for link in model.links if link.joint is not None])
    inside = np.linspace(0, 1, 30)[:, None] * uppers
    pos, quat = run(inside)
    # the first state is the placed pose: every joint at 0
    assert excursion(clear, pos, quat, pos[0], quat[0], (R, t)) < 1e-9  # round-off of the rotations
    assert unproven(clear, pos, quat, pos[0], quat[0], (R, t)) == []
    past = inside.copy()
    past[-1, 0] = uppers[0] + 0.01  # button 0 pressed 1 cm past its stop (SLACK_M is 2 mm)
    pos, quat = run(past)
    assert excursion(clear, pos, quat, pos[0], quat[0], (R, t)) > PAD_M
    # still 3 cm from its neighbours: the run shows every skipped pair apart all the same
    assert unproven(clear, pos, quat, pos[0], quat[0], (R, t)) == []
    # button 0 torn off its joint and carried 3.2 cm along +X, 0.8 cm from button 1 (4 cm away, 1 cm wide)
    names = [link.name for link in model.links]
    b0, b1 = names.index("b0"), names.index("b1")
    pos, quat = run(inside)
    torn = pos.copy()
    torn[-1, b0] = pos[-1, b0] + _world_x(quat[-1, names.index("plate")]) * 0.032
    assert (min(b0, b1), max(b0, b1)) in unproven(clear, torn, quat, pos[0], quat[0], (R, t))


def _world_x(plate_quat_wxyz):
    """The plate's rest +X axis in the world at a recorded orientation (rest axes = asset axes)."""
    from scipy.spatial.transform import Rotation

    from n4d4d.conventions import wxyz_to_xyzw

    return Rotation.from_quat(wxyz_to_xyzw(plate_quat_wxyz)).as_matrix() @ np.array([1.0, 0.0, 0.0])


def _ring_wedges(r_in, r_out, z0, z1, n=8):
    """``n`` convex wedges (vertex arrays) of a ring about the z axis, each spanning 2 pi / n."""
    out = []
    for k in range(n):
        a = np.array([k, k + 1]) * 2 * np.pi / n
        ring = [[r * np.cos(x), r * np.sin(x), z] for r in (r_in, r_out) for x in a for z in (z0, z1)]
        out.append(np.array(ring))
    return out


def test_annuli_hold_every_turned_point_and_the_inner_chord():
    axis = (np.zeros(3), np.array([0.0, 0.0, 1.0]))
    wedges = _ring_wedges(0.02, 0.03, 0.0, 0.01)
    ann = annuli(wedges, axis)
    # inner bound is the chord's distance r_in cos(pi / n), below the vertices' radius r_in
    assert np.allclose(ann[:, 2], 0.02 * np.cos(np.pi / 8), atol=1e-12)
    assert np.allclose(ann[:, 3], 0.03) and np.allclose(ann[:, :2], [0.0, 0.01])
    rng = np.random.default_rng(1)
    for w, (z0, z1, r0, r1) in zip(wedges, ann):
        pts = rng.dirichlet(np.ones(len(w)), 2000) @ w  # points inside the wedge
        pts = np.vstack([pts, 0.5 * (w[0] + w[2])])  # the inner chord's midpoint: radius r0 exactly
        turned = pts @ axis_angle_matrix(axis[1], rng.uniform(0, 2 * np.pi)).T
        r, z = np.linalg.norm(turned[:, :2], axis=1), turned[:, 2]
        assert (r >= r0 - 1e-12).all() and (r <= r1 + 1e-12).all() and (z >= z0 - 1e-12).all() and (z <= z1 + 1e-12).all()
        assert r.min() == pytest.approx(r0, abs=1e-12)


def _hulls(wedges):
    import trimesh

    return tuple(Mesh.from_trimesh(trimesh.convex.convex_hull(w)) for w in wedges)


def test_coaxial_rings_are_filtered_shape_by_shape():
    """A hub with two rings on continuous joints about the same z axis: their boxes overlap
    (each contains the axis), so only the annuli can separate them, shape by shape."""
    from dataclasses import replace

    import trimesh

    inner, outer, tight = (_ring_wedges(0.01, 0.02, 0.0, 0.01), _ring_wedges(0.03, 0.04, 0.0, 0.01),
                           _ring_wedges(0.0205, 0.03, 0.0, 0.01))
    hub = _block([0.01, 0.01, 0.02], [0.0, 0.0, 0.01])
    meshes = {"hub": hub, "inner": trimesh.util.concatenate([trimesh.convex.convex_hull(w) for w in inner]),
              "outer": trimesh.util.concatenate([trimesh.convex.convex_hull(w) for w in outer])}
    joints = tuple(Joint(name=f"turn_{n}", type="continuous", parent="hub", child=n, origin=np.zeros(3),
                         axis=np.array([0.0, 0.0, 1.0]), lower=-np.inf, upper=np.inf, effort=1.0, velocity=1.0)
                   for n in ("inner", "outer"))
    parts = tuple(Part(n, Mesh.from_trimesh(m)) for n, m in meshes.items())
    rings = Asset(name="rings", visual=Mesh.from_trimesh(trimesh.util.concatenate(list(meshes.values()))),
                  parts=parts, joints=joints)
    hulls = {"hub": (Mesh.from_trimesh(hub),), "inner": _hulls(inner), "outer": _hulls(outer)}
    model = rigid_model(mass_stage(replace(rings, collision=hulls)))
    clear = clear_pairs(model)
    names = [link.name for link in model.links]
    i, o = names.index("inner"), names.index("outer")
    assert (min(i, o), max(i, o)) in clear.coaxial and (min(i, o), max(i, o)) not in clear.pairs  # boxes overlap
    shape_link = np.array([i] * 8 + [o] * 8)
    pairs = np.array([(a, 8 + b) for a in range(8) for b in range(8)])
    # outer ring: radial gap 0.03 cos(pi/8) - 0.02 = 7.7 mm > 2 PAD_M, every pair skipped
    assert skipped_shape_pairs(clear, pairs, shape_link, inner + outer).all()
    # a ring 0.5 mm out at its vertices reaches 0.0205 cos(pi/8) = 18.9 mm < 20 mm at its chords: none skipped
    assert not skipped_shape_pairs(clear, pairs, shape_link, inner + tight).any()


def test_newton_checks_skip_pairs_and_agree_with_every_pair_tested(tmp_path):
    """shapes.cabinet: the drawers, lid and knob never meet each other at rest or in the drops,
    so Newton tests fewer shape pairs in one run and its verdicts and measures are those of the
    run that tests every pair (a skipped pair that stays apart adds no force in XPBD)."""
    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation import shapes
    from n4d4d.physics_validation.newton_check import check_newton

    cab = mass_stage(collision_stage(shapes.cabinet()))
    usd = write_usd(cab, tmp_path / "cabinet.usda")
    on, off = (check_newton(cab, usd_path=usd, contact_filter=f) for f in (True, False))
    f = on["contact_filter"]
    assert f["runs"] == 1 and f["link_pairs_skipped"] > 0 and f["tested"] < f["shape_pairs"]
    assert off["contact_filter"]["tested"] == off["contact_filter"]["shape_pairs"]
    assert [c.passed for c in on["checks"]] == [c.passed for c in off["checks"]]
    for a, b in zip(on["checks"], off["checks"]):
        for k, v in a.measured.items():
            if isinstance(v, float) and np.isfinite(v):
                # the same physics; contact order differs, so float sums may differ by round-off
                assert v == pytest.approx(b.measured[k], rel=1e-4, abs=1e-6), k
