"""The structure field's Gaussian filter before thresholding (``Sampling.structure_sigma``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from n4d4d.generator.generate import largest_component, structure_occupancy

G = 16


def _field(occ: np.ndarray) -> np.ndarray:
    """The +-1 field whose occupancy is ``occ`` (what the structure flow's data look like)."""
    return np.where(occ, 1.0, -1.0)


def _ball_line_speck():
    cells = np.indices((G,) * 3).transpose(1, 2, 3, 0)
    ball = np.linalg.norm(cells - [5, 8, 8], axis=-1) <= 3.0
    line = np.zeros_like(ball)
    line[9:15, 8, 8] = True  # one cell thin, attached to the ball's face at x = 8
    speck = np.zeros_like(ball)
    speck[13, 2, 2] = True
    return ball, line, speck


def test_no_filter_is_the_plain_threshold():
    """sigma 0 is exactly the previous rule: threshold, then the largest face-connected piece."""
    rng = np.random.default_rng(0)
    field = rng.uniform(-1, 1, (G, G, G))
    for thr in (0.0, 0.3):
        assert np.array_equal(structure_occupancy(field, thr, 0.0), largest_component(field > thr))
    with pytest.raises(ValueError, match="sigma"):
        structure_occupancy(field, 0.0, -1.0)


def test_filter_drops_thin_branches_and_specks_keeps_the_body():
    """A ball (radius 3 cells) with a one-cell-thin branch and a speck, at sigma 1.5, threshold
    -0.3 (the defaults). Closed form of the sampled, normalised Gaussian kernel (weights
    ``exp(-k^2 / (2 sigma^2))``, k = 0, +-1, ...: sum 3.76, so the centre weight is 0.266 per
    axis): on the branch, the kernel's mass that falls on occupied cells is about
    ``0.266^2 = 0.07`` of a line (plus the little of the ball near its root), so the filtered value
    is about ``2 * 0.07 - 1 = -0.86`` < -0.3: dropped; a speck keeps ``0.266^3`` = 0.02 of its
    kernel: -0.96, dropped. At the ball's centre the kernel's mass within the ball is > 0.8
    (radius 3 = 2 sigma), so a core of radius 2 stays. Next to a flat face the value is
    ``2 * 0.367 - 1 = -0.27`` half a cell outside (the kernel's mass at offsets >= 1) and
    ``2 * 0.129 - 1 = -0.74`` 1.5 cells outside, so nothing is added more than one cell outside
    the body."""
    ball, line, speck = _ball_line_speck()
    occ = structure_occupancy(_field(ball | line | speck), -0.3, 1.5)
    near = ndimage.binary_dilation(ball)
    assert not (occ & line & ~near).any()  # the branch is gone beyond its root cell
    assert not (occ & speck).any()
    core = np.linalg.norm(np.indices((G,) * 3).transpose(1, 2, 3, 0) - [5, 8, 8], axis=-1) <= 2.0
    assert (occ | ~core).all()  # the core is kept
    assert not (occ & ~near).any()  # nothing beyond one cell of the ball
    assert ndimage.label(occ)[1] == 1
    # without the filter the branch stays (it is face-connected to the ball)
    assert (structure_occupancy(_field(ball | line | speck), 0.0, 0.0) & line).sum() == line.sum()


def test_grid_border_is_empty():
    """The grid is continued by empty cells: a body touching the border is not grown along it,
    and a fully occupied grid keeps its centre."""
    full = structure_occupancy(np.ones((G, G, G)), -0.3, 1.5)
    assert full[G // 2, G // 2, G // 2] and not full[0, 0, 0]  # corner: 2 * 0.63^3 - 1 < -0.3


def test_min_cells_keeps_the_most_occupied_region_not_scattered_cells():
    """A field with no compact body (the failure of validation seed 101: thin scattered pieces
    that the filter drops) is grown from its highest region to at least ``min_cells`` face-connected
    cells; the independent truth is a brute-force scan of every level of the field, high to low,
    for the first whose largest component holds ``min_cells``: the rule must pick that level."""
    rng = np.random.default_rng(3)
    field = rng.uniform(-1.0, -0.9, (G, G, G))  # nothing above the threshold; noise under the bump
    cells = np.indices((G,) * 3).transpose(1, 2, 3, 0)
    field += 0.4 * np.exp(-np.linalg.norm(cells - [4, 9, 7], axis=-1) ** 2 / 8.0)  # a faint bump, max < -0.5
    assert not structure_occupancy(field, 0.0, 0.0).any()
    for m in (1, 20, 64):
        occ = structure_occupancy(field, 0.0, 0.0, min_cells=m)
        ref = None
        for level in np.sort(field.ravel())[::-1]:
            ref = largest_component(field >= level)
            if ref.sum() >= m:
                break
        assert np.array_equal(occ, ref)
        assert occ.sum() >= m and ndimage.label(occ)[1] == 1
        assert occ[4, 9, 7]  # it grows from the bump's top
    # a body already larger than min_cells is left exactly as the plain rule gives it
    ball, line, speck = _ball_line_speck()
    f = _field(ball | line | speck)
    assert np.array_equal(structure_occupancy(f, -0.3, 1.5, min_cells=10), structure_occupancy(f, -0.3, 1.5))
    with pytest.raises(ValueError, match="min_cells"):
        structure_occupancy(f, -0.3, 1.5, min_cells=-1)
