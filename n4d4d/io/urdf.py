"""URDF loading: links, joints and part meshes of an articulated input, in n4d4d's frame.

What it does: parses a URDF file (ROS URDF XML spec, http://wiki.ros.org/urdf/XML) with the
standard library XML parser; resolves mesh filenames (``package://pkg/...``, relative to the
URDF, absolute, ``file://``); loads mesh geometry through trimesh (OBJ, STL, DAE, PLY, GLB)
with its ``scale`` and the visual/collision ``<origin xyz rpy>``; builds box / cylinder /
sphere primitives; poses every link at the rest configuration (all joint values 0) by forward
kinematics; and turns the result into an :class:`~n4d4d.asset.Asset` whose parts are the
rigid bodies (links joined by fixed joints merged, PartNet-Mobility convention) and whose
joints carry the file's ground truth in the asset frame (pivot point and unit axis in the
world frame at rest, URDF limits in rad / m).

What it does not: evaluate joint values other than 0, read inertials, transmissions, Gazebo
tags, materials or textures, or make part meshes watertight (the rigging stage does that).
URDF is Z up and in metres, so no axis or unit conversion is applied.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from n4d4d.errors import InputError, MissingFileError

MOVABLE = ("revolute", "continuous", "prismatic")


@dataclass(frozen=True)
class UrdfGeometry:
    """One ``<visual>`` or ``<collision>`` element.

    Attributes:
        kind: ``"mesh" | "box" | "cylinder" | "sphere"``.
        transform: ``(4, 4) float64`` pose of the geometry in its link frame.
        filename: resolved mesh path (mesh only), else None.
        scale: ``(3,) float64`` mesh scale.
        size: box ``(3,)`` extents (m); cylinder ``(radius, length)``; sphere ``(radius,)``.
    """

    kind: str
    transform: np.ndarray
    filename: Path | None = None
    scale: np.ndarray = field(default_factory=lambda: np.ones(3))
    size: tuple[float, ...] = ()


@dataclass(frozen=True)
class UrdfJoint:
    """A URDF ``<joint>`` as written: ``origin`` is the ``(4, 4)`` transform parent link ->
    joint frame, ``axis`` the ``(3,)`` unit axis in the joint frame; limits in rad / m."""

    name: str
    type: str
    parent: str
    child: str
    origin: np.ndarray
    axis: np.ndarray
    lower: float
    upper: float
    effort: float
    velocity: float


@dataclass(frozen=True)
class UrdfModel:
    """A parsed URDF: ``links`` maps name -> ``(visuals, collisions)`` tuples of geometries."""

    name: str
    path: Path
    links: dict
    joints: tuple[UrdfJoint, ...]

    @property
    def root(self) -> str:
        """The link that is no joint's child."""
        children = {j.child for j in self.joints}
        roots = [n for n in self.links if n not in children]
        if len(roots) != 1:
            raise InputError(f"URDF must have exactly one root link, found {roots}", self.path)
        return roots[0]

    def link_transforms(self) -> dict[str, np.ndarray]:
        """Rest-pose (all joint values 0) world transform ``(4, 4)`` of every link."""
        out = {self.root: np.eye(4)}
        by_parent: dict[str, list[UrdfJoint]] = {}
        for j in self.joints:
            by_parent.setdefault(j.parent, []).append(j)
        stack = [self.root]
        while stack:
            name = stack.pop()
            for j in by_parent.get(name, []):
                out[j.child] = out[name] @ j.origin
                stack.append(j.child)
        return out


def rpy_matrix(rpy) -> np.ndarray:
    """URDF fixed-axis roll-pitch-yaw (rad) -> ``(3, 3)`` rotation ``Rz(y) Ry(p) Rx(r)``."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("xyz", rpy).as_matrix()


def _floats(text: str | None, default) -> np.ndarray:
    if text is None:
        return np.array(default, dtype=np.float64)
    return np.array([float(x) for x in text.split()], dtype=np.float64)


def _origin(elem) -> np.ndarray:
    T = np.eye(4)
    o = elem.find("origin") if elem is not None else None
    if o is not None:
        T[:3, :3] = rpy_matrix(_floats(o.get("rpy"), [0, 0, 0]))
        T[:3, 3] = _floats(o.get("xyz"), [0, 0, 0])
    return T


def resolve_filename(filename: str, urdf_path: Path) -> Path:
    """Resolve a URDF mesh filename: ``package://pkg/rest`` is looked up as ``rest`` and
    ``pkg/rest`` under the URDF's folder and its ancestors; ``file://`` and absolute paths are
    used as they are; anything else is relative to the URDF's folder."""
    base = urdf_path.parent
    if filename.startswith("file://"):
        return Path(filename[7:])
    if filename.startswith("package://"):
        rest = filename[len("package://"):]
        pkg, _, sub = rest.partition("/")
        for folder in (base, *base.parents):
            for cand in (folder / sub, folder / pkg / sub, folder / rest):
                if cand.is_file():
                    return cand
        return base / sub
    p = Path(filename)
    return p if p.is_absolute() else base / p


def parse_urdf(path: str | Path) -> UrdfModel:
    """Parse a URDF file into a :class:`UrdfModel`.

    Raises:
        MissingFileError: ``path`` does not exist.
        InputError: the XML is malformed, has no links, a joint names an unknown link, or
            a joint type is not one of fixed / revolute / continuous / prismatic / floating /
            planar.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError("URDF file not found", path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise InputError(f"malformed URDF XML: {e}", path) from e
    links = {}
    for link in root.findall("link"):
        geoms = []
        for tag in ("visual", "collision"):
            items = []
            for el in link.findall(tag):
                g = el.find("geometry")
                if g is None or len(g) == 0:
                    continue
                shape = g[0]
                T = _origin(el)
                if shape.tag == "mesh":
                    items.append(UrdfGeometry("mesh", T, resolve_filename(shape.get("filename", ""), path),
                                              scale=_floats(shape.get("scale"), [1, 1, 1]) * np.ones(3)))
                elif shape.tag == "box":
                    items.append(UrdfGeometry("box", T, size=tuple(_floats(shape.get("size"), [1, 1, 1]))))
                elif shape.tag == "cylinder":
                    items.append(UrdfGeometry("cylinder", T, size=(float(shape.get("radius", 1)),
                                                                    float(shape.get("length", 1)))))
                elif shape.tag == "sphere":
                    items.append(UrdfGeometry("sphere", T, size=(float(shape.get("radius", 1)),)))
            geoms.append(tuple(items))
        links[link.get("name")] = tuple(geoms)
    if not links:
        raise InputError("URDF has no <link>", path)
    joints = []
    for j in root.findall("joint"):
        jtype = j.get("type", "")
        if jtype not in ("fixed", "revolute", "continuous", "prismatic", "floating", "planar"):
            raise InputError(f"joint '{j.get('name')}' has unknown type '{jtype}'", path)
        parent, child = j.find("parent").get("link"), j.find("child").get("link")
        if parent not in links or child not in links:
            raise InputError(f"joint '{j.get('name')}' names an unknown link", path)
        axis = _floats(j.find("axis").get("xyz") if j.find("axis") is not None else None, [1, 0, 0])
        axis = axis / max(np.linalg.norm(axis), 1e-12)
        lim = j.find("limit")
        lower = float(lim.get("lower", 0)) if lim is not None else 0.0
        upper = float(lim.get("upper", 0)) if lim is not None else 0.0
        if jtype in ("continuous", "fixed", "floating", "planar"):
            lower, upper = -np.inf, np.inf
        joints.append(UrdfJoint(j.get("name"), jtype, parent, child, _origin(j), axis, lower, upper,
                                float(lim.get("effort", 100)) if lim is not None else 100.0,
                                float(lim.get("velocity", 10)) if lim is not None else 10.0))
    return UrdfModel(root.get("name", path.stem), path, links, tuple(joints))


def geometry_mesh(g: UrdfGeometry, urdf_path: Path):
    """A ``trimesh.Trimesh`` of one geometry in its link frame (m).

    Raises:
        MissingFileError: a mesh file is missing. InputError: it holds no triangles.
    """
    import trimesh

    if g.kind == "box":
        tm = trimesh.creation.box(extents=g.size)
    elif g.kind == "cylinder":
        tm = trimesh.creation.cylinder(radius=g.size[0], height=g.size[1], sections=32)
    elif g.kind == "sphere":
        tm = trimesh.creation.icosphere(subdivisions=2, radius=g.size[0])
    else:
        if not g.filename.is_file():
            raise MissingFileError(f"mesh '{g.filename}' referenced by the URDF not found", urdf_path)
        loaded = trimesh.load(g.filename, force="mesh", process=False)
        if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
            raise InputError(f"mesh '{g.filename}' holds no triangles", urdf_path)
        tm = trimesh.Trimesh(np.asarray(loaded.vertices) * g.scale, np.asarray(loaded.faces),
                             process=False)
    tm.apply_transform(g.transform)
    return tm


def link_meshes(model: UrdfModel, geometry: str = "visual") -> dict:
    """World-frame rest-pose ``trimesh.Trimesh`` per link that has ``geometry``
    (``"visual"`` or ``"collision"``; a link with none of that kind falls back to the other)."""
    import trimesh

    which = 0 if geometry == "visual" else 1
    Tw = model.link_transforms()
    out = {}
    for name, geoms in model.links.items():
        items = geoms[which] or geoms[1 - which]
        if not items or name not in Tw:
            continue
        meshes = [geometry_mesh(g, model.path) for g in items]
        tm = trimesh.util.concatenate(meshes) if len(meshes) > 1 else meshes[0]
        tm.apply_transform(Tw[name])
        out[name] = tm
    return out


def rigid_groups(model: UrdfModel) -> dict[str, str]:
    """Map link name -> rigid-body name: links joined by fixed joints form one body, named
    after its top-most link that has geometry (else its top-most link)."""
    geo = {n for n, g in model.links.items() if g[0] or g[1]}
    group = {model.root: model.root}
    order = [model.root]
    by_parent: dict[str, list[UrdfJoint]] = {}
    for j in model.joints:
        by_parent.setdefault(j.parent, []).append(j)
    while order:
        name = order.pop(0)
        for j in by_parent.get(name, []):
            group[j.child] = group[name] if j.type == "fixed" else j.child
            order.append(j.child)
    # rename each body after its first link with geometry (breadth-first order)
    rename = {}
    for link, g in group.items():
        if g not in rename and link in geo:
            rename[g] = link
    return {link: rename.get(g, g) for link, g in group.items()}


def load_urdf_asset(path: str | Path, *, geometry: str = "visual", name: str | None = None):
    """Load a URDF as an :class:`~n4d4d.asset.Asset` with parts and ground-truth joints.

    Args:
        path: the ``.urdf`` file.
        geometry: ``"visual"`` or ``"collision"`` meshes for the parts.
        name: asset name (default: the file's folder or stem, sanitised).

    Returns:
        An Asset whose ``visual`` and ``source_mesh`` are all parts concatenated
        (``face_submesh`` = part index, ``submesh_names`` = part names), whose ``parts`` are
        the rigid bodies (fixed joints merged; meshes as loaded, not yet watertight, with
        ``face_indices`` into ``visual``) and whose ``joints`` are the movable URDF joints in the
        asset frame: ``origin`` the joint frame's world position at rest (m), ``axis`` the
        world-frame unit axis. Floating / planar joints are dropped (noted).

    Raises:
        MissingFileError, InputError: as :func:`parse_urdf` and :func:`geometry_mesh`.
    """
    from n4d4d.asset import Asset, Joint, Mesh, Part

    model = parse_urdf(path)
    meshes = link_meshes(model, geometry)
    if not meshes:
        raise InputError("URDF links carry no geometry", model.path)
    group = rigid_groups(model)
    bodies: dict[str, list] = {}
    for link, tm in meshes.items():
        bodies.setdefault(group[link], []).append(tm)
    names = list(bodies)
    verts, faces, labels, parts = [], [], [], []
    nv = nf = 0
    for i, b in enumerate(names):
        v = np.concatenate([np.asarray(t.vertices) for t in bodies[b]])
        offs = np.cumsum([0] + [len(t.vertices) for t in bodies[b]])[:-1]
        f = np.concatenate([np.asarray(t.faces) + o for t, o in zip(bodies[b], offs)])
        parts.append(Part(b, Mesh(v, f), face_indices=np.arange(nf, nf + len(f), dtype=np.int64)))
        verts.append(v)
        faces.append(f + nv)
        labels.append(np.full(len(f), i, np.int32))
        nv += len(v)
        nf += len(f)
    merged = Mesh(np.concatenate(verts), np.concatenate(faces), face_submesh=np.concatenate(labels),
                  submesh_names=tuple(names))
    Tw = model.link_transforms()
    joints, notes = [], []
    for j in model.joints:
        if j.type == "fixed":
            continue
        if j.type not in MOVABLE:
            notes.append(f"URDF joint '{j.name}' of type {j.type} dropped")
            continue
        pa, ch = group[j.parent], group[j.child]
        if pa not in bodies or ch not in bodies or pa == ch:
            notes.append(f"URDF joint '{j.name}' joins bodies without geometry: dropped")
            continue
        T = Tw[j.parent] @ j.origin
        joints.append(Joint(j.name, j.type, pa, ch, T[:3, 3].copy(), T[:3, :3] @ j.axis,
                            j.lower, j.upper, j.effort, j.velocity))
    stem = name or (model.path.parent.name if model.path.stem == "mobility" else model.path.stem)
    stem = re.sub(r"[^A-Za-z0-9_]", "_", stem) or "asset"
    return Asset(name=stem, visual=merged, source_mesh=merged, parts=tuple(parts),
                 joints=tuple(joints), notes=tuple(notes))
