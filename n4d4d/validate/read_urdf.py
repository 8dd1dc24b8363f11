"""URDF reader of ``n4d4d validate`` (see :mod:`.read`), per the URDF XML spec
(wiki.ros.org/urdf/XML): links' inertials and collisions at the zero joint configuration,
joints with limits, ``<dynamics>`` damping.

Rules: ``urdf_tree`` (one root link; every joint's parent and child links exist; no link is
the child of two joints), ``collider`` (every link with positive mass has a ``<collision>``),
``joint_effort`` (revolute / prismatic / continuous joints have a positive ``effort`` limit:
URDF has no drives, the effort limit is the force bound every consumer reads). Mesh files are
read with trimesh relative to the URDF's folder; ``package://`` paths resolve to that folder's
parents by package name when they can, else the collision is skipped with a note.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from n4d4d.asset import Drive, Joint, Mesh
from n4d4d.errors import MalformedFileError
from n4d4d.kinematics import safe_name

from .read import ReadResult, build_asset, check, mass_record, primitive


def _floats(text: str | None, n: int, default: float = 0.0) -> np.ndarray:
    if text is None:
        return np.full(n, default)
    v = np.array([float(x) for x in text.split()], np.float64)
    if v.shape != (n,):
        raise ValueError(f"expected {n} numbers, got '{text}'")
    return v


def _origin(el) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    T = np.eye(4)
    o = el.find("origin") if el is not None else None
    if o is not None:
        T[:3, :3] = Rotation.from_euler("xyz", _floats(o.get("rpy"), 3)).as_matrix()  # URDF: fixed-axis roll, pitch, yaw
        T[:3, 3] = _floats(o.get("xyz"), 3)
    return T


def _resolve(filename: str, base: Path) -> Path | None:
    if filename.startswith("package://"):
        rest = filename[len("package://"):]
        pkg, _, sub = rest.partition("/")
        for d in (base, *base.parents):
            if d.name == pkg and (d / sub).is_file():
                return d / sub
            if (d / pkg / sub).is_file():
                return d / pkg / sub
        return None
    if filename.startswith("file://"):
        filename = filename[len("file://"):]
    p = (base / filename) if not Path(filename).is_absolute() else Path(filename)
    return p if p.is_file() else None


def _geometry(geom, base: Path, notes: list[str], where: str) -> Mesh | None:
    import trimesh

    if geom is None or len(geom) == 0:
        return None
    g = geom[0]
    if g.tag == "box":
        return primitive("box", {"extents": _floats(g.get("size"), 3)})
    if g.tag == "sphere":
        return primitive("sphere", {"radius": float(g.get("radius"))})
    if g.tag in ("cylinder", "capsule"):
        return primitive(g.tag, {"radius": float(g.get("radius")), "length": float(g.get("length"))})
    if g.tag == "mesh":
        p = _resolve(g.get("filename", ""), base)
        if p is None:
            notes.append(f"{where}: mesh '{g.get('filename')}' not found; collision skipped")
            return None
        tm = trimesh.load(str(p), force="mesh", process=False)
        scale = _floats(g.get("scale"), 3, 1.0)
        return Mesh(np.asarray(tm.vertices) * scale, np.asarray(tm.faces))
    return None


def read_urdf(path: Path) -> ReadResult:
    """Read the URDF at ``path`` (module docstring). Raises MalformedFileError on bad XML or numbers."""
    try:
        robot = ET.parse(str(path)).getroot()
    except ET.ParseError as e:
        raise MalformedFileError(f"not well-formed XML: {e}", path, line=e.position[0]) from e
    if robot.tag != "robot":
        raise MalformedFileError(f"root element is <{robot.tag}>, not <robot>", path)
    notes: list[str] = []
    base = path.parent
    links = {lk.get("name"): lk for lk in robot.findall("link")}
    joints_el = robot.findall("joint")
    tree_reasons, child_of = [], {}
    for j in joints_el:
        p, c = j.find("parent"), j.find("child")
        pl, cl = (p.get("link") if p is not None else None), (c.get("link") if c is not None else None)
        for side, ln in (("parent", pl), ("child", cl)):
            if ln not in links:
                tree_reasons.append(f"joint '{j.get('name')}' {side} link '{ln}' does not exist")
        if cl in child_of:
            tree_reasons.append(f"link '{cl}' is the child of joints '{child_of[cl]}' and '{j.get('name')}'")
        child_of[cl] = j.get("name")
    roots = [n for n in links if n not in child_of]
    fixed_base, mount = False, []  # a geometry-less 'world' root holding the robot by fixed joints
    if roots == ["world"] and not any(links["world"].find(t) is not None for t in ("visual", "collision", "inertial")):
        out = [j for j in joints_el if j.find("parent") is not None and j.find("parent").get("link") == "world"]
        if out and all(j.get("type") == "fixed" for j in out):  # ROS's convention: the robot is mounted
            fixed_base, mount = True, out
            notes.append("the root link 'world' holds the robot by fixed joints: the base is fixed")
    if len(roots) != 1:
        tree_reasons.append(f"URDF needs one root link; found {len(roots)}: {roots[:5]}")
    checks = [check("urdf_tree", tree_reasons, {"links": len(links), "joints": len(joints_el), "roots": roots})]
    try:
        world = _world_poses(links, joints_el, roots)
    except ValueError as e:
        raise MalformedFileError(str(e), path) from e
    bodies, no_col = {}, []
    taken: set[str] = set()
    names = {n: safe_name(n, taken) for n in links}
    for n, lk in links.items():
        if fixed_base and n == "world":
            continue  # the world itself, not a body
        T = world.get(n, np.eye(4))
        hulls = []
        for k, col in enumerate(lk.findall("collision")):
            m = _geometry(col.find("geometry"), base, notes, f"link '{n}' collision {k}")
            if m is not None and len(m.faces):
                C = T @ _origin(col)
                hulls.append(m.replace(vertices=m.vertices @ C[:3, :3].T + C[:3, 3]))
        inertial = lk.find("inertial")
        record = None
        if inertial is not None:
            me = inertial.find("mass")
            mass = float(me.get("value")) if me is not None else 0.0
            ie = inertial.find("inertia")
            g = {k: float(ie.get(k, 0.0)) for k in ("ixx", "ixy", "ixz", "iyy", "iyz", "izz")} if ie is not None else {}
            I = np.array([[g.get("ixx", 0), g.get("ixy", 0), g.get("ixz", 0)],
                          [g.get("ixy", 0), g.get("iyy", 0), g.get("iyz", 0)],
                          [g.get("ixz", 0), g.get("iyz", 0), g.get("izz", 0)]], np.float64)
            F = T @ _origin(inertial)
            record = mass_record(mass, F[:3, 3], F[:3, :3] @ I @ F[:3, :3].T)
            if mass > 0 and not hulls:
                no_col.append(n)
        else:
            notes.append(f"link '{n}' has no <inertial> (a massless link: PyBullet gives it 1 kg)")
        bodies[names[n]] = {"hulls": hulls, "mass": record}
    checks.append(check("collider", [f"link '{n}' has mass but no <collision>" for n in no_col],
                        {"links": len(links), "without_collision": len(no_col)}))
    joints, drives, effort_reasons = [], {}, []
    jtaken: set[str] = set()
    for j in joints_el:
        if any(j is m for m in mount):
            continue  # the weld to the world: Asset.fixed_base
        kind = j.get("type")
        pl, cl = j.find("parent").get("link"), j.find("child").get("link")
        if pl not in links or cl not in links:
            continue
        if kind not in ("revolute", "continuous", "prismatic", "fixed"):
            notes.append(f"joint '{j.get('name')}' of type '{kind}' left out of the physics checks")
            continue
        Tc = world[cl]
        axis_el = j.find("axis")
        axis = _floats(axis_el.get("xyz") if axis_el is not None else None, 3, 0.0) if axis_el is not None else np.array([1.0, 0, 0])
        limit = j.find("limit")
        lo = float(limit.get("lower", 0.0)) if limit is not None and kind != "continuous" else -np.inf
        hi = float(limit.get("upper", 0.0)) if limit is not None and kind != "continuous" else np.inf
        effort = float(limit.get("effort", 0.0)) if limit is not None else 0.0
        if kind != "fixed" and not effort > 0:
            effort_reasons.append(f"joint '{j.get('name')}' ({kind}) has no positive <limit effort>")
        name = safe_name(j.get("name", "joint"), jtaken)
        n_axis = np.linalg.norm(axis)
        joints.append(Joint(name, kind, names[pl], names[cl], origin=Tc[:3, 3].copy(),
                            axis=Tc[:3, :3] @ (axis / n_axis if n_axis > 0 else np.array([1.0, 0, 0])),
                            lower=lo, upper=hi, effort=effort if effort > 0 else 100.0,
                            velocity=float(limit.get("velocity", 10.0)) if limit is not None else 10.0))
        dyn = j.find("dynamics")
        if dyn is not None and kind != "fixed":
            drives[name] = Drive(joint=name, kind="linear" if kind == "prismatic" else "angular", stiffness=0.0,
                                 damping=float(dyn.get("damping", 0.0)), max_force=effort if effort > 0 else 100.0)
    checks.append(check("joint_effort", effort_reasons, {"without_effort": len(effort_reasons)}))
    asset = build_asset(robot.get("name") or path.stem, bodies, joints, drives, str(path), fixed_base=fixed_base)
    return ReadResult(asset=asset, checks=checks, format="urdf", notes=notes)


def _world_poses(links: dict, joints_el, roots: list[str]) -> dict[str, np.ndarray]:
    """World pose (4, 4) of every link at the zero joint configuration (forward kinematics)."""
    children: dict[str, list] = {}
    for j in joints_el:
        p, c = j.find("parent"), j.find("child")
        if p is not None and c is not None:
            children.setdefault(p.get("link"), []).append((c.get("link"), j))
    world = {}
    stack = [(r, np.eye(4)) for r in roots]
    while stack:
        n, T = stack.pop()
        if n in world:
            continue
        world[n] = T
        for c, j in children.get(n, []):
            stack.append((c, T @ _origin(j)))
    return world
