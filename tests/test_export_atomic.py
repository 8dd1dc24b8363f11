"""A failing export leaves the output folder as it was; bad assets give ExportError naming the problem."""

from __future__ import annotations

import numpy as np
import pytest
from test_export_common import box_asset, hinged_asset
from test_export_usd import png_bytes

from n4d4d.errors import ExportError
from n4d4d.exporters import export


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_mjcf_failing_after_its_meshes_removes_every_new_file(tmp_path, monkeypatch):
    """USD and URDF succeed, then MJCF fails at its last write: nothing new survives."""
    import n4d4d.exporters.mjcf as mjcf

    (tmp_path / "keep.txt").write_text("was here before")

    def boom(path, text):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(mjcf, "atomic_write_text", boom)
    with pytest.raises(ExportError, match="mjcf export failed: OSError: disk full") as err:
        export(hinged_asset(), tmp_path, ["usda", "urdf", "mjcf"])
    assert err.value.path == "chest"
    assert listing(tmp_path) == ["keep.txt"]
    assert (tmp_path / "keep.txt").read_text() == "was here before"


def test_usd_failing_midway_leaves_no_texture_or_temporary(tmp_path, monkeypatch):
    import n4d4d.exporters.usd as usd

    calls = []

    def fail(*args, **kwargs):  # the texture is already written when collisions are built
        calls.append(1)
        raise RuntimeError("pxr failure (simulated)")

    monkeypatch.setattr(usd, "_collisions", fail)
    asset = box_asset(uvs=np.zeros((8, 2)), texture_png=png_bytes())
    with pytest.raises(ExportError, match="pxr failure"):
        export(asset, tmp_path, ["usda"])
    assert calls and listing(tmp_path) == []


def test_a_writer_failing_inside_its_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    """The GLB bytes are half written into the temporary when the write fails."""
    import n4d4d.io.atomic as atomic
    from pathlib import Path

    real = Path.write_bytes

    def half(self, data):
        real(self, data[: len(data) // 2])
        raise OSError("interrupted (simulated)")

    monkeypatch.setattr(atomic.Path, "write_bytes", half)
    with pytest.raises(ExportError, match="interrupted"):
        export(box_asset(), tmp_path, ["glb"])
    monkeypatch.undo()
    assert listing(tmp_path) == []


def test_missing_hulls_or_mass_name_the_part(tmp_path):
    asset = box_asset()
    with pytest.raises(ExportError, match="part 'body' has no collision hulls"):
        export(asset.replace(collision={}), tmp_path, ["usda"])
    with pytest.raises(ExportError, match="part 'body' has no mass properties"):
        export(asset.replace(mass={}), tmp_path, ["mjcf"])
    with pytest.raises(ExportError, match="at least one part"):
        export(asset.replace(parts=()), tmp_path, ["urdf"])
    assert listing(tmp_path) == []


def test_prismatic_joint_without_limits_is_refused_by_urdf(tmp_path):
    asset = hinged_asset("prismatic")
    j = asset.joints[0]
    unlimited = asset.replace(joints=(type(j)(**{**j.__dict__, "lower": -np.inf, "upper": np.inf}),))
    with pytest.raises(ExportError, match="prismatic joint 'slide' needs finite limits"):
        export(unlimited, tmp_path, ["urdf"])
    assert listing(tmp_path) == []


def test_missing_output_folder_is_an_export_error(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        export(box_asset(), tmp_path / "nope", ["usda"])
