"""Reconstruction metrics against closed forms (concentric spheres), and the decoded-band extraction."""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.asset import Mesh
from n4d4d.generator.metrics import compare_meshes, count_solids, summarise
from test_volume import box_sdf


def _sphere(r, centre=(0, 0, 0), subdivisions=5):
    import trimesh

    return Mesh.from_trimesh(trimesh.creation.icosphere(subdivisions, radius=r).apply_translation(centre))


def test_concentric_spheres_match_closed_forms():
    ref, pred = _sphere(1.0), _sphere(1.1)
    f = compare_meshes(pred, ref, n_points=20_000, n_volume=100_000)
    # every point of one sphere is 0.1 from the other; the nearest *sample* adds a lateral offset of
    # about the sample spacing (sqrt(4 pi / 20000) = 0.025): sqrt(0.1^2 + 0.0125^2) - 0.1 < 0.001
    assert f["chamfer_l1"] == pytest.approx(0.1, abs=0.003)
    assert f["chamfer_l1_rel"] == pytest.approx(f["chamfer_l1"] / ref.diagonal)
    # tau = 1% of the diagonal 2 sqrt(3) = 0.035 < 0.1: no point is a hit
    assert f["fscore"] == 0.0
    assert f["normal_consistency"] == pytest.approx(1.0, abs=2e-3)
    # IoU = (1 / 1.1)^3 = 0.751; Monte Carlo over the 2.2^3 box: ~52% of 1e5 points are in the
    # union, standard error of the ratio ~0.002, tolerance 0.008
    assert f["iou"] == pytest.approx(1 / 1.1**3, abs=0.008)
    assert f["watertight"] and f["solids"] == 1 and f["single_volume"] and f["ref_solids"] == 1
    # 0.02 apart (< tau): a hit needs a nearest sample within sqrt(tau^2 - 0.02^2) = 0.028 laterally;
    # with 50000 samples (spacing 0.016) only samples in rare sampling gaps miss
    near = compare_meshes(_sphere(1.02), ref, n_points=50_000)
    assert near["fscore"] > 0.99 and near["iou"] == pytest.approx(1 / 1.02**3, abs=0.005)


def test_far_sphere_scores_zero_and_solids_count_outer_shells():
    import trimesh

    ref = _sphere(1.0)
    far = _sphere(1.0, centre=(0.5, 0, 0))
    f = compare_meshes(far, ref, n_points=5_000)
    assert f["fscore"] < 0.1 and 0.4 < f["iou"] < 0.6  # two unit balls 0.5 apart: IoU 0.52
    hollow = trimesh.boolean.difference([trimesh.creation.icosphere(3, radius=1.0),
                                         trimesh.creation.icosphere(3, radius=0.5)], engine="manifold")
    two = trimesh.util.concatenate([trimesh.creation.box([1, 1, 1]),
                                    trimesh.creation.box([1, 1, 1]).apply_translation([3, 0, 0])])
    assert count_solids(hollow) == 1 and count_solids(two) == 2
    s = summarise([f, {**f, "fscore": 0.0, "watertight": False}])
    assert s["fscore"] == pytest.approx(f["fscore"] / 2) and s["watertight"] == 0.5 and s["n"] == 2


def test_decoded_surface_of_a_true_band_equals_the_exact_extraction():
    """On a true narrow band the dense sign fill must agree with n4d4d.volume's exact extraction
    (a shape without walls thinner than a voxel: there the two extractions differ in small shells)."""
    from n4d4d.generator.codec import decoded_surface, pack
    from n4d4d.generator.procedural import make_shape
    from n4d4d.volume import compute_sparse_sdf, extract_surface

    sdf = compute_sparse_sdf(make_shape("animal", 1).visual, resolution=48)
    ref = extract_surface(sdf)
    ours = decoded_surface(sdf)
    f = compare_meshes(ours, ref, n_points=20_000)
    assert f["watertight"] and f["fscore"] > 0.999 and f["solids"] == f["ref_solids"] == 1
    # re-packing the same nodes in another order gives the identical volume
    perm = np.random.default_rng(0).permutation(sdf.n_nodes)
    again = pack(sdf.coords[perm], sdf.values[perm], sdf)
    assert np.array_equal(again.coords, sdf.coords) and np.array_equal(again.values, sdf.values)
    again.check_layout()


def test_summary_counts_single_volumes_over_single_solid_references():
    """A reference of several solids is decoded faithfully as several: only rows whose reference
    is one solid count towards the single-volume rate of single-solid references (2 of 3 here)."""
    rows = [{"single_volume": True, "solids": 1, "ref_solids": 1},
            {"single_volume": False, "solids": 2, "ref_solids": 1},
            {"single_volume": True, "solids": 1, "ref_solids": 1},
            {"single_volume": False, "solids": 3, "ref_solids": 3}]
    s = summarise(rows)
    assert s["single_solid_refs"] == 3 and s["single_volume_of_single_solid_refs"] == pytest.approx(2 / 3)
    assert s["single_volume"] == pytest.approx(0.5) and s["solids_match"] == pytest.approx(0.75)


def _dumbbell_sdf(bridge_half: float):
    """Sparse SDF (R = 32) of two 8-voxel cubes joined by a square bar of half-thickness
    ``bridge_half`` voxels, from the closed-form SDF of the union of three boxes (min of exact box
    SDFs, exact outside and within a voxel of the surface here)."""
    import trimesh

    from n4d4d.generator.codec import pack
    from n4d4d.volume import compute_sparse_sdf

    like = compute_sparse_sdf(Mesh.from_trimesh(trimesh.creation.box((1.0, 1.0, 1.0))), resolution=32)
    h = like.voxel_size
    shape = tuple(int(s) for s in like.grid_shape)
    p = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).reshape(-1, 3)
    x = like.origin + p * h  # node positions, m

    def box(lo, hi):
        return box_sdf(x, (np.asarray(lo) + hi) / 2, np.asarray(hi) - lo)

    mid = like.origin + (np.asarray(shape) // 2) * h  # a node of the grid
    a = box(mid - [12 * h, 4 * h, 4 * h], mid + [-4 * h, 4 * h, 4 * h])
    b = box(mid + [4 * h, -4 * h, -4 * h], mid + [12 * h, 4 * h, 4 * h])
    t = bridge_half * h
    bar = box(mid - [5 * h, t, t], mid + [5 * h, t, t])  # the bar's axis runs along a row of nodes
    d = np.minimum(np.minimum(a, b), bar)
    keep = np.abs(d) <= like.band
    return pack(p[keep], d[keep], like)


@pytest.mark.parametrize("bridge_half, eroded", [(0.15, 2), (1.0, 1)])
def test_eroded_solids_split_references_held_by_sub_voxel_necks(bridge_half, eroded):
    # a bar 0.3 voxels thick holds the two cubes together at the surface but not a quarter voxel
    # inwards (its nodes lie 0.15 voxels deep); a bar 2 voxels thick holds them at both levels
    from n4d4d.generator.metrics import eroded_solids
    from n4d4d.volume import extract_surface

    sdf = _dumbbell_sdf(bridge_half)
    assert count_solids(extract_surface(sdf)) == 1
    assert eroded_solids(sdf) == eroded
    assert eroded_solids(sdf, erode_voxels=0.1) == 1  # 0.1 < 0.15: still joined


def test_summary_single_volume_over_robust_references():
    rows = [{"single_volume": True, "solids": 1, "ref_solids": 1, "ref_solids_eroded": 1},
            {"single_volume": False, "solids": 2, "ref_solids": 1, "ref_solids_eroded": 3},
            {"single_volume": False, "solids": 2, "ref_solids": 1, "ref_solids_eroded": 1},
            {"single_volume": True, "solids": 1, "ref_solids": 1, "ref_solids_eroded": 2}]
    s = summarise(rows)
    assert s["robust_single_solid_refs"] == 2
    assert s["single_volume_of_robust_single_solid_refs"] == pytest.approx(0.5)
    assert s["single_volume_of_single_solid_refs"] == pytest.approx(0.5)
