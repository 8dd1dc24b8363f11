"""glTF 2.0 skins and animations added to the GLB that trimesh wrote (trimesh writes neither).

The GLB's JSON and binary chunks are parsed, new buffer views and accessors appended, and the
file repacked (glTF 2.0 spec, sections 3.7 "Skins", 3.11 "Animations", 4.4 "GLB"):

- skin (asset with a skeleton and skin weights): one node per skeleton joint, children of the
  root part's node in parent-first order, with the joint-local bind pose as TRS (rotation and
  translation; a bind transform's scale or shear is not kept); ``inverseBindMatrices`` (MAT4,
  column-major) of the bind transforms taken to Y up on the world side only, so each joint keeps
  its own axes (a skin read from a glTF file is written back with the file's joint frames); the root part's primitive gets ``JOINTS_0`` (unsigned short) and
  ``WEIGHTS_0`` (float, the 4 largest weights renormalised);
- animations, one per clip named after it, times from 0 s: every part node's translation and
  rotation (forward kinematics of the clip's root poses and joint tracks, relative to the parent
  node) and, with a skin, every tracked joint node's rotation (rest rotation then the clip's
  ``joint_rotations``); linear interpolation. Animated nodes lose ``matrix`` for TRS, as the
  spec requires. Everything is converted to glTF's Y up like the meshes. The skinned node
  itself is never animated (the validator's ANIMATION_CHANNEL_TARGET_NODE_SKIN: a skinned
  node's transform is ignored): its motion goes into its root joints' channels.

- morph targets (glTF 2.0 section 3.7.2.2 "Morph Targets") for per-frame vertices
  (``MotionClip.vertices``) of an asset without a skin (a ``soft`` clip, :mod:`n4d4d.deformation.soft`):
  every frame of every such clip is one target of each part's mesh (``POSITION``: the frame's
  displacement from the rest mesh in the part node's frame, with min and max), and the clip's
  animation gets a ``weights`` channel on the part's node whose keyframe t weighs its own target
  1 and every other 0, so linear interpolation between keyframes is linear interpolation of the
  vertices. A skinned asset's per-frame vertices are what its skin channels produce and are not
  written again.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from n4d4d.asset import Asset
from n4d4d.conventions import Z_UP_TO_Y_UP
from n4d4d.errors import ExportError
from n4d4d.kinematics import PartFrame, part_poses

from ._common import part_visual

_C4 = np.eye(4)
_C4[:3, :3] = Z_UP_TO_Y_UP
_FLOAT, _USHORT = 5126, 5123
_WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def split_glb(data: bytes) -> tuple[dict, bytearray]:
    """The JSON tree and binary chunk of a GLB (glTF 2.0 section 4.4); ValueError if malformed."""
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != b"glTF" or version != 2 or length != len(data):
        raise ValueError("not a glTF 2.0 binary")
    jlen, jtype = struct.unpack_from("<I4s", data, 12)
    tree = json.loads(data[20:20 + jlen])
    blob = bytearray()
    if 20 + jlen < len(data):
        blen, _ = struct.unpack_from("<I4s", data, 20 + jlen)
        blob = bytearray(data[28 + jlen:28 + jlen + blen])
    return tree, blob


def join_glb(tree: dict, blob: bytes) -> bytes:
    """Pack a JSON tree and binary chunk into GLB bytes (chunks padded to 4 bytes)."""
    text = json.dumps(tree, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    blob = bytes(blob) + b"\0" * (-len(blob) % 4)
    out = struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + (8 + len(blob) if blob else 0))
    out += struct.pack("<I4s", len(text), b"JSON") + text
    if blob:
        out += struct.pack("<I4s", len(blob), b"BIN\0") + blob
    return out


class _Writer:
    """Appends accessors to a parsed GLB."""

    def __init__(self, tree: dict, blob: bytearray):
        self.tree, self.blob = tree, blob
        tree.setdefault("buffers", [{"byteLength": 0}])
        tree.setdefault("bufferViews", [])
        tree.setdefault("accessors", [])

    def add(self, array: np.ndarray, kind: str, ctype: int = _FLOAT, minmax: bool = False) -> int:
        arr = np.ascontiguousarray(array, np.float32 if ctype == _FLOAT else np.uint16)
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        self.tree["bufferViews"].append({"buffer": 0, "byteOffset": len(self.blob), "byteLength": arr.nbytes})
        self.blob.extend(arr.tobytes())
        acc = {"bufferView": len(self.tree["bufferViews"]) - 1, "componentType": ctype,
               "count": int(arr.size // _WIDTH[kind]), "type": kind}
        if minmax:
            flat = arr.reshape(acc["count"], _WIDTH[kind])
            acc["min"], acc["max"] = flat.min(axis=0).tolist(), flat.max(axis=0).tolist()
        self.tree["accessors"].append(acc)
        self.tree["buffers"][0]["byteLength"] = len(self.blob)
        return len(self.tree["accessors"]) - 1


def _to_y(m: np.ndarray) -> np.ndarray:
    return _C4 @ m @ _C4.T


def _trs(node: dict, m: np.ndarray) -> None:
    from scipy.spatial.transform import Rotation

    node.pop("matrix", None)
    node["translation"] = [float(x) for x in m[:3, 3]]
    node["rotation"] = [float(x) for x in Rotation.from_matrix(m[:3, :3]).as_quat()]  # x, y, z, w


def _morph_targets(w: "_Writer", tree: dict, asset: Asset, frames: list[PartFrame],
                   node_of: dict) -> dict[str, dict[int, tuple[int, int]]]:
    """Morph targets for the clips with per-frame vertices (module docstring), added to each part's
    mesh; returns clip name -> {node index: (targets of that mesh, the clip's first target)}."""
    clips = [c for c in asset.motion_clips if c.vertices is not None]
    if not clips:
        return {}
    out: dict[str, dict[int, tuple[int, int]]] = {c.name: {} for c in clips}
    for f in frames:
        vis, index = part_visual(asset, f.part)
        if index is None:
            continue
        node = node_of[f.name]
        mesh = tree["meshes"][tree["nodes"][node]["mesh"]]
        targets, first = [], {}
        for clip in clips:
            verts = np.asarray(clip.vertices, np.float64)
            T = len(np.asarray(clip.times))
            if verts.shape[0] != T or verts.shape[2:] != (3,) or (asset.visual is not None and
                                                               verts.shape[1] != len(asset.visual.vertices)):
                raise ExportError(f"clip '{clip.name}': vertices have shape {verts.shape}", asset.name)
            poses = part_poses(asset, frames, clip)[f.name]
            inv = np.linalg.inv(poses)
            rest = (vis.vertices - f.origin) @ Z_UP_TO_Y_UP.T
            first[clip.name] = len(targets)
            for t in range(T):
                local = verts[t, index] @ inv[t, :3, :3].T + inv[t, :3, 3]
                targets.append({"POSITION": w.add(local @ Z_UP_TO_Y_UP.T - rest, "VEC3", minmax=True)})
        for prim in mesh["primitives"]:
            if tree["accessors"][prim["attributes"]["POSITION"]]["count"] != len(index):
                raise ExportError(f"GLB vertex count of part '{f.part.name}' differs from its visual mesh", asset.name)
            prim["targets"] = targets
        mesh["weights"] = [0.0] * len(targets)
        for name, k in first.items():
            out[name][node] = (len(targets), k)
    return out


def add_skin_and_animations(data: bytes, asset: Asset, frames: list[PartFrame]) -> bytes:
    """``data`` (GLB from trimesh, one node named after each part) with skin and animations.

    Returns ``data`` unchanged when the asset has neither a skin nor clips. Raises
    :class:`ExportError` when the GLB lacks a part's node or the skin does not match the mesh.
    """
    from scipy.spatial.transform import Rotation

    from .usd_skel import skeleton_layout, top_influences

    skinned = asset.skeleton is not None and asset.skin_weights is not None
    if not skinned and not asset.motion_clips:
        return data
    tree, blob = split_glb(data)
    w = _Writer(tree, blob)
    nodes = tree["nodes"]
    node_of = {n.get("name"): i for i, n in enumerate(nodes)}
    missing = [f.name for f in frames if f.name not in node_of]
    if missing:
        raise ExportError(f"GLB lacks nodes for parts {missing}", asset.name)
    joint_nodes, rest_local, names = [], None, []
    if skinned:
        root = next(f for f in frames if f.parent is None)
        vis, index = part_visual(asset, root.part)
        if index is not None:
            order, _paths, bind = skeleton_layout(asset)
            names = [asset.skeleton.joint_names[j] for j in order]
            move = np.eye(4)
            move[:3, 3] = -root.origin
            bind_y = np.array([_C4 @ move @ b for b in bind])  # Y-up world, the joint's own axes kept
            parents = np.asarray(asset.skeleton.parents)[order]
            new_of_old = np.empty(len(order), np.int64)
            new_of_old[order] = np.arange(len(order))
            rest_local = np.empty_like(bind_y)
            for n in range(len(order)):
                p = parents[n]
                rest_local[n] = bind_y[n] if p < 0 else np.linalg.inv(bind_y[new_of_old[p]]) @ bind_y[n]
                node = {"name": f"joint_{names[n]}"}
                _trs(node, rest_local[n])
                nodes.append(node)
                joint_nodes.append(len(nodes) - 1)
                parent_node = nodes[node_of[root.name]] if p < 0 else nodes[joint_nodes[new_of_old[p]]]
                parent_node.setdefault("children", []).append(len(nodes) - 1)
            ibm = np.array([np.linalg.inv(b).T.ravel() for b in bind_y])  # column-major
            idx, wts = top_influences(np.asarray(asset.skin_weights)[index])
            mesh = tree["meshes"][nodes[node_of[root.name]]["mesh"]]
            for prim in mesh["primitives"]:
                if tree["accessors"][prim["attributes"]["POSITION"]]["count"] != len(idx):
                    raise ExportError("GLB vertex count differs from the skinned mesh", asset.name)
                # a zero weight names joint 0 (the validator's ACCESSOR_JOINTS_USED_ZERO_WEIGHT)
                prim["attributes"]["JOINTS_0"] = w.add(np.where(wts > 0, new_of_old[idx], 0), "VEC4", _USHORT)
                prim["attributes"]["WEIGHTS_0"] = w.add(wts, "VEC4")
            tree["skins"] = [{"name": "skeleton", "joints": joint_nodes, "inverseBindMatrices": w.add(ibm, "MAT4")}]
            if int(np.sum(parents < 0)) == 1:  # "skeleton" must be the joints' common root
                tree["skins"][0]["skeleton"] = joint_nodes[0]
            nodes[node_of[root.name]]["skin"] = 0
    morph = {} if skinned else _morph_targets(w, tree, asset, frames, node_of)
    animations = []
    for clip in asset.motion_clips:
        times = np.asarray(clip.times, np.float64)
        T = len(times)
        inp = w.add(times - times[0], "SCALAR", minmax=True)
        samplers, channels = [], []

        def channel(node: int, path: str, values: np.ndarray) -> None:
            samplers.append({"input": inp, "output": w.add(values, "VEC3" if path == "translation" else "VEC4"),
                             "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": path}})

        poses = part_poses(asset, frames, clip)
        skin_motion = None  # the skinned node's motion (rest-relative), carried by its root joints
        for f in frames:
            parent = np.tile(np.eye(4), (T, 1, 1)) if f.parent is None else poses[f.parent]
            local = np.array([_to_y(m) for m in np.linalg.inv(parent) @ poses[f.name]])
            node = node_of[f.name]
            if joint_nodes and nodes[node].get("skin") == 0:  # a skinned node is not animated (spec 3.7.3)
                rest = np.eye(4)
                rest[:3, 3] = f.origin
                skin_motion = np.linalg.inv(_to_y(rest)) @ local
                continue
            channel(node, "translation", local[:, :3, 3])
            channel(node, "rotation", Rotation.from_matrix(local[:, :3, :3]).as_quat())
        if joint_nodes:
            for n, name in enumerate(names):
                root_joint = parents[n] < 0 and skin_motion is not None
                if name not in clip.joint_rotations and not root_joint:
                    continue
                q = np.asarray(clip.joint_rotations.get(name, np.tile([1.0, 0, 0, 0], (T, 1))), np.float64)
                if q.shape != (T, 4):
                    raise ExportError(f"clip '{clip.name}': rotation track '{name}' has shape {q.shape}", asset.name)
                delta = np.tile(np.eye(4), (T, 1, 1))
                delta[:, :3, :3] = Rotation.from_quat(q, scalar_first=True).as_matrix()
                local = rest_local[n] @ delta  # in the joint's own frame, as the clip's rotations are
                if root_joint:
                    local = skin_motion @ local
                    channel(joint_nodes[n], "translation", local[:, :3, 3])
                channel(joint_nodes[n], "rotation", Rotation.from_matrix(local[:, :3, :3]).as_quat())
        for node, (count, first) in morph.get(clip.name, {}).items():
            weights = np.zeros((T, count), np.float32)
            weights[np.arange(T), first + np.arange(T)] = 1.0
            samplers.append({"input": inp, "output": w.add(weights.ravel(), "SCALAR"), "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": "weights"}})
        animations.append({"name": clip.name, "samplers": samplers, "channels": channels})
    if animations:
        # animated part nodes start at their rest pose, not the clip's first frame
        for f in frames:
            node = nodes[node_of[f.name]]
            parent_origin = np.zeros(3) if f.parent is None else next(g.origin for g in frames if g.name == f.parent)
            rest = np.eye(4)
            rest[:3, 3] = f.origin - parent_origin
            _trs(node, _to_y(rest))
        tree["animations"] = animations
    return join_glb(tree, w.blob)
