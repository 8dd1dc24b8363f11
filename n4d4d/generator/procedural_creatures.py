"""Procedural creatures: a four-legged ``animal`` and a two-legged ``figure``, as capsule-and-ellipsoid bodies.

Each builder takes a ``numpy.random.Generator`` and returns ``(parts, joints, params)`` for
:func:`n4d4d.generator.procedural.make_shape`. Frame: Z up, facing ``-y``, metres. Joints are
revolute hinges at the limb roots and knees/elbows (limits in rad), a skeleton-like articulation the
rigging stage can check its inferred joints against. Limbs overlap their parent at the joint.
"""

from __future__ import annotations

import numpy as np

from n4d4d.generator.procedural import capsule, ellipsoid, family, joint

X, Y = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])


def _limb(name, parent, hip, knee, foot, radius, parts, joints, axis=X, lim=(-0.8, 0.8), knee_lim=(-1.4, 0.0)):
    """Upper and lower segment capsules with a hinge at the root and one at the knee / elbow."""
    parts[f"{name}_upper"] = [capsule(hip, knee, radius)]
    parts[f"{name}_lower"] = [capsule(knee, foot, radius * 0.85), ellipsoid(knee, [radius * 1.05] * 3)]
    joints.append(joint(f"{name}_root", "revolute", parent, f"{name}_upper", hip, axis, *lim))
    joints.append(joint(f"{name}_knee", "revolute", f"{name}_upper", f"{name}_lower", knee, axis, *knee_lim))


@family("animal")
def quadruped(rng: np.random.Generator):
    L = rng.uniform(0.3, 1.2)  # body length
    rb = L * rng.uniform(0.14, 0.22)  # body half-height
    leg = L * rng.uniform(0.45, 0.8)
    lr = rb * rng.uniform(0.22, 0.35)
    zb = leg + rb * 0.6  # body centre height
    parts = {"torso": [ellipsoid([0, 0, zb], [rb * rng.uniform(0.8, 1.1), L / 2, rb])]}
    joints: list = []
    neck_base = np.array([0, -0.4 * L, zb + 0.3 * rb])
    head_c = neck_base + np.array([0, -0.2 * L, rng.uniform(0.2, 0.45) * L])
    hr = rb * rng.uniform(0.5, 0.75)
    parts["head"] = [capsule(neck_base, head_c, rb * 0.35), ellipsoid(head_c, [hr * 0.8, hr * 1.3, hr * 0.8]),
                     ellipsoid(head_c + [0, -hr * 1.1, -hr * 0.2], [hr * 0.5, hr * 0.7, hr * 0.45])]
    joints.append(joint("neck", "revolute", "torso", "head", neck_base, X, -0.6, 0.6))
    tail_base = np.array([0, 0.48 * L, zb + 0.2 * rb])
    parts["tail"] = [capsule(tail_base, tail_base + [0, 0.3 * L, rng.uniform(-0.1, 0.25) * L], lr * 0.5)]
    joints.append(joint("tail", "revolute", "torso", "tail", tail_base, X, -0.8, 0.8))
    # Hip range: a leg swung towards the other leg of its side stops short of it (its foot
    # travels H sin(q) along y, H the hip height; the other leg stands 0.64 L away; a leg and
    # its knee are ~1.5 lr across): the whole +-0.8 rad drove a long-legged animal's front
    # foot 17 mm into its hind leg.
    swing = min(0.8, 0.9 * float(np.arcsin(np.clip((0.64 * L - 3.0 * lr) / (zb - 0.3 * rb), 0.0, 1.0))))
    for side, sx in (("left", -1), ("right", 1)):
        for end, sy in (("front", -1), ("hind", 1)):
            hip = np.array([sx * rb * 0.6, sy * 0.32 * L, zb - 0.3 * rb])
            # the knee rests over-straightened, its segments 0.06-0.12 rad past straight, on
            # its stop at 0 (the side away from its flexion: front knees flex the foot back,
            # hind knees forward): the body's weight presses it into the joint limit, which
            # carries the load in any engine, as a horse's stay apparatus locks its stifle. A
            # knee bent the other way had only its servo to carry the body, tuned to the leg's
            # own inertia (stiffness ~ L^5 against a load ~ L^4): small animals' knees buckled.
            # Flexing passes the straight leg first, lowering the foot D theta^2 / 8 (under
            # 1.8 mm, inside the sweeps' 2 mm ground clearance), then lifts it.
            D = hip[2] - lr
            knee = hip + [0, -sy * 0.5 * D * np.tan(0.5 * rng.uniform(0.06, 0.12)), -0.5 * D]
            foot = np.array([hip[0], hip[1], lr])
            _limb(f"{end}_{side}_leg", "torso", hip, knee, foot, lr, parts, joints,
                  lim=(-0.8, swing) if end == "front" else (-swing, 0.8),
                  knee_lim=(0.0, 1.4) if end == "front" else (-1.4, 0.0))
    return parts, joints, {"length": L, "body_radius": rb, "leg_length": leg, "leg_radius": lr}


@family("figure")
def biped(rng: np.random.Generator):
    H = rng.uniform(0.3, 1.9)  # height
    leg, torso = H * rng.uniform(0.42, 0.5), H * rng.uniform(0.28, 0.34)
    hw = H * rng.uniform(0.08, 0.12)  # half width of hips / shoulders
    lr = H * rng.uniform(0.025, 0.04)  # limb radius
    z_hip = leg + lr
    z_sh = z_hip + torso
    parts = {"torso": [ellipsoid([0, 0, (z_hip + z_sh) / 2], [hw * 1.15, hw * 0.6, torso * 0.58])]}
    head_r = H * rng.uniform(0.06, 0.075)
    neck = np.array([0, 0, z_sh])
    parts["head"] = [capsule(neck - [0, 0, 0.02 * H], neck + [0, 0, 0.05 * H], lr * 0.9),
                     ellipsoid(neck + [0, 0, 0.05 * H + head_r], [head_r * 0.85, head_r * 0.95, head_r])]
    joints: list = [joint("neck", "revolute", "torso", "head", neck, Y, -0.5, 0.5)]
    arm = H * rng.uniform(0.3, 0.38)
    for side, sx in (("left", -1), ("right", 1)):
        hip = np.array([sx * hw * 0.55, 0, z_hip])
        knee = hip + [0, -0.02 * H, -leg * 0.5]
        foot = np.array([hip[0], 0.0, lr])
        _limb(f"{side}_leg", "torso", hip, knee, foot, lr, parts, joints, X, (-1.2, 0.8), (0.0, 2.0))
        parts[f"{side}_leg_lower"].append(ellipsoid([hip[0], -lr * 1.5, lr], [lr * 1.2, lr * 2.5, lr]))
        sh = np.array([sx * hw * 1.1, 0, z_sh - lr * 1.5])
        el = sh + [sx * arm * 0.1, 0.02 * H, -arm * 0.48]
        hand = el + [sx * arm * 0.05, -0.05 * H, -arm * 0.45]
        _limb(f"{side}_arm", "torso", sh, el, hand, lr * 0.8, parts, joints, X, (-2.5, 1.0), (-2.0, 0.0))
    return parts, joints, {"height": H, "leg_length": leg, "torso_length": torso, "arm_length": arm}
