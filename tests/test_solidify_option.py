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


def _urdf_with_sheet_lid(folder):
    """A URDF: a closed 10 cm box (base) and, 1 cm above it, a flat 10 cm sheet (lid) hinged
    at its back edge; metres, Z up."""
    folder.mkdir(parents=True, exist_ok=True)
    box = trimesh.creation.box(extents=[0.1, 0.1, 0.1])
    box.apply_translation([0, 0, 0.05])
    box.export(folder / "base.obj")
    sheet(folder / "lid.obj")
    (folder / "model.urdf").write_text("""<robot name="lidded">
  <link name="base"><visual><geometry><mesh filename="base.obj"/></geometry></visual></link>
  <link name="lid"><visual><origin xyz="0.05 0 0"/><geometry><mesh filename="lid.obj"/></geometry></visual></link>
  <joint name="hinge" type="revolute"><origin xyz="-0.05 0 0.11"/><axis xyz="0 -1 0"/>
    <parent link="base"/><child link="lid"/><limit lower="0" upper="1.5" effort="10" velocity="1"/></joint>
</robot>
""")
    return folder / "model.urdf"


@pytest.mark.parametrize("wall", [0.004, 0.008])
def test_solidify_reaches_the_parts_that_rigging_closes(tmp_path, wall):
    """A sheet-like part (a URDF link whose mesh encloses nothing) is closed by the rigging
    stage into a shell of the ``--solidify`` wall, offset symmetrically about the sheet: the
    flat lid's thickness (its Z extent) is the wall within one voxel of the part closer's grid
    (0.45% of the part's 0.14 m diagonal: 0.6 mm), and its rim rounds out by half the wall on
    each side. Without --solidify the closer's own two-voxel wall (about 1.3 mm) is used."""
    from n4d4d.sources import UrdfFile

    opts = BuildOptions(solidify=wall)
    asset = STAGES[0].run(UrdfFile(_urdf_with_sheet_lid(tmp_path / "lidded")), opts)
    for stage in STAGES[1:4]:
        asset = stage.run(asset, opts)
    assert stage.name == "rigging"
    lid = next(p for p in asset.parts if p.name == "lid").mesh.to_trimesh()
    assert lid.is_watertight
    assert lid.extents[2] == pytest.approx(wall, abs=0.0006)
    assert lid.extents[:2] == pytest.approx([0.1 + wall, 0.1 + wall], abs=0.0012)
