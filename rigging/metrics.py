"""Rigging metrics: joint matching and errors against ground truth, skeleton Chamfer distances.

Definitions (used by ``n4d4d eval rigging``):

- **Matching.** A true movable joint (URDF revolute / continuous / prismatic) is matched to the
  inferred joint that connects the same two rigid bodies (either direction; inferred parts are
  mapped to true bodies by their largest face overlap). Unmatched true joints count as wrong
  type and have no axis / pivot / limit error.
- **Joint-type accuracy**: fraction of true movable joints whose match has the same motion
  class, following PartNet-Mobility's classes: *hinge* (revolute or continuous), *slider*
  (prismatic), *static* (fixed). ``strict`` accuracy also separates revolute from continuous.
- **Axis error** (degrees): angle between the axis lines, ``acos(|a . b|)`` (axis sign is
  arbitrary), as in Shape2Motion / ANCSH evaluations on PartNet-Mobility.
- **Pivot error** (% of the bounding-box diagonal): distance from the inferred pivot point to
  the true axis line, for hinges only (a slider's pivot is undefined); ``pivot_m``, the same
  distance in the asset's units (m), for issue 18's "pivots within 2 mm of the source's".
- **Limit range error**: ``|(upper - lower)_inferred - (upper - lower)_true|``, in degrees for
  revolute joints, in % of the diagonal for prismatic ones; continuous joints are skipped, and
  so are true joints whose file gives no usable range (``lower == upper``, as pybullet_data's
  minitaur knees: PyBullet then leaves them unlimited). **Limit within 20 %**
  (``limit_ok``): the inferred joint has the true one's strict type and its range is within
  20 % of the true range (None where the truth has no usable range).
- **True type**: a URDF revolute joint without finite limits is continuous
  (:func:`n4d4d.kinematics.effective_type`).
- **Extra joints**: inferred movable joints that match no true movable joint (between two
  pieces of one true body, or bodies the truth joins rigidly): the cost of over-segmenting,
  which the accuracy above does not see.
- **CD-J2J** (RigNet, Xu et al. 2020): symmetric Chamfer distance between inferred and true
  joint positions, ``(mean_i min_j |p_i - q_j| + mean_j min_i |q_j - p_i|) / 2``, with the mesh
  scaled so its bounding-box diagonal is 1.
- **CD-J2B** (RigNet): the same with each joint's distance taken to the nearest *bone segment*
  of the other skeleton (a skeleton without bones uses its joints).
"""

from __future__ import annotations

import numpy as np

CLASS = {"revolute": "hinge", "continuous": "hinge", "prismatic": "slider", "fixed": "static"}
LIMIT_REL_TOL = 0.2  # the "limit range within 20 % of the true range"


def true_type(joint) -> str:
    """A ground-truth joint's type as a simulator reads it (revolute without finite limits:
    continuous)."""
    from n4d4d.kinematics import effective_type

    return effective_type(joint)


def axis_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle (degrees, 0..90) between two axis lines with unit-free directions ``(3,)``."""
    c = abs(float(np.dot(a, b))) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-300)
    return float(np.degrees(np.arccos(min(1.0, c))))


def point_line_distance(p: np.ndarray, origin: np.ndarray, axis: np.ndarray) -> float:
    """Distance (m) from ``p (3,)`` to the line ``origin + t axis``."""
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    r = np.asarray(p, float) - origin
    return float(np.linalg.norm(r - (r @ a) * a))


def joint_errors(pred, true, diag: float) -> dict:
    """Errors of one matched joint pair (``Joint``-like records, asset frame), ``diag`` in m.

    Returns ``class_ok`` (alias ``type_ok``), ``strict_ok``, ``axis_deg``, ``pivot_pct`` and
    ``pivot_m`` (hinges), ``limit_err`` (degrees or % of diag) and ``limit_ok`` (None where undefined)."""
    ttype = true_type(true)
    ok = CLASS[pred.type] == CLASS[ttype]
    out = {"type_ok": ok, "class_ok": ok, "strict_ok": pred.type == ttype,
           "axis_deg": None, "pivot_pct": None, "pivot_m": None, "limit_err": None,
           "limit_ok": None}
    usable = ttype in ("revolute", "prismatic") and true.upper > true.lower
    if usable:
        out["limit_ok"] = False
    if pred.type == "fixed":
        return out
    out["axis_deg"] = axis_angle_deg(pred.axis, true.axis)
    if CLASS[true.type] == "hinge" and CLASS[pred.type] == "hinge":
        out["pivot_m"] = point_line_distance(pred.origin, true.origin, true.axis)
        out["pivot_pct"] = 100.0 * out["pivot_m"] / diag
    if not usable or pred.type != ttype:  # no usable range in the file, or not comparable
        return out
    d = abs((pred.upper - pred.lower) - (true.upper - true.lower))
    out["limit_err"] = float(np.degrees(d)) if ttype == "revolute" else 100.0 * d / diag
    out["limit_ok"] = bool(d <= LIMIT_REL_TOL * (true.upper - true.lower))
    return out


def extra_joints(pred_joints, true_joints, part_to_body: dict[str, str]) -> int:
    """Number of inferred movable joints that :func:`match_joints` pairs with no true one."""
    matched = {id(p) for _, p in match_joints(pred_joints, true_joints, part_to_body) if p is not None}
    return sum(1 for j in pred_joints if j.type != "fixed" and id(j) not in matched)


def match_joints(pred_joints, true_joints, part_to_body: dict[str, str]) -> list[tuple[object, object | None]]:
    """``[(true_joint, matched_pred_joint or None), ...]`` for the movable true joints.

    ``part_to_body`` maps inferred part names to true body names; when several inferred
    joints join the same two bodies (pieces of a merged mesh), the first in the list (the
    kinematic tree's breadth-first order: nearest the root) is the match."""
    index = {}
    for j in pred_joints:
        key = frozenset((part_to_body.get(j.parent, j.parent), part_to_body.get(j.child, j.child)))
        if len(key) == 2:
            index.setdefault(key, j)
    out = []
    for t in true_joints:
        if t.type == "fixed":
            continue
        out.append((t, index.get(frozenset((t.parent, t.child)))))
    return out


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-300), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def _to_bones(p: np.ndarray, joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    segs = [(joints[q], joints[j]) for j, q in enumerate(parents) if q >= 0]
    if not segs:
        return np.linalg.norm(p[:, None] - joints[None], axis=2).min(1)
    return np.min(np.stack([_segment_distance(p, a, b) for a, b in segs], 1), axis=1)


def cd_j2j(pred: np.ndarray, true: np.ndarray) -> float:
    """Symmetric joint-to-joint Chamfer distance between ``(J1, 3)`` and ``(J2, 3)`` points
    (units of the inputs: scale them to diagonal 1 first)."""
    d = np.linalg.norm(pred[:, None] - true[None], axis=2)
    return float(0.5 * (d.min(1).mean() + d.min(0).mean()))


def cd_j2b(pred: np.ndarray, pred_parents: np.ndarray, true: np.ndarray, true_parents: np.ndarray) -> float:
    """Symmetric joint-to-bone Chamfer distance (see module docstring)."""
    return float(0.5 * (_to_bones(pred, true, true_parents).mean() + _to_bones(true, pred, pred_parents).mean()))
