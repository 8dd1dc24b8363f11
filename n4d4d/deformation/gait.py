"""The ``gait`` and ``idle`` motion families: legged motion planned on the ground, feet placed by
inverse kinematics.

``gait``: the legs (:func:`.legs.find_legs`) follow a central pattern generator
(:func:`.cpg.hopf_network`: one Hopf oscillator per leg, phase offsets and duty factor of a
walk or trot, :data:`.cpg.PATTERNS`). The body moves along the walking direction at the speed
dynamic similarity gives for the gait (Froude number ``v^2 / (g L)``, L the leg length), lowered
so the legs reach half a stride, the root shift and the rest offset of the foot from the hip with 5%
of their reach to spare. A foot in
stance stays where it touched down: each touchdown's foothold is fixed for the whole stance (the
hip's ground point at touchdown plus half a stride ahead), so stance feet do not slide by
construction; a swinging foot travels from lift-off to the next foothold on a minimum-jerk path
lifted ``16 u^2 (1 - u)^2`` times the swing height (:data:`SWING_HEIGHTS`). The root also shifts,
by at most :data:`MAX_SHIFT` leg lengths, to where the centre of mass has the largest margin inside
the stance polygon, moving between those places while all four feet are down (:func:`_balance`);
hinge legs can only shift the body along the walking direction, ball-jointed legs in both
horizontal directions. Inverse kinematics
(:func:`.ik.solve`) places each foot point from the previous frame's solution, within the joint
limits; a skeletal leg's ankle and foot keep their bind orientation (the sole flat on the ground),
its other joints pitch and roll (no twist, roll limited) pulled toward the rest bend, so a
redundant curve-skeleton leg does not fold (:func:`_solve_frames`). A stride is planned only if
each foot part stays within half the ground bound at the stance extremes (:func:`_plan_stride`):
a leg without an ankle below its knee tips a long foot with its sweep, and gets no gait.

``idle``: feet planted where they rest, the root breathing down and up (1.5% of the leg length at
0.25 Hz) and swaying (1% at 0.2 Hz), legs following by inverse kinematics (shallower, halved until
the foot parts stay clear, for legs whose long feet tip with the knees, :func:`_idle_depth`); other movable joints of
an articulated asset (neck, tail) swing by 5% of their range; a skeleton without legs sways each
joint about the vertical by 0.05 rad (so a shape lying on the ground stays on it).

Both are kinematic: plausibility (:mod:`.plausibility`) checks them (foot skating, ground
penetration and float, limits, support margin). Skeletal clips carry per-frame skinned vertices
(``skinning`` "lbs" or "dqs"). This module plans motion; it simulates nothing.
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Asset, MotionClip

from .families import NotApplicable
from .ik import Chain, solve
from .legs import Leg, find_legs, forward_axis

G = 9.80665

#: Peak swing-foot heights tried, over the leg length, highest first (a leg whose joint limits
#: cannot lift the foot so high gets the next): humans lift the foot 10-15 cm on a 0.9 m leg. The
#: foot moves horizontally only in the middle half of the swing, where it is above 0.56 of the
#: peak, so 0.1 or more keeps it above GMD's contact height (5 cm on a human leg, 0.056 leg
#: lengths); lower lifts are used only when no stride allows 0.1 (the skating ratio then shows it).
SWING_HEIGHTS = (0.15, 0.12, 0.1, 0.08, 0.06)

#: Largest shift of the root toward the stance feet, over the leg length (the legs are lowered to
#: reach a stride plus this).
MAX_SHIFT = 0.12

#: Degrees of freedom of each rotated joint of a skeletal leg: pitch about the lateral axis and
#: roll about the walking direction. No twist about the vertical: it does not move the foot, and
#: a twisted joint is where linear blend skinning collapses (the candy wrapper).
SKELETAL_AXES = ("lateral", "forward")

#: Limits (rad) of a skeletal leg joint's degrees of freedom: roll (abduction) within 0.5 rad, so
#: that a leg placed by its redundant chain stays in its walking plane (a curve skeleton carries no
#: anatomical limits; 0.3 left no stride over 0.1 leg lengths reachable on the procedural animals'
#: chains); pitch unlimited (the pull toward the rest guess below keeps it near the rest bend;
#: a pitch limit of 1.6 rad made the solver fight the limit and lost more volume, measured).
SKELETAL_LIMITS = {"lateral": np.inf, "forward": 0.5}

#: Weight of the pull toward the rest guess in a skeletal leg's inverse kinematics (errors are in
#: leg lengths, angles in rad): small, so the bias it leaves on the foot stays under 0.2 mm
#: (measured on the procedural figures, 0.5-0.7 m legs; 0.05 left 13 mm), while the warm start
#: from the frame before cannot wander off along the chain's free directions.
SKELETAL_REGULARISATION = 0.002

#: Share of the ground-penetration bound (:attr:`MotionThresholds.max_ground_penetration_m`) that a
#: foot part may reach below the ground at a planned stance extreme (the rest of the bound is
#: left for the frames between them).
SOLE_CLEARANCE = 0.5


def _min_jerk(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u ** 3 * (10.0 - 15.0 * u + 6.0 * u * u)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the maximal runs of True in ``flags (N,)``."""
    f = np.concatenate([[False], np.asarray(flags, bool), [False]])
    edges = np.flatnonzero(np.diff(f.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _leg_chains(asset: Asset, legs: list[Leg], kind: str, fwd: np.ndarray):
    """Per leg: (Chain, dof -> joint name list, initial q)."""
    from n4d4d.kinematics import unit_axis

    from n4d4d.kinematics import skeleton_bind

    up = np.array([0.0, 0.0, 1.0])
    lat = np.cross(fwd, up)
    out = []
    if kind == "articulated":
        joints = {j.name: j for j in asset.joints}
        for leg in legs:
            js = [joints[n] for n in leg.chain]
            lo = np.array([j.lower if np.isfinite(j.lower) else -np.inf for j in js])
            hi = np.array([j.upper if np.isfinite(j.upper) else np.inf for j in js])
            q0 = np.zeros(len(js))
            for k in range(1, len(js)):  # bend knees off a straight (singular) rest pose, inside the limits
                q0[k] = 0.3 if hi[k] > 0.3 else (-0.3 if lo[k] < -0.3 else 0.5 * (lo[k] + hi[k]))
            chain = Chain(np.array([j.origin for j in js], np.float64), np.array([unit_axis(j) for j in js]),
                          lo, hi, leg.length)
            out.append((chain, list(leg.chain), q0))
        return out
    B = skeleton_bind(asset.skeleton)
    idx = {n: i for i, n in enumerate(asset.skeleton.joint_names)}
    k = len(SKELETAL_AXES)
    for leg in legs:
        ball = _ball_joints(leg)
        piv = np.repeat(np.array([B[idx[n], :3, 3] for n in ball]), k, axis=0)
        axes = np.tile(np.stack([{"lateral": lat, "forward": fwd}[n] for n in SKELETAL_AXES]), (len(ball), 1))
        q0 = np.zeros(k * len(ball))
        q0[0] = 0.2  # hip swings the leg forward, the next joint back: a knee bent forward
        if len(ball) > 1:
            q0[k] = -0.4
        n = len(q0)
        lim = np.tile([SKELETAL_LIMITS[n] for n in SKELETAL_AXES], len(ball))
        out.append((Chain(piv, axes, -lim, lim, leg.length), list(ball), q0))
    return out


def _ball_joints(leg: Leg) -> tuple[str, ...]:
    """Skeletal leg joints that inverse kinematics rotates: all but the last two (the ankle and the
    foot keep their bind orientation, so the sole stays flat), or all but the foot in a chain of
    three."""
    return leg.chain[:-2] if len(leg.chain) >= 4 else leg.chain[:-1]


def _end_point(asset: Asset, leg: Leg, kind: str) -> np.ndarray:
    """The rest point the chain moves to the foot target: a rounded sole's centre or the foot point
    (articulated); the ankle (skeletal, four joints or more: the foot below it translates with it,
    flat) or the foot vertex (a chain of three: it moves with the last bone)."""
    if kind == "articulated":
        return leg.pin if leg.pin is not None else leg.foot_point
    if len(leg.chain) >= 4:
        from n4d4d.kinematics import skeleton_bind

        return skeleton_bind(asset.skeleton)[list(asset.skeleton.joint_names).index(leg.chain[-2]), :3, 3]
    return leg.foot_point


def _reach(chain: Chain, point: np.ndarray) -> float:
    """Longest hip-to-end distance of the chain: the sum of its segment lengths at rest."""
    pts = np.vstack([chain.pivots[::1], point[None]])
    _, first = np.unique(pts.round(12), axis=0, return_index=True)
    pts = pts[np.sort(first)]
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())


def _plan_stride(legs, chains, ends, pat, L, fwd, soles=None, shift=True):
    """The longest stride (at most 0.6 L, down to 0.1 L) and the smallest body drop (up to 40% of
    the hip height) at which inverse kinematics reaches, within the joint limits, every foot
    target the gait needs: half a stride ahead and behind plus the body's travel while a foot
    waits a quarter of its swing on the ground plus the root shift (when ``shift``: legs enough for
    :func:`_balance` to act), at ground level; and the swing apex under the hip, as high as
    :data:`SWING_HEIGHTS` allows leg by leg (0.1 leg lengths or more if any stride allows it).

    With ``soles`` (per leg, the foot's points ``(P, 3)`` at rest, a skinned foot's function of the
    chain's pose, or None: :func:`_sole_points`),
    a stance target is reached only when no point of the foot goes deeper than
    :data:`SOLE_CLEARANCE` of the ground's bound there: a leg without an ankle cannot keep a long foot flat, it pivots about
    its pinned contact as the leg sweeps, and the toe or heel sinks by about ``rho theta^2 / 2``
    (``rho`` the sole's radius of curvature, ``theta`` the leg's sweep), so such a leg takes the
    steps it can take flat-footed.

    Returns ``(stride, drop, speed, period, swing_heights (F,))`` (m, m, m/s, s, m); raises
    NotApplicable when nothing is reachable."""
    from n4d4d.physics_validation.thresholds_motion import MotionThresholds

    from .ik import chain_transforms

    h0 = min(leg.hip[2] - end[2] for leg, end in zip(legs, ends))
    up = np.array([0.0, 0.0, 1.0])
    soles = soles or [None] * len(legs)
    deepest = SOLE_CLEARANCE * MotionThresholds().max_ground_penetration_m

    sunk = []  # reachable targets refused because the foot part went into the ground

    def reach(chain, q0, end, p, sole=None, drop=0.0):
        q, err = solve(chain, end, p, q0, restarts=8)
        if err > 1e-3 * L:
            return False
        if sole is None:
            return True
        if callable(sole):  # a skinned foot (:func:`_skinned_sole`)
            low = float(sole(chain, q)[:, 2].min())
        else:  # an articulated foot part, rigid with the last link
            M = chain_transforms(chain, q)[-1]
            low = float((sole @ M[:3, :3].T + M[:3, 3])[:, 2].min())
        ok = low - drop >= -deepest
        if not ok:
            sunk.append(p)
        return ok

    for least in (0.1, min(SWING_HEIGHTS)):  # first with feet lifted clear of the contact height
        for stride in L * np.array([0.6, 0.5, 0.4, 0.3, 0.2, 0.1]):
            v = np.sqrt(pat.froude * G * L) * np.sqrt(stride / (0.6 * L))  # shorter strides, slower
            period = stride / (pat.duty * v)
            far = stride / 2 + 0.25 * v * (1.0 - pat.duty) * period + (MAX_SHIFT * L if shift else 0.0)
            for drop in h0 * np.array([0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4]):
                heights = []
                for (chain, _, q0), end, sole in zip(chains, ends, soles):
                    base = end + drop * up
                    if not all(reach(chain, q0, end, base + fwd * x, sole, drop) for x in (far, -far, 0.0)):
                        break
                    h = next((h for h in SWING_HEIGHTS if h >= least and reach(chain, q0, end, base + h * L * up)), None)
                    if h is None:
                        break
                    heights.append(h * L)
                if len(heights) == len(chains):
                    return float(stride), float(drop), float(v), float(period), np.array(heights)
    if sunk:
        raise NotApplicable(f"no stride of 0.1 leg lengths or more keeps the foot parts within {1e3 * deepest:.1f} mm "
                            "of the ground: the legs have no joint below the knee, so a long foot tips with the leg's "
                            "sweep and its toe or heel sinks")
    raise NotApplicable(f"no stride of 0.1 leg lengths or more, with the feet lifted {min(SWING_HEIGHTS)} leg "
                        "lengths, is reachable within the leg joints' limits")


def _sole_points(asset: Asset, leg: Leg, kind: str = "articulated"):
    """``(P, 3)`` rest points of a leg's foot near the ground (within a fifth of the leg length of
    it), which tip with the leg's last link: an articulated leg's foot part (its collision hulls'
    vertices, what a simulator stands on, else its mesh's); for a skeletal leg, its skinned foot
    as a function of the chain's pose (:func:`_skinned_sole`)."""
    if kind == "skeletal":
        return _skinned_sole(asset, leg)
    part = next(p for p in asset.parts if p.name == leg.foot)
    hulls = asset.collision.get(part.name) if asset.collision else None
    pts = np.vstack([h.vertices for h in hulls]) if hulls else np.asarray(part.mesh.vertices, np.float64)
    return pts[pts[:, 2] < pts[:, 2].min() + 0.2 * leg.length]


def _skinned_sole(asset: Asset, leg: Leg):
    """The skinned foot of a skeletal leg as the clip will move it: a function ``(chain, q) ->
    (P, 3)`` of the visual vertices near the ground (within a fifth of the leg length) bound
    mostly to the leg, by linear blend skinning with the transforms :func:`_skeletal_clip` gives
    (the rotated joints turn with the chain, the ankle and foot translate with its end, other
    joints stay), so the planner's sole check sees what the skin does: a foot held flat by its
    ankle still tips by the weight the upper bones keep on it (6% tipped a sole 4 mm into the
    ground). None when no such vertex exists."""
    names = list(asset.skeleton.joint_names)
    W = np.asarray(asset.skin_weights, np.float64)
    V = np.asarray(asset.visual.vertices, np.float64)
    chain = [names.index(n) for n in leg.chain]
    mine = np.isin(np.argmax(W, axis=1), chain) & (V[:, 2] < V[:, 2].min() + 0.2 * leg.length)
    if not mine.any():
        return None
    Vs, Ws = V[mine], W[mine][:, chain]  # (P, 3), (P, n) weights on the chain's joints
    ball = len(_ball_joints(leg))
    from n4d4d.kinematics import skeleton_bind

    tail0 = skeleton_bind(asset.skeleton)[chain[ball], :3, 3]
    rest = 1.0 - Ws.sum(axis=1, keepdims=True)

    def at(ch: Chain, q: np.ndarray) -> np.ndarray:
        from .ik import chain_transforms

        M = chain_transforms(ch, q)
        out = rest * Vs
        for k in range(ball):
            S = M[len(SKELETAL_AXES) * (k + 1)]
            out = out + Ws[:, k:k + 1] * (Vs @ S[:3, :3].T + S[:3, 3])
        move = M[-1, :3, :3] @ tail0 + M[-1, :3, 3] - tail0
        return out + Ws[:, ball:].sum(axis=1, keepdims=True) * (Vs + move)
    return at


def _idle_depth(asset: Asset, legs, chains, ends, down_m: float, sway_m: float, fwd: np.ndarray) -> float:
    """Share (1, 1/2, 1/4, ... or 0) of the idle breath ``down_m`` and sway ``sway_m`` (m) at which
    every articulated foot part stays within :data:`SOLE_CLEARANCE` of the ground bound with the
    root at the deepest breath, swayed either way (the planner's sole check, :func:`_plan_stride`)."""
    from n4d4d.physics_validation.thresholds_motion import MotionThresholds

    from .ik import chain_transforms

    deepest = SOLE_CLEARANCE * MotionThresholds().max_ground_penetration_m
    soles = [_sole_points(asset, leg) for leg in legs]
    for share in (1.0, 0.5, 0.25, 0.125):
        ok = True
        for side in (1.0, -1.0):
            root = share * (-down_m * np.array([0.0, 0.0, 1.0]) + side * sway_m * fwd)
            for (chain, _, q0), end, sole in zip(chains, ends, soles):
                q, _err = solve(chain, end, end - root, q0, restarts=4)
                M = chain_transforms(chain, q)[-1]
                ok &= float((sole @ M[:3, :3].T + M[:3, 3] + root)[:, 2].min()) >= -deepest
        if ok:
            return share
    return 0.0


def _rest_com(asset: Asset) -> np.ndarray:
    """Centre of mass ``(3,)`` at rest: mass-weighted part centres when every part has mass
    properties, else the visual mesh's volume centroid, else its mean vertex."""
    if asset.mass and all(p.name in asset.mass for p in asset.parts):
        ms = [asset.mass[p.name] for p in asset.parts]
        return sum(m.mass * np.asarray(m.center_of_mass) for m in ms) / sum(m.mass for m in ms)
    tm = asset.visual.to_trimesh()
    return np.asarray(tm.center_mass) if tm.is_volume else np.asarray(asset.visual.vertices).mean(axis=0)


def _balance(feet, stance, com, directions, cap):
    """Root shift ``(N, 3)`` keeping the nominal centre of mass ``com (N, 3)`` over the support.

    In every frame with three or more feet down but not all, the shift (along ``directions``, unit
    vectors, at most ``cap`` m each, searched on a grid) that maximises the centre of mass's margin
    inside the stance polygon; while all feet are down the body moves from the last such shift
    to the next on a minimum-jerk path, so it crosses a diagonal of the support while it can
    (a lateral-sequence walk has the centre of mass change sides of a diagonal between a fore and
    the opposite hind foot's swing). Frames with fewer than three feet down keep the shift of
    the frame before."""
    from scipy.spatial import ConvexHull, QhullError

    N, F = stance.shape
    g = np.linspace(-cap, cap, 41 if len(directions) == 1 else 15)
    grid = np.array(np.meshgrid(*[g] * len(directions), indexing="ij")).reshape(len(directions), -1).T
    offsets = grid @ np.array(directions)  # (K, 3)
    out = np.full((N, 3), np.nan)
    n_down = stance.sum(axis=1)
    penalty = 1e-3 * np.linalg.norm(offsets, axis=1)
    for t in range(N):
        if 3 <= n_down[t] < F:
            try:
                eq = ConvexHull(feet[t, stance[t], :2]).equations  # n . x + d <= 0 inside
            except QhullError:  # collinear feet: no area to balance over
                continue
            margin = -(((com[t, :2] + offsets[:, :2]) @ eq[:, :2].T) + eq[:, 2]).max(axis=1)
            out[t] = offsets[int(np.argmax(margin - penalty))]
    known = np.flatnonzero(~np.isnan(out[:, 0]))
    if len(known) == 0:
        return np.zeros((N, 3))
    out[:known[0]] = out[known[0]]
    out[known[-1] + 1:] = out[known[-1]]
    for a, b in zip(known[:-1], known[1:]):
        if b - a > 1:
            u = _min_jerk((np.arange(a + 1, b) - a) / (b - a))
            out[a + 1:b] = out[a] + (out[b] - out[a]) * u[:, None]
    return out


def _solve_frames(chains, ends, targets, root_pos, kind="articulated"):
    """IK per frame and leg; root translation only. Returns q per leg (T, n) and residuals (T, F).

    A skeletal leg's chain is redundant (two degrees of freedom per joint, three joints or more):
    every frame is pulled toward the leg's rest guess with :data:`SKELETAL_REGULARISATION`, and
    its joints are untwisted and their roll limited (:data:`SKELETAL_AXES`, :data:`SKELETAL_LIMITS`), so
    its free directions cannot drift frame by frame into a folded leg (with three unlimited axes
    per joint pulled only toward the frame before, a curve-skeleton leg of four joints folded to
    2.5 rad at a joint within a 4 s walk, and its skin lost 13% of the body's volume). An
    articulated leg (a hip and a knee hinge) has no free direction and keeps the previous frame
    as its reference."""
    T, F = targets.shape[:2]
    qs, res = [], np.zeros((T, F))
    skeletal = kind == "skeletal"
    for f, (chain, _names, q0) in enumerate(chains):
        q, out = q0.copy(), np.empty((T, len(q0)))
        for t in range(T):
            ref = q0 if (skeletal or t == 0) else None
            q, res[t, f] = solve(chain, ends[f], targets[t, f] - root_pos[t], q, ref, restarts=4,
                                 regularisation=SKELETAL_REGULARISATION if skeletal else 0.003)
            out[t] = q
        qs.append(out)
    return qs, res


def _skeletal_clip(asset, legs, chains, qs, root_pos, times, name, family, skinning):
    """Joint rotations (relative to the bind pose, MotionClip semantics) from the chains' PoE
    solution, root poses, and skinned vertices."""
    from scipy.spatial.transform import Rotation

    from .ik import chain_transforms
    from n4d4d.kinematics import skeleton_bind

    from .skinning import local_bind, skin_clip

    sk = asset.skeleton
    names = list(sk.joint_names)
    B, L = skeleton_bind(sk), local_bind(sk)
    parents = np.asarray(sk.parents)
    T = len(times)
    Wd = np.tile(B, (T, 1, 1, 1))  # world transforms without the root motion
    for (chain, ball, _), q, leg in zip(chains, qs, legs):
        for t in range(T):
            M = chain_transforms(chain, q[t])
            for k, jn in enumerate(ball):
                Wd[t, names.index(jn)] = M[len(SKELETAL_AXES) * (k + 1)] @ B[names.index(jn)]
            tail = [names.index(jn) for jn in leg.chain[len(ball):]]  # keep their bind orientation
            move = M[-1, :3, :3] @ B[tail[0], :3, 3] + M[-1, :3, 3] - B[tail[0], :3, 3]
            for j in tail:
                Wd[t, j, :3, 3] = B[j, :3, 3] + move
    rots = {}
    for j, jn in enumerate(names):
        parent = Wd[:, parents[j]] if parents[j] >= 0 else np.tile(np.eye(4), (T, 1, 1))
        rel = np.linalg.inv(parent @ L[j]) @ Wd[:, j]
        q = Rotation.from_matrix(rel[:, :3, :3]).as_quat(scalar_first=True)
        if np.abs(q[:, 1:]).max() > 1e-12:
            rots[jn] = q
    poses = np.zeros((T, 7))
    poses[:, :3] = root_pos
    poses[:, 3] = 1.0
    clip = MotionClip(name, times, root_poses=poses, joint_rotations=rots, family=family)
    verts = skin_clip(asset.visual.vertices, asset.skin_weights, sk, clip, skinning)
    return MotionClip(name, times, root_poses=poses, joint_rotations=rots, vertices=verts, family=family)


def _articulated_clip(chains, qs, root_pos, times, name, family, extra=None):
    tracks = {}
    for (_chain, names, _), q in zip(chains, qs):
        for k, jn in enumerate(names):
            tracks[jn] = q[:, k].copy()
    tracks.update(extra or {})
    poses = np.zeros((len(times), 7))
    poses[:, :3] = root_pos
    poses[:, 3] = 1.0
    return MotionClip(name, times, joint_positions=tracks, root_poses=poses, family=family)


def gait_clip(asset: Asset, *, pattern: str = "walk", seed: int = 0, fps: float = 30.0, seconds: float = 4.0,
              skinning: str = "lbs") -> MotionClip:
    """A walk or trot of a legged asset (module docstring).

    Args:
        asset: articulated (parts, revolute leg joints) or skeletal (skeleton, skin weights), legs
            on the ground at rest (:func:`.legs.find_legs`).
        pattern: ``"walk"`` or ``"trot"`` (four legs); ``"walk"`` (two legs).
        seed: seeds the oscillators' starting state. fps: frames per second. seconds: clip length.
        skinning: ``"lbs"`` or ``"dqs"`` for skeletal clips' vertices.

    Returns:
        A clip of family ``"gait"`` named ``gait_<pattern>``: root poses (T, 7) and joint tracks
        (articulated) or joint rotations and vertices (T, V, 3) (skeletal).

    Raises:
        NotApplicable: no legs (the reason says why), or no pattern for that many legs.
    """
    from .cpg import PATTERNS, hopf_network, stance_phases

    legs, kind, why = find_legs(asset)
    if not legs:
        raise NotApplicable(why)
    n = 4 if len(legs) >= 4 else 2
    if (pattern, n) not in PATTERNS or len(legs) not in (2, 4):
        raise NotApplicable(f"no '{pattern}' pattern for {len(legs)} legs (known: walk and trot on four, walk on two)")
    pat = PATTERNS[(pattern, n)]
    fwd = forward_axis(np.array([leg.foot_point for leg in legs]))
    lat = np.cross(fwd, [0.0, 0.0, 1.0])
    chains = _leg_chains(asset, legs, kind, fwd)
    ends = [_end_point(asset, leg, kind) for leg in legs]
    L = float(np.mean([leg.length for leg in legs]))
    soles = [_sole_points(asset, leg, kind) for leg in legs]
    stride, drop, v, period, lift = _plan_stride(legs, chains, ends, pat, L, fwd, soles, shift=len(legs) >= 4)
    swing_t = (1.0 - pat.duty) * period
    offsets = np.array([pat.offsets[(int(leg.side), int(leg.front))] for leg in legs])
    times, states = hopf_network(offsets, period, pat.duty, seconds + period, 1.0 / fps, seed)
    stance, prog = stance_phases(states)
    T = int(round(seconds * fps)) + 1
    N = len(times)
    nominal = np.outer(times, fwd * v) + np.array([0.0, 0.0, -drop])  # root translation over time
    foot0 = np.array([leg.foot_point for leg in legs])
    hip_ground = foot0[None] + np.outer(times, fwd * v)[:, None]  # (N, F, 3), z = the rest foot height
    F = len(legs)
    feet = np.empty((N, F, 3))
    for f in range(F):
        for k, j in _runs(stance[:, f]):  # stance runs: one fixed foothold from where each begins
            feet[k:j, f] = hip_ground[k, f] + fwd * (stride / 2 - prog[k, f] * stride)
        for k, j in _runs(~stance[:, f]):  # swing runs: lift-off point to the next foothold
            # progress linear in time from the run's lift-off to its touchdown (a swing already
            # under way when the clip starts begins at the oscillator's progress)
            u0 = prog[k, f] if k == 0 else 0.0
            u = u0 + (1.0 - u0) * (np.arange(k, j) - k + (0 if k == 0 else 1)) / (j - k + (0 if k == 0 else 1))
            t_lo = times[k] - u0 * swing_t
            start = feet[k - 1, f] if k > 0 else foot0[f] + fwd * (v * t_lo - stride / 2)
            goal = feet[j, f] if j < N else foot0[f] + fwd * (v * (t_lo + swing_t) + stride / 2)
            s = _min_jerk((u - 0.25) / 0.5)  # lift first, travel in the air, then set down
            feet[k:j, f] = start + (goal - start) * s[:, None]
            feet[k:j, f, 2] = start[2] + lift[f] * 16 * u * u * (1 - u) ** 2
    # root shift keeping the centre of mass over the support polygon (see _balance)
    com0 = _rest_com(asset)
    shift = _balance(feet, stance, nominal + com0, [fwd] if kind == "articulated" else [fwd, lat], MAX_SHIFT * L)
    root = (nominal + shift)[:T]
    # the chain moves its end point (sole centre or foot joint), which sits at a fixed offset from the foot
    qs, _ = _solve_frames(chains, ends, feet[:T] + (np.array(ends) - foot0)[None], root, kind)
    name = f"gait_{pattern}"
    if kind == "skeletal":
        return _skeletal_clip(asset, legs, chains, qs, root, times[:T], name, "gait", skinning)
    return _articulated_clip(chains, qs, root, times[:T], name, "gait")


def idle_clip(asset: Asset, *, seed: int = 0, fps: float = 30.0, seconds: float = 4.0,
              skinning: str = "lbs") -> MotionClip:
    """Breathing and sway with feet planted (module docstring).

    Args:
        asset: legged (articulated or skeletal), or skeletal without legs.
        seed: seeds the phases of the neck / tail swings and joint sways.
        fps, seconds: frame rate and clip length. skinning: ``"lbs"`` or ``"dqs"``.

    Returns:
        A clip of family ``"idle"`` named ``idle``.

    Raises:
        NotApplicable: an articulated asset without legs (nothing to stand on), or no skeleton
            and no legs.
    """
    from scipy.spatial.transform import Rotation

    legs, kind, why = find_legs(asset)
    rng = np.random.default_rng(seed)
    T = int(round(seconds * fps)) + 1
    times = np.arange(T) / fps
    if not legs:
        if asset.skeleton is None or asset.skin_weights is None:
            raise NotApplicable(f"idle needs legs or a skeleton; {why}")
        from .skinning import skin_clip

        names = list(asset.skeleton.joint_names)
        phase = rng.uniform(0, 2 * np.pi)
        rots = {}
        for k, jn in enumerate(names):
            if asset.skeleton.parents[k] < 0:
                continue
            ang = 0.05 * np.sin(2 * np.pi * 0.25 * times + phase + 0.6 * k)
            rots[jn] = Rotation.from_rotvec(np.outer(ang, [0.0, 0.0, 1.0])).as_quat(scalar_first=True)
        poses = np.tile([0.0, 0, 0, 1, 0, 0, 0], (T, 1))
        clip = MotionClip("idle", times, root_poses=poses, joint_rotations=rots, family="idle")
        verts = skin_clip(asset.visual.vertices, asset.skin_weights, asset.skeleton, clip, skinning)
        return MotionClip("idle", times, root_poses=poses, joint_rotations=rots, vertices=verts, family="idle")
    fwd = forward_axis(np.array([leg.foot_point for leg in legs]))
    lat = np.cross(fwd, [0.0, 0.0, 1.0])
    chains = _leg_chains(asset, legs, kind, fwd)
    ends = [_end_point(asset, leg, kind) for leg in legs]
    L = float(np.mean([leg.length for leg in legs]))
    breathe = -0.015 * L * 0.5 * (1 - np.cos(2 * np.pi * 0.25 * times))
    sway = 0.01 * L * np.sin(2 * np.pi * 0.2 * times + rng.uniform(0, 2 * np.pi))
    if kind == "articulated":  # an ankle-less long foot tips as the knees bend: breathe shallower
        share = _idle_depth(asset, legs, chains, ends, 0.015 * L, 0.01 * L, fwd)
        breathe, sway = share * breathe, share * sway
    root = np.outer(breathe, [0.0, 0.0, 1.0]) + np.outer(sway, fwd if kind == "articulated" else lat)
    targets = np.repeat(np.array(ends)[None], T, axis=0)
    qs, _ = _solve_frames(chains, ends, targets, root, kind)
    if kind == "skeletal":
        return _skeletal_clip(asset, legs, chains, qs, root, times, "idle", "idle", skinning)
    in_legs = {jn for leg in legs for jn in leg.chain}
    extra = {}
    for j in asset.joints:
        if j.type == "fixed" or j.name in in_legs:
            continue
        lo, hi = (j.lower, j.upper) if np.isfinite([j.lower, j.upper]).all() else (-0.5, 0.5)
        amp = 0.05 * (hi - lo)
        centre = float(np.clip(0.0, lo + amp, hi - amp))
        extra[j.name] = centre + amp * np.sin(2 * np.pi * 0.3 * times + rng.uniform(0, 2 * np.pi))
    return _articulated_clip(chains, qs, root, times, "idle", "idle", extra)
