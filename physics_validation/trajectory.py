"""Engine-independent verdicts on a simulated trajectory: rest, drop, explosion, penetration.

An engine check (:mod:`.pybullet_check`, :mod:`.newton_check`) records a :class:`Trajectory`
(the pose and velocity of every body's centre of mass at every step, the deepest ground
penetration and the total ground normal force per step); :func:`evaluate` measures it against
:class:`~.thresholds.StabilityThresholds` the same way for every engine, so two engines'
verdicts differ only by their physics. This module simulates nothing.

The rules (BlenderProc's settle rule, made stricter; see :mod:`.thresholds`):

- settled: every body's COM speed and angular speed, averaged over ``rest_speed_window_s``
  (displacement over the window), stay under the rest speeds from ``settle_time_s`` on; the
  measured settle time is the first time after which they do;
- drift: over the last ``rest_window_s``, no body's COM moves more than ``max_drift_m`` or
  turns more than ``max_drift_rad``;
- penetration: the placed pose and the rest window stay within ``max_penetration_m`` of the
  ground, and no step goes deeper than :meth:`~.thresholds.StabilityThresholds.penetration_bound`
  (one step's travel at impact speed more);
- explosion: peak COM speed and angular speed stay under the energy-conservation bounds of
  :meth:`~.thresholds.StabilityThresholds.speed_bounds`;
- stable rest pose (rest check only): the settled COM is not lower than the placed one by more
  than ``max(min_rest_com_drop_m, max_rest_com_drop_fraction * diagonal)`` (it did not topple
  from an unstable balance); moving farther than ``max_rest_shift_m`` / ``max_rest_shift_rad``
  without losing height (a ball rolling) is a warning, not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from n4d4d.asset import CheckResult
from n4d4d.conventions import GRAVITY_MAGNITUDE

from .checks import SERIES_SAMPLES, sample_indices
from .thresholds import StabilityThresholds


@dataclass(frozen=True)
class Trajectory:
    """What one simulation recorded, in the world frame (Z up, metres, seconds).

    Attributes:
        times: ``(T,) float64`` sample times (s), after each step.
        positions: ``(T, B, 3) float64`` COM position of each of B bodies (m).
        quats: ``(T, B, 4) float64`` body orientation (w, x, y, z).
        linear_velocities: ``(T, B, 3) float64`` COM velocity (m/s).
        angular_velocities: ``(T, B, 3) float64`` angular velocity (rad/s).
        penetration: ``(T,) float64`` deepest ground penetration at each sample (m, >= 0).
        ground_force: ``(T,) float64`` total ground normal force (N), NaN where not measured.
        initial_penetration: deepest ground penetration of the placed pose before any step (m).
        placed_positions: ``(B, 3)`` COM positions of the placed pose (m).
        placed_quats: ``(B, 4)`` placed orientations (w, x, y, z).
        stopped: why the simulation stopped before its end with a failure already decided
            (:func:`decided_failure`: "explosion"), or None
            (it ran to the end, or stopped because it had settled).
    """

    times: np.ndarray
    positions: np.ndarray
    quats: np.ndarray
    linear_velocities: np.ndarray
    angular_velocities: np.ndarray
    penetration: np.ndarray
    ground_force: np.ndarray
    initial_penetration: float
    placed_positions: np.ndarray
    placed_quats: np.ndarray
    stopped: str | None = None


def quat_angle(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Rotation angle (rad) between unit quaternions ``(..., 4)`` (w, x, y, z), in [0, pi]."""
    d = np.abs(np.sum(np.asarray(q1) * np.asarray(q2), axis=-1))
    return 2.0 * np.arccos(np.clip(d, 0.0, 1.0))


def settled(times: np.ndarray, positions: np.ndarray, quats: np.ndarray, th: StabilityThresholds,
            margin: float = 0.5) -> bool:
    """Early-exit test: has every body been at rest long enough that the verdict is decided?

    True when the samples span more than ``rest_window_s + rest_speed_window_s`` and, over the
    last ``rest_window_s``, each body's displacement from every sample to the last stays under
    ``margin`` times the drift bounds (so the window-averaged speeds are under the rest speeds
    too, and :func:`evaluate` on the trajectory up to here finds it settled and drift-free).

    Args:
        times: ``(T,)`` s. positions: ``(T, B, 3)`` m. quats: ``(T, B, 4)`` unit quaternions
            (either component order: only angles between them are used).
    """
    if len(times) < 2 or times[-1] - times[0] < th.rest_window_s + th.rest_speed_window_s:
        return False
    w0 = int(np.searchsorted(times, times[-1] - th.rest_window_s - 1e-9))
    dp = np.linalg.norm(positions[w0:] - positions[-1], axis=-1).max()
    da = quat_angle(quats[w0:], quats[-1][None]).max()
    v_ok = dp <= margin * min(th.max_drift_m, th.rest_linear_speed_m_s * th.rest_speed_window_s)
    w_ok = da <= margin * min(th.max_drift_rad, th.rest_angular_speed_rad_s * th.rest_speed_window_s)
    return bool(v_ok and w_ok)


def decided_failure(peak_speed: float, peak_angular_speed: float, peak_penetration: float,
                    initial_penetration: float, th: StabilityThresholds, *, diagonal: float, mass: float,
                    min_moment: float, drop_height_m: float = 0.0) -> str | None:
    """A failure no later step can undo and after which the run means nothing, so a simulation
    may stop once it is seen: the peak speeds past the explosion bounds (what gravity can
    supply), the condition and bounds of :func:`evaluate`'s "explosion" reason. Returns
    "explosion" or None. (Tunnelling and a placed pose in the ground are failures too, but a
    run that goes on may still show the more telling cause, e.g. a cone toppling off its tip.)

    Args:
        peak_speed, peak_angular_speed: largest COM speed (m/s) and angular speed (rad/s) of any
            body so far. peak_penetration: deepest ground penetration so far (m).
        initial_penetration: of the placed pose (m). th: the thresholds. diagonal, mass,
            min_moment, drop_height_m: as :func:`evaluate` takes them.
    """
    v_bound, w_bound = th.speed_bounds(diagonal, mass, min_moment)
    return "explosion" if peak_speed > v_bound or peak_angular_speed > w_bound else None


def evaluate(traj: Trajectory, th: StabilityThresholds, *, kind: str, mass: float, diagonal: float,
             min_moment: float, drop_height_m: float = 0.0, masses: np.ndarray | None = None) -> CheckResult:
    """Measure ``traj`` against ``th``.

    Args:
        traj: the recorded trajectory.
        th: the thresholds.
        kind: ``"rest"`` (also checks the rest pose is kept) or ``"drop"``.
        mass: total mass (kg); diagonal: bounding-box diagonal (m); min_moment: smallest
            principal moment of any body (kg m^2), for the explosion bounds.
        drop_height_m: release height of the lowest point (m), for the impact allowance.
        masses: ``(B,)`` body masses (kg) for the total COM height (default equal weights).

    Returns:
        :class:`~n4d4d.asset.CheckResult` ``name`` = ``kind`` (engine "" and seconds 0: the
        engine check fills them): ``measured`` (settle_time_s, drift_m, drift_rad,
        max_penetration_m, initial_penetration_m, peak_speed_m_s, peak_angular_speed_rad_s,
        final_speed_m_s, rest_force_ratio, final poses and, for rest, rest_shift_m /
        rest_shift_rad / rest_com_drop_m), ``threshold`` (the per-asset speed, penetration
        and COM-drop bounds), ``passed``, ``reasons`` (empty when passed), ``details``:
        ``warnings`` (findings that do not fail the check) and ``series``
        (:func:`trajectory_series`).
    """
    t = traj.times
    speed = np.linalg.norm(traj.linear_velocities, axis=-1).max(axis=1)  # (T,)
    wspeed = np.linalg.norm(traj.angular_velocities, axis=-1).max(axis=1)
    lag = max(1, int(round(th.rest_speed_window_s / max(float(np.median(np.diff(t))) if len(t) > 1 else 1.0, 1e-9))))
    placed_p = np.concatenate([traj.placed_positions[None], traj.positions])
    placed_q = np.concatenate([traj.placed_quats[None], traj.quats])
    k = np.arange(1, len(t) + 1)
    back = np.maximum(k - lag, 0)
    span = np.maximum(t - np.where(back > 0, t[np.maximum(back - 1, 0)], 0.0), 1e-12)
    avg_v = np.linalg.norm(placed_p[k] - placed_p[back], axis=-1).max(axis=1) / span
    avg_w = quat_angle(placed_q[k], placed_q[back]).max(axis=1) / span
    moving = (avg_v > th.rest_linear_speed_m_s) | (avg_w > th.rest_angular_speed_rad_s)
    settle = float(t[np.nonzero(moving)[0][-1]]) if moving.any() else 0.0
    if moving[-1]:
        settle = float("inf")
    w0 = int(np.searchsorted(t, t[-1] - th.rest_window_s - 1e-9))
    drift_m = float(np.linalg.norm(traj.positions[-1] - traj.positions[w0], axis=-1).max())
    drift_rad = float(quat_angle(traj.quats[-1], traj.quats[w0]).max())
    pen = max(float(traj.penetration.max(initial=0.0)), float(traj.initial_penetration))
    rest_pen = float(traj.penetration[w0:].max(initial=0.0))
    pen_bound = th.penetration_bound(drop_height_m)
    v_bound, w_bound = th.speed_bounds(diagonal, mass, min_moment)
    force = traj.ground_force[w0:]
    force_ratio = float(np.nanmean(force) / (mass * GRAVITY_MAGNITUDE)) if np.isfinite(force).any() else float("nan")
    measured = {
        "settle_time_s": settle, "drift_m": drift_m, "drift_rad": drift_rad,
        "max_penetration_m": pen, "initial_penetration_m": float(traj.initial_penetration),
        "rest_penetration_m": rest_pen,
        "peak_speed_m_s": float(speed.max()), "peak_angular_speed_rad_s": float(wspeed.max()),
        "final_speed_m_s": float(speed[-1]), "final_angular_speed_rad_s": float(wspeed[-1]),
        "rest_force_ratio": force_ratio,
        "final_positions_m": traj.positions[-1].tolist(), "final_quats_wxyz": traj.quats[-1].tolist(),
    }
    reasons = []
    if traj.initial_penetration > th.max_penetration_m:
        reasons.append(f"hull penetrates the ground by {1e3 * traj.initial_penetration:.1f} mm in the placed pose "
                       f"(bound {1e3 * th.max_penetration_m:.1f} mm)")
    if rest_pen > th.max_penetration_m:
        reasons.append(f"sinks {1e3 * rest_pen:.1f} mm into the ground at rest (bound {1e3 * th.max_penetration_m:.1f} mm)")
    if pen > pen_bound and traj.initial_penetration <= th.max_penetration_m:
        reasons.append(f"ground penetration {1e3 * pen:.1f} mm > {1e3 * pen_bound:.1f} mm (tunnelling)")
    if speed.max() > v_bound or wspeed.max() > w_bound:
        reasons.append(f"explosion: peak speed {speed.max():.2f} m/s (bound {v_bound:.2f}) or angular "
                       f"{wspeed.max():.1f} rad/s (bound {w_bound:.1f}) exceeds what gravity can supply")
    full_run = traj.stopped is None  # a run cut short by a decided failure has no settled end to judge
    if full_run and settle > th.settle_time_s:
        reasons.append(f"still moving: not at rest by {th.settle_time_s:g} s (last {th.rest_speed_window_s:g} s: "
                       f"{avg_v[-1]:.3f} m/s, {avg_w[-1]:.3f} rad/s)")
    if full_run and (drift_m > th.max_drift_m or drift_rad > th.max_drift_rad):
        reasons.append(f"drifts {1e3 * drift_m:.1f} mm / {drift_rad:.3f} rad over the last {th.rest_window_s:g} s "
                       f"(bounds {1e3 * th.max_drift_m:.1f} mm / {th.max_drift_rad} rad)")
    warnings = []
    if not full_run:
        measured.update(stopped_at_s=float(t[-1]), stopped_because=traj.stopped, rest_force_ratio=float("nan"))
        warnings.append(f"simulation stopped at {t[-1]:.2f} s, once the check had failed ({traj.stopped}): "
                        "settling, drift and the rest pose were not measured")
    if kind == "rest" and full_run:
        shift_m = float(np.linalg.norm(traj.positions[-1] - traj.placed_positions, axis=-1).max())
        shift_rad = float(quat_angle(traj.quats[-1], traj.placed_quats).max())
        wts = np.ones(traj.positions.shape[1]) if masses is None else np.asarray(masses, dtype=np.float64)
        drop = float((traj.placed_positions[:, 2] - traj.positions[-1][:, 2]) @ wts / wts.sum())
        drop_bound = max(th.min_rest_com_drop_m, th.max_rest_com_drop_fraction * diagonal)
        measured.update(rest_shift_m=shift_m, rest_shift_rad=shift_rad, rest_com_drop_m=drop)
        if drop > drop_bound:
            reasons.append(f"unstable rest pose: moving off it, the centre of mass fell {1e3 * drop:.1f} mm after a "
                           f"{th.rest_perturbation_rad} rad tilt (bound {1e3 * drop_bound:.1f} mm): it toppled")
        if shift_m > th.max_rest_shift_m or shift_rad > th.max_rest_shift_rad:
            warnings.append(f"moved from its rest pose by {1e3 * shift_m:.0f} mm / {shift_rad:.2f} rad "
                           f"(bounds {1e3 * th.max_rest_shift_m:.0f} mm / {th.max_rest_shift_rad} rad): "
                           "rolled, tipped over or slid to another rest pose")
    bounds = {"peak_speed_m_s": v_bound, "peak_angular_speed_rad_s": w_bound, "max_penetration_m": pen_bound,
              "rest_penetration_m": th.max_penetration_m,
              "rest_com_drop_m": max(th.min_rest_com_drop_m, th.max_rest_com_drop_fraction * diagonal)}
    return CheckResult(name=kind, measured=measured, threshold=bounds, passed=not reasons, reasons=tuple(reasons),
                       details={"warnings": warnings, "series": trajectory_series(traj, masses)})


def trajectory_series(traj: Trajectory, masses: np.ndarray | None = None, limit: int = SERIES_SAMPLES) -> dict:
    """A downsampled time series of ``traj`` for plots (at most ``limit`` samples, the first
    and last kept), JSON-ready lists of floats:

    ``t_s`` (s), ``height_m`` (height of the total centre of mass, weighted by ``masses``
    ``(B,)`` kg, equal weights without), ``speed_m_s`` (fastest body's COM speed, m/s) and
    ``penetration_m`` (deepest ground penetration, m, >= 0).
    """
    k = sample_indices(len(traj.times), limit)
    w = np.ones(traj.positions.shape[1]) if masses is None else np.asarray(masses, dtype=np.float64)
    height = traj.positions[k, :, 2] @ w / w.sum()
    speed = np.linalg.norm(traj.linear_velocities[k], axis=-1).max(axis=1)
    return {"t_s": traj.times[k].tolist(), "height_m": height.tolist(), "speed_m_s": speed.tolist(),
            "penetration_m": np.asarray(traj.penetration, dtype=np.float64)[k].tolist()}
