"""A default-wall shell that smooths away a feature under its wall is built once more on a
finer grid (issue 12: normal consistency >= 0.95), as PartNet's dishwasher wire racks need.

Truth: the input's own facet normals, compared by libigl's exact closest-triangle query
(``tests/test_solids.sample_normals``), not the closer's figures.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_solids import closed_manifold, sample_normals

from n4d4d.asset import Mesh
from n4d4d.volume.solids import SHELL_RETRY_NORMAL_CONSISTENCY, close_solid


def corrugated_strip(length=0.05, width=0.01, period=2e-3, amplitude=1e-3) -> Mesh:
    """An open zigzag sheet (m): ridges ``amplitude`` high every ``period`` along x, facets at
    45 degrees, ``width`` along y."""
    n = int(round(length / (period / 2)))
    x = np.arange(n + 1) * period / 2
    z = np.where(np.arange(n + 1) % 2 == 0, 0.0, amplitude)
    v = np.vstack([np.c_[x, np.zeros_like(x), z], np.c_[x, np.full_like(x, width), z]])
    i = np.arange(n)
    f = np.vstack([np.c_[i, i + 1, n + 2 + i], np.c_[i, n + 2 + i, n + 1 + i]])
    return Mesh(vertices=v, faces=f)


def test_corrugated_sheet_shell_is_rebuilt_finer_until_its_normals_agree():
    """The default shell's grid (0.38 % of the diagonal, a ~0.19 mm voxel, a 0.39 mm wall)
    rounds the 1 mm ridges' troughs (its own normal consistency under 0.95); rebuilt at half the
    voxel it follows the facets: the independent measure is >= 0.95, the shell closed, and its
    faces within half its wall (+ a quarter voxel for marching cubes and the simplifier) of the
    sheet at p95, as any shell's."""
    mesh = corrugated_strip()
    out, fig = close_solid(mesh)
    finer = fig["finer"]
    assert fig["kind"] == "shell" and finer["normal_consistency_before"] < SHELL_RETRY_NORMAL_CONSISTENCY
    assert finer["kept"] and finer["resolution_after"] >= 1.8 * finer["resolution_before"]
    assert closed_manifold(out)
    d, nc = sample_normals(out, mesh)
    assert nc.mean() >= 0.95
    assert np.percentile(d, 95) <= 0.5 * fig["wall"] + 0.25 * fig["voxel_size"]
    assert fig["wall"] == pytest.approx(2 * fig["voxel_size"], rel=0.05)
