"""Class-balanced draws of the flow training (``FlowTrainConfig.balance``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from n4d4d.generator.flow_train import draw_weights


def test_category_mass_is_count_to_the_power_one_minus_balance():
    y = np.r_[np.zeros(900, np.int64), np.ones(36, np.int64), np.full(4, 2)]  # 900 / 36 / 4 shapes
    assert draw_weights(y, 0.0) is None  # the plain uniform draw
    for b in (0.5, 1.0):
        p = draw_weights(y, b)
        mass = np.array([p[y == c].sum() for c in range(3)])
        want = np.array([900, 36, 4], float) ** (1 - b)
        assert np.allclose(mass, want / want.sum()) and np.isclose(p.sum(), 1.0)
        assert np.allclose(p[y == 1], p[y == 1][0])  # equal within a category
    with pytest.raises(ValueError, match="balance"):
        draw_weights(y, 1.5)


def test_balanced_draw_follows_the_weights():
    """``draw`` with balance 1 on a 900 / 100 split draws both categories about equally (binomial:
    2,400 draws, sd 0.01 of the share; the bound is 5 sd)."""
    from n4d4d.generator.flow_train import CONFIGS, draw

    class Data:
        stage = "structure"
        y = np.r_[np.zeros(900, np.int64), np.ones(100, np.int64)]
        shapes = [SimpleNamespace(cells=np.zeros((1, 3)))] * 1000

        def __len__(self):
            return 1000

    import dataclasses

    cfg = dataclasses.replace(CONFIGS["cpu"], balance=1.0)
    rng = np.random.default_rng(0)
    idx = np.concatenate([draw(Data(), cfg, rng) for _ in range(200)])
    assert len(idx) == 2400 and abs(np.mean(Data.y[idx] == 1) - 0.5) < 0.05
