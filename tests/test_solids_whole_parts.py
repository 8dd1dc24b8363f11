"""One solid-or-shell rule for the whole and its parts (issue 12, items 3 and 6): a multi-part
input's watertight visual is the union of its parts' solids as the rigging stage closes them,
so two open bins stay two hollow bins in the whole (not two filled blocks), and the sum of
the part volumes is the whole's.

Truths: the closed form of a shell of wall ``w`` about an open box (its five faces' area times
``w``) and the filled box volume (what the capped whole used to be); and the part closer called
on its own for the parts' volumes.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from n4d4d.asset import Asset, Mesh, Part
from n4d4d.volume import mesh_quality
from n4d4d.volume.solids import close_solid

EXTENTS = (0.3, 0.2, 0.15)  # an open bin (no top face), m


def open_bin(offset) -> Mesh:
    """A box of :data:`EXTENTS` without its top face, moved by ``offset (3,)`` m."""
    b = trimesh.creation.box(extents=EXTENTS)
    keep = b.face_normals[:, 2] < 0.5
    return Mesh(vertices=np.asarray(b.vertices) + np.asarray(offset, float), faces=np.asarray(b.faces[keep]))


def closed_manifold(mesh) -> bool:
    q = mesh_quality(mesh)
    return bool(q["watertight"] and q["edge_manifold"] and q["vertex_manifold"]
                and q["winding_consistent"] and q["volume"] > 0)


@pytest.fixture(scope="module")
def two_bins():
    """An asset of two open bins 0.1 m apart as declared parts, through the static stage."""
    from test_export_common import provenance

    from n4d4d.options import BuildOptions
    from n4d4d.volume.stage import static_stage

    a, b = open_bin((0, 0, 0)), open_bin((EXTENTS[0] + 0.1, 0, 0))
    source = Mesh(vertices=np.vstack([a.vertices, b.vertices]),
                  faces=np.vstack([a.faces, b.faces + len(a.vertices)]))
    asset = Asset(name="bins", source_mesh=source, parts=(Part("left", a), Part("right", b)),
                  provenance=provenance())
    return asset, static_stage(asset, BuildOptions(resolution=64, max_faces=20000))


def test_whole_of_open_parts_is_the_union_of_their_shells(two_bins):
    """The whole is closed, hollow like its parts: its volume is the two shells' closed form
    (five faces' area x the wall each; 10 %: the rounded rims and corners, as in
    tests/test_solids.py) and far below the two filled bins (0.009 m^3) that capping the whole
    gave; and it is the sum of the parts closed on their own (the parts do not touch: the union
    is the sum; 1 %: the whole's simplification to the face budget)."""
    _, out = two_bins
    fig = out.stages[-1].figures
    assert fig["sign"] == "union of the part solids" and fig["parts"] == {"left": "shell", "right": "shell"}
    assert closed_manifold(out.visual)
    area = EXTENTS[0] * EXTENTS[1] + 2 * (EXTENTS[0] + EXTENTS[1]) * EXTENTS[2]
    shells = [close_solid(p.mesh)[1] for p in out.parts]
    closed_form = sum(area * s["wall"] for s in shells)
    whole = mesh_quality(out.visual)["volume"]
    assert whole == pytest.approx(closed_form, rel=0.1)
    assert whole < 0.2 * 2 * np.prod(EXTENTS)
    parts = sum(mesh_quality(close_solid(p.mesh)[0])["volume"] for p in out.parts)
    assert whole == pytest.approx(parts, rel=0.01)
    assert out.volume is not None and out.volume.resolution == 64


def test_rigging_reuses_the_closings_of_the_static_stage(two_bins):
    """The rigging stage's closer (``rigging.parts.close_mesh``) gets the very solids the whole
    was built from (reused, not closed again), so whole and parts agree by construction."""
    from n4d4d.rigging.parts import close_mesh

    _, out = two_bins
    fig: dict = {}
    mesh, changed = close_mesh(out.parts[0].mesh, figures=fig)
    assert changed and fig.get("reused") is True
    again, fig2 = close_solid(out.parts[0].mesh)
    assert np.array_equal(again.vertices, mesh.vertices) and np.array_equal(again.faces, mesh.faces)
    assert fig2["reused"] is True


def test_closing_reuse_is_keyed_on_content_and_arguments():
    """A different wall (``thickness``) or a moved input is closed anew; a copy of the same
    arrays is reused; the figures handed out are copies (a caller's edit does not leak)."""
    mesh = open_bin((0, 0, 0))
    out, fig = close_solid(mesh)
    fig["kind"] = "edited"
    copy_in = Mesh(vertices=mesh.vertices.copy(), faces=mesh.faces.copy())
    out2, fig2 = close_solid(copy_in)
    assert out2 is out and fig2["reused"] and fig2["kind"] == "shell"
    _, fig3 = close_solid(mesh, thickness=0.004)
    assert "reused" not in fig3 and fig3["wall"] == pytest.approx(0.004)
    moved = Mesh(vertices=mesh.vertices + 1e-3, faces=mesh.faces)
    assert "reused" not in close_solid(moved)[1]
