"""Meshes of a parsed URDF: each ``<visual>`` / ``<collision>`` geometry as a triangle mesh
with its material, posed at rest in the world frame, and one body's pieces as one Mesh.

What it does: builds box / cylinder / sphere / capsule primitives (trimesh), reads mesh files
with :func:`n4d4d.io.load.load_mesh`'s checks (COLLADA through trimesh), keeps each file's own
colour, UVs and texture, applies a visual's URDF material (``<color>``, ``<texture>`` image on a
mesh with UVs) over the file's, and poses every piece by the link's rest transform.

What it does not: decide which links form a body (:mod:`n4d4d.io.urdf_bodies`) or make meshes
watertight (the rigging stage does that). URDF is Z up and in metres: no axis or unit change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from n4d4d.errors import MalformedFileError
from n4d4d.io.urdf_model import UrdfGeometry, UrdfModel


def geometry_mesh(g: UrdfGeometry, urdf_path: Path):
    """A ``trimesh.Trimesh`` of one geometry in its link frame (m).

    Mesh files are read by :func:`n4d4d.io.load.load_mesh` (Z up as URDF is, flat parts
    allowed: rigging closes them) or, for COLLADA, by trimesh, then checked alike.

    Raises:
        The typed errors of :func:`~n4d4d.io.load.load_mesh`, re-worded to name the URDF, the
        ``<mesh>`` element's line and the mesh file.
    """
    return read_geometry(g, urdf_path)[0]


def read_geometry(g: UrdfGeometry, urdf_path: Path):
    """One geometry as ``(trimesh.Trimesh in the link frame (m), attributes)``.

    The attributes are the mesh file's own :class:`~n4d4d.asset.Mesh` fields, ``base_color``,
    ``uvs`` / ``texture_png`` or ``vertex_colors`` (:func:`~n4d4d.io.load.load_mesh`); a
    primitive (box, 32-sided cylinder, capsule, icosphere of subdivision 2) has none.

    Raises:
        As :func:`geometry_mesh`.
    """
    import trimesh

    attrs: dict = {}
    if g.kind == "box":
        tm = trimesh.creation.box(extents=g.size)
    elif g.kind == "cylinder":
        tm = trimesh.creation.cylinder(radius=g.size[0], height=g.size[1], sections=32)
    elif g.kind == "capsule":
        tm = trimesh.creation.capsule(radius=g.size[0], height=g.size[1], count=[16, 16])
    elif g.kind == "sphere":
        tm = trimesh.creation.icosphere(subdivisions=2, radius=g.size[0])
    else:
        v, f, attrs = _read_part(g, urdf_path)
        tm = trimesh.Trimesh(v * g.scale, f, process=False)
    tm.apply_transform(g.transform)
    return tm, attrs


def _read_part(g: UrdfGeometry, urdf_path: Path):
    """``(vertices, faces, attributes)`` of a mesh file a URDF names, with load_mesh's checks
    (attributes: what :func:`read_geometry` says)."""
    from n4d4d.errors import N4d4dError
    from n4d4d.io.load import load_mesh
    from n4d4d.io.mesh_checks import check_geometry

    label = f"<mesh> (line {g.line}) file '{g.filename.name}'" if g.line else f"mesh '{g.filename.name}'"
    try:
        if g.filename.suffix.lower() == ".dae":
            import trimesh

            try:
                tm = trimesh.load(str(g.filename), file_type="dae", force="mesh", process=False)
            except Exception as exc:  # trimesh / pycollada raise many types for malformed files
                raise MalformedFileError(f"cannot read DAE file: {' '.join(str(exc).split())[:200]}", g.filename) from exc
            v, f = np.asarray(getattr(tm, "vertices", np.zeros((0, 3)))), np.asarray(getattr(tm, "faces", []))
            check_geometry(v, f.reshape(-1, 3).astype(np.int64), g.filename, solid=False)
            return v, f, {}
        mesh = load_mesh(g.filename, up="z", solid=False)
        attrs = {k: getattr(mesh, k) for k in ("base_color", "uvs", "texture_png", "vertex_colors")
                 if getattr(mesh, k) is not None}
        return np.asarray(mesh.vertices), np.asarray(mesh.faces), attrs
    except N4d4dError as exc:
        raise type(exc)(f"{label}: {exc.problem}", urdf_path) from exc


def _texture_png(path: Path, urdf_path: Path) -> bytes:
    """A ``<texture>`` image file as PNG bytes (Pillow reads it; PNG kept as it is)."""
    from PIL import Image, UnidentifiedImageError

    data = path.read_bytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return data
    import io

    try:
        with Image.open(io.BytesIO(data)) as im:
            buf = io.BytesIO()
            im.convert("RGBA").save(buf, format="PNG")
    except (UnidentifiedImageError, OSError) as exc:
        raise MalformedFileError(f"texture '{path.name}' is not an image Pillow reads: {exc}", urdf_path) from exc
    return buf.getvalue()


def link_meshes(model: UrdfModel, geometry: str = "visual") -> dict:
    """World-frame rest-pose ``trimesh.Trimesh`` per link that has ``geometry``
    (``"visual"`` or ``"collision"``; a link with none of that kind falls back to the other)."""
    import trimesh

    out = {}
    for name, items in link_pieces(model, geometry).items():
        meshes = [tm for tm, _ in items]
        out[name] = trimesh.util.concatenate(meshes) if len(meshes) > 1 else meshes[0]
    return out


def link_pieces(model: UrdfModel, geometry: str) -> dict[str, list]:
    """Link name -> ``[(world-frame trimesh, Mesh attributes), ...]``, one per geometry of
    the kind asked for (the other kind where a link has none); a visual's URDF material colour
    (``rgba``) and texture (as ``texture_png``, kept only on a mesh with UVs) override the mesh
    file's own."""
    which = 0 if geometry == "visual" else 1
    Tw = model.link_transforms()
    out = {}
    for name, geoms in model.links.items():
        items = geoms[which] or geoms[1 - which]
        if not items or name not in Tw:
            continue
        pieces = []
        for g in items:
            tm, attrs = read_geometry(g, model.path)
            tm.apply_transform(Tw[name])
            if g.rgba is not None:
                attrs = {**attrs, "base_color": np.asarray(g.rgba, np.float64)}
            if g.texture is not None and "uvs" in attrs:
                attrs = {**attrs, "texture_png": _texture_png(g.texture, model.path)}
            pieces.append((tm, attrs))
        out[name] = pieces
    return out


def body_mesh(pieces: list):
    """One body's :class:`~n4d4d.asset.Mesh` from its ``(trimesh, attributes)`` pieces: one
    colour shared by all pieces is the mesh's ``base_color``; pieces of different colours also
    give ``vertex_colors`` (``base_color`` is then the largest piece's); UVs and a texture are
    kept when the body is a single textured piece."""
    from n4d4d.asset import Mesh

    v = np.concatenate([np.asarray(t.vertices) for t, _ in pieces])
    offs = np.cumsum([0] + [len(t.vertices) for t, _ in pieces])[:-1]
    f = np.concatenate([np.asarray(t.faces) + o for (t, _), o in zip(pieces, offs)])
    attrs: dict = {}
    colors = [a.get("base_color") for _, a in pieces]
    known = [c for c in colors if c is not None]
    if known:
        areas = [float(t.area) if c is not None else -1.0 for (t, _), c in zip(pieces, colors)]
        attrs["base_color"] = colors[int(np.argmax(areas))]
        if any(not np.allclose(c, known[0]) for c in known) or len(known) < len(colors):
            fill = np.asarray(attrs["base_color"])
            attrs["vertex_colors"] = np.concatenate(
                [np.tile(np.round(255 * np.clip(c if c is not None else fill, 0, 1)).astype(np.uint8), (len(t.vertices), 1))
                 for (t, _), c in zip(pieces, colors)])
    if len(pieces) == 1:
        a = pieces[0][1]
        if a.get("uvs") is not None and a.get("texture_png") is not None:
            attrs["uvs"], attrs["texture_png"] = a["uvs"], a["texture_png"]
        elif a.get("vertex_colors") is not None and "vertex_colors" not in attrs:
            attrs["vertex_colors"] = a["vertex_colors"]
    return Mesh(v, f, **attrs)
