"""USD reader of ``n4d4d validate`` (see :mod:`.read`): UsdPhysics bodies, colliders,
joints, mass and drives of any USD stage, and the SimReady physics rules that need no GPU.

Rules (each a :class:`~n4d4d.asset.CheckResult` named after it):

- ``articulation_root``: each connected tree of jointed bodies has exactly one
  ``PhysicsArticulationRootAPI`` (SimReady JT.ART; two roots make PhysX split or reject it);
- ``collider``: every rigid body has at least one enabled collider (SimReady RB.COL.001);
- ``joint_bodies``: each joint's ``body0`` / ``body1`` targets exist and are rigid bodies
  (an empty target is the world);
- ``joint_connected``: in a multi-body asset every rigid body is reached by a joint;
- ``drive_max_force``: every DriveAPI has a finite positive ``maxForce`` (SimReady DJ);
- ``joint_frames``: the joint frame seen from body0 and from body1 agree at rest, within
  :data:`~.read.FRAME_POS_TOL_M` and :data:`~.read.FRAME_ROT_TOL_RAD`;
- ``collision_approximation``: every mesh collider authors ``physics:approximation``
  (MeshCollisionAPI), and none on a dynamic body is ``"none"`` (a triangle mesh, which PhysX
  does not simulate on dynamic bodies).

Lengths are scaled by the stage's ``metersPerUnit`` and masses by ``kilogramsPerUnit``;
revolute limits and angular drive gains are converted from degrees to radians.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from n4d4d.asset import Drive, Joint, Mesh
from n4d4d.errors import InputError
from n4d4d.kinematics import safe_name

from .read import (FRAME_POS_TOL_M, FRAME_ROT_TOL_RAD, ReadResult, apply_transform, build_asset, check,
                            mass_record, primitive)

_DEFAULT_DENSITY = 1000.0  # UsdPhysics: density of a collider without material or MassAPI


def _matrix(m) -> np.ndarray:
    return np.array(m, np.float64).T  # USD row-vector matrices -> column-vector convention


def _quat(q) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_quat([q.GetImaginary()[0], q.GetImaginary()[1], q.GetImaginary()[2], q.GetReal()]).as_matrix()


def _collider_mesh(prim, T: np.ndarray, mpu: float) -> Mesh | None:
    from pxr import UsdGeom

    def world(v):
        v = np.asarray(v, np.float64) @ T[:3, :3].T + T[:3, 3]
        return v * mpu

    if prim.IsA(UsdGeom.Mesh):
        gm = UsdGeom.Mesh(prim)
        pts, counts, idx = gm.GetPointsAttr().Get(), gm.GetFaceVertexCountsAttr().Get(), gm.GetFaceVertexIndicesAttr().Get()
        if pts is None or counts is None or idx is None or len(pts) == 0:
            return None
        counts, idx = np.asarray(counts), np.asarray(idx)
        faces, k = [], 0
        for c in counts:
            faces += [(idx[k], idx[k + i], idx[k + i + 1]) for i in range(1, c - 1)]
            k += c
        return Mesh(world(np.asarray(pts)), np.asarray(faces, np.int64).reshape(-1, 3))
    for kind, cls in (("box", UsdGeom.Cube), ("sphere", UsdGeom.Sphere), ("cylinder", UsdGeom.Cylinder),
                      ("capsule", UsdGeom.Capsule)):
        if prim.IsA(cls):
            g = cls(prim)
            if kind == "box":
                m = primitive("box", {"extents": [g.GetSizeAttr().Get()] * 3})
            elif kind == "sphere":
                m = primitive("sphere", {"radius": g.GetRadiusAttr().Get()})
            else:
                m = primitive(kind, {"radius": g.GetRadiusAttr().Get(), "length": g.GetHeightAttr().Get()})
                axis = g.GetAxisAttr().Get()
                if axis in ("X", "Y"):
                    R = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]]) if axis == "X" else np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
                    m = m.replace(vertices=m.vertices @ R.T)
            return Mesh(world(m.vertices), m.faces)
    return None


def read_usd(path: Path) -> ReadResult:
    """Read the USD stage at ``path`` (module docstring). Raises InputError when pxr cannot open it."""
    from pxr import Usd, UsdGeom, UsdPhysics

    try:
        stage = Usd.Stage.Open(str(path))
    except Exception as e:  # pxr raises Tf errors
        raise InputError(f"pxr cannot open the stage: {e}", path) from e
    if stage is None:
        raise InputError("pxr cannot open the stage", path)
    mpu = float(UsdGeom.GetStageMetersPerUnit(stage) or 1.0)
    kpu = float(UsdPhysics.GetStageKilogramsPerUnit(stage) or 1.0)
    root = stage.GetDefaultPrim() or stage.GetPseudoRoot()
    cache = UsdGeom.XformCache()
    prims = list(Usd.PrimRange(root))
    body_prims = [p for p in prims if p.HasAPI(UsdPhysics.RigidBodyAPI)]
    taken: set[str] = set()
    name_of = {p.GetPath(): safe_name(p.GetName(), taken) for p in body_prims}
    notes: list[str] = []

    def owner(prim):
        q = prim
        while q and q.IsValid() and q != stage.GetPseudoRoot():
            if q.GetPath() in name_of:
                return q.GetPath()
            q = q.GetParent()
        return None

    colliders: dict = {p: [] for p in name_of}
    approx_reasons = []
    for p in prims:
        if not p.HasAPI(UsdPhysics.CollisionAPI):
            continue
        enabled = UsdPhysics.CollisionAPI(p).GetCollisionEnabledAttr().Get()
        b = owner(p)
        if p.IsA(UsdGeom.Mesh):
            attr = UsdPhysics.MeshCollisionAPI(p).GetApproximationAttr() if p.HasAPI(UsdPhysics.MeshCollisionAPI) else None
            if attr is None or not attr.HasAuthoredValue():
                approx_reasons.append(f"mesh collider {p.GetPath()} has no explicit physics:approximation "
                                      "(engines then pick their own: PhysX a triangle mesh or a convex hull)")
            elif attr.Get() == UsdPhysics.Tokens.none and b is not None:
                kinematic = UsdPhysics.RigidBodyAPI(stage.GetPrimAtPath(b)).GetKinematicEnabledAttr().Get()
                if not kinematic:
                    approx_reasons.append(f"mesh collider {p.GetPath()} on dynamic body {b} has approximation "
                                          "'none' (a triangle mesh: not simulated on dynamic bodies)")
        if b is not None and enabled is not False:
            mesh = _collider_mesh(p, _matrix(cache.GetLocalToWorldTransform(p)), mpu)
            if mesh is not None and len(mesh.faces):
                colliders[b].append(mesh)
    checks = [check("collision_approximation", approx_reasons, {"bad_colliders": len(approx_reasons)})]
    no_collider = [str(b) for b, c in colliders.items() if not c]
    checks.append(check("collider", [f"rigid body {b} has no collider" for b in no_collider],
                        {"bodies": len(body_prims), "without_collider": len(no_collider)}))

    bodies, T_body, densities = {}, {}, {}
    for p in body_prims:
        T = _matrix(cache.GetLocalToWorldTransform(p))
        T[:3, 3] *= mpu
        T[:3, :3] /= np.cbrt(abs(np.linalg.det(T[:3, :3]))) or 1.0
        T_body[p.GetPath()] = T
        mapi = UsdPhysics.MassAPI(p)
        mass = mapi.GetMassAttr().Get() if p.HasAPI(UsdPhysics.MassAPI) else None
        hulls = colliders[p.GetPath()]
        record = None
        if mass is not None and mass > 0 and mapi.GetDiagonalInertiaAttr().HasAuthoredValue():
            com = np.asarray(mapi.GetCenterOfMassAttr().Get() or (0, 0, 0), np.float64) * mpu
            diag = np.asarray(mapi.GetDiagonalInertiaAttr().Get(), np.float64) * kpu * mpu ** 2
            pa = mapi.GetPrincipalAxesAttr().Get()
            Rpa = _quat(pa) if pa is not None else np.eye(3)
            R = T[:3, :3] @ Rpa
            record = mass_record(mass * kpu, apply_transform(T, com), R @ np.diag(diag) @ R.T)
        elif mass is not None and mass > 0 and hulls:
            from n4d4d.physics_validation import mass_properties

            try:
                record = mass_properties(_union(hulls), mass=float(mass) * kpu, name=str(p.GetPath()))
                notes.append(f"{p.GetPath()}: inertia not authored; computed from its colliders")
            except Exception:
                record = None
        elif hulls:
            from n4d4d.physics_validation import mass_properties

            try:
                record = mass_properties(_union(hulls), density=_DEFAULT_DENSITY, name=str(p.GetPath()))
                notes.append(f"{p.GetPath()}: no authored mass; density {_DEFAULT_DENSITY:g} kg/m^3 of its colliders "
                             "(UsdPhysics default)")
            except Exception:
                record = None
        if record is None and mass is not None:
            record = mass_record(float(mass) * kpu, T[:3, 3], np.zeros((3, 3)))
        bodies[name_of[p.GetPath()]] = {"hulls": hulls, "mass": record}
        rho = mapi.GetDensityAttr().Get() if p.HasAPI(UsdPhysics.MassAPI) else None
        if not rho:
            rho = _material_density(stage, p, name_of)
        if rho:
            densities[name_of[p.GetPath()]] = float(rho) * kpu / mpu ** 3

    joints, drives = [], {}
    bad_bodies, frame_reasons, force_reasons = [], [], []
    linked: set = set()
    edges = []
    jtaken: set[str] = set()
    welded: set = set()  # bodies a fixed joint welds to the world
    for p in prims:
        if not p.IsA(UsdPhysics.Joint):
            continue
        j = UsdPhysics.Joint(p)
        targets = []
        for rel in (j.GetBody0Rel(), j.GetBody1Rel()):
            t = rel.GetTargets()
            targets.append(t[0] if t else None)
        ok = True
        for side, t in zip(("body0", "body1"), targets):
            if t is None:
                continue
            tp = stage.GetPrimAtPath(t)
            if not tp or not tp.IsValid():
                bad_bodies.append(f"joint {p.GetPath()} {side} targets {t}, which does not exist")
                ok = False
            elif t not in name_of:
                bad_bodies.append(f"joint {p.GetPath()} {side} targets {t}, which is not a rigid body")
                ok = False
        if all(t is None for t in targets):
            bad_bodies.append(f"joint {p.GetPath()} has neither body0 nor body1")
            ok = False
        if not ok:
            continue
        frames = []
        for t, pos, rot in ((targets[0], j.GetLocalPos0Attr().Get(), j.GetLocalRot0Attr().Get()),
                            (targets[1], j.GetLocalPos1Attr().Get(), j.GetLocalRot1Attr().Get())):
            F = np.eye(4)
            F[:3, :3] = _quat(rot) if rot is not None else np.eye(3)
            F[:3, 3] = (np.asarray(pos, np.float64) if pos is not None else np.zeros(3)) * mpu
            B = T_body.get(t, np.eye(4)) if t is not None else np.eye(4)
            frames.append(B @ F)
        dpos = float(np.linalg.norm(frames[0][:3, 3] - frames[1][:3, 3]))
        dR = frames[0][:3, :3].T @ frames[1][:3, :3]
        drot = float(np.arccos(np.clip((np.trace(dR) - 1) / 2, -1, 1)))
        is_fixed = p.IsA(UsdPhysics.FixedJoint)
        axis_tok = j.GetPrim().GetAttribute("physics:axis").Get() if not is_fixed else None
        if dpos > FRAME_POS_TOL_M or (drot > FRAME_ROT_TOL_RAD and not _only_about_axis(dR, axis_tok)):
            frame_reasons.append(f"joint {p.GetPath()}: its frame from body0 and from body1 differ by "
                                 f"{dpos:.3g} m and {np.degrees(drot):.3g} deg at rest")
        kind = ("revolute" if p.IsA(UsdPhysics.RevoluteJoint) else "prismatic" if p.IsA(UsdPhysics.PrismaticJoint)
                else "fixed" if is_fixed else None)
        for name in ("angular", "linear"):
            if p.HasAPI(UsdPhysics.DriveAPI, name):
                mf = UsdPhysics.DriveAPI(p, name).GetMaxForceAttr()
                v = mf.Get() if mf.HasAuthoredValue() else None
                if v is None or not np.isfinite(v) or v <= 0:
                    force_reasons.append(f"joint {p.GetPath()}: {name} drive has no finite positive maxForce "
                                         f"({'unset' if v is None else v})")
        if kind is None:
            notes.append(f"joint {p.GetPath()} ({p.GetTypeName()}) is not revolute, prismatic or fixed: "
                         "left out of the physics checks")
            continue
        if targets[0] is None or targets[1] is None:
            if kind == "fixed":  # a weld to the world: the asset's base is fixed (Isaac Lab's fix_base)
                welded.update(t for t in targets if t is not None)
                notes.append(f"joint {p.GetPath()} welds {name_of[targets[1] or targets[0]]} to the world: "
                             "the base is fixed")
            else:
                notes.append(f"joint {p.GetPath()} attaches a body to the world: the physics checks treat "
                             "that body as free")
            for t in targets:
                if t is not None:
                    linked.add(t)
            continue
        linked.update(targets)
        edges.append((targets[0], targets[1]))
        F1 = frames[1]
        axis = F1[:3, :3] @ np.eye(3)["XYZ".index(axis_tok or "X")]
        lower = j.GetPrim().GetAttribute("physics:lowerLimit").Get()
        upper = j.GetPrim().GetAttribute("physics:upperLimit").Get()
        scale = np.pi / 180.0 if kind == "revolute" else mpu
        lo = -np.inf if lower is None or not np.isfinite(lower) else float(lower) * scale
        hi = np.inf if upper is None or not np.isfinite(upper) else float(upper) * scale
        if kind == "revolute" and not (np.isfinite(lo) and np.isfinite(hi)):
            kind = "continuous"
        name = safe_name(p.GetName(), jtaken)
        effort = 100.0
        dname = "angular" if kind in ("revolute", "continuous") else "linear"
        if kind != "fixed" and p.HasAPI(UsdPhysics.DriveAPI, dname):
            d = UsdPhysics.DriveAPI(p, dname)
            per = 180.0 / np.pi if dname == "angular" else 1.0
            mf = d.GetMaxForceAttr().Get()
            effort = float(mf) if mf is not None and np.isfinite(mf) and mf > 0 else effort
            tgt = d.GetTargetPositionAttr().Get() or 0.0
            drives[name] = Drive(joint=name, kind=dname, stiffness=float(d.GetStiffnessAttr().Get() or 0.0) * per,
                                 damping=float(d.GetDampingAttr().Get() or 0.0) * per,
                                 target=float(tgt) * (np.pi / 180.0 if dname == "angular" else mpu), max_force=effort)
        joints.append(Joint(name, kind, name_of[targets[0]], name_of[targets[1]], origin=F1[:3, 3].copy(),
                            axis=axis, lower=lo, upper=hi, effort=effort))
    checks.append(check("joint_bodies", bad_bodies, {"bad_targets": len(bad_bodies)}))
    checks.append(check("joint_frames", frame_reasons, {"mismatched": len(frame_reasons)},
                        {"position_m": FRAME_POS_TOL_M, "rotation_rad": FRAME_ROT_TOL_RAD}))
    checks.append(check("drive_max_force", force_reasons, {"unset": len(force_reasons)}))
    unlinked = [str(b) for b in name_of if b not in linked] if len(name_of) > 1 else []
    checks.append(check("joint_connected", [f"rigid body {b} has no joint in a multi-body asset" for b in unlinked],
                        {"bodies": len(name_of), "without_joint": len(unlinked)}))
    checks.append(_articulation_roots(stage, prims, name_of, edges))
    children = {b for _, b in edges}
    fixed_base = any(b not in children for b in welded)  # the articulation's root is welded down
    asset = build_asset(root.GetName() or path.stem, bodies, joints, drives, str(path), fixed_base=fixed_base)
    return ReadResult(asset=asset, checks=checks, format="usd", notes=notes, densities=densities)


def _material_density(stage, body, name_of) -> float | None:
    """Density of the physics material bound to the body's first collider (or the body), if any."""
    from pxr import Usd, UsdPhysics, UsdShade

    for prim in Usd.PrimRange(body):
        if prim != body and prim.GetPath() in name_of:
            continue
        if prim == body or prim.HasAPI(UsdPhysics.CollisionAPI):
            mat = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial("physics")[0]
            if mat and mat.GetPrim().HasAPI(UsdPhysics.MaterialAPI):
                d = UsdPhysics.MaterialAPI(mat.GetPrim()).GetDensityAttr().Get()
                if d:
                    return float(d)
    return None


def _only_about_axis(dR: np.ndarray, axis_tok) -> bool:
    """True when the rotation between the two joint frames is a rotation about the joint axis
    (a revolute joint authored away from its zero: the frames then differ by the joint angle)."""
    return False if axis_tok is None else bool(
        np.linalg.norm(dR @ np.eye(3)["XYZ".index(axis_tok)] - np.eye(3)["XYZ".index(axis_tok)]) < FRAME_ROT_TOL_RAD)


def _union(hulls: list[Mesh]) -> Mesh:
    verts, faces, off = [], [], 0
    for h in hulls:
        verts.append(h.vertices)
        faces.append(h.faces + off)
        off += len(h.vertices)
    return Mesh(np.concatenate(verts), np.concatenate(faces))


def _articulation_roots(stage, prims, name_of: dict, edges: list) -> "object":
    """``articulation_root``: one ArticulationRootAPI per connected tree of two or more bodies."""
    from pxr import UsdPhysics

    parent = {b: b for b in name_of}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    comps: dict = {}
    for b in name_of:
        comps.setdefault(find(b), []).append(b)
    roots = [p for p in prims if p.HasAPI(UsdPhysics.ArticulationRootAPI)]
    reasons = []
    count = {c: [] for c in comps}
    for r in roots:
        covered = {find(b) for b in name_of if b.HasPrefix(r.GetPath())}
        for c in covered:
            count[c].append(str(r.GetPath()))
    for c, members in comps.items():
        if len(members) < 2:
            continue
        if len(count[c]) > 1:
            reasons.append(f"articulation of {len(members)} bodies has {len(count[c])} articulation roots "
                           f"({', '.join(count[c])}); one is allowed")
        elif not count[c]:
            reasons.append(f"jointed bodies {', '.join(str(m) for m in members[:4])} have no articulation root "
                           "(PhysxArticulation needs PhysicsArticulationRootAPI on the root body or an ancestor)")
    return check("articulation_root", reasons, {"roots": [str(r.GetPath()) for r in roots],
                                                 "trees": sum(1 for m in comps.values() if len(m) > 1)})
