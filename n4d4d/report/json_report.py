"""``report.json``: one asset's key figures, checks, verdict and provenance as JSON.

Built from the :class:`~n4d4d.asset.Asset` record alone (no recomputation), so the report
says exactly what the build measured. NumPy values are converted to plain JSON.

Version 2: every check is a :class:`~n4d4d.asset.CheckResult` (``name, engine, part, measured,
threshold, passed, reasons, seconds, details``), and every wall-clock figure (a key named
``seconds``, ending in ``_seconds`` or in :data:`n4d4d.conventions.TIMING_KEYS`) is moved out of the sections
into one ``timings`` section (``{"about": ..., "total_seconds": ..., "values": {path: s}}``,
path = the dotted place it came from), so two builds of the same input, options and seed give
reports that differ in ``timings`` only: hash the report without it to compare builds.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from typing import Any

import numpy as np

from n4d4d.asset import Asset
from n4d4d.conventions import is_timing_key

REPORT_VERSION = 2

TIMINGS_ABOUT = ("wall-clock seconds, which vary from run to run; everything outside this section is "
                 "identical for the same input, options and seed")


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


def split_timings(value: Any, path: str = "") -> tuple[Any, dict[str, Any]]:
    """``value`` (JSON values) without its timing keys, and those timings by dotted path.

    A list item's path uses its ``name`` (and ``engine``, ``part``; ``#2``, ``#3`` for repeats)
    when it has one, else its index, so paths are stable: ``stages.static.seconds``, ``physics.checks.drop@pybullet.seconds``.
    """
    timings: dict[str, Any] = {}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if here == "provenance":  # the build options (e.g. a clip's ``seconds``) are no timings
                out[k] = v
                continue
            if is_timing_key(str(k)):
                timings[here] = v
                continue
            out[k], sub = split_timings(v, here)
            timings.update(sub)
        return out, timings
    if isinstance(value, list):
        out_list, seen = [], {}
        for i, v in enumerate(value):
            label = str(i)
            if isinstance(v, dict) and isinstance(v.get("name"), str):
                label = v["name"] + (f"@{v['engine']}" if v.get("engine") else "") + (
                    f"/{v['part']}" if v.get("part") else "")
                seen[label] = seen.get(label, 0) + 1
                label += f"#{seen[label]}" if seen[label] > 1 else ""
            item, sub = split_timings(v, f"{path}.{label}" if path else label)
            out_list.append(item)
            timings.update(sub)
        return out_list, timings
    return value, timings


def asset_report(asset: Asset, files: dict[str, str] | None = None,
                 files_sha256: dict[str, str] | None = None,
                 record_timings: dict[str, float] | None = None) -> dict:
    """The report of ``asset`` as a JSON-ready dict.

    Keys: ``report_version``, ``name``, ``passed``, ``notes``, ``stages`` (name and figures
    per stage), ``parts`` (faces, hull count, mass properties), ``joints``, ``drives``,
    ``material``, ``physics`` (checks with thresholds, measured values and verdicts),
    ``provenance`` (seed included), ``files`` (format -> file), ``files_sha256`` (every other
    file in the folder -> SHA-256), and ``timings`` last (see the module docstring; with
    ``record_timings``, the wall times the asset record ``asset.json`` leaves out, by id, under
    ``timings.record``: :mod:`n4d4d.io.record` reads them back).
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
    report = to_json({
        "report_version": REPORT_VERSION,
        "name": asset.name,
        "passed": asset.passed,
        "notes": list(asset.notes),
        "stages": [{"name": s.name, "seconds": round(s.seconds, 4), "figures": s.figures} for s in asset.stages],
        "visual": None if asset.visual is None else {
            "vertices": len(asset.visual.vertices), "faces": len(asset.visual.faces),
            "bounds_m": asset.visual.bounds},
        "parts": parts,
        "joints": joints,
        "drives": {k: v for k, v in asset.drives.items()},
        "skeleton": None if asset.skeleton is None else {"joints": len(asset.skeleton.joint_names)},
        "motion_clips": [{"name": c.name, "frames": len(c.times)} for c in asset.motion_clips],
        "material": asset.material,
        "physics": asset.physics,
        "provenance": asset.provenance,
        "files": files or {},
        "files_sha256": files_sha256 or {},
    })
    report, timings = split_timings(report)
    report["timings"] = {"about": TIMINGS_ABOUT,
                         "total_seconds": round(sum(s.seconds for s in asset.stages), 4),
                         "values": timings}
    if record_timings is not None:
        report["timings"]["record"] = to_json(record_timings)
    return report


def dumps(report: dict) -> str:
    """Stable, human-readable JSON text (sorted keys off: sections stay in reading order)."""
    return json.dumps(report, indent=2, allow_nan=False) + "\n"
