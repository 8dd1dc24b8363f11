"""A small part's fidelity is sampled in proportion to the scale it is judged at
(physics_validation.decomposition.measure).

Truth: the same figures measured with the full sample count. A part judged at the asset's scale
``k`` has its distances multiplied by ``k``; the sampling error of a mean falls as one over the
root of the count, so ``k^2`` of the samples keeps the judged error at the full count's.
"""

from __future__ import annotations

import numpy as np
import trimesh

from n4d4d.asset import Mesh
from n4d4d.physics_validation.decomposition import SMALL_PART_SAMPLES, measure
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
