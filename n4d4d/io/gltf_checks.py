"""Structural checks of a glTF 2.0 document (``.gltf`` JSON or ``.glb`` container) before trimesh
reads it, so that a malformed or hostile file fails with a typed error naming what is wrong.

Checked (glTF 2.0 specification, sections 3.6-3.7 and 4.4): the GLB header and chunk lengths;
that the JSON is an object; every index (scene -> node -> mesh -> accessor -> bufferView ->
buffer) points at an element that exists; node hierarchies are trees (no node is its own
ancestor, no node has two parents); node transforms are finite numbers of the right arity;
accessors lie inside their buffer views and views inside their buffers; buffers hold the bytes
they declare. Buffer and image URIs must be well-formed ``data:`` URIs or relative file names
that stay inside the glTF's folder (no absolute paths, no ``file://`` or network URLs, no
``..`` out of the folder): :class:`~n4d4d.errors.UnsafePathError` otherwise.

It does not decode accessor data (index ranges are checked on the mesh trimesh returns) or
validate materials, animations, skins or extensions.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from pathlib import Path
from urllib.parse import unquote

from n4d4d.errors import MalformedFileError, MissingFileError, UnsafePathError

#: Bytes per component of each accessor componentType (spec 3.6.2.2).
COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
#: Components per element of each accessor type.
TYPE_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def split_glb(data: bytes, path) -> tuple[dict, int]:
    """``(document, BIN chunk length)`` of a GLB container (spec 4.4); raises
    :class:`MalformedFileError` for a bad magic, version, length or chunk."""
    if len(data) < 20:
        raise MalformedFileError(f"GLB file too short ({len(data)} bytes; header and JSON chunk need 20)", path)
    magic, version, length = struct.unpack_from("<4sII", data)
    if magic != b"glTF":
        raise MalformedFileError(f"not a GLB file (magic {magic!r}, expected b'glTF')", path)
    if version != 2:
        raise MalformedFileError(f"GLB version {version}; n4d4d reads glTF 2", path)
    if length != len(data):
        raise MalformedFileError(f"GLB header declares {length} bytes but the file has {len(data)} "
                                 "(truncated, or a header that lies)", path)
    chunks, at = [], 12
    while at < len(data):
        if at + 8 > len(data):
            raise MalformedFileError(f"GLB chunk header at byte {at} is cut off", path)
        n, kind = struct.unpack_from("<I4s", data, at)
        if at + 8 + n > len(data):
            raise MalformedFileError(f"GLB {kind.rstrip(bytes(1)).decode('latin-1')!r} chunk declares {n} bytes "
                                     f"but only {len(data) - at - 8} follow", path)
        chunks.append((kind, at + 8, n))
        at += 8 + n
    if not chunks or chunks[0][0] != b"JSON":
        raise MalformedFileError("GLB's first chunk is not JSON", path)
    _, start, n = chunks[0]
    doc = parse_json(data[start:start + n], path)
    bin_len = next((n for kind, _, n in chunks[1:] if kind == b"BIN\0"), 0)
    return doc, bin_len


def parse_json(data: bytes, path) -> dict:
    """The glTF JSON object; :class:`MalformedFileError` if it is not valid UTF-8 JSON object text."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedFileError(f"not valid glTF JSON ({_one_line(exc)})", path) from exc
    if not isinstance(doc, dict):
        raise MalformedFileError(f"glTF JSON must be an object, found {type(doc).__name__}", path)
    return doc


def _one_line(exc) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _index(value, n: int, where: str, path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
        raise MalformedFileError(f"{where} = {value!r} does not name one of the {n} elements it refers to", path)
    return value


def _list(doc: dict, key: str, path) -> list:
    items = doc.get(key, [])
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise MalformedFileError(f"glTF '{key}' must be a list of objects", path)
    return items


def _count(value, where: str, path, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise MalformedFileError(f"{where} = {value!r} is not an integer >= {minimum}", path)
    return value


def _numbers(value, n: int, where: str, path) -> None:
    ok = (isinstance(value, list) and len(value) == n
          and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value))
    if not ok:
        raise MalformedFileError(f"{where} must be {n} finite numbers, got {str(value)[:80]}", path)


def uri_bytes(uri, where: str, folder: Path, path, *, must_exist: bool = True) -> int | None:
    """Bytes available behind a buffer or image ``uri`` (None for a missing image when
    ``must_exist`` is False). Raises UnsafePathError, MissingFileError or MalformedFileError."""
    if not isinstance(uri, str):
        raise MalformedFileError(f"{where}.uri must be a string", path)
    if uri.startswith("data:"):
        head, comma, payload = uri.partition(",")
        if not comma:
            raise MalformedFileError(f"{where}: malformed data URI (no ',' before the data)", path)
        if head.endswith(";base64"):
            try:
                return len(base64.b64decode(payload, validate=True))
            except (binascii.Error, ValueError) as exc:
                raise MalformedFileError(f"{where}: data URI is not valid base64 ({_one_line(exc)})", path) from exc
        return len(unquote(payload).encode())
    if _SCHEME.match(uri) or uri.startswith(("/", "\\")):
        raise UnsafePathError(f"{where}: URI '{uri}' is not a relative file name; n4d4d reads only files "
                              "in the glTF's own folder", path)
    root = folder.resolve()
    target = (folder / unquote(uri)).resolve()
    if not target.is_relative_to(root):
        raise UnsafePathError(f"{where}: URI '{uri}' points outside the glTF's folder", path)
    if not target.is_file():
        if not must_exist and not target.exists():
            return None
        raise MissingFileError(f"{where}: file '{uri}' {'is not a file' if target.exists() else 'not found'} "
                               "beside the glTF", path)
    return target.stat().st_size


def check_document(doc: dict, path, *, folder: Path, glb_bin_bytes: int | None = None) -> None:
    """Check a glTF document's structure (see module doc); ``glb_bin_bytes`` is the GLB BIN
    chunk's length (None for a ``.gltf`` file). Raises MalformedFileError, UnsafePathError or
    MissingFileError naming the element (``nodes[2].mesh``, ``buffers[0].uri``, ...)."""
    buffers, views, accessors = _list(doc, "buffers", path), _list(doc, "bufferViews", path), _list(doc, "accessors", path)
    meshes, nodes, scenes = _list(doc, "meshes", path), _list(doc, "nodes", path), _list(doc, "scenes", path)
    sizes = []
    for i, b in enumerate(buffers):
        where = f"buffers[{i}]"
        declared = _count(b.get("byteLength"), f"{where}.byteLength", path)
        if "uri" in b:
            have = uri_bytes(b["uri"], where, folder, path)
        elif i == 0 and glb_bin_bytes is not None:
            have = glb_bin_bytes
        else:
            raise MalformedFileError(f"{where} has no uri (only a GLB's first buffer may omit it)", path)
        if have < declared:
            raise MalformedFileError(f"{where} declares {declared} bytes but holds {have}", path)
        sizes.append(declared)
    for i, v in enumerate(views):
        where = f"bufferViews[{i}]"
        b = _index(v.get("buffer"), len(buffers), f"{where}.buffer", path)
        off = _count(v.get("byteOffset", 0), f"{where}.byteOffset", path)
        n = _count(v.get("byteLength"), f"{where}.byteLength", path, 1)
        if off + n > sizes[b]:
            raise MalformedFileError(f"{where} (bytes {off}..{off + n}) overruns buffer {b} ({sizes[b]} bytes)", path)
        if "byteStride" in v:
            _count(v["byteStride"], f"{where}.byteStride", path, 4)
    for i, a in enumerate(accessors):
        where = f"accessors[{i}]"
        ctype, atype = a.get("componentType"), a.get("type")
        if ctype not in COMPONENT_BYTES or isinstance(ctype, bool):
            raise MalformedFileError(f"{where}.componentType {ctype!r} is not a glTF component type", path)
        if atype not in TYPE_COMPONENTS:
            raise MalformedFileError(f"{where}.type {atype!r} is not a glTF accessor type", path)
        count = _count(a.get("count"), f"{where}.count", path, 1)
        if "bufferView" not in a:
            continue  # all zeros (or sparse): nothing to overrun
        v = views[_index(a["bufferView"], len(views), f"{where}.bufferView", path)]
        elem = COMPONENT_BYTES[ctype] * TYPE_COMPONENTS[atype]
        stride = v.get("byteStride", elem)
        need = _count(a.get("byteOffset", 0), f"{where}.byteOffset", path) + stride * (count - 1) + elem
        if need > v["byteLength"]:
            raise MalformedFileError(f"{where} needs {need} bytes ({count} x {atype}) but its bufferView holds "
                                     f"{v['byteLength']}", path)
    for i, m in enumerate(meshes):
        prims = m.get("primitives")
        if not isinstance(prims, list) or not all(isinstance(p, dict) for p in prims):
            raise MalformedFileError(f"meshes[{i}].primitives must be a list of objects", path)
        for k, prim in enumerate(prims):
            where = f"meshes[{i}].primitives[{k}]"
            attrs = prim.get("attributes")
            if not isinstance(attrs, dict) or "POSITION" not in attrs:
                raise MalformedFileError(f"{where} has no POSITION attribute", path)
            for name, acc in attrs.items():
                _index(acc, len(accessors), f"{where}.attributes.{name}", path)
            if "indices" in prim:
                _index(prim["indices"], len(accessors), f"{where}.indices", path)
            if prim.get("mode", 4) not in range(7) or isinstance(prim.get("mode", 4), bool):
                raise MalformedFileError(f"{where}.mode {prim.get('mode')!r} is not a glTF primitive mode", path)
    parent: dict[int, int] = {}
    for i, node in enumerate(nodes):
        where = f"nodes[{i}]"
        if "mesh" in node:
            _index(node["mesh"], len(meshes), f"{where}.mesh", path)
        for key, n in (("matrix", 16), ("translation", 3), ("rotation", 4), ("scale", 3)):
            if key in node:
                _numbers(node[key], n, f"{where}.{key}", path)
        children = node.get("children", [])
        if not isinstance(children, list):
            raise MalformedFileError(f"{where}.children must be a list", path)
        for c in children:
            c = _index(c, len(nodes), f"{where}.children", path)
            if c == i:
                raise MalformedFileError(f"{where} is its own child: a glTF node hierarchy must be a tree", path)
            if c in parent:
                raise MalformedFileError(f"nodes[{c}] has two parents (nodes[{parent.get(c, i)}] and nodes[{i}]): "
                                         "a glTF node hierarchy must be a tree", path)
            parent[c] = i
    for i in range(len(nodes)):  # a cycle: walking up from some node comes back to it
        seen, at = {i}, i
        while at in parent:
            at = parent[at]
            if at in seen:
                raise MalformedFileError(f"nodes[{i}]'s ancestors form a cycle: a glTF node hierarchy must be a tree",
                                         path)
            seen.add(at)
    for i, s in enumerate(scenes):
        for n in s.get("nodes", []) if isinstance(s.get("nodes", []), list) else [None]:
            _index(n, len(nodes), f"scenes[{i}].nodes", path)
    for i, img in enumerate(_list(doc, "images", path)):
        if "uri" in img:
            uri_bytes(img["uri"], f"images[{i}]", folder, path, must_exist=False)
