"""Sparse SDF and watertight extraction against independent truth.

Closed forms (a sphere's and a box's signed distance and volume), the block layout, triangle
soups that must still give a solid, and the input errors. Resolutions are small (32-96) so the
file runs in seconds; the first call compiles warp's kernels once per machine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from n4d4d.asset import Mesh
from n4d4d.errors import EmptyMeshError, MemoryBudgetError, NonFiniteError
from n4d4d.volume import (SparseSDF, compute_sparse_sdf, estimate_memory_bytes, extract_surface,
                          mesh_quality)
from n4d4d.volume.quality import is_closed_manifold


def as_mesh(tm: trimesh.Trimesh) -> Mesh:
    return Mesh(vertices=tm.vertices, faces=tm.faces)


def closed_manifold(mesh: Mesh) -> bool:
    """Our figures and trimesh's agree that the mesh is a closed, oriented manifold."""
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    return is_closed_manifold(mesh_quality(mesh)) and tm.is_watertight and tm.is_winding_consistent


def box_sdf(p: np.ndarray, centre, size) -> np.ndarray:
    """Closed-form signed distance of an axis-aligned box (negative inside)."""
    q = np.abs(p - np.asarray(centre)) - np.asarray(size) / 2
    return np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)


def facet_gap(tm: trimesh.Trimesh, radius: float) -> float:
    """Largest distance between a sphere and its inscribed polyhedron ``tm`` (vertices on the
    sphere): the radius minus the distance of the closest face plane to the centre. Every
    point of one surface is within this of the other, so signed distances differ by at most
    this much."""
    plane = np.abs(np.einsum("ij,ij->i", tm.face_normals, tm.vertices[tm.faces[:, 0]]))
    return radius - float(plane.min())


# ----------------------------------------------------------------------------------- sphere
@pytest.fixture(scope="module")
def sphere():
    radius, centre = 0.3, np.array([0.1, -0.2, 0.05])
    tm = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    tm.apply_translation(centre)
    sdf = compute_sparse_sdf(as_mesh(tm), resolution=64)
    return tm, radius, centre, sdf


def test_sphere_band_values_match_closed_form(sphere):
    tm, radius, centre, sdf = sphere
    truth = np.linalg.norm(sdf.positions() - centre, axis=1) - radius
    # polyhedron vs sphere: facet_gap; float32 distances in grid units: ~1e-5 voxel
    tol = facet_gap(tm, radius) + 1e-4 * sdf.voxel_size
    assert sdf.n_nodes > 1000
    assert np.abs(sdf.values - truth).max() <= tol
    assert np.all(np.abs(sdf.values) <= sdf.band + 1e-7)


def test_sphere_band_is_complete(sphere):
    """Every node whose true distance is inside the band (by more than the facet gap) is
    stored, none outside it: compare with a dense evaluation of the closed form."""
    tm, radius, centre, sdf = sphere
    gap = facet_gap(tm, radius)
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in sdf.grid_shape], indexing="ij"), -1)
    idx = idx.reshape(-1, 3)
    truth = np.linalg.norm(sdf.origin + idx * sdf.voxel_size - centre, axis=1) - radius
    must = {tuple(c) for c in idx[np.abs(truth) <= sdf.band - gap - 1e-6]}
    may = {tuple(c) for c in idx[np.abs(truth) <= sdf.band + gap + 1e-6]}
    stored = {tuple(c) for c in sdf.coords}
    assert must <= stored <= may


def test_sphere_extracted_volume(sphere):
    tm, radius, centre, sdf = sphere
    mesh = extract_surface(sdf)
    assert closed_manifold(mesh)
    q = mesh_quality(mesh)
    assert q["n_shells"] == 1 and q["euler_number"] == 2
    exact = 4 / 3 * math.pi * radius**3
    area = 4 * math.pi * radius**2
    h = sdf.voxel_size
    # the polyhedron lies within facet_gap inside the sphere; marching cubes' chords of a
    # surface of curvature 1/r sag by at most h^2 / (8 r) (chord of length <= sqrt(2) h ... ,
    # taken generously as h^2 / r), both over the whole area
    tol = area * (facet_gap(tm, radius) + h**2 / radius)
    assert abs(q["volume"] - exact) <= tol
    # and every vertex lies on the sphere to the same bounds
    r = np.linalg.norm(mesh.vertices - centre, axis=1)
    assert np.abs(r - radius).max() <= facet_gap(tm, radius) + h**2 / radius


# ----------------------------------------------------------------------------------- box
def edge_tolerance(size, h: float) -> float:
    """Volume error bound of marching cubes on a box's exact SDF: faces are planes, which
    linear interpolation reproduces exactly, so the error is confined to the column of cells
    along each of the 12 edges (the distance to a convex edge is not linear there): at most
    one cell cross-section, h^2, per unit length (measured: about h^2 / 2); corners add less
    than a cell, h^3, each."""
    return 4 * float(np.sum(size)) * h**2 + 8 * h**3


@pytest.fixture(scope="module")
def box():
    size, centre = np.array([0.5, 0.3, 0.2]), np.array([1.0, 2.0, -0.5])
    tm = trimesh.creation.box(extents=size)
    tm.apply_translation(centre)
    return tm, size, centre, compute_sparse_sdf(as_mesh(tm), resolution=48)


def test_box_band_values_match_closed_form(box):
    tm, size, centre, sdf = box
    truth = box_sdf(sdf.positions(), centre, size)
    # the box mesh is the box exactly: only float32 rounding (grid units) remains
    assert np.abs(sdf.values - truth).max() <= 1e-4 * sdf.voxel_size
    assert (sdf.values < 0).any() and (sdf.values > 0).any()


def test_box_extracted_volume(box):
    tm, size, centre, sdf = box
    mesh = extract_surface(sdf)
    assert closed_manifold(mesh)
    h = sdf.voxel_size
    tol = edge_tolerance(size, h)
    assert abs(mesh_quality(mesh)["volume"] - np.prod(size)) <= tol


# ----------------------------------------------------------------------------------- layout
def test_blocks_sorted_and_contiguous(sphere):
    *_, sdf = sphere
    sdf.check_layout()
    bs = sdf.block_size
    # each block's run holds exactly the stored nodes whose coords // bs is that block
    for b in range(0, sdf.n_blocks, max(1, sdf.n_blocks // 50)):
        run = sdf.coords[sdf.block_offsets[b]:sdf.block_offsets[b + 1]]
        assert len(run) > 0 and np.all(run // bs == sdf.block_coords[b])
        local = run % bs
        key = (local[:, 0] * bs + local[:, 1]) * bs + local[:, 2]
        assert np.all(np.diff(key) > 0)
    keys = [tuple(c) for c in sdf.block_coords]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert sdf.block_offsets[0] == 0 and sdf.block_offsets[-1] == sdf.n_nodes
    assert sdf.coords.dtype == np.int32 and sdf.values.dtype == np.float32
    assert sdf.block_offsets.dtype == np.int64 and sdf.block_coords.dtype == np.int32


def test_grid_geometry(sphere):
    tm, radius, centre, sdf = sphere
    assert sdf.resolution == 64
    assert sdf.grid_shape.max() == 65  # resolution cells along the longest side
    lo, hi = sdf.origin, sdf.origin + (sdf.grid_shape - 1) * sdf.voxel_size
    assert np.all(lo < tm.bounds[0] - sdf.band) and np.all(hi > tm.bounds[1] + sdf.band)


def test_save_load_roundtrip(sphere, tmp_path):
    *_, sdf = sphere
    path = sdf.save(tmp_path / "v.npz")
    back = SparseSDF.load(path)
    for name in ("origin", "coords", "values", "block_coords", "block_offsets", "grid_shape"):
        assert np.array_equal(getattr(back, name), getattr(sdf, name))
    assert (back.resolution, back.voxel_size, back.block_size, back.band) == \
        (sdf.resolution, sdf.voxel_size, sdf.block_size, sdf.band)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporaries left
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError):
        SparseSDF.load(tmp_path / "other.npz")


def test_to_dense_small(box):
    *_, sdf = box
    dense = sdf.to_dense()
    assert dense.shape == tuple(sdf.grid_shape)
    c = sdf.coords
    assert np.array_equal(dense[c[:, 0], c[:, 1], c[:, 2]], sdf.values)
    assert (dense == np.float32(sdf.band)).sum() == dense.size - sdf.n_nodes


# ----------------------------------------------------------------------------------- soups
def box_soup(seed: int = 0) -> tuple[Mesh, float]:
    """A closed box whose 12 triangles are disconnected (own vertices), 3 flipped and 2
    duplicated; returns the soup and the box volume."""
    rng = np.random.default_rng(seed)
    tm = trimesh.creation.box(extents=(0.4, 0.3, 0.2))
    tris = tm.vertices[tm.faces].copy()
    flip = rng.choice(len(tris), 3, replace=False)
    tris[flip] = tris[flip][:, ::-1]
    tris = np.concatenate([tris, tris[rng.choice(len(tris), 2, replace=False)]])
    tris = tris[rng.permutation(len(tris))]
    return Mesh(vertices=tris.reshape(-1, 3), faces=np.arange(3 * len(tris)).reshape(-1, 3)), \
        0.4 * 0.3 * 0.2


def test_triangle_soup_box_gives_solid():
    soup, volume = box_soup()
    q_in = mesh_quality(soup)
    assert not is_closed_manifold(q_in)  # flips and duplicates: not a closed manifold
    sdf = compute_sparse_sdf(soup, resolution=48)
    mesh = extract_surface(sdf)
    assert closed_manifold(mesh) and mesh_quality(mesh)["n_shells"] == 1
    h = sdf.voxel_size
    assert abs(mesh_quality(mesh)["volume"] - volume) <= edge_tolerance((0.4, 0.3, 0.2), h)


def test_double_sided_box_gives_solid():
    """Every triangle also present flipped (double-sided export, as in PartNet): as a chain
    it cancels to nothing; one side of each pair is kept and the box comes back."""
    tm = trimesh.creation.box(extents=(0.4, 0.3, 0.2))
    rng = np.random.default_rng(1)
    faces = np.vstack([tm.faces, tm.faces[:, ::-1]])[rng.permutation(24)]
    sdf = compute_sparse_sdf(Mesh(vertices=tm.vertices, faces=faces), resolution=48)
    mesh = extract_surface(sdf)
    assert closed_manifold(mesh)
    assert abs(mesh_quality(mesh)["volume"] - 0.024) <= edge_tolerance((0.4, 0.3, 0.2),
                                                                       sdf.voxel_size)


def test_open_cylinder_gives_capped_solid():
    """A tube without caps: its two rims are capped by planar fans, so the solid is the
    cylinder (up to the 64-gon's facetting and marching cubes)."""
    r, length, n = 0.1, 0.4, 64
    tm = trimesh.creation.cylinder(radius=r, height=length, sections=n)
    keep = np.abs(tm.face_normals[:, 2]) < 0.5  # drop the caps
    tube = Mesh(vertices=tm.vertices, faces=tm.faces[keep])
    assert not mesh_quality(tube)["watertight"]
    sdf = compute_sparse_sdf(tube, resolution=64)
    mesh = extract_surface(sdf)
    assert closed_manifold(mesh) and mesh_quality(mesh)["n_shells"] == 1
    polygon = 0.5 * n * r**2 * math.sin(2 * math.pi / n)  # cross-section of the 64-gon
    h = sdf.voxel_size
    # rims: two circular edges (h^2 per length, see edge_tolerance); side: chord sag, taken
    # generously as h^2 / r per area
    tol = 2 * (2 * math.pi * r) * h**2 + (2 * math.pi * r * length) * h**2 / r
    assert abs(mesh_quality(mesh)["volume"] - polygon * length) <= tol


def test_overlapping_and_inverted_shells_are_solid():
    """Two overlapping closed boxes (self-intersecting input) give their union; an inside-out
    box (all faces flipped) still gives a solid (non-zero winding rule)."""
    a = trimesh.creation.box(extents=(0.4, 0.2, 0.2))
    b = trimesh.creation.box(extents=(0.2, 0.4, 0.2))
    b.apply_translation((0.1, 0.1, 0.0))
    both = trimesh.util.concatenate([a, b])
    union = 0.4 * 0.2 * 0.2 + 0.2 * 0.4 * 0.2 - 0.2 * 0.2 * 0.2  # overlap x [0, .2], y [-.1, .1]
    sdf = compute_sparse_sdf(as_mesh(both), resolution=64)
    mesh = extract_surface(sdf)
    q = mesh_quality(mesh)
    assert closed_manifold(mesh) and q["n_shells"] == 1
    h = sdf.voxel_size
    # 12 edges of each box plus the intersection curves: under 4 m of edges at h^2 per metre
    assert abs(q["volume"] - union) <= 4.0 * h**2
    inverted = Mesh(vertices=a.vertices, faces=a.faces[:, ::-1])
    mesh = extract_surface(compute_sparse_sdf(inverted, resolution=32))
    assert closed_manifold(mesh)
    assert mesh_quality(mesh)["volume"] == pytest.approx(0.4 * 0.2 * 0.2, rel=0.05)


@pytest.mark.parametrize("name", ["teapot.obj", "suzanne.obj"])
def test_open_real_meshes_give_closed_solid(shared_data, name):
    tm = trimesh.load(shared_data / "meshes" / name, force="mesh", process=False)
    mesh = Mesh(vertices=tm.vertices, faces=tm.faces)
    assert not mesh_quality(mesh)["watertight"]
    out = extract_surface(compute_sparse_sdf(mesh, resolution=96))
    assert closed_manifold(out) and mesh_quality(out)["volume"] > 0


# ----------------------------------------------------------------------------------- errors
def test_memory_budget_error_names_path():
    tm = trimesh.creation.icosphere(subdivisions=2)
    need = estimate_memory_bytes(tm.area, 2.0 / 1000)
    with pytest.raises(MemoryBudgetError) as err:
        compute_sparse_sdf(as_mesh(tm), resolution=1000, memory_budget_bytes=need // 4,
                           path="/data/ball.obj")
    assert "/data/ball.obj" in str(err.value) and err.value.path == "/data/ball.obj"


def test_non_finite_input():
    tm = trimesh.creation.box()
    v = np.array(tm.vertices)
    v[3, 1] = np.nan
    with pytest.raises(NonFiniteError, match="NaN"):
        compute_sparse_sdf(Mesh(vertices=v.copy(), faces=tm.faces), resolution=32, path="x.obj")
    v[3, 1] = np.inf
    with pytest.raises(NonFiniteError):
        compute_sparse_sdf(Mesh(vertices=v, faces=tm.faces), resolution=32)


def test_empty_and_zero_volume_input():
    with pytest.raises(EmptyMeshError):
        compute_sparse_sdf(Mesh(vertices=np.zeros((3, 3)), faces=np.zeros((0, 3))), resolution=32)
    # one flat square: encloses nothing
    plane = Mesh(vertices=[[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]],
                 faces=[[0, 1, 2], [0, 2, 3]])
    with pytest.raises(EmptyMeshError):
        extract_surface(compute_sparse_sdf(plane, resolution=32))
    # a degenerate soup: triangles collapsed onto a line
    line = Mesh(vertices=[[0, 0, 0], [1, 0, 0], [2, 0, 0], [0.5, 0, 0]],
                faces=[[0, 1, 2], [1, 2, 3], [0, 3, 2]])
    with pytest.raises(EmptyMeshError):
        extract_surface(compute_sparse_sdf(line, resolution=32))


def test_bad_parameters():
    tm = trimesh.creation.box()
    with pytest.raises(ValueError):
        compute_sparse_sdf(as_mesh(tm), resolution=32, band_voxels=1.0)  # below sqrt(3)
    with pytest.raises(ValueError):
        compute_sparse_sdf(as_mesh(tm), resolution=32, block_size=6)


# --- issue 17: a flat sheet given a thickness; the memory estimate counts the input --------
def test_solidify_flat_sheet_is_exact():
    # A 1 x 1 open sheet (32 triangles) thickened by 1 cm: closed, outward, volume area x T
    # (exact for a flat sheet: both offsets are the sheet moved by +-T/2 along its normal).
    import trimesh

    from n4d4d.asset import Mesh
    from n4d4d.io.mesh_checks import check_geometry
    from n4d4d.volume.solidify import solidify

    xs = np.linspace(0.0, 1.0, 5)
    X, Y = np.meshgrid(xs, xs)
    v = np.c_[X.ravel(), Y.ravel(), np.zeros(25)]
    f = [[i * 5 + j, i * 5 + j + 1, i * 5 + j + 6] for i in range(4) for j in range(4)]
    f += [[i * 5 + j, i * 5 + j + 6, i * 5 + j + 5] for i in range(4) for j in range(4)]
    solid = solidify(Mesh(v, f), 0.01)
    tm = trimesh.Trimesh(solid.vertices, solid.faces, process=False)
    assert tm.is_watertight and tm.is_winding_consistent
    assert tm.volume == pytest.approx(0.01, rel=1e-12)
    check_geometry(solid.vertices, solid.faces, "sheet", solid=True)  # no longer flat


def test_solidify_open_hemisphere():
    # An open bowl (radius 1) with T = 2 cm: volume ~ area x T (the shell between radii
    # 1 -+ 0.01 has 2 pi/3 ((1.01)^3 - (0.99)^3) = area x T (1 + T^2 / 12)); 1%: the polygonal
    # bowl's vertex normals are averaged over faces 5 degrees apart.
    import trimesh

    from n4d4d.asset import Mesh
    from n4d4d.volume.solidify import solidify

    s = trimesh.creation.icosphere(subdivisions=4)
    bowl = s.submesh([np.flatnonzero(s.triangles_center[:, 2] < 0)], append=True)
    solid = solidify(Mesh(bowl.vertices, bowl.faces), 0.02)
    tm = trimesh.Trimesh(solid.vertices, solid.faces, process=False)
    assert tm.is_watertight and tm.volume > 0
    assert tm.volume == pytest.approx(bowl.area * 0.02, rel=0.01)


def test_solidify_refuses_non_manifold_and_bad_thickness():
    from n4d4d.asset import Mesh
    from n4d4d.errors import InputError
    from n4d4d.volume.solidify import solidify

    fin = Mesh(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1.0]]),
               [[0, 1, 2], [0, 1, 3], [0, 1, 4]])  # three faces on one edge
    with pytest.raises(InputError, match="three or more faces"):
        solidify(fin, 0.01, "fin.obj")
    with pytest.raises(ValueError, match="positive"):
        solidify(fin, 0.0)


def test_memory_estimate_counts_the_input_before_any_work():
    # A 1.3 M-face input peaked at ~640 B per face before the grid (tracemalloc, R = 64 and 256
    # alike): the estimate now carries the input's share, and an input over budget is refused
    # from the raw faces, before the quality report or the weld.
    import trimesh

    from n4d4d.asset import Mesh
    from n4d4d.errors import MemoryBudgetError
    from n4d4d.volume import remesh_watertight
    from n4d4d.volume.sdf import _BYTES_PER_INPUT_FACE, estimate_for_mesh, estimate_memory_bytes

    ball = trimesh.creation.icosphere(subdivisions=3)
    mesh = Mesh(ball.vertices, ball.faces)
    est, area, h = estimate_for_mesh(mesh, 64)
    assert est == estimate_memory_bytes(area, h, 2.0, len(ball.faces))
    assert est - estimate_memory_bytes(area, h, 2.0) == int(len(ball.faces) * _BYTES_PER_INPUT_FACE)
    assert area == pytest.approx(ball.area)
    with pytest.raises(MemoryBudgetError, match="ball.obj"):
        remesh_watertight(mesh, resolution=64, memory_budget_bytes=est - 1, path="ball.obj")


# ------------------------------------------------------------------------------- hole caps
def test_boundary_loops_and_polygon_caps_cancel_the_rim():
    """Two holes (a square and a concave U outline, both planar) each become one walk, and
    their polygon caps (earcut, L - 2 triangles, no new vertex) cancel the rim exactly: the
    rim's edges plus the caps form a closed chain (no boundary edge left)."""
    from n4d4d.volume._chain import boundary_edges, boundary_loops, polygon_cap

    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    u = np.array([[0, 0, 1], [3, 0, 1], [3, 3, 1], [2, 3, 1], [2, 1, 1], [1, 1, 1], [1, 3, 1],
                  [0, 3, 1]], float)
    v = np.vstack([square, u])
    rims = [np.arange(4), 4 + np.arange(8)]
    edges = np.concatenate([np.stack([r, np.roll(r, -1)], axis=1) for r in rims])
    loops = boundary_loops(edges[np.random.default_rng(0).permutation(len(edges))])
    assert sorted(len(loop) for loop in loops) == [4, 8]
    caps = {}
    for loop in loops:
        tri = polygon_cap(v[loop])
        assert tri is not None and len(tri) == len(loop) - 2
        caps[len(loop)] = loop[tri]
    # the caps' own boundary is the rim reversed
    cap_edges = boundary_edges(np.vstack(list(caps.values())), len(v))
    assert {tuple(e) for e in cap_edges} == {(b, a) for a, b in edges}
    # the U's cap covers the U only, area 3*3 - 1*2, with no fold (unsigned area = signed)
    t = v[caps[8]]
    area = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum()
    assert area == pytest.approx(9 - 2, rel=1e-12)


def test_membrane_cap_of_a_saddle_rim():
    """A saddle rim z = a cos 2t on the unit circle is not planar: its membrane cap (rings at
    the discrete harmonic extension) obeys the maximum principle (every new vertex within the
    rim's bounding box, |z| < a), is symmetric (the centre at z = 0: cos 2t averages to zero),
    and its boundary is the rim reversed (a closed chain with it)."""
    from n4d4d.volume._chain import boundary_edges, membrane_cap

    n, a = 40, 0.3
    t = 2 * np.pi * np.arange(n) / n
    v = np.c_[np.cos(t), np.sin(t), a * np.cos(2 * t)]
    new, faces = membrane_cap(v, [np.arange(n)])
    assert len(new) > 1 and np.all(np.abs(new[:, 2]) < a)
    assert np.all(np.linalg.norm(new[:, :2], axis=1) < 1.0)
    centre = new[np.argmin(np.linalg.norm(new[:, :2], axis=1))]
    assert abs(centre[2]) < 1e-9
    rim = {(int(i), int((i + 1) % n)) for i in range(n)}
    assert {tuple(e) for e in boundary_edges(faces, n + len(new))} == {(b, a_) for a_, b in rim}
