"""The parsed URDF: its links, joints, materials and inertials, validated at parse time.

What it does: :func:`parse_urdf` reads a URDF file (ROS URDF XML spec,
http://wiki.ros.org/urdf/XML) safely (:mod:`n4d4d.io.urdf_xml`: no entities, DTDs or network)
into a :class:`UrdfModel`, each failure a typed :class:`~n4d4d.errors.InputError` naming the
file, the element and its line: one ``<robot>`` root; links and joints named and unique; the
joints forming one tree (one root link, no link with two parents, no joint from a link to
itself, no cycle anywhere); every number finite and of the right arity (origins, axes, sizes,
scales, limits, inertials); unit axes (a zero axis on a movable joint is an error; others are
normalised); revolute and prismatic joints with a ``<limit>`` whose lower < upper, velocity > 0
and effort >= 0; mass >= 0 and a positive semi-definite inertia where given; mesh file names that
lie inside the URDF's folder tree or a ``package://`` folder, in a format n4d4d reads. Visual
materials are resolved (inline, or by name from the robot's ``<material>`` s). Rest-pose link
transforms come from :meth:`UrdfModel.link_transforms`.

What it does not: read mesh files (:mod:`n4d4d.io.urdf_meshes`), group links into rigid bodies
(:mod:`n4d4d.io.urdf_bodies`) or build an Asset (:mod:`n4d4d.io.urdf`). PyBullet extensions
(``<plane>``, ``<cdf>``) are skipped with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from n4d4d.errors import InputError, MissingFileError
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
    ``notes`` says what was skipped (PyBullet-only shapes) or read as PyBullet reads it (a 3-vector
    written with more numbers, a revolute limit without bounds). ``root_transform`` is the
    ``(4, 4)`` pose the root link is read at (None: identity, the file Z up as URDF says; a file
    authored Y up is read with :data:`n4d4d.conventions.Y_UP_TO_Z_UP`, :func:`n4d4d.io.urdf.choose_urdf_up`)."""

    name: str
    path: Path
    links: dict
    joints: tuple[UrdfJoint, ...]
    notes: tuple[str, ...] = ()
    inertials: dict = field(default_factory=dict)
    root_transform: np.ndarray | None = None

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
        out = {self.root: np.eye(4) if self.root_transform is None else np.asarray(self.root_transform, np.float64)}
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


def _origin(elem, path, notes: list[str] | None = None) -> np.ndarray:
    """The ``(4, 4)`` transform of ``elem``'s ``<origin xyz rpy>`` (identity when absent); with
    ``notes``, a vector of more than three numbers is read as PyBullet reads it (see
    :func:`~n4d4d.io.urdf_xml.numbers`)."""
    T = np.eye(4)
    o = elem.find("origin") if elem is not None else None
    if o is not None:
        T[:3, :3] = rpy_matrix(numbers(o, "rpy", 3, path, [0, 0, 0], notes=notes))
        T[:3, 3] = numbers(o, "xyz", 3, path, [0, 0, 0], length=True, notes=notes)
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
    scale = numbers(s, "scale", 3, path, [1, 1, 1], length=True, notes=notes)
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


def _inertial(link, path, notes: list[str] | None = None) -> UrdfInertial | None:
    """A link's ``<inertial>``, checked: mass >= 0, a finite, positive semi-definite inertia
    (else MalformedFileError); None when the link has none. A missing ``<mass>`` reads 0, a
    missing ``<inertia>`` zeros (as urdfdom)."""
    el = link.find("inertial")
    if el is None:
        return None
    T = _origin(el, path, notes)
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
    axis = numbers(ax, "xyz", 3, path, [1, 0, 0], notes=notes) if ax is not None else np.array([1.0, 0.0, 0.0])
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
    return UrdfJoint(name, jtype, ends["parent"], ends["child"], _origin(j, path, notes), axis, lower, upper,
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
        inertial = _inertial(link, path, notes)
        if inertial is not None:
            inertials[name] = inertial
        geoms = []
        for tag in ("visual", "collision"):
            items = []
            for el in link.findall(tag):
                g = _shape(el, _origin(el, path, notes), path, notes)
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
