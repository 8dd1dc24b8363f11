"""Plots of what a build measured (matplotlib, no pyplot state): PNG bytes for ``report.html``.

- :func:`check_series_plot`: one physics check's time series from ``details["series"]``
  (``t_s``; ``height_m``, ``speed_m_s``, ``penetration_m`` for rest / drop checks; ``<joint>_q``
  or ``q: {joint: [...]}`` for articulation sweeps) with the check's bounds drawn as dashed lines
  (``threshold``, or the older reports' ``bounds``) and joint limits as a shaded band;
- :func:`clip_joint_plot`: joint coordinates over a motion clip, limits drawn;
- :func:`fidelity_plot`: collision fidelity per part (surface distances as % of the part's
  diagonal, hull / mesh volume ratio) against the bounds;
- :func:`timings_plot`: wall time per stage.

Every function takes JSON values as ``report.json`` holds them (a check is a dict) and returns
``bytes`` of a PNG, or None when there is nothing to plot. Units are SI; angles are plotted in
degrees. Nothing is written to disk here.
"""

from __future__ import annotations

import io
import math

import numpy as np

VERDICT_COLORS = {True: "#1a7f37", False: "#cf222e"}
#: series key -> (axis label, scale, threshold keys that bound it)
SERIES = {
    "height_m": ("height of COM (m)", 1.0, ()),
    "speed_m_s": ("speed (m/s)", 1.0, ("peak_speed_m_s", "max_speed_m_s")),
    "penetration_m": ("penetration (mm)", 1000.0, ("max_penetration_m", "rest_penetration_m",
                                                   "max_ground_penetration_m")),
}


def _figure(rows: int, width: float = 6.4, row_height: float = 1.9):
    from matplotlib.figure import Figure

    height = 0.5 + row_height * rows
    fig = Figure(figsize=(width, height), dpi=90)  # fixed margins: a layout engine costs ~0.2 s a plot
    fig.subplots_adjust(left=0.11, right=0.98, top=1 - 0.42 / height, bottom=0.45 / height, hspace=0.35)
    return fig, [fig.add_subplot(rows, 1, i + 1) for i in range(rows)]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _float(v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v) if math.isfinite(float(v)) else None
    return None


def check_bounds(check: dict) -> dict:
    """The check's bounds: ``threshold`` (CheckResult, report v2) or ``bounds`` (report v1)."""
    return dict(check.get("threshold") or check.get("bounds") or {})


def check_title(check: dict) -> str:
    """``"<engine> <name> <part>: PASS|FAIL"``."""
    bits = [str(check.get(k)) for k in ("engine", "name", "part") if check.get(k)]
    return " ".join(bits) + (": PASS" if check.get("passed", True) else ": FAIL")


def joint_series(series: dict) -> dict[str, list]:
    """Joint name -> coordinate list from a series (``q: {joint: [...]}`` or ``<joint>_q`` keys)."""
    out = {str(k): v for k, v in (series.get("q") or {}).items()} if isinstance(series.get("q"), dict) else {}
    for k, v in series.items():
        if k.endswith("_q") and isinstance(v, list):
            out[k[:-2]] = v
    return out


def _limit_band(ax, joint: dict | None, scale: float) -> None:
    if not joint:
        return
    lo, hi = _float(joint.get("lower")), _float(joint.get("upper"))
    for v in (lo, hi):
        if v is not None:
            ax.axhline(v * scale, color="#888", ls="--", lw=1)
    if lo is not None and hi is not None:
        ax.axhspan(lo * scale, hi * scale, color="#888", alpha=0.08)


def _joint_scale(joint: dict | None) -> tuple[float, str]:
    if joint and joint.get("type") == "prismatic":
        return 1.0, "m"
    return 180.0 / math.pi, "deg"


def _series(check: dict) -> dict | None:
    series = (check.get("details") or {}).get("series") or check.get("series")
    if not isinstance(series, dict) or not series.get("t_s"):
        return None
    return series


def check_series_plot(check: dict, joints: list[dict] | None = None) -> bytes | None:
    """PNG of one check's ``details["series"]``, or None when it has no series
    (:func:`check_group_plot` of that one check)."""
    return check_group_plot([check], joints)


def check_group_plot(checks: list[dict], joints: list[dict] | None = None) -> bytes | None:
    """PNG of the time series of several checks of one kind (e.g. every ``drop`` in every
    engine and orientation) on shared axes, one line each, with every distinct bound dashed red;
    None when none of them has a series.

    Args:
        checks: check dicts (``name``, ``engine``, ``part``, ``passed``, ``threshold`` or
            ``bounds``, ``details["series"]``).
        joints: the report's joints (``name``, ``type``, ``lower``, ``upper``) for limit bands.
    """
    runs = [(c, _series(c)) for c in checks]
    runs = [(c, s) for c, s in runs if s is not None]
    if not runs:
        return None
    by_name = {str(j.get("name")): j for j in joints or []}
    rows = [k for k in SERIES if any(isinstance(s.get(k), list) for _, s in runs)]
    jnames = sorted({n for _, s in runs for n in joint_series(s)})
    if not rows and not jnames:
        return None
    fig, axes = _figure(len(rows) + len(jnames))
    bases = [" ".join(str(c.get(k)) for k in ("engine", "part") if c.get(k)) or str(c.get("name")) for c, _ in runs]
    seen: dict[str, int] = {}
    labels = []
    for b in bases:  # "pybullet", or "pybullet #2" when an engine ran the check more than once
        seen[b] = seen.get(b, 0) + 1
        labels.append(b + (f" #{seen[b]}" if bases.count(b) > 1 else ""))
    for ax, key in zip(axes, rows):
        label, scale, tkeys = SERIES[key]
        drawn = set()
        for i, (c, s) in enumerate(runs):
            t = np.asarray(s["t_s"], np.float64)
            y = s.get(key)
            if isinstance(y, list) and len(y) == len(t):
                ax.plot(t, np.asarray(y, np.float64) * scale, lw=1.2, color=f"C{i % 10}",
                        ls="-" if c.get("passed", True) else ":", label=labels[i] if key == rows[0] else None)
            bounds = check_bounds(c)
            for tk in tkeys:
                v = _float(bounds.get(tk))
                if v is not None and (tk, round(v, 12)) not in drawn:
                    drawn.add((tk, round(v, 12)))
                    ax.axhline(v * scale, color="#cf222e", ls="--", lw=1)
                    ax.annotate(f"{tk} {v * scale:.3g}", (1.0, v * scale), xycoords=("axes fraction", "data"),
                                fontsize=6, color="#cf222e", ha="right", va="bottom")
        ax.set_ylabel(label, fontsize=8)
    for ax, name in zip(axes[len(rows):], jnames):
        scale, unit = _joint_scale(by_name.get(name))
        for i, (c, s) in enumerate(runs):
            q = joint_series(s).get(name)
            t = np.asarray(s["t_s"], np.float64)
            if q is not None and len(q) == len(t):
                ax.plot(t, np.asarray(q, np.float64) * scale, lw=1.2, color=f"C{i % 10}",
                        label=labels[i] if not rows and name == jnames[0] else None)
        _limit_band(ax, by_name.get(name), scale)
        ax.set_ylabel(f"{name} ({unit})", fontsize=8)
    for ax in axes:
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=6, loc="best", ncol=2)
    axes[-1].set_xlabel("time (s)", fontsize=8)
    passed = all(c.get("passed", True) for c, _ in runs)
    title = check_title(runs[0][0]) if len(runs) == 1 else (
        f"{runs[0][0].get('name')}: {sum(bool(c.get('passed', True)) for c, _ in runs)}/{len(runs)} passed "
        "(dotted: failed; bounds dashed red)")
    fig.suptitle(title, fontsize=10, color=VERDICT_COLORS[passed])
    return _png(fig)


def clip_joint_plot(clip, joints) -> bytes | None:
    """PNG of a :class:`~n4d4d.asset.MotionClip`'s joint tracks over its times (s), each
    joint's limits from ``joints`` (:class:`~n4d4d.asset.Joint` records) as a shaded band;
    None when the clip has no joint track."""
    tracks = dict(clip.joint_positions or {})
    if not tracks:
        return None
    by_name = {j.name: {"type": j.type, "lower": j.lower, "upper": j.upper} for j in joints}
    fig, (ax,) = _figure(1, row_height=2.6)
    t = np.asarray(clip.times, np.float64)
    for i, (name, q) in enumerate(tracks.items()):
        scale, unit = _joint_scale(by_name.get(name))
        ax.plot(t, np.asarray(q, np.float64) * scale, lw=1.6, label=f"{name} ({unit})", color=f"C{i % 10}")
        j = by_name.get(name)
        if j:
            for v in (_float(j["lower"]), _float(j["upper"])):
                if v is not None:
                    ax.axhline(v * scale, color=f"C{i % 10}", ls="--", lw=0.9, alpha=0.8)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("joint coordinate", fontsize=8)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax.set_title(f"clip '{clip.name}': joint coordinates, limits dashed", fontsize=10)
    return _png(fig)


def fidelity_checks(checks: list[dict]) -> list[dict]:
    """The ``collision_fidelity`` checks among ``checks``."""
    return [c for c in checks if c.get("name") == "collision_fidelity"]


def fidelity_plot(checks: list[dict]) -> bytes | None:
    """PNG of collision fidelity per part: mean, p95 and Hausdorff surface distance (% of the
    part's diagonal) as bars beside their bounds, and the hull / mesh volume ratio with its
    allowed band; None without ``collision_fidelity`` checks."""
    fc = fidelity_checks(checks)
    if not fc:
        return None
    parts = [str(c.get("part") or "?") for c in fc]
    fig, (ax1, ax2) = _figure(2, row_height=2.2)
    x = np.arange(len(fc))
    keys = (("mean_pct", "max_mean_distance_pct"), ("p95_pct", "max_hausdorff_p95_pct"), ("hausdorff_pct", None))
    for i, (mk, tk) in enumerate(keys):
        vals = [_float((c.get("measured") or {}).get(mk)) or 0.0 for c in fc]
        ax1.bar(x + (i - 1) * 0.27, vals, 0.27, label=mk, color=f"C{i}")
        if tk:
            b = _float(check_bounds(fc[0]).get(tk))
            if b is not None:
                ax1.axhline(b, color=f"C{i}", ls="--", lw=1, label=f"bound {tk}")
    ax1.set_ylabel("% of diagonal", fontsize=8)
    ax1.legend(fontsize=6, ncol=2)
    vr = [_float((c.get("measured") or {}).get("volume_ratio")) or 0.0 for c in fc]
    colors = [VERDICT_COLORS[bool(c.get("passed", True))] for c in fc]
    ax2.bar(x, vr, 0.5, color=colors)
    lo, hi = _float(check_bounds(fc[0]).get("min_volume_ratio")), _float(check_bounds(fc[0]).get("max_volume_ratio"))
    if lo is not None and hi is not None:
        ax2.axhspan(lo, hi, color="#1a7f37", alpha=0.1, label=f"allowed {lo:g}..{hi:g}")
        ax2.legend(fontsize=7)
    ax2.axhline(1.0, color="#444", lw=0.8)
    ax2.set_ylabel("hull / mesh volume", fontsize=8)
    for ax in (ax1, ax2):
        ax.set_xticks(x, parts, fontsize=7, rotation=30 if len(parts) > 6 else 0)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("collision fidelity per part (bar colour: verdict)", fontsize=10)
    return _png(fig)


def timings_plot(stage_seconds: dict[str, float]) -> bytes | None:
    """PNG of wall time (s) per stage as horizontal bars; None when empty."""
    items = [(k, float(v)) for k, v in stage_seconds.items() if _float(v) is not None]
    if not items:
        return None
    fig, (ax,) = _figure(1, row_height=0.25 * len(items) + 1.0)
    ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1], color="#0969da")
    ax.set_xlabel("seconds", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(f"stage wall time, total {sum(v for _, v in items):.1f} s", fontsize=10)
    return _png(fig)
