"""Texture bake of :mod:`n4d4d.volume.texture` against closed forms: a sphere whose texture
encodes latitude, baked onto a different sphere mesh, read back at random surface points."""

from __future__ import annotations

import io

import numpy as np
import pytest
import trimesh

from n4d4d.asset import Mesh
from n4d4d.volume.texture import closest_points, sample_texture, transfer_appearance

pytest.importorskip("xatlas", reason="pip install xatlas (UV atlas of the baked mesh)")


def latitude_sphere(size=256):
    """A UV sphere whose glTF UVs are (longitude, latitude) / (2 pi, pi), v down from the north
    pole, and a texture whose red channel is 255 * v and green 255 * (1 - v): the colour of a
    point is a closed form of its height, continuous across the longitude seam."""
    tm = trimesh.creation.uv_sphere(radius=1.0, count=[48, 48])
    v = tm.vertices / np.linalg.norm(tm.vertices, axis=1, keepdims=True)
    uv = np.column_stack([(np.arctan2(v[:, 1], v[:, 0]) / (2 * np.pi)) % 1.0, np.arccos(np.clip(v[:, 2], -1, 1)) / np.pi])
    rows = (np.arange(size) + 0.5) / size
    img = np.zeros((size, size, 3), np.uint8)
    img[..., 0] = np.round(255 * rows)[:, None]
    img[..., 1] = np.round(255 * (1 - rows))[:, None]
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return Mesh(tm.vertices, tm.faces, uvs=uv, texture_png=buf.getvalue())


def expected(points):
    v = np.arccos(np.clip(points[:, 2] / np.linalg.norm(points, axis=1), -1, 1)) / np.pi
    return np.column_stack([255 * v, 255 * (1 - v)])


def test_closest_points_on_a_box_are_exact():
    box = trimesh.creation.box(extents=[2, 2, 2])
    pts = np.array([[0.2, 0.3, 3.0], [-5.0, 0.1, -0.4], [0.0, 0.0, 0.5]])
    face, bary = closest_points(box.vertices, box.faces, pts)
    got = np.einsum("nk,nkd->nd", bary, box.vertices[box.faces[face]])
    # closed form: clamp to the box for outside points; the nearest face for the inside one
    want = np.array([[0.2, 0.3, 1.0], [-1.0, 0.1, -0.4], [0.0, 0.0, 1.0]])
    assert np.allclose(got, want, atol=1e-6)  # float32 BVH query at unit scale


def test_baked_texture_matches_the_closed_form_colour():
    src = latitude_sphere()
    target_tm = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    target = Mesh(target_tm.vertices, target_tm.faces)
    out, fig = transfer_appearance(target, src)
    assert fig["appearance"] == "texture" and out.face_uvs.shape == (len(target.faces), 3, 2)
    assert np.array_equal(out.faces, target.faces) and np.array_equal(out.vertices, target.vertices)  # still closed
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(out.texture_png)).convert("RGB"))
    rng = np.random.default_rng(0)
    f = rng.integers(0, len(out.faces), 3000)
    b = rng.dirichlet([1, 1, 1], 3000)
    pts = np.einsum("nk,nkd->nd", b, out.vertices[out.faces[f]])
    uv = np.einsum("nk,nkd->nd", b, out.face_uvs[f])
    got = sample_texture(img, uv)[:, :2]
    err = np.abs(got - expected(pts))
    # one texel of 256 rows is 1/256 of the 0..255 ramp = 1 level; the icosphere's flat faces sit
    # up to 1.2% of the radius inside the UV sphere's, and the closest point moves along the
    # ramp by at most that: ~2 levels; bilinear filtering at chart borders adds a little more
    assert np.median(err) < 2.0 and np.quantile(err, 0.99) < 8.0, (np.median(err), np.quantile(err, 0.99))


def test_vertex_colours_transfer_by_closest_point():
    tm = trimesh.creation.icosphere(subdivisions=3)
    colours = np.zeros((len(tm.vertices), 4), np.uint8)
    colours[:, 0] = np.where(tm.vertices[:, 0] > 0, 255, 0)
    colours[:, 3] = 255
    src = Mesh(tm.vertices, tm.faces, vertex_colors=colours)
    target = trimesh.creation.icosphere(subdivisions=2, radius=0.98)
    out, fig = transfer_appearance(Mesh(target.vertices, target.faces), src)
    assert fig["appearance"] == "vertex_colors"
    away = np.abs(target.vertices[:, 0]) > 0.2  # off the colour edge at x = 0
    assert np.array_equal(out.vertex_colors[away, 0], np.where(target.vertices[away, 0] > 0, 255, 0))


def test_split_uv_seams_keeps_faces_and_maps_rows():
    from n4d4d.exporters._common import split_uv_seams

    src = latitude_sphere(64)
    target = trimesh.creation.icosphere(subdivisions=1)
    out, _ = transfer_appearance(Mesh(target.vertices, target.faces), src)
    split, rows = split_uv_seams(out)
    assert len(split.faces) == len(out.faces) and split.face_uvs is None
    assert np.array_equal(split.vertices, out.vertices[rows])
    assert np.allclose(split.uvs[split.faces], out.face_uvs)  # every corner keeps its UV
    assert np.array_equal(rows[split.faces], out.faces)


def test_dilate_texels_equals_the_whole_image_rings():
    """The ring-by-ring dilation against the direct whole-image formulation (every empty texel
    with filled 4-neighbours, wrapping at the borders, takes their mean; repeated): equal to the
    last bit, including charts that touch the texture's edge (the wrap-around)."""
    from n4d4d.volume.texture import dilate_texels

    def reference(rgba, filled, steps):
        img, mask = rgba.astype(np.float64), filled.copy()
        for _ in range(steps):
            acc, cnt = np.zeros_like(img), np.zeros(mask.shape)
            for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                acc += np.roll(img * mask[..., None], (dy, dx), axis=(0, 1))
                cnt += np.roll(mask, (dy, dx), axis=(0, 1))
            grow = (~mask) & (cnt > 0)
            img[grow] = acc[grow] / cnt[grow][:, None]
            mask = mask | grow
        return np.clip(np.round(img), 0, 255).astype(np.uint8)

    rng = np.random.default_rng(3)
    filled = np.zeros((96, 80), bool)
    for r, c, s in zip(rng.integers(0, 96, 12), rng.integers(0, 80, 12), rng.integers(1, 9, 12)):
        filled[max(r - s, 0):r + s, max(c - s, 0):c + s] = True
    filled[0, 10:30] = filled[40:60, 79] = True  # charts on the edges: their rings wrap
    rgba = np.where(filled[..., None], rng.integers(0, 256, (96, 80, 4)), 0).astype(np.float64)
    for steps in (1, 3, 8):
        assert np.array_equal(dilate_texels(rgba, filled, steps), reference(rgba, filled, steps))
