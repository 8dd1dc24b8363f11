"""MJCF keyframes of motion clips: one ``<key>`` per clip frame (MuJoCo XML reference, "keyframe").

Each frame of each clip in ``asset.motion_clips`` becomes ``<key name="<clip>_<frame>" time=...
qpos=... ctrl=...>``: ``time`` the frame's time in its clip (s); ``qpos`` laid out as the compiled
model's (``jnt_qposadr``): a root body's free joint takes the clip's root pose (the body origin
moved by it, metres, and its quaternion w, x, y, z, MuJoCo's order too), a hinge or slide its
joint coordinate (rad or m; untracked joints 0); ``ctrl`` the drive actuators' targets (the
clip's commanded coordinate where it has one, else the recorded coordinate, so replaying a key
with its control holds the frame). ``mj_resetDataKeyframe`` then poses the model at any frame.
Skeletal rotations and per-frame vertices have no MJCF counterpart and are not written; with
``fixed_base`` the root bodies have no free joint and the root pose is dropped.

This module only adds keys to a spec built by :mod:`.mjcf`; it writes no file.
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Asset
from n4d4d.kinematics import joint_names, kinematic_tree, safe_name


def add_keyframes(spec, asset: Asset) -> int:
    """Add one key per clip frame to ``spec`` (a :func:`.mjcf.build_spec` result); returns the
    number of keys added. Compiles the spec once to read the qpos layout; raises ValueError
    (MuJoCo's) when it does not compile."""
    import mujoco

    if not asset.motion_clips:
        return 0
    model = spec.compile()
    frames = kinematic_tree(asset)
    jn = joint_names(frames)  # asset joint name -> MJCF joint name
    qadr = {}
    for name, mj in jn.items():
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, mj)
        if jid >= 0:
            qadr[name] = int(model.jnt_qposadr[jid])
    free = []  # (qpos address, root frame origin) for root bodies with a free joint
    for f in frames:
        if f.joint is None:
            bid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f.name)
            j0 = int(model.body_jntadr[bid]) if bid >= 0 else -1
            if j0 >= 0 and model.jnt_type[j0] == mujoco.mjtJoint.mjJNT_FREE:
                free.append((int(model.jnt_qposadr[j0]), np.asarray(f.origin, np.float64)))
    ctrl_of = {}
    for name, mj in jn.items():
        aid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, f"{mj}_drive")
        if aid >= 0:
            ctrl_of[name] = aid
    taken: set[str] = set()
    added = 0
    for clip in asset.motion_clips:
        times = np.asarray(clip.times, np.float64)
        base = safe_name(clip.name, taken)
        root = None if clip.root_poses is None else np.asarray(clip.root_poses, np.float64)
        if root is not None:
            from n4d4d.kinematics import root_matrices

            R = root_matrices(root)
        for k, t in enumerate(times):
            qpos = np.array(model.qpos0, np.float64)
            for adr, origin in free:
                if root is None:
                    qpos[adr:adr + 3] = origin
                    qpos[adr + 3:adr + 7] = [1.0, 0.0, 0.0, 0.0]
                else:
                    qpos[adr:adr + 3] = R[k, :3, :3] @ origin + R[k, :3, 3]
                    qpos[adr + 3:adr + 7] = root[k, 3:7] / np.linalg.norm(root[k, 3:7])
            for name, adr in qadr.items():
                if name in clip.joint_positions:
                    qpos[adr] = float(np.asarray(clip.joint_positions[name])[k])
            ctrl = np.zeros(model.nu)
            for name, aid in ctrl_of.items():
                src = clip.commanded_positions.get(name, clip.joint_positions.get(name))
                ctrl[aid] = 0.0 if src is None else float(np.asarray(src)[k])
            key = spec.add_key()
            key.name, key.time = f"{base}_{k:04d}", float(t - times[0])
            key.qpos = qpos
            if model.nu:
                key.ctrl = ctrl
            added += 1
    return added
