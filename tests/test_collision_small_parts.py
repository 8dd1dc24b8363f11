"""A small part's fidelity is sampled in proportion to the scale it is judged at
(physics_validation.fidelity.measure).

Truth: the same figures measured with the full sample count. A part judged at the asset's scale
``k`` has its distances multiplied by ``k``; the sampling error of a mean falls as one over the
root of the count, so ``k^2`` of the samples keeps the judged error at the full count's.
"""

from __future__ import annotations

import numpy as np
import trimesh
import pytest

from n4d4d.asset import Mesh
from n4d4d.physics_validation.fidelity import SMALL_PART_SAMPLES, measure
from n4d4d.physics_validation.hulls import hull_of
from n4d4d.physics_validation.thresholds import FidelityThresholds


def test_small_part_samples_scale_with_the_square_of_its_asset_scale():
    part = trimesh.creation.annulus(r_min=0.004, r_max=0.006, height=0.003)  # a 12 mm ring: concave
    mesh = Mesh(np.asarray(part.vertices), np.asarray(part.faces))
    hull = hull_of(mesh.vertices)
    hulls = [Mesh(np.asarray(hull.vertices), np.asarray(hull.faces))]
    th = FidelityThresholds()
    asset = 20 * mesh.diagonal  # the part is 1/20 of its asset: 20,000 * 0.05^2 = 50 -> the floor
    small = measure(mesh, hulls, th, 0, asset)
    assert small["samples"] == SMALL_PART_SAMPLES and abs(small["asset_scale"] - 0.05) < 1e-12
    full = measure(mesh, hulls, th, 0, None)
    assert full["samples"] == th.samples and "asset_scale" not in full
    # judged at the asset's scale, both counts give the same figures within the sampling error
    # of 2,000 points (the hull's distances here spread ~0.1 of the part's diagonal: 3 standard
    # errors of the mean, 3 * 0.1 / sqrt(2000) = 0.7% of the part's diagonal, times 0.05)
    k = small["asset_scale"]
    assert abs(k * small["mean_pct"] - k * full["mean_pct"]) < 0.05 * 0.7
    assert abs(small["volume_ratio"] - full["volume_ratio"]) < 1e-9  # volumes are exact, not sampled


def test_file_colliders_of_a_big_part_are_judged_at_its_own_scale():
    from n4d4d.physics_validation.stages import file_colliders

    box = trimesh.creation.box((0.2, 0.1, 0.05))
    mesh = Mesh(np.asarray(box.vertices), np.asarray(box.faces))
    # a collider that misses half the part: volume ratio 0.5, a miss at the part's own scale
    half = trimesh.creation.box((0.1, 0.1, 0.05))
    half.apply_translation((0.05, 0.0, 0.0))
    given = (Mesh(np.asarray(half.vertices), np.asarray(half.faces)),)
    _, big = file_colliders(mesh, given, asset_diagonal=1.2 * mesh.diagonal)  # most of its asset
    assert "asset_scale" not in big["fidelity"] and not big["fidelity_passed"]  # 0.5 < 0.85 fails
    assert abs(big["volume_ratio"] - 0.5) < 1e-9  # half the box (exact booleans)
    _, small = file_colliders(mesh, given, asset_diagonal=20 * mesh.diagonal)  # 1/20 of its asset
    assert abs(small["fidelity"]["asset_scale"] - 0.05) < 1e-12  # judged at the asset's scale


def test_a_small_part_whose_one_hull_wraps_a_neighbour_gets_coacd_hulls_that_clear_it():
    """A U-shaped button (4 x 2 x 2 cm, a 1.1 cm slot) round a 1 cm cube button, both sliding on a
    60 cm base, solids 0.5 mm apart: the U's convex hull holds the cube whole, and any plane
    between them uncovers most of the U (phone 103251's link_4 / link_5: 10 mm of overlap left).
    The U gets CoACD hulls (its three slabs) and the hulls of the two come out disjoint. Truth:
    manifold3d's exact intersection of the hull unions (none at all, to float round-off)."""
    import manifold3d as mf

    from boxes import box_between

    from n4d4d.asset import Asset, Joint, Part
    from n4d4d.physics_validation import collision_stage

    def solid(hulls):
        return mf.Manifold.batch_boolean([mf.Manifold.hull_points(np.asarray(h.vertices)) for h in hulls],
                                         mf.OpType.Add)

    slabs = [box_between([0.0, 0.0, 0.02], [0.0145, 0.02, 0.04]), box_between([0.0255, 0.0, 0.02], [0.04, 0.02, 0.04]),
             box_between([0.0, 0.0, 0.02], [0.04, 0.02, 0.025])]
    u = trimesh.boolean.union(slabs, engine="manifold")  # slot x 14.5-25.5 mm, above z = 25 mm
    cube = box_between([0.015, 0.005, 0.0255], [0.025, 0.015, 0.0355])  # 0.5 mm from the slot's walls
    base = box_between([-0.3, -0.3, -0.02], [0.3, 0.3, 0.0195])
    parts = (Part("base", Mesh.from_trimesh(base)), Part("u", Mesh.from_trimesh(u)), Part("cube", Mesh.from_trimesh(cube)))
    joints = tuple(Joint(f"j_{n}", "prismatic", "base", n, np.array([0.02, 0.01, 0.02]), np.array([0.0, 0.0, 1.0]),
                         lower=-0.0002, upper=0.0) for n in ("u", "cube"))
    asset = Asset(name="buttons", visual=parts[0].mesh, parts=parts, joints=joints)
    one = solid([Mesh.from_trimesh(u.convex_hull)]) ^ solid([Mesh.from_trimesh(cube)])
    assert one.volume() > 0.9 * 1e-6  # the U's one hull holds nearly all of the 1 cm^3 cube
    out = collision_stage(asset, time_budget_s=30.0)
    fig = out.stages[-1].figures
    common = solid(out.collision["u"]) ^ solid(out.collision["cube"])
    assert common.volume() == pytest.approx(0.0, abs=1e-12)  # disjoint hulls (float round-off of cuts)
    assert "u" in fig["clip"]["fast_path_blocked"] and fig["parts"]["u"]["method"] != "convex"
    assert len(out.collision["u"]) >= 2
