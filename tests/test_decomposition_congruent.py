"""A part that is a rigid motion (or mirror image) of one decomposed before gets its hulls, moved.

Closed form: a rigid motion x -> M x + t (M orthogonal, det +1 or -1) maps convex hulls onto
convex hulls of the same volume, so the moved part's hulls must be the first part's hulls mapped
by M and t (vertex sets equal to round-off), hold the same volume, and measure the same volume
ratio; a part scaled by 5% is not congruent and is decomposed on its own."""
from __future__ import annotations

import numpy as np
import pytest

from n4d4d.asset import Mesh
from n4d4d.physics_validation import congruent
from n4d4d.physics_validation.decomposition import convex_decomposition


def _l_block() -> Mesh:
    """An L of unequal legs (0.2 x 0.05 and 0.05 x 0.12 m, 0.04 m deep): no symmetry plane."""
    import trimesh

    a = trimesh.creation.box([0.2, 0.05, 0.04])
    a.apply_translation([0.1, 0.025, 0.02])
    b = trimesh.creation.box([0.05, 0.12, 0.04])
    b.apply_translation([0.025, 0.06, 0.02])
    return Mesh.from_trimesh(trimesh.boolean.union([a, b], engine="manifold"))


def _moved(mesh: Mesh, M: np.ndarray, t: np.ndarray) -> Mesh:
    f = np.asarray(mesh.faces)
    return Mesh(np.asarray(mesh.vertices) @ M.T + t, f[:, ::-1] if np.linalg.det(M) < 0 else f)


def _signed_volume(m: Mesh) -> float:
    tri = np.asarray(m.vertices)[np.asarray(m.faces)]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6.0


@pytest.fixture()
def store(monkeypatch):
    monkeypatch.setattr(congruent, "_STORE", [])
    monkeypatch.setattr(congruent, "MIN_SEARCH_CPU_S", 0.0)  # keep even this cheap search


@pytest.mark.parametrize("mirror", [False, True], ids=["rotated", "mirrored"])
def test_a_congruent_part_gets_the_moved_hulls(store, mirror):
    from scipy.spatial.transform import Rotation

    part = _l_block()
    hulls, fig = convex_decomposition(part, max_hulls=4, seed=0, name="first")
    assert fig["method"] == "coacd" and fig.get("reused_from") is None
    M = Rotation.from_euler("xyz", [0.4, -1.1, 2.3]).as_matrix()
    if mirror:
        M = M @ np.diag([1.0, -1.0, 1.0])
    t = np.array([0.5, -0.2, 0.3])
    moved, fig2 = convex_decomposition(_moved(part, M, t), max_hulls=4, seed=0, name="second")
    assert fig2["reused_from"] == "first" and fig2["attempts"][0]["method"] == "congruent"
    assert len(moved) == len(hulls)
    for h, g in zip(hulls, moved):
        want = np.asarray(h.vertices) @ M.T + t
        got = np.asarray(g.vertices)
        # same vertex sets (order aside): 1e-9 m is round-off of the frame's eigenvectors
        assert len(got) == len(want)
        assert np.abs(np.sort(got, axis=0) - np.sort(want, axis=0)).max() < 1e-9
        vg, vh = _signed_volume(g), _signed_volume(h)
        assert vg > 0 and abs(vg - vh) <= 1e-9 * vh  # outward faces, same volume
    # the union's volume is exact (manifold3d booleans): a rigid motion keeps it to round-off
    assert fig2["volume_ratio"] == pytest.approx(fig["volume_ratio"], rel=1e-6)


def test_a_scaled_part_or_other_budgets_are_decomposed_afresh(store):
    part = _l_block()
    convex_decomposition(part, max_hulls=4, seed=0, name="first")
    bigger = Mesh(np.asarray(part.vertices) * 1.05, np.asarray(part.faces))
    _, fig = convex_decomposition(bigger, max_hulls=4, seed=0, name="bigger")
    assert fig.get("reused_from") is None  # volume 16% larger: not congruent
    _, fig = convex_decomposition(part, max_hulls=3, seed=0, name="fewer")
    assert fig.get("reused_from") is None  # another hull budget: another search


def test_the_same_mesh_gets_its_own_result_unchanged_and_clear_forgets(store):
    part = _l_block()
    hulls, fig = convex_decomposition(part, max_hulls=4, seed=0, name="first")
    again, fig2 = convex_decomposition(part, max_hulls=4, seed=0, name="again")
    assert len(again) == len(hulls)
    assert all(np.array_equal(a.vertices, h.vertices) and np.array_equal(a.faces, h.faces)
               for a, h in zip(again, hulls))  # bit for bit, as the seeded search gives them
    timing = {"seconds", "cpu_seconds", "budget"}
    assert {k: v for k, v in fig2.items() if k not in timing} == {k: v for k, v in fig.items() if k not in timing}
    congruent.clear()
    _, fig3 = convex_decomposition(_moved(part, np.eye(3), np.array([0.1, 0.0, 0.0])), max_hulls=4, seed=0)
    assert fig3.get("reused_from") is None  # nothing kept after clear()
