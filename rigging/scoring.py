"""Scores of ``n4d4d eval rigging`` from joint records: pooled figures at a confidence
threshold, per category and per joint type, the threshold chosen on the dev set, its
leave-one-category-out figure, and the tables the CLI prints.

Definitions (records from :mod:`n4d4d.rigging.harness`, errors from :mod:`n4d4d.rigging.metrics`):

- a predicted movable joint is **emitted** at threshold ``t`` when its confidence is ``>= t``
  (below it the stage fuses the part: the joint is fixed);
- **motion-class accuracy**: true movable joints whose emitted match has the same class
  (hinge / slider), over all true movable joints; **strict**: the same type (revolute,
  continuous, prismatic);
- **precision**: emitted joints of the right class over all emitted movable joints (those
  of the wrong class and the extras, matching no true joint, are false joints);
- axis / pivot medians over the emitted matched joints (pivot in % of the diagonal and in mm,
  with the share of hinges whose pivot is within :data:`PIVOT_MM` of the true axis line: issue
  18's "pivots within 2 mm of the source's where the parts are given"); **limit within 20 %**
  over true joints with a usable range;
- **extra per joint**: emitted extras over true movable joints (the merged track's target);
- **confidence AUC** (:func:`confidence_auc`): the area under the ROC curve of the
  confidences of the predicted movable joints against whether each is right (extras wrong),
  the ranking quality any threshold inherits; :func:`threshold_curve` tabulates the figures
  over thresholds;
- **threshold choice** (:func:`choose_threshold`): the confidence maximising F-beta with
  beta = 0.5 (precision weighted twice recall: a false joint in a simulator is worse than a
  missed one) among the thresholds that let through at most :data:`MAX_FALSE` false joints
  (wrong class or extra) per true joint, else none (every joint fused), per track;
  **leave-one-category-out** (:func:`loco_thresholds`): each category scored at the
  threshold chosen on all the other categories.

What it does not: run inference (the harness does) or change a record.
"""

from __future__ import annotations

import numpy as np

#: Targets of issue 18 per track (figure: (bound, "min" | "max"))
TARGETS = {"kept": {"class_acc": (0.9, "min"), "strict_acc": (0.85, "min"), "axis_med": (3.0, "max"),
                    "pivot_med": (2.0, "max"), "pivot_mm_med": (2.0, "max"), "limit_ok": (0.8, "min")},
           "merged": {"class_acc": (0.8, "min"), "extra_per_joint": (0.1, "max")}}
PIVOT_MM = 2.0  # mm: issue 18's bound on a pivot's distance from the source's axis line
BETA = 0.5
MAX_FALSE = 0.1  # false joints per true joint a chosen threshold may let through (issue 18's bound on extras)


def _t(threshold, r) -> float:
    """A result's threshold: ``threshold`` a float, or a dict keyed by track and / or
    category (nested: ``{"kept": {"Remote": 0.4, ...}}``)."""
    while isinstance(threshold, dict):
        threshold = threshold.get(r.track) if r.track in threshold else threshold.get(r.category, 0.0)
    return float(threshold)


def _emitted(rec, t: float) -> bool:
    return rec.pred_type not in ("none", "fixed") and bool(rec.confidence >= t)


def counts(results, threshold=0.0) -> dict:
    """Raw counts at ``threshold`` (a float, or a dict as :func:`_t` reads it): ``n`` true joints,
    ``tp`` (right class, emitted), ``strict``, ``fp`` (emitted wrong class + extras), ``extra``."""
    n = tp = strict = fp = extra = 0
    for r in results:
        if r.error is not None or r.track == "skeleton":
            continue
        t = _t(threshold, r)
        for rec in r.records:
            n += 1
            if _emitted(rec, t):
                tp += bool(rec.class_ok)
                strict += bool(rec.strict_ok)
                fp += not rec.class_ok
        e = sum(bool(x.confidence >= t) for x in r.extras)
        extra += e
        fp += e
    return {"n": n, "tp": tp, "strict": strict, "fp": fp, "extra": extra}


def figures(results, threshold=0.0) -> dict:
    """Pooled figures (see module docstring) of ``results`` (one track) at ``threshold``."""
    c = counts(results, threshold)
    axis, pivot, pivot_mm, lim = [], [], [], []
    for r in results:
        if r.error is not None:
            continue
        t = _t(threshold, r)
        for rec in r.records:
            em = _emitted(rec, t)
            if em and rec.axis_deg is not None:
                axis.append(rec.axis_deg)
            if em and rec.pivot_pct is not None:
                pivot.append(rec.pivot_pct)
            if em and getattr(rec, "pivot_m", None) is not None:
                pivot_mm.append(1000.0 * rec.pivot_m)
            if rec.limit_ok is not None:
                lim.append(bool(rec.limit_ok) and em)
    n = c["n"]
    med = lambda v: float(np.median(v)) if v else float("nan")  # noqa: E731
    out = {"joints": n, "class_acc": c["tp"] / n if n else float("nan"),
           "strict_acc": c["strict"] / n if n else float("nan"),
           "precision": c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else float("nan"),
           "axis_med": med(axis), "pivot_med": med(pivot), "pivot_mm_med": med(pivot_mm),
           "pivot_2mm": float(np.mean(np.asarray(pivot_mm) <= PIVOT_MM)) if pivot_mm else float("nan"),
           "limit_ok": float(np.mean(lim)) if lim else float("nan"),
           "extra": c["extra"], "extra_per_joint": c["extra"] / n if n else float("nan")}
    out["type_acc"] = out["class_acc"]  # the name earlier reports used
    return out


def met(track: str, fig: dict) -> dict[str, bool | None]:
    """Which of the track's :data:`TARGETS` ``fig`` meets: True / False, or None where the
    figure is undefined (no joint it applies to: ``limit_ok`` of a robot whose joints are all
    continuous)."""
    out = {}
    for k, (bound, kind) in TARGETS.get(track, {}).items():
        v = fig[k]
        out[k] = None if v is None or not np.isfinite(v) else bool(v >= bound if kind == "min" else v <= bound)
    return out


def f_beta(c: dict, beta: float = BETA) -> float:
    """F-beta of counts ``c`` (:func:`counts`): precision ``tp / (tp + fp)``, recall ``tp / n``."""
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
    rc = c["tp"] / c["n"] if c["n"] else 0.0
    return (1 + beta ** 2) * p * rc / (beta ** 2 * p + rc) if p + rc > 0 else 0.0


def choose_threshold(results, beta: float = BETA, max_false: float = MAX_FALSE) -> float:
    """The confidence threshold maximising F-beta (:func:`f_beta`) over ``results`` among
    those that emit at most ``max_false`` false joints (wrong class or extra) per true joint;
    candidates are the emitted confidences, 0, and 1 + the largest (emit nothing), which
    wins when no other meets the bound; ties take the lowest."""
    confs = {0.0}
    for r in results:
        confs.update(float(x.confidence) for x in r.extras)
        confs.update(float(x.confidence) for x in r.records if x.pred_type not in ("none", "fixed"))
    confs = sorted(c for c in confs if np.isfinite(c))
    best, best_t = -1.0, confs[-1] + 1.0
    for t in confs:
        c = counts(results, t)
        if c["fp"] > max_false * max(c["n"], 1):
            continue
        f = f_beta(c, beta)
        if f > best + 1e-12:
            best, best_t = f, t
    return best_t


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve of ``scores (N,)`` against boolean ``labels (N,)``: the
    probability that a random right item scores above a random wrong one (ties count half;
    Mann-Whitney U / (n1 n0), Hanley & McNeil 1982); NaN without both labels."""
    from scipy.stats import rankdata

    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    s = np.where(np.isfinite(s), s, -np.inf)
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def emitted_items(results) -> list[tuple[float, bool]]:
    """``[(confidence, right), ...]`` of every predicted movable joint of ``results`` (matched
    true joints: right when of the true motion class with an axis within
    :data:`n4d4d.rigging.confidence.AXIS_OK_DEG`, the training label; extras: wrong)."""
    from n4d4d.rigging.confidence import AXIS_OK_DEG

    out = []
    for r in results:
        if r.error is not None or r.track == "skeleton":
            continue
        for x in r.records:
            if x.pred_type not in ("none", "fixed"):
                out.append((float(x.confidence), bool(x.class_ok) and (x.axis_deg is None or
                                                                       x.axis_deg <= AXIS_OK_DEG)))
        out += [(float(x.confidence), False) for x in r.extras]
    return out


def confidence_auc(results) -> float:
    """:func:`roc_auc` of the confidences of ``results``' predicted movable joints against
    whether each is right (:func:`emitted_items`): how well the confidence ranks right joints
    above wrong ones, whatever the threshold (0.5: no better than chance)."""
    items = emitted_items(results)
    return roc_auc([c for c, _ in items], [ok for _, ok in items])


def threshold_curve(results, thresholds) -> list[dict]:
    """One row per threshold ``t`` of ``thresholds``: ``{"threshold", "class_acc", "strict_acc",
    "precision", "extra", "extra_per_joint", "false_per_joint"}`` of ``results`` (one track)
    at ``t`` (:func:`figures`, :func:`counts`)."""
    out = []
    for t in thresholds:
        f, c = figures(results, t), counts(results, t)
        out.append({"threshold": float(t), "class_acc": f["class_acc"], "strict_acc": f["strict_acc"],
                    "precision": f["precision"], "extra": f["extra"], "extra_per_joint": f["extra_per_joint"],
                    "false_per_joint": c["fp"] / c["n"] if c["n"] else float("nan")})
    return out


def loco_thresholds(results, beta: float = BETA) -> dict[str, dict[str, float]]:
    """Track -> category -> the threshold :func:`choose_threshold` picks on that track's
    results of every *other* category."""
    out = {}
    for track in ("kept", "merged"):
        rs = [r for r in results if r.track == track and r.error is None]
        cats = sorted({r.category for r in rs})
        out[track] = {c: choose_threshold([r for r in rs if r.category != c], beta) for c in cats}
    return out


def chosen_thresholds(results, beta: float = BETA) -> dict[str, float]:
    """Track -> the threshold :func:`choose_threshold` picks on all of that track's results
    (what :data:`n4d4d.rigging.stage.MIN_CONFIDENCE` ships: ``declared`` from ``kept``,
    ``components`` from ``merged``)."""
    return {t: choose_threshold([r for r in results if r.track == t and r.error is None], beta)
            for t in ("kept", "merged")}


def shipped_thresholds() -> dict[str, float]:
    """Track -> the threshold the stage applies to it
    (:func:`n4d4d.rigging.confidence.threshold`: ``declared`` parts for ``kept``, a merged
    mesh's ``components`` for ``merged``)."""
    from n4d4d.rigging.confidence import threshold

    return {"kept": threshold("declared"), "merged": threshold("components")}


def _nanmean(v) -> float:
    v = [x for x in v if np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def _f(x, fmt="{:.2f}"):
    return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else fmt.format(x)


def category_table(results, threshold=0.0, title="by category"):
    """A ``rich`` table: one row per category, kept and merged figures side by side."""
    from rich.table import Table

    t = Table(title=title)
    for col in ("category", "objects", "joints", "kept class", "kept strict", "axis med", "pivot med",
                "limit 20%", "kept extra", "kept prec", "merged class", "merged strict", "merged extra/j",
                "merged prec", "max s", "errors"):
        t.add_column(col, justify="left" if col == "category" else "right")
    cats = sorted({r.category for r in results if r.track in ("kept", "merged")})
    for c in cats:
        rs = [r for r in results if r.category == c]
        k = figures([r for r in rs if r.track == "kept"], threshold)
        m = figures([r for r in rs if r.track == "merged"], threshold)
        errs = sum(r.error is not None for r in rs)
        t.add_row(c, str(len({r.name for r in rs})), str(k["joints"]), _f(k["class_acc"]), _f(k["strict_acc"]),
                  _f(k["axis_med"], "{:.1f}"), _f(k["pivot_med"]), _f(k["limit_ok"]), str(k["extra"]),
                  _f(k["precision"]), _f(m["class_acc"]), _f(m["strict_acc"]), _f(m["extra_per_joint"]),
                  _f(m["precision"]), f"{max(r.seconds for r in rs):.0f}", str(errs) if errs else "")
    return t


def type_table(results, threshold=0.0, title="by true joint type"):
    """A ``rich`` table: one row per track and true joint type."""
    from rich.table import Table

    from n4d4d.rigging.harness import ObjectResult

    t = Table(title=title)
    for col in ("track", "true type", "joints", "class acc", "strict acc", "axis med", "pivot med", "limit 20%"):
        t.add_column(col)
    for track in ("kept", "merged"):
        for jt in ("revolute", "continuous", "prismatic"):
            rs = []
            for r in results:
                if r.track == track and r.error is None:
                    sub = ObjectResult(r.name, r.track, r.category, [x for x in r.records if x.true_type == jt])
                    rs.append(sub)
            f = figures(rs, threshold)
            if f["joints"]:
                t.add_row(track, jt, str(f["joints"]), _f(f["class_acc"]), _f(f["strict_acc"]),
                          _f(f["axis_med"], "{:.1f}"), _f(f["pivot_med"]), _f(f["limit_ok"]))
    return t


def _macro(rs, cats, threshold) -> dict:
    per = [figures([r for r in rs if r.category == c], threshold) for c in cats]
    per = [p for p in per if p["joints"]]
    macro = {k: _nanmean([p[k] for p in per]) for k in ("class_acc", "strict_acc", "precision", "axis_med",
                                                       "pivot_med", "pivot_mm_med", "pivot_2mm", "limit_ok",
                                                       "extra_per_joint")}
    return macro | {"joints": sum(p["joints"] for p in per), "extra": sum(p["extra"] for p in per)}


#: Categories outside the dev set: pybullet_data's robots (:func:`n4d4d.rigging.harness.category_of`).
#: Their joint types are their authors' conventions (laikago's and minitaur's limited legs are
#: ``continuous``, the Panda's full-turn joints ``revolute``), so issue 18 reports them beside the
#: dev set (PartNet-Mobility + procedural families), whose pooled figures the targets apply to.
OUTSIDE_DEV = ("robot",)


def in_dev(result) -> bool:
    """Whether ``result`` is of the dev set (PartNet-Mobility objects and the procedural
    families: every category not in :data:`OUTSIDE_DEV`)."""
    return result.category not in OUTSIDE_DEV


def pooled_table(results, shipped, title="pooled (issue 18 targets)", learned=None, keep=None):
    """A ``rich`` table of the pooled figures per track: at the shipped thresholds
    (``shipped``: as :func:`_t` reads it), at the threshold chosen on all results, with each
    category at its leave-one-category-out threshold, the mean over categories (LOCO), with
    every joint emitted, and, given ``learned = (results, thresholds)`` from
    :func:`n4d4d.rigging.training.loco`, with the confidence model and threshold fitted
    leaving each category out (pooled and mean of categories); each row says which targets
    it meets. ``keep``, a predicate on a result (e.g. its category in the dev set), restricts
    the rows to those results; thresholds (chosen, LOCO) are still chosen on all ``results``,
    so a category outside ``keep`` is scored at the threshold the others choose. Returns the
    table and the LOCO thresholds."""
    from rich.table import Table

    loco = loco_thresholds(results)
    chosen = chosen_thresholds(results)
    t = Table(title=title)
    for col in ("track", "threshold", "joints", "class acc", "strict acc", "precision", "axis med",
                "pivot med", "pivot mm", "<=2mm", "limit 20%", "extra", "extra/j", "targets"):
        t.add_column(col)
    for track in ("kept", "merged"):
        rs = [r for r in results if r.track == track and r.error is None and (keep is None or keep(r))]
        if not rs:
            continue
        cats = sorted({r.category for r in rs})
        ts = _t(shipped, rs[0])
        rows = [(f"shipped {ts:.2f}", figures(rs, ts)),
                (f"chosen here {chosen[track]:.2f}", figures(rs, chosen[track])),
                ("LOCO per category", figures(rs, loco))]
        rows.append(("LOCO, mean of categories", _macro(rs, cats, loco)))
        rows.append(("0 (all emitted)", figures(rs, 0.0)))
        if learned is not None:
            lr = [r for r in learned[0] if r.track == track and r.error is None and (keep is None or keep(r))]
            rows.append(("LOCO learned model", figures(lr, learned[1])))
            rows.append(("LOCO learned, mean of cats", _macro(lr, cats, learned[1])))
        for label, f in rows:
            ok = met(track, f)
            miss = [k for k, v in ok.items() if v is False]
            na = [k for k, v in ok.items() if v is None]
            t.add_row(track, label, str(f["joints"]), _f(f["class_acc"]), _f(f["strict_acc"]), _f(f["precision"]),
                      _f(f["axis_med"], "{:.1f}"), _f(f["pivot_med"]), _f(f["pivot_mm_med"], "{:.1f}"),
                      _f(f["pivot_2mm"]), _f(f["limit_ok"]), str(f["extra"]),
                      _f(f["extra_per_joint"]), ("missed: " + ", ".join(miss) if miss else "all met")
                      + ("; no data: " + ", ".join(na) if na else ""))
    return t, loco


def object_table(results, threshold=0.0):
    """A ``rich`` table with one row per object and track."""
    from rich.table import Table

    t = Table(title="per object")
    for col in ("object", "category", "track", "joints", "matched", "class acc", "strict", "axis med",
                "pivot med", "extra", "CD-J2J", "time (s)", "error"):
        t.add_column(col)
    for r in results:
        if r.track == "skeleton":
            t.add_row(r.name, r.category, r.track, str(r.true_joints), str(r.matched), "", "", "", "", "",
                      _f(r.cd_j2j, "{:.3f}"), f"{r.seconds:.1f}", (r.error or "")[:50])
            continue
        f = figures([r], threshold) if r.error is None else {}
        over = " (over budget)" if r.over_budget else ""
        t.add_row(r.name, r.category, r.track, str(r.true_joints), str(r.matched), _f(f.get("class_acc")),
                  _f(f.get("strict_acc")), _f(f.get("axis_med"), "{:.1f}"), _f(f.get("pivot_med")),
                  str(f.get("extra", "")), "", f"{r.seconds:.1f}{over}", (r.error or "")[:50])
    return t
