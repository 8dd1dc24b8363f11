"""The joint confidence model's training (:mod:`n4d4d.rigging.training`) on merged-track results
only: the fitted model separates right joints from extras on separable data, and it sets a
threshold for merged-mesh pieces only, so the stage keeps its rule threshold for declared parts
(a threshold chosen on no kept-track result would be 1: every declared joint fused)."""

from __future__ import annotations

import numpy as np


def _results(seed: int):
    """Merged-track results of two categories: right presses (prior 0.95, contact 0) and
    extras (prior 0.95, contact 0.45, as glued pieces), with a little noise (seeded)."""
    from n4d4d.rigging.harness import Extra, JointRecord, ObjectResult

    rng = np.random.default_rng(seed)
    out = []
    for cat in ("A", "B"):
        recs, extras = [], []
        for k in range(12):
            f = {"prior": 0.95, "use": 1.0, "contact": float(rng.uniform(0, 0.1)), "family": "press",
                 "kind": "prismatic"}
            recs.append(JointRecord(f"j{k}", "prismatic", "prismatic", 0.95, "press:inset-normal", True, True,
                                    0.0, features=f))
        for k in range(8):
            f = {"prior": 0.95, "use": 1.0, "contact": float(rng.uniform(0.35, 0.5)), "family": "press",
                 "kind": "prismatic"}
            extras.append(Extra(f"x{k}", "prismatic", 0.95, "press:inset-normal", f))
        out.append(ObjectResult(f"obj_{cat}", "merged", cat, recs, extras))
    return out


def test_merged_only_training_leaves_declared_parts_to_the_rule_threshold():
    from n4d4d.rigging.stage import MIN_CONFIDENCE
    from n4d4d.rigging.training import fit_results, loco, samples

    results = _results(0)
    model = fit_results(results)
    assert set(model.thresholds) == {"components"}
    X, y, _ = samples(results, "components")
    p = model.predict(X, "components")
    assert p[y == 1].min() > p[y == 0].max()  # separable by contact: every right joint above every extra
    _, th = loco(results)
    assert th["kept"] == {"A": MIN_CONFIDENCE["declared"], "B": MIN_CONFIDENCE["declared"]}
    assert set(th["merged"]) == {"A", "B"}
