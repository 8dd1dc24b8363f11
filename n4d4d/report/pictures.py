"""What an asset's pictures show: shaded views, parts and joints, hulls, skeleton, motion clips.

:class:`AssetPictures` puts one :class:`~n4d4d.asset.Asset` into one compiled
:class:`~n4d4d.report.render.MjScene` (each part a posable body carrying its visual faces and
its hulls; a translucent "ghost" of every moved child at its upper limit; a deformable copy of
the visual mesh for per-frame vertex clips) and renders:

- :meth:`~AssetPictures.shaded`: the visual mesh in its texture or material colour;
- :meth:`~AssetPictures.parts`: parts in distinct colours, each movable joint as an arrow along
  its axis from its pivot, its range as an arc (revolute) or a bar (prismatic), and the child's
  ghost at the upper limit;
- :meth:`~AssetPictures.hulls`: every convex hull in its own colour under the translucent mesh;
- :meth:`~AssetPictures.skeleton`: bones and joints over the translucent mesh;
- :meth:`~AssetPictures.clip_frames`: frames of a :class:`~n4d4d.asset.MotionClip` (joint tracks
  and root poses by forward kinematics, per-frame vertices, or skeleton rotations by linear blend
  skinning).

:func:`sample_grid` renders a list of meshes (generator samples) as one image. Images are
``(H, W, 3) uint8``. It writes no file (:mod:`n4d4d.report.html` does) and draws no plot.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from n4d4d.report.render import Camera, Layer, MjScene

#: Distinct part colours (matplotlib's tab10), RGB in [0, 1].
PALETTE = ((0.122, 0.467, 0.706), (1.0, 0.498, 0.055), (0.173, 0.627, 0.173), (0.839, 0.153, 0.157),
           (0.580, 0.404, 0.741), (0.549, 0.337, 0.294), (0.890, 0.467, 0.761), (0.498, 0.498, 0.498),
           (0.737, 0.741, 0.133), (0.090, 0.745, 0.812))
GHOST_ALPHA = 0.35
MESH_GREY = (0.72, 0.72, 0.74)


def part_colors(names) -> dict[str, tuple[float, float, float, float]]:
    """Part name -> RGBA from :data:`PALETTE`, in the order given (cycling past ten parts)."""
    return {n: (*PALETTE[i % len(PALETTE)], 1.0) for i, n in enumerate(names)}


def _decode_png(data: bytes | None) -> np.ndarray | None:
    if not data:
        return None
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _apply(T: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return np.asarray(pts, np.float64) @ T[:3, :3].T + T[:3, 3]


def _motion(pivot: np.ndarray, axis: np.ndarray, kind: str, q: float) -> np.ndarray:
    """``(4, 4)`` rest-to-world motion of a child moved by joint coordinate ``q``."""
    from n4d4d.kinematics import axis_angle_matrix

    T = np.eye(4)
    if kind in ("revolute", "continuous"):
        R = axis_angle_matrix(axis, np.array([q]))[0]
        T[:3, :3] = R
        T[:3, 3] = pivot - R @ pivot
    elif kind == "prismatic":
        T[:3, 3] = q * axis
    return T


@dataclass(frozen=True)
class Label:
    """A text label at an image position (pixels: column, row)."""

    text: str
    xy: tuple[float, float]
    rgb: tuple[int, int, int] = (20, 20, 20)


def draw_labels(image: np.ndarray, labels) -> np.ndarray:
    """``image`` with ``labels`` written on it (dark text on a white halo)."""
    if not labels:
        return image
    from PIL import Image, ImageDraw, ImageFont

    im = Image.fromarray(image)
    draw = ImageDraw.Draw(im)
    try:
        font = ImageFont.load_default(size=max(11, image.shape[0] // 36))
    except TypeError:  # Pillow < 10.1: fixed bitmap font
        font = ImageFont.load_default()
    for lab in labels:
        x = float(np.clip(lab.xy[0], 2, image.shape[1] - 8))
        y = float(np.clip(lab.xy[1], 2, image.shape[0] - 14))
        draw.text((x, y), lab.text, fill=lab.rgb, font=font, stroke_width=2, stroke_fill=(255, 255, 255))
    return np.asarray(im)


class AssetPictures:
    """Renders of one asset, sharing one compiled scene.

    Args:
        asset: the record; needs ``visual`` or ``parts``.
        size: ``(width, height)`` of the largest picture (pixels).

    Raises:
        RenderError: no offscreen OpenGL, or MuJoCo rejects a mesh.
        ValueError: the asset has neither a visual mesh nor parts.
    """

    def __init__(self, asset, size: tuple[int, int] = (640, 480)):
        from n4d4d.kinematics import effective_type, unit_axis

        if asset.visual is None and not asset.parts:
            raise ValueError(f"asset '{asset.name}' has no visual mesh and no parts to render")
        self.asset = asset
        self.size = size
        vis = asset.visual
        self.texture = None if vis is None or vis.texture_png is None or (vis.uvs is None and vis.face_uvs is None) \
            else _decode_png(vis.texture_png)
        base = MESH_GREY if vis is None or vis.base_color is None else tuple(vis.base_color[:3])
        if vis is not None and vis.vertex_colors is not None and self.texture is None:
            base = tuple(np.asarray(vis.vertex_colors[:, :3], np.float64).mean(axis=0) / 255.0)
        self.base_rgba = (*base, 1.0)
        parts = list(asset.parts)
        self.part_names = [p.name for p in parts] or ["body"]
        self.joints = [j for j in asset.joints if effective_type(j) != "fixed"]
        self.axes = {j.name: unit_axis(j, asset.name) for j in self.joints}
        self.kinds = {j.name: effective_type(j) for j in self.joints}
        layers: list[Layer] = []
        if parts:
            for p in parts:
                layers.append(self._part_layer(p))
        else:
            layers.append(Layer("part:body", vis.vertices, vis.faces, self.base_rgba, "body", 0,
                                vis.uvs, self.texture, face_uvs=vis.face_uvs))
        self.hull_layers: list[str] = []
        for pname, hulls in asset.collision.items():
            body = pname if pname in self.part_names else self.part_names[0]
            for k, h in enumerate(hulls):
                name = f"hull:{pname}:{k}"
                layers.append(Layer(name, h.vertices, h.faces, (*PALETTE[len(self.hull_layers) % 10], 1.0), body, 1))
                self.hull_layers.append(name)
        self.ghosts = [j for j in self.joints if j.child in self.part_names]
        for j in self.ghosts:
            src = next(lay for lay in layers if lay.name == f"part:{j.child}")
            layers.append(Layer(f"ghost:{j.child}", src.vertices, src.faces, (0.5, 0.5, 0.5, GHOST_ALPHA),
                                f"ghost:{j.child}", 2))
        self.deformable = vis is not None and any(
            c.vertices is not None or (c.joint_rotations and asset.skeleton is not None and asset.skin_weights is not None)
            for c in asset.motion_clips)
        if self.deformable:
            layers.append(Layer("skin", vis.vertices, vis.faces, self.base_rgba, "world", 3, vis.uvs,
                                self.texture, deformable=True))
        verts = np.vstack([lay.vertices for lay in layers if not lay.name.startswith("ghost:")])
        self.bounds = np.stack([verts.min(axis=0), verts.max(axis=0)])
        self.diag = float(np.linalg.norm(self.bounds[1] - self.bounds[0]))
        ghost_pts = [_apply(self._ghost_pose(j), lay.vertices) for j in self.ghosts for lay in layers
                     if lay.name == f"ghost:{j.child}"]
        allv = np.vstack([verts] + ghost_pts)
        self.view_bounds = np.stack([allv.min(axis=0), allv.max(axis=0)])
        bodies = self.part_names + [f"ghost:{j.child}" for j in self.ghosts]
        self.scene = MjScene(bodies, layers, max_size=size, floor_z=float(self.bounds[0, 2]),
                             floor_radius=0.7 * self.diag, floor_centre=self.bounds.mean(axis=0)[:2])
        self.layer_names = [lay.name for lay in layers]

    def _part_layer(self, p) -> Layer:
        vis = self.asset.visual
        if vis is not None and p.face_indices is not None and len(p.face_indices):
            faces = np.asarray(vis.faces)[np.asarray(p.face_indices, np.int64)]
            used, inverse = np.unique(faces, return_inverse=True)
            uvs = None if vis.uvs is None else np.asarray(vis.uvs)[used]
            fuv = None if vis.face_uvs is None else np.asarray(vis.face_uvs)[np.asarray(p.face_indices, np.int64)]
            return Layer(f"part:{p.name}", np.asarray(vis.vertices)[used], inverse.reshape(-1, 3),
                         self.base_rgba, p.name, 0, uvs, self.texture if uvs is not None or fuv is not None else None,
                         face_uvs=fuv)
        return Layer(f"part:{p.name}", p.mesh.vertices, p.mesh.faces, self.base_rgba, p.name, 0)

    # -- cameras -------------------------------------------------------------------------------

    def camera(self, azimuth: float | None = None, elevation: float = -25.0, size: tuple[int, int] | None = None,
               bounds: np.ndarray | None = None) -> Camera:
        """A camera framing the asset (or ``bounds`` ``(2, 3)`` m). Without ``azimuth`` it looks
        at the side where the movable parts go (their displacement at the upper limit), turned
        35 degrees so that depth shows; 60 degrees for an asset without joints."""
        w, h = size or self.size
        if azimuth is None:
            azimuth = 60.0
            moves = [self._ghost_pose(j) @ np.append(self._centroid(j.child), 1.0) - np.append(self._centroid(j.child), 1.0)
                     for j in self.ghosts]
            d = np.sum([m[:2] / (np.linalg.norm(m[:2]) + 1e-12) for m in moves], axis=0) if moves else np.zeros(2)
            if np.linalg.norm(d) > 1e-6:  # camera on the side the parts move to: view direction -d
                azimuth = float(np.degrees(np.arctan2(-d[1], -d[0]))) + 35.0
        return Camera.fit(self.view_bounds if bounds is None else bounds, azimuth=azimuth, elevation=elevation,
                          width=w, height=h)

    def _centroid(self, part: str) -> np.ndarray:
        p = next((q for q in self.asset.parts if q.name == part), None)
        return self.bounds.mean(axis=0) if p is None else np.asarray(p.mesh.vertices).mean(axis=0)

    def _limit(self, j) -> float:
        if self.kinds[j.name] == "continuous" or not np.isfinite(j.upper):
            return np.pi / 2
        return float(j.upper)

    def _ghost_pose(self, j) -> np.ndarray:
        return _motion(np.asarray(j.origin, np.float64), self.axes[j.name], self.kinds[j.name], self._limit(j))

    # -- pictures ------------------------------------------------------------------------------

    def _colour_parts(self, colors=None, textured=False, alpha=1.0) -> None:
        colors = colors or {}
        for n in self.part_names:
            rgba = colors.get(n, self.base_rgba)
            self.scene.set_rgba(f"part:{n}", (*rgba[:3], alpha), textured=textured and n not in colors)

    def pose_parts(self, joint_positions: dict[str, float] | None = None, root: np.ndarray | None = None) -> None:
        """Place every part at joint coordinates ``joint_positions`` (rad or m; missing joints
        at 0) and root pose ``root`` ``(4, 4)``, by :func:`n4d4d.kinematics.forward_kinematics`."""
        from n4d4d.kinematics import forward_kinematics, kinematic_tree

        self.scene.reset_poses()
        if not self.asset.parts or (not self.asset.joints and root is None):
            if root is not None:
                self.scene.set_pose(self.part_names[0], root)
            return
        frames = kinematic_tree(self.asset)
        poses = forward_kinematics(frames, joint_positions or {}, root, self.asset.name)
        self._apply_frames(frames, {k: v[None] for k, v in poses.items()}, 0)

    def _apply_frames(self, frames, poses: dict[str, np.ndarray], t: int) -> None:
        for f in frames:
            T = np.eye(4)
            T[:3, 3] = -np.asarray(f.origin)
            self.scene.set_pose(f.part.name, poses[f.name][t] @ T)

    def shaded(self, camera: Camera, joint_positions=None) -> np.ndarray:
        """The visual mesh, textured where it has a texture, else in its material colour."""
        self.pose_parts(joint_positions)
        self._colour_parts(textured=True)
        return self.scene.render(camera, groups=(0, 5))

    def parts(self, camera: Camera, joint_positions=None, colors=None, joints: bool = True,
              ghosts: bool = True, labels: bool = True) -> np.ndarray:
        """Parts in distinct colours (``colors`` part -> RGBA overrides :func:`part_colors`);
        with ``joints``, each movable joint's axis arrow, range and label; with ``ghosts``, each
        moved child translucent at its upper limit (drawn only at the rest pose)."""
        cols = {**part_colors(self.part_names), **(colors or {})}
        self.pose_parts(joint_positions)
        self._colour_parts(cols)
        groups = [0, 5]
        if ghosts and self.ghosts and not joint_positions:
            groups.append(2)
            for j in self.ghosts:
                self.scene.set_rgba(f"ghost:{j.child}", (*cols[j.child][:3], GHOST_ALPHA))
                self.scene.set_pose(f"ghost:{j.child}", self._ghost_pose(j))
        overlays, labs = self.joint_overlays(camera) if joints else ([], [])
        img = self.scene.render(camera, groups=groups, overlays=overlays)
        return draw_labels(img, labs) if labels else img

    def joint_overlays(self, camera: Camera):
        """Overlay primitives and labels of every movable joint at the rest pose: an arrow from
        the pivot along the axis (0.3 of the diagonal), a sphere at the pivot, the range as an arc
        at 0.15 of the diagonal about the axis (revolute; a full circle for continuous) or a bar
        through the child's centroid from the lower to the upper limit (prismatic)."""
        out, labels = [], []
        r = 0.012 * self.diag
        for j in self.joints:
            a, p = self.axes[j.name], np.asarray(j.origin, np.float64)
            kind = self.kinds[j.name]
            if kind == "prismatic":  # a slide has no pivot point: draw it through the child
                p = self._centroid(j.child)
            tip = p + 0.3 * self.diag * a
            out.append(("arrow", p, tip, 1.6 * r, (1.0, 0.78, 0.0, 1.0)))
            out.append(("sphere", p, None, 2.0 * r, (0.1, 0.1, 0.1, 1.0)))
            if kind in ("revolute", "continuous"):
                u = self._centroid(j.child) - p
                u = u - (u @ a) * a
                if np.linalg.norm(u) < 1e-9:
                    u = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
                u /= np.linalg.norm(u)
                lo, hi = (-np.pi, np.pi) if kind == "continuous" else (float(j.lower), float(j.upper))
                th = np.linspace(lo, hi, max(8, int(abs(hi - lo) / 0.08)))
                arc = p + 0.15 * self.diag * (np.cos(th)[:, None] * u + np.sin(th)[:, None] * np.cross(a, u))
                out += [("capsule", arc[i], arc[i + 1], 0.6 * r, (0.85, 0.1, 0.1, 1.0)) for i in range(len(arc) - 1)]
                out.append(("sphere", arc[-1], None, 1.4 * r, (0.85, 0.1, 0.1, 1.0)))
                rng = "continuous" if kind == "continuous" else f"{np.degrees(lo):.0f}..{np.degrees(hi):.0f} deg"
                end = arc[-1]
            else:
                c = self._centroid(j.child)
                ends = (c + float(j.lower) * a, c + float(j.upper) * a)
                out.append(("capsule", ends[0], ends[1], 0.6 * r, (0.85, 0.1, 0.1, 1.0)))
                out += [("sphere", e, None, 1.4 * r, (0.85, 0.1, 0.1, 1.0)) for e in ends]
                rng = f"{j.lower:.2f}..{j.upper:.2f} m"
                end = ends[1]
            px, z = camera.project(end[None])
            if z[0] > 0:
                labels.append(Label(f"{j.name} ({kind}) {rng}", (px[0, 0] + 6, px[0, 1] - 8)))
        return out, labels

    def hulls(self, camera: Camera) -> np.ndarray:
        """Every convex hull in its own colour, the visual mesh's outline drawn over them in dark
        grey, and mesh the hulls miss in magenta: two renders (hulls alone, mesh alone) composited
        by their segmentations, so coincident surfaces do not z-fight."""
        self.pose_parts()
        hull_rgb = self.scene.render(camera, groups=(1, 5))
        hull_ids = self.scene.render(camera, groups=(1,), segmentation=True)
        mesh_ids = self.scene.render(camera, groups=(0,), segmentation=True)
        return hull_overlay(hull_rgb, hull_ids >= 0, mesh_ids >= 0)

    def skeleton(self, camera: Camera, mesh_alpha: float = 0.25) -> np.ndarray:
        """Bones (capsules from each joint to its parent) and joints (spheres) at the bind pose
        over the translucent visual mesh; the plain shaded view when there is no skeleton."""
        sk = self.asset.skeleton
        self.pose_parts()
        self._colour_parts(alpha=mesh_alpha if sk is not None else 1.0)
        return self.scene.render(camera, groups=(0, 5), overlays=self.bone_overlays() if sk is not None else ())

    def bone_overlays(self, positions: np.ndarray | None = None):
        """Capsules parent -> child and spheres at joint ``positions`` ``(J, 3)`` (m; default the
        skeleton's bind positions)."""
        sk = self.asset.skeleton
        pos = np.asarray(sk.bind_positions if positions is None else positions, np.float64).reshape(-1, 3)
        r = 0.008 * self.diag
        out = []
        for j, par in enumerate(np.asarray(sk.parents).reshape(-1)):
            if par >= 0:
                out.append(("capsule", pos[par], pos[j], r, (1.0, 0.45, 0.0, 1.0)))
        out += [("sphere", q, None, 1.8 * r, (0.15, 0.15, 0.6, 1.0)) for q in pos]
        return out

    # -- motion clips --------------------------------------------------------------------------

    def clip_frames(self, clip, n: int = 6, size: tuple[int, int] = (320, 240)) -> tuple[list[np.ndarray], np.ndarray]:
        """``n`` frames of ``clip`` evenly spaced in time, one camera framing the whole motion.

        Returns (images ``(h, w, 3) uint8``, their times ``(n,) float64`` s). Per-frame vertices
        ``(T, V, 3)`` are drawn as they are; skeleton rotations without vertices are skinned with
        the asset's weights (:func:`skinned_vertices`); joint tracks and root poses move the
        parts by forward kinematics.
        """
        times = np.asarray(clip.times, np.float64)
        idx = np.unique(np.round(np.linspace(0, len(times) - 1, max(1, n))).astype(int))
        verts = None
        if self.deformable and clip.vertices is not None:
            verts = np.asarray(clip.vertices, np.float64)[idx]
        elif self.deformable and clip.joint_rotations:
            verts = skinned_vertices(self.asset, clip, idx)
        if verts is not None:
            bounds = np.stack([verts.reshape(-1, 3).min(0), verts.reshape(-1, 3).max(0)])
            cam = self.camera(size=size, bounds=np.stack([np.minimum(bounds[0], self.bounds[0]),
                                                          np.maximum(bounds[1], self.bounds[1])]))
            self.scene.set_rgba("skin", self.base_rgba, textured=True)
            images = []
            for v in verts:
                self.scene.set_vertices("skin", v)
                images.append(self.scene.render(cam, groups=(3, 5)))
            return images, times[idx]
        from n4d4d.kinematics import kinematic_tree, part_poses

        cols = part_colors(self.part_names) if len(self.part_names) > 1 else {}
        self._colour_parts(cols, textured=True)
        if not self.asset.parts:
            return [self.shaded(self.camera(size=size))], times[idx[:1]]
        frames = kinematic_tree(self.asset)
        poses = part_poses(self.asset, frames, clip)
        def corners(part) -> np.ndarray:  # the part's bounding-box corners (m, rest)
            b = part.mesh.bounds
            return np.array([[x, y, z] for x in b[:, 0] for y in b[:, 1] for z in b[:, 2]])

        moved = [poses[f.name][t][:3, :3] @ (corners(f.part) - f.origin).T + poses[f.name][t][:3, 3:4]
                 for f in frames for t in idx]
        allp = np.hstack(moved).T
        cam = self.camera(size=size, bounds=np.stack([allp.min(0), allp.max(0)]))
        images = []
        for t in idx:
            self.scene.reset_poses()
            self._apply_frames(frames, poses, int(t))
            images.append(self.scene.render(cam, groups=(0, 5)))
        return images, times[idx]

    def close(self) -> None:
        """Free the scene's OpenGL resources."""
        self.scene.close()


def hull_overlay(hull_rgb: np.ndarray, hull_mask: np.ndarray, mesh_mask: np.ndarray) -> np.ndarray:
    """Composite of a hull render ``(H, W, 3) uint8`` with masks ``(H, W) bool`` of the hulls and
    of the mesh: mesh pixels no hull covers become magenta, the mesh silhouette's boundary dark grey."""
    from scipy.ndimage import binary_erosion

    out = hull_rgb.copy()
    out[mesh_mask & ~hull_mask] = (230, 0, 180)
    edge = mesh_mask & ~binary_erosion(mesh_mask, iterations=1)
    out[edge] = (40, 40, 40)
    return out


def skinned_vertices(asset, clip, frames: np.ndarray) -> np.ndarray:
    """Linear blend skinning of ``asset.visual`` by ``clip.joint_rotations`` at frame indices
    ``frames`` ``(K,)``: ``(K, V, 3) float64`` (m).

    Follows the :class:`~n4d4d.asset.MotionClip` convention: a joint's local transform at time t
    is its bind-pose local transform times its rotation ``(w, x, y, z)``; world transforms
    compose parent first; a vertex moves by ``sum_j w_j M_j(t) B_j^-1`` with ``B_j`` the world
    bind transform. Joints without a track keep their bind-local transform.
    """
    from scipy.spatial.transform import Rotation

    sk = asset.skeleton
    J = len(sk.joint_names)
    parents = np.asarray(sk.parents, np.int64).reshape(-1)
    if sk.bind_transforms is not None:
        bind = np.asarray(sk.bind_transforms, np.float64).reshape(J, 4, 4)
    else:
        bind = np.tile(np.eye(4), (J, 1, 1))
        bind[:, :3, 3] = np.asarray(sk.bind_positions, np.float64).reshape(J, 3)
    local = np.array([bind[j] if parents[j] < 0 else np.linalg.inv(bind[parents[j]]) @ bind[j] for j in range(J)])
    order, queue = [], [j for j in range(J) if parents[j] < 0]
    while queue:
        j = queue.pop(0)
        order.append(j)
        queue.extend(int(c) for c in np.flatnonzero(parents == j))
    inv_bind = np.linalg.inv(bind)
    V = np.asarray(asset.visual.vertices, np.float64)
    W = np.asarray(asset.skin_weights, np.float64)
    Vh = np.column_stack([V, np.ones(len(V))])
    out = []
    for t in np.asarray(frames, int):
        world = np.zeros((J, 4, 4))
        for j in order:
            R = np.eye(4)
            track = clip.joint_rotations.get(sk.joint_names[j])
            if track is not None:
                R[:3, :3] = Rotation.from_quat(np.asarray(track, np.float64)[t], scalar_first=True).as_matrix()
            L = local[j] @ R
            world[j] = L if parents[j] < 0 else world[parents[j]] @ L
        skin = world @ inv_bind  # (J, 4, 4)
        moved = np.einsum("vj,jab,vb->va", W, skin, Vh)
        out.append(moved[:, :3])
    return np.asarray(out)


def sample_grid(meshes, columns: int = 4, cell: tuple[int, int] = (256, 192), labels=None) -> np.ndarray:
    """Generator samples side by side: each mesh (a :class:`~n4d4d.asset.Mesh` or anything
    with ``vertices`` ``(V, 3)`` m and ``faces`` ``(F, 3)``) rendered alone from the same
    direction, framed on its own bounds, in a grid of ``columns``; ``labels`` (one string per
    mesh) under each. Returns ``(rows * h, columns * w, 3) uint8``.

    Raises:
        ValueError: no mesh given. RenderError: no offscreen OpenGL.
    """
    meshes = list(meshes)
    if not meshes:
        raise ValueError("sample_grid needs at least one mesh")
    w, h = cell
    rows = -(-len(meshes) // columns)
    grid = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for i, m in enumerate(meshes):
        V, F = np.asarray(m.vertices, np.float64), np.asarray(m.faces, np.int64)
        bounds = np.stack([V.min(0), V.max(0)])
        diag = float(np.linalg.norm(bounds[1] - bounds[0]))
        scene = MjScene(["body"], [Layer("m", V, F, (*PALETTE[i % 10], 1.0), "body")], max_size=cell,
                        floor_z=float(bounds[0, 2]), floor_radius=0.8 * diag, floor_centre=bounds.mean(axis=0)[:2])
        try:
            img = scene.render(Camera.fit(bounds, width=w, height=h), groups=(0, 5))
        finally:
            scene.close()
        if labels is not None:
            img = draw_labels(img, [Label(str(labels[i]), (4, h - 18))])
        r, c = divmod(i, columns)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
    return grid
