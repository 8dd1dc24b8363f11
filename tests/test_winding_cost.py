"""The cost controls of the uncapped winding-number solid (:mod:`n4d4d.volume.winding`):
the band's sign read from a coarse lattice (:func:`band_inside`) agrees node for node with
evaluating the winding number everywhere (the independent truth: libigl's fast winding
number at every node), at a fraction of the evaluations; and the prediction that decides
whether to build the solid at all (:func:`predicted_new_area`) matches the closed-form answer
on a rimless plate (every sample in a filled wall: 0) and an open box of single sheets
(every sample beside a hollowed layer: 1)."""

from __future__ import annotations

import numpy as np
import trimesh

from n4d4d.asset import Mesh
from n4d4d.volume._chain import boundary_edges, clean
from n4d4d.volume._queries import MeshQueries
from n4d4d.volume.sdf import grid_for
from n4d4d.volume.winding import (DIRECT_FACES, WINDING_SKIP_FRACTION, band_inside, predicted_new_area,
                                  winding_reach)
from n4d4d.volume.solids import close_solid, thickness_samples
from test_solids_winding import rimless_box


def fine(v, f, faces):
    """``(v, f)`` subdivided until it has at least ``faces`` faces (trimesh's midpoint split)."""
    while len(f) < faces:
        v, f = trimesh.remesh.subdivide(v, f)
    return np.asarray(v, float), np.asarray(f, np.int64)


def open_cabinet() -> Mesh:
    """Five rimless 20 mm panels (two faces each) of a cabinet open at the front, 1 mm apart."""
    t, g = 0.02, 0.001
    panels = [([0, 0, 0], [0.5, 0.4, t]), ([0, 0, 0.3 - t], [0.5, 0.4, 0.3]),
              ([0, 0, t + g], [t, 0.4, 0.3 - t - g]), ([0.5 - t, 0, t + g], [0.5, 0.4, 0.3 - t - g]),
              ([t + g, 0.4 - t, t + g], [0.5 - t - g, 0.4, 0.3 - t - g])]
    vs, fs, n = [], [], 0
    for lo, hi in panels:
        v, f = fine(*rimless_box(lo, hi), 400)
        vs.append(v)
        fs.append(f + n)
        n += len(v)
    return Mesh(vertices=np.vstack(vs), faces=np.vstack(fs))


def open_sheet_box() -> Mesh:
    """Five single faces of a 1 x 0.8 x 0.6 m box (top missing), subdivided."""
    b = trimesh.creation.box(extents=(1.0, 0.8, 0.6))
    v, f = fine(np.asarray(b.vertices), np.asarray(b.faces[b.face_normals[:, 2] < 0.5]), 2 * DIRECT_FACES)
    return Mesh(vertices=v, faces=f)


def band_nodes(mesh: Mesh, resolution: int, reach_voxels: float):
    """Grid-unit queries, the nodes within ``reach_voxels`` of the surface (exact distances) and the
    chain's rim, as :func:`~n4d4d.volume.sdf.compute_sparse_sdf` hands them to :func:`band_inside`."""
    v, f, _ = clean(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    origin, h, n = grid_for(np.stack([v.min(0), v.max(0)]), resolution, 2.0)
    gv = (v - origin) / h
    q = MeshQueries(gv, f)
    g = np.stack(np.meshgrid(*[np.arange(k) for k in n], indexing="ij"), -1).reshape(-1, 3)
    d = q.distance(g, reach_voxels + 1.0)
    near = d < reach_voxels
    return q, g[near], d[near], gv[boundary_edges(f, len(v))]


def test_lattice_sign_matches_every_node_evaluated():
    """On the open cabinet (w ~ 0 / 1 off the rims) and the open box of single sheets (w 1/2
    to 5/6 inside, the hard case) at 96 cells, 3.5 voxels each side: not one node differs from
    evaluating all of them, and at most 60 % are evaluated (measured: see the assert message)."""
    for mesh in (open_cabinet(), open_sheet_box()):
        assert len(mesh.faces) >= DIRECT_FACES  # the lattice path, not the direct one
        q, nodes, d, rim = band_nodes(mesh, 96, 3.5)
        got, n_eval = band_inside(q, nodes, d, rim)
        truth = np.abs(q.winding_number(nodes.astype(np.float64))) >= 0.5
        assert int((got != truth).sum()) == 0
        assert n_eval <= 0.6 * len(nodes), f"{n_eval} of {len(nodes)} evaluated"


def test_prediction_of_new_area_decides_before_building():
    """Rimless plate: both faces 20 mm apart, within twice the band: predicted 0 (closed form:
    every sample's ray meets the other face). Open box of single sheets: no sample has a
    surface within twice the band along its normal and the inner side has w >= 1/2: predicted
    1 (within 2 %, the samples on the open top's rim); close_solid then does not build the
    winding solid (its figures say so) and still makes the shell."""
    plate = Mesh(*rimless_box([0, 0, 0], [0.4, 0.3, 0.02]))
    box = open_sheet_box()
    for mesh, want in ((plate, 0.0), (box, 1.0)):
        hits, _ = thickness_samples(mesh)
        v = np.asarray(mesh.vertices)
        _, h, _ = grid_for(np.stack([v.min(0), v.max(0)]), 96, 2.0)
        rec = predicted_new_area(mesh, winding_reach(hits, h), h)
        assert abs(rec["predicted_new_area_fraction"] - want) <= 0.02, rec
    out, fig = close_solid(box)
    assert fig["kind"] == "shell" and "not built" in fig["winding"]["rejected"]
    assert fig["winding"]["predicted_new_area_fraction"] > WINDING_SKIP_FRACTION
