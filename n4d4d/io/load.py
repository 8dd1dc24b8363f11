"""Load a mesh file (OBJ, GLB/glTF, STL, PLY, OFF) into one :class:`~n4d4d.asset.Mesh`.

Reading is trimesh's; this module adds what n4d4d needs on top: a scene is flattened into one
mesh with every face tagged by the sub-mesh it came from (``Mesh.face_submesh``), glTF's Y-up
frame is turned to n4d4d's Z-up, visual attributes that survive (base colour, vertex colours,
UVs and base-colour texture of a single textured mesh; sub-meshes of different materials, a
multi-primitive glTF's, as per-vertex colours, so each keeps its colour through the remesh's
closest-point transfer) are kept, and bad input is refused with
a typed error naming the file (and the line) before any native library sees it: the file's
bytes are checked first (:mod:`n4d4d.io.mesh_checks`, :mod:`n4d4d.io.gltf_checks`), then the
mesh (finite, sane magnitudes, not degenerate, not flat). It does not scale, repair or remesh (see :mod:`n4d4d.pipeline`
and :mod:`n4d4d.volume`). URDF input is read by :mod:`n4d4d.io.urdf`.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from n4d4d.asset import Mesh
from n4d4d.conventions import Y_UP_TO_Z_UP
from n4d4d.errors import (EmptyMeshError, InputError, MalformedFileError, MissingFileError, NonFiniteError,
                          UnsupportedFormatError)

#: File suffix -> trimesh file type, the mesh formats n4d4d reads.
MESH_FORMATS = {".obj": "obj", ".glb": "glb", ".gltf": "gltf", ".stl": "stl", ".ply": "ply", ".off": "off"}
#: Formats whose files are Y up by specification (glTF 2.0, section 3.4).
Y_UP_FORMATS = {".glb", ".gltf"}


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_path(path: str | Path, formats=MESH_FORMATS) -> Path:
    """Return ``path`` as a Path if it is an existing file with a known suffix.

    Raises:
        MissingFileError: no such file (or it is a folder).
        UnsupportedFormatError: the suffix is not one of ``formats``.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError("no such file" if not p.exists() else "not a file", p)
    if p.suffix.lower() not in formats:
        raise UnsupportedFormatError(
            f"unknown format '{p.suffix or '(no suffix)'}'; n4d4d reads {', '.join(sorted(formats))} and .urdf", p)
    return p


def _texture_png(visual) -> tuple[np.ndarray | None, bytes | None]:
    """UVs ``(V, 2)`` in :class:`~n4d4d.asset.Mesh`'s convention (glTF's: v down from the top
    of the image) and the base-colour texture as PNG bytes of a TextureVisuals, if any.
    trimesh keeps UVs v up (OpenGL / OBJ, and it flips glTF's on import), so v is flipped here."""
    uv = getattr(visual, "uv", None)
    material = getattr(visual, "material", None)
    image = None
    if material is not None:
        image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
    if uv is not None:
        uv = np.asarray(uv, dtype=np.float64)
        uv = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]])
    if uv is None or image is None:
        return uv, None
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return uv, buf.getvalue()


def _base_color(visual) -> np.ndarray | None:
    """Material base colour RGBA in [0, 1] of a trimesh visual, if it has one."""
    material = getattr(visual, "material", None)
    for attr in ("baseColorFactor", "main_color", "diffuse"):
        c = getattr(material, attr, None) if material is not None else None
        if c is not None:
            c = np.asarray(c, dtype=np.float64).reshape(-1)
            if c.size >= 3:
                c = np.concatenate([c[:4], [255.0] * (4 - c[:4].size)]) if c.size < 4 else c[:4]
                return c / 255.0 if c.max() > 1.0 else c
    return None


def _has_texture(visual) -> bool:
    """True for a trimesh visual with UVs and a base-colour image (a PBR material without an
    image is a TextureVisuals too, but only a colour)."""
    material = getattr(visual, "material", None)
    image = None if material is None else (getattr(material, "baseColorTexture", None)
                                           or getattr(material, "image", None))
    return getattr(visual, "uv", None) is not None and image is not None


def submesh_colors(parts, colors) -> np.ndarray | None:
    """Per-vertex RGBA ``(V, 4) uint8`` of a scene's sub-meshes (``parts``: ``(trimesh, transform)``
    in scene order; ``colors``: each one's material base colour or None) when they do not all
    have one colour: a sub-mesh's own vertex colours, else its base colour (glTF's default
    white, spec 3.9.2, when it has none) on every vertex. None when they share one colour (the
    mesh's ``base_color`` says it)."""
    rows = []
    for (geom, _), color in zip(parts, colors):
        if getattr(geom.visual, "kind", None) == "vertex":
            rows.append(np.asarray(geom.visual.vertex_colors, np.uint8))
        else:
            c = np.ones(4) if color is None else np.clip(color, 0.0, 1.0)
            rows.append(np.tile(np.round(c * 255).astype(np.uint8), (len(geom.vertices), 1)))
    out = np.concatenate(rows)
    return None if (out == out[0]).all() else out


def read_scene(p: Path, suffix: str):
    """Check a mesh file's bytes and parse them into a trimesh Scene (no processing).

    glTF / GLB documents are checked by :mod:`n4d4d.io.gltf_checks` (indices, buffers inside
    the file's folder, lengths), the other formats by :func:`n4d4d.io.mesh_checks.prepare`;
    whatever trimesh still raises becomes one line of :class:`MalformedFileError`.
    """
    import trimesh

    from n4d4d.io import gltf_checks
    from n4d4d.io.mesh_checks import prepare

    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", p) from exc
    data = prepare(data, suffix, p)
    if suffix == ".glb":
        doc, bin_len = gltf_checks.split_glb(data, p)
        gltf_checks.check_document(doc, p, folder=p.parent, glb_bin_bytes=bin_len)
    elif suffix == ".gltf":
        gltf_checks.check_document(gltf_checks.parse_json(data, p), p, folder=p.parent)
    try:
        return trimesh.load(io.BytesIO(data), file_type=MESH_FORMATS[suffix], force="scene", process=False,
                            resolver=trimesh.resolvers.FilePathResolver(str(p)))
    except Exception as exc:  # trimesh raises many types for malformed files
        raise MalformedFileError(f"cannot read {MESH_FORMATS[suffix].upper()} file: {_one_line(exc)}", p) from exc


def merge_coincident(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices with bit-identical coordinates (``-0.0`` as ``0.0``) and drop unused ones;
    faces keep their order and number. Returns ``(vertices (V', 3), faces (F, 3))``."""
    from n4d4d.volume import unique_rows

    v = np.ascontiguousarray(np.asarray(vertices, dtype=np.float64) + 0.0)
    used = np.flatnonzero(np.bincount(np.asarray(faces).reshape(-1), minlength=len(v)))
    first, inverse = unique_rows(v[used].view(np.int64))
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = inverse
    return v[used][first], remap[faces]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (f"{type(exc).__name__}: {text}" if len(text) < 12 else text)[:240] or type(exc).__name__


def load_mesh(path: str | Path, *, up: str | None = None, solid: bool = True) -> Mesh:
    """Read a mesh file into one Z-up :class:`Mesh` in the file's own length unit.

    Args:
        path: an OBJ, GLB, glTF, STL, PLY or OFF file.
        up: the file's up axis, ``"y"`` or ``"z"``; default ``"y"`` for glTF/GLB (the spec)
            and ``"z"`` otherwise. A Y-up mesh is rotated by ``conventions.Y_UP_TO_Z_UP``
            (a proper rotation: winding and handedness are kept).
        solid: refuse flat and nearly flat meshes (:func:`n4d4d.io.mesh_checks.check_geometry`);
            False for a caller that will give the sheet a thickness itself.

    Returns:
        A Mesh with ``vertices (V, 3) float64``, ``faces (F, 3) int64``, ``face_submesh (F,)
        int32`` and ``submesh_names`` (one per scene geometry instance), plus base colour (the
        first sub-mesh's, unless they differ), vertex colours (also for untextured sub-meshes of different
        colours: :func:`submesh_colors`), or (for a single textured geometry) UVs and a PNG
        texture. Vertices
        that no face uses are dropped; an STL's exactly coincident corners are merged (the
        format repeats them per triangle), so a closed STL reads as a closed mesh.

    Raises:
        MissingFileError, UnsupportedFormatError: bad path.
        MalformedFileError: the bytes do not follow the format (truncated, lying header, bad
            numbers or indices; names the line for text formats).
        UnsafePathError: a glTF buffer or image outside the file's folder.
        EmptyMeshError: no triangles, all faces degenerate; FlatMeshError: flat or nearly flat.
        NonFiniteError: NaN or infinite vertex coordinates. InputError: absurd magnitudes.
    """
    import trimesh

    from n4d4d.io.mesh_checks import check_geometry

    p = check_path(path)
    suffix = p.suffix.lower()
    axis = (up or ("y" if suffix in Y_UP_FORMATS else "z")).lower()
    if axis not in ("y", "z"):
        raise InputError(f"up axis must be 'y' or 'z', got {up!r}", p)
    scene = read_scene(p, suffix)

    parts, names = [], []
    for node_name in scene.graph.nodes_geometry:
        transform, geom_name = scene.graph[node_name]
        geom = scene.geometry.get(geom_name)
        if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
            continue
        parts.append((geom, np.asarray(transform, dtype=np.float64)))
        names.append(str(node_name))
    if not parts:
        raise EmptyMeshError("the file contains no triangles", p)

    verts, faces, labels, offset = [], [], [], 0
    for i, (geom, transform) in enumerate(parts):
        v = np.asarray(geom.vertices, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != 3:
            raise MalformedFileError(f"vertices of '{names[i]}' have {v.shape[-1]} coordinates, not 3", p)
        if not np.isfinite(transform).all():
            raise NonFiniteError(f"the scene transform of '{names[i]}' has NaN or infinite entries", p)
        verts.append(v @ transform[:3, :3].T + transform[:3, 3])
        faces.append(np.asarray(geom.faces, dtype=np.int64) + offset)
        labels.append(np.full(len(geom.faces), i, dtype=np.int32))
        offset += len(v)
    vertices, faces = np.concatenate(verts), np.concatenate(faces)
    if axis == "y":
        vertices = vertices @ Y_UP_TO_Z_UP.T
    used = check_geometry(vertices, faces, p, solid=solid)

    attrs: dict = {}
    visuals = [g.visual for g, _ in parts]
    colors = [_base_color(v) for v in visuals]
    if colors[0] is not None:
        attrs["base_color"] = colors[0]
    if len(parts) == 1 and getattr(visuals[0], "kind", None) == "texture":
        uv, png = _texture_png(visuals[0])
        if uv is not None and len(uv) == len(vertices):
            attrs["uvs"], attrs["texture_png"] = uv, png
    elif all(getattr(v, "kind", None) == "vertex" for v in visuals):
        attrs["vertex_colors"] = np.concatenate([np.asarray(v.vertex_colors, np.uint8) for v in visuals])
    elif len(parts) > 1 and not any(_has_texture(v) for v in visuals):
        per_part = submesh_colors(parts, colors)
        if per_part is not None:  # sub-meshes of different colours: each keeps its own, per vertex
            attrs["vertex_colors"] = per_part
            attrs.pop("base_color", None)  # one material colour would hide them (USD, GLB)
    if suffix == ".stl":  # STL repeats every corner per triangle: merge exact duplicates (closed reads closed)
        vertices, faces = merge_coincident(vertices, faces)
        used = np.arange(len(vertices))
    if len(used) < len(vertices):  # unused vertices would distort the size and the ground
        remap = np.full(len(vertices), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        vertices, faces = vertices[used], remap[faces]
        for key in ("uvs", "vertex_colors"):
            if key in attrs:
                attrs[key] = attrs[key][used]
    return Mesh(vertices=vertices, faces=faces, face_submesh=np.concatenate(labels),
                submesh_names=tuple(names), **attrs)
