"""Mesh quality figures, decimation and the watertight remesh on real meshes.

Quality is checked on meshes whose answers are known by construction (a cube, two cubes
sharing only a vertex, a cube with one face flipped or missing); decimation and remesh on
marching-cubes output and on pybullet_data's meshes, against trimesh as the independent
reader.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import trimesh

from n4d4d.asset import Mesh
from n4d4d.errors import InputError
from n4d4d.volume import (compute_sparse_sdf, decimate, extract_surface, mesh_quality,
                          remesh_watertight)
from n4d4d.volume.quality import is_closed_manifold


def load(path) -> Mesh:
    tm = trimesh.load(path, force="mesh", process=False)
    return Mesh(vertices=tm.vertices, faces=tm.faces)


def trimesh_closed(mesh: Mesh) -> bool:
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    return bool(tm.is_watertight and tm.is_winding_consistent and tm.volume > 0)


# ----------------------------------------------------------------------------------- quality
def test_quality_of_a_cube():
    tm = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    q = mesh_quality(Mesh(vertices=tm.vertices, faces=tm.faces))
    assert q == {**q, "watertight": True, "edge_manifold": True, "vertex_manifold": True,
                 "winding_consistent": True, "n_shells": 1, "euler_number": 2,
                 "n_vertices": 8, "n_faces": 12}
    assert q["volume"] == pytest.approx(6.0) and q["area"] == pytest.approx(22.0)
    json.dumps(q)


def test_quality_finds_defects():
    tm = trimesh.creation.box()
    v, f = tm.vertices, tm.faces
    flipped = f.copy()
    flipped[0] = flipped[0, ::-1]
    q = mesh_quality(Mesh(vertices=v, faces=flipped))
    assert q["watertight"] and not q["winding_consistent"]
    q = mesh_quality(Mesh(vertices=v, faces=f[1:]))
    assert not q["watertight"] and q["edge_manifold"]
    # a fin: a fourth face on an existing edge
    q = mesh_quality(Mesh(vertices=np.vstack([v, [[2.0, 2.0, 2.0]]]),
                          faces=np.vstack([f, [[f[0, 0], f[0, 1], 8]]])))
    assert not q["edge_manifold"]
    # two cubes touching at one corner: closed and edge-manifold, but the vertex is pinched
    b = tm.copy()
    b.apply_translation(-b.vertices[0] + tm.vertices[7])
    pinched = trimesh.util.concatenate([tm, b])
    q = mesh_quality(Mesh(vertices=pinched.vertices, faces=pinched.faces))
    assert q["watertight"] and q["edge_manifold"] and not q["vertex_manifold"]
    assert q["n_shells"] == 1
    # the same cubes apart: two shells, all fine
    b.apply_translation((5.0, 0, 0))
    apart = trimesh.util.concatenate([tm, b])
    q = mesh_quality(Mesh(vertices=apart.vertices, faces=apart.faces))
    assert is_closed_manifold(q) and q["n_shells"] == 2 and q["euler_number"] == 4


def test_quality_welds_seams():
    """A cube split along UV seams (every face with its own vertices) is still closed."""
    tm = trimesh.creation.box()
    tris = tm.vertices[tm.faces].reshape(-1, 3)
    q = mesh_quality(Mesh(vertices=tris, faces=np.arange(len(tris)).reshape(-1, 3)))
    assert is_closed_manifold(q) and q["n_vertices"] == 8


# ----------------------------------------------------------------------------------- decimate
@pytest.fixture(scope="module")
def dense_torus():
    tm = trimesh.creation.torus(major_radius=0.3, minor_radius=0.1)
    return extract_surface(compute_sparse_sdf(Mesh(vertices=tm.vertices, faces=tm.faces),
                                              resolution=96))


# volume: 1% (MAX_VOLUME_CHANGE) at 5000 faces; a 1000-face torus cannot do that (a polygon
# of n sides around each circle loses ~(2 pi / n)^2 / 6 of the area per circle: ~1.5% at
# n ~ 22), so 3% there
@pytest.mark.parametrize("budget, rel", [(5000, 0.01), (1000, 0.03)])
def test_decimate_keeps_closed_and_budget(dense_torus, budget, rel):
    assert len(dense_torus.faces) > 5 * budget
    stats = {}
    out = decimate(dense_torus, budget, stats=stats)
    q_in, q = mesh_quality(dense_torus), mesh_quality(out)
    assert len(out.faces) <= budget and is_closed_manifold(q) and trimesh_closed(out)
    assert q["n_shells"] == 1 and q["euler_number"] == 0  # still one torus
    assert q["volume"] == pytest.approx(q_in["volume"], rel=rel)
    assert stats["faces_after"] == len(out.faces) and stats["method"]


def test_decimate_cylinder_reaches_budget():
    """Cylinders stall plain quadric simplification (near-singular quadrics); the manifold3d
    ladder must still reach the budget."""
    tm = trimesh.creation.cylinder(radius=0.1, height=0.5, sections=128)
    dense = extract_surface(compute_sparse_sdf(Mesh(vertices=tm.vertices, faces=tm.faces),
                                               resolution=128))
    out = decimate(dense, 2000)
    assert len(out.faces) <= 2000 and trimesh_closed(out)
    assert mesh_quality(out)["volume"] == pytest.approx(mesh_quality(dense)["volume"], rel=0.01)


def test_decimate_impossible_budget_keeps_input():
    """300 separate balls cannot fit in 500 faces (a closed shell needs at least 4): every
    candidate is refused, the input comes back unchanged and the figures say so."""
    balls = trimesh.util.concatenate([trimesh.creation.icosphere(1, radius=0.1)
                                      .apply_translation((i, 0, 0)) for i in range(300)])
    mesh = Mesh(vertices=balls.vertices, faces=balls.faces)
    stats = {}
    assert decimate(mesh, 500, stats=stats) is mesh
    assert "input kept" in stats["method"]


def test_decimate_noop_under_budget():
    tm = trimesh.creation.box()
    mesh = Mesh(vertices=tm.vertices, faces=tm.faces)
    assert decimate(mesh, 100) is mesh


# ----------------------------------------------------------------------------------- remesh
def test_remesh_modes(pybullet_data):
    bunny = load(pybullet_data / "bunny.obj")  # closed
    out, sdf, fig = remesh_watertight(bunny, resolution=48, mode="auto")
    assert fig["action"] == "kept" and len(out.faces) == len(bunny.faces)
    assert sdf.n_nodes > 0  # the volume is computed in every mode
    out, sdf, fig = remesh_watertight(bunny, resolution=48, mode="always", max_faces=3000)
    assert fig["action"] == "remeshed" and len(out.faces) <= 3000 and trimesh_closed(out)
    json.dumps(fig)
    for key in ("mode", "reason", "resolution", "voxel_size", "band_nodes", "occupied_blocks",
                "total_blocks", "sdf_bytes", "quality_before", "quality_after",
                "volume_before", "volume_after", "volume_rel_change", "uvs_kept"):
        assert key in fig
    assert set(fig["seconds"]) >= {"sdf", "marching_cubes", "decimation", "total"}
    mug = load(pybullet_data / "objects" / "mug.obj")  # open
    out, _, fig = remesh_watertight(mug, resolution=48, mode="auto")
    assert fig["action"] == "remeshed" and trimesh_closed(out)
    with pytest.raises(InputError, match="never"):
        remesh_watertight(mug, resolution=48, mode="never", path="mug.obj")
    with pytest.raises(ValueError):
        remesh_watertight(mug, mode="sometimes")


def test_remesh_keeps_base_color_drops_uvs():
    tm = trimesh.creation.icosphere(subdivisions=3)
    mesh = Mesh(vertices=tm.vertices, faces=tm.faces, uvs=np.zeros((len(tm.vertices), 2)),
                base_color=[0.8, 0.2, 0.1, 1.0])
    out, _, fig = remesh_watertight(mesh, resolution=32, mode="always")
    assert out.uvs is None and not fig["uvs_kept"]
    assert np.allclose(out.base_color, [0.8, 0.2, 0.1, 1.0]) and fig["base_color_kept"]
    # vertex normals: unit, pointing out of the sphere (within the facetting of 32 voxels)
    assert np.allclose(np.linalg.norm(out.normals, axis=1), 1.0)
    radial = out.vertices / np.linalg.norm(out.vertices, axis=1, keepdims=True)
    assert np.einsum("ij,ij->i", out.normals, radial).min() > 0.9


def test_duck_volume_at_128(pybullet_data):
    """The duck (closed after welding its UV seams) remeshed at R = 128 keeps its volume:
    marching cubes on exact distances moves the surface by O(h^2) on smooth parts and by at
    most a cell on the cells along creases, and decimation is held to 1% (MAX_VOLUME_CHANGE);
    measured about 0.2%. The bound is the issue's 2%, an order of magnitude above that."""
    duck = load(pybullet_data / "duck.obj")
    out, sdf, fig = remesh_watertight(duck, resolution=128, mode="always")
    assert trimesh_closed(out) and mesh_quality(out)["vertex_manifold"]
    assert len(out.faces) <= 20000
    ref = trimesh.load(pybullet_data / "duck.obj", force="mesh")
    ref.merge_vertices(merge_tex=True, merge_norm=True)
    assert ref.is_watertight
    vol = trimesh.Trimesh(out.vertices, out.faces).volume
    assert vol == pytest.approx(ref.volume, rel=0.02)
    assert fig["volume_rel_change"] == pytest.approx(vol / ref.volume - 1, abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["duck.obj", "teddy2_VHACD_CHs.obj", "bunny.obj",
                                  "objects/mug.obj", "random_urdfs/000/000.obj",
                                  "random_urdfs/007/007.obj"])
def test_issue_targets_at_256(pybullet_data, name):
    """The issue's targets: watertight and manifold at R = 256 and 20k faces, volume within
    2% where the input was closed (remeshing forced, so the remesh itself is what is tested)."""
    mesh = load(pybullet_data / name)
    out, _, fig = remesh_watertight(mesh, resolution=256, max_faces=20000, mode="always")
    q = mesh_quality(out)
    assert trimesh_closed(out) and is_closed_manifold(q) and len(out.faces) <= 20000
    if fig["input_closed"]:
        assert abs(fig["volume_rel_change"]) <= 0.02
    assert math.isfinite(fig["seconds"]["total"])
