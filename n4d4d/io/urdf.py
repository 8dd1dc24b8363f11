"""URDF loading: links, joints and part meshes of an articulated input, in n4d4d's frame.

What it does: parses a URDF file (ROS URDF XML spec, http://wiki.ros.org/urdf/XML) safely
(:mod:`n4d4d.io.urdf_xml`: no entities, DTDs or network) and validates it at load, each
failure a typed :class:`~n4d4d.errors.InputError` naming the file, the element and its line:
one ``<robot>`` root; links and joints named and unique; the joints forming one tree (one root
link, no link with two parents, no joint from a link to itself, no cycle anywhere); every
number finite and of the right arity (origins, axes, sizes, scales, limits, inertials); unit
axes (a zero axis on a movable joint is an error; others are normalised); revolute and
prismatic joints with a ``<limit>`` whose lower < upper, velocity > 0 and effort >= 0; mass
>= 0 and a positive semi-definite inertia where given; mesh files that exist, are meshes
(read by :func:`n4d4d.io.load.load_mesh` with its checks) and lie inside the URDF's folder tree
or a ``package://`` folder. It builds box / cylinder / sphere / capsule primitives, poses every
link at the rest configuration (all joint values 0) by forward kinematics, and turns the
result into an :class:`~n4d4d.asset.Asset` whose parts are the links (each link with geometry
is a part named after it, and fixed joints are kept as fixed joints; with ``merge_fixed``,
links joined by fixed joints are merged into one body, the PartNet-Mobility convention),
whose joints carry the file's ground truth in the asset frame (pivot point and unit axis in
the world frame at rest, URDF limits in rad / m), whose part meshes carry the links' visual
materials (``<material>`` colour, by name from the robot's materials or inline; the mesh
file's own colour or texture where the URDF gives none; a ``<texture>`` image on a mesh with
UVs) and whose ``collision`` holds the links' own ``<collision>`` geometry in the asset frame
(primitives as :class:`~n4d4d.asset.CollisionPrimitive` on their triangulation, meshes as
read), for the collision stage to check and use, and whose ``inertials`` hold each body's
``<inertial>`` mass, COM and inertia in the world frame at rest (:func:`file_inertials`; an
unusable one, e.g. a tensor breaking the triangle inequality, is noted and left to the mass
stage to compute; a positive mass with an unusable tensor gives the mass alone), which the mass stage uses as the parts' mass properties.

What it does not: evaluate joint values other than 0, transmissions, Gazebo tags, or make part meshes watertight (the rigging stage does that).
Links without any geometry cannot be parts: they are merged into their parent body (a movable
joint to one is dropped, with a note). PyBullet extensions (``<plane>``, ``<cdf>``) are
skipped with a note. URDF is Z up and in metres, so no axis or unit conversion is applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from n4d4d.errors import InputError, MalformedFileError, MissingFileError
from n4d4d.io.urdf_xml import fail, number, numbers, read_xml, resolve_mesh_path, where

MOVABLE = ("revolute", "continuous", "prismatic")
JOINT_TYPES = ("fixed", "revolute", "continuous", "prismatic", "floating", "planar")
#: Shapes n4d4d builds (URDF spec, plus capsule as PyBullet and urdfdom read it).
SHAPES = ("box", "cylinder", "sphere", "mesh", "capsule")
#: PyBullet's own shapes, which n4d4d cannot build: skipped with a note.
SKIPPED_SHAPES = ("plane", "cdf", "heightfield")
#: Mesh formats a URDF may reference.
URDF_MESH_FORMATS = (".obj", ".stl", ".ply", ".off", ".glb", ".gltf", ".dae")


@dataclass(frozen=True)
class UrdfGeometry:
    """One ``<visual>`` or ``<collision>`` element.

    Attributes:
        kind: ``"mesh" | "box" | "cylinder" | "sphere" | "capsule"``.
        transform: ``(4, 4) float64`` pose of the geometry in its link frame.
        filename: resolved mesh path (mesh only), else None.
        scale: ``(3,) float64`` mesh scale.
        size: box ``(3,)`` extents (m); cylinder and capsule ``(radius, length)``; sphere
            ``(radius,)``.
        line: the source line of the shape element (for error messages), or None.
        rgba: ``(4,)`` colour in [0, 1] of a ``<visual>``'s material, or None.
        texture: resolved ``<texture filename>`` of a ``<visual>``'s material, or None.
    """

    kind: str
    transform: np.ndarray
    filename: Path | None = None
    scale: np.ndarray = field(default_factory=lambda: np.ones(3))
    size: tuple[float, ...] = ()
    line: int | None = None
    rgba: tuple[float, ...] | None = None
    texture: Path | None = None


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
    line: int | None = None


@dataclass(frozen=True)
class UrdfModel:
    """A parsed URDF: ``links`` maps name -> ``(visuals, collisions)`` tuples of geometries;
    ``inertials`` maps the links that declare one to their :class:`UrdfInertial`;
    ``notes`` says what was skipped (PyBullet-only shapes)."""

    name: str
    path: Path
    links: dict
    joints: tuple[UrdfJoint, ...]
    notes: tuple[str, ...] = ()
    inertials: dict = field(default_factory=dict)

    @property
    def root(self) -> str:
        """The link that is no joint's child."""
        children = {j.child for j in self.joints}
        roots = [n for n in self.links if n not in children]
        if len(roots) != 1:
            raise InputError(f"URDF must have exactly one root link, found {roots}", self.path)
        return roots[0]

    def link_transforms(self) -> dict[str, np.ndarray]:
        """Rest-pose (all joint values 0) world transform ``(4, 4)`` of every link reachable
        from the root (each link visited once, so even an unvalidated model terminates)."""
        out = {self.root: np.eye(4)}
        by_parent: dict[str, list[UrdfJoint]] = {}
        for j in self.joints:
            by_parent.setdefault(j.parent, []).append(j)
        stack = [self.root]
        while stack:
            name = stack.pop()
            for j in by_parent.get(name, []):
                if j.child not in out:
                    out[j.child] = out[name] @ j.origin
                    stack.append(j.child)
        return out


def rpy_matrix(rpy) -> np.ndarray:
    """URDF fixed-axis roll-pitch-yaw (rad) -> ``(3, 3)`` rotation ``Rz(y) Ry(p) Rx(r)``."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("xyz", rpy).as_matrix()


def _origin(elem, path) -> np.ndarray:
    """The ``(4, 4)`` transform of ``elem``'s ``<origin xyz rpy>`` (identity when absent)."""
    T = np.eye(4)
    o = elem.find("origin") if elem is not None else None
    if o is not None:
        T[:3, :3] = rpy_matrix(numbers(o, "rpy", 3, path, [0, 0, 0]))
        T[:3, 3] = numbers(o, "xyz", 3, path, [0, 0, 0], length=True)
    return T


def resolve_filename(filename: str, urdf_path: Path) -> Path:
    """Resolve a URDF mesh filename (see :func:`n4d4d.io.urdf_xml.resolve_mesh_path`, which
    also refuses names outside the URDF's folder tree or package)."""
    return resolve_mesh_path(filename, Path(urdf_path))


def _shape(el, T, path, notes) -> UrdfGeometry | None:
    """The one shape of a ``<visual>`` / ``<collision>`` element, checked."""
    g = el.find("geometry")
    if g is None:
        raise fail(el, "has no <geometry>", path)
    shapes = [c for c in g if c.tag in SHAPES]
    skipped = [c for c in g if c.tag in SKIPPED_SHAPES]
    if len(shapes) > 1:
        raise fail(g, f"holds {len(shapes)} shapes ({', '.join(c.tag for c in shapes)}); a geometry has one", path)
    if not shapes:
        if skipped:
            notes.append(f"URDF {where(skipped[0])}: PyBullet shape <{skipped[0].tag}> skipped")
            return None
        raise fail(g, "holds no shape (box, cylinder, sphere, mesh)", path)
    s = shapes[0]
    line = s.sourceline
    if s.tag == "box":
        size = tuple(numbers(s, "size", 3, path, sign="0+", length=True))
    elif s.tag in ("cylinder", "capsule"):
        size = (number(s, "radius", path, sign="0+", length=True), number(s, "length", path, sign="0+", length=True))
    elif s.tag == "sphere":
        size = (number(s, "radius", path, sign="0+", length=True),)
    if s.tag != "mesh":
        if min(size) == 0.0:
            notes.append(f"URDF {where(s)}: zero-size {s.tag} skipped")
            return None
        return UrdfGeometry(s.tag, T, size=size, line=line)
    filename = s.get("filename")
    if not filename:
        raise fail(s, "needs the attribute filename", path)
    scale = numbers(s, "scale", 3, path, [1, 1, 1], length=True)
    if (scale == 0).any():
        raise fail(s, f'scale="{s.get("scale")}" has a zero factor', path)
    resolved = resolve_mesh_path(filename, path, s)
    if resolved.suffix.lower() not in URDF_MESH_FORMATS:
        raise fail(s, f"mesh '{filename}' is not a mesh format n4d4d reads ({', '.join(URDF_MESH_FORMATS)})", path)
    return UrdfGeometry("mesh", T, resolved, scale=scale, line=line)


def _material(el, path) -> tuple[tuple[float, ...] | None, Path | None]:
    """``(rgba, texture path)`` of a ``<material>`` element's ``<color>`` / ``<texture>``."""
    rgba = tex = None
    c = el.find("color")
    if c is not None:
        rgba = tuple(float(x) for x in numbers(c, "rgba", 4, path))
        if min(rgba) < 0 or max(rgba) > 1:
            raise fail(c, f'rgba="{c.get("rgba")}" must lie in [0, 1]', path)
    t = el.find("texture")
    if t is not None and t.get("filename"):
        tex = resolve_mesh_path(t.get("filename"), path, t)
    return rgba, tex


def _visual_material(el, materials: dict, path) -> tuple[tuple[float, ...] | None, Path | None]:
    """The material of a ``<visual>``: inline colour / texture, else the robot-level
    ``<material>`` of that name; ``(None, None)`` when there is none."""
    m = el.find("material")
    if m is None:
        return None, None
    rgba, tex = _material(m, path)
    named = materials.get(m.get("name"), (None, None))
    return (rgba if rgba is not None else named[0]), (tex if tex is not None else named[1])


@dataclass(frozen=True)
class UrdfInertial:
    """A link's ``<inertial>`` as written: ``mass`` (kg), ``transform`` the ``(4, 4)`` pose of
    the inertial frame in the link frame (origin = the centre of mass), ``inertia`` the
    ``(3, 3)`` tensor about the COM in the inertial frame's axes (kg m^2)."""

    mass: float
    transform: np.ndarray
    inertia: np.ndarray
    line: int | None = None


def inertial_problem(mass: float, inertia: np.ndarray) -> str | None:
    """Why a declared inertial cannot be used for a rigid body, or None when it can: the mass
    must be positive and the ``(3, 3)`` inertia (kg m^2) positive definite with principal
    moments obeying the triangle inequality ``I_a <= I_b + I_c`` (each moment is a sum of two
    of the three second moments of the mass, so a real body obeys it; relative tolerance 1e-9
    for round-off in the file's digits)."""
    if not mass > 0:
        return f"mass {mass:.3g} kg is not positive"
    eig = np.linalg.eigvalsh(0.5 * (inertia + inertia.T))
    if not eig[0] > 1e-12 * max(eig[-1], 1e-300):
        return "inertia is singular (principal moments " + ", ".join(f"{e:.3g}" for e in eig) + " kg m^2)"
    if eig[2] > (eig[0] + eig[1]) * (1 + 1e-9):
        return ("principal moments " + ", ".join(f"{e:.3g}" for e in eig)
                + " kg m^2 break the triangle inequality (largest > sum of the others)")
    return None


def _inertial(link, path) -> UrdfInertial | None:
    """A link's ``<inertial>``, checked: mass >= 0, a finite, positive semi-definite inertia
    (else MalformedFileError); None when the link has none. A missing ``<mass>`` reads 0, a
    missing ``<inertia>`` zeros (as urdfdom)."""
    el = link.find("inertial")
    if el is None:
        return None
    T = _origin(el, path)
    m = el.find("mass")
    mass = number(m, "value", path, sign="0+") if m is not None else 0.0
    i = el.find("inertia")
    M = np.zeros((3, 3))
    if i is not None:
        k = {a: number(i, a, path, 0.0) for a in ("ixx", "ixy", "ixz", "iyy", "iyz", "izz")}
        M = np.array([[k["ixx"], k["ixy"], k["ixz"]], [k["ixy"], k["iyy"], k["iyz"]], [k["ixz"], k["iyz"], k["izz"]]])
        eig = np.linalg.eigvalsh(M)
        if eig[0] < -1e-9 * max(1e-12, abs(eig[-1])):
            raise fail(i, "is not positive semi-definite (principal moments "
                       + ", ".join(f"{e:.3g}" for e in eig) + " kg m^2)", path)
    return UrdfInertial(float(mass), T, M, line=el.sourceline)


def _joint(j, links, path, notes) -> UrdfJoint:
    """One ``<joint>``, checked (type, parent and child, origin, axis, limits)."""
    name, jtype = j.get("name"), j.get("type", "")
    if not name:
        raise fail(j, "needs a name", path)
    if jtype not in JOINT_TYPES:
        raise fail(j, f"has unknown type '{jtype}' (URDF joint types: {', '.join(JOINT_TYPES)})", path)
    ends = {}
    for tag in ("parent", "child"):
        el = j.find(tag)
        if el is None:
            raise fail(j, f"has no <{tag}>", path)
        if not el.get("link"):
            raise fail(el, "needs the attribute link", path)
        if el.get("link") not in links:
            raise fail(el, f"names link '{el.get('link')}', which the URDF does not define", path)
        ends[tag] = el.get("link")
    if ends["parent"] == ends["child"]:
        raise fail(j, f"joins link '{ends['parent']}' to itself", path)
    ax = j.find("axis")
    axis = numbers(ax, "xyz", 3, path, [1, 0, 0]) if ax is not None else np.array([1.0, 0.0, 0.0])
    norm = float(np.linalg.norm(axis))
    if jtype in MOVABLE + ("planar",) and norm < 1e-9:
        raise fail(ax, f'axis xyz="{ax.get("xyz")}" is not a direction (a {jtype} joint needs a non-zero axis)', path)
    axis = axis / norm if norm >= 1e-9 else np.array([1.0, 0.0, 0.0])
    lim = j.find("limit")
    lower, upper, effort, velocity = 0.0, 0.0, 100.0, 10.0
    if lim is not None:
        lower, upper = number(lim, "lower", path, 0.0), number(lim, "upper", path, 0.0)
        effort = number(lim, "effort", path, 100.0, sign="0+")
        velocity = number(lim, "velocity", path, 10.0, sign="+")
    if jtype in ("revolute", "prismatic"):
        if lim is None:
            raise fail(j, f"is {jtype} but has no <limit> (the URDF spec requires one; "
                       "use type='continuous' for an unlimited revolute joint)", path)
        if jtype == "revolute" and lim.get("lower") is None and lim.get("upper") is None:
            notes.append(f"URDF {where(j)}: revolute <limit> gives no lower / upper: read as unlimited "
                         "(continuous), as PyBullet does")
            jtype, lower, upper = "continuous", -np.inf, np.inf
        elif not lower < upper:
            raise fail(lim, f'limit lower="{lim.get("lower", 0)}" upper="{lim.get("upper", 0)}" is '
                       + ("an empty range" if lower == upper else "inverted (lower > upper)")
                       + "; a joint's range needs lower < upper (PyBullet reads lower > upper as 'no limit': "
                       "write type='continuous' for that)", path)
    else:
        lower, upper = -np.inf, np.inf
    return UrdfJoint(name, jtype, ends["parent"], ends["child"], _origin(j, path), axis, lower, upper,
                     effort, velocity, line=j.sourceline)


def _check_tree(links: dict, joints: list[UrdfJoint], elements: dict, path) -> None:
    """One root, one parent per link, every link reachable from the root (so: no cycle)."""
    parent: dict[str, UrdfJoint] = {}
    for j in joints:
        if j.child in parent:
            first = parent[j.child]
            raise fail(elements[j.name], f"makes link '{j.child}' the child of a second joint (joint '{first.name}', "
                       f"line {first.line}, is its parent already): a URDF is a tree", path)
        parent[j.child] = j
    roots = [n for n in links if n not in parent]
    if not roots:
        raise InputError("the URDF has no root link: every link is some joint's child, so its joints form a "
                         "cycle", path)
    if len(roots) > 1:
        shown = ", ".join(f"'{r}'" for r in roots[:5]) + (", ..." if len(roots) > 5 else "")
        raise InputError(f"the URDF has {len(roots)} root links ({shown}): all links but one must be the child "
                         "of a joint, so that they form one tree", path)
    seen, stack = {roots[0]}, [roots[0]]
    children: dict[str, list[str]] = {}
    for j in joints:
        children.setdefault(j.parent, []).append(j.child)
    while stack:
        for c in children.get(stack.pop(), []):
            if c not in seen:
                seen.add(c)
                stack.append(c)
    lost = [n for n in links if n not in seen]
    if lost:
        at, cycle = lost[0], []
        while at not in cycle:
            cycle.append(at)
            at = parent[at].parent
        cycle = cycle[cycle.index(at):]
        down = list(reversed(cycle))
        chain = f"'{parent[down[0]].parent}'" + "".join(f" -[{parent[c].name}]-> '{c}'" for c in down)
        raise fail(elements[parent[cycle[0]].name], f"closes a cycle of joints ({chain}); links "
                   f"{', '.join(repr(n) for n in lost[:5])} are not below the root '{roots[0]}'", path)


def parse_urdf(path: str | Path) -> UrdfModel:
    """Parse and validate a URDF file into a :class:`UrdfModel` (checks: module doc).

    Raises:
        MissingFileError: ``path`` (or a mesh it names) does not exist or is not a file.
        MalformedFileError: malformed XML, or an element that breaks the URDF rules (the
            message names the element and its line).
        UnsafePathError: a mesh file name outside the URDF's folder tree or package.
        InputError: no links, no root or several roots.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError("URDF file not found" if not path.exists() else "URDF path is not a file", path)
    root = read_xml(path)
    if root.tag != "robot":
        raise fail(root, f"the URDF's root element must be <robot>, not <{root.tag}>", path)
    links, notes, inertials = {}, [], {}
    materials = {m.get("name"): _material(m, path) for m in root.findall("material") if m.get("name")}
    for m in root.iterfind("link/visual/material"):  # a material defined in one visual, named in others
        if m.get("name") and m.get("name") not in materials and len(m):
            materials[m.get("name")] = _material(m, path)
    for link in root.findall("link"):
        name = link.get("name")
        if not name:
            raise fail(link, "needs a name", path)
        if name in links:
            raise fail(link, f"link name '{name}' is used twice", path)
        inertial = _inertial(link, path)
        if inertial is not None:
            inertials[name] = inertial
        geoms = []
        for tag in ("visual", "collision"):
            items = []
            for el in link.findall(tag):
                g = _shape(el, _origin(el, path), path, notes)
                if g is not None and tag == "visual":
                    rgba, tex = _visual_material(el, materials, path)
                    g = UrdfGeometry(g.kind, g.transform, g.filename, g.scale, g.size, g.line, rgba, tex)
                items.append(g)
            geoms.append(tuple(g for g in items if g is not None))
        links[name] = tuple(geoms)
    if not links:
        raise InputError("URDF has no <link>", path)
    joints, elements = [], {}
    for j in root.findall("joint"):
        joint = _joint(j, links, path, notes)
        if joint.name in elements:
            raise fail(j, f"joint name '{joint.name}' is used twice", path)
        elements[joint.name] = j
        joints.append(joint)
    _check_tree(links, joints, elements, path)
    return UrdfModel(root.get("name") or path.stem, path, links, tuple(joints), tuple(notes), inertials)


def geometry_mesh(g: UrdfGeometry, urdf_path: Path):
    """A ``trimesh.Trimesh`` of one geometry in its link frame (m).

    Mesh files are read by :func:`n4d4d.io.load.load_mesh` (Z up as URDF is, flat parts
    allowed: rigging closes them) or, for COLLADA, by trimesh, then checked alike.

    Raises:
        The typed errors of :func:`~n4d4d.io.load.load_mesh`, re-worded to name the URDF, the
        ``<mesh>`` element's line and the mesh file.
    """
    return _geometry(g, urdf_path)[0]


def _geometry(g: UrdfGeometry, urdf_path: Path):
    """``(trimesh in the link frame, Mesh attributes)``: the mesh file's own ``base_color``,
    ``uvs`` / ``texture_png`` or ``vertex_colors`` (:func:`~n4d4d.io.load.load_mesh`), none
    for a primitive."""
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
    (attributes: what :func:`_geometry` says)."""
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
    for name, items in _link_pieces(model, geometry).items():
        meshes = [tm for tm, _ in items]
        out[name] = trimesh.util.concatenate(meshes) if len(meshes) > 1 else meshes[0]
    return out


def _link_pieces(model: UrdfModel, geometry: str) -> dict[str, list]:
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
            tm, attrs = _geometry(g, model.path)
            tm.apply_transform(Tw[name])
            if g.rgba is not None:
                attrs = {**attrs, "base_color": np.asarray(g.rgba, np.float64)}
            if g.texture is not None and "uvs" in attrs:
                attrs = {**attrs, "texture_png": _texture_png(g.texture, model.path)}
            pieces.append((tm, attrs))
        out[name] = pieces
    return out


def rigid_groups(model: UrdfModel, merge_fixed: bool = True) -> dict[str, str]:
    """Map link name -> rigid-body name.

    With ``merge_fixed`` links joined by fixed joints form one body (the PartNet-Mobility
    convention); without it every link with geometry is a body of its own, and only links
    without geometry (which cannot be parts) join their parent's body, as does a link with
    geometry hanging by a fixed joint from a body that has none yet (a geometry-less root).
    A body is named after its top-most link that has geometry (else its top-most link).
    """
    geo = {n for n, g in model.links.items() if g[0] or g[1]}
    group = {model.root: model.root}
    has_geo = {model.root: model.root in geo}
    order = [model.root]
    by_parent: dict[str, list[UrdfJoint]] = {}
    for j in model.joints:
        by_parent.setdefault(j.parent, []).append(j)
    while order:
        name = order.pop(0)
        for j in by_parent.get(name, []):
            if j.child in group:  # each link once, even in an unvalidated model
                continue
            g = group[name]
            merge = j.type == "fixed" and (merge_fixed or j.child not in geo or not has_geo[g])
            if merge:
                group[j.child] = g
                has_geo[g] = has_geo[g] or j.child in geo
            else:
                group[j.child] = j.child
                has_geo[j.child] = j.child in geo
            order.append(j.child)
    # rename each body after its first link with geometry (breadth-first order)
    rename = {}
    for link, g in group.items():
        if g not in rename and link in geo:
            rename[g] = link
    return {link: rename.get(g, g) for link, g in group.items()}


def _part_mesh(pieces: list):
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


def file_collision(model: UrdfModel, group: dict[str, str]) -> dict[str, tuple]:
    """Each body's own ``<collision>`` geometry in the world frame at rest: body name ->
    hull-like :class:`~n4d4d.asset.Mesh` es, a primitive as its triangulation carrying the
    :class:`~n4d4d.asset.CollisionPrimitive` (pose in the world frame), a mesh as read (it may
    be non-convex or open: the collision stage decides what to do with it). Bodies whose links
    have no ``<collision>`` are absent."""
    from n4d4d.asset import PRIMITIVE_KINDS, CollisionPrimitive, Mesh

    Tw = model.link_transforms()
    out: dict[str, list] = {}
    for link, (_, cols) in model.links.items():
        if link not in Tw:
            continue
        for g in cols:
            tm, _ = _geometry(g, model.path)
            tm.apply_transform(Tw[link])
            prim = (CollisionPrimitive(g.kind, tuple(float(x) for x in g.size), Tw[link] @ g.transform)
                    if g.kind in PRIMITIVE_KINDS else None)
            out.setdefault(group[link], []).append(Mesh(np.asarray(tm.vertices), np.asarray(tm.faces), primitive=prim))
    return {b: tuple(ms) for b, ms in out.items()}


def file_inertials(model: UrdfModel, group: dict[str, str], bodies) -> tuple[dict, dict, list[str]]:
    """Each body's mass properties from its links' ``<inertial>`` s, in the world frame at
    rest: ``(full, masses, notes)``: body name -> :class:`~n4d4d.asset.MassProperties` (mass
    kg; COM m; inertia about the COM, world axes, kg m^2; ``volume`` / ``density`` NaN); body
    name -> kg for bodies whose links declare positive masses but an inertia
    :func:`inertial_problem` refuses (all zeros, as in pybullet_data's laikago): the mass is
    the file's, COM and inertia are left to the geometry (PyBullet's default too: without
    ``URDF_USE_INERTIA_FROM_FILE`` it takes the file's mass and the collision shapes'
    inertia); and notes on the bodies not fully given.

    A link's inertial frame is ``T_world(link) @ origin``: its origin is the link's COM and its
    rotation ``R`` turns the declared tensor ``I`` into the world's, ``R I R^T``; the links of a
    body (merged by fixed joints, or without geometry) are summed by the parallel-axis theorem,
    ``I = sum_i R_i I_i R_i^T + m_i (|d_i|^2 E - d_i d_i^T)``, ``d_i = c_i - c``. Every link in a
    body that has geometry or a positive declared mass must declare an inertial with a positive
    mass; otherwise the body is left out (its mass computed from its geometry), with a note.
    """
    from n4d4d.asset import MassProperties
    from n4d4d.physics_validation.mass import principal_frame

    Tw = model.link_transforms()
    geo = {n for n, g in model.links.items() if g[0] or g[1]}
    members: dict[str, list[str]] = {}
    for link, b in group.items():
        if b in bodies:
            members.setdefault(b, []).append(link)
    out, masses, notes = {}, {}, []
    for b, links in members.items():
        terms, why, bad_inertia = [], None, None
        for link in links:
            el = model.inertials.get(link)
            if el is None:
                if link in geo:
                    why = f"link '{link}' declares no <inertial>"
                continue
            if el.mass == 0 and link not in geo:
                continue
            problem = inertial_problem(el.mass, el.inertia)
            if not el.mass > 0:
                why = f"link '{link}' <inertial> (line {el.line}): {problem}"
                continue
            if problem is not None:
                bad_inertia = f"link '{link}' <inertial> (line {el.line}): {problem}"
            T = Tw[link] @ el.transform
            R = T[:3, :3]
            terms.append((el.mass, T[:3, 3], R @ el.inertia @ R.T))
        if why is not None or not terms:
            notes.append(f"body '{b}': mass computed from its geometry ({why or 'no link declares a mass'})")
            continue
        m = sum(t[0] for t in terms)
        if bad_inertia is not None:
            masses[b] = float(m)
            notes.append(f"body '{b}': the file's mass {m:.6g} kg, COM and inertia from its geometry ({bad_inertia})")
            continue
        c = sum(t[0] * t[1] for t in terms) / m
        inertia = np.zeros((3, 3))
        for mi, ci, Ii in terms:
            d = ci - c
            inertia += Ii + mi * (float(d @ d) * np.eye(3) - np.outer(d, d))
        inertia = 0.5 * (inertia + inertia.T)
        moments, quat = principal_frame(inertia)
        out[b] = MassProperties(mass=float(m), center_of_mass=np.asarray(c, np.float64), inertia=inertia,
                                principal_moments=moments, principal_axes=quat, volume=float("nan"),
                                density=float("nan"))
    return out, masses, notes


def load_urdf_asset(path: str | Path, *, geometry: str = "visual", name: str | None = None,
                    merge_fixed: bool = True):
    """Load a URDF as an :class:`~n4d4d.asset.Asset` with parts, ground-truth joints, the
    links' visual materials and their own collision geometry.

    Args:
        path: the ``.urdf`` file.
        geometry: ``"visual"`` or ``"collision"`` meshes for the parts.
        name: asset name (default: the file's folder or stem, sanitised).
        merge_fixed: merge links joined by fixed joints into one body (the default here, for
            callers that compare rigid bodies, e.g. rigging's evaluation); False keeps every
            link with geometry as a part of its own, joined by ``"fixed"`` joints (the build's
            default, ``--merge-fixed`` off). Links without geometry join their parent's body
            either way (:func:`rigid_groups`).

    Returns:
        An Asset whose ``visual`` and ``source_mesh`` are all parts concatenated
        (``face_submesh`` = part index, ``submesh_names`` = part names), whose ``parts`` are
        the bodies (meshes as loaded, not yet watertight, with ``face_indices`` into
        ``visual``, and the URDF's visual material: ``base_color``, ``vertex_colors`` where a
        body's pieces differ, ``uvs`` / ``texture_png`` for a single textured piece), whose
        ``joints`` are the URDF joints between bodies in the asset frame (``origin`` the joint
        frame's world position at rest, m; ``axis`` the world-frame unit axis; fixed joints
        kept as ``"fixed"``) and whose ``collision`` is :func:`file_collision` (body -> the
        links' own colliders, world frame). Floating / planar joints are dropped (noted).

    Raises:
        MissingFileError, InputError: as :func:`parse_urdf` and :func:`geometry_mesh`.
        FlatMeshError, EmptyMeshError: the links together are flat or degenerate.
    """
    from n4d4d.asset import Asset, FileInertials, Joint, Mesh, Part
    from n4d4d.io.mesh_checks import check_geometry

    model = parse_urdf(path)
    pieces = _link_pieces(model, geometry)
    if not pieces:
        skipped = "; ".join(model.notes[:3])
        raise InputError("URDF links carry no geometry" + (f" ({skipped})" if skipped else ""), model.path)
    group = rigid_groups(model, merge_fixed=merge_fixed)
    bodies: dict[str, list] = {}
    for link, items in pieces.items():
        bodies.setdefault(group[link], []).extend(items)
    names = list(bodies)
    verts, faces, labels, parts = [], [], [], []
    nv = nf = 0
    for i, b in enumerate(names):
        mesh = _part_mesh(bodies[b])
        v, f = mesh.vertices, mesh.faces
        parts.append(Part(b, mesh, face_indices=np.arange(nf, nf + len(f), dtype=np.int64)))
        verts.append(v)
        faces.append(f + nv)
        labels.append(np.full(len(f), i, np.int32))
        nv += len(v)
        nf += len(f)
    merged = Mesh(np.concatenate(verts), np.concatenate(faces), face_submesh=np.concatenate(labels),
                  submesh_names=tuple(names))
    check_geometry(merged.vertices, merged.faces, model.path, what="the URDF's geometry")
    Tw = model.link_transforms()
    joints, notes = [], list(model.notes)
    geometry_less = sorted(link for link in model.links if link not in pieces and group.get(link) in bodies
                           and link != group[link])
    if geometry_less:
        notes.append(f"URDF links without geometry merged into their parent's body: {', '.join(geometry_less[:8])}"
                     + (", ..." if len(geometry_less) > 8 else ""))
    for j in model.joints:
        if j.type not in MOVABLE + ("fixed",):
            notes.append(f"URDF joint '{j.name}' of type {j.type} dropped")
            continue
        pa, ch = group[j.parent], group[j.child]
        if pa == ch:  # merged (fixed, or a link without geometry)
            continue
        if pa not in bodies or ch not in bodies:
            notes.append(f"URDF joint '{j.name}' joins bodies without geometry: dropped")
            continue
        T = Tw[j.parent] @ j.origin
        if j.type == "fixed":
            joints.append(Joint(j.name, "fixed", pa, ch, T[:3, 3].copy(), T[:3, :3] @ j.axis))
        else:
            joints.append(Joint(j.name, j.type, pa, ch, T[:3, 3].copy(), T[:3, :3] @ j.axis,
                                j.lower, j.upper, j.effort, j.velocity))
    stem = name or (model.path.parent.name if model.path.stem == "mobility" else model.path.stem)
    stem = re.sub(r"[^A-Za-z0-9_]", "_", stem) or "asset"
    collision = {b: hs for b, hs in file_collision(model, group).items() if b in bodies}
    declared, masses, left_out = file_inertials(model, group, bodies)
    inertials = FileInertials(declared, merged.bounds[0].copy(), np.ptp(merged.vertices, axis=0),
                              tuple(left_out), masses) if declared or masses or left_out else None
    return Asset(name=stem, visual=merged, source_mesh=merged, parts=tuple(parts),
                 joints=tuple(joints), collision=collision, notes=tuple(notes), inertials=inertials)
