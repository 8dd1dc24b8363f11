"""Benchmark of disjoint part solids (issue 12, item 3): overlap between parts, volumes and the
physics certificate of PartNet-Mobility objects built with and without the disjoint step.

Each object (``../shared/data/partnet-mobility/<id>/mobility.urdf``; default: the storage
furniture 40147, 45213, 45261, 45332; or a robot URDF of pybullet_data named
``pybullet:<path>``, e.g. ``pybullet:a1/a1.urdf``; ``--robots`` adds a1, laikago and r2d2) is
built twice with default options (``n4d4d.build``): once with
:func:`n4d4d.volume.disjoint.disjoint_parts` switched off (the build as it was before the
step), once as shipped (``--shipped-only``: only the latter). Per build it prints:

- every pair of part solids that overlap or come within 10 mm
  (:func:`n4d4d.volume.disjoint.part_overlaps`): overlap volume (% of the smaller part), depth
  (``2 V / A`` of the intersection, mm) and gap (mm);
- the sum of part volumes against the asset's watertight visual volume (target within 3 %);
- the certificate: passed or not, the failing checks, and the largest joint force at rest as a
  multiple of the weight carried (Infinigen-Sim's bound: 1.5).

Usage: ``python benchmarks/solids_parts.py [IDS ...] [--json rows.jsonl]``. A build of a
storage object takes 2-6 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "partnet-mobility"
STORAGE = ("40147", "45213", "45261", "45332")
ROBOTS = ("pybullet:a1/a1.urdf", "pybullet:laikago/laikago.urdf", "pybullet:r2d2.urdf")


def urdf_path(oid: str) -> Path:
    """The URDF of ``oid``: a PartNet-Mobility id, or ``pybullet:<path in pybullet_data>``."""
    if oid.startswith("pybullet:"):
        import pybullet_data

        return Path(pybullet_data.getDataPath()) / oid.split(":", 1)[1]
    return SHARED / oid / "mobility.urdf"


def _max_joint_force(physics: dict) -> float | None:
    ratios = [v for c in (physics or {}).get("checks", []) if c.get("name") == "rest"
              for v in (c.get("measured", {}).get("joint_force_ratios") or {}).values()]
    return max(ratios) if ratios else None


def build_one(oid: str, disjoint: bool) -> dict:
    """Build PartNet object ``oid`` (default options), with or without the disjoint step."""
    import n4d4d
    from n4d4d.volume import disjoint as dj
    from n4d4d.volume.disjoint import part_overlaps, to_manifold

    original = dj.disjoint_parts
    if not disjoint:
        dj.disjoint_parts = lambda asset, clearance, **kw: asset
    try:
        t0 = time.perf_counter()
        asset = n4d4d.build(urdf_path(oid))
        seconds = time.perf_counter() - t0
    finally:
        dj.disjoint_parts = original
    whole = to_manifold(asset.visual)
    vols = [to_manifold(p.mesh) for p in asset.parts]
    total = sum(m.volume() for m in vols if m is not None)
    physics = asset.physics or {}
    rig = next((s for s in asset.stages if s.name == "rigging"), None)
    return {
        "id": oid, "disjoint": disjoint, "seconds": seconds, "parts": len(asset.parts),
        "pairs": part_overlaps(asset.parts),
        "volume_sum_m3": total, "whole_volume_m3": whole.volume() if whole is not None else None,
        "passed": asset.passed, "reasons": list(physics.get("reasons", [])),
        "failed_checks": sorted({f"{c['name']}/{c.get('engine', '')}" for c in physics.get("checks", [])
                                 if not c.get("passed")}),
        "failed_details": [{"name": c["name"], "engine": c.get("engine"), "reasons": list(c.get("reasons", []))[:3]}
                           for c in physics.get("checks", []) if not c.get("passed")],
        "max_joint_force_ratio": _max_joint_force(physics),
        "disjoint_figures": (rig.figures.get("disjoint") if rig else None),
    }


def print_row(r: dict) -> None:
    tag = "with disjoint" if r["disjoint"] else "without     "
    whole = r["whole_volume_m3"]
    vs = f"{100 * (r['volume_sum_m3'] / whole - 1):+.1f}%" if whole else "n/a"
    worst = max(r["pairs"], key=lambda e: e["overlap_fraction"], default=None)
    ov = (f"worst overlap {worst['parts'][0]}/{worst['parts'][1]} {100 * worst['overlap_fraction']:.2f}% "
          f"depth {1e3 * worst['overlap_depth_m']:.1f} mm" if worst and worst["overlap_m3"] > 0 else "no overlap")
    gaps = [e["gap_m"] for e in r["pairs"]]
    force = r["max_joint_force_ratio"]
    print(f"{r['id']:>6} {tag} parts {r['parts']:2d}  {ov}  min gap {1e3 * min(gaps, default=float('nan')):.2f} mm  "
          f"sum/whole {vs}  certificate {'PASS' if r['passed'] else 'FAIL'}  "
          f"joint force {'n/a' if force is None else f'{force:.3g}'} x weight  ({r['seconds']:.0f} s)")
    for c in r.get("failed_details") or [{"name": c, "reasons": []} for c in r["failed_checks"]]:
        why = "; ".join(str(x) for x in c.get("reasons", []))[:220]
        print(f"{'':8}failed: {c['name']}/{c.get('engine') or ''}  {why}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ids", nargs="*", default=list(STORAGE))
    ap.add_argument("--json", type=Path, help="write one JSON row per build here")
    ap.add_argument("--robots", action="store_true", help="add the robot URDFs " + ", ".join(ROBOTS))
    ap.add_argument("--shipped-only", action="store_true", help="build only as shipped (disjoint step on)")
    args = ap.parse_args(argv)
    ids = list(args.ids) + (list(ROBOTS) if args.robots else [])
    if any(not i.startswith("pybullet:") for i in ids) and not SHARED.is_dir():
        print(f"no {SHARED}: nothing to measure", file=sys.stderr)
        return 1
    rows = []
    for oid in ids:
        for disjoint in ((True,) if args.shipped_only else (False, True)):
            r = build_one(oid, disjoint)
            print_row(r)
            rows.append(r)
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps(r, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
