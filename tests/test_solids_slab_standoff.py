"""A winding-number slab that stands off the input gives way to the shell (issue 12: PartNet
103251/link_22, a phone part of panels that are not one wall's two faces: the slab's p95
distance to the input was 0.93 % of the diagonal, over the 0.5 % target; the shell's is 0.38 %)."""

from __future__ import annotations

import numpy as np


def test_standoff_slab_gives_way_to_the_closer_shell(shared_data):
    import igl

    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.volume.quality import is_closed_manifold, mesh_quality
    from n4d4d.volume.solids import close_solid

    asset = load_urdf_asset(shared_data / "partnet-mobility" / "103251" / "mobility.urdf")
    part = next(p for p in asset.parts if p.name == "link_22")
    out, fig = close_solid(part.mesh)
    assert is_closed_manifold(mesh_quality(out))
    assert fig["kind"] == "shell" and "rejected" in fig["winding"]
    assert fig["winding"]["shell_p95_out_to_in"] < fig["winding"]["p95_out_to_in"]
    # independent of the closer's own sampler: libigl's exact distance from 20,000 area-weighted
    # samples (trimesh, seed 0) of the output to the input, against issue 12's p95 <= 0.5 %
    import trimesh

    v = np.ascontiguousarray(part.mesh.vertices, np.float64)
    f = np.ascontiguousarray(part.mesh.faces, np.int64)
    pts, _ = trimesh.sample.sample_surface(trimesh.Trimesh(out.vertices, out.faces, process=False), 20000, seed=0)
    d = np.sqrt(np.maximum(igl.point_mesh_squared_distance(np.ascontiguousarray(pts), v, f)[0], 0))
    diag = float(np.linalg.norm(v.max(0) - v.min(0)))
    assert np.percentile(d, 95) <= 0.005 * diag
