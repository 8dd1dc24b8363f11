"""The harness' joint records carry the true and predicted ranges (issue 18: the limit figure is
audited per joint), and they survive the --json / --from-json round trip."""

from __future__ import annotations

import json

import numpy as np

from n4d4d.asset import Joint
from n4d4d.rigging.harness import ObjectResult, score_joints


def _j(name, kind, child, lo, hi):
    return Joint(name, kind, "base", child, np.zeros(3), np.array([0.0, 0.0, 1.0]), lo, hi)


def test_records_carry_ranges_and_round_trip(tmp_path):
    """Ranges are upper - lower (rad); a continuous prediction has none. The limit is within
    20 % when |1.3 - 1.5| = 0.2 <= 0.2 x 1.5 = 0.3 (metrics.LIMIT_REL_TOL)."""
    from n4d4d.cli.eval_rigging import _load_results

    true = [_j("t_lid", "revolute", "lid", -0.5, 1.0), _j("t_knob", "revolute", "knob", 0.0, 2.0)]
    pred = [_j("p_lid", "revolute", "lid", 0.0, 1.3), _j("p_knob", "continuous", "knob", -np.inf, np.inf)]
    res = ObjectResult("toy", "kept", "test")
    score_joints(res, pred, true, {"lid": "lid", "knob": "knob"}, 1.0, {}, {})
    lid, knob = res.records
    assert lid.true_range == 1.5 and abs(lid.pred_range - 1.3) < 1e-12 and lid.limit_ok is True
    assert knob.true_range == 2.0 and knob.pred_range is None and knob.limit_ok is False
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(res.to_json()) + "\n")
    back = _load_results(path)[0]
    assert [(r.true_range, r.pred_range) for r in back.records] == [(1.5, lid.pred_range), (2.0, None)]
