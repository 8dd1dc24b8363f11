"""Report pictures draw a texture given per face corner (``Mesh.face_uvs``: the UV atlas the
static stage bakes a textured input onto), as the exporters write it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from test_export_common import box_asset

from n4d4d.asset import Mesh, Part
from n4d4d.report.render import RenderError, backend

try:
    backend()
except RenderError as exc:  # pragma: no cover - machines without offscreen GL
    pytest.skip(f"no offscreen OpenGL here: {exc}", allow_module_level=True)


def _shaded(mesh: Mesh) -> np.ndarray:
    from n4d4d.report.pictures import AssetPictures

    asset = box_asset().replace(visual=mesh, parts=(Part("body", mesh, np.arange(len(mesh.faces))),), collision={})
    pics = AssetPictures(asset, size=(320, 240))
    try:
        return pics.shaded(pics.camera(azimuth=90.0)).astype(int)  # from -Y: -X on the left
    finally:
        pics.close()


def test_face_uvs_texture_is_drawn():
    import trimesh
    from PIL import Image

    tm = trimesh.creation.box(extents=[0.2, 0.2, 0.2])
    V = np.asarray(tm.vertices) + [0, 0, 0.1]
    F = np.asarray(tm.faces)
    # each face samples the texture by the side of its own centroid: corners shared by a red and
    # a green face get two coordinates, which per-vertex UVs cannot say
    left = V[F].mean(axis=1)[:, 0] < 0
    face_uvs = np.zeros((len(F), 3, 2))
    face_uvs[..., 0] = np.where(left, 0.25, 0.75)[:, None]
    face_uvs[..., 1] = 0.5
    tex = np.zeros((8, 8, 3), np.uint8)
    tex[:, :4] = (255, 0, 0)
    tex[:, 4:] = (0, 255, 0)
    buf = io.BytesIO()
    Image.fromarray(tex).save(buf, format="PNG")
    img = _shaded(Mesh(V, F, face_uvs=face_uvs, texture_png=buf.getvalue()))
    reddish = (img[..., 0] > 120) & (img[..., 1] < 60)
    greenish = (img[..., 1] > 120) & (img[..., 0] < 60)
    assert reddish.mean() > 0.01 and greenish.mean() > 0.01
    assert np.nonzero(reddish.any(axis=0))[0].mean() < np.nonzero(greenish.any(axis=0))[0].mean()
    plain = _shaded(Mesh(V, F))  # the control: no texture, no red or green
    assert not ((plain[..., 0] > 120) & (plain[..., 1] < 60)).any()
