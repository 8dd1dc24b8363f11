"""Near-duplicate fingerprints: geometry against closed form, IoU against direct set counts, copies
found and distinct shapes kept apart, and a corpus build that puts a group in one split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from n4d4d.generator import duplicates as dup

S = dup.FINGERPRINT_SIZE


def _fp(mesh, resolution: int = 64) -> np.ndarray:
    from n4d4d.asset import Mesh
    from n4d4d.volume import compute_sparse_sdf

    if not isinstance(mesh, Mesh):
        mesh = Mesh(vertices=np.asarray(mesh.vertices, float), faces=np.asarray(mesh.faces, np.int64))
    return dup.occupancy_fingerprint(compute_sparse_sdf(mesh, resolution=resolution))


def _grid(fp: np.ndarray) -> np.ndarray:
    return np.unpackbits(fp).reshape(S, S, S).astype(bool)


def _sub_samples() -> np.ndarray:
    """Sub-sample positions along a side in cell units, centred on the grid: (S * 2,)."""
    return (np.arange(S)[:, None] + np.array([0.25, 0.75])[None]).ravel() - S / 2


def test_fingerprint_of_a_box_and_a_sphere_is_their_closed_form_occupancy():
    import trimesh

    # 0.3 x 0.2 x 0.1 box: x fills the 32 cells, y spans 32 * 2/3 = 21.33 cells centred (5.33..26.67),
    # z 10.67 cells (10.67..21.33); a cell is occupied when a sub-sample (i + 0.25, i + 0.75) is inside
    box = _grid(_fp(trimesh.creation.box([0.3, 0.2, 0.1])))
    want = np.zeros((S, S, S), bool)
    want[:, 5:27, 10:22] = True
    # the nearest sub-sample is 0.08 cell (0.17 voxel at R = 64) from a face, more than the SDF's error
    assert np.array_equal(box, want)

    # sphere of radius 16 cells centred in the grid, sampled at the same sub-samples
    g = _sub_samples()
    x, y, z = np.meshgrid(g, g, g, indexing="ij")
    ball = ((x**2 + y**2 + z**2) < (S / 2) ** 2).reshape(S, 2, S, 2, S, 2).any(axis=(1, 3, 5))
    got = _grid(_fp(trimesh.creation.icosphere(4, radius=0.1)))
    # the icosphere's facets lie within 0.1% of the radius inside it and the SDF is read to a small
    # fraction of a voxel: only sub-samples within ~0.05 cell of the sphere may differ (measured 0.998)
    assert (got & ball).sum() / (got | ball).sum() > 0.99


def test_pairwise_iou_matches_set_counts_and_symmetries_find_rotated_copies():
    rng = np.random.default_rng(0)
    grids = rng.random((5, S, S, S)) < np.array([0.05, 0.2, 0.5, 0.8, 0.0])[:, None, None, None]
    fps = np.packbits(grids.reshape(5, -1), axis=1)
    iou = dup.pairwise_iou(fps, chunk=2)  # chunks smaller than the rows, as for large corpora
    for i in range(5):
        for j in range(5):
            union = (grids[i] | grids[j]).sum()
            want = (grids[i] & grids[j]).sum() / union if union else 0.0
            assert iou[i, j] == pytest.approx(want, abs=1e-6)  # float32 ratio of exact integer counts

    # an L-shaped solid and its copy turned 90 degrees about z and mirrored in x
    shape = np.zeros((S, S, S), bool)
    shape[2:30, 4:10, 3:12] = True
    shape[2:8, 4:28, 3:12] = True
    turned = np.flip(np.rot90(shape, axes=(0, 1)), axis=0)
    a, b = np.packbits(shape.ravel())[None], np.packbits(turned.ravel())[None]
    assert dup.pairwise_iou(a, b)[0, 0] < 0.5
    assert dup.pairwise_iou(a, b, symmetries=True)[0, 0] == 1.0
    with pytest.raises(ValueError, match="fingerprints must be"):
        dup.pairwise_iou(np.zeros((2, 10), np.uint8))


def test_duplicate_groups_are_connected_components():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(1)
    n = 60
    pairs = [(int(i), int(j), 1.0) for i, j in rng.integers(0, n, (40, 2)) if i != j]
    ids = [f"s/{k:03d}" for k in range(n)]
    groups = dup.duplicate_groups(ids, pairs)
    i, j, _ = zip(*pairs)
    _, label = connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)
    want = sorted(sorted(ids[k] for k in np.flatnonzero(label == c)) for c in np.unique(label)
                  if (label == c).sum() > 1)
    assert groups == want
    split = dup.group_splits(ids, groups, lambda s: s[-1])  # a rule that differs inside groups
    assert all(split[m] == g[0][-1] for g in groups for m in g)


def test_copies_are_near_duplicates_and_distinct_shapes_are_not(pybullet_data):
    import trimesh

    from n4d4d.generator.procedural import make_shape
    from n4d4d.io.load import load_mesh

    cap = trimesh.creation.capsule(height=0.3, radius=0.1)
    copy = cap.subdivide()  # re-meshed (4x the faces), scaled and moved
    copy.apply_scale(2.5)
    copy.apply_translation([1.0, -2.0, 0.5])
    fps = np.array([_fp(cap), _fp(copy), _fp(load_mesh(pybullet_data / "duck.obj")),
                    _fp(load_mesh(pybullet_data / "duck_vhacd.obj")),
                    _fp(make_shape("chair", 0).visual), _fp(make_shape("chair", 1).visual),
                    _fp(load_mesh(pybullet_data / "random_urdfs/000/000.obj")),
                    _fp(load_mesh(pybullet_data / "random_urdfs/001/001.obj"))])
    iou = dup.pairwise_iou(fps)
    t = dup.IOU_THRESHOLD
    assert iou[0, 1] > 0.98  # the same surface: only sub-voxel SDF differences remain
    assert iou[2, 3] > t  # duck vs its convex decomposition (measured 0.949: VHACD fills concavities)
    assert iou[4, 5] < t and iou[6, 7] < t  # other seed / other random blob (measured 0.45, 0.71)
    assert iou[0, 2] < 0.5 and iou[2, 4] < 0.5
    pairs = dup.near_duplicate_pairs(fps)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1), (2, 3)]


def _names_in_two_splits():
    """A mesh name in folder a/ and one in b/ whose hash splits differ (so grouping has work to do)."""
    from n4d4d.generator.corpus import split_of

    for k in range(200):
        if split_of(f"src/a/caps{k}") != split_of(f"src/b/caps{k}"):
            return f"caps{k}"
    raise AssertionError("no such name in 200 tries")


def test_build_puts_near_duplicates_in_one_split_and_reports_leaks(tmp_path):
    import trimesh
    from typer.testing import CliRunner

    from n4d4d.cli import app
    from n4d4d.generator.corpus import Corpus, build_corpus, split_of

    name = _names_in_two_splits()
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "b").mkdir()
    cap = trimesh.creation.capsule(height=0.3, radius=0.1)
    cap.export(src / "a" / f"{name}.obj")
    copy = cap.subdivide()
    copy.apply_scale(2.0)
    copy.export(src / "b" / f"{name}.obj")
    trimesh.creation.box([0.3, 0.2, 0.1]).export(src / "a" / "box.obj")
    out = tmp_path / "corpus"
    m = build_corpus([str(src)], out, (64,))

    a, b = f"src/a/{name}", f"src/b/{name}"
    assert m["near_duplicates"]["groups"] == [[a, b]]
    assert m["near_duplicates"]["threshold"] == dup.IOU_THRESHOLD and m["near_duplicates"]["resolution"] == 64
    split = {e["id"]: e["split"] for e in m["shapes"]}
    assert split[a] == split[b] == split_of(a)  # the group's first id decides
    assert split["src/a/box"] == split_of("src/a/box")
    assert set(dup.load_fingerprints(out, 64)) == {a, b, "src/a/box"}
    assert dup.corpus_leaks(Corpus(out), split_of(b), split_of(a)) == []

    # an old corpus split by the plain hash rule leaks the copy; the report and eval find it
    m["shapes"] = [dict(e, split=split_of(e["id"])) for e in m["shapes"]]
    (out / "manifest.json").write_text(json.dumps(m))
    (out / dup.FINGERPRINTS).unlink()  # computed from the volumes then
    leaks = dup.corpus_leaks(Corpus(out), split_of(b), split_of(a))
    assert [(r["id"], r["match"]) for r in leaks] == [(b, a)] and leaks[0]["iou"] > 0.98
    res = CliRunner().invoke(app, ["corpus", "duplicates", str(out), "--split", split_of(b),
                                   "--reference", split_of(a)])
    assert res.exit_code == 0, res.output
    assert f"{split_of(b)}: 1 of 1 shapes have a near-duplicate in {split_of(a)}" in res.output
    assert b in res.output

    # eval vae drops the leaked shape by default and keeps it when asked
    args = ["eval", "vae", "--corpus", str(out), "--split", split_of(b), "--resolution", "64", "--points", "2000"]
    n_split = sum(e["split"] == split_of(b) for e in m["shapes"])
    res = CliRunner().invoke(app, args)
    assert f"dropped 1 of {n_split} {split_of(b)} shapes" in res.output
    assert f"{b}: F=" not in res.output  # no metrics row for it
    res = CliRunner().invoke(app, args + ["--keep-near-duplicates"])
    assert res.exit_code == 0, res.output
    assert "with a near-duplicate in train" not in res.output and f"{b}: F=" in res.output and f"{n_split} shapes" in res.output
