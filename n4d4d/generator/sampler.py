"""Rectified flow: the training pair, logit-normal times, and the Euler sampler with time shift and CFG.

Conventions (rectified flow, Liu et al. 2023; Esser et al. 2024, "Scaling Rectified Flow
Transformers"; TRELLIS, Xiang et al. 2024): data ``x_0``, noise ``e ~ N(0, I)``, the path
``x_t = (1 - t) x_0 + t e`` for ``t`` in [0, 1], and the model regresses the velocity
``v = dx_t / dt = e - x_0`` (mean squared error). Training times are logit-normal
(``t = sigmoid(m + s n)``, ``n ~ N(0, 1)``; SD3's default ``m = 0, s = 1``).

Sampling (:func:`euler_sample`) integrates ``dx/dt = v`` from ``t = 1`` (noise) to ``t = 0`` in
``steps`` Euler steps on the shifted schedule ``t' = s t / (1 + (s - 1) t)`` of a uniform grid
(TRELLIS's time shift: ``s > 1`` spends more steps at high noise, where the coarse shape forms).
Classifier-free guidance (Ho & Salimans 2022) mixes ``v = v_u + w (v_c - v_u)``: scale ``w = 1`` is
the conditional model, ``w = 0`` the unconditional one; it is applied only for ``t`` inside the
guidance ``interval`` (Kynkaanniemi et al. 2024, "Applying Guidance in a Limited Interval"), the
conditional velocity elsewhere. :func:`euler_sample` with ``start < 1`` begins at ``t = start``
from a noised given sample (SDEdit, Meng et al. 2022: ``--like --strength``). What it does not:
know any model; the velocity is a callable.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch


def shift_time(t: torch.Tensor | float, shift: float) -> torch.Tensor | float:
    """TRELLIS's time shift ``s t / (1 + (s - 1) t)`` (maps [0, 1] onto itself; ``s = 1`` is the identity)."""
    return shift * t / (1 + (shift - 1) * t)


def logit_normal_times(n: int, generator: torch.Generator, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """``(n,) float32`` training times ``sigmoid(mean + std * N(0, 1))`` in (0, 1)."""
    return torch.sigmoid(mean + std * torch.randn(n, generator=generator))


def flow_pair(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_t, v)``: ``x_t = (1 - t) x0 + t noise`` and the target velocity ``noise - x0``; ``t``
    broadcasts against ``x0`` (one time per row or per batch item, expanded by the caller)."""
    return (1 - t) * x0 + t * noise, noise - x0


def time_grid(steps: int, shift: float = 1.0, start: float = 1.0) -> list[float]:
    """``steps + 1`` times from ``start`` down to 0: a uniform grid on [0, start'] mapped through
    :func:`shift_time`, where ``start'`` is the unshifted time that maps to ``start``."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0 < start <= 1:
        raise ValueError(f"start must lie in (0, 1], got {start}")
    u0 = start / (shift - (shift - 1) * start)  # inverse of shift_time
    return [float(shift_time(u0 * (1 - i / steps), shift)) for i in range(steps + 1)]


def euler_sample(velocity: Callable[[torch.Tensor, float, bool], torch.Tensor], x: torch.Tensor, *,
                 steps: int = 25, shift: float = 3.0, cfg_scale: float = 1.0,
                 interval: Sequence[float] = (0.0, 1.0), start: float = 1.0) -> torch.Tensor:
    """Integrate the flow from ``t = start`` to 0 with Euler steps; returns ``x_0``.

    Args:
        velocity: ``velocity(x_t, t, conditional) -> v`` (same shape as ``x``); ``conditional``
            False asks for the unconditional velocity.
        x: the sample at ``t = start`` (pure noise when ``start = 1``), any shape.
        steps, shift: Euler steps and time shift ``s``.
        cfg_scale: guidance scale ``w`` (1: conditional only, no unconditional call).
        interval: ``(t_lo, t_hi)``; guidance applies where ``t_lo <= t <= t_hi``.
        start: first time, in (0, 1].
    """
    ts = time_grid(steps, shift, start)
    for t_cur, t_next in zip(ts[:-1], ts[1:]):
        v = velocity(x, t_cur, True)
        if cfg_scale != 1.0 and interval[0] <= t_cur <= interval[1]:
            v_u = velocity(x, t_cur, False)
            v = v_u + cfg_scale * (v - v_u)
        x = x + (t_next - t_cur) * v
    return x
