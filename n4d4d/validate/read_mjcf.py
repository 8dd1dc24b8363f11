"""MJCF reader of ``n4d4d validate`` (see :mod:`.read`) through ``mujoco.MjModel``:
MuJoCo compiles the XML (its own validation), then bodies, colliding geoms, joints and
position actuators are read from the compiled model at ``qpos0`` (``mj_forward``).

Rules: ``collider`` (every body with positive mass has a geom with ``contype`` or
``conaffinity`` set), ``actuator_force_range`` (every actuator has ``forcelimited`` and a
non-empty force range, the drive's max force). Colliding geoms become hulls: meshes as MuJoCo
stores them (the convex hull MuJoCo collides with, when it computed one), primitives through
trimesh. Hinge and slide joints are read; ball and free joints are not joints of the asset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from n4d4d.asset import Drive, Joint, Mesh
from n4d4d.errors import InputError
from n4d4d.kinematics import safe_name

from .read import ReadResult, build_asset, check, mass_record, primitive


def read_mjcf(path: Path) -> ReadResult:
    """Read the MJCF at ``path`` (module docstring). Raises InputError when MuJoCo rejects it."""
    import mujoco

    try:
        model = mujoco.MjModel.from_xml_path(str(path))
    except Exception as e:  # MuJoCo raises ValueError with its parser's message
        raise InputError(f"MuJoCo rejects the model: {e}", path) from e
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    taken: set[str] = set()
    names = {}
    for b in range(1, model.nbody):
        names[b] = safe_name(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) or f"body_{b}", taken)
    bodies, no_col = {}, []
    for b in range(1, model.nbody):
        hulls = []
        for g in range(model.ngeom):
            if model.geom_bodyid[g] != b or not (model.geom_contype[g] or model.geom_conaffinity[g]):
                continue
            m = _geom_mesh(model, g)
            if m is not None:
                Rg, tg = data.geom_xmat[g].reshape(3, 3), data.geom_xpos[g]
                hulls.append(m.replace(vertices=m.vertices @ Rg.T + tg))
        mass = float(model.body_mass[b])
        Ri = data.ximat[b].reshape(3, 3)  # inertial frame (principal axes) in world
        I = Ri @ np.diag(model.body_inertia[b]) @ Ri.T
        bodies[names[b]] = {"hulls": hulls, "mass": mass_record(mass, data.xipos[b].copy(), I)}
        if mass > 0 and not hulls:
            no_col.append(names[b])
    checks = [check("collider", [f"body '{n}' has mass but no colliding geom" for n in no_col],
                    {"bodies": model.nbody - 1, "without_collider": len(no_col)})]
    joints, jname = [], {}
    jtaken: set[str] = set()
    for j in range(model.njnt):
        typ = int(model.jnt_type[j])
        if typ not in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            continue
        b = int(model.jnt_bodyid[j])
        parent = int(model.body_parentid[b])
        if parent == 0:
            continue  # a joint to the world: the body is the root
        kind = "prismatic" if typ == int(mujoco.mjtJoint.mjJNT_SLIDE) else "revolute"
        limited = bool(model.jnt_limited[j])
        lo, hi = (float(model.jnt_range[j, 0]), float(model.jnt_range[j, 1])) if limited else (-np.inf, np.inf)
        if kind == "revolute" and not limited:
            kind = "continuous"
        name = safe_name(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) or f"joint_{j}", jtaken)
        jname[j] = name
        effort = float(model.jnt_actfrcrange[j, 1]) if model.jnt_actfrclimited[j] else 100.0
        joints.append(Joint(name, kind, names[parent], names[b], origin=data.xanchor[j].copy(),
                            axis=data.xaxis[j].copy(), lower=lo, upper=hi, effort=effort if effort > 0 else 100.0))
    drives, force_reasons = {}, []
    for a in range(model.nu):
        aname = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, a) or f"actuator_{a}"
        lo, hi = model.actuator_forcerange[a]
        if not model.actuator_forcelimited[a] or not hi > lo:
            force_reasons.append(f"actuator '{aname}' has no force range (forcelimited, forcerange)")
        j = int(model.actuator_trnid[a, 0])
        if int(model.actuator_trntype[a]) == int(mujoco.mjtTrn.mjTRN_JOINT) and j in jname:
            kp = float(model.actuator_gainprm[a, 0])
            kv = -float(model.actuator_biasprm[a, 2])
            kind = "linear" if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_SLIDE) else "angular"
            drives[jname[j]] = Drive(joint=jname[j], kind=kind, stiffness=kp, damping=kv,
                                     max_force=float(hi) if hi > 0 else 100.0)
    checks.append(check("actuator_force_range", force_reasons, {"actuators": int(model.nu)}))
    name = bytes(model.names).split(b"\0", 1)[0].decode("utf-8", "replace") or path.stem  # the model name comes first
    # a body of the worldbody with no joint at all is welded to the world (MJCF's rule): a fixed base
    roots = [b for b in range(1, model.nbody) if int(model.body_parentid[b]) == 0]
    fixed_base = bool(roots) and all(int(model.body_jntnum[b]) == 0 for b in roots)
    asset = build_asset(name, bodies, joints, drives, str(path), fixed_base=fixed_base)
    return ReadResult(asset=asset, checks=checks, format="mjcf")


def _geom_mesh(model, g: int) -> Mesh | None:
    import mujoco

    typ, size = int(model.geom_type[g]), model.geom_size[g]
    if typ == int(mujoco.mjtGeom.mjGEOM_MESH):
        m = int(model.geom_dataid[g])
        va, vn = model.mesh_vertadr[m], model.mesh_vertnum[m]
        fa, fn = model.mesh_faceadr[m], model.mesh_facenum[m]
        # MuJoCo stores mesh vertices in the mesh's inertial frame, which geom_xpos/xmat place
        return Mesh(model.mesh_vert[va:va + vn].astype(np.float64), model.mesh_face[fa:fa + fn].astype(np.int64))
    if typ == int(mujoco.mjtGeom.mjGEOM_BOX):
        return primitive("box", {"extents": 2 * size})
    if typ == int(mujoco.mjtGeom.mjGEOM_SPHERE):
        return primitive("sphere", {"radius": size[0]})
    if typ in (int(mujoco.mjtGeom.mjGEOM_CYLINDER), int(mujoco.mjtGeom.mjGEOM_CAPSULE)):
        return primitive("cylinder" if typ == int(mujoco.mjtGeom.mjGEOM_CYLINDER) else "capsule",
                         {"radius": size[0], "length": 2 * size[1]})
    return None
