"""A URDF whose links are joined only by fixed joints keeps its links through rigging (issue 16:
fixed links are merged only with ``--merge-fixed``), instead of collapsing into one rigid part."""

from __future__ import annotations

import trimesh

from n4d4d.options import BuildOptions
from n4d4d.pipeline import STAGES
from n4d4d.sources import UrdfFile


def _table(folder):
    """A top (30 x 30 x 4 cm) welded on a leg (8 x 8 x 20 cm): two links, one fixed joint."""
    folder.mkdir(parents=True, exist_ok=True)
    trimesh.creation.box(extents=[0.08, 0.08, 0.2]).export(folder / "leg.obj")
    trimesh.creation.box(extents=[0.3, 0.3, 0.04]).export(folder / "top.obj")
    (folder / "model.urdf").write_text("""<robot name="table">
  <link name="leg"><visual><origin xyz="0 0 0.1"/><geometry><mesh filename="leg.obj"/></geometry></visual></link>
  <link name="top"><visual><geometry><mesh filename="top.obj"/></geometry></visual></link>
  <joint name="weld" type="fixed"><origin xyz="0 0 0.22"/><parent link="leg"/><child link="top"/></joint>
</robot>
""")
    return folder / "model.urdf"


def _rig(path, **opts):
    o = BuildOptions(**opts)
    asset = STAGES[0].run(UrdfFile(path), o)
    for stage in STAGES[1:4]:
        asset = stage.run(asset, o)
    return asset


def test_fixed_links_are_kept_through_rigging(tmp_path):
    asset = _rig(_table(tmp_path / "table"))
    assert sorted(p.name for p in asset.parts) == ["leg", "top"]
    assert [(j.name, j.type, j.parent, j.child) for j in asset.joints] == [("weld", "fixed", "leg", "top")]


def test_merge_fixed_makes_them_one_body(tmp_path):
    asset = _rig(_table(tmp_path / "table"), merge_fixed=True)
    assert len(asset.parts) == 1 and not asset.joints
