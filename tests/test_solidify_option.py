"""``--solidify T``: a zero-thickness sheet becomes a closed solid of wall T at load, instead of the
flat-mesh error that names the option."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from n4d4d.errors import FlatMeshError
from n4d4d.options import BuildOptions
from n4d4d.pipeline import STAGES
from n4d4d.sources import MeshFile


def sheet(path, size=0.1):
    """A flat square sheet in z = 0, 8 x 8 quads split in triangles (metres)."""
    g = np.linspace(-size / 2, size / 2, 9)
    x, y = np.meshgrid(g, g)
    v = np.column_stack([x.ravel(), y.ravel(), np.zeros(x.size)])
    f = []
    for i in range(8):
        for j in range(8):
            a = i * 9 + j
            f += [[a, a + 1, a + 10], [a, a + 10, a + 9]]
    trimesh.Trimesh(v, f, process=False).export(path)
    return path


def load(path, **opts):
    return STAGES[0].run(MeshFile(path), BuildOptions(unit="m", up="z", **opts))


def test_flat_sheet_is_refused_naming_solidify(tmp_path):
    with pytest.raises(FlatMeshError, match="--solidify"):
        load(sheet(tmp_path / "sheet.obj"))


def test_solidify_gives_a_closed_shell_of_that_thickness(tmp_path):
    asset = load(sheet(tmp_path / "sheet.obj"), solidify=0.002)
    m = asset.source_mesh
    tm = trimesh.Trimesh(m.vertices, m.faces, process=False)
    assert tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
    # flat sheet offset +-1 mm along its normal: exactly 2 mm thick (float rounding only),
    # a 0.1 m x 0.1 m x 2 mm slab of volume 2e-5 m^3, standing on z = 0
    assert np.ptp(m.vertices[:, 2]) == pytest.approx(0.002, abs=1e-12)
    assert tm.volume == pytest.approx(0.1 * 0.1 * 0.002, rel=1e-9)
    assert m.vertices[:, 2].min() == pytest.approx(0.0, abs=1e-15)
    assert any("solidified" in n for n in asset.notes)
