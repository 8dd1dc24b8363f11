"""Checks of a mesh file's bytes, and of the mesh read from it, before any native library
(trimesh's parsers, Qhull, Warp, a physics engine) sees them.

Two layers, each raising a typed :mod:`n4d4d.errors` error that names the file, and the line
for text formats:

- :func:`prepare` (per format, on the raw bytes): OBJ vertices of fewer than three numbers,
  face lines that are not lists of indices (faces of fewer than 3 are left to trimesh, which
  skips them), index 0 (OBJ counts from 1), NUL bytes in a text file; a
  binary STL whose triangle count disagrees with its length, ASCII STL facets without exactly
  three vertices; a PLY header that is malformed or lies about its element counts (checked
  against the body before anything is allocated); an OFF header whose counts disagree with
  the lines that follow. It also normalises what trimesh's text parsers trip on (a UTF-8 byte
  order mark, UTF-16 text, CR line ends, tabs).
- :func:`check_geometry` (on the arrays): shapes, index range, finite coordinates of sane
  magnitude, at least one face of non-zero area, and (for a solid) that the vertices are not
  all within a sliver of one plane: a flat or nearly flat input is refused with a sentence
  saying how thick it is and what to do, before Qhull would fail on it with "QH6154 initial
  simplex is flat" or "QH6214 not enough points".

It does not repair anything; glTF structure is checked by :mod:`n4d4d.io.gltf_checks`.
"""

from __future__ import annotations

import re
import struct

import numpy as np

from n4d4d.errors import EmptyMeshError, FlatMeshError, InputError, MalformedFileError, NonFiniteError

#: Largest |coordinate| accepted, file units: squares and cubes of lengths (areas, volumes,
#: inertias) stay far inside float64 and the mesh inside float32 once scaled.
MAX_ABS_COORDINATE = 1e15
#: A mesh whose extent is below this fraction of its distance from the origin is lost in float64
#: rounding (fewer than ~1e7 distinct coordinates across it).
MIN_EXTENT_TO_OFFSET = 1e-9
#: Thinnest solid accepted, as a fraction of its longest side. Measured on closed boxes
#: (1 x 1 x r, ``n4d4d build --resolution 64``): r = 1e-5 builds (and the certificate judges it);
#: at 1e-6 Newton's hull builder already finds the box coplanar (rank 2, zero mass), and at
#: 1e-8 a later stage crashes. The physics engines and Warp compute in float32 (7 digits).
NEAR_FLAT_RATIO = 1e-5
#: A face is degenerate when its area is below this fraction of the longest side squared.
DEGENERATE_AREA_RATIO = 1e-14

_NUM = rb"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf(?:inity)?)"
_OBJ_BAD_V = re.compile(rb"(?im)^[ ]*v[ ]++(?!" + _NUM + rb"(?:[ ]+" + _NUM + rb"){2,}[ ]*$)[^\n]*$")
_OBJ_TOK = rb"[-+]?\d+(?:/[-+]?\d*(?:/[-+]?\d*)?)?"
_OBJ_BAD_F = re.compile(rb"(?m)^[ ]*f(?![ ]++" + _OBJ_TOK + rb"(?:[ ]+" + _OBJ_TOK + rb")*[ ]*$)(?:[ ][^\n]*)?$")
_OBJ_ZERO_F = re.compile(rb"(?m)^[ ]*f(?:[ ]+[^ \n]+)*?[ ]+[-+]?0+(?=[/ \n]|$)")
_STL_BAD_V = re.compile(rb"(?im)^[ ]*vertex\b(?![ ]++" + _NUM + rb"[ ]+" + _NUM + rb"[ ]+" + _NUM + rb"[ ]*$)[^\n]*$")
_STL_NONFINITE = re.compile(rb"(?im)^[ ]*vertex\b[^\n]*\b(?:nan|inf)")
PLY_TYPES = {"char": 1, "uchar": 1, "short": 2, "ushort": 2, "int": 4, "uint": 4, "float": 4, "double": 8,
             "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "float32": 4, "float64": 8}


def _line_no(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def _snippet(data: bytes, pos: int) -> str:
    end = data.find(b"\n", pos)
    text = data[pos:end if end >= 0 else len(data)].decode("latin-1").strip()
    return text[:40] + ("..." if len(text) > 40 else "")


def _bad_line(match, data: bytes, problem: str, path):
    line = _line_no(data, match.start())
    return MalformedFileError(f"line {line}: {problem} ('{_snippet(data, match.start())}')", path, line=line)


def _text(data: bytes, fmt: str, path) -> bytes:
    """Text-format bytes normalised for trimesh: UTF-8 without BOM, LF line ends, no tabs."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        data = data.decode("utf-16").encode("utf-8")
    elif data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    if b"\0" in data:
        raise MalformedFileError(f"not a text {fmt} file (it holds binary bytes)", path)
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\t", b" ")


def prepare(data: bytes, suffix: str, path) -> bytes:
    """Check and normalise a mesh file's bytes for its format (``suffix`` like ``".obj"``).

    Returns the bytes to hand to trimesh. Raises EmptyMeshError (an empty file) or
    MalformedFileError / NonFiniteError naming the line (see module doc). glTF / GLB bytes
    are returned unchanged (see :mod:`n4d4d.io.gltf_checks`).
    """
    if not data.strip():
        raise EmptyMeshError("the file is empty", path)
    if suffix == ".obj":
        return _prepare_obj(data, path)
    if suffix == ".stl":
        return _prepare_stl(data, path)
    if suffix == ".ply":
        return _prepare_ply(data, path)
    if suffix == ".off":
        return _prepare_off(data, path)
    return data


def _prepare_obj(data: bytes, path) -> bytes:
    data = _text(data, "OBJ", path)
    for regex, problem in ((_OBJ_BAD_V, "a vertex needs 3 numbers (x y z)"),
                           (_OBJ_BAD_F, "a face is a list of vertex indices (i, i/t, i/t/n or i//n)"),
                           (_OBJ_ZERO_F, "face index 0 (OBJ indices count from 1; negative ones count back)")):
        m = regex.search(data)
        if m:
            raise _bad_line(m, data, problem, path)
    return data


def _prepare_stl(data: bytes, path) -> bytes:
    count = struct.unpack_from("<I", data, 80)[0] if len(data) >= 84 else None
    if count is not None and 84 + 50 * count == len(data):
        return data  # binary, even when its 80-byte header begins with "solid"
    if data.lstrip()[:5].lower() == b"solid" and b"\0" not in data:
        data = _text(data, "STL", path)
        m = _STL_NONFINITE.search(data)
        if m:
            line = _line_no(data, m.start())
            raise NonFiniteError(f"line {line}: NaN or infinite vertex coordinate ('{_snippet(data, m.start())}')", path)
        m = _STL_BAD_V.search(data)
        if m:
            raise _bad_line(m, data, "a vertex needs 3 numbers (x y z)", path)
        facets = len(re.findall(rb"(?im)^[ ]*facet\b", data))
        ends = len(re.findall(rb"(?im)^[ ]*endfacet\b", data))
        vertices = len(re.findall(rb"(?im)^[ ]*vertex\b", data))
        if vertices != 3 * facets or ends != facets:
            raise MalformedFileError(f"ASCII STL has {facets} facets ({ends} closed) and {vertices} vertices; "
                                     "each facet needs exactly 3 (truncated or malformed)", path)
        return data
    if count is None:
        raise MalformedFileError(f"too short for a binary STL ({len(data)} bytes; its header alone is 84) "
                                 "and not ASCII STL", path)
    raise MalformedFileError(f"binary STL header declares {count} triangles ({84 + 50 * count} bytes) but the "
                             f"file has {len(data)} bytes (truncated, or a header that lies)", path)


def _prepare_ply(data: bytes, path) -> bytes:
    if not data.startswith(b"ply"):
        raise MalformedFileError("not a PLY file (it does not begin with 'ply')", path)
    end = data.find(b"end_header", 0, 1 << 16)
    if end < 0:
        raise MalformedFileError("no 'end_header' in the PLY's first 64 kB (truncated, or not a PLY file)", path)
    nl = data.find(b"\n", end)
    body = data[nl + 1:] if nl >= 0 else b""
    try:
        header = data[:end].decode("ascii").replace("\r", "").split("\n")
    except UnicodeDecodeError as exc:
        raise MalformedFileError("PLY header is not ASCII text", path) from exc
    fmt, elements = None, []  # elements: [name, count, [(name, bytes of a scalar / list count)]]
    for i, line in enumerate(header, 1):
        t = line.split()
        if not t or t[0] in ("ply", "comment", "obj_info"):
            continue
        bad = None
        if t[0] == "format":
            if len(t) != 3 or t[1] not in ("ascii", "binary_little_endian", "binary_big_endian") or t[2] != "1.0":
                bad = "format must be 'ascii', 'binary_little_endian' or 'binary_big_endian' 1.0"
            fmt = t[1]
        elif t[0] == "element":
            if len(t) != 3 or not t[2].isdigit():
                bad = "an element needs a name and a count >= 0"
            else:
                elements.append([t[1], int(t[2]), []])
        elif t[0] == "property":
            if not elements:
                bad = "a property before any element"
            elif len(t) == 3 and t[1] in PLY_TYPES:
                elements[-1][2].append((t[2], PLY_TYPES[t[1]]))
            elif len(t) == 5 and t[1] == "list" and t[2] in PLY_TYPES and t[3] in PLY_TYPES:
                elements[-1][2].append((t[4], PLY_TYPES[t[2]]))
            else:
                bad = f"unknown property type; PLY types are {', '.join(sorted(PLY_TYPES))}"
        else:
            bad = f"unknown header keyword '{t[0]}'"
        if bad:
            raise MalformedFileError(f"line {i}: {bad} ('{line.strip()[:40]}')", path, line=i)
    if fmt is None:
        raise MalformedFileError("PLY header has no format line", path)
    declared = " + ".join(f"{n} {name}" for name, n, _ in elements) or "nothing"
    total = sum(n for _, n, _ in elements)
    if fmt == "ascii":
        rows = len(re.findall(rb"(?m)^[ \t]*[^ \t\r\n]", body))
        if rows != total:
            raise MalformedFileError(f"PLY header declares {declared} = {total} records but the body has {rows} "
                                     "lines (a header that lies, or a truncated file)", path)
    else:
        least = sum(n * sum(size for _, size in props) for _, n, props in elements)
        if least > len(body):
            raise MalformedFileError(f"PLY header declares {declared}, at least {least} bytes, but the body has "
                                     f"{len(body)} (a header that lies, or a truncated file)", path)
    return data


def _prepare_off(data: bytes, path) -> bytes:
    data = _text(data, "OFF", path)
    lines = [ln.split(b"#")[0].split() for ln in data.split(b"\n")]
    lines = [t for t in lines if t]
    head = lines[0]
    if head and head[0].upper().endswith(b"OFF"):
        head = head[1:] or (lines[1] if len(lines) > 1 else [])
        skip = 1 if lines[0][1:] else 2
    else:
        skip = 1
    if len(head) not in (2, 3) or not all(re.fullmatch(rb"\d+", x) for x in head):
        raise MalformedFileError("OFF header needs the counts 'vertices faces edges' as integers >= 0 ('"
                                 + b" ".join(head).decode("latin-1")[:40] + "')", path)
    nv, nf = int(head[0]), int(head[1])
    if len(lines) - skip != nv + nf:
        raise MalformedFileError(f"OFF header declares {nv} vertices and {nf} faces but {len(lines) - skip} lines "
                                 "follow (a header that lies, or a truncated file)", path)
    return data


def _axis_name(n: np.ndarray) -> str:
    k = int(np.argmax(np.abs(n)))
    if abs(abs(n[k]) - 1.0) < 1e-6:
        return "xyz"[k]
    return "(" + ", ".join(f"{x:.2g}" for x in n) + ")"


def check_geometry(vertices, faces, path, *, solid: bool = True, what: str = "the mesh") -> np.ndarray:
    """Refuse a mesh no later stage can use; return the indices of the vertices faces use.

    Args:
        vertices: ``(V, 3)`` float coordinates (file units). faces: ``(F, 3)`` integer indices.
        path: the file, named in errors. solid: also refuse flat and nearly flat meshes
            (thinner than :data:`NEAR_FLAT_RATIO` of the longest side across their flattest
            direction, measured along the least principal axis of the used vertices).
        what: how messages name the mesh.

    Raises:
        MalformedFileError: wrong array shapes, face indices outside ``0..V-1``.
        EmptyMeshError: no faces; all vertices coincide; every face has zero area.
        NonFiniteError: NaN or infinite coordinates.
        InputError: coordinates beyond :data:`MAX_ABS_COORDINATE`, or a mesh so small for its
            distance from the origin that float64 cannot resolve it.
        FlatMeshError: (``solid``) the mesh is flat or nearly so.
    """
    v, f = np.asarray(vertices), np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3:
        raise MalformedFileError(f"{what}'s vertices have {v.shape[-1] if v.ndim == 2 else '?'} coordinates, not 3",
                                 path)
    if len(f) == 0:
        raise EmptyMeshError(f"{what} has no triangles", path)
    if f.ndim != 2 or f.shape[1] != 3:
        raise MalformedFileError(f"{what}'s faces are not triangles of 3 indices", path)
    if f.min() < 0 or f.max() >= len(v):
        bad = int(((f < 0) | (f >= len(v))).any(axis=1).sum())
        raise MalformedFileError(f"{bad} faces of {what} index vertices outside 0..{len(v) - 1} "
                                 f"(indices {int(f.min())}..{int(f.max())})", path)
    v = v.astype(np.float64, copy=False)
    if not np.isfinite(v).all():
        bad = int((~np.isfinite(v)).any(axis=1).sum())
        raise NonFiniteError(f"{bad} vertices have NaN or infinite coordinates", path)
    used = np.flatnonzero(np.bincount(f.reshape(-1), minlength=len(v)))  # O(F), unlike np.unique
    vu = v[used]
    big = float(np.abs(vu).max())
    if big > MAX_ABS_COORDINATE:
        raise InputError(f"coordinates reach {big:.3g}, beyond +-{MAX_ABS_COORDINATE:.0e} file units where lengths, "
                         "areas and volumes lose their precision; write the file in a sensible unit", path)
    ext = np.ptp(vu, axis=0)
    longest = float(ext.max())
    if longest == 0.0:
        raise EmptyMeshError(f"{what} has zero extent (all vertices coincide)", path)
    if longest < MIN_EXTENT_TO_OFFSET * big:
        raise InputError(f"{what} is {longest:.3g} across but {big:.3g} from the origin: float64 cannot resolve "
                         "it there; move it near the origin", path)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area2 = np.linalg.norm(np.cross(b - a, c - a), axis=1)
    if not (area2 > 2.0 * DEGENERATE_AREA_RATIO * longest**2).any():
        raise EmptyMeshError(f"all {len(f)} faces of {what} are degenerate (zero area: repeated or collinear "
                             "vertices)", path)
    if solid:
        centred = vu - vu.mean(axis=0)
        _, vecs = np.linalg.eigh(centred.T @ centred)
        n = vecs[:, 0]
        thickness = float(np.ptp(centred @ n))
        if thickness <= NEAR_FLAT_RATIO * longest:
            axis = _axis_name(n)
            if thickness <= 1e-12 * longest:
                how = f"flat (thickness 0 m along {axis})"
            else:
                how = (f"nearly flat (thickness {thickness:.2g} along {axis}, {thickness / longest:.1g} of its "
                       f"longest side; a solid needs at least {NEAR_FLAT_RATIO:g})")
            raise FlatMeshError(f"{what} is {how}: give it a thickness with --solidify T or model it closed", path,
                                thickness=thickness, axis=axis)
    return used
