"""Quad-dominant topology (``--topology quad``, :mod:`n4d4d.volume.topology`): a sphere against
its closed form, the quads through the record, the USD writer (read back with pxr) and the
triangle formats."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from test_export_common import box_mass, provenance

from n4d4d.asset import Asset, Material, Mesh, Part
from n4d4d.volume.topology import MAX_P95_PCT, quad_remesh, topology_stage

R = 0.1  # sphere radius (m)


@pytest.fixture(scope="module")
def sphere() -> Mesh:
    return Mesh.from_trimesh(trimesh.creation.icosphere(subdivisions=5, radius=R))


@pytest.fixture(scope="module")
def quad(sphere) -> tuple[Mesh, dict]:
    return quad_remesh(sphere, max_faces=4000, seed=0)


def p95_distance_pct(a: Mesh, b: Mesh, seed: int) -> float:
    """p95 distance from samples of ``a`` to ``b``'s surface, % of ``b``'s diagonal, by libigl's
    exact point-triangle distance (independent of the module's own measurement)."""
    import igl

    pts, _ = trimesh.sample.sample_surface(a.to_trimesh(), 20_000, seed=seed)
    d = np.abs(igl.signed_distance(np.asarray(pts), np.asarray(b.vertices), np.asarray(b.faces))[0])
    return float(np.percentile(d, 95) / b.diagonal * 100)


def test_sphere_becomes_quad_dominant_watertight_and_close(sphere, quad):
    mesh, fig = quad
    assert fig["applied"], fig.get("reason")
    q, tris = mesh.quad_count, len(mesh.faces) - 2 * mesh.quad_count
    assert q / (q + tris) >= 0.90  # the bound: >= 90 % quads
    assert len(mesh.faces) <= 4000  # the face budget counts triangles
    tm = mesh.to_trimesh(process=True)
    assert tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
    # closed form: vertices on the sphere (Instant Meshes reprojects them; 0.5 % of the radius)
    assert np.allclose(np.linalg.norm(mesh.vertices, axis=1), R, rtol=5e-3)
    # flat quads inscribed in the sphere lose at most ~1 % of its volume at this density
    assert tm.volume == pytest.approx(4 / 3 * np.pi * R ** 3, rel=0.01)
    assert p95_distance_pct(mesh, sphere, 1) <= MAX_P95_PCT
    assert p95_distance_pct(sphere, mesh, 2) <= MAX_P95_PCT
    # every quad is its two triangles, and the quads cover the surface with the triangles
    quads = mesh.quads
    assert quads.shape == (q, 4)
    assert np.array_equal(mesh.faces[0:2 * q:2], quads[:, [0, 1, 2]])
    assert np.array_equal(mesh.faces[1:2 * q:2], quads[:, [0, 2, 3]])


def test_same_input_same_quads(sphere, quad):
    again, _ = quad_remesh(sphere, max_faces=4000, seed=0)
    assert np.array_equal(again.vertices, quad[0].vertices) and np.array_equal(again.faces, quad[0].faces)


def test_mesh_refuses_faces_that_are_not_split_quads(quad):
    mesh = quad[0]
    with pytest.raises(ValueError, match="quad_count"):
        Mesh(mesh.vertices, mesh.faces[1:], quad_count=mesh.quad_count)
    with pytest.raises(ValueError, match="quad_count"):
        Mesh(mesh.vertices, mesh.faces, quad_count=len(mesh.faces))


def quad_asset(mesh: Mesh, halves: bool = False) -> Asset:
    """The quad sphere as a rigid body (or two parts split at z = 0), its hull the triangles'."""
    hull = Mesh.from_trimesh(mesh.to_trimesh().convex_hull)
    mass = box_mass([2 * R] * 3, [0, 0, 0])
    if not halves:
        parts = (Part("body", mesh, np.arange(len(mesh.faces))),)
        return Asset(name="ball", visual=mesh, parts=parts, collision={"body": (hull,)}, mass={"body": mass},
                     material=Material(), provenance=provenance())
    up = mesh.vertices[mesh.faces].mean(axis=1)[:, 2] > 0
    parts = (Part("top", mesh, np.flatnonzero(up)), Part("bottom", mesh, np.flatnonzero(~up)))
    return Asset(name="ball", visual=mesh, parts=parts, collision={"top": (hull,), "bottom": (hull,)},
                 mass={"top": mass, "bottom": mass}, material=Material(), provenance=provenance())


def test_usd_carries_the_quads_and_triangle_formats_the_triangles(tmp_path, quad):
    pytest.importorskip("pxr")
    from pxr import Usd, UsdGeom

    from n4d4d.exporters import export

    mesh = quad[0]
    files = export(quad_asset(mesh), tmp_path, ("usda", "glb"))
    stage = Usd.Stage.Open(str(files["usda"]))
    gm = UsdGeom.Mesh(stage.GetPrimAtPath("/ball/body/visual"))
    counts = np.asarray(gm.GetFaceVertexCountsAttr().Get())
    idx = np.asarray(gm.GetFaceVertexIndicesAttr().Get())
    assert np.mean(counts == 4) >= 0.90 and set(counts.tolist()) <= {3, 4}
    q = int((counts == 4).sum())
    assert q == mesh.quad_count and counts.sum() == len(idx)
    assert np.array_equal(idx[:4 * q].reshape(-1, 4), mesh.quads)  # the very quads, vertex for vertex
    # GLB has triangles only: the same triangulation
    glb = trimesh.load(files["glb"], force="mesh", process=False)
    assert len(glb.faces) == len(mesh.faces)
    # hulls stay triangles
    hull = UsdGeom.Mesh(stage.GetPrimAtPath("/ball/body/collisions/hull_000"))
    assert set(np.asarray(hull.GetFaceVertexCountsAttr().Get()).tolist()) == {3}


def test_a_part_cut_from_the_visual_keeps_its_whole_quads(quad):
    from n4d4d.exporters._common import part_visual

    mesh = quad[0]
    asset = quad_asset(mesh, halves=True)
    got = 0
    for part in asset.parts:
        cut, rows = part_visual(asset, part)
        got += cut.quad_count
        # each quad of the cut is a quad of the visual (same corner positions)
        assert np.allclose(cut.vertices[cut.quads], mesh.vertices[rows[cut.quads]])
        original = {tuple(q) for q in mesh.quads.tolist()}
        assert all(tuple(q) in original for q in rows[cut.quads].tolist())
    straddling = sum(1 for i in range(mesh.quad_count)
                     if (mesh.vertices[mesh.faces[2 * i]].mean(0)[2] > 0) != (mesh.vertices[mesh.faces[2 * i + 1]].mean(0)[2] > 0))
    assert got == mesh.quad_count - straddling


def test_record_round_trips_the_quads(tmp_path, quad):
    from n4d4d.io.record import read_record, write_record

    asset = quad_asset(quad[0])
    write_record(asset, tmp_path)
    back = read_record(tmp_path).visual
    assert back.quad_count == quad[0].quad_count
    assert back.faces.tobytes() == quad[0].faces.tobytes() and back.vertices.tobytes() == quad[0].vertices.tobytes()


def test_static_stage_with_topology_quad(tmp_path, sphere):
    """Through the pipeline's static stage (``--topology quad``) from an OBJ file: the stage
    record says what was done; ``tri`` leaves the asset as it was."""
    from n4d4d.pipeline import STAGES, resolve_options, run_stage
    from n4d4d.sources import as_source

    path = tmp_path / "ball.obj"
    sphere.to_trimesh().export(path)
    opts = resolve_options(resolution=64, max_faces=3000, topology="quad")
    asset = run_stage(STAGES[0], as_source(path), opts)
    for stage in STAGES[1:3]:
        asset = run_stage(stage, asset, opts)
    fig = asset.stages[-1].figures["topology"]
    assert asset.stages[-1].name == "static" and fig["applied"], fig.get("reason")
    vis = asset.visual
    assert vis.quad_count / (len(vis.faces) - vis.quad_count) >= 0.90 and len(vis.faces) <= 3000
    assert fig["to_input"]["p95_pct"] <= MAX_P95_PCT and fig["quality"]["watertight"]
    assert any("quad-dominant" in n for n in asset.notes)
    assert topology_stage(asset, "tri", max_faces=3000) is asset
    with pytest.raises(ValueError, match="topology"):
        topology_stage(asset, "hex", max_faces=3000)


def test_sub_mesh_labels_carry_over_so_rigging_sees_the_same_parts():
    """Two spheres labelled as two sub-meshes: every quad-mesh face keeps its sphere's label."""
    a = trimesh.creation.icosphere(subdivisions=4, radius=0.05)
    b = a.copy()
    b.apply_translation([0.2, 0, 0])
    v = np.vstack([a.vertices, b.vertices])
    f = np.vstack([a.faces, b.faces + len(a.vertices)])
    labels = np.repeat([0, 1], len(a.faces)).astype(np.int32)
    mesh = Mesh(v, f, face_submesh=labels, submesh_names=("left", "right"))
    asset = Asset(name="pair", visual=mesh, source_mesh=mesh, provenance=provenance())
    out = topology_stage(asset, "quad", max_faces=4000).visual
    assert out.quad_count > 0 and out.submesh_names == ("left", "right")
    right = out.vertices[out.faces].mean(axis=1)[:, 0] > 0.1
    assert np.array_equal(out.face_submesh, right.astype(np.int32))
