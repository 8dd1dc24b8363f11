"""Evaluation harness behind ``n4d4d eval rigging``: infer joints / skeletons on objects with
ground truth and score them (metric definitions in :mod:`n4d4d.rigging.metrics`).

What it does, per input path:

- a URDF (a PartNet-Mobility folder's ``mobility.urdf``, or a robot such as pybullet_data's
  r2d2, racecar, minitaur, kuka_iiwa) is scored on two tracks:

  * **kept parts**: the rigid bodies (links joined by fixed joints merged) are given, joints
    are inferred (``rig_stage(mode="articulated", joints="infer")``);
  * **merged mesh**: all links concatenated into one unlabelled mesh, as a generator would hand
    it over; parts come from the mesh's pieces (:func:`n4d4d.rigging.parts.component_groups`),
    each inferred part is mapped to the true body with the largest share of the visual
    surface nearest to it;

- a skinned glTF / GLB is scored on the **skeleton** track: a curve skeleton inferred on its
  bind-pose mesh against the joints of its inverse bind matrices (CD-J2J, CD-J2B).

Each row also counts the *extra* movable joints, those that match no true one (pieces of one
true body hinged to each other on the merged track): accuracy alone does not see them.

With no path it evaluates the development set (``../shared/data``: PartNet-Mobility objects and
rigged glTFs) and pybullet_data's robots. What it does not: tune anything on the data, or
write files; it returns records and renders a table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from n4d4d.rigging import metrics

ROBOTS = ("r2d2.urdf", "racecar/racecar.urdf", "quadruped/minitaur.urdf", "kuka_iiwa/model.urdf")
#: Targets of issue 3 per track: (type accuracy >=, median axis error deg <=, median pivot % <=)
TARGETS = {"kept": (0.95, 3.0, 2.0), "merged": (0.80, 10.0, 5.0)}
SKELETON_TARGET = 0.05  # CD-J2J <=


@dataclass
class ObjectResult:
    """One object on one track; per-joint lists hold matched joints' errors."""

    name: str
    track: str
    true_joints: int = 0
    matched: int = 0
    type_ok: int = 0
    strict_ok: int = 0
    axis_deg: list = field(default_factory=list)
    pivot_pct: list = field(default_factory=list)
    limit_err: list = field(default_factory=list)
    extra: int = 0
    cd_j2j: float | None = None
    cd_j2b: float | None = None
    seconds: float = 0.0
    error: str | None = None


def default_paths(shared: Path | None = None) -> list[Path]:
    """The dev set under ``shared`` (default ``../shared/data`` beside the repo, if present)
    followed by pybullet_data's robots."""
    import pybullet_data

    if shared is None:
        shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    paths = []
    if shared.is_dir():
        paths += sorted((shared / "partnet-mobility").glob("*/mobility.urdf"))
        paths += sorted(p for p in (shared / "rigged").glob("*") if p.suffix.lower() in (".glb", ".gltf"))
    base = Path(pybullet_data.getDataPath())
    return paths + [base / r for r in ROBOTS if (base / r).is_file()]


def _label(path: Path) -> str:
    return f"{path.parent.name}/{path.name}" if path.name == "mobility.urdf" else path.stem


def _score(res: ObjectResult, pred_joints, true_joints, part_to_body, diag):
    res.extra = metrics.extra_joints(pred_joints, true_joints, part_to_body)
    for t, p in metrics.match_joints(pred_joints, true_joints, part_to_body):
        res.true_joints += 1
        if p is None:
            continue
        res.matched += 1
        e = metrics.joint_errors(p, t, diag)
        res.type_ok += e["type_ok"]
        res.strict_ok += e["strict_ok"]
        for key in ("axis_deg", "pivot_pct", "limit_err"):
            if e[key] is not None:
                getattr(res, key).append(e[key])


def _body_of_parts(parts, visual) -> dict[str, str]:
    """Inferred part name -> the true body most of whose visual surface the part holds.

    Every visual face (centroid) goes to the part whose mesh is nearest by signed distance
    (deepest inside wins; part meshes may be voxel-closed, so slightly inflated), and a part
    takes the body with the largest face area among its faces."""
    import igl

    t = visual.vertices[visual.faces]
    centroids = np.ascontiguousarray(t.mean(1))
    area = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    sd = np.stack([igl.signed_distance(centroids, np.ascontiguousarray(p.mesh.vertices),
                                       np.ascontiguousarray(p.mesh.faces),
                                       igl.SIGNED_DISTANCE_TYPE_FAST_WINDING_NUMBER)[0] for p in parts], 1)
    owner = np.argmin(sd, axis=1)
    out = {}
    for k, p in enumerate(parts):
        mine = owner == k
        if not mine.any():  # nothing nearer to it than to another part: its nearest faces
            mine = np.argsort(sd[:, k])[:1]
        w = np.bincount(visual.face_submesh[mine], weights=area[mine], minlength=len(visual.submesh_names))
        out[p.name] = visual.submesh_names[int(np.argmax(w))]
    return out


def evaluate_urdf(path: Path, *, seed: int = 0, time_budget_s: float = 120.0) -> list[ObjectResult]:
    """Kept-parts and merged-mesh results for one URDF (see module docstring)."""
    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.rigging.stage import rig_stage

    out = []
    try:
        truth = load_urdf_asset(path)
    except Exception as e:  # a broken object is reported, not fatal to the run
        return [ObjectResult(_label(path), "kept", error=f"{type(e).__name__}: {e}")]
    diag = truth.visual.diagonal
    for track in ("kept", "merged"):
        res = ObjectResult(_label(path), track)
        t0 = time.monotonic()
        try:
            if track == "kept":
                asset = truth.replace(joints=())
            else:
                v = truth.visual
                asset = truth.replace(parts=(), joints=(), visual=v.replace(face_submesh=None, submesh_names=()))
            rigged = rig_stage(asset, mode="articulated", joints="infer", seed=seed, time_budget_s=time_budget_s)
            mapping = ({p.name: p.name for p in rigged.parts} if track == "kept"
                       else _body_of_parts(rigged.parts, truth.visual))
            _score(res, rigged.joints, truth.joints, mapping, diag)
        except Exception as e:
            res.error = f"{type(e).__name__}: {e}"
        res.seconds = time.monotonic() - t0
        out.append(res)
    return out


def evaluate_skin(path: Path, *, seed: int = 0) -> ObjectResult:
    """Skeleton-track result for one skinned glTF / GLB (see module docstring)."""
    from n4d4d.asset import Asset, Mesh
    from n4d4d.rigging.gltf_skin import read_skin
    from n4d4d.rigging.stage import rig_stage

    res = ObjectResult(path.stem, "skeleton")
    t0 = time.monotonic()
    try:
        skin = read_skin(path)
        mesh = Mesh(skin.vertices, skin.faces)
        rigged = rig_stage(Asset("skin", visual=mesh), mode="skeletal", seed=seed)
        s = 1.0 / mesh.diagonal
        sk = rigged.skeleton
        res.true_joints = len(skin.joint_names)
        res.matched = len(sk.joint_names)
        res.cd_j2j = metrics.cd_j2j(sk.bind_positions * s, skin.joint_positions * s)
        res.cd_j2b = metrics.cd_j2b(sk.bind_positions * s, sk.parents, skin.joint_positions * s, skin.parents)
    except Exception as e:
        res.error = f"{type(e).__name__}: {e}"
    res.seconds = time.monotonic() - t0
    return res


def evaluate(paths: list[Path], *, seed: int = 0, time_budget_s: float = 120.0) -> list[ObjectResult]:
    """Results for every path (URDF: two tracks; glTF / GLB: skeleton track)."""
    out = []
    for p in paths:
        p = Path(p)
        if p.is_dir() and (p / "mobility.urdf").is_file():
            p = p / "mobility.urdf"
        if p.suffix.lower() in (".glb", ".gltf"):
            out.append(evaluate_skin(p, seed=seed))
        else:
            out += evaluate_urdf(p, seed=seed, time_budget_s=time_budget_s)
    return out


def summarize(results: list[ObjectResult]) -> dict[str, dict]:
    """Pooled figures per track: joint-type accuracy (over all true movable joints), medians of
    the axis / pivot / limit errors over matched joints, mean CD-J2J / CD-J2B, and whether each
    target of issue 3 is met."""
    out = {}
    for track in ("kept", "merged", "skeleton"):
        rs = [r for r in results if r.track == track and r.error is None]
        if not rs:
            continue
        if track == "skeleton":
            j2j = float(np.mean([r.cd_j2j for r in rs]))
            out[track] = {"objects": len(rs), "cd_j2j": j2j, "cd_j2b": float(np.mean([r.cd_j2b for r in rs])),
                          "met": j2j <= SKELETON_TARGET}
            continue
        n = sum(r.true_joints for r in rs)
        pool = {k: [x for r in rs for x in getattr(r, k)] for k in ("axis_deg", "pivot_pct", "limit_err")}
        med = {k: (float(np.median(v)) if v else float("nan")) for k, v in pool.items()}
        acc = sum(r.type_ok for r in rs) / n if n else float("nan")
        ta, tx, tp = TARGETS[track]
        out[track] = {"objects": len(rs), "joints": n, "extra": sum(r.extra for r in rs), "type_acc": acc,
                      "strict_acc": sum(r.strict_ok for r in rs) / n if n else float("nan"),
                      "axis_med": med["axis_deg"], "pivot_med": med["pivot_pct"], "limit_med": med["limit_err"],
                      "met": bool(acc >= ta and med["axis_deg"] <= tx and med["pivot_pct"] <= tp)}
    return out


def _f(x, fmt="{:.2f}"):
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else fmt.format(x)


def render_table(results: list[ObjectResult]):
    """A ``rich.table.Table`` of per-object rows and the pooled rows per track."""
    from rich.table import Table

    t = Table(title="n4d4d eval rigging")
    for col in ("object", "track", "joints", "matched", "extra", "type acc", "axis med (deg)",
                "pivot med (%diag)", "limit med", "CD-J2J", "CD-J2B", "time (s)", "error"):
        t.add_column(col)
    for r in results:
        med = lambda v: float(np.median(v)) if v else None  # noqa: E731
        t.add_row(r.name, r.track, str(r.true_joints), str(r.matched), "" if r.track == "skeleton" else str(r.extra),
                  _f(r.type_ok / r.true_joints if r.true_joints and r.track != "skeleton" else None),
                  _f(med(r.axis_deg)), _f(med(r.pivot_pct)), _f(med(r.limit_err)),
                  _f(r.cd_j2j, "{:.3f}"), _f(r.cd_j2b, "{:.3f}"), f"{r.seconds:.1f}", (r.error or "")[:60])
    for track, s in summarize(results).items():
        met = "target met" if s["met"] else "target MISSED"
        if track == "skeleton":
            t.add_row(f"ALL ({s['objects']})", track, "", "", "", "", "", "", "", _f(s["cd_j2j"], "{:.3f}"),
                      _f(s["cd_j2b"], "{:.3f}"), "", met, style="bold")
        else:
            t.add_row(f"ALL ({s['objects']})", track, str(s["joints"]), "", str(s["extra"]), _f(s["type_acc"]),
                      _f(s["axis_med"]), _f(s["pivot_med"]), _f(s["limit_med"]), "", "", "",
                      f"{met}; strict type acc {_f(s['strict_acc'])}", style="bold")
    return t
