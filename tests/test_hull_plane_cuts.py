"""Thin plates and small parts keep their shape in their hulls: plane cuts for volume.

Closed forms (independent of any decomposition): a thin L-plate (two 3 mm plates meeting at a
right angle) has the volume of its two boxes less their shared corner block, and its one convex
hull is about 15 times that (the prism between the plates); a button (a 6 mm cap on a 1.5 mm
stem) is two cylinders, and its one hull, the cone frustum joining cap and stem, is 1.86 times
their volume. Each splits into convex pieces by one plane, so cut pieces must reach the closed
volume, and the decomposition must meet the certificate's hull volume bound (1.35). A plate bent
through a half turn cannot be cut into convex pieces; its closed-form optimum for k equal arcs
bounds what the cuts may waste."""
from __future__ import annotations

import numpy as np
import pytest

from n4d4d.asset import Mesh
from n4d4d.physics_validation.decomposition import convex_decomposition
from n4d4d.physics_validation.hulls import hull_of
from n4d4d.physics_validation.plane_cuts import plane_cut_pieces
from n4d4d.physics_validation.thresholds import FidelityThresholds

T = 0.003  # plate thickness (m)


def _union(*parts):
    import trimesh

    return trimesh.boolean.union(list(parts), engine="manifold")


def _l_plate():
    """A 0.2 x 0.1 m floor plate and a 0.15 m tall wall plate along its x = 0 edge, both 3 mm."""
    import trimesh

    floor = trimesh.creation.box([0.2, 0.1, T])
    floor.apply_translation([0.1, 0.05, T / 2])
    wall = trimesh.creation.box([T, 0.1, 0.15])
    wall.apply_translation([T / 2, 0.05, 0.075])
    volume = 0.2 * 0.1 * T + 0.15 * 0.1 * T - T * 0.1 * T  # the corner block counted once
    return Mesh.from_trimesh(_union(floor, wall)), volume


def _button():
    """A cap (radius 6 mm, 3 mm tall) on a stem (radius 1.5 mm, 8 mm), 64-gon cylinders."""
    import trimesh

    cap = trimesh.creation.cylinder(radius=0.006, height=0.003, sections=64)
    cap.apply_translation([0, 0, 0.008 + 0.0015])
    stem = trimesh.creation.cylinder(radius=0.0015, height=0.0082, sections=64)  # 0.2 mm into the cap
    stem.apply_translation([0, 0, 0.0041])
    # the polygons' own volumes (exact for the 64-gons), less the 0.2 mm of stem inside the cap
    volume = cap.volume + stem.volume * 0.008 / 0.0082
    return Mesh.from_trimesh(_union(cap, stem)), volume


@pytest.mark.parametrize("make", [_l_plate, _button], ids=["thin-L-plate", "button-with-stem"])
def test_plane_cut_pieces_reach_the_closed_form_volume(make):
    mesh, volume = make()
    one = hull_of(mesh.vertices).volume / volume
    assert one > 1.8  # one hull is far past the bound: the case the cuts are for
    pieces = plane_cut_pieces(mesh, 8)
    hulls = [hull_of(p) for p in pieces]
    assert 2 <= len(pieces) <= 8 and all(h is not None for h in hulls)
    # every piece is a box or a cylinder, convex: their hulls add up to the solid, to the
    # round-off of manifold3d's cuts (1e-6 relative would do; 0.5% leaves room for a sliver)
    assert sum(h.volume for h in hulls) == pytest.approx(volume, rel=5e-3)


def _half_pipe(r=0.1, t=0.002, width=0.05, n=128):
    """Half a pipe: a 2 mm plate bent through 180 degrees at 0.1 m inner radius (an n-gon arc)."""
    import manifold3d as mf

    a = np.linspace(0.0, np.pi, n)
    ring = np.vstack([np.c_[(r + t) * np.cos(a), (r + t) * np.sin(a)], np.c_[r * np.cos(a[::-1]), r * np.sin(a[::-1])]])
    m = mf.Manifold.extrude(mf.CrossSection([ring.tolist()]), width).to_mesh64()
    return Mesh(np.asarray(m.vert_properties)[:, :3], np.asarray(m.tri_verts, dtype=np.int64))


def test_a_bent_thin_plate_is_cut_into_arcs_near_the_closed_form_optimum():
    # k equal arcs of angle pi / k: each arc's hull adds the segment under its inner chord,
    # r^2 (th - sin th) / 2, to its area th / 2 ((r + t)^2 - r^2); for k = 16 that is 1.159.
    # Greedy cuts leave unequal arcs, which waste more: their excess may be 1.5 times the
    # optimum's (measured 1.217, excess 1.37 times), still well inside the 1.35 bound.
    r, t, k = 0.1, 0.002, 16
    th = np.pi / k
    optimum = 1.0 + r * r * (th - np.sin(th)) / (th * ((r + t) ** 2 - r * r))
    assert optimum == pytest.approx(1.159, abs=1e-3)
    mesh = _half_pipe(r, t)
    import trimesh

    volume = trimesh.Trimesh(mesh.vertices, mesh.faces).volume
    pieces = plane_cut_pieces(mesh, k)
    assert len(pieces) <= k
    assert sum(hull_of(p).volume for p in pieces) / volume - 1.0 <= 1.5 * (optimum - 1.0)
    # CoACD's first run leaves 8 hulls at 1.73 (its concavity, a distance, is under its
    # threshold); the decomposition meets the certificate's bound with the cuts' hulls
    hulls, fig = convex_decomposition(mesh, max_hulls=k, time_budget_s=20.0, seed=0)
    th_ = FidelityThresholds()
    assert th_.min_volume_ratio <= fig["volume_ratio"] <= th_.max_volume_ratio and fig["fidelity_passed"]
    assert len(hulls) <= k


@pytest.mark.parametrize("make", [_l_plate, _button], ids=["thin-L-plate", "button-with-stem"])
def test_thin_and_small_parts_meet_the_hull_volume_bound(make):
    mesh, volume = make()
    hulls, fig = convex_decomposition(mesh, max_hulls=4, time_budget_s=20.0, seed=0)
    th = FidelityThresholds()
    assert th.min_volume_ratio <= fig["volume_ratio"] <= th.max_volume_ratio, fig["attempts"]
    assert fig["fidelity_passed"] and len(hulls) <= 4
    # the union's volume against the closed form, not against the mesh it was measured on:
    # the ratio is union / mesh volume, and the mesh is the closed form's polygons (1e-9)
    import trimesh

    assert trimesh.Trimesh(mesh.vertices, mesh.faces).volume == pytest.approx(volume, rel=1e-6)
