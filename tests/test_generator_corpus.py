"""Corpus: discovery, the fixed split, compact volume files, a small build with resume and failures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from n4d4d.generator.corpus import Corpus, build_corpus, discover, split_of
from n4d4d.generator.store import STEPS, load_compact, save_compact


def _write_meshes(folder):
    import trimesh

    (folder / "boxes").mkdir(parents=True)
    trimesh.creation.box([0.3, 0.2, 0.1]).export(folder / "boxes" / "box.obj")
    trimesh.creation.icosphere(3, radius=0.1).export(folder / "ball.stl")
    plane = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], [[0, 1, 2], [1, 3, 2]])
    plane.export(folder / "flat.obj")


def test_split_is_fixed_by_id_and_has_the_stated_fractions():
    ids = [f"shape/{i}" for i in range(4000)]
    splits = [split_of(i) for i in ids]
    assert splits == [split_of(i) for i in ids]  # a pure function of the id
    frac = {s: splits.count(s) / len(ids) for s in ("train", "val", "test")}
    # binomial standard deviation of a 5% share over 4000 ids is 0.34%: 1.5% is > 4 sigma
    assert frac["train"] == pytest.approx(0.9, abs=0.015)
    assert frac["val"] == pytest.approx(0.05, abs=0.015) and frac["test"] == pytest.approx(0.05, abs=0.015)


def test_discover_pybullet_and_procedural(pybullet_data):
    items = discover(["pybullet_data", "procedural:2"])
    ids = [i.id for i in items]
    assert len(ids) == len(set(ids))
    assert sum(i.category == "random_urdf" for i in items) == 1000
    assert "pybullet/duck" in ids and "pybullet/objects/mug" in ids
    assert not any("plane" in i or "terrain" in i for i in ids)
    assert sum(i.kind == "procedural" for i in items) == 2 * 9
    # pybullet_data:N keeps the first N random_urdfs and every other pybullet mesh
    few = discover(["pybullet_data:5"])
    assert [i.id for i in few if i.category == "random_urdf"] == [f"pybullet/random_urdfs/{k:03d}" for k in range(5)]
    assert [i.id for i in few if i.category != "random_urdf"] == [i.id for i in items
                                                                  if i.category != "random_urdf" and i.kind != "procedural"]


def test_compact_store_round_trip(tmp_path):
    from n4d4d.asset import Mesh
    from n4d4d.generator.procedural import make_shape
    from n4d4d.volume import compute_sparse_sdf

    sdf = compute_sparse_sdf(make_shape("bottle", 0).visual, resolution=48)
    path = save_compact(sdf, tmp_path / "v.npz")
    back = load_compact(path)
    back.check_layout()
    assert np.array_equal(back.coords, sdf.coords) and np.array_equal(back.block_coords, sdf.block_coords)
    assert np.array_equal(back.block_offsets, sdf.block_offsets)
    # int8 quantisation: within one step of band / 127, and every sign kept
    assert np.abs(back.values - sdf.values).max() <= sdf.band / STEPS * 1.0001
    assert np.array_equal(np.signbit(back.values), np.signbit(sdf.values))
    assert path.stat().st_size < 1.0 * sdf.n_nodes  # under a byte per node (float32 + 3 int32 is 16)
    assert isinstance(Mesh, type)
    with pytest.raises(ValueError, match="not a n4d4d.CompactSDF"):
        sdf.save(tmp_path / "raw.npz")
        load_compact(tmp_path / "raw.npz")


def test_build_small_corpus_resume_and_failures(tmp_path):
    src = tmp_path / "src"
    _write_meshes(src)
    out = tmp_path / "corpus"
    m = build_corpus([str(src), "procedural:1"], out, (24, 32))
    ids = {e["id"] for e in m["shapes"]}
    # a flat sheet is refused at load (FlatMeshError); table 0's top (3.5 cm) is thinner than a
    # voxel at R = 24 (11 cm), so no grid node lies inside it
    assert [f["id"] for f in m["failed"]] == ["src/flat", "procedural/table_00000"]
    flat, table = m["failed"]
    assert "FlatMeshError" in flat["error"] and "the mesh is flat" in flat["error"]
    assert "no inside" in table["error"]
    assert {"src/boxes/box", "src/ball"} <= ids and len(ids) == 2 + 8
    box = next(e for e in m["shapes"] if e["id"] == "src/boxes/box")
    assert box["category"] == "boxes" and box["split"] == split_of("src/boxes/box")
    cab = next(e for e in m["shapes"] if e["id"] == "procedural/cabinet_00000")
    assert cab["joints"] and (out / cab["parts_file"]).is_file()
    assert all(j["type"] in ("revolute", "prismatic") for j in cab["joints"])

    c = Corpus(out)
    v = c.load(box, 32)
    assert v.resolution == 32 and (v.values < 0).any() and v.n_nodes == box["nodes"]["32"]
    assert c.summary()["shapes"] == 10

    # resume: nothing recomputed, same manifest shapes
    mtime = (out / box["files"]["32"]).stat().st_mtime_ns
    m2 = build_corpus([str(src), "procedural:1"], out, (24, 32))
    assert (out / box["files"]["32"]).stat().st_mtime_ns == mtime
    assert [e["id"] for e in m2["shapes"]] == [e["id"] for e in m["shapes"]]
    assert json.loads((out / "manifest.json").read_text())["counts"] == m2["counts"]

    # a new resolution: only its volumes are computed, the others are kept; table 0, too thin at 24,
    # has grid nodes inside it on the R = 40 grid and joins with
    # that resolution alone, which Corpus.entries(split, resolution) respects
    m3 = build_corpus([str(src), "procedural:1"], out, (40,))
    assert (out / box["files"]["32"]).stat().st_mtime_ns == mtime
    box3 = next(e for e in m3["shapes"] if e["id"] == "src/boxes/box")
    assert set(box3["files"]) == {"24", "32", "40"} and m3["resolutions"] == [24, 32, 40]
    assert c.load(box3, 40).resolution == 40 and box3["nodes"]["32"] == box["nodes"]["32"]
    table = next(e for e in m3["shapes"] if e["id"] == "procedural/table_00000")
    assert len(m3["shapes"]) == 11 and set(table["files"]) == {"40"}
    assert table not in Corpus(out).entries(resolution=32) and len(Corpus(out).entries(resolution=40)) == 11


def test_missing_source_is_a_clear_error(tmp_path):
    from n4d4d.errors import MissingFileError

    with pytest.raises(MissingFileError, match="no such corpus source"):
        discover([str(tmp_path / "nope")])
