"""The canonical record (``asset.json`` + ``asset.npz``): ``Asset.load`` restores what was
saved exactly, and re-exporting from it gives the same bytes as exporting the built asset."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import n4d4d
from n4d4d.asset import Asset
from n4d4d.cli import app
from n4d4d.errors import InputError, MissingFileError

FORMATS = ("usda", "urdf", "mjcf", "glb", "3mf")


def hinged_urdf(folder):
    """A base box and a lid box on a revolute hinge (limits 0..1.2 rad), primitives only."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hinge.urdf"
    path.write_text("""<?xml version="1.0"?>
<robot name="hinge">
  <link name="base"><visual><geometry><box size="0.2 0.2 0.1"/></geometry></visual>
    <inertial><mass value="1"/><inertia ixx="0.004" iyy="0.004" izz="0.0067" ixy="0" ixz="0" iyz="0"/></inertial></link>
  <link name="lid"><visual><origin xyz="0.1 0 0.01"/><geometry><box size="0.2 0.2 0.02"/></geometry></visual></link>
  <joint name="hinge" type="revolute"><parent link="base"/><child link="lid"/>
    <origin xyz="-0.1 0 0.0505"/><axis xyz="0 1 0"/><limit lower="-1.2" upper="0" effort="10" velocity="2"/></joint>
</robot>
""")
    return path


def same(a, b, where="asset"):
    """Recursive equality of two records: types, array dtypes/shapes/bytes, floats bit for bit."""
    assert type(a) is type(b), (where, type(a), type(b))
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert np.float64(a).tobytes() == np.float64(b).tobytes(), (where, a, b)
    else:
        assert a == b, (where, a, b)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("record")
    asset = n4d4d.build(hinged_urdf(root / "src"), resolution=64, max_hulls=4, formats=FORMATS, report=False)
    folder = asset.save(root / "out" / asset.name)
    return asset, folder


def test_load_restores_the_built_asset_exactly(built):
    asset, folder = built
    assert (folder / "asset.json").is_file() and (folder / "asset.npz").is_file()
    loaded = Asset.load(folder)
    same(asset, loaded)
    assert loaded.joints and loaded.drives and loaded.physics["checks"]


def test_reexport_is_byte_identical(built, tmp_path):
    asset, folder = built
    again = Asset.load(folder).save(tmp_path / asset.name)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file())
    for rel in files:
        if rel == "report.json":
            strip = [{k: v for k, v in json.loads((d / rel).read_text()).items() if k != "timings"}
                     for d in (folder, again)]
            assert strip[0] == strip[1]
        else:
            assert (folder / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_export_command_adds_formats_without_rebuilding(built, tmp_path):
    asset, folder = built
    only_usd = asset.save(tmp_path / "a" / asset.name, formats=("usda",))
    result = CliRunner().invoke(app, ["export", str(only_usd), "--formats", "usda,glb"])
    assert result.exit_code == 0, result.output
    assert (only_usd / "asset.glb").read_bytes() == (folder / "asset.glb").read_bytes()
    result = CliRunner().invoke(app, ["export", str(tmp_path / "nothing"), "--formats", "usda"])
    assert result.exit_code == 1 and "not an n4d4d asset folder" in result.output


def test_damaged_records_are_typed_errors(built, tmp_path):
    _, folder = built
    with pytest.raises(MissingFileError):
        Asset.load(tmp_path)
    (tmp_path / "asset.json").write_text('{"format": "other/1"}')
    (tmp_path / "asset.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not an n4d4d.Asset/1 record"):
        Asset.load(tmp_path)
    (tmp_path / "asset.json").write_text((folder / "asset.json").read_text())
    with pytest.raises(InputError, match="cannot be read"):
        Asset.load(tmp_path)
    (tmp_path / "asset.npz").write_bytes((folder / "asset.npz").read_bytes())
    (tmp_path / "asset.json").write_text((folder / "asset.json").read_text().replace('"$type": "Joint"', '"$type": "os.system"'))
    with pytest.raises(InputError, match="unknown record type"):
        Asset.load(tmp_path)
