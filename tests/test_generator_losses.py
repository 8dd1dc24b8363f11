"""SS-VAE loss masks on analytic SDFs: sharp edges and thin features, where the geometry says they are."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from n4d4d.generator.losses import LossWeights, sharp_edge_mask, thin_feature_mask, vae_loss  # noqa: E402
from n4d4d.generator.train import CONFIGS, make_batch  # noqa: E402
from n4d4d.generator.vae import SparseSDFVAE  # noqa: E402
from test_volume import box_sdf  # noqa: E402  (closed-form box SDF)

SIDE = 28
TRUNC = 2.0  # voxels, the VAE's default truncation: normalised 0.5 = one voxel
NEAR = 0.5  # thin_feature_mask's default in LossWeights: one voxel
_NO_PRUNING = ([torch.zeros(1, 8)], [torch.ones(1, 8, dtype=torch.bool)])  # one level, any logits


def _band(*boxes):
    """Narrow band (|sdf| < 2 voxels) of the union of ``boxes`` on a SIDE^3 grid: the sparse tensor,
    its coords ``(N, 3)`` and the SDF in voxels ``(N,)``."""
    p = np.stack(np.meshgrid(*[np.arange(SIDE, dtype=float)] * 3, indexing="ij"), -1).reshape(-1, 3)
    d = np.min([box_sdf(p, (np.asarray(lo) + hi) / 2, np.asarray(hi) - lo) for lo, hi in boxes], axis=0)
    keep = np.abs(d) < TRUNC
    c, v = p[keep].astype(np.int32), d[keep]
    return make_batch([(c, (v / TRUNC).astype(np.float32))]), c, v


def _interior(c: np.ndarray, lo: int, hi: int, axes=(1, 2)) -> np.ndarray:
    """Rows whose coordinates along ``axes`` lie in [lo, hi]: away from a slab's rim."""
    return np.all((c[:, list(axes)] >= lo) & (c[:, list(axes)] <= hi), axis=1)


def test_thin_wall_odd_thickness_marks_its_middle_voxels():
    # a wall 1.4 voxels thick centred on the voxel plane x = 14: only that plane is inside (sdf -0.7)
    x, c, v = _band(((13.3, 4, 4), (14.7, 23, 23)))
    thin = thin_feature_mask(x, NEAR).numpy()
    mid = _interior(c, 6, 21)
    assert np.all(thin[mid & (c[:, 0] == 14)])
    # every other voxel of the wall's flat part lies on one side of it: not thin
    assert not thin[mid & (c[:, 0] != 14)].any()


def test_thin_wall_even_thickness_marks_both_middle_voxels():
    # 2 voxels thick, medial plane x = 14.5 between voxel planes: x = 14 and 15 (sdf -0.5 each) have
    # no strict extremum but opposite gradients
    x, c, v = _band(((13.5, 4, 4), (15.5, 23, 23)))
    thin = thin_feature_mask(x, NEAR).numpy()
    mid = _interior(c, 6, 21)
    assert np.all(thin[mid & np.isin(c[:, 0], (14, 15))])
    assert not thin[mid & ~np.isin(c[:, 0], (14, 15))].any()


def test_thin_gap_between_two_blocks_is_marked_outside():
    # two blocks 1.4 voxels apart: the voxel plane x = 14 in the gap (sdf +0.7) is a gap's middle
    x, c, v = _band(((4, 4, 4), (13.3, 23, 23)), ((14.7, 4, 4), (24, 23, 23)))
    thin = thin_feature_mask(x, NEAR).numpy()
    mid = _interior(c, 6, 21)
    gap = mid & (c[:, 0] == 14)
    assert gap.any() and np.all(thin[gap]) and np.all(v[gap] > 0)
    assert not thin[mid & (c[:, 0] != 14) & (np.abs(c[:, 0] - 14) < 8)].any()


def test_thick_box_has_sharp_edges_and_nothing_thin():
    # a 12-voxel cube: its medial surfaces lie 6 voxels deep, far beyond NEAR; its 12 edges are sharp
    lo, hi = 8.5, 20.5
    x, c, v = _band(((lo,) * 3, (hi,) * 3))
    assert not thin_feature_mask(x, NEAR).any()
    sharp = sharp_edge_mask(x).numpy()
    # distance (voxels) of each voxel from the face planes, per axis, nearest first
    off = np.sort(np.minimum(np.abs(c - lo), np.abs(c - hi)), axis=1)
    # the row of inside voxels along each edge (half a voxel from both faces): the normal turns by
    # 45 degrees between it and its face neighbours; outside voxels see a discrete turn near 40
    # degrees, the threshold, so they are not asserted
    at_edge = (off[:, 0] == 0.5) & (off[:, 1] == 0.5) & (v < 0)
    face_middle = (np.abs(v) < 1.5) & (off[:, 1] > 3)  # at least 3 voxels from any edge
    assert at_edge.sum() == 12 * 10 + 8  # 10 voxels along each edge, and the corner voxels
    assert sharp[at_edge].all()
    assert not sharp[face_middle].any()


def test_thin_weight_is_the_weighted_mean_of_the_sdf_error():
    # a decoded band equal to the target plus an error e on chosen voxels: the SDF term must be
    # sum(w e^2) / sum(w) with w = 1 + sharp * [sharp] + thin * [thin] (closed form from the masks)
    from n4d4d.generator.vae import DecoderOutput
    from n4d4d.kernels.sparse_tensor import SparseTensor

    torch.manual_seed(0)
    x, c, v = _band(((13.3, 4, 4), (14.7, 23, 23)))
    posterior, _ = SparseSDFVAE(CONFIGS["tiny"].vae).encode(x)
    thin = thin_feature_mask(x, NEAR)
    sharp = sharp_edge_mask(x)
    assert 0 < int(thin.sum()) < len(thin)
    for on in (thin, ~thin):
        e = 0.1 * on.float()
        out = DecoderOutput(SparseTensor(x.coords, x.feats + e[:, None]), *_NO_PRUNING)
        for weights in (LossWeights(), LossWeights(thin=3.0)):
            _, terms = vae_loss(x, posterior, out, weights)
            w = 1 + weights.sharp * sharp.float() + weights.thin * thin.float()
            assert terms["sdf"] == pytest.approx(float((w * e**2).sum() / w.sum()), rel=1e-5)
    # error on thin voxels weighs more with the thin weight, error elsewhere less
    plain = [vae_loss(x, posterior, DecoderOutput(SparseTensor(x.coords, x.feats + 0.1 * m.float()[:, None]), *_NO_PRUNING),
                      wts)[1]["sdf"] for m in (thin, ~thin) for wts in (LossWeights(), LossWeights(thin=3.0))]
    assert plain[1] > plain[0] and plain[3] < plain[2]
