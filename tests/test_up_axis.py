"""``--up auto``: OBJ / STL / PLY / OFF files are read the way they stand (n4d4d.io.stage.choose_up).

Truth here is geometric and independent of the rule's code: which end of a known shape ends
up at the bottom (a car's wheels, not its nose; a box keeps its authored height), checked on
the loaded mesh's coordinates.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from n4d4d.options import BuildOptions
from n4d4d.sources import MeshFile


def _load(path, **options):
    from n4d4d.io.stage import load_stage

    return load_stage(MeshFile(path), BuildOptions(unit="m", **options))


def car_shell_y_up() -> trimesh.Trimesh:
    """An open car body (a stretched capsule with its underside cut away: a shell, as car
    models are) on four wheels, authored Y up: length along Z, wheels touching y = 0."""
    body = trimesh.creation.capsule(height=3.4, radius=0.5, count=[24, 24])  # axis Z, 4.4 m long
    body.apply_scale([1.8, 1.2, 1.0])
    body.apply_translation([0.0, 0.95, 0.0])
    keep = body.face_normals[:, 1] > -0.5  # cut the underside away: an open shell
    body.update_faces(keep)
    body.remove_unreferenced_vertices()
    wheels = []
    for x in (-0.8, 0.8):
        for z in (-1.4, 1.4):
            w = trimesh.creation.cylinder(radius=0.35, height=0.25, sections=32)
            w.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
            w.apply_translation([x, 0.35, z])
            wheels.append(w)
    car = trimesh.util.concatenate([body, *wheels])
    assert not car.is_watertight  # an open shell: its mass is in its surface
    return car


def test_open_car_shell_authored_y_up_stands_on_its_wheels(tmp_path):
    path = tmp_path / "car.obj"
    car_shell_y_up().export(path)
    asset = _load(path)
    v = asset.source_mesh.vertices
    up = asset.stages[-1].figures["up"]
    assert up["chosen"] == "y", up
    # On its wheels: 1.55 m tall (roof), 4.4 m long along the ground, not 4.4 m tall (nose).
    ext = np.ptp(v, axis=0)
    assert ext[2] == pytest.approx(1.55, abs=0.02) and max(ext[:2]) == pytest.approx(4.4, abs=0.02)
    # The lowest points are the wheels' (at the four corners), the roof is on top.
    low = v[v[:, 2] < v[:, 2].min() + 0.01]
    assert np.abs(low[:, 0]).min() > 0.6 and np.abs(low[:, 1]).min() > 1.0  # away from the middle: wheels
    assert any("read Y up (--up auto)" in n for n in asset.notes)


def test_box_authored_z_up_keeps_its_pose(tmp_path):
    """A box stands both ways: the file as written wins (its authored height is kept)."""
    for extents in ((0.1, 0.08, 0.06), (0.06, 0.08, 0.1)):
        path = tmp_path / "box.obj"
        trimesh.creation.box(extents).export(path)
        asset = _load(path)
        assert asset.stages[-1].figures["up"]["chosen"] == "z"
        np.testing.assert_allclose(np.ptp(asset.source_mesh.vertices, axis=0), extents, atol=1e-9)


def test_explicit_up_and_gltf_are_not_guessed(tmp_path):
    """``--up z`` reads the car as written (on its nose); glTF stays Y up by its spec, no guess."""
    path = tmp_path / "car.obj"
    car_shell_y_up().export(path)
    asset = _load(path, up="z")
    assert np.ptp(asset.source_mesh.vertices, axis=0)[2] == pytest.approx(4.4, abs=0.02)
    assert "up" not in asset.stages[-1].figures
    glb = tmp_path / "tall.glb"
    trimesh.creation.box((1.0, 3.0, 2.0)).export(glb)
    asset = _load(glb)
    assert "up" not in asset.stages[-1].figures
    assert np.ptp(asset.source_mesh.vertices, axis=0)[2] == pytest.approx(3.0, abs=1e-6)


def test_classic_meshes_are_read_y_up(shared_data):
    """The classic test meshes are authored Y up (cow, spot, homer, teapot stand on feet or a
    base that way); fandisk, a CAD part, stands neither way and is kept as written."""
    expected = {"cow": "y", "spot": "y", "homer": "y", "teapot": "y", "fandisk": "z"}
    for name, axis in expected.items():
        asset = _load(shared_data / "meshes" / f"{name}.obj")
        up = asset.stages[-1].figures["up"]
        assert up["chosen"] == axis, (name, up)
        if axis == "y":  # and that reading really stands: centre of mass over its support
            assert up["readings"]["y"]["stands"] and up["readings"]["y"]["tip_deg"] >= 5.0
