"""Wall time of joint inference per object and track against the rigging time budget, and
whether the harness runs on every pybullet_data robot without an error.

    python benchmarks/rigging.py                    # every pybullet_data URDF with a movable joint
    python benchmarks/rigging.py --budget 60 r2d2.urdf franka_panda/panda.urdf
    python benchmarks/rigging.py --json out.jsonl   # also the harness records (n4d4d eval rigging --from-json)

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
    a = ap.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
