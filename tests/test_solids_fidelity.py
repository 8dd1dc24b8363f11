"""Issue 12's per-part targets on shapes that reproduced the PartNet-Mobility misses (task H2):
an open button cap keeps its thickness within 10 % or 1 mm, a single sheet beside which the
uncapped winding number is >= 1/2 gets the shell and not a band-thick layer (p95 distance to
the input), a shell between two close sheets lies on its offset surface, and the sign
propagation's no-crossing test survives float32 distance errors.

Truths: closed-form distances of boxes and planes, libigl's exact point-to-triangle distance
(independent of the warp queries the closer uses), and closed-form box membership.
"""

from __future__ import annotations

import numpy as np
import trimesh

from n4d4d.asset import Mesh
from n4d4d.volume.solids import close_solid
from test_solids import closed_manifold


def igl_distance(points, mesh) -> np.ndarray:
    """Exact distance (m) from ``points (P, 3)`` to ``mesh``'s surface (libigl)."""
    import igl

    d2, _, _ = igl.point_mesh_squared_distance(np.ascontiguousarray(points, np.float64),
                                               np.asarray(mesh.vertices, np.float64),
                                               np.asarray(mesh.faces, np.int64))
    return np.sqrt(np.maximum(d2, 0))


def surface_p95(out, ref, n=20000) -> float:
    """p95 distance (m) from ``n`` area-weighted samples of ``out`` to ``ref`` (seed 0)."""
    tm = trimesh.Trimesh(out.vertices, out.faces, process=False)
    pts, _ = trimesh.sample.sample_surface(tm, n, seed=0)
    return float(np.percentile(igl_distance(pts, ref), 95))


def cup(extents=(0.076, 0.076, 0.0095)) -> Mesh:
    """A box missing its bottom face: PartNet's remote buttons (100809: 76 x 76 x 9.5 mm)."""
    b = trimesh.creation.box(extents=extents)
    keep = b.face_normals[:, 2] > -0.5
    return Mesh(vertices=np.asarray(b.vertices), faces=np.asarray(b.faces[keep]))


def test_open_cup_keeps_its_thickness():
    """A 9.5 mm cup is open (its cap would add 2/3 of its area), so it becomes the shell about
    its surface, which grows its height by the wall. The old closer's wall, two voxels of
    0.45 % of the diagonal (0.96 mm), made it 10.58 mm: over issue 12's 10 % (0.95 mm). The
    shell is now cut back to the input's oriented box grown by 0.4 of that tolerance
    (``solids.clip_to_extent``): height within 10 % of 9.5 mm, closed, and (the
    shell lying a wall's half off the sheet) the p95 distance to the input under 0.5 % of the
    diagonal."""
    mesh = cup()
    out, fig = close_solid(mesh)
    assert fig["kind"] == "shell" and closed_manifold(out)
    height = float(np.ptp(out.vertices[:, 2]))
    assert abs(height - 0.0095) <= 0.1 * 0.0095, height
    diag = float(np.linalg.norm(np.ptp(mesh.vertices, axis=0)))
    assert surface_p95(out, mesh) <= 0.005 * diag


def test_single_sheets_beside_an_inside_get_the_shell_not_a_band_layer():
    """Five single faces of a box (outward): the uncapped winding number inside is 1/2 to 5/6,
    so the band solid of ``winding_band`` was a layer that thick inside every wall, its inner
    face ``winding_band`` (4 voxels) off the input (PartNet 40147's cabinet bottom, a single
    sheet: p95 0.68 % of the diagonal). Beside a single sheet the field is now the shell of the
    default two-voxel wall: every surface sample within 1.25 voxels of the input (one voxel
    offset, marching cubes' error a fraction of a voxel), where the layer put the p95 at ~4."""
    from n4d4d.volume.extract import extract_surface
    from n4d4d.volume.sdf import compute_sparse_sdf

    b = trimesh.creation.box(extents=(1.0, 0.8, 0.6))
    mesh = Mesh(vertices=np.asarray(b.vertices), faces=np.asarray(b.faces[b.face_normals[:, 2] < 0.5]))
    sdf = compute_sparse_sdf(mesh, resolution=64, winding_band=4 * (1.0 / 56))
    h = sdf.voxel_size
    assert abs(sdf.band / h - 2.0) < 1e-9
    out = extract_surface(sdf)
    assert surface_p95(out, mesh) <= 1.25 * h


def test_shell_between_close_sheets_lies_on_its_offset():
    """Two parallel 0.5 x 0.5 m sheets 2.84 voxels apart (PartNet 101668's oven body): the
    distance to the nearer sheet has its kink between them, within a grid edge of the one-voxel
    offset, where marching cubes' linear interpolation put vertices 1.22 voxels off the sheets.
    Snapped onto the offset surface, the shell's vertices lie at the offset: p99 of their exact
    distance within 2 % of a voxel of it (snap moves of at most half a voxel leave none
    beyond)."""
    from n4d4d.volume import remesh_watertight

    r = 128
    h = 0.5 / (r - 8)  # about the voxel: 8 padding cells (band 2), the shell widens the box a little
    gap = 2.84 * h
    s = trimesh.creation.box(extents=(0.5, 0.5, 1.0))
    top = s.faces[s.face_normals[:, 2] > 0.5]
    v = np.asarray(s.vertices)
    verts, faces = [], []
    for k, z in enumerate((0.0, gap)):
        w = v.copy()
        w[:, 2] = z
        verts.append(w)
        faces.append(top + k * len(v))
    mesh = Mesh(vertices=np.vstack(verts), faces=np.vstack(faces))
    out, sdf, fig = remesh_watertight(mesh, resolution=r, shell=h, mode="always")  # the default wall's half
    assert closed_manifold(out)
    d = igl_distance(out.vertices, mesh) / sdf.voxel_size
    offset = h / sdf.voxel_size
    assert np.percentile(np.abs(d - offset), 99) <= 0.02, np.percentile(d, [1, 50, 99])


def test_sign_propagation_survives_float32_distance_errors():
    """A box whose faces lie half-way between grid nodes: the nodes either side of a face are
    0.5 voxel from it, their segment crosses it, and ``d(p) + d(q) = |p - q|`` exactly. Warp's
    float32 distances err by up to ~8e-4 voxel (measured on PartNet 45213); with every
    distance read 8e-4 too long, the old 1e-3 slack took both nodes for "far" (> 0.5005) and
    joined them, one sign for the inside and the outside. The sign must match the box's
    closed-form membership at every node."""
    from n4d4d.volume._queries import MeshQueries
    from n4d4d.volume.sdf import _sign_blocks

    bs, nb = 8, 2
    n = bs * nb
    lo, hi = 3.5, 11.5  # faces between nodes
    box = trimesh.creation.box(extents=[hi - lo] * 3)
    box.apply_translation([(lo + hi) / 2] * 3)
    queries = MeshQueries(np.asarray(box.vertices), np.asarray(box.faces))
    g = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).astype(np.float64)
    outside = np.maximum(np.maximum(lo - g, g - hi), 0.0)
    dist = np.where(np.linalg.norm(outside, axis=-1) > 0, np.linalg.norm(outside, axis=-1),
                    np.min(np.minimum(g - lo, hi - g), axis=-1))
    truth = np.all((g > lo) & (g < hi), axis=-1)
    dist = (dist + 8e-4).astype(np.float32)
    dist[dist > 2.5] = np.inf  # the band
    block_coords = np.stack(np.meshgrid(*[np.arange(nb)] * 3, indexing="ij"), -1).reshape(-1, 3).astype(np.int32)
    dense = np.stack([dist[x * bs:(x + 1) * bs, y * bs:(y + 1) * bs, z * bs:(z + 1) * bs]
                      for x, y, z in block_coords])
    want = np.stack([truth[x * bs:(x + 1) * bs, y * bs:(y + 1) * bs, z * bs:(z + 1) * bs]
                     for x, y, z in block_coords])
    inside, _, _ = _sign_blocks(queries, block_coords, dense, np.array([nb] * 3), bs)
    band = np.isfinite(dense)
    assert np.array_equal(inside[band], want[band]), int((inside[band] != want[band]).sum())


def test_panel_edge_faces_are_not_taken_for_single_sheets():
    """A closed 0.6 x 0.4 x 0.04 m plate through the uncapped winding-number band: its edge
    faces have no face opposite within twice the band along their normals (the other edge is
    0.6 m away), like a single sheet, but their nodes lie between the plate's two large faces.
    Taken for single sheets, the plate got the shell about its edges and faces (extents one
    voxel too long each way, volume +3 %; PartNet 11361's table top, p95 0.68 % of the
    diagonal). The solid must be the plate: extents within a quarter voxel (marching cubes on
    exact distances places a flat face to a small fraction of a voxel) and volume within 3 % of
    the closed form (measured -0.4 %: the bevel at the edges)."""
    from n4d4d.volume import mesh_quality
    from n4d4d.volume.extract import extract_surface
    from n4d4d.volume.sdf import compute_sparse_sdf

    b = trimesh.creation.box(extents=(0.6, 0.4, 0.04))
    mesh = Mesh(vertices=np.asarray(b.vertices), faces=np.asarray(b.faces))
    h = 0.6 / 88  # resolution 96, padding 4 cells each side (band 2)
    sdf = compute_sparse_sdf(mesh, resolution=96, winding_band=0.02 + h)
    assert abs(sdf.voxel_size - h) < 1e-12
    out = extract_surface(sdf)
    assert closed_manifold(out)
    assert np.all(np.abs(np.ptp(out.vertices, axis=0) - [0.6, 0.4, 0.04]) <= 0.25 * h)
    assert abs(mesh_quality(out)["volume"] / (0.6 * 0.4 * 0.04) - 1) <= 0.03
