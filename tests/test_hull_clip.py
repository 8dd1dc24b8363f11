"""Collision hulls kept inside what their part occupies (issue 13 item 7, issue 12 item 3):
two interlocking parts whose raw convex hulls overlap come out of the collision stage with
hulls disjoint by the stated clearance, and a hull that bulges below its part's support plane
is cut back to it. Truths: manifold3d's exact boolean intersection and minimum gap (not used by
the cutting, which is plain half-space clipping in numpy), and closed-form box geometry."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from n4d4d.asset import Asset, Joint, Mesh, Part
from n4d4d.physics_validation import collision_stage
from n4d4d.physics_validation.hull_clip import BOX_MARGIN_M, HULL_CLEARANCE_M
from n4d4d.physics_validation.hull_planes import clip_points

from boxes import box_between


def _solid(hulls):
    import manifold3d as mf

    return mf.Manifold.batch_boolean([mf.Manifold.hull_points(np.asarray(h.vertices)) for h in hulls], mf.OpType.Add)


def _mesh_solid(m: Mesh):
    import manifold3d as mf

    return mf.Manifold(mf.Mesh64(vert_properties=np.array(m.vertices, dtype=np.float64, order="C"),
                                 tri_verts=np.array(m.faces, dtype=np.uint64, order="C")))


def _sector_polygon(r_in: float, r_out: float, half_angle: float = np.radians(15.0)):
    """A 30-degree sector of a ring (radii in m) as a shapely polygon in the xy plane."""
    from shapely.geometry import Polygon

    t = np.linspace(-half_angle, half_angle, 24)
    return Polygon(np.vstack([np.column_stack([r_out * np.cos(t), r_out * np.sin(t)]),
                              np.column_stack([r_in * np.cos(t[::-1]), r_in * np.sin(t[::-1])])]))


def _sector(r_in: float, r_out: float, z0: float = 0.02) -> Mesh:
    """:func:`_sector_polygon` extruded 20 mm up from ``z0``: two of them, one inside the other,
    are PartNet camera 102417's knob rings in small (the outer sector's hull has a chord over its
    inner arc that bulges into the inner sector)."""
    tm = trimesh.creation.extrude_polygon(_sector_polygon(r_in, r_out), 0.02)
    tm.apply_translation([0, 0, z0])
    return Mesh.from_trimesh(tm)


def _asset(parts, joints=()):
    return Asset(name="clip", visual=parts[0].mesh, parts=tuple(parts), joints=tuple(joints))


def test_nested_parts_whose_hulls_overlap_get_hulls_disjoint_by_the_clearance():
    base = Part("base", Mesh.from_trimesh(box_between([-0.3, -0.3, 0.0], [0.3, 0.3, 0.02])))
    outer = Part("outer", _sector(0.050, 0.060))
    inner = Part("inner", _sector(0.040, 0.0495))  # 0.5 mm inside the outer one
    joints = [Joint(f"j_{p.name}", "continuous", "base", p.name, np.array([0.0, 0.0, 0.02]), np.array([0.0, 0, 1.0]))
              for p in (outer, inner)]
    so, si = _mesh_solid(outer.mesh), _mesh_solid(inner.mesh)
    assert (so ^ si).volume() == 0 and so.min_gap(si, 0.01) >= 4.9e-4  # the solids are 0.5 mm apart
    # the raw convex hulls overlap: the outer sector's chord is 50 (1 - cos 15 deg) = 1.7 mm inside
    # its inner arc, 1.2 mm into the inner sector
    raw = (_solid([Mesh.from_trimesh(outer.mesh.to_trimesh().convex_hull)])
           ^ _solid([Mesh.from_trimesh(inner.mesh.to_trimesh().convex_hull)])).volume()
    assert raw > 1e-8
    out = collision_stage(_asset([base, outer, inner], joints), time_budget_s=30.0)
    ho, hi = _solid(out.collision["outer"]), _solid(out.collision["inner"])
    # exact: no common volume, and at least the clearance apart (1e-9 m: float rounding of the cut)
    assert (ho ^ hi).volume() == pytest.approx(0.0, abs=1e-15)
    assert ho.min_gap(hi, 0.01) >= HULL_CLEARANCE_M - 1e-9
    # both turn about the z axis (continuous joints): the hulls stay apart at any angle between
    # them, since the cut keeps the outer hull outside a cylinder round the inner one
    from scipy.spatial.transform import Rotation

    for deg in (-40.0, -15.0, 15.0, 40.0):
        R = Rotation.from_euler("z", deg, degrees=True).as_matrix()
        turned = [Mesh(np.asarray(h.vertices) @ R.T, np.asarray(h.faces)) for h in out.collision["outer"]]
        assert (_solid(turned) ^ hi).volume() == pytest.approx(0.0, abs=1e-15), deg
    fig = out.stages[-1].figures["clip"]
    assert fig["clearance_m"] == HULL_CLEARANCE_M and fig["pairs_split"] >= 1 and fig["part_pairs_moving"] == 1
    # each part stays covered. The turning pair is cut by the cylinder round the inner sector's
    # farthest point (49.5 mm) plus the clearance: the outer hull keeps x >= 49.5 mm + clearance
    # (the tangent plane at its own bearing, x), which takes off the share of its cross-section
    # below that (shapely, exact for the polygon: 10% with the 1 mm clearance). 0.5% allowance:
    # the sector's arcs are 24-point polygons and its hull is reduced to 64 vertices.
    from shapely.geometry import box as rect

    section = _sector_polygon(0.050, 0.060)
    lost = section.intersection(rect(-1, -1, 0.0495 + HULL_CLEARANCE_M, 1)).area / section.area
    assert (_solid(out.collision["outer"]) ^ so).volume() / so.volume() >= 1 - lost - 0.005
    assert (_solid(out.collision["inner"]) ^ si).volume() / si.volume() >= 0.995
    for name in ("outer", "inner"):
        assert out.stages[-1].figures["parts"][name]["fidelity_passed"], name
    # the record's fidelity is the cut hulls' (re-measured); the figures before the cut are kept
    part = out.stages[-1].figures["parts"]["outer"]
    assert part["clip"]["before"]["volume_ratio"] > part["volume_ratio"]


def test_a_hull_below_its_parts_support_plane_is_cut_to_it():
    # a slab resting on z = 0 whose collision hull reaches 5 mm below it and 5 mm past one side
    # (as CoACD's remesh of an open input left 45332's link_4 6.6 mm below the ground): the cut
    # hull may pass the part's box by no more than BOX_MARGIN_M and is cut back to the face where
    # it passed by more, here exactly to z = 0 and x = 0.2 (closed form); the fidelity re-measured
    from n4d4d.physics_validation.hull_clip import clip_collision
    from n4d4d.physics_validation.thresholds import FidelityThresholds

    slab = Mesh.from_trimesh(box_between([0.0, 0.0, 0.0], [0.2, 0.1, 0.05]))
    bulge = Mesh.from_trimesh(box_between([0.0, 0.0, -0.005], [0.205, 0.1, 0.05]))
    asset = _asset([Part("slab", slab)])
    fig = {"slab": {"source": "decomposed", "hulls": 1, "volume_ratio": 1.2, "surface_distance_mean_pct": 1.0,
                    "surface_distance_p95_pct": 2.0, "fidelity_passed": True, "fidelity": {}}}
    hulls, parts, figures, _ = clip_collision(asset, {"slab": (bulge,)}, fig, fidelity=FidelityThresholds())
    v = np.vstack([h.vertices for h in hulls["slab"]])
    assert v[:, 2].min() == pytest.approx(0.0, abs=1e-12) and v[:, 0].max() == pytest.approx(0.2, abs=1e-12)
    lo, hi = slab.bounds
    assert (v >= lo - BOX_MARGIN_M - 1e-12).all() and (v <= hi + BOX_MARGIN_M + 1e-12).all()
    # the cut hull is the slab itself: volume ratio 1 and no surface distance (fidelity re-measured)
    assert parts["slab"]["volume_ratio"] == pytest.approx(1.0, abs=1e-9)
    assert parts["slab"]["surface_distance_p95_pct"] < 0.01 and parts["slab"]["clip"]["box_cut"] == 1
    assert figures["parts"]["slab"]["hull_volume_after_m3"] == pytest.approx(0.2 * 0.1 * 0.05, rel=1e-9)


def test_clip_points_matches_manifold3d_trim():
    import manifold3d as mf

    rng = np.random.default_rng(3)
    pts = rng.normal(size=(200, 3))
    planes = [(np.array([1.0, 0.2, -0.1]), 0.3), (np.array([-0.3, 1.0, 0.5]), 0.1)]
    cut = clip_points(pts, planes)
    m = mf.Manifold.hull_points(pts)
    for n, d in planes:  # keep n . x <= d: manifold keeps the side its normal points to
        m = m.trim_by_plane(tuple(-n), -d / np.linalg.norm(n))
    # exact clipping both ways: volumes agree to float rounding
    assert mf.Manifold.hull_points(cut).volume() == pytest.approx(m.volume(), rel=1e-9)


def test_pair_motions_read_the_joints_between_two_parts():
    # two knobs turning on one axis line (x through (0, 0.1, 0.2)) and a button sliding 4 mm
    # along -z, all on one body: the knob pair keeps planes perpendicular to x and a cylinder
    # about that line; a knob and the button keep only x planes, and the button's travel moves a
    # cut back by up to 4 mm along z (closed form: shift(n) = max over t in [-0.004, 0] of t n.z)
    from n4d4d.physics_validation.part_motion import colliding_pairs, pair_motions

    body = Part("body", Mesh.from_trimesh(box_between([-0.2, -0.2, 0.0], [0.2, 0.2, 0.3])))
    knob1 = Part("k1", Mesh.from_trimesh(box_between([0.2, 0.05, 0.15], [0.22, 0.15, 0.25])))
    knob2 = Part("k2", Mesh.from_trimesh(box_between([0.22, 0.05, 0.15], [0.24, 0.15, 0.25])))
    button = Part("b", Mesh.from_trimesh(box_between([0.0, 0.0, 0.3], [0.02, 0.02, 0.31])))
    o, x = np.array([0.0, 0.1, 0.2]), np.array([1.0, 0.0, 0.0])
    joints = [Joint("j1", "continuous", "body", "k1", o, x), Joint("j2", "continuous", "body", "k2", o + 0.01 * x, x),
              Joint("jb", "prismatic", "body", "b", np.zeros(3), np.array([0.0, 0.0, -1.0]), 0.0, 0.004)]
    asset = _asset([body, knob1, knob2, button], joints)
    pairs = colliding_pairs(asset)
    assert pairs == [(1, 2), (1, 3), (2, 3)]  # the body is every part's parent: never collided
    knobs, knob_button, _ = pair_motions(asset, pairs)
    assert np.allclose(np.abs(knobs.normals), [x]) and knobs.axis is not None
    assert np.allclose(knobs.axis[1], x) and np.linalg.norm(np.cross(knobs.axis[0] - o, x)) < 1e-12
    assert knob_button.axis is None and np.allclose(np.abs(knob_button.normals), [x])
    # seen from the knob (a), the button (b) slides along -z by up to 4 mm, so a moves along +z
    # relative to b by up to 4 mm: a's cut along +z moves back 4 mm, along -z not at all
    assert knob_button.shift(np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])) == pytest.approx(
        [0.004, 0.0, 0.0])


def test_a_cut_that_would_fail_a_passing_part_is_undone(monkeypatch):
    """A part whose hulls pass the fidelity bounds keeps them whole when its cuts would fail them
    (PartNet 45213's body, carved along its drawers' travel: volume ratio 1.18 -> 0.79). The
    cutting is replaced by one that keeps only x >= 57 mm of the outer sector's hulls (about 70%
    of it gone: its volume ratio falls far under the 0.85 bound); the stage must return the
    uncut hulls, their passing fidelity, and say so."""
    from n4d4d.physics_validation import hull_clip

    # a base of the sectors' own size: they are judged at their own scale, volume ratio included
    # (beside a large base they would be small parts, judged at the asset's scale)
    base = Part("base", Mesh.from_trimesh(box_between([0.0, -0.03, 0.0], [0.07, 0.03, 0.02])))
    outer = Part("outer", _sector(0.050, 0.060))
    inner = Part("inner", _sector(0.040, 0.0495))
    joints = [Joint(f"j_{p.name}", "continuous", "base", p.name, np.array([0.0, 0.0, 0.02]), np.array([0.0, 0, 1.0]))
              for p in (outer, inner)]
    real = hull_clip.clip_hulls
    seen = {}

    def carve(meshes, hulls, movable, pairs, **kw):
        out, fig = real(meshes, hulls, movable, pairs, **kw)
        k = next(i for i, m in enumerate(meshes) if abs(np.asarray(m.vertices).max(axis=0)[0] - 0.060) < 1e-4)
        seen["uncut"] = [np.asarray(h.vertices).copy() for h in hulls[k]]
        keep = [clip_points(np.asarray(h.vertices), [(np.array([-1.0, 0.0, 0.0]), -0.057)]) for h in hulls[k]]
        out[k] = [Mesh.from_trimesh(trimesh.convex.convex_hull(v)) for v in keep if len(v) >= 4]
        fig["parts"].setdefault(k, {"box_cut": 0, "neighbour_cut": 1, "dropped": 0, "lost_area_m2": 0.0})
        return out, fig

    monkeypatch.setattr(hull_clip, "clip_hulls", carve)
    out = collision_stage(_asset([base, outer, inner], joints), time_budget_s=30.0)
    part = out.stages[-1].figures["parts"]["outer"]
    assert part["fidelity_passed"] and "volume ratio" in part["clip"]["reverted"]
    assert [np.asarray(h.vertices).tolist() for h in out.collision["outer"]] == [v.tolist() for v in seen["uncut"]]
    assert any("outer's hulls were undone" in n for n in out.notes)
