"""A central pattern generator: coupled Hopf oscillators with separate stance and swing speeds.

One oscillator per leg (Righetti & Ijspeert 2006, "Programmable central pattern generators: an
application to biped locomotion control"; 2008, "Pattern generators with sensory feedback for
the control of quadruped locomotion")::

    dx/dt = alpha (mu - r^2) x - omega y + k sum_j [R(theta_i - theta_j) z_j]_x
    dy/dt = alpha (mu - r^2) y + omega x + k sum_j [R(theta_i - theta_j) z_j]_y
    omega = omega_stance / (exp(-b y) + 1) + omega_swing / (exp(b y) + 1)

with ``r^2 = x^2 + y^2``, ``z_j = (x_j, y_j)``, ``R`` the planar rotation and ``theta_i`` leg i's
phase (rad, minus its touchdown time). The limit cycle is the circle of radius ``sqrt(mu)``; a leg is in stance
while ``y > 0`` (the half travelled at ``omega_stance``), so the duty factor beta (share of the
cycle in stance) sets ``omega_stance = omega_swing (1 - beta) / beta``. The coupling locks the
legs to the offsets (walk, trot). Integrated with classical Runge-Kutta at a fixed step from a
seeded start near the origin, after a warm-up of a few cycles so the clip begins on the limit
cycle. This module outputs phases; feet and joints are :mod:`.gait`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaitPattern:
    """Footfall timing (touchdown time as a fraction of the cycle, by leg label) and duty factor.

    Attributes:
        name: ``"walk"`` or ``"trot"`` (quadrupeds), ``"walk"`` (bipeds).
        duty: share of the cycle each foot is on the ground.
        offsets: ``(side, front) -> touchdown time`` in [0, 1) of the cycle: side -1 left / +1
            right, front +1 fore / -1 hind.
        froude: the gait's Froude number ``v^2 / (g L)`` (Alexander 1984, "The gaits of bipedal
            and quadrupedal animals": animals walk below about 0.5 and trot above it); it sets
            the speed from the leg length L by dynamic similarity.
    """

    name: str
    duty: float
    offsets: dict
    froude: float


#: Lateral-sequence walk (left hind, left fore, right hind, right fore a quarter cycle apart) at
#: duty 0.85, so the four swings never overlap, three or four feet are always down (at 0.75 the
#: swings would be back to back and any timing slack leaves two) and all four are down for a tenth
#: of the cycle between swings, when the body can move its centre of mass across a diagonal of the
#: support; a slow walk (Froude 0.02: 0.3 m/s for a 0.47 m leg); a trot (diagonal pairs together, duty 0.5); a biped walk
#: (duty 0.6: double support 10% of the cycle per step).
PATTERNS = {
    ("walk", 4): GaitPattern("walk", 0.85, {(-1, -1): 0.0, (-1, 1): 0.25, (1, -1): 0.5, (1, 1): 0.75}, 0.02),
    ("trot", 4): GaitPattern("trot", 0.5, {(-1, 1): 0.0, (1, -1): 0.0, (1, 1): 0.5, (-1, -1): 0.5}, 0.25),
    ("walk", 2): GaitPattern("walk", 0.6, {(-1, 1): 0.0, (1, 1): 0.5, (-1, -1): 0.0, (1, -1): 0.5}, 0.05),
}


def hopf_network(offsets: np.ndarray, period: float, duty: float, seconds: float, step: float, seed: int, *,
                 alpha: float = 50.0, mu: float = 1.0, b: float = 50.0, coupling: float = 0.5,
                 warmup_cycles: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Integrate the oscillator network (module docstring).

    Args:
        offsets: ``(n,)`` touchdown time of each leg (fraction of a cycle); a leg that touches
            down later lags in phase, so the oscillators are locked to ``theta = -2 pi offsets``.
        period: cycle time (s). duty: duty factor in (0, 1).
        seconds: length of the output (s). step: output and integration step (s).
        seed: seeds the starting state (``numpy.random.default_rng(seed)``).
        alpha, mu, b, coupling: convergence rate (1/s), squared amplitude, switching steepness,
            coupling gain (1/s). A weak coupling (0.5/s) locks the phases within the warm-up
            and leaves each oscillator's stance and swing speeds, so the realised duty factor
            and footfall offsets stay within 0.01 of the pattern's (stronger coupling drags the
            speeds: at 2/s a 0.75 walk runs at duty 0.68).
        warmup_cycles: cycles integrated and dropped before the output starts.

    Returns:
        ``(times (N,), states (N, n, 2))``: s from 0, oscillator ``(x, y)`` per leg.
    """
    n = len(offsets)
    theta = -2 * np.pi * np.asarray(offsets, np.float64)
    omega_sw = np.pi / ((1.0 - duty) * period)  # swing half (pi rad) lasts (1 - duty) of the cycle
    omega_st = np.pi / (duty * period)
    d = theta[:, None] - theta[None, :]
    mask = 1.0 - np.eye(n)
    C, S = coupling * np.cos(d) * mask, coupling * np.sin(d) * mask

    def f(z):
        x, y = z[:, 0], z[:, 1]
        a = alpha * (mu - x * x - y * y)
        w = omega_st / (np.exp(np.clip(-b * y, -60, 60)) + 1) + omega_sw / (np.exp(np.clip(b * y, -60, 60)) + 1)
        return np.stack([a * x - w * y + C @ x - S @ y, a * y + w * x + S @ x + C @ y], -1)

    rng = np.random.default_rng(seed)
    z = 0.1 * rng.standard_normal((n, 2))
    h = step / max(1, int(np.ceil(step / 2.5e-3)))  # RK4 substeps of at most 2.5 ms (alpha h <= 0.125)
    sub = int(round(step / h))
    warm = int(round(warmup_cycles * period / step))
    N = int(round(seconds / step)) + 1
    out = np.empty((N, n, 2))
    for k in range(warm + N):
        if k >= warm:
            out[k - warm] = z
        for _ in range(sub):
            k1 = f(z)
            k2 = f(z + 0.5 * h * k1)
            k3 = f(z + 0.5 * h * k2)
            k4 = f(z + h * k3)
            z = z + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return step * np.arange(N), out


def stance_phases(states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stance flags ``(N, n) bool`` (``y > 0``) and progress ``(N, n)`` in [0, 1) within the current
    stance or swing half (oscillator angle over pi) from ``states (N, n, 2)``."""
    ang = np.mod(np.arctan2(states[..., 1], states[..., 0]), 2 * np.pi)
    stance = ang < np.pi
    return stance, np.where(stance, ang, ang - np.pi) / np.pi
