"""Procedural household objects: mug, bottle with a screw cap, desk lamp with three hinges.

Each builder takes a ``numpy.random.Generator`` and returns ``(parts, joints, params)`` for
:func:`n4d4d.generator.procedural.make_shape`. Frame: Z up, metres, limits in rad. Bodies of
revolution are revolved ``(r, z)`` profiles (closed, so watertight).
"""

from __future__ import annotations

import numpy as np

from n4d4d.generator.procedural import capsule, cylinder, difference, ellipsoid, family, joint, revolve, union

EPS = 0.002  # m, overlap between touching parts at rest


@family("mug")
def mug(rng: np.random.Generator):
    import trimesh

    r, h = rng.uniform(0.03, 0.06), rng.uniform(0.07, 0.14)
    wall, bottom = r * rng.uniform(0.08, 0.15), rng.uniform(0.006, 0.012)
    taper = rng.uniform(0.85, 1.1)  # top radius / bottom radius
    outer = revolve([[0, 0], [r, 0], [r * taper, h], [0, h]], sections=64)
    inner = revolve([[0, bottom], [r - wall, bottom], [r * taper - wall, h + 0.01], [0, h + 0.01]], sections=64)
    hr, tr = h * rng.uniform(0.25, 0.35), min(wall, r * 0.12) * rng.uniform(0.8, 1.2)
    handle = trimesh.creation.torus(major_radius=hr, minor_radius=tr, major_sections=48, minor_sections=16)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    handle.apply_translation([r * (1 + taper) / 2 + 0.4 * hr, 0, h * rng.uniform(0.45, 0.55)])
    body = difference(union([outer, handle]), inner)
    return {"mug": body}, [], {"radius": r, "height": h, "wall": wall, "taper": taper, "handle_radius": hr}


@family("bottle")
def bottle(rng: np.random.Generator):
    r, h = rng.uniform(0.025, 0.06), rng.uniform(0.15, 0.35)
    nr, nh = r * rng.uniform(0.3, 0.45), h * rng.uniform(0.08, 0.15)
    sh = h * rng.uniform(0.55, 0.75)  # shoulder start
    prof = [[0, 0], [r, 0], [r, sh], [nr, h - nh], [nr, h], [0, h]]
    if rng.random() < 0.5:  # a waist
        prof.insert(2, [r * 0.85, sh * 0.5])
    body = revolve(prof, sections=64)
    ch = nh * rng.uniform(0.6, 1.0)
    cap = cylinder([0, 0, h - ch], [0, 0, h + 0.3 * ch], nr * 1.15, sections=48)
    joints = [joint("cap_screw", "continuous", "body", "cap", [0, 0, h - ch], [0, 0, 1])]
    return {"body": body, "cap": cap}, joints, {"radius": r, "height": h, "neck_radius": nr, "cap_height": ch}


@family("lamp")
def lamp(rng: np.random.Generator):
    br, bh = rng.uniform(0.06, 0.12), rng.uniform(0.015, 0.035)
    l1, l2 = rng.uniform(0.2, 0.4), rng.uniform(0.2, 0.4)
    ar = rng.uniform(0.008, 0.015)
    a1 = rng.uniform(-0.35, 0.35)  # lower arm tilt from vertical (rad, towards +x)
    a2 = rng.uniform(0.6, 1.4)  # upper arm angle from vertical
    base = cylinder([0, 0, 0], [0, 0, bh], br, sections=64)
    p0 = np.array([0.0, 0.0, bh])
    p1 = p0 + l1 * np.array([np.sin(a1), 0, np.cos(a1)])
    p2 = p1 + l2 * np.array([np.sin(a2), 0, np.cos(a2)])
    lower = [capsule(p0 + [0, 0, -EPS], p1, ar), ellipsoid(p0, [2 * ar, 2.5 * ar, 2 * ar])]
    upper = [capsule(p1, p2, ar), ellipsoid(p1, [1.5 * ar, 2 * ar, 1.5 * ar])]
    sr, sl = rng.uniform(0.04, 0.09), rng.uniform(0.06, 0.14)
    t = sr * 0.12
    shade_prof = [[0, 0], [0.25 * sr, 0], [sr, -sl], [sr - t, -sl], [0.25 * sr - t, -t], [0, -t]]
    shade = revolve(shade_prof, sections=48, z0=p2[2] + 0.5 * ar)
    shade.apply_translation([p2[0], p2[1], 0])
    shade = [shade, ellipsoid(p2, [1.5 * ar, 2 * ar, 1.5 * ar])]
    y = [0, 1, 0]
    joints = [joint("base_arm", "revolute", "base", "lower_arm", p0, y, -0.6, 0.6),
              joint("elbow", "revolute", "lower_arm", "upper_arm", p1, y, -1.2, 1.0),
              joint("shade_tilt", "revolute", "upper_arm", "shade", p2, y, -0.8, 0.8)]
    parts = {"base": base, "lower_arm": lower, "upper_arm": upper, "shade": shade}
    return parts, joints, {"base_radius": br, "lower_arm": l1, "upper_arm": l2, "shade_radius": sr}
