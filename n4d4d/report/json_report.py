"""``report.json``: one asset's key figures, checks, verdict and provenance as JSON.

Built from the :class:`~n4d4d.asset.Asset` record alone (no recomputation), so the report
says exactly what the build measured. NumPy values are converted to plain JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from typing import Any

import numpy as np

from n4d4d.asset import Asset

REPORT_VERSION = 1


def to_json(value: Any) -> Any:
    """Convert numpy arrays/scalars, dataclasses, tuples and non-finite floats to JSON values.

    Non-finite floats become the strings ``"inf"``, ``"-inf"``, ``"nan"`` (JSON has none).
    """
    if is_dataclass(value) and not isinstance(value, type):
        return to_json(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def asset_report(asset: Asset, files: dict[str, str] | None = None) -> dict:
    """The report of ``asset`` as a JSON-ready dict.

    Keys: ``report_version``, ``name``, ``passed``, ``notes``, ``stages`` (name, seconds,
    figures per stage), ``parts`` (faces, hull count, mass properties), ``joints``,
    ``material``, ``physics`` (checks with thresholds, measured values and verdicts),
    ``provenance``, ``files``.
    """
    parts = []
    for p in asset.parts:
        mp = asset.mass.get(p.name)
        parts.append({
            "name": p.name, "faces": len(p.mesh.faces), "vertices": len(p.mesh.vertices),
            "hulls": len(asset.collision.get(p.name, ())),
            "hull_vertices_max": max((len(h.vertices) for h in asset.collision.get(p.name, ())), default=0),
            "mass": None if mp is None else {k: v for k, v in asdict(mp).items()},
        })
    joints = [{k: v for k, v in asdict(j).items()} for j in asset.joints]
    return to_json({
        "report_version": REPORT_VERSION,
        "name": asset.name,
        "passed": asset.passed,
        "notes": list(asset.notes),
        "stages": [{"name": s.name, "seconds": round(s.seconds, 4), "figures": s.figures} for s in asset.stages],
        "total_seconds": round(sum(s.seconds for s in asset.stages), 4),
        "visual": None if asset.visual is None else {
            "vertices": len(asset.visual.vertices), "faces": len(asset.visual.faces),
            "bounds_m": asset.visual.bounds},
        "parts": parts,
        "joints": joints,
        "skeleton": None if asset.skeleton is None else {"joints": len(asset.skeleton.joint_names)},
        "motion_clips": [{"name": c.name, "frames": len(c.times)} for c in asset.motion_clips],
        "material": asset.material,
        "physics": asset.physics,
        "provenance": asset.provenance,
        "files": files or {},
    })


def dumps(report: dict) -> str:
    """Stable, human-readable JSON text (sorted keys off: sections stay in reading order)."""
    return json.dumps(report, indent=2, allow_nan=False) + "\n"
