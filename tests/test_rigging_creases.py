"""Merged-mesh segmentation cuts a surface along the concave creases that ring what stands out
of it (:mod:`n4d4d.rigging.creases`), and invents no part where a crease rings nothing that
stands out: keys welded into a keypad (one boolean union, one connected surface) come apart
key by key, pockets and an L-shaped block stay one piece, a key wound against its keypad is
cut all the same; a door resting on a held body is not welded to it (:func:`fuse_held`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from n4d4d.asset import Mesh

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boxes import box_between  # noqa: E402

SLAB = ([-0.1, -0.075, 0.0], [0.1, 0.075, 0.02])  # m; keys stand on its top face z = 0.02


def _keys(rows=3, cols=4, height=0.004):
    """Key boxes (12 mm square, ``height`` m tall) on a grid over the slab, 0.02 m apart, each
    sunk 1 mm into the slab so the boolean union welds it to the slab's top along a crease."""
    out = []
    for r in range(rows):
        for c in range(cols):
            x, y = -0.045 + 0.03 * c, -0.03 + 0.03 * r
            out.append(box_between([x - 0.006, y - 0.006, 0.019], [x + 0.006, y + 0.006, 0.02 + height]))
    return out


def _boolean(a, bs, op):
    """``a`` with every mesh of ``bs`` added (``op="add"``) or subtracted, by manifold3d (the
    boolean library the project uses), as one trimesh."""
    import manifold3d as mf
    import trimesh

    def to(m):
        return mf.Manifold(mf.Mesh(vert_properties=np.asarray(m.vertices, np.float32),
                                   tri_verts=np.asarray(m.faces, np.uint32)))

    out = to(a)
    for b in bs:
        out = out + to(b) if op == "add" else out - to(b)
    m = out.to_mesh()
    return trimesh.Trimesh(np.asarray(m.vert_properties)[:, :3], np.asarray(m.tri_verts), process=False)


def _groups(mesh):
    from n4d4d.rigging.parts import component_groups, merge_small

    v = Mesh(np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64))
    return v, merge_small(v, component_groups(v))[0]


def test_welded_keypad_comes_apart_key_by_key():
    """12 keys united with their slab (one connected surface, no labels): 13 groups, one per
    key holding exactly the faces above the slab's top (z > 0.02 m, float32 rounding of the
    union: 1e-6 m) within that key's 12 mm square (+ 1e-6 m), and the slab group none of them."""
    keys = _keys()
    union = _boolean(box_between(*SLAB), keys, "add")
    v, groups = _groups(union)
    assert len(groups) == 13
    cent = v.vertices[v.faces].mean(1)
    above = cent[:, 2] > 0.02 + 1e-6
    found = set()
    for _, f in groups[1:]:
        assert above[f].all()  # a key group holds no slab face
        c = cent[f]
        hits = [k for k, b in enumerate(keys)
                if np.all(c[:, :2] >= b.bounds[0][:2] - 1e-6) and np.all(c[:, :2] <= b.bounds[1][:2] + 1e-6)]
        assert len(hits) == 1
        found.add(hits[0])
    assert found == set(range(12))
    assert not above[groups[0][1]].any()  # the slab group: no key face


def test_pockets_and_an_l_block_stay_one_piece():
    """A slab with 12 pockets (floors ringed by concave creases, but flat: nothing stands out)
    and an L-shaped block (a concave crease that rings nothing): one group each."""
    pocketed = _boolean(box_between(*SLAB), [box_between(k.bounds[0] + [0, 0, -0.003], k.bounds[1] + [0, 0, 0.01])
                                             for k in _keys()], "sub")
    assert len(_groups(pocketed)[1]) == 1
    ell = _boolean(box_between([0, 0, 0], [0.2, 0.05, 0.05]), [box_between([0, 0, 0.04], [0.05, 0.05, 0.2])], "add")
    assert len(_groups(ell)[1]) == 1


def test_a_key_wound_against_its_keypad_is_cut_all_the_same():
    """The faces of every key turned inside out (wound against the slab, as some
    PartNet-Mobility keys are): the crease test orients the surface first, so the 12 keys are
    still 12 groups."""
    union = _boolean(box_between(*SLAB), _keys(), "add")
    F = np.asarray(union.faces).copy()
    cent = np.asarray(union.vertices)[F].mean(1)
    up = cent[:, 2] > 0.02 + 1e-6
    F[up] = F[up][:, ::-1]
    union.faces = F
    assert len(_groups(union)[1]) == 13


def test_a_door_resting_on_a_held_body_is_not_welded_to_it():
    """A body block between a plinth below and a crown above (held: contacts on opposite
    faces, each a seam of comparable size), and a door lying flat on the body's front face: the
    door stays its own group (before, the held body welded every seam, its door included, as
    PartNet-Mobility 11709's doors against the refrigerator)."""
    import trimesh

    from n4d4d.rigging.parts import fuse_held

    body = box_between([-0.25, -0.2, 0.05], [0.25, 0.2, 0.55])
    plinth = box_between([-0.25, -0.2, 0.0], [0.25, 0.2, 0.05])
    crown = box_between([-0.25, -0.2, 0.55], [0.25, 0.2, 0.6])
    door = box_between([-0.25, -0.22, 0.05], [0.25, -0.2, 0.55])
    meshes = [body, plinth, crown, door]
    merged = trimesh.util.concatenate(meshes)
    v = Mesh(merged.vertices, merged.faces)
    offs = np.cumsum([0] + [len(m.faces) for m in meshes])
    groups = [(f"g{k}", np.arange(offs[k], offs[k + 1])) for k in range(4)]
    fused, _ = fuse_held(v, groups)
    door_faces = set(groups[3][1].tolist())
    assert any(set(f.tolist()) == door_faces for _, f in fused)


def test_crease_patches_split_concave_creases_and_folds_only():
    """Two unit squares sharing the edge x = 0 (four triangles, wound consistently): flat, or
    turned 90 degrees up (concave: the surface turns towards its normal), 90 degrees down
    (convex) or folded 180 degrees back onto itself. Closed form: only the concave crease and
    the fold split the surface (2 patches), the flat and convex ones leave one."""
    from n4d4d.rigging.creases import crease_patches

    def squares(far):  # the square x in [-1, 0] (normal +z), then one beyond the edge x = 0
        V = np.array([[-1, 0, 0], [0, 0, 0], [0, 1, 0], [-1, 1, 0], far[0], far[1]], float)
        F = np.array([[0, 1, 2], [0, 2, 3], [1, 4, 5], [1, 5, 2]])
        return V, F

    cases = {"flat": ([1, 0, 0], [1, 1, 0]), "concave": ([0, 0, 1], [0, 1, 1]),
             "convex": ([0, 0, -1], [0, 1, -1]), "fold": ([-1, 0, 1e-9], [-1, 1, 1e-9])}
    want = {"flat": 1, "concave": 2, "convex": 1, "fold": 2}
    for name, far in cases.items():
        V, F = squares(np.asarray(far, float))
        lab, _, _ = crease_patches(V, F, np.arange(4))
        assert len(set(lab.tolist())) == want[name], name
