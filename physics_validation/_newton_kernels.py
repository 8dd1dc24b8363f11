"""Warp kernels of the Newton checks (private): an explicit joint PD drive that follows a target
table, recording the joint states it acts on, and the per-world total force of the ground on
the asset.

Kept apart from the modules that use them because kernels are compiled per module: this module
imports warp at its top, so it is imported lazily (inside the functions that need it). The first
use on a machine compiles it (seconds, cached in Warp's kernel cache afterwards).
"""

import warp as wp

wp.config.log_level = max(wp.config.log_level, wp.LOG_WARNING)


@wp.kernel
def pd_drive(counter: wp.array(dtype=wp.int32), table: wp.array2d(dtype=float), column: wp.array(dtype=wp.int32),
             q_index: wp.array(dtype=wp.int32), qd_index: wp.array(dtype=wp.int32), kp: wp.array(dtype=float),
             kd: wp.array(dtype=float), effort: wp.array(dtype=float), wrap: wp.array(dtype=wp.int32),
             joint_q: wp.array(dtype=float), joint_qd: wp.array(dtype=float), joint_f: wp.array(dtype=float),
             hist_q: wp.array2d(dtype=float), hist_qd: wp.array2d(dtype=float)):
    """One thread per driven DOF i. Step k = ``counter[0]``: target ``table[k, column[i]]`` (0
    where ``column[i] < 0``); torque (or force) ``clamp(kp (target - q) - kd qd, -effort,
    effort)`` into ``joint_f``; ``q``, ``qd`` (the state the torque was computed from) into row k
    of the histories. ``wrap[i]``: the position error is taken modulo 2 pi (continuous joints,
    whose coordinate Newton reports in (-pi, pi])."""
    i = wp.tid()
    k = counter[0]
    target = float(0.0)
    c = column[i]
    if c >= 0:
        target = table[k, c]
    q = joint_q[q_index[i]]
    qd = joint_qd[qd_index[i]]
    e = target - q
    if wrap[i] != 0:
        e = wp.atan2(wp.sin(e), wp.cos(e))
    joint_f[qd_index[i]] = wp.clamp(kp[i] * e - kd[i] * qd, -effort[i], effort[i])
    hist_q[k, i] = q
    hist_qd[k, i] = qd


@wp.kernel
def advance(counter: wp.array(dtype=wp.int32)):
    """Next step: ``counter[0] += 1``."""
    counter[0] = counter[0] + 1


@wp.kernel
def static_contact_force(count: wp.array(dtype=wp.int32), shape0: wp.array(dtype=wp.int32),
                         shape1: wp.array(dtype=wp.int32), force: wp.array(dtype=wp.spatial_vector),
                         shape_body: wp.array(dtype=wp.int32), shape_world: wp.array(dtype=wp.int32),
                         out: wp.array(dtype=wp.vec3)):
    """One thread per contact slot: the linear force of each active contact between a static
    shape (no body: the ground) and a body's shape in world w is added to ``out[w]``, as the force
    on the body. ``force`` is Newton's per-contact spatial force (linear part first) exerted on
    shape0's body by shape1's (``SolverBase.Observables.contact_f``)."""
    i = wp.tid()
    if i >= count[0]:
        return
    a = shape0[i]
    b = shape1[i]
    if a < 0 or b < 0:
        return
    f = wp.spatial_top(force[i])
    if shape_body[a] < 0 and shape_body[b] >= 0:
        wp.atomic_add(out, shape_world[b], -f)
    elif shape_body[b] < 0 and shape_body[a] >= 0:
        wp.atomic_add(out, shape_world[a], f)
