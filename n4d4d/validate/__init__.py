"""``n4d4d validate``: check any USD, URDF or MJCF file, n4d4d's or anyone's, before a simulator
loads it.

Per file (:func:`validate_file`), every result a :class:`~n4d4d.asset.CheckResult`:

1. the structural rules of its format (:mod:`.read`: one articulation root, colliders,
   joint bodies, drive max force, joint frames, explicit collision approximation, URDF tree and
   effort limits, MJCF actuator force ranges);
2. USD only: OpenUSD's own validators (``usd_validation``, pxr.UsdValidation: errors fail) and
   the SimReady validator's physics features (``simready``; see :mod:`.simready`),
   skipped with a note when that package is absent;
3. ``mass_inertia``: every body's mass is finite and positive, its principal moments positive and
   obeying the triangle inequality (I1 + I2 >= I3, a physical inertia tensor);
   ``hull_mass``: where the file states a density, density x hull volume against the authored
   mass, within the certificate's hull-volume bounds
   (:class:`~n4d4d.physics_validation.FidelityThresholds`);
4. physics (``physics=True``, only when 1 and 3 pass): the certificate's non-adjacent link
   overlap (SimReady BA.002, ``initial_penetration``) and rest checks in PyBullet and in Newton
   (:func:`~n4d4d.physics_validation.check_pybullet` / ``check_newton`` with no drops; Newton
   reads a USD that n4d4d writes from what the file described, so names and units agree).

Across files (:func:`cross_format`): when one folder holds several of USD, URDF and MJCF, their
bodies' masses, movable joints, limits and axes must agree (``cross_format``).

This module does not change any file; temporary USD files for Newton live in a temporary folder.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from n4d4d.asset import Asset, CheckResult

from .read import ReadResult, check, read_file

#: Triangle inequality slack of principal moments, relative to the largest (float32 files).
INERTIA_REL_TOL = 1e-6
#: Cross-format agreement: relative mass (MJCF keeps 6 significant digits: 5e-7), and absolute
#: limit (rad or m) and axis bounds.
CROSS_MASS_RTOL = 1e-4
CROSS_LIMIT_ATOL = 1e-4
CROSS_AXIS_ATOL = 1e-4

MAIN_FILES = ("asset.usda", "asset.usdc", "asset.usd", "asset.urdf", "asset.xml")


@dataclass
class FileReport:
    """The checks of one file (or, for ``format == "folder"``, of a folder's formats)."""

    path: str
    format: str
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_json(self) -> dict:
        """JSON-ready dict: path, format, passed, checks (CheckResult fields), notes, seconds."""
        from dataclasses import asdict

        return {"path": self.path, "format": self.format, "passed": self.passed,
                "checks": [_jsonable(asdict(c)) for c in self.checks], "notes": list(self.notes),
                "seconds": self.seconds}


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if np.isfinite(f) else str(f)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def mass_checks(read: ReadResult) -> list[CheckResult]:
    """``mass_inertia`` and ``hull_mass`` of the bodies :func:`read_file` found."""
    from n4d4d.physics_validation import FidelityThresholds

    reasons = []
    asset = read.asset
    for p in asset.parts:
        m = asset.mass.get(p.name)
        if m is None:
            reasons.append(f"body '{p.name}' has no mass")
            continue
        if not (np.isfinite(m.mass) and m.mass > 0):
            reasons.append(f"body '{p.name}' has mass {m.mass} kg (must be positive)")
        w = np.sort(np.asarray(m.principal_moments, np.float64))
        if not np.all(np.isfinite(w)) or np.any(w <= 0):
            reasons.append(f"body '{p.name}' has principal moments {np.round(w, 12).tolist()} kg m^2 (must be positive)")
        elif w[0] + w[1] < w[2] * (1 - INERTIA_REL_TOL):
            reasons.append(f"body '{p.name}': principal moments {w.tolist()} break the triangle inequality "
                           "I1 + I2 >= I3 (no rigid body has this inertia)")
    out = [check("mass_inertia", reasons, {"bodies": len(asset.parts)},
                 {"triangle_inequality_rel_tol": INERTIA_REL_TOL})]
    fid = FidelityThresholds()
    ratios, hull_reasons = {}, []
    for p in asset.parts:
        rho, m, hulls = read.densities.get(p.name), asset.mass.get(p.name), asset.collision.get(p.name)
        if not rho or m is None or not hulls or not m.mass > 0:
            continue
        vol = sum(abs(_volume(h)) for h in hulls)
        ratios[p.name] = rho * vol / m.mass
        if not fid.min_volume_ratio <= ratios[p.name] <= fid.max_volume_ratio:
            hull_reasons.append(f"body '{p.name}': density x hull volume is {ratios[p.name]:.3f} x its authored mass "
                                f"(bounds [{fid.min_volume_ratio}, {fid.max_volume_ratio}])")
    if ratios:
        out.append(check("hull_mass", hull_reasons, {"ratio": ratios},
                         {"min_ratio": fid.min_volume_ratio, "max_ratio": fid.max_volume_ratio}))
    return out


def _volume(mesh) -> float:
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    return float(np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6.0)


def physics_checks(asset: Asset, seed: int = 0, engines: tuple[str, ...] = ("pybullet", "newton"),
                   time_budget_s: float = 60.0) -> tuple[list[CheckResult], list[str]]:
    """BA.002 overlap and the rest check in each of ``engines`` for a read asset; returns
    ``(checks, notes)``. Joints without a drive in the file get the certificate's servo
    (:func:`~n4d4d.physics_validation.drives_stage`), with a note."""
    from n4d4d.physics_validation import check_pybullet, drives_stage
    from n4d4d.physics_validation.penetration import check_link_penetration
    from n4d4d.physics_validation.rigid_model import rigid_model

    notes = []
    movable = [j.name for j in asset.joints if j.type != "fixed"]
    if movable and not all(j in asset.drives and asset.drives[j].stiffness > 0 for j in movable):
        computed = drives_stage(asset).drives
        asset = asset.replace(drives={**computed, **{k: v for k, v in asset.drives.items() if v.stiffness > 0}})
        notes.append("joints without a position drive in the file were held by the certificate's servo "
                     "(10 Hz, critically damped) for the rest checks")
    checks = [check_link_penetration(rigid_model(asset))]
    if "pybullet" in engines:
        checks += [c for c in check_pybullet(asset, seed=seed, orientations=0, time_budget_s=time_budget_s)["checks"]]
    if "newton" in engines:
        from n4d4d.physics_validation import check_newton

        from n4d4d.exporters.usd import write_usd

        with tempfile.TemporaryDirectory(prefix="n4d4d_validate_") as tmp:
            usd = write_usd(asset, Path(tmp) / "asset.usda")
            checks += [c for c in check_newton(asset, usd_path=usd, seed=seed, orientations=0,
                                               time_budget_s=time_budget_s)["checks"]]
    return checks, notes


def validate_file(path: str | Path, *, physics: bool = True, third_party: bool = True, seed: int = 0,
                  engines: tuple[str, ...] = ("pybullet", "newton")) -> FileReport:
    """Every check of :mod:`this module <.validate>` on one USD, URDF or MJCF file.

    Args:
        path: the file (``.usd .usda .usdc .usdz .urdf .xml .mjcf``).
        physics: run the overlap and rest checks (seconds to a minute; engines load lazily).
        third_party: run pxr.UsdValidation and the SimReady validator on USD files.
        seed: the rest check's tilt seed.
        engines: which engines the rest check runs in.

    Returns:
        A :class:`FileReport`. A file no library can read gives one failed ``read`` check.
    """
    from n4d4d.errors import N4d4dError

    t0 = time.perf_counter()
    path = Path(path)
    try:
        read = read_file(path)
    except N4d4dError as e:
        return FileReport(str(path), path.suffix.lstrip("."), [check("read", [e.problem])],
                          seconds=time.perf_counter() - t0)
    report = FileReport(str(path), read.format, list(read.checks), list(read.notes))
    if read.format == "usd" and third_party:
        report.checks += _third_party(path, report.notes)
    report.checks += mass_checks(read)
    if physics:
        if not report.passed:
            report.notes.append("physics checks skipped: the file fails a structural or mass rule")
        elif not read.asset.parts:
            report.notes.append("physics checks skipped: no rigid bodies")
        else:
            try:
                checks, notes = physics_checks(read.asset, seed=seed, engines=engines)
                report.checks += checks
                report.notes += notes
            except N4d4dError as e:
                report.checks.append(check("physics", [e.problem]))
    report.seconds = time.perf_counter() - t0
    return report


def _third_party(path: Path, notes: list[str]) -> list[CheckResult]:
    from .simready import ValidatorUnavailable, simready_issues, usd_validation_issues

    out = []
    for name, fn in (("usd_validation", usd_validation_issues), ("simready", simready_issues)):
        try:
            issues = fn(path)
        except ValidatorUnavailable as e:
            notes.append(f"{name} skipped: {e}")
            continue
        errors = [i for i in issues if i.severity == "error"]
        out.append(check(name, [f"{i.rule}: {i.at}: {i.message}" for i in errors],
                         {"errors": len(errors), "warnings": len(issues) - len(errors),
                          "rules": sorted({i.rule for i in errors})},
                         details={"warnings": [f"{i.rule}: {i.at}: {i.message}" for i in issues if i.severity != "error"]}))
    return out


def cross_format(reads: dict[str, ReadResult], folder: str) -> FileReport:
    """``cross_format``: bodies' masses, movable joints, limits and axes agree across formats
    (keys: format name -> what its reader found). Bodies and joints are matched by name."""
    reasons = []
    fmts = sorted(reads)
    ref_fmt = fmts[0]
    ref = reads[ref_fmt].asset
    for fmt in fmts[1:]:
        other = reads[fmt].asset
        for p in ref.parts:
            a, b = ref.mass.get(p.name), other.mass.get(p.name)
            if b is None:
                reasons.append(f"body '{p.name}' of {ref_fmt} is missing in {fmt}")
            elif a is not None and not np.isclose(a.mass, b.mass, rtol=CROSS_MASS_RTOL):
                reasons.append(f"body '{p.name}': mass {a.mass:.6g} kg in {ref_fmt}, {b.mass:.6g} kg in {fmt}")
        ja = {j.name: j for j in ref.joints if j.type != "fixed"}
        jb = {j.name: j for j in other.joints if j.type != "fixed"}
        if set(ja) != set(jb):
            reasons.append(f"movable joints differ: {ref_fmt} {sorted(ja)}, {fmt} {sorted(jb)}")
        for n in set(ja) & set(jb):
            x, y = ja[n], jb[n]
            if x.type != y.type:
                reasons.append(f"joint '{n}': {x.type} in {ref_fmt}, {y.type} in {fmt}")
            for lim in ("lower", "upper"):
                u, v = getattr(x, lim), getattr(y, lim)
                if (np.isfinite(u) or np.isfinite(v)) and not np.isclose(u, v, rtol=0, atol=CROSS_LIMIT_ATOL):
                    reasons.append(f"joint '{n}': {lim} limit {u:.6g} in {ref_fmt}, {v:.6g} in {fmt}")
            ax, ay = np.asarray(x.axis, float), np.asarray(y.axis, float)
            ax, ay = ax / np.linalg.norm(ax), ay / np.linalg.norm(ay)
            if not np.allclose(ax, ay, atol=CROSS_AXIS_ATOL):
                reasons.append(f"joint '{n}': axis {np.round(ax, 5).tolist()} in {ref_fmt}, "
                               f"{np.round(ay, 5).tolist()} in {fmt}")
    total = {f: float(sum(m.mass for m in r.asset.mass.values())) for f, r in reads.items()}
    return FileReport(folder, "folder", [check("cross_format", reasons, {"formats": fmts, "total_mass_kg": total},
                                               {"mass_rtol": CROSS_MASS_RTOL, "limit_atol": CROSS_LIMIT_ATOL,
                                                "axis_atol": CROSS_AXIS_ATOL})])


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files to validate: each file as given, and for a folder its n4d4d main files
    (:data:`MAIN_FILES`) or else every USD / URDF / MJCF file directly in it."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = [p / n for n in MAIN_FILES if (p / n).is_file()]
            if not found:
                found = sorted(q for q in p.iterdir() if q.suffix.lower() in (".usd", ".usda", ".usdc", ".usdz", ".urdf", ".xml"))
            out += found
        else:
            out.append(p)
    return out


def validate_paths(paths: Iterable[str | Path], *, physics: bool = True, third_party: bool = True,
                   seed: int = 0) -> list[FileReport]:
    """:func:`validate_file` for every file of :func:`expand`, then :func:`cross_format` for
    each folder holding two or more of USD, URDF and MJCF."""
    files = expand(paths)
    reports = [validate_file(f, physics=physics, third_party=third_party, seed=seed) for f in files]
    by_folder: dict[Path, dict[str, ReadResult]] = {}
    for f in files:
        try:
            r = read_file(f)
        except Exception:
            continue
        by_folder.setdefault(f.parent, {}).setdefault(r.format, r)
    for folder, reads in by_folder.items():
        if len(reads) >= 2:
            reports.append(cross_format(reads, str(folder)))
    return reports
