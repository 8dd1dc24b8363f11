"""The dataset manifest: one row per asset and one per placement, as Parquet and JSONL.

Written by the driver only (never by a worker), atomically, after every build and the
settling are done; rows come from each asset's ``report.json`` (so a resumed run that skipped
an asset writes the same row) and from the settled environments.

``assets.parquet`` / ``assets.jsonl`` (one row per planned build, supports included):
name, role, category, source, source_sha256, seed, entry / item / variant (where it sits in
the spec), the values drawn (``draw_size`` m, ``draw_density`` kg/m^3, ``draw_mass`` kg,
``draw_friction``, ``draw_restitution``, ``draw_joint_damping`` SI, ``draw_motion``),
``size_x/y/z_m`` (bounding box of the visual mesh), ``mass_kg``, ``joint_count`` (movable
joints), ``joints`` and ``clips`` (names), ``verdict`` (``passed``, ``failed``: the physics
certificate failed, ``error``: no asset was made), ``failing_checks`` (check names, with
``@engine``), ``reasons``, ``error``, ``folder`` (relative to the output folder),
``files`` (relative path and SHA-256 of every file of its folder) and the timings
``seconds_total`` and ``seconds_<stage>`` (wall seconds: the only columns that differ from
run to run).

``placements.parquet`` / ``placements.jsonl`` (one row per body per environment): env, key,
asset, role, placed, ``x/y/z_m``, ``qw/qx/qy/qz``, ``joints`` (name, settled coordinate),
``gap_m``, ``penetration_m``, ``resting_on``, ``speed_m_s``, ``angular_speed_rad_s``,
``gap_ok`` / ``penetration_ok`` (against the spec's settle bounds), ``newton_motion_m`` (largest
displacement of its bodies in Newton's first simulated second of ``scene.usda``, or null),
note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from n4d4d.pipeline import STAGE_NAMES

#: Columns holding wall-clock timings (excluded when comparing manifests of two runs).
TIMING_PREFIX = "seconds_"

DRAW_KEYS = ("size", "density", "mass", "friction", "restitution", "joint_damping", "motion")


def failing_checks(report: dict) -> list[str]:
    """Names (``check@engine`` or ``check``, ``/part`` when it concerns one) of the failed checks."""
    out = []
    for c in (report.get("physics") or {}).get("checks") or []:
        if isinstance(c, dict) and not c.get("passed", True):
            name = c.get("name", "?") + (f"@{c['engine']}" if c.get("engine") else "")
            out.append(name + (f"/{c['part']}" if c.get("part") else ""))
    return out


def asset_row(planned, result, out: Path) -> dict[str, Any]:
    """The manifest row of one planned build and its :class:`~n4d4d.scenarios.batch.BatchResult`."""
    from n4d4d.scenarios.batch import completed_output

    row: dict[str, Any] = {"name": planned.name, "role": planned.role, "category": planned.category,
                           "source": planned.label, "source_sha256": None, "seed": planned.seed,
                           "entry": planned.entry, "item": planned.item, "variant": planned.variant}
    for k in DRAW_KEYS:
        v = planned.draws.get(k)
        row[f"draw_{k}"] = None if v is None else (str(v) if k == "motion" else float(v))
    done = completed_output(Path(out) / "assets", planned.name) if result.error is None else None
    report = done[1] if done else {}
    folder = done[0] if done else None
    bounds = (report.get("visual") or {}).get("bounds_m")
    size = [float(b - a) for a, b in zip(*bounds)] if bounds else [None] * 3
    row.update({"size_x_m": size[0], "size_y_m": size[1], "size_z_m": size[2]})
    parts = report.get("parts") or []
    row["mass_kg"] = float(sum((p.get("mass") or {}).get("mass", 0.0) for p in parts)) if parts else None
    joints = [j.get("name") for j in report.get("joints") or [] if j.get("type") != "fixed"]
    row["joint_count"] = len(joints) if report else None
    row["joints"] = joints
    row["clips"] = [c.get("name") for c in report.get("motion_clips") or []]
    verdict = "error" if result.error else ("passed" if result.passed else "failed")
    row.update({"verdict": verdict, "failing_checks": failing_checks(report), "reasons": result.reasons or "",
                "error": result.error or ""})
    row["source_sha256"] = (report.get("provenance") or {}).get("source_sha256") if report else None
    row["folder"] = folder.relative_to(out).as_posix() if folder is not None else None
    row["files"] = [{"path": p, "sha256": h} for p, h in sorted((report.get("files_sha256") or {}).items())]
    timings = (report.get("timings") or {}).get("values") or {}
    row[f"{TIMING_PREFIX}total"] = (report.get("timings") or {}).get("total_seconds", result.seconds or None)
    for stage in STAGE_NAMES:
        v = timings.get(f"stages.{stage}.seconds")
        row[f"{TIMING_PREFIX}{stage}"] = None if v is None else float(v)
    return row


def placement_rows(envs, settle, newton_motion: dict | None = None) -> list[dict[str, Any]]:
    """Rows of every body of every settled environment (see the module docstring)."""
    rows = []
    for env in envs:
        for b in env.bodies:
            pos = list(b.position) if b.placed else [None] * 3
            quat = list(b.orientation) if b.placed else [None] * 4
            motion = (newton_motion or {}).get((env.index, b.key))
            rows.append({
                "env": env.index, "key": b.key, "asset": b.asset, "role": b.role, "placed": b.placed,
                "x_m": pos[0], "y_m": pos[1], "z_m": pos[2], "qw": quat[0], "qx": quat[1], "qy": quat[2], "qz": quat[3],
                "joints": [{"name": k, "position": float(v)} for k, v in sorted(b.joints.items())],
                "gap_m": float(b.gap_m) if b.placed else None,
                "penetration_m": float(b.penetration_m) if b.placed else None,
                "resting_on": b.resting_on, "speed_m_s": float(b.speed_m_s) if b.placed else None,
                "angular_speed_rad_s": float(b.angular_speed_rad_s) if b.placed else None,
                "gap_ok": bool(b.gap_m <= settle.max_gap) if b.placed else None,
                "penetration_ok": bool(b.penetration_m <= settle.max_penetration) if b.placed else None,
                "newton_motion_m": None if motion is None else float(motion),
                "note": b.note,
            })
    return rows


def write_table(rows: list[dict[str, Any]], stem: Path) -> tuple[Path, Path]:
    """Write ``rows`` as ``<stem>.parquet`` (pyarrow) and ``<stem>.jsonl``, atomically."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from n4d4d.io.atomic import atomic_path, atomic_write_text

    stem = Path(stem)
    jsonl = atomic_write_text(stem.with_suffix(".jsonl"), "".join(json.dumps(r, sort_keys=False) + "\n" for r in rows))
    table = pa.Table.from_pylist(rows)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    parquet = stem.with_suffix(".parquet")
    with atomic_path(parquet) as tmp:
        tmp.write_bytes(buf.getvalue())
    return parquet, jsonl


def without_timings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` without the :data:`TIMING_PREFIX` columns (what two runs must agree on)."""
    return [{k: v for k, v in r.items() if not k.startswith(TIMING_PREFIX)} for r in rows]
