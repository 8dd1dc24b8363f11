"""Read a simulator file that anyone wrote (USD, URDF, MJCF) into an :class:`~n4d4d.asset.Asset`
and the structural checks only that file's own form can answer, for ``n4d4d validate``.

Each reader returns a :class:`ReadResult`: the rigid bodies as parts (collision shapes as hulls
and a part mesh, in the file's rest pose, SI units, Z up as the file is), joints, mass
properties as authored, drives as authored (SI per radian or metre), and
:class:`~n4d4d.asset.CheckResult` records of the rules that need the file's own structure:

- USD (pxr's UsdPhysics stage parser, ``UsdPhysics.LoadUsdPhysicsFromRange``): one articulation
  root per articulated tree, every rigid body has a collider and (in a multi-body asset) a joint,
  joint bodies exist, drive ``maxForce`` set, joint frames agree from body0 and body1, explicit
  collision approximation (the NVIDIA SimReady physics rules that need no GPU: RB.COL, JT, JT.ART,
  DJ; cf. IsaacLab issues #4077, #782, #2922 on dropped colliders and wrong approximations);
- URDF (XML, URDF spec wiki.ros.org/urdf/XML): one root link, joint links exist, every link with
  mass has a collision, non-fixed joints have a positive effort limit;
- MJCF (``mujoco.MjModel``; MuJoCo compiles and validates the XML itself): every body with mass
  has a colliding geom, actuators have a force range.

Collision primitives (box, sphere, cylinder, capsule) become triangulated hulls through trimesh.
The readers do not simulate and write nothing; mass sanity and physics checks on the returned
asset are :mod:`n4d4d.validate`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from n4d4d.asset import Asset, CheckResult, Drive, Joint, MassProperties, Mesh, Part
from n4d4d.errors import InputError, MalformedFileError
from n4d4d.kinematics import safe_name

#: Joint-frame agreement: position bound (m) and rotation bound (rad) between the joint frame
#: seen from body0 and from body1 at rest. 1e-4 m / 1e-3 rad: a float32 file at metre scale
#: rounds to ~1e-7 m, so this only flags frames that were authored inconsistently.
FRAME_POS_TOL_M = 1e-4
FRAME_ROT_TOL_RAD = 1e-3


@dataclass
class ReadResult:
    """What a reader found: an asset (may be partial) and the structural checks."""

    asset: Asset
    checks: list[CheckResult] = field(default_factory=list)
    format: str = ""
    notes: list[str] = field(default_factory=list)
    densities: dict = field(default_factory=dict)  # part -> kg/m^3 the file states (USD materials)


def check(name: str, reasons: list[str], measured: dict | None = None, threshold: dict | None = None,
          part: str = "", details: dict | None = None) -> CheckResult:
    """A rule's :class:`CheckResult`: passed when ``reasons`` is empty (one sentence each)."""
    return CheckResult(name=name, part=part, measured=measured or {}, threshold=threshold or {},
                       passed=not reasons, reasons=tuple(reasons), details=details or {})


def mass_record(mass: float, com: np.ndarray, inertia: np.ndarray, volume: float = 0.0) -> MassProperties:
    """MassProperties from mass (kg), COM ``(3,)`` and inertia ``(3, 3)`` about it (asset frame)."""
    from scipy.spatial.transform import Rotation

    I = 0.5 * (np.asarray(inertia, np.float64) + np.asarray(inertia, np.float64).T)
    w, V = np.linalg.eigh(I)
    if np.linalg.det(V) < 0:
        V[:, 0] = -V[:, 0]
    q = Rotation.from_matrix(V).as_quat(scalar_first=True)
    return MassProperties(mass=float(mass), center_of_mass=np.asarray(com, np.float64), inertia=I,
                          principal_moments=w, principal_axes=q, volume=float(volume),
                          density=float(mass / volume) if volume > 0 else 0.0)


def apply_transform(T: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Points ``v (..., 3)`` moved by the 4x4 transform ``T`` (column-vector convention)."""
    return np.asarray(v, np.float64) @ T[:3, :3].T + T[:3, 3]


def primitive(kind: str, size: dict) -> "Mesh":
    """A triangulated collision primitive centred at its frame origin (trimesh.creation):
    ``box`` (extents), ``sphere`` (radius), ``cylinder`` / ``capsule`` (radius, length along Z)."""
    import trimesh

    if kind == "box":
        tm = trimesh.creation.box(extents=size["extents"])
    elif kind == "sphere":
        tm = trimesh.creation.icosphere(subdivisions=2, radius=size["radius"])
    elif kind == "cylinder":
        tm = trimesh.creation.cylinder(radius=size["radius"], height=size["length"], sections=24)
    elif kind == "capsule":
        tm = trimesh.creation.capsule(radius=size["radius"], height=size["length"], count=[12, 12])
    else:
        raise ValueError(kind)
    return Mesh(tm.vertices, tm.faces)


def build_asset(name: str, bodies: dict, joints: list[Joint], drives: dict, source: str,
                fixed_base: bool = False) -> Asset:
    """An Asset from ``bodies`` (name -> {"hulls": [Mesh], "visual": Mesh|None, "mass": MassProperties|None});
    ``fixed_base``: the file welds its root body to the world (``Asset.fixed_base``)."""
    from n4d4d.asset import Provenance

    parts, collision, mass = [], {}, {}
    for bname, b in bodies.items():
        hulls = tuple(b["hulls"])
        mesh = b.get("visual")
        if mesh is None and hulls:
            verts, faces, off = [], [], 0
            for h in hulls:
                verts.append(h.vertices)
                faces.append(h.faces + off)
                off += len(h.vertices)
            mesh = Mesh(np.concatenate(verts), np.concatenate(faces))
        if mesh is None:
            mesh = Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64))
        parts.append(Part(bname, mesh))
        if hulls:
            collision[bname] = hulls
        if b.get("mass") is not None:
            mass[bname] = b["mass"]
    return Asset(name=safe_name(name), parts=tuple(parts), joints=tuple(joints), collision=collision,
                 mass=mass, drives=drives, provenance=Provenance(source=source, source_sha256="", seed=0),
                 fixed_base=bool(fixed_base))


def read_file(path: str | Path) -> ReadResult:
    """Read ``path`` by its suffix: ``.usd/.usda/.usdc/.usdz``, ``.urdf``, ``.xml``/``.mjcf``.

    Raises :class:`~n4d4d.errors.InputError` for an unknown suffix or a file its library
    cannot open (the library's message kept).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.is_file():
        from n4d4d.errors import MissingFileError

        raise MissingFileError("no such file", p)
    if suffix in (".usd", ".usda", ".usdc", ".usdz"):
        from .read_usd import read_usd

        return read_usd(p)
    if suffix == ".urdf":
        from .read_urdf import read_urdf

        return read_urdf(p)
    if suffix in (".xml", ".mjcf"):
        from .read_mjcf import read_mjcf

        return read_mjcf(p)
    raise InputError(f"n4d4d validate reads USD, URDF and MJCF files, not '{suffix}'", p)


__all__ = ["ReadResult", "read_file", "check", "mass_record", "primitive", "build_asset",
           "FRAME_POS_TOL_M", "FRAME_ROT_TOL_RAD", "MalformedFileError", "Drive"]
