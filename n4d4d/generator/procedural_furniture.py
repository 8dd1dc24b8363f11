"""Procedural furniture families: cabinet with doors and drawers, box with hinged lid, table, chair.

Each builder takes a ``numpy.random.Generator`` and returns ``(parts, joints, params)`` for
:func:`n4d4d.generator.procedural.make_shape` (which unions, centres and checks the result). Frame:
Z up, front towards ``-y``, metres; joint limits in rad (revolute) or m (prismatic). Doors, drawers
and lids sit closed at rest and overlap their body by ``EPS`` so the union is one volume.
"""

from __future__ import annotations

import numpy as np

from n4d4d.generator.procedural import box, capsule, cylinder, family, joint

EPS = 0.003  # m, overlap between a movable part and its body at rest


@family("cabinet")
def cabinet(rng: np.random.Generator):
    w, d, h = rng.uniform(0.4, 1.2), rng.uniform(0.3, 0.6), rng.uniform(0.5, 1.8)
    t = rng.uniform(0.015, 0.03)  # wall thickness
    n_drawers = int(rng.integers(0, 4))
    n_doors = int(rng.integers(1, 3)) if n_drawers < 3 else int(rng.integers(0, 2))
    body = [box([-w / 2, -d / 2, 0], [-w / 2 + t, d / 2, h]), box([w / 2 - t, -d / 2, 0], [w / 2, d / 2, h]),
            box([-w / 2, -d / 2, 0], [w / 2, d / 2, t]), box([-w / 2, -d / 2, h - t], [w / 2, d / 2, h]),
            box([-w / 2, d / 2 - t, 0], [w / 2, d / 2, h])]
    parts, joints = {"body": body}, []
    drawer_h = (h - 2 * t) / (n_drawers + (2 if n_doors else 0)) if n_drawers else 0.0
    handle_r = 0.008
    for i in range(n_drawers):
        z0 = t + i * drawer_h
        front = box([-w / 2 + EPS, -d / 2 - t, z0 + EPS], [w / 2 - EPS, -d / 2 + EPS, z0 + drawer_h - EPS])
        tray = [box([-w / 2 + 2 * t, -d / 2, z0 + EPS], [w / 2 - 2 * t, d / 2 - 2 * t, z0 + EPS + t]),
                box([-w / 2 + 2 * t, d / 2 - 3 * t, z0], [w / 2 - 2 * t, d / 2 - 2 * t, z0 + 0.7 * drawer_h])]
        zc = z0 + drawer_h / 2
        handle = cylinder([-0.1 * w, -d / 2 - t - 0.02, zc], [0.1 * w, -d / 2 - t - 0.02, zc], handle_r)
        posts = [cylinder([s * 0.1 * w, -d / 2 - t + EPS, zc], [s * 0.1 * w, -d / 2 - t - 0.02, zc], handle_r)
                 for s in (-1, 1)]
        name = f"drawer_{i}"
        parts[name] = [front, *tray, handle, *posts]
        joints.append(joint(f"{name}_slide", "prismatic", "body", name, [0, -d / 2, zc], [0, -1, 0],
                            0.0, 0.8 * (d - 3 * t)))
    if n_doors:
        z0, z1 = t + n_drawers * drawer_h, h - t
        shelf = box([-w / 2, -d / 2 + t, (z0 + z1) / 2 - t / 2], [w / 2, d / 2, (z0 + z1) / 2 + t / 2])
        parts["body"].append(shelf)
        edges = [(-w / 2, w / 2)] if n_doors == 1 else [(-w / 2, 0.0), (0.0, w / 2)]
        for i, (x0, x1) in enumerate(edges):
            hinge_left = n_doors == 1 and rng.random() < 0.5 or (n_doors == 2 and i == 0)
            door = box([x0 + EPS, -d / 2 - t, z0 + EPS], [x1 - EPS, -d / 2 + EPS, z1 - EPS])
            hx = x1 - 0.05 if hinge_left else x0 + 0.05
            zc = z0 + 0.5 * (z1 - z0)
            knob = cylinder([hx, -d / 2 - t + EPS, zc], [hx, -d / 2 - t - 0.025, zc], 0.012)
            name = f"door_{i}"
            parts[name] = [door, knob]
            hinge = [x0, -d / 2 - t / 2, z0] if hinge_left else [x1, -d / 2 - t / 2, z0]
            axis = [0, 0, -1] if hinge_left else [0, 0, 1]  # positive angle swings the door outwards (-y)
            joints.append(joint(f"{name}_hinge", "revolute", "body", name, hinge, axis, 0.0, np.pi / 2))
    return parts, joints, {"width": w, "depth": d, "height": h, "wall": t, "drawers": n_drawers, "doors": n_doors}


@family("lidded_box")
def lidded_box(rng: np.random.Generator):
    w, d, h = rng.uniform(0.1, 0.6), rng.uniform(0.1, 0.5), rng.uniform(0.06, 0.4)
    t = min(w, d, h) * rng.uniform(0.06, 0.12)
    lid_t = t * rng.uniform(1.0, 1.6)
    body = [box([-w / 2, -d / 2, 0], [w / 2, d / 2, t]),
            box([-w / 2, -d / 2, 0], [-w / 2 + t, d / 2, h]), box([w / 2 - t, -d / 2, 0], [w / 2, d / 2, h]),
            box([-w / 2, -d / 2, 0], [w / 2, -d / 2 + t, h]), box([-w / 2, d / 2 - t, 0], [w / 2, d / 2, h])]
    lid = [box([-w / 2, -d / 2, h - EPS], [w / 2, d / 2, h + lid_t])]
    if rng.random() < 0.5:  # a knob on the lid
        lid.append(cylinder([0, -d / 3, h + lid_t - EPS], [0, -d / 3, h + lid_t + 0.4 * h / 3], min(w, d) * 0.05))
    hinge = [0.0, d / 2, h]
    # the lid opens upwards about the back edge: positive angle about -x lifts its front
    joints = [joint("lid_hinge", "revolute", "body", "lid", hinge, [-1, 0, 0], 0.0, rng.uniform(1.6, 2.0))]
    return {"body": body, "lid": lid}, joints, {"width": w, "depth": d, "height": h, "wall": t, "lid": lid_t}


@family("table")
def table(rng: np.random.Generator):
    h = rng.uniform(0.4, 1.1)
    top_t = rng.uniform(0.02, 0.05)
    round_top = rng.random() < 0.35
    if round_top:
        r = rng.uniform(0.3, 0.7)
        top = cylinder([0, 0, h - top_t], [0, 0, h], r, sections=64)
        if rng.random() < 0.5:
            legs = [cylinder([0, 0, 0.02], [0, 0, h - top_t + EPS], rng.uniform(0.03, 0.06)),
                    cylinder([0, 0, 0], [0, 0, 0.03], 0.6 * r)]
            params = {"height": h, "radius": r, "pedestal": 1, "top": top_t}
        else:
            a = 0.6 * r
            legs = [capsule([a * np.cos(t), a * np.sin(t), 0.02], [a * np.cos(t), a * np.sin(t), h - top_t], 0.02)
                    for t in np.pi / 2 * np.arange(4) + np.pi / 4]
            params = {"height": h, "radius": r, "pedestal": 0, "top": top_t}
    else:
        w, d = rng.uniform(0.5, 1.8), rng.uniform(0.4, 1.0)
        top = box([-w / 2, -d / 2, h - top_t], [w / 2, d / 2, h])
        lw = rng.uniform(0.03, 0.07)
        inset = rng.uniform(0.02, 0.08)
        legs = [box([sx * (w / 2 - inset) - lw / 2, sy * (d / 2 - inset) - lw / 2, 0],
                    [sx * (w / 2 - inset) + lw / 2, sy * (d / 2 - inset) + lw / 2, h - top_t + EPS])
                for sx in (-1, 1) for sy in (-1, 1)]
        params = {"height": h, "width": w, "depth": d, "leg": lw, "top": top_t}
    return {"top": [top], "legs": legs}, [joint("top_legs", "fixed", "legs", "top", [0, 0, h - top_t], [0, 0, 1])], params


@family("chair")
def chair(rng: np.random.Generator):
    sw, sd = rng.uniform(0.38, 0.55), rng.uniform(0.38, 0.55)
    sh, st = rng.uniform(0.38, 0.5), rng.uniform(0.03, 0.07)
    bh = rng.uniform(0.3, 0.55)
    swivel = rng.random() < 0.3
    seat = [box([-sw / 2, -sd / 2, sh - st], [sw / 2, sd / 2, sh]),
            box([-sw / 2, sd / 2 - 0.03, sh - EPS], [sw / 2, sd / 2, sh + bh])]
    if rng.random() < 0.4:  # armrests
        for s in (-1, 1):
            seat.append(box([s * sw / 2 - 0.02, -sd / 2 + 0.05, sh + 0.18], [s * sw / 2 + 0.02, sd / 2, sh + 0.21]))
            seat.append(box([s * sw / 2 - 0.015, -sd / 2 + 0.07, sh - EPS], [s * sw / 2 + 0.015, -sd / 2 + 0.1, sh + 0.2]))
    if swivel:
        base = [cylinder([0, 0, 0.06], [0, 0, sh - st + EPS], 0.025)]
        for a in 2 * np.pi * np.arange(5) / 5:
            tip = [0.3 * np.cos(a), 0.3 * np.sin(a), 0.03]
            base.append(capsule([0, 0, 0.06], tip, 0.02))
        joints = [joint("seat_swivel", "continuous", "base", "seat", [0, 0, sh - st], [0, 0, 1])]
        parts = {"base": base, "seat": seat}
    else:
        lw = rng.uniform(0.025, 0.045)
        for sx in (-1, 1):
            for sy in (-1, 1):
                x, y = sx * (sw / 2 - lw), sy * (sd / 2 - lw)
                seat.append(box([x - lw / 2, y - lw / 2, 0], [x + lw / 2, y + lw / 2, sh - st + EPS]))
        joints, parts = [], {"seat": seat}
    return parts, joints, {"seat_width": sw, "seat_depth": sd, "seat_height": sh, "back_height": bh,
                           "swivel": int(swivel)}
