"""Evaluation harness behind ``n4d4d eval rigging``: infer joints / skeletons on objects with
ground truth and score them joint by joint (metric definitions in :mod:`n4d4d.rigging.metrics`,
tables and the leave-one-category-out figures in :mod:`n4d4d.rigging.scoring`).

What it does, per input:

- a URDF (a PartNet-Mobility folder's ``mobility.urdf``, or a robot of pybullet_data) or a
  procedural family (:mod:`n4d4d.rigging.procedural`) is scored on two tracks:

  * **kept parts**: the rigid bodies (links joined by fixed joints merged; a procedural
    family's labelled parts) are given, joints are inferred;
  * **merged mesh**: all parts concatenated into one unlabelled mesh, as a generator would
    hand it over; parts come from the mesh's pieces (:func:`n4d4d.rigging.parts.component_groups`),
    each inferred part is mapped to the true body with the largest share of the visual
    surface nearest to it;

  both through :func:`n4d4d.rigging.stage.articulate` with every joint emitted whatever its
  confidence (``min_confidence=0``), so the confidence threshold can be chosen afterwards
  (:func:`n4d4d.rigging.scoring.choose_threshold`) without running inference again; the
  shipped threshold's figures are the joints at or above it;
- a skinned glTF / GLB is scored on the **skeleton** track: a curve skeleton inferred on its
  bind-pose mesh against the joints of its inverse bind matrices (CD-J2J, CD-J2B).

Each true movable joint gives a :class:`JointRecord` (its type, the matched prediction's
type, confidence and errors); each predicted movable joint matching no true one (pieces of
one true body hinged to each other, a button of a fixed body) is an *extra* with its
confidence: accuracy alone does not see them. Every object is labelled with its category
(PartNet-Mobility's, from ``SOURCES.tsv`` beside the objects; ``robot``; ``procedural``).

:func:`default_paths` is the development set (``../shared/data``: PartNet-Mobility objects and
rigged glTFs) and pybullet_data's robots (:data:`ROBOTS`); ``n4d4d eval rigging`` with no path
adds the procedural families. What it does not: tune anything, or write files (the CLI writes
the JSON lines it is asked for).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from n4d4d.rigging import metrics

#: pybullet_data robots of the default run (paths under ``pybullet_data.getDataPath()``)
ROBOTS = ("r2d2.urdf", "racecar/racecar.urdf", "quadruped/minitaur.urdf", "kuka_iiwa/model.urdf",
          "franka_panda/panda.urdf", "laikago/laikago.urdf", "laikago/laikago_toes.urdf", "a1/a1.urdf",
          "aliengo/aliengo.urdf", "mini_cheetah/mini_cheetah.urdf", "xarm/xarm6_robot.urdf", "husky/husky.urdf")
SKELETON_TARGET = 0.05  # CD-J2J <=


@dataclass
class JointRecord:
    """One true movable joint on one track and its matched prediction (if any).

    ``pred_type`` is ``"none"`` when no inferred joint joins the two bodies; ``confidence``
    the matched prediction's (NaN when none). Errors as :func:`metrics.joint_errors`
    (``limit_ok``: same type and range within 20 % of the true one; None without a usable
    true range); ``true_range`` / ``pred_range``: ``upper - lower`` (rad or m) of the true joint
    and of the matched prediction (None where infinite or unmatched)."""

    name: str
    true_type: str
    pred_type: str = "none"
    confidence: float = float("nan")
    source: str = ""
    class_ok: bool = False
    strict_ok: bool = False
    axis_deg: float | None = None
    pivot_pct: float | None = None
    pivot_m: float | None = None
    limit_err: float | None = None
    limit_ok: bool | None = None
    features: dict | None = None
    true_range: float | None = None
    pred_range: float | None = None


@dataclass
class Extra:
    """A predicted movable joint that matches no true movable joint."""

    name: str
    pred_type: str
    confidence: float
    source: str = ""
    features: dict | None = None


@dataclass
class ObjectResult:
    """One object on one track: its joint records, extra joints, skeleton figures, time
    (``seconds`` in all, wall; ``stage_seconds`` of the rigging stage itself, wall;
    ``budget_s`` bounds the stage's CPU seconds, :attr:`over_budget`), flat sheets the merged
    track fused into the piece they lie on (:func:`n4d4d.rigging.sheets.fuse_sheets`), and the
    stage's CPU seconds by step (``cpu_s``: ``parts``, ``closing``, ``joints``; None for a
    rigid result)."""

    name: str
    track: str
    category: str = ""
    records: list = field(default_factory=list)
    extras: list = field(default_factory=list)
    cd_j2j: float | None = None
    cd_j2b: float | None = None
    skeleton_joints: int = 0
    skeleton_pred: int = 0
    seconds: float = 0.0
    stage_seconds: float = 0.0
    budget_s: float = float("inf")
    error: str | None = None
    sheets_fused: int = 0
    cpu_s: dict | None = None

    @property
    def over_budget(self) -> bool:
        """Whether the rigging stage spent more than ``budget_s``: its CPU seconds (``cpu_s``,
        the budget's own clock: :func:`n4d4d.budget.process_cpu_seconds`) where recorded, else
        its wall seconds (results written before ``cpu_s`` existed)."""
        spent = sum(self.cpu_s.values()) if self.cpu_s else (self.stage_seconds or self.seconds)
        return spent > self.budget_s

    @property
    def true_joints(self) -> int:
        """Number of true joints (movable joints; skeleton joints on the skeleton track)."""
        return self.skeleton_joints if self.track == "skeleton" else len(self.records)

    @property
    def matched(self) -> int:
        """True joints with a prediction between the same bodies (inferred skeleton joints)."""
        if self.track == "skeleton":
            return self.skeleton_pred
        return sum(r.pred_type != "none" for r in self.records)

    def to_json(self) -> dict:
        """A JSON-ready dict (NaN / inf as None)."""
        def clean(x):
            if isinstance(x, float) and not math.isfinite(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list):
                return [clean(v) for v in x]
            return x
        d = clean(asdict(self))
        d["true_joints"], d["matched"] = self.true_joints, self.matched
        return d


def categories(shared: Path) -> dict[str, str]:
    """PartNet-Mobility object id -> category, from ``shared/partnet-mobility/SOURCES.tsv``
    (empty when absent)."""
    tsv = Path(shared) / "partnet-mobility" / "SOURCES.tsv"
    if not tsv.is_file():
        return {}
    rows = [line.split("\t") for line in tsv.read_text().splitlines()[1:] if line.strip()]
    return {r[0]: r[1] for r in rows if len(r) > 1}


def category_of(path: Path) -> str:
    """The category of an evaluated file (see module docstring)."""
    path = Path(path)
    if path.name == "mobility.urdf":
        return categories(path.parent.parent.parent).get(path.parent.name, "PartNet-Mobility")
    import pybullet_data

    base = Path(pybullet_data.getDataPath()).resolve()
    return "robot" if base in path.resolve().parents else "other"


def default_shared() -> Path:
    """``../shared/data`` beside the repository."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def default_paths(shared: Path | None = None, *, robots: bool = True, skins: bool = True) -> list[Path]:
    """The dev set under ``shared`` (default :func:`default_shared`, if present), then
    pybullet_data's :data:`ROBOTS` when ``robots``."""
    import pybullet_data

    shared = default_shared() if shared is None else Path(shared)
    paths = []
    if shared.is_dir():
        paths += sorted((shared / "partnet-mobility").glob("*/mobility.urdf"))
        if skins:
            paths += sorted(p for p in (shared / "rigged").glob("*") if p.suffix.lower() in (".glb", ".gltf"))
    base = Path(pybullet_data.getDataPath())
    return paths + ([base / r for r in ROBOTS if (base / r).is_file()] if robots else [])


def all_robot_paths(*, unparsed: bool = False) -> list[Path]:
    """Every pybullet_data URDF outside ``random_urdfs/`` with a movable joint (revolute,
    continuous or prismatic): the robots the harness must run on without an error. Files the
    URDF reader (:func:`n4d4d.io.urdf.parse_urdf`) rejects are left out, or, with
    ``unparsed``, are what is returned (their errors are the reader's, not rigging's)."""
    import pybullet_data

    from n4d4d.io.urdf import parse_urdf

    base = Path(pybullet_data.getDataPath())
    out, bad = [], []
    for p in sorted(base.rglob("*.urdf")):
        if "random_urdfs" in p.parts:
            continue
        try:
            model = parse_urdf(p)
        except Exception:  # noqa: BLE001 - reported by the caller that asks for them
            bad.append(p)
            continue
        if any(j.type in ("revolute", "continuous", "prismatic") for j in model.joints):
            out.append(p)
    return bad if unparsed else out


def _label(path: Path) -> str:
    return f"{path.parent.name}/{path.name}" if path.name == "mobility.urdf" else path.stem


def _span(j) -> float | None:
    span = float(j.upper) - float(j.lower)
    return span if math.isfinite(span) else None


def score_joints(res: ObjectResult, pred_joints, true_joints, part_to_body, diag, confidence, source,
                 features=None):
    """Fill ``res.records`` / ``res.extras`` from predicted and true joints (see
    :func:`metrics.match_joints`); ``confidence`` / ``source`` / ``features``: joint name ->
    value."""
    features = features or {}
    matched = set()
    for t, p in metrics.match_joints(pred_joints, true_joints, part_to_body):
        rec = JointRecord(t.name, metrics.true_type(t), true_range=_span(t))
        if p is not None:
            matched.add(id(p))
            e = metrics.joint_errors(p, t, diag)
            rec.pred_type = p.type
            rec.pred_range = _span(p)
            rec.confidence = float(confidence.get(p.name, 1.0))
            rec.source = source.get(p.name, "")
            rec.features = features.get(p.name)
            for k in ("class_ok", "strict_ok", "axis_deg", "pivot_pct", "pivot_m", "limit_err", "limit_ok"):
                setattr(rec, k, e[k])
        res.records.append(rec)
    res.extras = [Extra(j.name, j.type, float(confidence.get(j.name, 1.0)), source.get(j.name, ""),
                        features.get(j.name)) for j in pred_joints if j.type != "fixed" and id(j) not in matched]


def body_of_parts(parts, visual) -> dict[str, str]:
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


def evaluate_asset(truth, true_joints, name: str, category: str, *, seed: int = 0,
                   time_budget_s: float = 120.0, tracks=("kept", "merged")) -> list[ObjectResult]:
    """Results of ``truth`` (an Asset whose ``visual`` labels its true bodies by
    ``face_submesh``; ``parts`` optional) against ``true_joints`` on each of ``tracks``."""
    from n4d4d.rigging.stage import articulate

    out = []
    diag = truth.visual.diagonal
    for track in tracks:
        res = ObjectResult(name, track, category, budget_s=time_budget_s)
        t0 = time.monotonic()
        try:
            if track == "kept":
                asset = truth.replace(joints=())
            else:
                v = truth.visual
                asset = truth.replace(parts=(), joints=(), visual=v.replace(face_submesh=None, submesh_names=()))
            rigged = articulate(asset, joints="infer", seed=seed, time_budget_s=time_budget_s, min_confidence=0.0)
            res.stage_seconds = float(rigged.stages[-1].seconds)
            fig = rigged.stages[-1].figures
            res.sheets_fused = int(fig.get("sheets_fused", 0))
            res.cpu_s = fig.get("cpu_s")
            mapping = ({p.name: p.name for p in rigged.parts} if track == "kept"
                       else body_of_parts(rigged.parts, truth.visual))
            score_joints(res, rigged.joints, true_joints, mapping, diag,
                         fig.get("joint_confidence", {}), fig.get("joint_candidates", {}), fig.get("joint_features", {}))
        except Exception as e:  # noqa: BLE001 - a failing object is reported, not fatal to the run
            res.error = f"{type(e).__name__}: {e}"
        res.seconds = time.monotonic() - t0
        out.append(res)
    return out


def evaluate_urdf(path: Path, *, seed: int = 0, time_budget_s: float = 120.0) -> list[ObjectResult]:
    """Kept-parts and merged-mesh results for one URDF (see module docstring)."""
    from n4d4d.io.urdf import load_urdf_asset

    path = Path(path)
    try:
        truth = load_urdf_asset(path)
    except Exception as e:  # noqa: BLE001 - a broken object is reported, not fatal to the run
        return [ObjectResult(_label(path), "kept", category_of(path), error=f"{type(e).__name__}: {e}")]
    return evaluate_asset(truth, truth.joints, _label(path), category_of(path), seed=seed,
                          time_budget_s=time_budget_s)


def evaluate_procedural(names=None, *, seed: int = 0, time_budget_s: float = 120.0) -> list[ObjectResult]:
    """Both tracks on the procedural families (:data:`n4d4d.rigging.procedural.FAMILIES`,
    or those named), category ``procedural``."""
    from n4d4d.rigging import procedural

    out = []
    for n in names or procedural.FAMILIES:
        asset, joints = procedural.FAMILIES[n]()
        out += evaluate_asset(asset, joints, n, "procedural", seed=seed, time_budget_s=time_budget_s)
    return out


def evaluate_skin(path: Path, *, seed: int = 0) -> ObjectResult:
    """Skeleton-track result for one skinned glTF / GLB (see module docstring)."""
    from n4d4d.asset import Asset, Mesh
    from n4d4d.io.gltf_anim import read_gltf_animation
    from n4d4d.rigging.stage import rig_stage

    res = ObjectResult(path.stem, "skeleton", "skinned")
    t0 = time.monotonic()
    try:
        skin = read_gltf_animation(path, with_vertices=False, animations=False)
        truth = skin.skeleton
        mesh = Mesh(skin.vertices, skin.faces)
        rigged = rig_stage(Asset("skin", visual=mesh), mode="skeletal", seed=seed)
        s = 1.0 / mesh.diagonal
        sk = rigged.skeleton
        res.skeleton_joints = len(truth.joint_names)
        res.skeleton_pred = len(sk.joint_names)
        res.cd_j2j = metrics.cd_j2j(sk.bind_positions * s, truth.bind_positions * s)
        res.cd_j2b = metrics.cd_j2b(sk.bind_positions * s, sk.parents, truth.bind_positions * s, truth.parents)
    except Exception as e:  # noqa: BLE001
        res.error = f"{type(e).__name__}: {e}"
    res.seconds = time.monotonic() - t0
    return res


def evaluate(paths: list[Path], *, seed: int = 0, time_budget_s: float = 120.0, on_result=None) -> list[ObjectResult]:
    """Results for every path (URDF / PartNet-Mobility folder: two tracks; glTF / GLB:
    skeleton track; ``procedural:NAME`` or ``procedural``: the procedural families).
    ``on_result(result)`` is called as each result is ready (progress, JSON lines)."""
    out = []
    for p in paths:
        s = str(p)
        if s == "procedural" or s.startswith("procedural:"):
            rs = evaluate_procedural([s.split(":", 1)[1]] if ":" in s else None, seed=seed,
                                     time_budget_s=time_budget_s)
        else:
            p = Path(p)
            if p.is_dir() and (p / "mobility.urdf").is_file():
                p = p / "mobility.urdf"
            if p.suffix.lower() in (".glb", ".gltf"):
                rs = [evaluate_skin(p, seed=seed)]
            else:
                rs = evaluate_urdf(p, seed=seed, time_budget_s=time_budget_s)
        for r in rs:
            if on_result is not None:
                on_result(r)
        out += rs
    return out


def summarize(results: list[ObjectResult], threshold: float = 0.0) -> dict[str, dict]:
    """Pooled figures per track at confidence ``threshold`` (see
    :func:`n4d4d.rigging.scoring.figures`); the skeleton track: mean CD-J2J / CD-J2B."""
    from n4d4d.rigging.scoring import figures

    out = {}
    for track in ("kept", "merged"):
        rs = [r for r in results if r.track == track and r.error is None]
        if rs:
            out[track] = figures(rs, threshold) | {"objects": len(rs)}
    rs = [r for r in results if r.track == "skeleton" and r.error is None]
    if rs:
        j2j = float(np.mean([r.cd_j2j for r in rs]))
        out["skeleton"] = {"objects": len(rs), "cd_j2j": j2j, "cd_j2b": float(np.mean([r.cd_j2b for r in rs])),
                           "met": j2j <= SKELETON_TARGET}
    return out
