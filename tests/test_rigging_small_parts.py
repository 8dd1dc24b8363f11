"""Merged-mesh segmentation keeps buttons and joins the pieces of one small part
(:func:`n4d4d.rigging.parts.component_groups`, :func:`~n4d4d.rigging.parts.merge_small`), and
a sliver nested in a cabinet is no drawer (:func:`n4d4d.rigging.hypotheses.candidates`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from n4d4d.asset import Mesh

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boxes import box_between as _box  # noqa: E402


def _panel_with_keys():
    """A 0.6 x 0.4 x 0.03 m panel (diagonal 0.72 m) with, 2 mm above its top face, three
    1.6 x 1.6 x 0.8 cm keys (each 2.4 cm across, 3.3 % of the diagonal; 1.5 % is 1.1 cm),
    one of them a narrower cap on a stem (two boxes touching face to face, no vertex shared), and a 4 mm speck
    (0.6 %) by the panel's corner. Labels: 0 panel, 1..3 the keys, 4 the speck."""
    import trimesh

    z = 0.032
    pieces = [(_box([-0.3, -0.2, 0.0], [0.3, 0.2, 0.03]), 0),
              (_box([-0.2, 0.0, z], [-0.184, 0.016, z + 0.008]), 1),
              (_box([0.0, 0.0, z], [0.016, 0.016, z + 0.008]), 2),
              (_box([0.2, 0.0, z], [0.216, 0.016, z + 0.004]), 3),  # the stem ...
              (_box([0.202, 0.002, z + 0.004], [0.214, 0.014, z + 0.008]), 3),  # ... and a narrower cap on it
              (_box([0.285, 0.185, z], [0.289, 0.189, z + 0.002]), 4)]  # by a corner
    mesh = trimesh.util.concatenate([p for p, _ in pieces])
    labels = np.concatenate([np.full(len(p.faces), k, np.int32) for p, k in pieces])
    return Mesh(mesh.vertices, mesh.faces), labels


def test_keys_are_parts_and_a_capped_key_is_one():
    """Four parts: the panel and each key, the two-piece key's faces in one part; the speck
    (under the 1.5 % floor) merged into the panel. Truth: the construction labels."""
    from n4d4d.rigging.parts import component_groups, merge_small

    mesh, labels = _panel_with_keys()
    groups, merged = merge_small(mesh, component_groups(mesh))
    owners = sorted(tuple(sorted(set(labels[f].tolist()))) for _, f in groups)
    assert owners == [(0, 4), (1,), (2,), (3,)], owners
    assert len(merged) == 1  # only the speck
    capped = next(f for _, f in groups if set(labels[f].tolist()) == {3})
    assert len(capped) == int((labels == 3).sum())  # both pieces of the capped key


def test_sliver_in_a_cabinet_is_no_drawer_but_a_drawer_is():
    """A closed 0.6 m box (parent, diagonal 1.04 m) holding a 4.6 cm sliver (4 % of it) and,
    in a second case, a
    0.5 x 0.3 x 0.15 m drawer, both wholly inside its hull: only the drawer gets drawer
    candidates (the sliver is under :data:`~n4d4d.rigging.hypotheses.DRAWER_SIZE` of its
    parent's diagonal)."""
    from n4d4d.rigging.contact import analyse_contact
    from n4d4d.rigging.geometry import PartGeometry
    from n4d4d.rigging.hypotheses import candidates, pair_shape

    cab = _box([-0.3, -0.3, 0.0], [0.3, 0.3, 0.6])
    parent = PartGeometry("cabinet", np.asarray(cab.vertices), np.asarray(cab.faces))

    def drawer_candidates(lo, hi):
        b = _box(lo, hi)
        child = PartGeometry("child", np.asarray(b.vertices), np.asarray(b.faces))
        c = analyse_contact(child, parent)
        s = pair_shape(child, parent, c, parent.diag)
        return [k for k in candidates(child, parent, c, s) if k.family == "drawer"], s

    sliver, s1 = drawer_candidates([-0.02, -0.01, 0.1], [0.02, 0.01, 0.11])  # 4 cm x 2 cm x 1 cm
    assert s1.size < 0.06 and s1.nested > 0.9
    drawer, s2 = drawer_candidates([-0.25, -0.28, 0.2], [0.25, 0.02, 0.35])
    assert s2.nested > 0.9
    assert sliver == [] or max(k.prior for k in sliver) == 0.0
    assert drawer and max(k.prior for k in drawer) > 0.5
