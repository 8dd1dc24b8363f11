"""Malformed and nasty inputs for every format n4d4d reads, generated (nothing big committed).

:func:`all_cases` returns :class:`Case` records: the files of one input (the input first, plus
the buffers / part meshes it references), the class it belongs to (for the fuzz table) and
what the build must end in: ``"error"`` (a typed one-line error), ``"built"`` (a complete
output, passed or rejected by the certificate) or ``"any"`` (either). Valid variants that
only exercise the reader (``cli=False``: BOM and tabs, quads, an upper-case suffix, ...) are
loaded in-process instead of built, to keep the suite fast; every malformed input goes
through the CLI. Every input's name
carries its tag ``zzNNN`` so that one CLI line can be told apart from another in a batch.

Used by ``tests/test_malformed.py``; shapes are tiny (a cube, a tetrahedron) so that the
inputs that do build take about a second each.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CUBE_V = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                   [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=np.float64) * 0.1
CUBE_F = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
                   [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]], dtype=np.int64)
TRI_V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float64)
TRI_F = np.array([[0, 1, 2]], dtype=np.int64)


def _sheet(n: int = 4, bump: float = 0.0):
    """An open ``n x n`` quad grid on z = 0 (unit square), its centre lifted by ``bump``."""
    xs = np.linspace(0.0, 1.0, n + 1)
    X, Y = np.meshgrid(xs, xs)
    Z = np.zeros_like(X)
    Z[n // 2, n // 2] = bump
    v = np.c_[X.ravel(), Y.ravel(), Z.ravel()]
    f = []
    for i in range(n):
        for j in range(n):
            a = i * (n + 1) + j
            f += [[a, a + 1, a + n + 2], [a, a + n + 2, a + n + 1]]
    return v, np.array(f)


SHEET_V, SHEET_F = _sheet()


@dataclass(frozen=True)
class Case:
    """One input: ``files`` maps a path relative to the case folder to its bytes (None: make a
    folder; ``"fifo"``: a named pipe); the input is ``input`` (default: the first file)."""

    slug: str
    fmt: str
    kind: str
    files: dict
    expect: str = "any"
    input: str | None = None
    match: str | None = None
    tag: str = field(default="", compare=False)
    cli: bool = True

    @property
    def input_name(self) -> str:
        return self.input or next(iter(self.files))

    def write(self, root: Path) -> Path:
        """Write the case's files under ``root/tag/`` and return the input's path."""
        folder = root / self.tag
        folder.mkdir(parents=True, exist_ok=True)
        for rel, data in self.files.items():
            p = folder / rel.replace("{tag}", self.tag)
            p.parent.mkdir(parents=True, exist_ok=True)
            if data is None:
                p.mkdir(exist_ok=True)
            elif data == "fifo":
                os.mkfifo(p)
            else:
                p.write_bytes(data if isinstance(data, bytes) else data.encode())
        return folder / self.input_name.replace("{tag}", self.tag)


# --------------------------------------------------------------------------- writers
def obj_text(v, f, *, fmt="{:.9g}", newline="\n") -> str:
    lines = ["v " + " ".join(fmt.format(x) for x in row) for row in v]
    lines += ["f " + " ".join(str(int(i) + 1) for i in row) for row in f]
    return newline.join(lines) + newline


def stl_ascii(v, f, name="x") -> str:
    out = [f"solid {name}"]
    for tri in f:
        out += ["facet normal 0 0 0", " outer loop"]
        out += [f"  vertex {float(v[i][0])!r} {float(v[i][1])!r} {float(v[i][2])!r}" for i in tri]
        out += [" endloop", "endfacet"]
    return "\n".join(out + [f"endsolid {name}", ""])


def stl_binary(v, f, *, count=None, header=b"n4d4d fuzz") -> bytes:
    body = b"".join(struct.pack("<12fH", 0, 0, 0, *np.asarray(v)[tri].ravel().tolist(), 0) for tri in f)
    n = len(f) if count is None else count
    return header.ljust(80, b" ")[:80] + struct.pack("<I", n) + body


def ply_ascii(v, f, *, n_vertex=None, n_face=None, prop="float", extra_header="") -> str:
    head = ["ply", "format ascii 1.0", f"element vertex {len(v) if n_vertex is None else n_vertex}",
            f"property {prop} x", f"property {prop} y", f"property {prop} z",
            f"element face {len(f) if n_face is None else n_face}",
            "property list uchar int vertex_indices"]
    if extra_header:
        head.append(extra_header)
    head.append("end_header")
    body = [" ".join(repr(float(x)) for x in row) for row in v]
    body += [f"{len(row)} " + " ".join(str(int(i)) for i in row) for row in f]
    return "\n".join(head + body) + "\n"


def ply_binary(v, f, *, n_vertex=None, n_face=None, endian="<") -> bytes:
    fmt = "binary_little_endian" if endian == "<" else "binary_big_endian"
    head = (f"ply\nformat {fmt} 1.0\nelement vertex {len(v) if n_vertex is None else n_vertex}\n"
            "property float x\nproperty float y\nproperty float z\n"
            f"element face {len(f) if n_face is None else n_face}\n"
            "property list uchar int vertex_indices\nend_header\n").encode()
    body = b"".join(struct.pack(endian + "3f", *row) for row in np.asarray(v, float).tolist())
    body += b"".join(struct.pack(endian + "B3i", 3, *row) for row in np.asarray(f, int).tolist())
    return head + body


def off_text(v, f, *, counts=None, keyword="OFF") -> str:
    nv, nf = (len(v), len(f)) if counts is None else counts
    lines = [keyword, f"{nv} {nf} 0"] if keyword else [f"{nv} {nf} 0"]
    lines += [" ".join(repr(float(x)) for x in row) for row in v]
    lines += [f"{len(row)} " + " ".join(str(int(i)) for i in row) for row in f]
    return "\n".join(lines) + "\n"


def gltf_parts(v, f, *, index_type=5125, count=None, index_count=None, mode=4, node=None,
               extra=None):
    """glTF JSON dict and binary buffer for one mesh primitive (positions float32, indices
    uint32 (5125) or uint16 (5123))."""
    pos = np.asarray(v, dtype=np.float32).tobytes()
    idx = np.asarray(f, dtype=np.uint32 if index_type == 5125 else np.uint16).tobytes()
    pad = (-len(pos)) % 4
    data = pos + b"\0" * pad + idx
    vmin = np.asarray(v, float).min(axis=0).tolist() if len(v) else [0, 0, 0]
    vmax = np.asarray(v, float).max(axis=0).tolist() if len(v) else [0, 0, 0]
    doc = {
        "asset": {"version": "2.0"},
        "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [node if node is not None else {"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1, "mode": mode}]}],
        "buffers": [{"byteLength": len(data)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(pos)},
                        {"buffer": 0, "byteOffset": len(pos) + pad, "byteLength": len(idx)}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(v) if count is None else count,
             "type": "VEC3", "min": vmin, "max": vmax},
            {"bufferView": 1, "componentType": index_type,
             "count": int(np.size(f)) if index_count is None else index_count, "type": "SCALAR"}],
    }
    for k, val in (extra or {}).items():
        doc[k] = val
    return doc, data


def glb_bytes(doc: dict, data: bytes, *, magic=b"glTF", total=None, json_len=None) -> bytes:
    js = json.dumps(doc).encode()
    js += b" " * ((-len(js)) % 4)
    data = data + b"\0" * ((-len(data)) % 4)
    body = (struct.pack("<I4s", len(js) if json_len is None else json_len, b"JSON") + js
            + struct.pack("<I4s", len(data), b"BIN\0") + data)
    n = 12 + len(body)
    return magic + struct.pack("<II", 2, n if total is None else total) + body


def gltf_embedded(v, f, **kw) -> str:
    doc, data = gltf_parts(v, f, **kw)
    doc["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
    return json.dumps(doc)


def gltf_with_uri(uri: str, v=CUBE_V, f=CUBE_F, **kw) -> str:
    doc, data = gltf_parts(v, f, **kw)
    doc["buffers"][0]["uri"] = uri
    return json.dumps(doc)


def urdf(body: str, name: str = "{tag}") -> str:
    return f'<?xml version="1.0"?>\n<robot name="{name}">\n{body}\n</robot>\n'


BOX_LINK = '<link name="{n}"><visual><geometry><box size="0.1 0.1 0.1"/></geometry></visual></link>'


def links(*names) -> str:
    return "\n".join(BOX_LINK.format(n=n) for n in names)


def joint(name, parent, child, jtype="fixed", extra="") -> str:
    return (f'<joint name="{name}" type="{jtype}"><parent link="{parent}"/><child link="{child}"/>'
            f'{extra}</joint>')


def revolute(extra_limit='lower="-1" upper="1" effort="1" velocity="1"', axis="0 0 1", origin="0 0 0.1"):
    return ('<joint name="j" type="revolute"><parent link="a"/><child link="b"/>'
            f'<origin xyz="{origin}"/><axis xyz="{axis}"/><limit {extra_limit}/></joint>')


def link_geom(geom: str, name="a", origin="") -> str:
    return f'<link name="{name}"><visual>{origin}<geometry>{geom}</geometry></visual></link>'


def _rng_bytes(seed: int, n: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


# --------------------------------------------------------------------------- cases
def _obj_cases():
    C, T = CUBE_V, CUBE_F
    cube = obj_text(C, T)
    yield Case("obj_cube", "obj", "valid control", {"{tag}.obj": cube}, "built")
    yield Case("obj_crlf_bom_tabs", "obj", "valid control",
               {"{tag}.obj": "\ufeff# cube\r\n\r\n" + cube.replace(" ", "\t").replace("\n", "\r\n")}, "any", cli=False)
    yield Case("obj_quads", "obj", "valid control", {"{tag}.obj": obj_text(C, []) + "f 1 4 3 2\nf 5 6 7 8\n"
               "f 1 2 6 5\nf 2 3 7 6\nf 3 4 8 7\nf 4 1 5 8\n"}, "built", cli=False)
    yield Case("obj_negative_relative", "obj", "valid control",
               {"{tag}.obj": obj_text(C, []) + "".join(
                   "f " + " ".join(str(int(i) - 8) for i in row) + "\n" for row in T)}, "built", cli=False)
    yield Case("obj_upper_suffix", "obj", "valid control", {"{tag}.OBJ": cube}, "built", cli=False)
    yield Case("obj_missing_mtl", "obj", "valid control", {"{tag}.obj": "mtllib nope.mtl\nusemtl x\n" + cube}, "built", cli=False)
    yield Case("obj_markup_name", "obj", "paths", {"{tag}[red]x[/red].obj": cube}, "built")
    yield Case("obj_close_tag_name", "obj", "paths", {"{tag}[/x].obj": "v nan 0 0\n" + cube}, "error")
    yield Case("obj_space name", "obj", "paths", {"{tag} a b.obj": cube}, "built", cli=False)
    yield Case("obj_empty", "obj", "empty", {"{tag}.obj": b""}, "error")
    yield Case("obj_comments_only", "obj", "empty", {"{tag}.obj": "# nothing\n# here\n"}, "error")
    yield Case("obj_vertices_only", "obj", "empty", {"{tag}.obj": obj_text(C, [])}, "error")
    yield Case("obj_single_triangle", "obj", "flat", {"{tag}.obj": obj_text(TRI_V, TRI_F)}, "error", match="flat")
    yield Case("obj_double_sided_triangle", "obj", "flat",
               {"{tag}.obj": obj_text(TRI_V, [[0, 1, 2], [0, 2, 1]])}, "error", match="flat")
    yield Case("obj_flat_sheet", "obj", "flat", {"{tag}.obj": obj_text(SHEET_V, SHEET_F)}, "error",
               match=r"flat \(thickness 0 m along z\).*--solidify")
    v, f = _sheet(bump=1e-9)
    yield Case("obj_near_flat_sheet", "obj", "flat", {"{tag}.obj": obj_text(v, f)}, "error", match="flat")
    yield Case("obj_near_flat_box", "obj", "flat", {"{tag}.obj": obj_text(C * [1, 1, 1e-8], T)}, "error",
               match="flat")
    yield Case("obj_thin_plate", "obj", "flat", {"{tag}.obj": obj_text(C * [3, 3, 0.03], T)}, "built")  # 1e-2: a solid
    yield Case("obj_tilted_flat", "obj", "flat", {"{tag}.obj": obj_text(SHEET_V @ np.array(
        [[1, 0, 0], [0, 0.6, 0.8], [0, -0.8, 0.6]]), SHEET_F)}, "error", match="flat")
    yield Case("obj_collinear", "obj", "degenerate",
               {"{tag}.obj": "v 0 0 0\nv 1 0 0\nv 2 0 0\nv 3 0 0\nf 1 2 3\nf 2 3 4\nf 1 3 4\n"}, "error")
    yield Case("obj_all_degenerate", "obj", "degenerate",
               {"{tag}.obj": obj_text(C, [[0, 0, 1], [2, 2, 2], [3, 4, 3], [5, 6, 6]])}, "error",
               match="degenerate")
    yield Case("obj_coincident_vertices", "obj", "degenerate",
               {"{tag}.obj": "v 1 1 1\nv 1 1 1\nv 1 1 1\nv 1 1 1\nf 1 2 3\nf 1 3 4\nf 1 2 4\nf 2 3 4\n"}, "error")
    yield Case("obj_two_coord_v", "obj", "structure", {"{tag}.obj": "v 0 0\nv 1 0\nv 0 1\nv 1 1\nf 1 2 3\nf 2 4 3\n"},
               "error")
    yield Case("obj_one_coord_v", "obj", "structure", {"{tag}.obj": "v 0\nv 1\nv 2\nf 1 2 3\n"}, "error")
    yield Case("obj_mixed_arity_v", "obj", "structure",
               {"{tag}.obj": "v 0 0 0\nv 1 0\n" + obj_text(C, T).replace("f 1 ", "f 2 ", 1)}, "error")
    yield Case("obj_text_coords", "obj", "structure", {"{tag}.obj": "v a b c\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"}, "error")
    yield Case("obj_face_two_vertices", "obj", "structure", {"{tag}.obj": obj_text(C, []) + "f 1 2\nf 2 3\n"},
               "error")
    yield Case("obj_face_text_index", "obj", "indices", {"{tag}.obj": obj_text(C, T) + "f a b c\n"}, "any")
    yield Case("obj_face_float_index", "obj", "indices", {"{tag}.obj": obj_text(C, []) + "f 1.5 2 3\n"}, "error")
    yield Case("obj_index_out_of_range", "obj", "indices", {"{tag}.obj": obj_text(C, T) + "f 1 2 99\n"}, "error")
    yield Case("obj_index_zero", "obj", "indices", {"{tag}.obj": obj_text(C, T) + "f 0 1 2\n"}, "error")
    yield Case("obj_negative_out_of_range", "obj", "indices", {"{tag}.obj": obj_text(C, T) + "f -1 -2 -99\n"},
               "error")
    yield Case("obj_huge_index", "obj", "indices", {"{tag}.obj": obj_text(C, T) + "f 1 2 9223372036854775807\n"},
               "error")
    yield Case("obj_uv_index_out_of_range", "obj", "indices",
               {"{tag}.obj": obj_text(C, []) + "vt 0 0\n" + "".join(
                   "f " + " ".join(f"{int(i) + 1}/7" for i in row) + "\n" for row in T)}, "any")
    yield Case("obj_normal_index_out_of_range", "obj", "indices",
               {"{tag}.obj": obj_text(C, []) + "vn 0 0 1\n" + "".join(
                   "f " + " ".join(f"{int(i) + 1}//9" for i in row) + "\n" for row in T)}, "any")
    for name, val in (("nan", "nan"), ("inf", "inf"), ("neg_inf", "-inf"), ("1e300", "1e300"),
                      ("1e400", "1e400")):
        text = obj_text(C, T).replace("v 0 0 0", f"v {val} 0 0", 1)
        yield Case(f"obj_{name}", "obj", "non-finite / extreme", {"{tag}.obj": text}, "error")
    yield Case("obj_all_1e300", "obj", "non-finite / extreme", {"{tag}.obj": obj_text(C * 1e301, T)}, "error")
    yield Case("obj_far_from_origin", "obj", "non-finite / extreme",
               {"{tag}.obj": obj_text(C + 1e12, T, fmt="{:.17g}")}, "error")
    yield Case("obj_tiny_1e-300", "obj", "non-finite / extreme", {"{tag}.obj": obj_text(C * 1e-300, T)}, "any")
    yield Case("obj_truncated", "obj", "truncated", {"{tag}.obj": cube[: len(cube) * 2 // 3]}, "any")
    yield Case("obj_truncated_in_number", "obj", "truncated", {"{tag}.obj": obj_text(C, [])[:-7]}, "error")
    yield Case("obj_garbage", "obj", "garbage", {"{tag}.obj": _rng_bytes(1, 3000)}, "error")
    yield Case("obj_zeros", "obj", "garbage", {"{tag}.obj": b"\0" * 4096}, "error")
    yield Case("obj_utf16", "obj", "garbage", {"{tag}.obj": cube.encode("utf-16")}, "any", cli=False)
    yield Case("obj_long_line", "obj", "garbage", {"{tag}.obj": "v " + "1" * 200_000 + " 0 0\n" + cube}, "error")
    yield Case("obj_is_ply", "obj", "lying suffix", {"{tag}.obj": ply_ascii(C, T)}, "error")
    yield Case("obj_is_glb", "obj", "lying suffix", {"{tag}.obj": glb_bytes(*gltf_parts(C, T))}, "error")


def _stl_cases():
    C, T = CUBE_V, CUBE_F
    yield Case("stl_ascii_cube", "stl-ascii", "valid control", {"{tag}.stl": stl_ascii(C, T)}, "built")
    yield Case("stl_binary_cube", "stl-binary", "valid control", {"{tag}.stl": stl_binary(C, T)}, "built")
    yield Case("stl_binary_solid_header", "stl-binary", "lying header",
               {"{tag}.stl": stl_binary(C, T, header=b"solid pretending to be ascii")}, "built", cli=False)
    yield Case("stl_ascii_single", "stl-ascii", "flat", {"{tag}.stl": stl_ascii(TRI_V, TRI_F)}, "error", match="flat")
    yield Case("stl_binary_single", "stl-binary", "flat", {"{tag}.stl": stl_binary(TRI_V, TRI_F)}, "error",
               match="flat")
    yield Case("stl_binary_flat_sheet", "stl-binary", "flat", {"{tag}.stl": stl_binary(SHEET_V, SHEET_F)}, "error",
               match="flat")
    yield Case("stl_ascii_empty_solid", "stl-ascii", "empty", {"{tag}.stl": "solid x\nendsolid x\n"}, "error")
    yield Case("stl_empty", "stl-binary", "empty", {"{tag}.stl": b""}, "error")
    yield Case("stl_header_only", "stl-binary", "truncated", {"{tag}.stl": b"x" * 80}, "error")
    yield Case("stl_short", "stl-binary", "truncated", {"{tag}.stl": b"x" * 50}, "error")
    yield Case("stl_binary_count_zero", "stl-binary", "lying header", {"{tag}.stl": stl_binary(C, T, count=0)},
               "any")
    yield Case("stl_binary_count_over", "stl-binary", "lying header", {"{tag}.stl": stl_binary(C, T, count=1000)},
               "any")
    yield Case("stl_binary_count_huge", "stl-binary", "lying header",
               {"{tag}.stl": stl_binary(C, T, count=2**32 - 1)}, "any")
    yield Case("stl_binary_count_under", "stl-binary", "lying header", {"{tag}.stl": stl_binary(C, T, count=1)},
               "any")
    yield Case("stl_binary_truncated", "stl-binary", "truncated", {"{tag}.stl": stl_binary(C, T)[:-30]}, "any")
    yield Case("stl_binary_garbage", "stl-binary", "garbage", {"{tag}.stl": _rng_bytes(2, 84 + 50 * 40)}, "any")
    nan_v = C.copy()
    nan_v[0, 0] = np.nan
    yield Case("stl_binary_nan", "stl-binary", "non-finite / extreme", {"{tag}.stl": stl_binary(nan_v, T)}, "error")
    inf_v = C.copy()
    inf_v[3, 2] = np.inf
    yield Case("stl_binary_inf", "stl-binary", "non-finite / extreme", {"{tag}.stl": stl_binary(inf_v, T)}, "error")
    yield Case("stl_binary_float_max", "stl-binary", "non-finite / extreme",
               {"{tag}.stl": stl_binary(C * 3e39, T)}, "any")
    yield Case("stl_binary_subnormal", "stl-binary", "non-finite / extreme",
               {"{tag}.stl": stl_binary(C * 1e-40, T)}, "any")
    yield Case("stl_binary_degenerate", "stl-binary", "degenerate",
               {"{tag}.stl": stl_binary(C, [[0, 0, 1], [2, 2, 2], [3, 4, 3]])}, "error")
    yield Case("stl_ascii_nan", "stl-ascii", "non-finite / extreme",
               {"{tag}.stl": stl_ascii(C, T).replace("vertex 0.0 0.0 0.0", "vertex nan 0 0", 1)}, "error")
    yield Case("stl_ascii_1e300", "stl-ascii", "non-finite / extreme",
               {"{tag}.stl": stl_ascii(C, T).replace("vertex 0.0 0.0 0.0", "vertex 1e300 0 0", 1)}, "error")
    yield Case("stl_ascii_text_coord", "stl-ascii", "structure",
               {"{tag}.stl": stl_ascii(C, T).replace("vertex 0.0 0.0 0.0", "vertex a b c", 1)}, "error")
    yield Case("stl_ascii_two_vertices", "stl-ascii", "structure",
               {"{tag}.stl": "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\n"
                             "endfacet\nendsolid x\n"}, "error")
    yield Case("stl_ascii_four_vertices", "stl-ascii", "structure",
               {"{tag}.stl": stl_ascii(C, T).replace("  vertex 0.0 0.0 0.0\n", "  vertex 0.0 0.0 0.0\n"
                                                                             "  vertex 5 5 5\n", 1)}, "any")
    yield Case("stl_ascii_truncated", "stl-ascii", "truncated", {"{tag}.stl": stl_ascii(C, T)[:-200]}, "any")
    yield Case("stl_ascii_two_coords", "stl-ascii", "structure",
               {"{tag}.stl": stl_ascii(C, T).replace("vertex 0.0 0.0 0.0", "vertex 0 0", 1)}, "error")


def _ply_cases():
    C, T = CUBE_V, CUBE_F
    yield Case("ply_ascii_cube", "ply", "valid control", {"{tag}.ply": ply_ascii(C, T)}, "built")
    yield Case("ply_binary_cube", "ply", "valid control", {"{tag}.ply": ply_binary(C, T)}, "built")
    yield Case("ply_big_endian_cube", "ply", "valid control", {"{tag}.ply": ply_binary(C, T, endian=">")}, "built", cli=False)
    yield Case("ply_undercount_vertices", "ply", "lying header", {"{tag}.ply": ply_ascii(C, T, n_vertex=3)}, "error")
    yield Case("ply_overcount_vertices", "ply", "lying header", {"{tag}.ply": ply_ascii(C, T, n_vertex=100)},
               "error")
    yield Case("ply_overcount_faces", "ply", "lying header", {"{tag}.ply": ply_ascii(C, T, n_face=50)}, "any")
    yield Case("ply_binary_undercount", "ply", "lying header", {"{tag}.ply": ply_binary(C, T, n_vertex=4)},
               "error")
    yield Case("ply_binary_overcount", "ply", "lying header", {"{tag}.ply": ply_binary(C, T, n_vertex=4000)},
               "error")
    yield Case("ply_binary_huge_count", "ply", "lying header",
               {"{tag}.ply": ply_binary(C, T, n_vertex=4_000_000_000)}, "error")
    yield Case("ply_negative_count", "ply", "lying header", {"{tag}.ply": ply_ascii(C, T, n_face=-5)}, "error")
    yield Case("ply_index_out_of_range", "ply", "indices", {"{tag}.ply": ply_ascii(C, np.r_[T, [[0, 1, 99]]])},
               "error")
    yield Case("ply_negative_index", "ply", "indices", {"{tag}.ply": ply_ascii(C, np.r_[T, [[0, 1, -3]]])}, "error")
    yield Case("ply_binary_index_out_of_range", "ply", "indices",
               {"{tag}.ply": ply_binary(C, np.r_[T, [[0, 1, 70000]]])}, "error")
    yield Case("ply_face_two_vertices", "ply", "structure",
               {"{tag}.ply": ply_ascii(C, T, n_face=13) .replace("end_header\n", "end_header\n") + "2 0 1\n"}, "any")
    yield Case("ply_no_end_header", "ply", "structure", {"{tag}.ply": ply_ascii(C, T).replace("end_header\n", "")},
               "error")
    yield Case("ply_bad_format", "ply", "structure",
               {"{tag}.ply": ply_ascii(C, T).replace("format ascii 1.0", "format nonsense 9.9")}, "error")
    yield Case("ply_bad_property_type", "ply", "structure", {"{tag}.ply": ply_ascii(C, T, prop="quaternion")},
               "error")
    yield Case("ply_points_only", "ply", "empty", {"{tag}.ply": ply_ascii(C, [], n_face=0)}, "error")
    yield Case("ply_single_triangle", "ply", "flat", {"{tag}.ply": ply_ascii(TRI_V, TRI_F)}, "error", match="flat")
    nan_v = C.copy()
    nan_v[2, 1] = np.nan
    yield Case("ply_nan", "ply", "non-finite / extreme", {"{tag}.ply": ply_ascii(nan_v, T)}, "error")
    inf_v = C.copy()
    inf_v[2, 1] = -np.inf
    yield Case("ply_binary_inf", "ply", "non-finite / extreme", {"{tag}.ply": ply_binary(inf_v, T)}, "error")
    big = C.copy()
    big[5] = 1e300
    yield Case("ply_double_1e300", "ply", "non-finite / extreme", {"{tag}.ply": ply_ascii(big, T, prop="double")},
               "error")
    yield Case("ply_text_coord", "ply", "structure", {"{tag}.ply": ply_ascii(C, T).replace("0.0 0.0 0.0", "x y z", 1)},
               "error")
    yield Case("ply_binary_truncated", "ply", "truncated", {"{tag}.ply": ply_binary(C, T)[:-40]}, "error")
    yield Case("ply_ascii_truncated", "ply", "truncated", {"{tag}.ply": ply_ascii(C, T)[:-30]}, "error")
    yield Case("ply_header_garbage", "ply", "garbage", {"{tag}.ply": b"ply\n" + _rng_bytes(3, 2000)}, "error")
    yield Case("ply_garbage", "ply", "garbage", {"{tag}.ply": _rng_bytes(4, 2000)}, "error")
    yield Case("ply_degenerate", "ply", "degenerate", {"{tag}.ply": ply_ascii(C, [[0, 0, 1], [1, 1, 1], [2, 3, 3]])},
               "error")


def _off_cases():
    C, T = CUBE_V, CUBE_F
    yield Case("off_cube", "off", "valid control", {"{tag}.off": off_text(C, T)}, "built")
    yield Case("off_no_keyword", "off", "structure", {"{tag}.off": off_text(C, T, keyword="")}, "any")
    yield Case("off_overcount_vertices", "off", "lying header", {"{tag}.off": off_text(C, T, counts=(50, 12))},
               "error")
    yield Case("off_undercount_vertices", "off", "lying header", {"{tag}.off": off_text(C, T, counts=(3, 12))},
               "error")
    yield Case("off_overcount_faces", "off", "lying header", {"{tag}.off": off_text(C, T, counts=(8, 40))}, "any")
    yield Case("off_huge_counts", "off", "lying header", {"{tag}.off": off_text(C, T, counts=(10**9, 10**9))},
               "error")
    yield Case("off_negative_counts", "off", "lying header", {"{tag}.off": off_text(C, T, counts=(-8, -12))}, "error")
    yield Case("off_index_out_of_range", "off", "indices", {"{tag}.off": off_text(C, np.r_[T, [[0, 1, 42]]])},
               "error")
    yield Case("off_negative_index", "off", "indices", {"{tag}.off": off_text(C, np.r_[T, [[0, 1, -1]]])}, "error")
    yield Case("off_text_counts", "off", "structure", {"{tag}.off": "OFF\na b c\n" + off_text(C, T)[8:]}, "error")
    nan_v = C.copy()
    nan_v[7, 0] = np.nan
    yield Case("off_nan", "off", "non-finite / extreme", {"{tag}.off": off_text(nan_v, T)}, "error")
    yield Case("off_single_triangle", "off", "flat", {"{tag}.off": off_text(TRI_V, TRI_F)}, "error", match="flat")
    yield Case("off_empty", "off", "empty", {"{tag}.off": b""}, "error")
    yield Case("off_truncated", "off", "truncated", {"{tag}.off": off_text(C, T)[:-40]}, "error")
    yield Case("off_garbage", "off", "garbage", {"{tag}.off": b"OFF\n" + _rng_bytes(5, 1000)}, "error")


def _gltf_cases():
    C, T = CUBE_V, CUBE_F
    doc, data = gltf_parts(C, T)
    yield Case("glb_cube", "glb", "valid control", {"{tag}.glb": glb_bytes(doc, data)}, "built")
    yield Case("gltf_embedded_cube", "gltf", "valid control", {"{tag}.gltf": gltf_embedded(C, T)}, "built")
    yield Case("gltf_external_bin", "gltf", "valid control",
               {"{tag}.gltf": gltf_with_uri("cube.bin"), "cube.bin": data}, "built")
    yield Case("gltf_uint16_indices", "gltf", "valid control", {"{tag}.gltf": gltf_embedded(C, T, index_type=5123)},
               "built", cli=False)
    yield Case("gltf_missing_bin", "gltf", "missing buffer", {"{tag}.gltf": gltf_with_uri("nope.bin")}, "error")
    yield Case("gltf_escaping_bin", "gltf", "escaping buffer", {"{tag}.gltf": gltf_with_uri("../../../../etc/passwd")},
               "error")
    yield Case("gltf_escaping_sibling", "gltf", "escaping buffer",
               {"inner/{tag}.gltf": gltf_with_uri("../cube.bin"), "cube.bin": data}, "error",
               input="inner/{tag}.gltf")
    yield Case("gltf_absolute_bin", "gltf", "escaping buffer", {"{tag}.gltf": gltf_with_uri("/etc/passwd")}, "error")
    yield Case("gltf_file_url_bin", "gltf", "escaping buffer", {"{tag}.gltf": gltf_with_uri("file:///etc/passwd")},
               "error")
    yield Case("gltf_http_bin", "gltf", "escaping buffer",
               {"{tag}.gltf": gltf_with_uri("http://127.0.0.1:9/cube.bin")}, "error")
    yield Case("gltf_bin_is_folder", "gltf", "missing buffer", {"{tag}.gltf": gltf_with_uri("sub"), "sub": None},
               "error")
    yield Case("gltf_bad_base64", "gltf", "malformed data URI",
               {"{tag}.gltf": gltf_with_uri("data:application/octet-stream;base64,@@@###")}, "error")
    yield Case("gltf_data_uri_no_comma", "gltf", "malformed data URI",
               {"{tag}.gltf": gltf_with_uri("data:application/octet-stream;base64")}, "error")
    yield Case("gltf_data_uri_short", "gltf", "malformed data URI",
               {"{tag}.gltf": gltf_with_uri("data:application/octet-stream;base64,"
                                            + base64.b64encode(data[:20]).decode())}, "error")
    yield Case("gltf_buffer_no_uri", "gltf", "missing buffer", {"{tag}.gltf": json.dumps(doc)}, "error")
    yield Case("gltf_accessor_overrun", "gltf", "lying header", {"{tag}.gltf": gltf_embedded(C, T, count=500)}, "error")
    yield Case("gltf_index_overrun", "gltf", "lying header", {"{tag}.gltf": gltf_embedded(C, T, index_count=900)},
               "error")
    yield Case("gltf_index_out_of_range", "gltf", "indices",
               {"{tag}.gltf": gltf_embedded(C, np.r_[T, [[0, 1, 77]]])}, "error")
    yield Case("gltf_bad_component_type", "gltf", "structure",
               {"{tag}.gltf": gltf_embedded(C, T, index_type=5125).replace('"componentType": 5125',
                                                                           '"componentType": 9999')}, "error")
    yield Case("gltf_points_mode", "gltf", "empty", {"{tag}.gltf": gltf_embedded(C, T, mode=0)}, "error")
    yield Case("gltf_lines_mode", "gltf", "empty", {"{tag}.gltf": gltf_embedded(C, T, mode=1)}, "error")
    yield Case("gltf_no_meshes", "gltf", "empty", {"{tag}.gltf": json.dumps({"asset": {"version": "2.0"}})}, "error")
    yield Case("gltf_empty_object", "gltf", "empty", {"{tag}.gltf": "{}"}, "error")
    yield Case("gltf_json_list", "gltf", "structure", {"{tag}.gltf": "[1, 2, 3]"}, "error")
    yield Case("gltf_json_truncated", "gltf", "truncated", {"{tag}.gltf": gltf_embedded(C, T)[:300]}, "error")
    yield Case("gltf_json_garbage", "gltf", "garbage", {"{tag}.gltf": _rng_bytes(6, 1500)}, "error")
    yield Case("gltf_node_cycle", "gltf", "structure",
               {"{tag}.gltf": gltf_embedded(C, T, node={"mesh": 0, "children": [0]})}, "error")
    yield Case("gltf_node_nan_matrix", "gltf", "non-finite / extreme",
               {"{tag}.gltf": gltf_embedded(C, T, node={"mesh": 0, "matrix": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0,
                                                                              "NaN", 0, 0, 1]})}, "error")
    yield Case("gltf_node_zero_scale", "gltf", "degenerate",
               {"{tag}.gltf": gltf_embedded(C, T, node={"mesh": 0, "scale": [0, 0, 0]})}, "error")
    yield Case("gltf_node_flat_scale", "gltf", "flat",
               {"{tag}.gltf": gltf_embedded(C, T, node={"mesh": 0, "scale": [1, 0, 1]})}, "error", match="flat")
    yield Case("gltf_node_bad_mesh_ref", "gltf", "indices",
               {"{tag}.gltf": gltf_embedded(C, T, node={"mesh": 5})}, "error")
    nan_v = C.copy()
    nan_v[1, 1] = np.nan
    yield Case("gltf_nan_positions", "gltf", "non-finite / extreme", {"{tag}.gltf": gltf_embedded(nan_v, T)}, "error")
    yield Case("gltf_image_escaping", "gltf", "escaping buffer",
               {"{tag}.gltf": gltf_embedded(C, T, extra={"images": [{"uri": "../../../../etc/passwd"}],
                                                         "textures": [{"source": 0}]})}, "any")
    yield Case("gltf_buffer_view_overrun", "gltf", "lying header",
               {"{tag}.gltf": gltf_embedded(C, T).replace('"byteOffset": 0, "byteLength": 96',
                                                          '"byteOffset": 4000, "byteLength": 96')}, "error")
    yield Case("glb_bad_magic", "glb", "garbage", {"{tag}.glb": glb_bytes(doc, data, magic=b"gLTf")}, "error")
    yield Case("glb_length_lies", "glb", "lying header", {"{tag}.glb": glb_bytes(doc, data, total=10**9)}, "any")
    yield Case("glb_json_length_lies", "glb", "lying header", {"{tag}.glb": glb_bytes(doc, data, json_len=10**8)},
               "error")
    yield Case("glb_truncated", "glb", "truncated", {"{tag}.glb": glb_bytes(doc, data)[:-60]}, "error")
    yield Case("glb_header_only", "glb", "truncated", {"{tag}.glb": glb_bytes(doc, data)[:12]}, "error")
    yield Case("glb_garbage", "glb", "garbage", {"{tag}.glb": b"glTF" + _rng_bytes(7, 1000)}, "error")
    bad = dict(doc)
    bad["buffers"] = [{"byteLength": len(data), "uri": "../../../../etc/passwd"}]
    yield Case("glb_escaping_buffer", "glb", "escaping buffer", {"{tag}.glb": glb_bytes(bad, data)}, "any")


def _urdf_cases():
    box = '<box size="0.1 0.1 0.1"/>'
    yield Case("urdf_box", "urdf", "valid control", {"{tag}.urdf": urdf(link_geom(box))}, "built")
    yield Case("urdf_mesh", "urdf", "valid control",
               {"{tag}.urdf": urdf(link_geom('<mesh filename="cube.obj"/>')), "cube.obj": obj_text(CUBE_V, CUBE_F)},
               "built")
    yield Case("urdf_package_mesh", "urdf", "valid control",
               {"robot/{tag}.urdf": urdf(link_geom('<mesh filename="package://robot/meshes/cube.obj"/>')),
                "robot/meshes/cube.obj": obj_text(CUBE_V, CUBE_F)}, "built", input="robot/{tag}.urdf")
    yield Case("urdf_fixed_zero_axis", "urdf", "valid control",
               {"{tag}.urdf": urdf(links("a", "b") + joint("f", "a", "b", extra='<origin xyz="0 0 0.1"/>'
                                                                                 '<axis xyz="0 0 0"/>'))}, "built", cli=False)
    yield Case("urdf_empty", "urdf", "structure", {"{tag}.urdf": b""}, "error")
    yield Case("urdf_not_xml", "urdf", "garbage", {"{tag}.urdf": _rng_bytes(8, 500)}, "error")
    yield Case("urdf_truncated", "urdf", "truncated", {"{tag}.urdf": urdf(link_geom(box))[:60]}, "error")
    yield Case("urdf_root_not_robot", "urdf", "structure", {"{tag}.urdf": "<sdf><link name='a'/></sdf>"}, "error")
    yield Case("urdf_no_links", "urdf", "structure", {"{tag}.urdf": urdf("")}, "error")
    yield Case("urdf_no_geometry", "urdf", "empty", {"{tag}.urdf": urdf('<link name="a"/>')}, "error")
    yield Case("urdf_link_no_name", "urdf", "structure", {"{tag}.urdf": urdf(f"<link><visual><geometry>{box}"
                                                                             "</geometry></visual></link>")}, "error")
    yield Case("urdf_duplicate_link", "urdf", "urdf tree", {"{tag}.urdf": urdf(links("a", "a"))}, "error")
    yield Case("urdf_duplicate_joint", "urdf", "urdf tree",
               {"{tag}.urdf": urdf(links("a", "b", "c") + joint("j", "a", "b") + joint("j", "a", "c"))}, "error")
    yield Case("urdf_cycle_below_root", "urdf", "urdf tree",
               {"{tag}.urdf": urdf(links("root", "base", "arm") + joint("j1", "root", "base")
                                   + joint("j2", "base", "arm") + joint("j3", "arm", "base"))}, "error")
    yield Case("urdf_pure_cycle", "urdf", "urdf tree",
               {"{tag}.urdf": urdf(links("a", "b") + joint("j1", "a", "b") + joint("j2", "b", "a"))}, "error")
    yield Case("urdf_detached_cycle", "urdf", "urdf tree",
               {"{tag}.urdf": urdf(links("r", "a", "b") + joint("j1", "a", "b") + joint("j2", "b", "a"))}, "error")
    yield Case("urdf_self_joint", "urdf", "urdf tree", {"{tag}.urdf": urdf(links("a") + joint("j", "a", "a"))}, "error")
    yield Case("urdf_two_parents", "urdf", "urdf tree",
               {"{tag}.urdf": urdf(links("a", "b", "c") + joint("j1", "a", "c") + joint("j2", "b", "c")
                                   + joint("j3", "a", "b"))}, "error")
    yield Case("urdf_two_roots", "urdf", "urdf tree", {"{tag}.urdf": urdf(links("a", "b"))}, "error")
    yield Case("urdf_joint_no_parent", "urdf", "urdf tree",
               {"{tag}.urdf": urdf(links("a", "b") + '<joint name="j" type="fixed"><child link="b"/></joint>')},
               "error")
    yield Case("urdf_joint_no_child", "urdf", "urdf tree",
               {"{tag}.urdf": urdf(links("a", "b") + '<joint name="j" type="fixed"><parent link="a"/></joint>')},
               "error")
    yield Case("urdf_parent_no_link_attr", "urdf", "urdf tree",
               {"{tag}.urdf": urdf(links("a", "b") + '<joint name="j" type="fixed"><parent/><child link="b"/>'
                                                     '</joint>')}, "error")
    yield Case("urdf_unknown_link", "urdf", "urdf tree", {"{tag}.urdf": urdf(links("a") + joint("j", "a", "zz"))},
               "error")
    yield Case("urdf_unknown_type", "urdf", "urdf tree",
               {"{tag}.urdf": urdf(links("a", "b") + joint("j", "a", "b", "screw"))}, "error")
    for slug, origin in (("origin_arity", 'xyz="1 2"'), ("origin_text", 'rpy="a b c"'),
                         ("origin_nan", 'xyz="nan 0 0"'), ("origin_overflow", 'xyz="1e400 0 0"'),
                         ("origin_huge", 'xyz="1e300 0 0"')):
        yield Case(f"urdf_{slug}", "urdf", "urdf numbers",
                   {"{tag}.urdf": urdf(link_geom(box, origin=f"<origin {origin}/>"))}, "error", match="origin")
    for slug, size in (("box_text", "a b c"), ("box_arity", "0.1 0.1"), ("box_zero", "0 0.1 0.1"),
                       ("box_negative", "-0.1 0.1 0.1"), ("box_inf", "inf 1 1")):
        yield Case(f"urdf_{slug}", "urdf", "urdf numbers", {"{tag}.urdf": urdf(link_geom(f'<box size="{size}"/>'))},
                   "error", match="box")
    yield Case("urdf_box_no_size", "urdf", "urdf numbers", {"{tag}.urdf": urdf(link_geom("<box/>"))}, "error")
    yield Case("urdf_cylinder_negative", "urdf", "urdf numbers",
               {"{tag}.urdf": urdf(link_geom('<cylinder radius="-1" length="1"/>'))}, "error")
    yield Case("urdf_cylinder_text", "urdf", "urdf numbers",
               {"{tag}.urdf": urdf(link_geom('<cylinder radius="x" length="1"/>'))}, "error")
    yield Case("urdf_sphere_zero", "urdf", "urdf numbers", {"{tag}.urdf": urdf(link_geom('<sphere radius="0"/>'))},
               "error")
    yield Case("urdf_geometry_empty", "urdf", "structure",
               {"{tag}.urdf": urdf('<link name="a"><visual><geometry/></visual></link>')}, "error")
    yield Case("urdf_two_shapes", "urdf", "structure",
               {"{tag}.urdf": urdf(link_geom(box + '<sphere radius="1"/>'))}, "error")
    two = links("a", "b")
    for slug, lim in (("limit_text", 'lower="x" upper="1" effort="1" velocity="1"'),
                      ("limit_inverted", 'lower="1" upper="-1" effort="1" velocity="1"'),
                      ("limit_empty", 'lower="0.5" upper="0.5" effort="1" velocity="1"'),
                      ("limit_nan", 'lower="nan" upper="1" effort="1" velocity="1"'),
                      ("velocity_negative", 'lower="-1" upper="1" effort="1" velocity="-1"'),
                      ("velocity_zero", 'lower="-1" upper="1" effort="1" velocity="0"'),
                      ("effort_inf", 'lower="-1" upper="1" effort="inf" velocity="1"')):
        yield Case(f"urdf_{slug}", "urdf", "urdf numbers", {"{tag}.urdf": urdf(two + revolute(lim))}, "error",
                   match="limit")
    yield Case("urdf_revolute_no_limit", "urdf", "urdf numbers",
               {"{tag}.urdf": urdf(two + joint("j", "a", "b", "revolute", '<axis xyz="0 0 1"/>'))}, "error",
               match="limit")
    for slug, axis in (("axis_zero", "0 0 0"), ("axis_arity", "1 0"), ("axis_nan", "nan 0 1"),
                       ("axis_text", "x y z")):
        yield Case(f"urdf_{slug}", "urdf", "urdf numbers", {"{tag}.urdf": urdf(two + revolute(axis=axis))}, "error",
                   match="axis")
    yield Case("urdf_axis_unnormalised", "urdf", "valid control",
               {"{tag}.urdf": urdf(two + revolute(axis="0 0 5"))}, "any", cli=False)
    inertial = ('<link name="a"><inertial><mass value="{m}"/><inertia ixx="{i}" ixy="0" ixz="0" iyy="1" iyz="0" '
                'izz="1"/></inertial><visual><geometry>' + box + '</geometry></visual></link>')
    for slug, m, i in (("mass_negative", "-1", "1"), ("mass_text", "heavy", "1"), ("inertia_negative", "1", "-1"),
                       ("inertia_nan", "1", "nan")):
        yield Case(f"urdf_{slug}", "urdf", "urdf numbers", {"{tag}.urdf": urdf(inertial.format(m=m, i=i))}, "error",
                   match="mass|inertia")
    yield Case("urdf_inertia_not_psd", "urdf", "urdf numbers",
               {"{tag}.urdf": urdf('<link name="a"><inertial><mass value="1"/><inertia ixx="1" ixy="5" ixz="0" '
                                   'iyy="1" iyz="0" izz="1"/></inertial><visual><geometry>' + box
                                   + '</geometry></visual></link>')}, "error", match="inertia")
    mesh = '<mesh filename="{f}"{extra}/>'
    for slug, fn, extra_files, kind in (
            ("mesh_missing", "nope.obj", {}, "missing mesh"),
            ("mesh_file_url_etc", "file:///etc/passwd", {}, "escaping mesh"),
            ("mesh_escaping_relative", "../../../../../etc/passwd", {}, "escaping mesh"),
            ("mesh_absolute_outside", "/etc/hostname", {}, "escaping mesh"),
            ("mesh_package_missing", "package://nopkg/x.obj", {}, "missing mesh"),
            ("mesh_is_folder", "sub.obj", {"sub.obj": None}, "missing mesh"),
            ("mesh_not_a_mesh", "bad.obj", {"bad.obj": _rng_bytes(9, 800)}, "garbage"),
            ("mesh_unknown_suffix", "cube.txt", {"cube.txt": obj_text(CUBE_V, CUBE_F)}, "structure"),
            ("mesh_nan", "nan.obj", {"nan.obj": "v nan 0 0\n" + obj_text(CUBE_V, CUBE_F)}, "non-finite / extreme"),
            ("mesh_empty", "empty.stl", {"empty.stl": b""}, "empty"),
            ("mesh_fifo", "pipe.obj", {"pipe.obj": "fifo"}, "missing mesh")):
        yield Case(f"urdf_{slug}", "urdf", kind,
                   {"{tag}.urdf": urdf(link_geom(mesh.format(f=fn, extra=""))), **extra_files}, "error",
                   match="mesh")
    yield Case("urdf_mesh_no_filename", "urdf", "structure", {"{tag}.urdf": urdf(link_geom("<mesh/>"))}, "error")
    for slug, scale in (("mesh_scale_zero", "0 0 0"), ("mesh_scale_arity", "1 1"), ("mesh_scale_text", "big")):
        yield Case(f"urdf_{slug}", "urdf", "urdf numbers",
                   {"{tag}.urdf": urdf(link_geom(mesh.format(f="cube.obj", extra=f' scale="{scale}"'))),
                    "cube.obj": obj_text(CUBE_V, CUBE_F)}, "error", match="scale")
    yield Case("urdf_xxe", "urdf", "escaping mesh",
               {"{tag}.urdf": '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                              '<robot name="{tag}"><link name="&x;"/></robot>\n'}, "error")
    laughs = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10 if i else "lol"}">' for i in range(9))
    yield Case("urdf_billion_laughs", "urdf", "garbage",
               {"{tag}.urdf": f'<?xml version="1.0"?>\n<!DOCTYPE r [{laughs}]>\n<robot name="{{tag}}">'
                              '<link name="&l8;"/></robot>\n'}, "error")


def _generic_cases():
    cube = obj_text(CUBE_V, CUBE_F)
    yield Case("any_unknown_suffix", "other", "paths", {"{tag}.xyz": cube}, "error")
    yield Case("any_no_suffix", "other", "paths", {"{tag}": cube}, "error")
    yield Case("any_folder_named_obj", "other", "paths", {"{tag}.obj": None}, "error")
    yield Case("any_missing_file", "other", "paths", {"{tag}.stl": b"", }, "error", input="{tag}_absent.stl")
    yield Case("any_fifo", "other", "paths", {"{tag}.obj": "fifo"}, "error")


def all_cases() -> list[Case]:
    """Every case, tagged ``zz000``, ``zz001``, ... in a fixed order."""
    out = []
    for gen in (_obj_cases, _stl_cases, _ply_cases, _off_cases, _gltf_cases, _urdf_cases, _generic_cases):
        for case in gen():
            tag = f"zz{len(out):03d}"
            files = {k: (v.replace("{tag}", tag) if isinstance(v, str) and v != "fifo" else v)
                     for k, v in case.files.items()}
            out.append(Case(case.slug, case.fmt, case.kind, files, case.expect, case.input, case.match, tag, case.cli))
    slugs = [c.slug for c in out]
    assert len(set(slugs)) == len(slugs), "duplicate case slugs"
    return out
