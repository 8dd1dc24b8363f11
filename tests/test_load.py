"""Loading: formats, glTF Y-up to Z-up, scene flattening, real-world size, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from n4d4d.errors import EmptyMeshError, InputError, MissingFileError, NonFiniteError, UnsupportedFormatError
from n4d4d.io.load import load_mesh
from n4d4d.options import DEFAULT_LONGEST_SIDE, BuildOptions
from n4d4d.io.scale import scale_to_size


@pytest.mark.parametrize("suffix", [".obj", ".stl", ".ply", ".off", ".glb"])
def test_formats_round_trip_volume(tmp_path, suffix):
    # A 1 x 2 x 3 box written by trimesh in each format reads back with the same volume;
    # 1e-9 relative: the formats store float32 at worst, exact for these small integers.
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    path = tmp_path / f"box{suffix}"
    box.export(path)
    mesh = load_mesh(path)
    assert mesh.vertices.dtype == np.float64 and mesh.faces.dtype == np.int64
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces)
    tm.merge_vertices()
    assert tm.volume == pytest.approx(6.0, rel=1e-9)


def test_gltf_y_up_becomes_z_up(tmp_path):
    # glTF +Y is up (glTF 2.0 spec 3.4): a box 3 m tall along glTF Y must be 3 m tall in Z,
    # and a point at glTF +Z (front) must land at -Y (right-handed rotation about X).
    box = trimesh.creation.box(extents=(1.0, 3.0, 2.0))
    box.apply_translation((0.0, 1.5, 5.0))
    path = tmp_path / "tall.glb"
    box.export(path)
    mesh = load_mesh(path)
    ext = np.ptp(mesh.vertices, axis=0)
    np.testing.assert_allclose(ext, (1.0, 2.0, 3.0), atol=1e-6)
    np.testing.assert_allclose(mesh.vertices.mean(axis=0), (0.0, -5.0, 1.5), atol=1e-6)


def test_scene_flattened_with_submesh_labels(tmp_path):
    # Two boxes placed by scene-graph transforms: faces keep the index of their sub-mesh and
    # vertices are in the scene frame (transform applied).
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box(extents=(1, 1, 1)), node_name="a", geom_name="a")
    scene.add_geometry(trimesh.creation.icosphere(subdivisions=1), node_name="b", geom_name="b",
                       transform=trimesh.transformations.translation_matrix((0, 0, 10)))
    path = tmp_path / "scene.glb"
    scene.export(path)
    mesh = load_mesh(path, up="z")
    assert set(mesh.submesh_names) == {"a", "b"}
    for i, name in enumerate(mesh.submesh_names):
        faces = mesh.faces[mesh.face_submesh == i]
        zc = mesh.vertices[np.unique(faces)][:, 2].mean()
        assert (zc > 5) == (name == "b")
        assert len(faces) == (12 if name == "a" else 80)


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="nope.obj"):
        load_mesh(tmp_path / "nope.obj")


def test_unknown_format(tmp_path):
    p = tmp_path / "model.xyz"
    p.write_text("1 2 3\n")
    with pytest.raises(UnsupportedFormatError, match=r"model\.xyz: unknown format '\.xyz'"):
        load_mesh(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.obj"
    p.write_text("# nothing here\n")
    with pytest.raises(EmptyMeshError, match="empty.obj"):
        load_mesh(p)


def test_nan_coordinates(tmp_path):
    p = tmp_path / "nan.obj"
    p.write_text("v 0 0 0\nv 1 0 0\nv nan 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n")
    with pytest.raises(NonFiniteError, match="nan.obj.*NaN or infinite"):
        load_mesh(p)


def test_garbage_file(tmp_path):
    p = tmp_path / "garbage.glb"
    p.write_bytes(b"\x00\x01not a glb at all" * 10)
    with pytest.raises(InputError, match="garbage.glb"):
        load_mesh(p)


def _box_mesh(extents):
    from n4d4d.asset import Mesh

    return Mesh.from_trimesh(trimesh.creation.box(extents=extents))


@pytest.mark.parametrize("opts, expected", [
    (dict(height=0.5), (0.25, 0.75, 0.5)),          # Z extent 2 -> 0.5: factor 0.25
    (dict(longest_side=0.3), (0.1, 0.3, 0.2)),      # longest 3 -> 0.3: factor 0.1
    (dict(unit="cm"), (0.01, 0.03, 0.02)),          # 1 cm per unit
    (dict(unit="in"), (0.0254, 0.0762, 0.0508)),    # 25.4 mm per inch (exact by definition)
])
def test_size_options(opts, expected):
    mesh, _, how = scale_to_size(_box_mesh((1, 3, 2)), BuildOptions(**opts))
    np.testing.assert_allclose(np.ptp(mesh.vertices, axis=0), expected, rtol=1e-12)
    assert mesh.vertices[:, 2].min() == pytest.approx(0.0, abs=1e-15)  # resting on z = 0


def test_default_size_is_reported():
    mesh, factor, how = scale_to_size(_box_mesh((4, 1, 1)), BuildOptions())
    assert np.ptp(mesh.vertices, axis=0).max() == pytest.approx(DEFAULT_LONGEST_SIDE)
    assert "default" in how and "--height" in how


def test_conflicting_sizes_rejected():
    with pytest.raises(ValueError, match="at most one of height, longest_side, unit"):
        BuildOptions(height=1.0, unit="mm")


def test_zero_extent_mesh():
    from n4d4d.asset import Mesh

    flat = Mesh(vertices=np.zeros((3, 3)), faces=[[0, 1, 2]])
    with pytest.raises(EmptyMeshError, match="zero extent"):
        scale_to_size(flat, BuildOptions())
