"""A flat sheet lying on another part of a merged mesh is that part's surface, not a part
(issue 18, item 3: :func:`n4d4d.rigging.sheets.fuse_sheets`). Truth by construction: a
procedural two-key keypad (:func:`n4d4d.rigging.procedural.keypad`, true joints known) with a
zero-thickness label floating 0.1 mm over one key cap, as PartNet-Mobility's phone keys carry
theirs, and a zero-thickness flap standing on the slab's edge (touching it along a line only)."""

from __future__ import annotations

import numpy as np
import trimesh

from n4d4d.asset import Mesh
from n4d4d.rigging import procedural
from n4d4d.rigging.parts import component_groups
from n4d4d.rigging.sheets import flatness, fuse_sheets


def _quad(corners):
    """A planar quad in 8 triangles (4 or more: :func:`~n4d4d.rigging.parts.merge_small` takes
    fewer for a degenerate scrap)."""
    q = trimesh.Trimesh(np.asarray(corners, float), [[0, 1, 2], [0, 2, 3]], process=False)
    return q.subdivide()


def _keypad_with_label(with_flap: bool = True):
    """The keypad's merged mesh (no labels), the count of its faces and key_0_0's faces, plus a 3 x 3 cm label 0.1 mm over key_0_0's top (z 0.027)
    and a 4 x 2 cm flap standing on the slab's -X edge (x = -0.07, z 0.02 up to 0.04)."""
    asset, joints = procedural.keypad(rows=1, cols=2)
    v = asset.visual
    x0 = -0.03  # key_0_0's centre (2 columns at a 6 cm pitch)
    label = _quad([[x0 - 0.015, -0.015, 0.0271], [x0 + 0.015, -0.015, 0.0271],
                   [x0 + 0.015, 0.015, 0.0271], [x0 - 0.015, 0.015, 0.0271]])
    flap = _quad([[-0.07, -0.02, 0.02], [-0.07, 0.02, 0.02], [-0.07, 0.02, 0.04], [-0.07, -0.02, 0.04]])
    m = trimesh.util.concatenate([trimesh.Trimesh(v.vertices, v.faces, process=False), label] + [flap] * with_flap)
    key = np.flatnonzero(v.face_submesh == v.submesh_names.index("key_0_0"))
    return Mesh(m.vertices, m.faces), len(v.faces), key


def test_flatness_closed_form():
    """A plane is 0, a 1 x 1 x 0.5 box is 0.5 (its extents along its principal axes)."""
    q = _quad([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    assert flatness(q.vertices, q.faces) < 1e-12
    b = trimesh.creation.box(extents=(1.0, 1.0, 0.5))
    assert abs(flatness(b.vertices, b.faces) - 0.5) < 1e-9


def test_label_fused_into_its_key_flap_left_alone():
    """The label's faces join key_0_0's group; the flap, flat but lying on nothing (an edge
    contact), stays a group of its own; nothing else changes."""
    mesh, n0, key_faces = _keypad_with_label()
    groups = component_groups(mesh, seed=0)
    label_faces = set(range(n0, n0 + 8))
    flap_faces = set(range(n0 + 8, n0 + 16))
    owner = {int(f): name for name, fs in groups for f in fs}
    key = owner[key_faces[0]]
    assert owner[n0] != key  # before: the label is a piece of its own
    out, gone = fuse_sheets(mesh, groups, seed=0)
    owner2 = {int(f): name for name, fs in out for f in fs}
    assert gone == [owner[n0]]
    assert {owner2[f] for f in label_faces} == {owner2[key_faces[0]]}
    assert {owner2[f] for f in flap_faces} == {owner[n0 + 8]}
    assert len(out) == len(groups) - 1
    assert sum(len(f) for _, f in out) == len(mesh.faces)


def test_stage_parts_carry_the_label_on_its_key():
    """The rigging stage's parts of the merged mesh (``_source_parts``, before joints): the
    slab and two keys, the label's faces in key_0_0's part (so the label moves with its key and
    no joint is inferred for it), and a note and the count (the stage's ``sheets_fused`` figure)
    say so."""
    from n4d4d.asset import Asset
    from n4d4d.rigging.stage import _source_parts

    mesh, n0, key_faces = _keypad_with_label(with_flap=False)
    notes: list[str] = []
    counts: dict = {}
    parts, source = _source_parts(Asset("keypad", visual=mesh), 0, notes, counts=counts)
    assert source == "components" and len(parts) == 3
    holder = [p for p in parts if set(range(n0, n0 + 8)) <= set(p.face_indices.tolist())]
    assert len(holder) == 1 and set(key_faces.tolist()) <= set(holder[0].face_indices.tolist())
    assert len(holder[0].face_indices) == len(key_faces) + 8
    assert any("flat sheet" in n for n in notes) and counts == {"sheets_fused": 1}
