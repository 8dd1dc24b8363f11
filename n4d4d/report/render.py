"""Offscreen renders with MuJoCo's OpenGL renderer on a machine with no display and no GPU.

MuJoCo is already a dependency of n4d4d (MJCF export), its Python wheel carries the whole
renderer, and it renders headless through EGL or OSMesa; on a CPU-only machine Mesa's llvmpipe
rasterises. The system must provide one of those libraries (Debian: ``libegl1 libegl-mesa0
libgl1-mesa-dri`` for EGL, or ``libosmesa6`` for OSMesa). The backend is chosen before any
OpenGL import: ``$N4D4D_GL`` or ``$MUJOCO_GL`` when set to ``egl`` / ``osmesa``, else EGL when
``libEGL`` loads, else OSMesa. One OpenGL context per process is made on first use and kept.

This module is the drawing machinery only: :class:`Camera` (a pinhole camera with its
projection, the same one MuJoCo's free camera uses), :class:`Layer` (a triangle mesh to draw)
and :class:`MjScene` (layers on posable bodies, overlay primitives, colour and segmentation
renders). What an asset's pictures show is decided in :mod:`n4d4d.report.pictures`. It does not
ray-trace, cast shadows or read files.

All coordinates are the asset frame: metres, Z up (:mod:`n4d4d.conventions`). Images are
``(H, W, 3) uint8`` RGB, row 0 at the top.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import re
from dataclasses import dataclass

import numpy as np

from n4d4d.errors import N4d4dError

BACKENDS = ("egl", "osmesa")
#: Debian packages that provide each backend's system library.
BACKEND_PACKAGES = {"egl": "libegl1 libegl-mesa0 libgl1-mesa-dri", "osmesa": "libosmesa6"}
BACKGROUND = (1.0, 1.0, 1.0)  # uniform white sky: pixels off the asset are exactly (255, 255, 255)

_CONTEXT: tuple[str, object] | None = None


class RenderError(N4d4dError):
    """No offscreen OpenGL context could be made (neither EGL nor OSMesa works here), or a
    scene could not be compiled by MuJoCo. The message names the Debian packages to install."""


def _loadable(names: tuple[str, ...]) -> bool:
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def backend() -> str:
    """The offscreen backend this process uses: ``"egl"`` or ``"osmesa"``.

    Raises:
        RenderError: neither ``libEGL.so.1`` nor ``libOSMesa.so`` can be loaded.
    """
    if _CONTEXT is not None:
        return _CONTEXT[0]
    for var in ("N4D4D_GL", "MUJOCO_GL"):
        wanted = os.environ.get(var, "").strip().lower()
        if wanted in BACKENDS:
            return wanted
    if _loadable(("libEGL.so.1", "libEGL.so")):
        return "egl"
    if _loadable(("libOSMesa.so", "libOSMesa.so.8", "libOSMesa.so.6")):
        return "osmesa"
    raise RenderError("no offscreen OpenGL library: neither libEGL nor libOSMesa loads; install "
                      f"Debian's {BACKEND_PACKAGES['egl']} (or {BACKEND_PACKAGES['osmesa']})")


def _release() -> None:
    global _CONTEXT
    if _CONTEXT is not None:
        try:
            _CONTEXT[1].free()
        finally:
            _CONTEXT = None


def gl_context():
    """The process's OpenGL context (made current), created on first call.

    Raises:
        RenderError: the backend's library is missing or refuses to make a context.
    """
    global _CONTEXT
    if _CONTEXT is None:
        name = backend()
        try:
            if name == "egl":
                from mujoco.egl import GLContext
            else:
                from mujoco.osmesa import GLContext
            ctx = GLContext(64, 64)  # MuJoCo renders into its own framebuffer object
        except Exception as exc:  # ImportError, OSError, EGL/OSMesa errors: all mean "cannot render"
            raise RenderError(f"cannot make an offscreen OpenGL context with {name} ({exc}); install "
                              f"Debian's {BACKEND_PACKAGES[name]}") from exc
        _CONTEXT = (name, ctx)
        atexit.register(_release)  # free before interpreter teardown (OSMesa's __del__ fails late)
    _CONTEXT[1].make_current()
    return _CONTEXT[1]


def _unbind_framebuffer() -> None:
    """Bind the default framebuffer (PyOpenGL, which MuJoCo's EGL/OSMesa contexts load anyway)."""
    try:
        from OpenGL import GL

        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        GL.glGetError()  # clear a pending error so that MuJoCo does not report it as its own
    except Exception:  # pragma: no cover - no PyOpenGL entry point: MuJoCo only logs a warning
        pass


@dataclass(frozen=True)
class Camera:
    """A pinhole camera orbiting ``lookat``: MuJoCo's free camera, and its projection.

    Attributes:
        lookat: ``(3,)`` point looked at (m, asset frame).
        distance: camera-to-lookat distance (m).
        azimuth: degrees about +Z of the viewing direction, 0 looking along +X.
        elevation: degrees above the horizon of the viewing direction (negative looks down).
        width, height: image size (pixels).
        fovy: vertical field of view (degrees).
    """

    lookat: tuple[float, float, float]
    distance: float
    azimuth: float = 60.0
    elevation: float = -25.0
    width: int = 640
    height: int = 480
    fovy: float = 45.0

    @classmethod
    def fit(cls, bounds: np.ndarray, *, azimuth: float = 60.0, elevation: float = -25.0,
            width: int = 640, height: int = 480, fovy: float = 45.0, margin: float = 1.05) -> "Camera":
        """A camera looking at the centre of ``bounds`` ``(2, 3)`` (m) from far enough that the
        bounding sphere fits the narrower field of view, times ``margin``."""
        b = np.asarray(bounds, np.float64).reshape(2, 3)
        centre = 0.5 * (b[0] + b[1])
        radius = max(0.5 * float(np.linalg.norm(b[1] - b[0])), 1e-6)
        half = np.radians(fovy) / 2
        half_narrow = min(half, np.arctan(np.tan(half) * width / height))
        return cls(tuple(float(c) for c in centre), margin * radius / np.sin(half_narrow), azimuth,
                   elevation, width, height, fovy)

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(position, forward, up, right)``, each ``(3,) float64``: the camera centre (m) and
        its unit axes in the asset frame, as ``mjv_updateScene`` computes them."""
        az, el = np.radians(self.azimuth), np.radians(self.elevation)
        forward = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        up = np.array([-np.sin(el) * np.cos(az), -np.sin(el) * np.sin(az), np.cos(el)])
        position = np.asarray(self.lookat, np.float64) - self.distance * forward
        return position, forward, up, np.cross(forward, up)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates of ``points`` ``(N, 3)`` (m): ``(N, 2) float64`` (column, row;
        the image's top-left corner is (0, 0), pixel centres at half-integers) and their depth
        along the viewing direction ``(N,)`` (m; negative behind the camera)."""
        p = np.asarray(points, np.float64).reshape(-1, 3)
        position, forward, up, right = self.frame()
        d = p - position
        z = d @ forward
        f = 0.5 * self.height / np.tan(np.radians(self.fovy) / 2)  # focal length, pixels
        with np.errstate(divide="ignore", invalid="ignore"):
            col = 0.5 * self.width + f * (d @ right) / z
            row = 0.5 * self.height - f * (d @ up) / z
        return np.column_stack([col, row]), z

    def with_size(self, width: int, height: int) -> "Camera":
        """The same view at another image size."""
        return Camera(self.lookat, self.distance, self.azimuth, self.elevation, width, height, self.fovy)


@dataclass
class Layer:
    """A triangle mesh to draw, attached to a body of the scene.

    Attributes:
        name: unique layer name.
        vertices: ``(V, 3) float64`` rest positions in the asset frame (m).
        faces: ``(F, 3) int64``.
        rgba: ``(4,)`` colour in [0, 1] (alpha < 1 draws translucent).
        body: name of the :class:`MjScene` body it moves with.
        group: MuJoCo geom group 0..5, for showing sets of layers per picture.
        uvs: ``(V, 2) float64`` texture coordinates (v down, glTF), or None.
        texture: ``(H, W, 3) uint8`` base-colour image, or None.
        face_uvs: ``(F, 3, 2) float64`` texture coordinates per face corner (v down), used instead
            of ``uvs`` on a mesh layer (a UV atlas with seams, ``Mesh.face_uvs``); a skin layer
            takes per-vertex ``uvs`` only and is drawn untextured without them.
        deformable: drawn as a MuJoCo skin whose vertices :meth:`MjScene.set_vertices` replaces
            per frame (for per-frame vertex clips); it follows no body.
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    rgba: tuple = (0.75, 0.75, 0.75, 1.0)
    body: str = "world"
    group: int = 0
    uvs: np.ndarray | None = None
    texture: np.ndarray | None = None
    deformable: bool = False
    face_uvs: np.ndarray | None = None


class MjScene:
    """Layers on mocap bodies, compiled once into a MuJoCo model and rendered offscreen.

    Args:
        bodies: names of the posable bodies (each starts at the identity pose).
        layers: what to draw.
        max_size: largest image (width, height) it will render (pixels).
        floor_z: height of a light-grey floor disc (m), or None for no floor.
        floor_radius: the disc's radius (m). floor_centre: its ``(x, y)`` centre (m).

    Raises:
        RenderError: no OpenGL context, or MuJoCo rejects a mesh.
    """

    def __init__(self, bodies: list[str], layers: list[Layer], *, max_size: tuple[int, int] = (800, 600),
                 floor_z: float | None = None, floor_radius: float = 1.0, floor_centre=(0.0, 0.0)):
        import mujoco

        self._mj = mujoco
        self.layers = {layer.name: layer for layer in layers}
        self.bodies = list(bodies)
        self.skinned: set[int] = set()  # layers MuJoCo's mesh compiler refused, drawn as skins instead
        while True:
            spec = self._spec(layers, max_size, floor_z, floor_radius, floor_centre)
            try:
                self.model = spec.compile()
                break
            except Exception as exc:
                bad = re.search(r"'mesh(\d+)'", str(exc))
                if bad is None or int(bad.group(1)) in self.skinned:
                    raise RenderError(f"MuJoCo could not compile the render scene: {exc}") from exc
                self.skinned.add(int(bad.group(1)))  # e.g. a flat or degenerate mesh: no hull needed
        self.data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, self.data)
        gl_context()
        _unbind_framebuffer()  # a freed scene's framebuffer may still be bound: MuJoCo would warn
        self._ctx = mujoco.MjrContext(self.model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._ctx)
        self._scene = mujoco.MjvScene(self.model, maxgeom=max(2000, 4 * self.model.ngeom))
        self._geom = {n: mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, n) for n in self.layers}
        self._skin = {n: mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SKIN, n) for n in self.layers}
        self._matid = {n: int(self.model.geom_matid[g]) for n, g in self._geom.items() if g >= 0}
        self._body = {b: mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, b) for b in self.bodies}

    def _spec(self, layers, max_size, floor_z, floor_radius, floor_centre):
        mujoco = self._mj
        spec = mujoco.MjSpec()
        spec.compiler.inertiafromgeom = mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_FALSE
        vis = spec.visual
        vis.global_.offwidth, vis.global_.offheight = int(max_size[0]), int(max_size[1])
        vis.quality.offsamples = 4
        vis.headlight.ambient = [0.3, 0.3, 0.3]
        vis.headlight.diffuse = [0.45, 0.45, 0.45]
        vis.headlight.specular = [0.1, 0.1, 0.1]
        sky = spec.add_texture(name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                               builtin=mujoco.mjtBuiltin.mjBUILTIN_FLAT, width=8, height=8)
        sky.rgb1 = sky.rgb2 = list(BACKGROUND)
        light = spec.worldbody.add_light(pos=[0, 0, 10], dir=[0.3, 0.2, -1], diffuse=[0.35, 0.35, 0.35],
                                         castshadow=0)
        if hasattr(mujoco, "mjtLightType"):  # MuJoCo >= 3.3 names the light type
            light.type = mujoco.mjtLightType.mjLIGHT_DIRECTIONAL
        else:
            light.directional = True
        if floor_z is not None:
            spec.worldbody.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_CYLINDER, group=5,
                                    size=[floor_radius, 1e-4, 0],
                                    pos=[float(floor_centre[0]), float(floor_centre[1]), floor_z - 2e-4],
                                    rgba=[0.90, 0.91, 0.93, 1], contype=0, conaffinity=0)
        for b in self.bodies:
            spec.worldbody.add_body(name=b, mocap=True)
        for i, layer in enumerate(layers):
            self._add_layer(spec, i, layer)
        return spec

    def _add_layer(self, spec, i: int, layer: Layer) -> None:
        mj = self._mj
        V = np.asarray(layer.vertices, np.float64).reshape(-1, 3)
        F = np.asarray(layer.faces, np.int64).reshape(-1, 3)
        material = ""
        skin_layer = layer.deformable or i in self.skinned
        corner_uv = None if skin_layer or layer.face_uvs is None else np.asarray(layer.face_uvs, np.float64)
        if layer.texture is not None and (layer.uvs is not None or corner_uv is not None):
            img = np.ascontiguousarray(np.asarray(layer.texture, np.uint8)[..., :3])
            spec.add_texture(name=f"tex{i}", type=mj.mjtTexture.mjTEXTURE_2D, width=img.shape[1],
                             height=img.shape[0], nchannel=3, data=img.ravel().tolist())
            mat = spec.add_material(name=f"mat{i}", specular=0.1, shininess=0.2)
            mat.textures[mj.mjtTextureRole.mjTEXROLE_RGB] = f"tex{i}"
            material = f"mat{i}"
        uv = None if not material or corner_uv is not None else np.asarray(layer.uvs, np.float64).reshape(-1, 2)
        if skin_layer:
            skin = spec.add_skin(name=layer.name, group=layer.group, rgba=list(layer.rgba), material=material)
            skin.vert = V.astype(np.float32).ravel()
            skin.face = F.astype(np.int32).ravel()
            if uv is not None:
                skin.texcoord = np.column_stack([uv[:, 0], uv[:, 1]]).astype(np.float32).ravel()
            skin.bodyname = ["world" if layer.deformable else layer.body]  # a skin bound wholly to one body moves with it
            skin.bindpos = [0.0, 0.0, 0.0]
            skin.bindquat = [1.0, 0.0, 0.0, 0.0]
            skin.vertid = [list(range(len(V)))]
            skin.vertweight = [[1.0] * len(V)]
            return
        mesh = spec.add_mesh(name=f"mesh{i}", inertia=mj.mjtMeshInertia.mjMESH_INERTIA_SHELL)
        mesh.uservert = V.ravel()
        mesh.userface = F.ravel()
        if uv is not None:
            mesh.usertexcoord = uv.ravel()
            mesh.userfacetexcoord = F.ravel()
        elif material and corner_uv is not None:  # one texture coordinate per face corner
            mesh.usertexcoord = corner_uv.reshape(-1, 2).ravel()
            mesh.userfacetexcoord = np.arange(3 * len(F), dtype=np.int64)
        parent = spec.worldbody if layer.body == "world" else spec.body(layer.body)
        parent.add_geom(name=layer.name, type=mj.mjtGeom.mjGEOM_MESH, meshname=f"mesh{i}", group=layer.group,
                        rgba=list(layer.rgba), material=material, contype=0, conaffinity=0)

    # -- state ---------------------------------------------------------------------------------

    def set_pose(self, body: str, pose: np.ndarray) -> None:
        """Place ``body``: ``pose`` ``(4, 4)`` maps rest (asset-frame) points to world points."""
        from scipy.spatial.transform import Rotation

        pose = np.asarray(pose, np.float64)
        k = self.model.body_mocapid[self._body[body]]
        self.data.mocap_pos[k] = pose[:3, 3]
        self.data.mocap_quat[k] = Rotation.from_matrix(pose[:3, :3]).as_quat(scalar_first=True)

    def reset_poses(self) -> None:
        """Every body back to the identity (rest) pose."""
        self.data.mocap_pos[:] = 0.0
        self.data.mocap_quat[:] = (1.0, 0.0, 0.0, 0.0)

    def set_rgba(self, layer: str, rgba, textured: bool = False) -> None:
        """Colour a layer; ``textured`` keeps its texture (if it has one), else plain ``rgba``."""
        g, s = self._geom.get(layer, -1), self._skin.get(layer, -1)
        if g >= 0:
            self.model.geom_rgba[g] = rgba
            self.model.geom_matid[g] = self._matid[layer] if textured else -1
        elif s >= 0:
            self.model.skin_rgba[s] = rgba

    def set_vertices(self, layer: str, vertices: np.ndarray) -> None:
        """Replace a deformable layer's vertices ``(V, 3)`` (m, world frame)."""
        s = self._skin[layer]
        a, n = self.model.skin_vertadr[s], self.model.skin_vertnum[s]
        self.model.skin_vert[a:a + n] = np.asarray(vertices, np.float32).reshape(n, 3)

    # -- rendering -----------------------------------------------------------------------------

    def _update(self, camera: Camera, groups) -> None:
        mj = self._mj
        mj.mj_kinematics(self.model, self.data)
        self.model.vis.global_.fovy = camera.fovy
        cam = mj.MjvCamera()
        cam.type = mj.mjtCamera.mjCAMERA_FREE
        cam.lookat[:] = camera.lookat
        cam.distance, cam.azimuth, cam.elevation = camera.distance, camera.azimuth, camera.elevation
        opt = mj.MjvOption()
        opt.geomgroup[:] = [int(g in groups) for g in range(len(opt.geomgroup))]
        opt.skingroup[:] = [int(g in groups) for g in range(len(opt.skingroup))]
        self.model.vis.map.znear = 0.01
        self.model.stat.extent = max(camera.distance, 1e-3)
        mj.mjv_updateScene(self.model, self.data, opt, None, cam, mj.mjtCatBit.mjCAT_ALL, self._scene)

    def _add(self, kind, a, b, width, rgba) -> None:
        mj, scn = self._mj, self._scene
        if scn.ngeom >= scn.maxgeom:
            return
        g = scn.geoms[scn.ngeom]
        mj.mjv_initGeom(g, mj.mjtGeom.mjGEOM_SPHERE, np.full(3, width), np.asarray(a, np.float64),
                        np.eye(3).ravel(), np.asarray(rgba, np.float32))
        if kind != "sphere":
            mj.mjv_connector(g, kind, width, np.asarray(a, np.float64), np.asarray(b, np.float64))
        g.category = mj.mjtCatBit.mjCAT_DECOR
        g.objtype, g.objid, g.segid = mj.mjtObj.mjOBJ_UNKNOWN, -1, -1
        scn.ngeom += 1

    def render(self, camera: Camera, groups=(0,), overlays=(), segmentation: bool = False) -> np.ndarray:
        """Render the layers of geom ``groups`` seen from ``camera``, with overlay primitives.

        Args:
            camera: view and image size (at most ``max_size``).
            groups: geom groups to show (layers' ``group``; 5 is the floor).
            overlays: ``("capsule" | "arrow" | "line" | "sphere", a (3,), b (3,), width (m), rgba)``
                tuples drawn on top of the layers (``b`` ignored for spheres).
            segmentation: return ``(H, W) int32`` layer geom ids (-1 for background and
                overlays) instead of colour.

        Returns:
            ``(H, W, 3) uint8`` RGB, or ``(H, W) int32`` ids with ``segmentation``.
        """
        mj = self._mj
        gl_context()
        self._update(camera, groups)
        kinds = {"capsule": mj.mjtGeom.mjGEOM_CAPSULE, "arrow": mj.mjtGeom.mjGEOM_ARROW,
                 "line": mj.mjtGeom.mjGEOM_LINE, "sphere": "sphere"}
        for kind, a, b, width, rgba in overlays:
            self._add(kinds[kind], a, b, width, rgba)
        flags = self._scene.flags
        if segmentation:
            flags[mj.mjtRndFlag.mjRND_SEGMENT] = flags[mj.mjtRndFlag.mjRND_IDCOLOR] = True
        rect = mj.MjrRect(0, 0, camera.width, camera.height)
        buf = np.empty((camera.height, camera.width, 3), np.uint8)
        try:
            mj.mjr_render(rect, self._scene, self._ctx)
            mj.mjr_readPixels(buf, None, rect, self._ctx)
        finally:
            flags[mj.mjtRndFlag.mjRND_SEGMENT] = flags[mj.mjtRndFlag.mjRND_IDCOLOR] = False
        buf = np.ascontiguousarray(np.flipud(buf))
        if not segmentation:
            return buf
        seg = buf.astype(np.int64)
        segid = seg[..., 0] + (seg[..., 1] << 8) + (seg[..., 2] << 16) - 1  # 0 = background
        lut = np.full(self._scene.ngeom + 2, -1, np.int32)
        for g in self._scene.geoms[:self._scene.ngeom]:
            if g.segid >= 0 and g.objtype == mj.mjtObj.mjOBJ_GEOM:
                lut[g.segid] = g.objid
        return lut[np.clip(segid, -1, len(lut) - 2)]

    def geom_id(self, layer: str) -> int:
        """The MuJoCo geom id of a (non-deformable) layer, as :meth:`render` segments it."""
        return self._geom[layer]

    def close(self) -> None:
        """Free the GPU-side resources (the OpenGL context stays for the next scene)."""
        if self._ctx is not None:
            gl_context()
            self._ctx.free()
            self._ctx = None
            _unbind_framebuffer()
