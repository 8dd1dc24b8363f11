"""Rigid bodies of a parsed URDF: which links move together, and each body's own colliders
and declared mass properties.

What it does: :func:`rigid_groups` maps links to bodies (fixed joints merged or kept, links
without geometry joined to their parent); :func:`file_collision` gives each body's
``<collision>`` geometry in the world frame at rest (primitives kept as
:class:`~n4d4d.asset.CollisionPrimitive`); :func:`file_inertials` sums each body's links'
``<inertial>`` s by the parallel-axis theorem, refusing tensors no rigid body can have
(:func:`n4d4d.io.urdf_model.inertial_problem`).

What it does not: compute mass properties from geometry (the mass stage does, for the bodies
left out here).
"""

from __future__ import annotations

import numpy as np

from n4d4d.io.urdf_meshes import read_geometry
from n4d4d.io.urdf_model import UrdfJoint, UrdfModel, inertial_problem


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
            tm, _ = read_geometry(g, model.path)
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
