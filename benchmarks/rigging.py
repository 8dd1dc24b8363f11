"""Wall time of joint inference per object and track against the rigging time budget, and
whether the harness runs on every pybullet_data robot without an error.

    python benchmarks/rigging.py                    # every pybullet_data URDF with a movable joint
    python benchmarks/rigging.py --budget 60 r2d2.urdf franka_panda/panda.urdf
    python benchmarks/rigging.py --json out.jsonl   # also the harness records (n4d4d eval rigging --from-json)
    python benchmarks/rigging.py --merged-subset 17 --json merged.jsonl
        # merged track only: the first object (SOURCES.tsv order) of each of the first 17
        # PartNet-Mobility categories of ../shared/data + the procedural families (issue 18's
        # precision subset, 181 true joints); prints class accuracy and extras per true joint at
        # confidence 0, 0.95 and the shipped threshold

Each object runs both tracks of ``n4d4d eval rigging`` (parts kept, merged mesh) in this
process, one after the other; prints one row per object (true movable joints, seconds per
track, whether it stayed within the budget, the error if any) and the totals. The budget is
``rig_stage``'s ``time_budget_s``: joint inference stops there and leaves the remaining joints
fixed, so a row over it by more than the final joint's inference (seconds) is a bug.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    import pybullet_data

    from n4d4d.rigging import harness

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("robots", nargs="*", help="paths under pybullet_data (default: every robot URDF)")
    ap.add_argument("--budget", type=float, default=120.0, help="time_budget_s per object and track")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="write the harness records as JSON lines")
    ap.add_argument("--merged-subset", type=int, default=0, metavar="N",
                    help="instead: the merged track on the first object of each of the first N categories + procedural")
    a = ap.parse_args(argv)
    if a.merged_subset:
        return merged_subset(a.merged_subset, a.budget, a.seed, a.json)
    base = Path(pybullet_data.getDataPath())
    paths = [base / r for r in a.robots] if a.robots else harness.all_robot_paths()
    if not a.robots:
        for p in harness.all_robot_paths(unparsed=True):
            print(f"not read by the URDF reader (its errors, not rigging's): {p.relative_to(base)}")
    rows, results = [], []
    print(f"{'robot':40s} {'joints':>6s} {'kept s':>8s} {'merged s':>9s}  error")
    for p in paths:
        rs = harness.evaluate([p], seed=a.seed, time_budget_s=a.budget)
        results += rs
        t = {r.track: r for r in rs}
        k, m = t.get("kept"), t.get("merged")
        err = "; ".join(f"{r.track}: {r.error[:70]}" for r in rs if r.error)
        over = [r.track for r in rs if (r.stage_seconds or r.seconds) > a.budget]
        name = str(p.relative_to(base)) if base in p.parents else str(p)
        print(f"{name:40s} {(k.true_joints if k else 0):6d} {(k.seconds if k else 0):8.1f} "
              f"{(m.seconds if m else 0):9.1f}  {err}{' OVER BUDGET: ' + ','.join(over) if over else ''}",
              flush=True)
        rows.append((name, err, over))
    n_err = sum(bool(e) for _, e, _ in rows)
    n_over = sum(bool(o) for _, _, o in rows)
    total = sum(r.seconds for r in results)
    print(f"{len(rows)} robots, {n_err} with an error, {n_over} over the {a.budget:g} s budget, {total:.0f} s in all")
    if a.json is not None:
        from n4d4d.io.atomic import atomic_write_text

        atomic_write_text(a.json, "".join(json.dumps(r.to_json()) + "\n" for r in results))
    return 0


def merged_subset(n_categories: int, budget: float, seed: int, json_path) -> int:
    """The merged track on issue 18's precision subset (see the module docstring)."""
    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.rigging import harness, procedural
    from n4d4d.rigging.scoring import figures, shipped_thresholds

    shared = harness.default_shared()
    rows = [line.split("\t") for line in (shared / "partnet-mobility" / "SOURCES.tsv").read_text().splitlines()[1:]
            if line.strip()]
    first: dict[str, str] = {}
    for r in rows:
        first.setdefault(r[1], r[0])
    results = []
    for obj in list(first.values())[:n_categories]:
        p = shared / "partnet-mobility" / obj / "mobility.urdf"
        truth = load_urdf_asset(p)
        results += harness.evaluate_asset(truth, truth.joints, harness._label(p), harness.category_of(p), seed=seed,
                                          time_budget_s=budget, tracks=("merged",))
        r = results[-1]
        print(f"{r.name:28s} {r.category:18s} {r.seconds:6.1f} s  true {r.true_joints:3d}  matched {r.matched:3d}  "
              f"extras {len(r.extras):3d}  {r.error or ''}", flush=True)
    for name in procedural.FAMILIES:
        asset, joints = procedural.FAMILIES[name]()
        results += harness.evaluate_asset(asset, joints, name, "procedural", seed=seed, time_budget_s=budget,
                                          tracks=("merged",))
    ok = [r for r in results if r.error is None]
    for t in (0.0, 0.95, shipped_thresholds()["merged"]):
        f = figures(ok, t)
        print(f"confidence >= {t:.3f}: {f['joints']} true joints, class {f['class_acc']:.3f}, "
              f"extras {f['extra']} ({f['extra_per_joint']:.3f} per true joint)")
    if json_path is not None:
        from n4d4d.io.atomic import atomic_write_text

        atomic_write_text(json_path, "".join(json.dumps(r.to_json()) + "\n" for r in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
