"""Ground-truth skeletons from glTF 2.0 skins (``.gltf`` with embedded / side buffers, ``.glb``).

What it does: reads the first skin of a glTF file and the skinned mesh's bind-pose geometry
straight from the accessors (glTF 2.0 spec, sections 3.6 accessors and 3.7.3 skins): vertex
positions and triangle indices of every primitive of the skinned mesh node (mesh space, the
space the inverse bind matrices map from), the joint hierarchy from the node tree, and each
joint's bind position as the translation of ``inverse(inverseBindMatrix)`` (column-major 4x4).
Positions are converted from glTF's Y up to n4d4d's Z up (:data:`n4d4d.conventions.Y_UP_TO_Z_UP`).

What it does not: evaluate animations, morph targets, sparse accessors, or skins beyond the
first; units are taken as given (glTF is metres).
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from n4d4d.conventions import Y_UP_TO_Z_UP
from n4d4d.errors import InputError, MissingFileError

_COMPONENT = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


@dataclass(frozen=True)
class SkinnedMesh:
    """A glTF skin and its mesh at bind pose, Z up (m).

    ``vertices (V, 3) float64``, ``faces (F, 3) int64``, ``joint_names`` (J,),
    ``parents (J,) int64`` (-1 for roots), ``joint_positions (J, 3) float64``.
    """

    vertices: np.ndarray
    faces: np.ndarray
    joint_names: tuple[str, ...]
    parents: np.ndarray
    joint_positions: np.ndarray


def _load(path: Path):
    data = path.read_bytes()
    if data[:4] == b"glTF":
        n = struct.unpack("<I", data[12:16])[0]
        doc = json.loads(data[20:20 + n])
        off = 20 + n
        blob = data[off + 8: off + 8 + struct.unpack("<I", data[off:off + 4])[0]] if off < len(data) else b""
        buffers = [blob]
    else:
        doc = json.loads(data)
        buffers = []
        for b in doc.get("buffers", []):
            uri = b.get("uri", "")
            if uri.startswith("data:"):
                buffers.append(base64.b64decode(uri.split(",", 1)[1]))
            else:
                buffers.append((path.parent / uri).read_bytes())
    return doc, buffers


def _accessor(doc, buffers, i) -> np.ndarray:
    acc = doc["accessors"][i]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = np.dtype(_COMPONENT[acc["componentType"]])
    width = _WIDTH[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride", 0) or dtype.itemsize * width
    raw = buffers[view.get("buffer", 0)]
    rows = [np.frombuffer(raw, dtype, width, start + k * stride) for k in range(acc["count"])] \
        if stride != dtype.itemsize * width else \
        [np.frombuffer(raw, dtype, width * acc["count"], start).reshape(acc["count"], width)]
    return np.vstack(rows) if len(rows) > 1 or rows[0].ndim == 2 else rows[0][None]


def read_skin(path: str | Path) -> SkinnedMesh:
    """Read the first skin and its skinned mesh (see module docstring).

    Raises:
        MissingFileError: no such file. InputError: no skin, or no mesh node uses it.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError("glTF file not found", path)
    doc, buffers = _load(path)
    if not doc.get("skins"):
        raise InputError("glTF file has no skin", path)
    skin = doc["skins"][0]
    nodes = doc["nodes"]
    mesh_node = next((n for n in nodes if n.get("skin") == 0 and "mesh" in n), None)
    if mesh_node is None:
        raise InputError("no mesh node uses the skin", path)
    verts, faces = [], []
    for prim in doc["meshes"][mesh_node["mesh"]]["primitives"]:
        v = _accessor(doc, buffers, prim["attributes"]["POSITION"]).astype(np.float64)
        f = (_accessor(doc, buffers, prim["indices"]).reshape(-1, 3).astype(np.int64)
             if "indices" in prim else np.arange(len(v)).reshape(-1, 3))
        faces.append(f + sum(len(x) for x in verts))
        verts.append(v)
    joints = skin["joints"]
    ibm = _accessor(doc, buffers, skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
    pos = np.array([np.linalg.inv(m.astype(np.float64))[:3, 3] for m in ibm])
    parent_of = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    slot = {n: k for k, n in enumerate(joints)}
    parents = []
    for n in joints:
        p = parent_of.get(n)
        while p is not None and p not in slot:
            p = parent_of.get(p)
        parents.append(slot[p] if p is not None else -1)
    names = tuple(nodes[n].get("name", f"node{n}") for n in joints)
    R = Y_UP_TO_Z_UP
    return SkinnedMesh(np.concatenate(verts) @ R.T, np.concatenate(faces), names,
                       np.array(parents, np.int64), pos @ R.T)
