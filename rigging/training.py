"""Training and leave-one-category-out evaluation of the joint confidence model
(:mod:`n4d4d.rigging.confidence`) from ``n4d4d eval rigging`` results.

What it does:

- **samples** (:func:`samples`): every predicted movable joint of a result that carries
  features is one sample: a true joint's match is positive when it has the true motion class
  and an axis within :data:`~n4d4d.rigging.confidence.AXIS_OK_DEG`; an extra joint (matching
  no true joint) is negative; the ``kept`` track's samples train the ``declared`` model, the
  ``merged`` track's the ``components`` one;
- **fit** (:func:`fit_results`): the two logistic regressions, then the threshold per part
  source chosen by F-beta (:func:`n4d4d.rigging.scoring.choose_threshold`) on the model's
  confidences of that track;
- **leave-one-category-out** (:func:`loco`): for each category, the model and thresholds
  fitted on every other category score that category's joints; the tables print the result
  beside the shipped figures, so nothing learned or chosen is scored on what it saw.

What it does not: run inference (the harness does; a re-scored joint keeps its type, axis and
limits, only its confidence, hence whether it is emitted, changes).
"""

from __future__ import annotations

import copy

import numpy as np

from n4d4d.rigging import confidence as cm


def _label(rec) -> bool:
    return bool(rec.class_ok) and (rec.axis_deg is None or rec.axis_deg <= cm.AXIS_OK_DEG)


SOURCE = {"kept": "declared", "merged": "components"}


def samples(results, source: str | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """``(X (N, D), y (N,), refs)``: model inputs, labels and ``(result, record-or-extra)``
    for every predicted movable joint with features in ``results`` of the track whose parts
    come from ``source`` (both tracks when None)."""
    X, y, refs = [], [], []
    for r in results:
        if r.error is not None or r.track not in SOURCE or (source and SOURCE[r.track] != source):
            continue
        for rec in r.records:
            if rec.pred_type in ("none", "fixed") or not rec.features:
                continue
            X.append(cm.feature_vector(rec.features))
            y.append(_label(rec))
            refs.append((r, rec))
        for x in r.extras:
            if not x.features:
                continue
            X.append(cm.feature_vector(x.features))
            y.append(False)
            refs.append((r, x))
    D = len(cm.feature_names())
    return (np.asarray(X, np.float64).reshape(-1, D), np.asarray(y, np.float64), refs)


def rescore(results, model) -> list:
    """Deep copies of ``results`` whose joints' confidences are ``model``'s (joints without
    features, or of a source the model lacks, keep theirs)."""
    out = copy.deepcopy(results)
    for source in cm.SOURCES:
        X, _, refs = samples(out, source)
        if len(X) and source in model.models:
            for (_, item), p in zip(refs, model.predict(X, source)):
                item.confidence = float(p)
    return out


#: part sources ``--train`` fits a model for. Measured on the dev set leaving each category
#: out, neither beats the rule score (prior x usefulness), so none is shipped: for declared
#: parts a model fused more right joints than it removed wrong ones (kept-track class
#: accuracy 0.64 with the rule score, 0.51 with a model, precision 0.87 / 0.89, an earlier
#: version of the rules); for a merged mesh's pieces a model let 193 false joints through at
#: precision 0.20 where the rule score at its threshold lets 13 through at 0.52 (class
#: accuracy 0.10 / 0.03). The tables keep printing the learned figures beside the rule ones.
LEARNED = ("components",)


def fit_results(results, *, l2: float = 1.0, sources=LEARNED):
    """The models fitted on the samples of ``results`` for each part source in ``sources``,
    with thresholds for the part sources whose track is in ``results`` (``declared`` from the
    kept track, ``components`` from the merged track) chosen on the resulting confidences (the
    rule score where no model is fitted; a source without a track in ``results`` gets no
    threshold, so the stage keeps :data:`n4d4d.rigging.stage.MIN_CONFIDENCE` for it); None when
    a fitted source has no samples of both labels."""
    from n4d4d.rigging.scoring import chosen_thresholds

    models = {}
    for source in sources:
        X, y, _ = samples(results, source)
        if len(X) == 0 or y.min() == y.max():
            return None
        models[source] = cm.fit(X, y, l2=l2)
    model = cm.ConfidenceModel(tuple(cm.feature_names()), models, {})
    t = chosen_thresholds(rescore(results, model))
    present = {r.track for r in results if r.error is None}
    return cm.ConfidenceModel(model.names, models, {src: t[track] for track, src in SOURCE.items() if track in present})


def loco(results, *, l2: float = 1.0) -> tuple[list, dict]:
    """Leave-one-category-out: ``(rescored results, thresholds)`` where each category's joints
    are scored by the model fitted on the other categories and ``thresholds[track][category]``
    is the threshold chosen there. Categories whose complement has no usable samples keep
    their confidences and threshold 0."""
    cats = sorted({r.category for r in results if r.track in ("kept", "merged")})
    out, th = [], {"kept": {}, "merged": {}}
    for c in cats:
        mine = [r for r in results if r.category == c]
        model = fit_results([r for r in results if r.category != c], l2=l2)
        if model is None:
            out += copy.deepcopy(mine)
            for t in th:
                th[t][c] = 0.0
            continue
        out += rescore(mine, model)
        from n4d4d.rigging.stage import MIN_CONFIDENCE

        th["kept"][c] = model.thresholds.get("declared", MIN_CONFIDENCE["declared"])
        th["merged"][c] = model.thresholds.get("components", MIN_CONFIDENCE["components"])
    out += [copy.deepcopy(r) for r in results if r.track not in ("kept", "merged")]
    return out, th


def write_model(model, path, results, learned) -> None:
    """Write ``model`` as JSON to ``path`` and its model card (Markdown) beside it
    (``path`` with suffix ``.md``), atomically: training data, inputs, thresholds and the
    leave-one-category-out figures of ``learned`` (:func:`loco`)."""
    from pathlib import Path

    from n4d4d.io.atomic import atomic_write_text
    from n4d4d.rigging.scoring import figures

    path = Path(path)
    X, y, refs = samples(results)
    cats = sorted({r.category for r, _ in refs})
    objs = len({(r.category, r.name) for r, _ in refs})
    tracks = [t for t in ("kept", "merged") if any(r.track == t for r, _ in refs)]
    loco_fig = {t: figures([r for r in learned[0] if r.track == t and r.error is None], learned[1])
                for t in tracks}
    prov = {"samples": int(len(y)), "positives": int(y.sum()), "objects": objs, "categories": cats,
            "label": f"right motion class and axis within {cm.AXIS_OK_DEG:g} deg",
            "loco": {t: {k: (None if not np.isfinite(v) else round(float(v), 4)) for k, v in f.items()
                         if isinstance(v, float)} for t, f in loco_fig.items()}}
    atomic_write_text(path, model.to_json(provenance=prov) + "\n")
    w = {k: sorted(zip(model.names, m.weights), key=lambda t: -abs(t[1])) for k, m in model.models.items()}
    lines = [
        "# Model card: joint confidence (n4d4d.rigging.confidence)",
        "",
        "**What**: L2-regularised logistic regressions (numpy, Newton's method, standardised inputs), "
        "one per part source fitted (declared parts: a URDF's links, labelled sub-meshes; components: a merged mesh's pieces), "
        "giving P(an inferred joint is right) from the description of the winning joint hypothesis "
        "(prior, sweep usefulness, family, kind, part-pair shape and contact, free range, other parts "
        "touched, separability). Joints below the threshold of their part source are fused by the "
        "rigging stage.",
        "",
        f"**Trained on**: {len(y)} predicted movable joints ({int(y.sum())} right) of {objs} objects in "
        f"{len(cats)} categories ({', '.join(cats)}): the PartNet-Mobility development set in "
        "`../shared/data/partnet-mobility`, the procedural families of `n4d4d.rigging.procedural` and "
        f"pybullet_data robots that were run, track(s) {', '.join(tracks)} of `n4d4d eval rigging` "
        f"(kept: parts given; merged: one merged mesh). Fitted for part source(s) "
        f"{', '.join(sorted(model.models))}; the others keep the rule score (prior x usefulness). "
        f"Label: {prov['label']}; extra joints (matching no true joint) are wrong.",
        "",
        "**Thresholds** (F0.5 on the training data, precision weighted twice recall, at most 0.1 "
        "false joints per true joint): " + ", ".join(
            f"{k} {model.thresholds[k]:.3f}" for k in ("declared", "components") if k in model.thresholds)
        + "; a part source without one here uses `n4d4d.rigging.stage.MIN_CONFIDENCE`.",
        "",
        "**Leave-one-category-out** (model and threshold fitted without the category scored):",
        "",
        "| track | class acc | strict acc | precision | axis med (deg) | pivot med (% diag) | limit 20% | extra/joint |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t, f in loco_fig.items():
        lines.append(f"| {t} | {f['class_acc']:.2f} | {f['strict_acc']:.2f} | {f['precision']:.2f} | "
                     f"{f['axis_med']:.1f} | {f['pivot_med']:.2f} | {f['limit_ok']:.2f} | {f['extra_per_joint']:.2f} |")
    lines += [
        "",
        *[f"**Largest weights, {k}** (standardised inputs): " + ", ".join(f"{n} {v:+.2f}" for n, v in ws[:10]) + "."
          for k, ws in w.items()],
        "",
        f"**Limits**: {objs} objects in {len(cats)} categories, dominated by remotes' and phones' buttons; the "
        "joint itself (type, axis, limits) comes from the geometric hypotheses, only whether it is "
        "emitted depends on this model. Categories far from these (furniture with many panels in one "
        "merged mesh, robots with hidden motors) get low confidences: parts are fused rather than "
        "hinged.",
        "",
        "**Data terms**: PartNet-Mobility is licensed for non-commercial research; these weights are "
        "derived from it (a few dozen coefficients). Retrain with "
        "`n4d4d eval rigging --json r.jsonl && n4d4d eval rigging --from-json r.jsonl --train "
        "rigging/weights/joint_confidence.json`.",
        "",
    ]
    atomic_write_text(path.with_suffix(".md"), "\n".join(lines))
