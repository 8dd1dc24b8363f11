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
- (``--rigging-only``) the watertight visual against the loaded input as ``benchmarks/solids.py``
  measures it (p95 distance, % of the diagonal; normal consistency) and how it was closed;
- the certificate: passed or not, the failing checks, and the largest joint force at rest as a
  multiple of the weight carried (Infinigen-Sim's bound: 1.5).

``--rigging-only``: the pipeline's stages up to and including ``rigging`` only (where part
solids are closed and made disjoint; :data:`n4d4d.pipeline.STAGES` run one by one with
:func:`n4d4d.pipeline.run_stage`), no collision, mass or certificate: per object the worst
overlap (% of the smaller part, depth mm), sum/whole volume %, parts and seconds, then the
pooled figures (objects and pairs with overlap <= 1 %, objects with sum/whole within 3 %, the
worst ones). ``--all`` measures every object of ``../shared/data/partnet-mobility``.

Usage: ``python benchmarks/solids_parts.py [IDS ...] [--all] [--rigging-only] [--json rows.jsonl]``.
A full build of a storage object takes 2-6 minutes on 2 cores.
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


#: Overlap target (fraction of the smaller part's volume) and sum/whole volume target (issue 12).
OVERLAP_TARGET = 0.01
VOLUME_TARGET = 0.03


def rig_one(oid: str, mass_too: bool = False, save_dir: Path | None = None) -> dict:
    """Run ``oid`` (default options) through the pipeline's stages up to and including
    ``rigging`` (the disjoint step included) and measure its part solids; ``mass_too``: then
    the mass stage on them (default density and shell/solid decision, no hulls: the URDF's own
    inertials are used where it gives them) for the total mass; ``save_dir``: the closed part
    solids the disjoint step gets are written there (``<id>_rigged.npz``: names, vertices_i,
    faces_i, joints as JSON), so the step can be rerun on them alone."""
    from n4d4d.pipeline import STAGES, resolve_options, run_stage
    from n4d4d.sources import as_source
    from n4d4d.volume.disjoint import part_overlaps, to_manifold

    from n4d4d.rigging import parts as rp

    opts = resolve_options()
    closed = []  # how each part was closed: the closer's figures, recorded on the way through
    original = rp.close_mesh

    def recording(mesh, *, thickness=None, figures=None):
        fig = {} if figures is None else figures
        out = original(mesh, thickness=thickness, figures=fig)
        m = to_manifold(out[0])
        closed.append({"kind": fig.get("kind", "kept"), "reused": bool(fig.get("reused")),  # static, then rigging
                       "wall_m": fig.get("wall"), "voxel_m": fig.get("voxel_size"),
                       "thinnest_m": fig.get("thinnest"), "sign": fig.get("sign"),
                       "volume_m3": float(m.volume()) if m is not None else None})
        return out

    from n4d4d.volume import disjoint as dj

    original_disjoint = dj.disjoint_parts

    def saving(asset, clearance, **kw):  # the closed part solids as the disjoint step gets them
        if save_dir is not None:
            import numpy as np

            save_dir.mkdir(parents=True, exist_ok=True)
            arrays = {f"{k}_{i}": getattr(p.mesh, k) for i, p in enumerate(asset.parts) for k in ("vertices", "faces")}
            np.savez_compressed(save_dir / f"{oid.replace(':', '_').replace('/', '_')}_rigged.npz",
                                names=np.array([p.name for p in asset.parts]), **arrays,
                                joints=np.array(json.dumps([[j.name, j.type, j.parent, j.child, list(map(float, j.origin)),
                                                             list(map(float, j.axis)), j.lower, j.upper]
                                                            for j in asset.joints])))
        return original_disjoint(asset, clearance, **kw)

    t0 = time.perf_counter()
    rp.close_mesh = recording
    dj.disjoint_parts = saving
    try:
        src = as_source(urdf_path(oid))
        asset = run_stage(STAGES[0], src, opts, None, src.label)
        for stage in STAGES[1:]:
            asset = run_stage(stage, asset, opts, None, asset.provenance.source)
            if stage.name == "rigging":
                break
    finally:
        rp.close_mesh = original
        dj.disjoint_parts = original_disjoint
    seconds = time.perf_counter() - t0
    static = next((s.figures for s in asset.stages if s.name == "static"), {})
    whole = to_manifold(asset.visual) if asset.visual is not None else None
    solids = [to_manifold(p.mesh) for p in asset.parts]
    rig = next((s for s in asset.stages if s.name == "rigging"), None)
    mass = None
    if mass_too:  # the mass stage needs no hulls unless a part encloses nothing (then: not measured)
        from n4d4d.physics_validation import mass_stage

        try:
            rec = mass_stage(asset, density=asset.material.density, shell_thickness=opts.shell_thickness
                             ).stages[-1].figures  # as n4d4d.pipeline's mass stage calls it
            mass = {"total_kg": rec.get("total_mass_kg"), "density_kg_m3": rec.get("density_kg_m3"),
                    "parts": {n: {"mass_kg": q["mass_kg"], "model": q["mass_model"]["model"],
                                  "wall_m": q["mass_model"]["wall_thickness_m"], "source": q["mass_source"]}
                              for n, q in rec.get("parts", {}).items()}}
        except Exception as exc:  # noqa: BLE001 - a figure that could not be taken is reported
            mass = {"error": f"{type(exc).__name__}: {exc}"}
    fit = None
    if asset.visual is not None and asset.source_mesh is not None:  # the whole against the input
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from solids import measure

        fit = measure(asset.visual, asset.source_mesh)
    return {
        "id": oid, "seconds": seconds, "parts": len(asset.parts), "mass": mass, "whole_fit": fit,
        "not_manifold": [p.name for p, m in zip(asset.parts, solids) if m is None],
        "part_volumes_m3": {p.name: (float(m.volume()) if m is not None else None)
                            for p, m in zip(asset.parts, solids)},
        "pairs": part_overlaps(asset.parts),
        "volume_sum_m3": float(sum(m.volume() for m in solids if m is not None)),
        "whole_volume_m3": float(whole.volume()) if whole is not None else None,
        "stage_seconds": {s.name: s.seconds for s in asset.stages},
        "closed_parts": closed,
        "whole": {k: static.get(k) for k in ("sign", "shell_wall", "resolution", "voxel_size", "volume_before",
                                              "volume_after", "input_closed")},
        "disjoint_figures": (rig.figures.get("disjoint") if rig else None),
    }


def print_rig_row(r: dict) -> None:
    whole = r["whole_volume_m3"]
    vs = f"{100 * (r['volume_sum_m3'] / whole - 1):+.1f}%" if whole else "n/a"
    worst = max(r["pairs"], key=lambda e: e["overlap_fraction"], default=None)
    ov = (f"worst overlap {worst['parts'][0]}/{worst['parts'][1]} {100 * worst['overlap_fraction']:.2f}% "
          f"depth {1e3 * worst['overlap_depth_m']:.1f} mm" if worst and worst["overlap_m3"] > 0 else "no overlap")
    bad = f"  not manifold: {', '.join(r['not_manifold'])}" if r["not_manifold"] else ""
    d = r.get("disjoint_figures") or {}
    su = f"{100 * d['sum_after_vs_union_before']:+.1f}%" if d.get("sum_after_vs_union_before") is not None else "n/a"
    m = r.get("mass") or {}
    ms = f"  mass {m['total_kg']:.1f} kg" if m.get("total_kg") is not None else (f"  mass: {m['error'][:80]}" if m else "")
    fit = r.get("whole_fit")
    ws = f"  whole {r['whole'].get('sign')}" + (f" p95 {fit['p95']:.3f}% nc {fit['nc']:.3f}" if fit else "")
    print(f"{r['id']:>6} parts {r['parts']:3d}  {ov}  sum/whole {vs}  sum/union-before {su}{ms}{ws}  "
          f"({r['seconds']:.0f} s){bad}", flush=True)


def pooled(rows: list[dict]) -> list[str]:
    """Pooled figures of ``--rigging-only`` rows (failed builds counted apart), as lines."""
    ok = [r for r in rows if "error" not in r]
    lines = [f"objects {len(rows)}, measured {len(ok)}, failed {len(rows) - len(ok)}"
             + "".join(f"\n  failed {r['id']}: {r['error'][:200]}" for r in rows if "error" in r)]
    multi = [r for r in ok if r["parts"] >= 2]
    pairs = [e for r in multi for e in r["pairs"]]
    def worst(r):
        return max((e["overlap_fraction"] for e in r["pairs"]), default=0.0)
    good = [r for r in multi if worst(r) <= OVERLAP_TARGET]
    lines.append(f"overlap <= {100 * OVERLAP_TARGET:g}% of the smaller part: objects {len(good)}/{len(multi)} "
                 f"(with >= 2 parts), pairs within 10 mm {sum(e['overlap_fraction'] <= OVERLAP_TARGET for e in pairs)}"
                 f"/{len(pairs)}, pairs overlapping at all {sum(e['overlap_m3'] > 0 for e in pairs)}")
    vol = [r for r in ok if r["whole_volume_m3"]]
    rel = {r["id"]: r["volume_sum_m3"] / r["whole_volume_m3"] - 1 for r in vol}
    lines.append(f"sum of part volumes within {100 * VOLUME_TARGET:g}% of the whole: objects "
                 f"{sum(abs(v) <= VOLUME_TARGET for v in rel.values())}/{len(vol)}")
    lines.append("worst overlaps: " + ", ".join(f"{r['id']} {100 * worst(r):.2f}%" for r in
                                               sorted(multi, key=worst, reverse=True)[:8]))
    lines.append("worst sum/whole: " + ", ".join(f"{k} {100 * v:+.1f}%" for k, v in
                                                sorted(rel.items(), key=lambda kv: -abs(kv[1]))[:8]))
    un = {r["id"]: r["disjoint_figures"]["sum_after_vs_union_before"] for r in ok
          if (r.get("disjoint_figures") or {}).get("sum_after_vs_union_before") is not None}
    lines.append(f"sum of part volumes after the disjoint step within {100 * VOLUME_TARGET:g}% of the parts' union "
                 f"before it: objects {sum(abs(v) <= VOLUME_TARGET for v in un.values())}/{len(un)}; worst: "
                 + ", ".join(f"{k} {100 * v:+.1f}%" for k, v in sorted(un.items(), key=lambda kv: -abs(kv[1]))[:5]))
    fits = [r["whole_fit"] for r in ok if r.get("whole_fit")]
    if fits:
        lines.append(f"whole against the input: p95 <= 0.5% of the diagonal {sum(f['p95'] <= 0.5 for f in fits)}/{len(fits)}, "
                     f"nc >= 0.95 {sum(f['nc'] >= 0.95 for f in fits)}/{len(fits)}, closed {sum(f['closed'] for f in fits)}"
                     f"/{len(fits)}")
    nm = [r["id"] for r in ok if r["not_manifold"]]
    lines.append(f"objects with a part solid manifold3d rejects: {len(nm)} {' '.join(nm)}")
    return lines


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
    ap.add_argument("ids", nargs="*")
    ap.add_argument("--json", type=Path, help="write one JSON row per build here")
    ap.add_argument("--robots", action="store_true", help="add the robot URDFs " + ", ".join(ROBOTS))
    ap.add_argument("--shipped-only", action="store_true", help="build only as shipped (disjoint step on)")
    ap.add_argument("--rigging-only", action="store_true",
                    help="run the stages up to rigging only and measure the part solids (no certificate)")
    ap.add_argument("--save-rigged", type=Path, help="--rigging-only: write the part solids the disjoint "
                    "step gets to DIR/<id>_rigged.npz")
    ap.add_argument("--mass", action="store_true", help="--rigging-only: also the mass stage's total mass")
    ap.add_argument("--all", action="store_true", help="every PartNet-Mobility object of " + str(SHARED))
    args = ap.parse_args(argv)
    ids = list(args.ids) if args.ids and not args.all else []
    if args.all:
        ids += sorted(p.name for p in SHARED.iterdir() if (p / "mobility.urdf").is_file())
    elif not ids:
        ids = list(STORAGE)
    ids += list(ROBOTS) if args.robots else []
    if any(not i.startswith("pybullet:") for i in ids) and not SHARED.is_dir():
        print(f"no {SHARED}: nothing to measure", file=sys.stderr)
        return 1
    rows = []
    if args.rigging_only:
        for oid in ids:
            try:
                r = rig_one(oid, mass_too=args.mass, save_dir=args.save_rigged)
                print_rig_row(r)
            except Exception as exc:  # a failed build is a figure too: counted and listed
                r = {"id": oid, "error": f"{type(exc).__name__}: {exc}"}
                print(f"{oid:>6} FAILED {r['error'][:300]}", flush=True)
            rows.append(r)
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps(r, default=float) + "\n")
        print("\n".join(pooled(rows)))
        return 0
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
