"""The Asset record: immutability, stage boundary checks, report JSON, atomic folder save."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from n4d4d.asset import Asset, Mesh, StageRecord
from n4d4d.errors import StageInputError
from n4d4d.io.atomic import atomic_dir
from n4d4d.report import asset_report, dumps


def box_mesh():
    return Mesh.from_trimesh(trimesh.creation.box(extents=(0.2, 0.1, 0.05)))


def test_mesh_arrays_are_read_only_and_typed():
    m = box_mesh()
    assert m.vertices.dtype == np.float64 and m.faces.dtype == np.int64
    with pytest.raises(ValueError):
        m.vertices[0, 0] = 1.0  # frozen record: arrays cannot be changed in place
    with pytest.raises(ValueError, match=r"normals must have shape \(V, 3\)"):
        Mesh(vertices=m.vertices, faces=m.faces, normals=np.zeros((3, 3)))


def test_require_names_stage_and_missing_fields():
    a = Asset(name="thing")
    with pytest.raises(StageInputError, match="thing: stage 'collision' needs parts, visual"):
        a.require("collision", "parts", "visual")


def test_with_stage_appends_and_leaves_original():
    a = Asset(name="thing")
    b = a.with_stage(StageRecord("static", 1.5, {"faces": 12}), visual=box_mesh())
    assert a.visual is None and a.stages == ()
    assert b.stages[0].name == "static" and len(b.visual.faces) == 12


def test_report_is_strict_json():
    a = Asset(name="thing", visual=box_mesh()).with_stage(StageRecord("x", 0.1, {"inf": np.inf, "n": np.int64(3)}))
    text = dumps(asset_report(a))
    data = json.loads(text)  # allow_nan=False in dumps: no bare NaN/Infinity tokens
    assert data["stages"][0]["figures"] == {"inf": "inf", "n": 3}
    assert data["passed"] is False


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "asset"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "asset.usda").write_text("partial")
            raise RuntimeError("exporter failed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_whole_folder(tmp_path):
    target = tmp_path / "asset"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["asset"]


def test_atomic_outputs_have_normal_permissions(tmp_path):
    # mkstemp/mkdtemp create 0600/0700 temporaries; published outputs must be readable by
    # others like any file the user makes (0644/0755 under the usual umask 022).
    import os
    import stat

    from n4d4d.io.atomic import atomic_write_text

    old = os.umask(0o022)
    try:
        f = atomic_write_text(tmp_path / "a.txt", "x")
        with atomic_dir(tmp_path / "d"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE(f.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


def test_mesh_does_not_freeze_callers_arrays():
    v = np.zeros((3, 3))
    Mesh(vertices=v, faces=[[0, 1, 2]])
    v[0, 0] = 1.0  # the caller's array stays writable
