"""Part closing keeps a part's closed pieces and closes only its open ones
(:func:`n4d4d.rigging.parts.close_mesh`, :func:`n4d4d.rigging.parts.closed_pieces`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from n4d4d.asset import Mesh
from n4d4d.rigging.parts import close_mesh, closed_pieces, is_closed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boxes import box_between as _box  # noqa: E402


def _part():
    """A closed 10 cm cube, a closed 4 cm cube turned inside out, and a 6 cm box with a
    crack (one of its 48 triangles removed) standing apart: one part of three pieces."""
    import trimesh

    cube = _box([0.0, 0.0, 0.0], [0.1, 0.1, 0.1])
    inv = _box([0.2, 0.0, 0.0], [0.24, 0.04, 0.04])
    inv.faces = inv.faces[:, ::-1]
    cup = _box([0.0, 0.2, 0.0], [0.06, 0.26, 0.06]).subdivide()
    cup.update_faces(np.arange(1, len(cup.faces)))  # a crack: one triangle of 48 gone
    tm = trimesh.util.concatenate([cube, inv, cup])
    return Mesh(tm.vertices, tm.faces), cube, cup


def test_closed_pieces_keeps_solids_and_turns_inverted_ones():
    """The two cubes are solids (the inverted one turned outward: its volume is +4^3 cm^3, a
    closed form; trimesh's signed volume is exact for a closed box up to rounding), the open
    box's ten triangles are the rest."""
    mesh, cube, cup = _part()
    solids, rest = closed_pieces(mesh)
    vols = sorted(float(s.to_trimesh().volume) for s in solids)
    np.testing.assert_allclose(vols, [0.04 ** 3, 0.1 ** 3], rtol=1e-9)
    assert len(rest) == len(cup.faces) == 47


def test_close_mesh_closes_only_the_open_piece():
    """The closed result holds the 10 cm cube's own vertices unchanged (kept, not re-meshed),
    is watertight with positive volume, and its volume is the two cubes' plus the cracked
    box's: 0.1^3 + 0.04^3 + 0.06^3 m^3 within 10 % of the cracked box's share (its crack is
    capped and the box closed as a solid on a grid of at least 96 cells: its faces lie within
    a fraction of a 0.9 mm voxel of the 6 cm walls, ~5 % of its volume per voxel of offset)."""
    mesh, cube, cup = _part()
    fig = {}
    out, rebuilt = close_mesh(mesh, figures=fig)
    assert rebuilt and is_closed(out)
    assert fig["closed_pieces_kept"] == 2 and fig["faces_closed"] == 47
    found = {tuple(np.round(v, 12)) for v in out.vertices}
    assert all(tuple(np.round(v, 12)) in found for v in cube.vertices)
    vol = float(out.to_trimesh().volume)
    assert abs(vol - (0.1 ** 3 + 0.04 ** 3 + 0.06 ** 3)) <= 0.10 * 0.06 ** 3



def test_union_solids_counts_an_overlap_once():
    """Two 10 cm cubes overlapping by half (5 x 10 x 10 cm in common): their union's volume is
    1.5 x 10^-3 m^3 (closed form; manifold3d's boolean is exact for boxes up to rounding), not
    the 2 x 10^-3 the two side by side would weigh."""
    from n4d4d.rigging.parts import union_solids

    a = _box([0.0, 0.0, 0.0], [0.1, 0.1, 0.1])
    b = _box([0.05, 0.0, 0.0], [0.15, 0.1, 0.1])
    out, united = union_solids([Mesh(a.vertices, a.faces), Mesh(b.vertices, b.faces)])
    assert united and is_closed(out)
    np.testing.assert_allclose(out.to_trimesh().volume, 1.5e-3, rtol=1e-9)


def test_a_flat_closed_piece_is_not_a_solid():
    """A tetrahedron squashed flat (apex 1e-12 m above its 10 cm base) is watertight and
    consistently wound, but its volume is rounding error: as a kept "solid" it would be a
    non-manifold sheet once its vertices are welded (PartNet-Mobility 101068's flat links). Its
    mean thickness 2V/A is ~1e-12 m, far under MIN_SOLID_THICKNESS x diagonal (1e-5 m), so it
    is handed to the closer with the open pieces; the 10 cm cube beside it (2V/A = 1/30 m)
    stays a solid."""
    import trimesh

    flat = trimesh.Trimesh([[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0], [0.03, 0.03, 1e-12]],
                           [[0, 2, 1], [0, 1, 3], [1, 2, 3], [2, 0, 3]], process=False)
    assert flat.is_watertight and flat.is_winding_consistent
    cube = _box([0.3, 0.0, 0.0], [0.4, 0.1, 0.1])
    tm = trimesh.util.concatenate([cube, flat])
    solids, rest = closed_pieces(Mesh(tm.vertices, tm.faces))
    assert len(solids) == 1 and np.isclose(float(solids[0].to_trimesh().volume), 1e-3, rtol=1e-9)
    assert len(rest) == 4
    assert not is_closed(Mesh(flat.vertices, flat.faces))
