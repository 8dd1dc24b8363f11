"""Position inverse kinematics of a joint chain by damped least squares.

A chain is a list of rotational degrees of freedom, proximal first, each a unit axis through a
pivot (both in the chain's base frame at rest, metres) with limits: a hinge is one degree of
freedom, a ball joint three (its x, y, z axes through one pivot, composed in that order).
Forward kinematics is the product of exponentials (Brockett 1984; Murray, Li & Sastry 1994,
ch. 3): ``x(q) = e^{xi_1 q_1} ... e^{xi_n q_n} x_rest``. The solver minimises
``|x(q) - target|^2 / scale^2 + mu^2 |q - q_ref|^2`` by damped least squares (Wampler 1986; Buss
2004, "Introduction to inverse kinematics with Jacobian transpose, pseudoinverse and damped least
squares methods") with Levenberg-Marquardt damping control and the result clamped to the limits
after every step, warm-started from the caller's guess (the previous frame), with seeded restarts
when that start lands in a local minimum. It places one end point; orientation is not solved for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np



@dataclass(frozen=True)
class Chain:
    """Rotational degrees of freedom of one limb.

    Attributes:
        pivots: ``(n, 3) float64`` rest pivot of each degree of freedom (m, base frame).
        axes: ``(n, 3) float64`` unit rest axis of each.
        lower, upper: ``(n,) float64`` limits (rad); ``-inf`` / ``inf`` for none.
        scale: a length (m) that makes position errors dimensionless (the limb's length).
    """

    pivots: np.ndarray
    axes: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    scale: float


def _skew(a: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])


def chain_transforms(chain: Chain, q: np.ndarray) -> np.ndarray:
    """Cumulative transforms ``(n + 1, 4, 4)``: entry k is ``e^{xi_1 q_1} ... e^{xi_k q_k}`` (entry
    0 the identity), so a rest point moved by the first k degrees of freedom is ``M[k] @ x``
    (Rodrigues' formula per degree of freedom)."""
    n = len(q)
    out = np.empty((n + 1, 4, 4))
    out[0] = np.eye(4)
    E = np.eye(4)
    for k in range(n):
        K = _skew(chain.axes[k])
        R = np.eye(3) + np.sin(q[k]) * K + (1.0 - np.cos(q[k])) * (K @ K)
        E[:3, :3] = R
        E[:3, 3] = chain.pivots[k] - R @ chain.pivots[k]
        out[k + 1] = out[k] @ E
    return out


def end_point(chain: Chain, q: np.ndarray, point: np.ndarray) -> np.ndarray:
    """``(3,)`` position of rest point ``point`` moved by the whole chain at ``q`` (rad)."""
    M = chain_transforms(chain, q)[-1]
    return M[:3, :3] @ point + M[:3, 3]


def _error(chain: Chain, point: np.ndarray, target: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    M = chain_transforms(chain, q)
    p = M[-1, :3, :3] @ point + M[-1, :3, 3]
    return np.asarray(target) - p, M


def _descend(chain, point, target, q, ref, iterations, regularisation, tolerance):
    """Levenberg-Marquardt from ``q``: damping divided by 3 after a step that lowers the cost,
    multiplied by 4 (and the step refused) after one that does not."""
    s, n = chain.scale, len(q)
    mu2 = regularisation ** 2
    lam = 1e-2
    e, M = _error(chain, point, target, q)

    def cost(e, q):
        return float(e @ e) / (s * s) + mu2 * float((q - ref) @ (q - ref))

    c = cost(e, q)
    for _ in range(iterations):
        if np.linalg.norm(e) < tolerance * s:
            break
        J = np.empty((3, n))
        p = np.asarray(target) - e
        for k in range(n):
            a = M[k, :3, :3] @ chain.axes[k]
            o = M[k, :3, :3] @ chain.pivots[k] + M[k, :3, 3]
            d = p - o
            J[:, k] = (a[1] * d[2] - a[2] * d[1], a[2] * d[0] - a[0] * d[2], a[0] * d[1] - a[1] * d[0])
        J /= s
        g = J.T @ (e / s) + mu2 * (ref - q)
        H = J.T @ J + mu2 * np.eye(n)
        for _ in range(8):
            q_new = np.clip(q + np.linalg.solve(H + lam * np.eye(n), g), chain.lower, chain.upper)
            e_new, M_new = _error(chain, point, target, q_new)
            c_new = cost(e_new, q_new)
            if c - c_new < 1e-14 * max(c, 1e-300) and c_new <= c:  # converged (regularisation bias left)
                q, e, M, c = q_new, e_new, M_new, c_new
                return q, float(np.linalg.norm(e))
            if c_new < c:
                q, e, M, c = q_new, e_new, M_new, c_new
                lam = max(lam / 3.0, 1e-9)
                break
            lam *= 4.0
        else:
            break
    return q, float(np.linalg.norm(e))


def solve(chain: Chain, point: np.ndarray, target: np.ndarray, q0: np.ndarray, q_ref: np.ndarray | None = None,
          *, iterations: int = 30, regularisation: float = 0.003, tolerance: float = 1e-5,
          restarts: int = 0) -> tuple[np.ndarray, float]:
    """Joint values (rad) that bring rest point ``point`` to ``target`` (both ``(3,)``, base frame).

    Args:
        chain: the degrees of freedom. point: rest end point (m). target: where it should be (m).
        q0: ``(n,)`` starting guess (the previous frame's answer). q_ref: ``(n,)`` preferred
            values (default ``q0``), pulled toward with weight ``regularisation`` (dimensionless:
            errors are divided by ``chain.scale``).
        iterations: Levenberg-Marquardt iterations per start.
        tolerance: stop when the error is under ``tolerance * chain.scale``.
        restarts: when the first start misses by more than ``1e-3 * chain.scale``, try this many
            more starts spread over the limits (seeded, deterministic) and keep the best.

    Returns:
        ``(q (n,), error)``: the solution (within the limits) and its remaining distance to the
        target (m), positive when the target is out of reach or outside the limits.
    """
    q0 = np.clip(np.asarray(q0, np.float64), chain.lower, chain.upper)
    ref = q0.copy() if q_ref is None else np.asarray(q_ref, np.float64)
    best = _descend(chain, point, target, q0, ref, iterations, regularisation, tolerance)
    if best[1] <= 1e-3 * chain.scale or restarts <= 0:
        return best
    rng = np.random.default_rng(0)
    lo = np.where(np.isfinite(chain.lower), chain.lower, -1.0)
    hi = np.where(np.isfinite(chain.upper), chain.upper, 1.0)
    for _ in range(restarts):
        start = lo + (hi - lo) * rng.uniform(0.1, 0.9, len(q0))
        cand = _descend(chain, point, target, start, ref, iterations, regularisation, tolerance)
        if cand[1] < best[1] - 1e-9:
            best = cand
        if best[1] <= 1e-3 * chain.scale:
            break
    return best
