"""A glTF 2.0 file's own skin animation as :class:`~n4d4d.asset.MotionClip` records (CesiumMan's
walk, for one), with the skin they move, in n4d4d's frame (Z up, metres).

Read from the file's accessors (glTF 2.0 spec, sections 3.6 "Accessors", 3.7.3 "Skins", 3.11
"Animations"; ``.glb`` or ``.gltf`` with embedded or side buffers): the first skin's joints and
inverse bind matrices, the skinned mesh's bind-pose triangles and ``JOINTS_n`` / ``WEIGHTS_n``
(normalised on read: some files, CesiumMan among them, store weights that do not sum to 1), and
every animation's channels on the joint nodes (translation, rotation, scale; LINEAR, STEP and
CUBICSPLINE samplers), sampled at ``fps`` from 0 to the animation's last key.

Frames: the skinned mesh's bind pose in world space is ``J_r(rest) IBM_r v`` (the spec ignores
the mesh node's own transform), taken to Z up by :data:`n4d4d.conventions.Y_UP_TO_Z_UP`; joint
``j``'s bind transform is then ``C J_r(rest) IBM_r IBM_j^-1`` and its world transform at time t is
``C J_j(t)``. A clip stores, per joint, the rotation relative to its bind-pose local transform
(:class:`~n4d4d.asset.MotionClip` semantics) and, as the root pose, the translation of the
skeleton root's animated origin from its bind origin. Animated translations of other joints and
any scale cannot be carried by a rotation: the largest such residual is reported per clip
(``translation_residual_m``), never hidden.

It is n4d4d's one reader of glTF skins: ``animations=False`` reads the skin alone (the rigging
harness's ground-truth skeletons, ``--rig from-file``). :func:`frame_onto` finds how the load
stage moved the file's mesh (a similarity) and :meth:`GltfAnimation.in_frame` moves the skin and
clips with it, so the rigging stage's skeleton and the animate stage's imported clips agree.

What it does not: morph-target weights, sparse accessors, skins beyond the first, the KHR
extensions. It is the glTF side of skins and motion only; meshes for building go through
:mod:`n4d4d.io.load`.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from n4d4d.asset import Asset, Mesh, MotionClip, Part, Skeleton
from n4d4d.conventions import Y_UP_TO_Z_UP
from n4d4d.errors import InputError, MissingFileError

_DTYPE = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_NORM = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}


@dataclass(frozen=True)
class GltfAnimation:
    """A glTF skin with its animations, Z up, metres.

    Attributes:
        skeleton: joint names (node names), parents, ``bind_transforms (J, 4, 4)`` asset frame.
        vertices: ``(V, 3) float64`` skinned mesh at the bind pose (asset frame).
        faces: ``(F, 3) int64``.
        weights: ``(V, J) float64`` rows summing to 1.
        clips: one :class:`MotionClip` per animation (family ``"imported"``), with the file's own
            skinned vertices per frame unless read without them.
        translation_residual_m: clip name -> largest joint translation (m) a rotation could not
            carry (0 for a file that animates only rotations and the root's position): re-skinning
            the clip's rotations (UsdSkel, a GLB written back) misplaces joints by up to this.
        weights_renormalised: vertices whose stored weights did not sum to 1 (within 1e-3).
    """

    skeleton: Skeleton
    vertices: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    clips: tuple[MotionClip, ...]
    translation_residual_m: dict = field(default_factory=dict)
    weights_renormalised: int = 0

    def in_frame(self, A: np.ndarray) -> "GltfAnimation":
        """The same skin and clips moved by the similarity ``A`` ``(4, 4)`` (uniform scale s,
        rotation R, translation t: ``x -> s R x + t``), as the load stage moves the mesh.

        Vertices (bind and per frame) go through ``A``; joint ``j``'s bind transform becomes
        ``A B_j S^-1`` (``S`` = scale by s), so its rotation is ``R`` times the file's and its
        origin moves with the mesh while joint-local coordinates of every vertex scale by s:
        skinning commutes with the move. Rotations relative to the bind pose are unchanged;
        root poses ``M`` become ``A M A^-1`` (rigid again). Raises ValueError when ``A``'s
        linear part is not a positive multiple of a rotation (to 1e-9).
        """
        import dataclasses

        from scipy.spatial.transform import Rotation

        from n4d4d.kinematics import root_matrices

        A = np.asarray(A, np.float64)
        s = float(np.cbrt(np.linalg.det(A[:3, :3])))
        R = A[:3, :3] / s if s > 0 else A[:3, :3]
        if not s > 0 or np.abs(R @ R.T - np.eye(3)).max() > 1e-9:
            raise ValueError("the frame change must be a uniform scale times a rotation plus a translation")
        move = (lambda v: np.asarray(v) @ A[:3, :3].T + A[:3, 3])
        unscale = np.diag([1.0 / s, 1.0 / s, 1.0 / s, 1.0])
        bind = A @ np.asarray(self.skeleton.bind_transforms) @ unscale
        sk = Skeleton(self.skeleton.joint_names, self.skeleton.parents, bind[:, :3, 3].copy(), bind)
        A_inv = np.linalg.inv(A)
        clips = []
        for c in self.clips:
            poses = None
            if c.root_poses is not None:
                M = A @ root_matrices(c.root_poses) @ A_inv
                poses = np.column_stack([M[:, :3, 3], Rotation.from_matrix(M[:, :3, :3]).as_quat(scalar_first=True)])
            clips.append(dataclasses.replace(c, root_poses=poses,
                                             vertices=None if c.vertices is None else move(c.vertices)))
        return dataclasses.replace(self, skeleton=sk, vertices=move(self.vertices), clips=tuple(clips),
                                   translation_residual_m={k: s * v for k, v in self.translation_residual_m.items()})


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The similarity ``A`` ``(4, 4)`` (uniform scale, rotation, translation) that best maps the
    rows of ``src`` ``(N, 3)`` onto the corresponding rows of ``dst`` ``(N, 3)`` in least squares:
    Umeyama, "Least-squares estimation of transformation parameters between two point patterns",
    IEEE TPAMI 13(4), 1991 (a reflection is never chosen)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    X, Y = src - ms, dst - md
    U, D, Vt = np.linalg.svd(Y.T @ X / len(X))
    E = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        E[2, 2] = -1.0
    R = U @ E @ Vt
    s = float(np.trace(np.diag(D) @ E) / max((X * X).sum() / len(X), 1e-300))
    A = np.eye(4)
    A[:3, :3] = s * R
    A[:3, 3] = md - s * R @ ms
    return A


def frame_onto(skin: "GltfAnimation", mesh: Mesh) -> tuple[np.ndarray, float]:
    """How the load stage moved the file's skinned mesh: the similarity ``A`` ``(4, 4)`` taking
    ``skin.vertices`` (the file's bind pose, Z up, file units) onto ``mesh`` (the loaded, scaled,
    grounded, perhaps rest-pose-turned input, asset frame), and the largest distance (m) of a
    ``mesh`` vertex from the moved skin vertices.

    With as many vertices as the skin (the loader keeps a single skinned mesh's vertex order),
    :func:`fit_similarity` on corresponding rows; otherwise scale and translation of the bounding
    boxes (no rotation). A large distance means the skinned mesh is not the loaded mesh (a scene
    with more than the skinned character, say); the caller decides."""
    from scipy.spatial import cKDTree

    v, m = np.asarray(skin.vertices), np.asarray(mesh.vertices)
    if len(v) == len(m):
        A = fit_similarity(v, m)
    else:
        lo, hi, mlo, mhi = v.min(axis=0), v.max(axis=0), m.min(axis=0), m.max(axis=0)
        s = float(np.linalg.norm(mhi - mlo) / max(np.linalg.norm(hi - lo), 1e-300))
        A = np.eye(4)
        A[:3, :3] *= s
        A[:3, 3] = mlo - s * lo
    moved = v @ A[:3, :3].T + A[:3, 3]
    err = float(cKDTree(moved).query(m)[0].max()) if len(m) else 0.0
    return A, err


def _read(path: Path) -> tuple[dict, list[bytes]]:
    data = path.read_bytes()
    if data[:4] == b"glTF":
        n = struct.unpack_from("<I", data, 12)[0]
        doc = json.loads(data[20:20 + n])
        off = 20 + n
        blob = data[off + 8: off + 8 + struct.unpack_from("<I", data, off)[0]] if off + 8 <= len(data) else b""
        buffers = []
        for b in doc.get("buffers", []):
            buffers.append(_uri(path, b["uri"]) if "uri" in b else blob)
        return doc, buffers
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a glTF file: {exc}", path) from exc
    return doc, [_uri(path, b["uri"]) for b in doc.get("buffers", [])]


def _uri(path: Path, uri: str) -> bytes:
    if uri.startswith("data:"):
        return base64.b64decode(uri.split(",", 1)[1])
    side = path.parent / uri
    if not side.is_file():
        raise MissingFileError(f"glTF buffer '{uri}' not found beside the file", path)
    return side.read_bytes()


def _accessor(doc: dict, buffers: list[bytes], i: int, path: Path) -> np.ndarray:
    """Accessor ``i`` as ``(count, width)`` float64 (normalised integers scaled to [0, 1] / [-1, 1])."""
    acc = doc["accessors"][i]
    if "sparse" in acc:
        raise InputError(f"accessor {i} is sparse (not read)", path)
    dtype = np.dtype(_DTYPE[acc["componentType"]]).newbyteorder("<")
    width, count = _WIDTH[acc["type"]], acc["count"]
    if "bufferView" not in acc:
        return np.zeros((count, width))
    view = doc["bufferViews"][acc["bufferView"]]
    raw = buffers[view.get("buffer", 0)]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride") or dtype.itemsize * width
    rows = np.ndarray((count, width), dtype, buffer=raw, offset=start, strides=(stride, dtype.itemsize))
    out = np.array(rows, np.float64)
    if acc.get("normalized") and acc["componentType"] in _NORM:
        out = np.maximum(out / _NORM[acc["componentType"]], -1.0)
    return out


def _quat_matrix(q_xyzw: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_quat(q_xyzw).as_matrix()


def _trs(t, r_xyzw, s) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = _quat_matrix(np.asarray(r_xyzw)) * np.asarray(s)[None, :]
    m[:3, 3] = t
    return m


def _rest_local(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], np.float64).reshape(4, 4).T  # column-major
    return _trs(node.get("translation", [0, 0, 0]), node.get("rotation", [0, 0, 0, 1]), node.get("scale", [1, 1, 1]))


def _sample(times: np.ndarray, keys: np.ndarray, values: np.ndarray, kind: str, path: str) -> np.ndarray:
    """A sampler evaluated at ``times``: LINEAR (slerp for rotations), STEP, CUBICSPLINE (Hermite,
    spec appendix C); clamped outside the keys."""
    n = len(keys)
    if kind == "CUBICSPLINE":
        vals = values.reshape(n, 3, -1)
        a, v, b = vals[:, 0], vals[:, 1], vals[:, 2]
    else:
        v = values.reshape(n, -1)
    t = np.clip(times, keys[0], keys[-1])
    k = np.clip(np.searchsorted(keys, t, side="right") - 1, 0, max(n - 2, 0))
    if n == 1:
        out = np.repeat(v[:1], len(t), axis=0)
    elif kind == "STEP":
        out = v[np.where(t >= keys[-1], n - 1, k)]
    else:
        dt = keys[k + 1] - keys[k]
        u = np.where(dt > 0, (t - keys[k]) / np.where(dt > 0, dt, 1.0), 0.0)[:, None]
        if kind == "CUBICSPLINE":
            u2, u3 = u * u, u * u * u
            out = ((2 * u3 - 3 * u2 + 1) * v[k] + (u3 - 2 * u2 + u) * dt[:, None] * b[k]
                   + (-2 * u3 + 3 * u2) * v[k + 1] + (u3 - u2) * dt[:, None] * a[k + 1])
        elif path == "rotation":
            from scipy.spatial.transform import Rotation

            q0, q1 = v[k], v[k + 1].copy()
            q1[np.sum(q0 * q1, axis=1) < 0] *= -1
            rel = (Rotation.from_quat(q0).inv() * Rotation.from_quat(q1)).as_rotvec()
            out = (Rotation.from_quat(q0) * Rotation.from_rotvec(rel * u)).as_quat()
        else:
            out = (1 - u) * v[k] + u * v[k + 1]
    if path == "rotation":
        out = out / np.linalg.norm(out, axis=1, keepdims=True)
    return out


def _world(nodes: list[dict], parent: dict, local: list[np.ndarray]) -> list[np.ndarray]:
    """World transforms ``(T, 4, 4)`` per node from local ones (``(T, 4, 4)`` or ``(4, 4)``)."""
    out: list = [None] * len(nodes)

    def visit(i):
        if out[i] is None:
            p = parent.get(i)
            out[i] = local[i] if p is None else visit(p) @ local[i]
        return out[i]

    for i in range(len(nodes)):
        visit(i)
    return out


def has_skin(path: str | Path) -> bool:
    """True when ``path`` is a ``.glb`` / ``.gltf`` file whose document declares a skin used by
    a mesh node (reads the JSON only; False for any other file, or one that cannot be read)."""
    path = Path(path)
    if path.suffix.lower() not in (".glb", ".gltf") or not path.is_file():
        return False
    try:
        data = path.read_bytes()
        doc = json.loads(data[20:20 + struct.unpack_from("<I", data, 12)[0]] if data[:4] == b"glTF" else data)
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        return False
    return bool(doc.get("skins")) and any(n.get("skin") == 0 and "mesh" in n for n in doc.get("nodes", []))


def read_gltf_animation(path: str | Path, fps: float = 30.0, with_vertices: bool = True,
                        animations: bool = True) -> GltfAnimation:
    """Read the first skin, its mesh and every animation of a glTF file (module docstring).

    Args:
        path: ``.glb`` or ``.gltf``.
        fps: sampling rate of the clips (frames per second); a clip spans 0 to its last key.
        with_vertices: give each clip the per-frame vertices ``(T, V, 3)`` of the file's own
            skinning (linear blend of ``C J_j(t) IBM_j``), exact even where the clip's rotations
            cannot carry an animated joint translation.
        animations: False reads the skin alone (``clips`` empty; a file without animation is
            then accepted): the rigging stage's ``--rig from-file`` and the rigging harness.

    Returns:
        :class:`GltfAnimation`.

    Raises:
        MissingFileError: no such file, or a side buffer is missing. InputError: not glTF, no
        skin, no mesh node uses the skin, a sparse accessor, or (with ``animations``) no
        animation.
    """
    from scipy.spatial.transform import Rotation

    from n4d4d.deformation.skinning import lbs

    path = Path(path)
    if not path.is_file():
        raise MissingFileError("glTF file not found", path)
    doc, buffers = _read(path)
    if not doc.get("skins"):
        raise InputError("glTF file has no skin", path)
    if animations and not doc.get("animations"):
        raise InputError("glTF file has no animation", path)
    nodes = doc["nodes"]
    skin = doc["skins"][0]
    joints = list(skin["joints"])
    mesh_node = next((n for n in nodes if n.get("skin") == 0 and "mesh" in n), None)
    if mesh_node is None:
        raise InputError("no mesh node uses the skin", path)
    parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    J = len(joints)
    slot = {n: k for k, n in enumerate(joints)}
    parents = []
    for n in joints:
        p = parent.get(n)
        while p is not None and p not in slot:
            p = parent.get(p)
        parents.append(-1 if p is None else slot[p])
    parents = np.array(parents, np.int64)
    ibm = (_accessor(doc, buffers, skin["inverseBindMatrices"], path).reshape(J, 4, 4).transpose(0, 2, 1)
           if "inverseBindMatrices" in skin else np.tile(np.eye(4), (J, 1, 1)))
    rest = [_rest_local(n) for n in nodes]
    rest_world = _world(nodes, parent, rest)
    root = int(np.flatnonzero(parents < 0)[0])
    C = np.eye(4)
    C[:3, :3] = Y_UP_TO_Z_UP
    P = C @ rest_world[joints[root]] @ ibm[root]  # mesh space -> asset frame at the bind pose
    bind = np.array([P @ np.linalg.inv(m) for m in ibm])
    verts, faces, wts = [], [], []
    for prim in doc["meshes"][mesh_node["mesh"]]["primitives"]:
        v = _accessor(doc, buffers, prim["attributes"]["POSITION"], path)
        f = (_accessor(doc, buffers, prim["indices"], path).astype(np.int64).reshape(-1, 3)
             if "indices" in prim else np.arange(len(v)).reshape(-1, 3))
        w = np.zeros((len(v), J))
        k = 0
        while f"JOINTS_{k}" in prim["attributes"]:
            ji = _accessor(doc, buffers, prim["attributes"][f"JOINTS_{k}"], path).astype(np.int64)
            wi = _accessor(doc, buffers, prim["attributes"][f"WEIGHTS_{k}"], path)
            for c in range(ji.shape[1]):
                np.add.at(w, (np.arange(len(v)), ji[:, c]), wi[:, c])
            k += 1
        faces.append(f + sum(len(x) for x in verts))
        verts.append(v)
        wts.append(w)
    V = np.concatenate(verts)
    W = np.concatenate(wts)
    sums = W.sum(axis=1)
    off = int(np.sum(np.abs(sums - 1.0) > 1e-3))
    W = np.where(sums[:, None] > 0, W / np.where(sums > 0, sums, 1.0)[:, None], 0.0)
    W[sums <= 0, root] = 1.0
    Vmesh, V = V, V @ P[:3, :3].T + P[:3, 3]
    names = tuple(nodes[n].get("name") or f"node{n}" for n in joints)
    skeleton = Skeleton(names, parents, bind[:, :3, 3].copy(), bind)
    local_bind = bind.copy()
    for j in range(J):
        if parents[j] >= 0:
            local_bind[j] = np.linalg.inv(bind[parents[j]]) @ bind[j]
    clips, residual = [], {}
    taken: set[str] = set()
    for a_index, anim in enumerate(doc.get("animations", []) if animations else []):
        keys_end = 0.0
        for s in anim["samplers"]:
            keys_end = max(keys_end, float(_accessor(doc, buffers, s["input"], path).max()))
        T = int(np.floor(keys_end * fps + 1e-6)) + 1
        times = np.arange(T) / fps
        local = [np.repeat(r[None], T, axis=0) for r in rest]
        trs = {}
        for ch in anim["channels"]:
            node, what = ch["target"].get("node"), ch["target"]["path"]
            if node is None or what == "weights":
                continue
            s = anim["samplers"][ch["sampler"]]
            keys = _accessor(doc, buffers, s["input"], path)[:, 0]
            vals = _accessor(doc, buffers, s["output"], path)
            trs.setdefault(node, {})[what] = _sample(times, keys, vals, s.get("interpolation", "LINEAR"), what)
        for node, d in trs.items():
            n = nodes[node]
            t = d.get("translation", np.tile(n.get("translation", [0, 0, 0]), (T, 1)))
            r = d.get("rotation", np.tile(n.get("rotation", [0, 0, 0, 1]), (T, 1)))
            sc = d.get("scale", np.tile(n.get("scale", [1, 1, 1]), (T, 1)))
            m = np.tile(np.eye(4), (T, 1, 1))
            m[:, :3, :3] = _quat_matrix(r) * sc[:, None, :]
            m[:, :3, 3] = t
            local[node] = m
        world = _world(nodes, parent, local)
        Wj = np.stack([C @ world[n] for n in joints], axis=1)  # (T, J, 4, 4) asset frame
        rots, worst = {}, 0.0
        poses = np.zeros((T, 7))
        poses[:, 3] = 1.0
        poses[:, :3] = Wj[:, root, :3, 3] - bind[root, :3, 3]
        for j in range(J):
            if parents[j] < 0:
                Rrel = np.einsum("ji,tjk->tik", bind[j, :3, :3], Wj[:, j, :3, :3])
                worst = max(worst, float(np.abs(Wj[:, j, :3, 3] - bind[j, :3, 3] - poses[:, :3]).max()))
            else:
                rel = np.linalg.inv(Wj[:, parents[j]] @ local_bind[j]) @ Wj[:, j]
                Rrel = rel[:, :3, :3]
                worst = max(worst, float(np.linalg.norm(rel[:, :3, 3], axis=1).max()))
            U, _, Vt = np.linalg.svd(Rrel)
            R = U @ Vt
            q = Rotation.from_matrix(R).as_quat(scalar_first=True)
            q[q[:, 0] < 0] *= -1
            if np.abs(q[:, 1:]).max() > 1e-9:
                rots[names[j]] = q
        from n4d4d.kinematics import safe_name

        name = safe_name(anim.get("name") or f"animation_{a_index}", taken)
        # the file's own skinning (glTF: linear blend of C J_j(t) IBM_j), exact whatever the rotations drop
        verts = lbs(Vmesh, W, Wj @ ibm[None]) if with_vertices else None
        clips.append(MotionClip(name, times, root_poses=poses, joint_rotations=rots, family="imported", vertices=verts))
        residual[name] = worst
    return GltfAnimation(skeleton, V, np.concatenate(faces), W, tuple(clips), residual, off)


def skinned_asset(path: str | Path, fps: float = 30.0, skinning: str = "lbs") -> Asset:
    """The file's skinned mesh as an :class:`~n4d4d.asset.Asset` carrying its own animations:
    ``visual`` (the bind-pose mesh as stored, asset frame), one part ``base``, the skeleton and
    weights, and each clip with per-frame vertices (``"lbs"``: the file's own skinning; ``"dqs"``:
    dual-quaternion skinning of the clip's rotations). For certifying and benchmarking a file's
    animation as it is; a build remeshes."""
    import dataclasses

    from n4d4d.deformation.skinning import skin_clip
    from n4d4d.kinematics import safe_name

    path = Path(path)
    g = read_gltf_animation(path, fps, with_vertices=skinning == "lbs")
    mesh = Mesh(g.vertices, g.faces)
    clips = g.clips if skinning == "lbs" else tuple(
        dataclasses.replace(c, vertices=skin_clip(g.vertices, g.weights, g.skeleton, c, skinning)) for c in g.clips)
    return Asset(name=safe_name(path.stem), visual=mesh, parts=(Part("base", mesh, np.arange(len(g.faces))),),
                 skeleton=g.skeleton, skin_weights=g.weights, motion_clips=clips)
