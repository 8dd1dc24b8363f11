"""Seeded procedural shape families with known parts and joints, for the generator's corpus.

What it does: :func:`make_shape` builds one shape of a family (``cabinet``, ``lidded_box``, ``table``,
``chair``, ``mug``, ``bottle``, ``lamp``, ``animal`` (four-legged), ``figure`` (two-legged)) from a seed: dimensions drawn from
``numpy.random.default_rng(seed)`` within real-world ranges (metres), every part a watertight union of
closed primitives (boxes, cylinders, capsules, ellipsoids, surfaces of revolution), the whole shape
their union (``trimesh.boolean.union(..., engine="manifold")``), Z up, resting on ``z = 0``, front
towards ``-y``. The result is an :class:`~n4d4d.asset.Asset` whose ``visual`` is the watertight union,
whose ``parts`` are the rigid parts at rest pose and whose ``joints`` are the ground-truth joints
(URDF semantics: type, parent, child, pivot ``origin`` and unit ``axis`` in the asset frame, limits in
rad or m; :func:`joints_to_json` writes them for a manifest). The families live in
:mod:`~n4d4d.generator.procedural_furniture`, :mod:`~n4d4d.generator.procedural_objects` and
:mod:`~n4d4d.generator.procedural_creatures`.

What it does not: texture, mass properties, hinge pins, or guarantee that parts do not interpenetrate
at non-rest joint values (parts overlap a little at rest so the union is a single volume).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from n4d4d.asset import Asset, Joint, Mesh, Part, Provenance
from n4d4d.generator.metrics import count_solids

Z = np.array([0.0, 0.0, 1.0])


# -- primitives (each a closed, watertight trimesh) ----------------------------------------------
def box(lo, hi):
    """Axis-aligned box between corners ``lo`` and ``hi`` (m)."""
    import trimesh

    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return trimesh.creation.box(extents=hi - lo, transform=translation((lo + hi) / 2))


def translation(t) -> np.ndarray:
    T = np.eye(4)
    T[:3, 3] = t
    return T


def _align_z(axis) -> np.ndarray:
    import trimesh

    a = np.asarray(axis, float) / np.linalg.norm(axis)
    if abs(a @ Z) > 1 - 1e-12:
        return np.eye(4) if a @ Z > 0 else trimesh.transformations.rotation_matrix(np.pi, [1, 0, 0])
    return trimesh.geometry.align_vectors(Z, a)


def cylinder(p0, p1, radius, sections=32):
    """Cylinder of ``radius`` (m) from point ``p0`` to ``p1``."""
    import trimesh

    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    T = _align_z(p1 - p0)
    T[:3, 3] = (p0 + p1) / 2
    return trimesh.creation.cylinder(radius=radius, height=float(np.linalg.norm(p1 - p0)),
                                     sections=sections, transform=T)


def capsule(p0, p1, radius, sections=24):
    """Capsule (cylinder with hemispherical caps) of ``radius`` with cap centres ``p0``, ``p1``."""
    import trimesh

    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    m = trimesh.creation.capsule(height=float(np.linalg.norm(p1 - p0)), radius=radius, count=[sections, sections])
    T = _align_z(p1 - p0)
    T[:3, 3] = (p0 + p1) / 2
    return m.apply_transform(T)


def ellipsoid(centre, radii, subdivisions=3):
    """Axis-aligned ellipsoid with semi-axes ``radii`` (m)."""
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=subdivisions)
    m.apply_scale(np.asarray(radii, float))
    return m.apply_translation(np.asarray(centre, float))


def revolve(profile, sections=48, z0=0.0):
    """Surface of revolution about the z axis of a closed ``(r, z)`` profile, shifted by ``z0``."""
    import trimesh

    m = trimesh.creation.revolve(np.asarray(profile, float), sections=sections)
    if m.volume < 0:  # a clockwise profile gives inward normals
        m.invert()
    return m.apply_translation([0.0, 0.0, z0])


def union(meshes):
    """Watertight union of closed meshes (manifold3d)."""
    import trimesh

    meshes = [m for m in meshes if m is not None]
    return meshes[0].copy() if len(meshes) == 1 else trimesh.boolean.union(meshes, engine="manifold")


def difference(a, b):
    import trimesh

    return trimesh.boolean.difference([a, b], engine="manifold")


def joint(name, type_, parent, child, origin, axis, lower=-np.inf, upper=np.inf) -> Joint:
    """A :class:`Joint` with a unit axis; limits in rad (revolute) or m (prismatic)."""
    axis = np.asarray(axis, float)
    return Joint(name=name, type=type_, parent=parent, child=child, origin=np.asarray(origin, float),
                 axis=axis / np.linalg.norm(axis), lower=float(lower), upper=float(upper))


# -- family registry -----------------------------------------------------------------------------
FamilyFn = Callable[[np.random.Generator], tuple[dict, list[Joint], dict]]
_FAMILIES: dict[str, FamilyFn] = {}


def family(name: str):
    """Register a family builder ``rng -> (parts {name: trimesh}, joints, params)``."""
    def register(fn: FamilyFn) -> FamilyFn:
        _FAMILIES[name] = fn
        return fn
    return register


def families() -> tuple[str, ...]:
    """Names of the registered families."""
    _load()
    return tuple(_FAMILIES)


def _load() -> None:
    from n4d4d.generator import procedural_creatures, procedural_furniture, procedural_objects  # noqa: F401


def make_shape(family_name: str, seed: int) -> Asset:
    """Build shape ``seed`` of ``family_name`` as an Asset with visual, parts and ground-truth joints.

    The visual mesh is the manifold union of all parts (watertight, one volume); parts keep their
    own watertight meshes; ``provenance.options`` holds the drawn dimensions (``params``, m / rad).

    Raises:
        KeyError: unknown family (the message lists the known ones).
        RuntimeError: the union is not a single watertight volume (a bug in a family).
    """
    _load()
    if family_name not in _FAMILIES:
        raise KeyError(f"unknown procedural family '{family_name}'; known: {', '.join(_FAMILIES)}")
    rng = np.random.default_rng([int(seed), sum(map(ord, family_name))])
    parts, joints, params = _FAMILIES[family_name](rng)
    parts = {k: (union(v) if isinstance(v, list) else v) for k, v in parts.items()}
    whole = union(list(parts.values()))
    # rest on z = 0, centred in x and y: move parts and joints alike
    lo, hi = whole.bounds
    shift = -np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    whole.apply_translation(shift)
    if not whole.is_watertight or count_solids(whole) != 1:
        raise RuntimeError(f"{family_name} seed {seed}: union is not one watertight volume "
                           f"(watertight={whole.is_watertight}, solids={count_solids(whole)})")
    part_records = tuple(Part(name, Mesh.from_trimesh(m.apply_translation(shift))) for name, m in parts.items())
    joints = tuple(dataclasses.replace(j, origin=j.origin + shift) for j in joints)
    name = f"{family_name}_{int(seed):05d}"
    prov = Provenance(source=f"generator:procedural/{family_name}", source_sha256="", seed=int(seed),
                      options={"family": family_name, "params": {k: _json(v) for k, v in params.items()}})
    return Asset(name=name, visual=Mesh.from_trimesh(whole), parts=part_records, joints=joints, provenance=prov)


def _json(v):
    a = np.asarray(v)
    return a.round(6).tolist() if a.ndim else (round(float(a), 6) if a.dtype.kind == "f" else a.item())


def joints_to_json(joints) -> list[dict]:
    """Joints as URDF-like JSON: name, type, parent, child, origin (m), axis, lower/upper (rad or m, or null)."""
    out = []
    for j in joints:
        lim = j.type in ("revolute", "prismatic")
        out.append({"name": j.name, "type": j.type, "parent": j.parent, "child": j.child,
                    "origin": np.round(j.origin, 6).tolist(), "axis": np.round(j.axis, 6).tolist(),
                    "lower": round(j.lower, 6) if lim else None, "upper": round(j.upper, 6) if lim else None})
    return out


def parts_obj(asset: Asset) -> str:
    """The asset's parts as OBJ text, one ``o <part>`` object each (loads with per-part face labels)."""
    lines, base = ["# n4d4d procedural shape: one object per rigid part, metres, Z up"], 1
    for p in asset.parts:
        lines.append(f"o {p.name}")
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in p.mesh.vertices]
        lines += [f"f {a + base} {b + base} {c + base}" for a, b, c in p.mesh.faces]
        base += len(p.mesh.vertices)
    return "\n".join(lines) + "\n"
