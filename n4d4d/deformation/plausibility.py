"""Plausibility of a motion clip, measured: one :class:`~n4d4d.asset.CheckResult` per clip.

What is measured (bounds and their reasons: :class:`n4d4d.physics_validation.thresholds_motion.
MotionThresholds`), each frame posed by forward kinematics of the parts (their collision hulls,
what a simulator sees) or by the clip's per-frame vertices:

- joint limits: frames where a joint coordinate is past a finite limit by more than the
  tolerance (count, must be 0) and the largest excess (rad, m);
- ground: PhysDiff's Penetrate (deepest point below z = 0 over all frames, m) and Float (height
  of the lowest point in frames that should touch the ground: all of them, or a ``drop``'s
  resting tail, m);
- self-penetration between non-adjacent parts (hull overlap, m) and, for skinned clips, the share
  of surface that passes into itself, from the certificate's own swept check
  (:func:`n4d4d.physics_validation.penetration.check_motion_clips`) on at most
  :data:`SWEPT_FRAMES` evenly spaced frames;
- foot skating (GMD's ratio, scaled to the leg length) for assets with legs;
- root-mean-square jerk of the root position (m/s^3), the joint coordinates (rad/s^3, m/s^3) and
  the vertices (m/s^3), by third finite differences (reported, not bounded: contact impacts make
  it legitimately large);
- tracking: RMS of simulated minus commanded joint coordinates (reported) and, for
  ``articulate``, how far each joint stopped from each limit it was held at (bounded: a joint
  that stops short was blocked, or its drive is too weak);
- volume change of the per-frame mesh against the rest mesh (%, skinned and soft clips);
- a soft clip (:mod:`.soft`): inverted tetrahedra (must be 0, in the frames and in the solver steps
  between them), the tet mesh's volume change, the largest principal strain, and its recovery
  (final shape against the rest shape after the best rigid fit);
- a ``drop`` or ``soft`` clip ends at rest; a statically stable ``gait`` (three or more feet down in every
  frame) keeps the centre of mass over the support polygon (signed margin, m).

This module measures; it does not change a clip. Frames are those of the clip (no resampling).
"""

from __future__ import annotations

import time

import numpy as np

from n4d4d.asset import Asset, CheckResult, MotionClip

#: The swept self-penetration check runs on at most this many evenly spaced frames per clip (the
#: certificate runs it on every frame; here it is one figure among many).
SWEPT_FRAMES = 24


def _poses(asset: Asset, clip: MotionClip):
    from n4d4d.kinematics import kinematic_tree, part_poses

    frames = kinematic_tree(asset)
    return frames, part_poses(asset, frames, clip)


def lowest_points(asset: Asset, clip: MotionClip) -> np.ndarray:
    """Lowest z (m) of the asset in every frame, ``(T,)``: of the clip's vertices when it has them
    (and of a soft clip's tet nodes, :class:`.soft.SoftClip`), else of every part's collision hulls (or part mesh without hulls) posed by forward kinematics."""
    if clip.vertices is not None:
        low = np.asarray(clip.vertices)[:, :, 2].min(axis=1)
        nodes = getattr(clip, "tet_vertices", None)  # a soft clip: its tet nodes touch the ground too
        return low if nodes is None else np.minimum(low, np.asarray(nodes)[:, :, 2].min(axis=1))
    frames, poses = _poses(asset, clip)
    low = np.full(len(np.asarray(clip.times)), np.inf)
    for f in frames:
        hulls = asset.collision.get(f.part.name)
        pts = np.vstack([h.vertices for h in hulls]) if hulls else np.asarray(f.part.mesh.vertices)
        P = poses[f.name]
        z = np.einsum("tj,pj->tp", P[:, 2, :3], pts - f.origin) + P[:, 2, 3][:, None]
        low = np.minimum(low, z.min(axis=1))
    return low


def rms_jerk(x: np.ndarray, dt: float) -> float:
    """Root-mean-square third derivative of samples ``x (T, ...)`` taken every ``dt`` s (units of
    ``x`` per s^3); 0 for fewer than 4 samples."""
    x = np.asarray(x, np.float64)
    if len(x) < 4:
        return 0.0
    j = np.diff(x, n=3, axis=0) / dt ** 3
    if j.ndim > 2:
        j = np.linalg.norm(j, axis=-1)
    return float(np.sqrt(np.mean(j ** 2)))


def skating_ratio(feet: np.ndarray, dt: float, height_m: float, speed_m_s: float, window_s: float) -> float:
    """GMD's foot-skating ratio over feet ``(T, F, 3)`` sampled every ``dt`` s.

    As in GMD's evaluation code: a foot is in contact over a frame step when it is below
    ``height_m`` at both ends; it skates there when its horizontal speed over that step and its
    speed averaged over ``window_s`` (a centred moving average) both exceed ``speed_m_s``. The
    ratio is skating foot-steps over foot-steps in contact (the issue's "share of stance
    frames"; GMD divides by all frames); 0 when no foot is in contact.
    """
    feet = np.asarray(feet, np.float64)
    if len(feet) < 2:
        return 0.0
    speed = np.linalg.norm(np.diff(feet[:, :, :2], axis=0), axis=-1) / dt  # (T-1, F)
    avg = speed
    w = max(1, int(round(window_s / dt)))
    if w > 1:
        from scipy.ndimage import uniform_filter1d

        avg = uniform_filter1d(speed, size=w, axis=0, mode="constant")
    contact = (feet[1:, :, 2] < height_m) & (feet[:-1, :, 2] < height_m)
    n = int(contact.sum())
    return float((contact & (speed > speed_m_s) & (avg > speed_m_s)).sum() / n) if n else 0.0


def support_margin(com_xy: np.ndarray, feet_xy: np.ndarray) -> float:
    """Signed distance (m) of ``com_xy (2,)`` inside the convex polygon of ``feet_xy (n, 2)``:
    positive inside, negative outside (minus the distance to the nearest edge or point)."""
    from scipy.spatial import ConvexHull, QhullError

    p = np.asarray(feet_xy, np.float64)
    c = np.asarray(com_xy, np.float64)
    if len(p) >= 3:
        try:
            hull = ConvexHull(p)
            return float(-(hull.equations[:, :2] @ c + hull.equations[:, 2]).max())
        except QhullError:
            pass
    if len(p) == 0:
        return -np.inf
    best = np.inf
    for a in p:
        for b in p:
            ab = b - a
            t = np.clip(((c - a) @ ab) / max(float(ab @ ab), 1e-300), 0.0, 1.0)
            best = min(best, float(np.linalg.norm(c - (a + t * ab))))
    return -best


def centres_of_mass(asset: Asset, clip: MotionClip) -> np.ndarray | None:
    """``(T, 3)`` centre of mass per frame: mass-weighted part centres by forward kinematics (parts
    with mass properties), or the volume centroid of the per-frame mesh; None without either."""
    if clip.vertices is not None and asset.visual is not None:
        V = np.asarray(clip.vertices)
        f = np.asarray(asset.visual.faces)
        a, b, c = V[:, f[:, 0]], V[:, f[:, 1]], V[:, f[:, 2]]
        vol = np.einsum("tfi,tfi->tf", a, np.cross(b, c)) / 6.0
        return np.einsum("tf,tfi->ti", vol, (a + b + c) / 4.0) / vol.sum(axis=1, keepdims=True)
    if not asset.mass or any(p.name not in asset.mass for p in asset.parts):
        return None
    frames, poses = _poses(asset, clip)
    total, acc = 0.0, 0.0
    for f in frames:
        m = asset.mass[f.part.name]
        P = poses[f.name]
        acc = acc + m.mass * (np.einsum("tij,j->ti", P[:, :3, :3], np.asarray(m.center_of_mass) - f.origin) + P[:, :3, 3])
        total += m.mass
    return acc / total


def _holds(cmd: np.ndarray) -> list[int]:
    """Last frame of every run (3 frames or more) over which a commanded track is constant,
    except a run at the start (the rest pose before the drive moves)."""
    flat = np.concatenate([[False], np.abs(np.diff(cmd)) < 1e-9, [False]])
    edges = np.flatnonzero(np.diff(flat.astype(np.int8)))
    out = []
    for a, b in zip(edges[::2], edges[1::2]):  # flat steps a..b-1: frames a..b constant
        if b - a >= 2 and a > 0:
            out.append(int(b))
    return out


def clip_check(asset: Asset, clip: MotionClip, thresholds=None) -> CheckResult:
    """Every plausibility figure of one clip (module docstring) as a ``CheckResult`` named
    ``clip:<name>`` (``part`` = the clip's name; ``engine`` "pybullet" for simulated families).

    Raises:
        KinematicsError: a track does not match the asset (wrong length, unknown structure).
    """
    from n4d4d.physics_validation.thresholds import as_dict
    from n4d4d.physics_validation.thresholds_motion import MotionThresholds

    from .drop import at_rest
    from .legs import contact_tolerance, find_legs, foot_tracks

    th = thresholds or MotionThresholds()
    t0 = time.perf_counter()
    times = np.asarray(clip.times, np.float64)
    T = len(times)
    dt = float(np.median(np.diff(times))) if T > 1 else 1.0
    m: dict = {"frames": T, "duration_s": float(times[-1] - times[0]) if T else 0.0, "fps": 1.0 / dt}
    bounds: dict = {}
    reasons: list[str] = []
    details: dict = {"family": clip.family}
    joints = {j.name: j for j in asset.joints}

    # joint limits
    count, ex_rad, ex_m = 0, 0.0, 0.0
    for name, q in clip.joint_positions.items():
        j = joints.get(name)
        if j is None or j.type not in ("revolute", "prismatic") or not np.isfinite([j.lower, j.upper]).all():
            continue
        excess = np.maximum(np.asarray(q) - j.upper, j.lower - np.asarray(q)).clip(0.0)
        tol = th.limit_tolerance_m if j.type == "prismatic" else th.limit_tolerance_rad
        count += int((excess > tol).sum())
        if j.type == "prismatic":
            ex_m = max(ex_m, float(excess.max(initial=0.0)))
        else:
            ex_rad = max(ex_rad, float(excess.max(initial=0.0)))
    m.update(joint_limit_violations=count, max_limit_excess_rad=ex_rad, max_limit_excess_m=ex_m)
    bounds.update(joint_limit_violations=0, limit_tolerance_rad=th.limit_tolerance_rad,
                  limit_tolerance_m=th.limit_tolerance_m)
    if count:
        reasons.append(f"{count} joint-frames past a limit by more than the tolerance (max {ex_rad:.3g} rad, "
                       f"{1e3 * ex_m:.1f} mm)")

    # ground: penetration and float
    low = lowest_points(asset, clip)
    pen = float(np.maximum(0.0, -low).max(initial=0.0)) + 0.0  # + 0.0: no negative zero in reports
    pen_bound = th.max_ground_penetration_m
    resting = at_rest(times, clip.root_poses, th.rest_window_s, th.rest_linear_speed_m_s,
                      th.rest_angular_speed_rad_s) if clip.root_poses is not None and T > 1 else False
    released = clip.family in ("drop", "soft")  # touches the ground only once it has landed
    support = times >= times[-1] - th.rest_window_s - 1e-9 if released else np.ones(T, bool)
    flt = float(np.maximum(0.0, low[support]).max(initial=0.0))
    m.update(max_ground_penetration_m=pen, max_float_m=flt, worst_penetration_frame=int(np.argmin(low)))
    bounds.update(max_ground_penetration_m=pen_bound, max_float_m=th.max_float_m)
    if pen > pen_bound:
        reasons.append(f"frame {int(np.argmin(low))} goes {1e3 * pen:.1f} mm into the ground "
                       f"(bound {1e3 * pen_bound:.1f} mm)")
    if flt > th.max_float_m:
        reasons.append(f"floats {1e3 * flt:.1f} mm above the ground where it should touch it "
                       f"(bound {1e3 * th.max_float_m:.1f} mm)")
    if clip.family == "soft" and clip.vertices is not None:
        from .soft import nodes_at_rest

        pts = np.asarray(getattr(clip, "tet_vertices", None) if getattr(clip, "tet_vertices", None) is not None
                         else clip.vertices)
        resting = nodes_at_rest(pts[times >= times[-1] - th.rest_window_s - 1e-9], times, th.rest_window_s,
                                th.rest_linear_speed_m_s)
    if released:
        m["ends_at_rest"] = bool(resting)
        bounds["ends_at_rest"] = True
        if not resting:
            reasons.append(f"still moving at the end of the clip ({m['duration_s']:.1f} s)")

    # self-penetration (the certificate's swept check on sampled frames)
    m.update(max_link_overlap_m=None, max_self_penetration_fraction=None)
    if asset.collision and all(asset.collision.get(p.name) for p in asset.parts) and \
            all(p.name in asset.mass for p in asset.parts) and (len(asset.parts) > 1 or clip.vertices is not None):
        from n4d4d.physics_validation.penetration import check_motion_clips
        from n4d4d.physics_validation.rigid_model import rigid_model
        from n4d4d.physics_validation.thresholds import CertificateThresholds

        pick = np.unique(np.linspace(0, T - 1, min(T, SWEPT_FRAMES)).round().astype(int))
        sub = MotionClip(clip.name, times[pick], {k: np.asarray(v)[pick] for k, v in clip.joint_positions.items()},
                         None if clip.root_poses is None else np.asarray(clip.root_poses)[pick],
                         None if clip.vertices is None else np.asarray(clip.vertices)[pick])
        ct = CertificateThresholds()
        res = check_motion_clips(asset.replace(motion_clips=(sub,)), rigid_model(asset), ct).measured[clip.name]
        m.update(max_link_overlap_m=res["max_link_overlap_m"],
                 max_self_penetration_fraction=res["max_self_penetration_fraction"] if clip.vertices is not None else None)
        bounds.update(max_link_overlap_m=ct.max_link_penetration_m,
                      max_self_penetration_fraction=ct.max_self_penetration_fraction)
        if res["max_link_overlap_m"] > ct.max_link_penetration_m:
            reasons.append(f"non-adjacent parts overlap by {1e3 * res['max_link_overlap_m']:.1f} mm "
                           f"(bound {1e3 * ct.max_link_penetration_m:.1f} mm)")
        if clip.vertices is not None and res["max_self_penetration_fraction"] > ct.max_self_penetration_fraction:
            reasons.append(f"{100 * res['max_self_penetration_fraction']:.1f}% of the surface passes into itself "
                           f"(bound {100 * ct.max_self_penetration_fraction:.1f}%)")

    # feet: skating and support
    m.update(foot_skate_ratio=None, min_support_margin_m=None)
    legs, kind, why = find_legs(asset) if clip.family in ("gait", "idle", "imported", "") else ([], "", "")
    if legs:
        feet = foot_tracks(asset, clip, legs, kind)
        s = float(np.mean([leg.length for leg in legs])) / th.skate_reference_leg_m
        ratio = skating_ratio(feet, dt, th.skate_height_m * s, th.skate_speed_m_s * s, th.skate_window_s)
        m["foot_skate_ratio"] = ratio
        bounds.update(max_skate_ratio=th.max_skate_ratio, skate_height_m=th.skate_height_m * s,
                      skate_speed_m_s=th.skate_speed_m_s * s)
        details["feet"] = [leg.foot for leg in legs]
        if ratio > th.max_skate_ratio:
            reasons.append(f"feet skate in {100 * ratio:.1f}% of their ground frames (GMD ratio, bound "
                           f"{100 * th.max_skate_ratio:.0f}%)")
        down = feet[:, :, 2] <= contact_tolerance(asset) + 1e-9
        com = centres_of_mass(asset, clip)
        if com is not None and clip.family == "gait":
            margins = np.array([support_margin(com[t, :2], feet[t, down[t], :2]) for t in range(T)])
            m["min_support_margin_m"] = float(margins.min())
            details["stance_feet_per_frame"] = np.bincount(down.sum(axis=1), minlength=len(legs) + 1).tolist()
            if down.sum(axis=1).min() >= 3:  # statically stable by its footfalls: hold it to the bound
                bounds["min_support_margin_m"] = th.min_support_margin_m
                if margins.min() < th.min_support_margin_m:
                    reasons.append(f"centre of mass {1e3 * -margins.min():.1f} mm outside the support polygon at "
                                   f"frame {int(np.argmin(margins))} (bound {1e3 * -th.min_support_margin_m:.0f} mm)")
    elif why and clip.family in ("gait", "idle"):
        details["legs"] = why

    # jerk
    m["rms_jerk_root_m_s3"] = rms_jerk(np.asarray(clip.root_poses)[:, :3], dt) if clip.root_poses is not None else 0.0
    rev = [np.asarray(q) for n, q in clip.joint_positions.items() if n not in joints or joints[n].type != "prismatic"]
    pri = [np.asarray(q) for n, q in clip.joint_positions.items() if n in joints and joints[n].type == "prismatic"]
    m["rms_jerk_joints_rad_s3"] = rms_jerk(np.stack(rev, 1), dt) if rev else 0.0
    m["rms_jerk_joints_m_s3"] = rms_jerk(np.stack(pri, 1), dt) if pri else 0.0
    m["rms_jerk_vertices_m_s3"] = rms_jerk(clip.vertices, dt) if clip.vertices is not None else None

    # tracking and reach
    per_joint = {}
    reach_rad, reach_m = 0.0, 0.0
    for name, cmd in clip.commanded_positions.items():
        q, cmd = np.asarray(clip.joint_positions[name]), np.asarray(cmd)
        j = joints.get(name)
        entry = {"tracking_rms": float(np.sqrt(np.mean((q - cmd) ** 2))), "min_q": float(q.min()),
                 "max_q": float(q.max())}
        if clip.family == "articulate":
            short = [(int(k), float(cmd[k]), float(q[k])) for k in _holds(cmd)]
            entry["holds"] = [{"frame": k, "commanded": c, "reached": r} for k, c, r in short]
            worst = max((abs(c - r) for _, c, r in short), default=0.0)
            entry["max_reach_error"] = worst
            prismatic = j is not None and j.type == "prismatic"
            tol = th.reach_tolerance_m if prismatic else th.reach_tolerance_rad
            if prismatic:
                reach_m = max(reach_m, worst)
            else:
                reach_rad = max(reach_rad, worst)
            for k, c, r in short:
                if abs(c - r) > tol:
                    unit, scale = ("mm", 1e3) if prismatic else ("rad", 1.0)
                    reasons.append(f"joint '{name}' stopped {scale * abs(c - r):.3g} {unit} short of its commanded "
                                   f"{scale * c:.3g} {unit} at frame {k} (blocked, or its drive is too weak)")
                    entry["blocked"] = True
        per_joint[name] = entry
    if clip.commanded_positions:
        m["tracking_rms_max"] = max(e["tracking_rms"] for e in per_joint.values())
    if clip.family == "articulate":
        m.update(max_reach_error_rad=reach_rad, max_reach_error_m=reach_m)
        bounds.update(reach_tolerance_rad=th.reach_tolerance_rad, reach_tolerance_m=th.reach_tolerance_m)
    if per_joint:
        details["joints"] = per_joint

    # volume
    m["max_volume_change_pct"] = None
    if clip.vertices is not None and asset.visual is not None:
        from .skinning import mesh_volumes

        v0 = float(mesh_volumes(asset.visual.vertices, asset.visual.faces))
        vol = mesh_volumes(clip.vertices, asset.visual.faces)
        change = float(np.abs(vol / v0 - 1.0).max() * 100.0) if v0 > 0 else float("inf")
        m["max_volume_change_pct"] = change
        bounds["max_volume_change_pct"] = th.max_volume_change_pct
        if change > th.max_volume_change_pct:
            reasons.append(f"the mesh's volume changes by {change:.1f}% (bound {th.max_volume_change_pct:.0f}%)")
    if clip.family == "soft":
        _soft_figures(asset, clip, th, m, bounds, reasons)
    details["thresholds"] = as_dict(th)
    return CheckResult(name=f"clip:{clip.name}", engine={"articulate": "pybullet", "drop": "pybullet", "soft": "newton"}.get(clip.family, ""),
                       part=clip.name, measured=m, threshold=bounds, passed=not reasons, reasons=tuple(reasons),
                       seconds=time.perf_counter() - t0, details=details)


def _soft_figures(asset: Asset, clip: MotionClip, th, m: dict, bounds: dict, reasons: list[str]) -> None:
    """A soft clip's elastic body (:class:`.soft.SoftClip`): inverted tetrahedra (in the frames,
    and in any solver step between them), the tet mesh's volume change, the largest principal
    strain, and how far the final shape is from the rest shape after the best rigid fit (Kabsch),
    against the tolerance plus the closed-form sag of a column under its own weight."""
    from .soft import rest_shape_error
    from .tetmesh import tet_volumes

    X, rest, tets = (getattr(clip, k, None) for k in ("tet_vertices", "rest_nodes", "tets"))
    if X is None or rest is None or tets is None:
        reasons.append("a soft clip without its tetrahedral mesh: inverted elements cannot be checked")
        m["inverted_tets"] = None
        return
    v0 = tet_volumes(rest, tets)
    vol = tet_volumes(X, tets)
    inverted = int((vol <= 0).sum())
    ratio = np.asarray(clip.min_volume_ratio) if clip.min_volume_ratio is not None else (vol / v0).min(axis=1)
    between = int((ratio <= 0).sum())
    m.update(inverted_tets=inverted, frames_with_inverted_steps=between, min_tet_volume_ratio=float(ratio.min()),
             tets=int(len(tets)), nodes=int(len(rest)),
             max_strain=float(np.max(clip.max_strain)) if clip.max_strain is not None else None,
             tet_volume_change_pct=float(np.abs(vol.sum(axis=1) / v0.sum() - 1.0).max() * 100.0))
    bounds.update(inverted_tets=th.max_inverted_tets, frames_with_inverted_steps=th.max_inverted_tets)
    if inverted > th.max_inverted_tets or between > th.max_inverted_tets:
        reasons.append(f"{inverted} inverted tetrahedron-frames ({between} frames with an inverted element "
                       f"between samples; bound {th.max_inverted_tets})")
    if m["tet_volume_change_pct"] > th.max_volume_change_pct:
        reasons.append(f"the tetrahedral body's volume changes by {m['tet_volume_change_pct']:.1f}% "
                       f"(bound {th.max_volume_change_pct:.0f}%)")
    err, sag = rest_shape_error(X[-1], rest), 0.0
    mat = clip.material or {}
    if mat.get("youngs_modulus"):
        height = float(np.ptp(rest[:, 2]))
        sag = float(mat["density"]) * 9.80665 * height ** 2 / (2.0 * float(mat["youngs_modulus"]))
    size = float(np.linalg.norm(np.ptp(rest, axis=0)))
    tol = th.soft_rest_shape_fraction * size + th.soft_sag_factor * sag
    m.update(final_shape_error_m=err, self_weight_sag_m=sag)
    bounds["final_shape_error_m"] = tol
    if err > tol:
        reasons.append(f"the body ends {1e3 * err:.1f} mm (RMS) from its rest shape (bound {1e3 * tol:.1f} mm: "
                       f"{100 * th.soft_rest_shape_fraction:.0f}% of its size plus {th.soft_sag_factor:g}x its "
                       "self-weight sag): it did not recover")


def clip_checks(asset: Asset) -> list[CheckResult]:
    """Plausibility checks of every motion clip of ``asset``, in clip order (:func:`clip_check`)."""
    return [clip_check(asset, clip) for clip in asset.motion_clips]
