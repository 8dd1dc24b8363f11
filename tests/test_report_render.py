"""Offscreen renders of hand-built assets: not blank, parts where their joints say, hulls that
cover the mesh, textures shown, clips that move, skinning in closed form.

Skipped (with the reason) only where no offscreen OpenGL library exists (no libEGL / libOSMesa).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_export_common import box_asset, box_mesh, hinged_asset, skinned_asset

from n4d4d.asset import Mesh, MotionClip
from n4d4d.report.render import Camera, RenderError, backend

try:
    backend()
except RenderError as exc:  # pragma: no cover - a machine without Mesa
    pytest.skip(f"no offscreen OpenGL here: {exc}", allow_module_level=True)

RED, BLUE = (1.0, 0.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0)
WHITE = np.array([255, 255, 255])


def _lid_centre(q: float) -> np.ndarray:
    """Closed form: the lid's centre (0, 0, 0.11) turned by q about -X through (0, 0.2, 0.1)."""
    y, z = -0.2, 0.01  # centre relative to the pivot
    return np.array([0.0, 0.2 + y * np.cos(q) + z * np.sin(q), 0.1 - y * np.sin(q) + z * np.cos(q)])


def _pixel(img, point, cam):
    (c, r), = cam.project(np.asarray(point)[None])[0]
    return img[int(r), int(c)].astype(int)


def _is_red(px):  # shaded pure red: a face turned from the lights is darker, never another hue
    return px[0] > 90 and px[1] < 50 and px[2] < 50


def _is_blue(px):
    return px[2] > 90 and px[0] < 50 and px[1] < 50


@pytest.fixture(scope="module")
def chest():
    from n4d4d.report.pictures import AssetPictures

    pics = AssetPictures(hinged_asset("revolute"), size=(480, 360))
    yield pics
    pics.close()


def test_camera_matches_mujoco_free_camera(chest):
    """Camera.frame is MuJoCo's own free-camera placement (mjv_updateScene's GL camera)."""
    cam = Camera((0.1, -0.2, 0.3), 1.7, azimuth=37.0, elevation=-31.0, width=480, height=360)
    chest.scene.render(cam)
    left, right = chest.scene._scene.camera[0], chest.scene._scene.camera[1]  # the two stereo eyes
    gl_pos = 0.5 * (np.asarray(left.pos) + np.asarray(right.pos))  # a mono render uses their average
    pos, fwd, up, _ = cam.frame()
    assert np.allclose(gl_pos, pos, atol=1e-5)  # float32 positions
    assert np.allclose(left.forward, fwd, atol=1e-6) and np.allclose(left.up, up, atol=1e-6)
    gl = left
    # pinhole focal length: MuJoCo's frustum is near * tan(fovy / 2) high
    assert gl.frustum_top == pytest.approx(gl.frustum_near * np.tan(np.radians(cam.fovy) / 2), rel=1e-5)


def test_red_lid_appears_where_its_hinge_puts_it(chest):
    q = 1.0  # rad, inside the 0..1.4 limits
    cam = Camera.fit(chest.view_bounds, azimuth=90.0, elevation=-30.0, width=480, height=360)  # from -Y
    img = chest.parts(cam, joint_positions={"hinge": q}, colors={"lid": RED, "base": BLUE}, joints=False,
                      labels=False)
    assert (np.abs(img.astype(int) - WHITE).sum(axis=2) > 30).mean() > 0.05  # not blank
    assert _is_red(_pixel(img, _lid_centre(q), cam))
    # where the closed lid was, the base's top now shows; at rest the lid covers it
    assert _is_blue(_pixel(img, [0.0, -0.1, 0.1], cam))
    rest = chest.parts(cam, colors={"lid": RED, "base": BLUE}, joints=False, ghosts=False, labels=False)
    assert _is_red(_pixel(rest, [0.0, -0.1, 0.12], cam))
    assert not _is_red(_pixel(rest, _lid_centre(q), cam))


def test_joint_overlay_draws_arrow_and_range_on_the_picture(chest):
    cam = chest.camera()
    plain = chest.parts(cam, joints=False, labels=False)
    with_joints = chest.parts(cam, labels=False)
    changed = (np.abs(plain.astype(int) - with_joints.astype(int)).sum(axis=2) > 40).mean()
    assert 0.002 < changed < 0.2  # arrow, pivot and arc: visible, not the whole picture
    # the arc's end (red sphere) lies at the upper limit, 0.15 diagonal from the pivot
    overlays, labels = chest.joint_overlays(cam)
    arc_end = [o for o in overlays if o[0] == "sphere"][-1][1]
    assert np.linalg.norm(arc_end - np.array([0, 0.2, 0.1])) == pytest.approx(0.15 * chest.diag, rel=1e-9)
    assert labels and "0..80 deg" in labels[0].text  # 1.4 rad


def _hull_cover(asset):
    from n4d4d.report.pictures import AssetPictures

    pics = AssetPictures(asset, size=(320, 240))
    try:
        cam = pics.camera()
        pics.pose_parts()
        hull = pics.scene.render(cam, groups=(1,), segmentation=True) >= 0
        mesh = pics.scene.render(cam, groups=(0,), segmentation=True) >= 0
        picture = pics.hulls(cam)
    finally:
        pics.close()
    magenta = np.all(picture == (230, 0, 180), axis=2)
    return (hull & mesh).sum() / mesh.sum(), magenta[mesh].mean(), mesh.mean()


def test_hull_overlay_covers_the_mesh_silhouette():
    covered, magenta, area = _hull_cover(box_asset())  # the box's hull is the box itself
    assert area > 0.02
    assert covered > 0.995  # antialiasing may differ at edge pixels only
    assert magenta < 0.005
    covered, magenta, _ = _hull_cover(hinged_asset())  # base + two lid halves tile the chest
    assert covered > 0.995 and magenta < 0.005


def test_hull_overlay_shows_mesh_the_hulls_miss():
    asset = box_asset()
    half = box_mesh([0.1, 0.1, 0.05], [0.03 - 0.05 * np.cos(np.pi / 6), -0.02 - 0.05 * np.sin(np.pi / 6), 0.025],
                    30.0)  # the -X half of the yawed box
    covered, magenta, _ = _hull_cover(asset.replace(collision={"body": (half,)}))
    assert 0.2 < covered < 0.85 and magenta > 0.15  # half the box: its projection is not exactly half


def test_texture_is_drawn():
    import io

    import trimesh
    from PIL import Image

    from n4d4d.report.pictures import AssetPictures

    tm = trimesh.creation.box(extents=[0.2, 0.2, 0.2])
    V = np.asarray(tm.vertices) + [0, 0, 0.1]
    uvs = np.column_stack([(V[:, 0] > 0).astype(float) * 0.5 + 0.25, np.full(len(V), 0.5)])  # -X red, +X green
    tex = np.zeros((8, 8, 3), np.uint8)
    tex[:, :4] = (255, 0, 0)
    tex[:, 4:] = (0, 255, 0)
    buf = io.BytesIO()
    Image.fromarray(tex).save(buf, format="PNG")
    mesh = Mesh(V, tm.faces, uvs=uvs, texture_png=buf.getvalue())
    asset = box_asset().replace(visual=mesh, parts=(box_asset().parts[0].__class__("body", mesh, np.arange(12)),),
                                collision={})
    pics = AssetPictures(asset, size=(320, 240))
    try:
        img = pics.shaded(pics.camera(azimuth=90.0)).astype(int)  # from -Y: -X on the left
    finally:
        pics.close()
    reddish = (img[..., 0] > 120) & (img[..., 1] < 60)
    greenish = (img[..., 1] > 120) & (img[..., 0] < 60)
    assert reddish.mean() > 0.01 and greenish.mean() > 0.01
    cols = np.nonzero(reddish.any(axis=0))[0].mean(), np.nonzero(greenish.any(axis=0))[0].mean()
    assert cols[0] < cols[1]  # red (-X) left of green (+X), as the UVs say


def test_clip_frames_follow_the_joint_track(chest):
    T = np.linspace(0.0, 1.0, 11)
    clip = MotionClip("open", T, joint_positions={"hinge": np.linspace(0.0, 1.2, 11)})
    frames, times = chest.clip_frames(clip, n=3, size=(320, 240))
    assert len(frames) == 3 and np.allclose(times, [0.0, 0.5, 1.0])
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).sum(axis=2).astype(bool).mean() > 0.02


def test_skinned_vertices_bend_the_bar_in_closed_form():
    from n4d4d.report.pictures import skinned_vertices

    asset = skinned_asset()
    clip = asset.motion_clips[0]  # elbow at (0.2, 0, 0.025) turns to 90 deg about +Z at the end
    V = np.asarray(asset.visual.vertices)
    moved = skinned_vertices(asset, clip, np.array([0, len(clip.times) - 1]))
    assert np.allclose(moved[0], V, atol=1e-12)  # identity rotation at t = 0
    tip = np.flatnonzero(V[:, 0] > 0.399)  # weight 1 on the elbow
    expect = Rotation.from_euler("z", 90, degrees=True).apply(V[tip] - [0.2, 0, 0.025]) + [0.2, 0, 0.025]
    assert np.allclose(moved[1][tip], expect, atol=1e-9)
    root = np.flatnonzero(V[:, 0] < 0.001)  # weight 1 on the shoulder: does not move
    assert np.allclose(moved[1][root], V[root], atol=1e-12)


def test_sample_grid_renders_each_mesh_in_its_cell():
    from n4d4d.report.pictures import sample_grid

    meshes = [box_mesh([0.1, 0.2, 0.3]), box_mesh([0.3, 0.1, 0.1]), skinned_asset().visual]
    grid = sample_grid(meshes, columns=2, cell=(160, 120), labels=["a", "b", "c"])
    assert grid.shape == (240, 320, 3)
    cells = [grid[r * 120:(r + 1) * 120, c * 160:(c + 1) * 160] for r in range(2) for c in range(2)]
    ink = [(np.abs(c.astype(int) - WHITE).sum(axis=2) > 30).mean() for c in cells]
    assert all(i > 0.05 for i in ink[:3]) and ink[3] == 0.0  # three drawn, the fourth cell empty
