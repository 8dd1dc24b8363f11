"""Scenario build throughput: assets per hour with 1 and 2 workers, local and Ray.

Builds the first ``--assets`` builds of a spec (default: ``scenarios/examples/tabletop.yaml``)
into a fresh folder for each configuration (no resume), with the spec's own build options, and
prints wall time, assets/hour, the 1 -> 2 worker scaling ratio per backend (goal >= 1.8), and a
paper estimate of the cores (and 32-core nodes) that 100,000 assets a day need at the measured
per-asset cost. Wall time includes starting the workers (each imports Warp, Newton and torch
once: a few seconds), which a long run amortises; the per-asset figure (mean build seconds a
worker spent) does not. The steady-state rate leaves the start-up out honestly: it counts
the builds that finished after every worker had delivered its first one, over the time from
that moment to the last result ((N - w) / (t_N - t_w) for w workers and results at t_1 <= ...
<= t_N), which is the rate a long dataset build runs at. Settling and the scene are not timed
here (seconds per scene, not per asset).

    .venv/bin/python benchmarks/scenario.py [--spec S] [--assets 6] [--backends local,ray]
        [--samples "random_urdfs/0[0-2]?"]    # the spec's first source with other samples

Run it on an idle machine: on shared cores the ratio measures the neighbours as much as n4d4d.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAY_S = 86_400.0


def measure(jobs, workers: int, backend: str) -> dict:
    from n4d4d.scenarios import build_batch

    out = Path(tempfile.mkdtemp(prefix=f"n4d4d-bench-{backend}{workers}-"))
    done: list[float] = []
    try:
        t0 = time.perf_counter()
        results = build_batch(jobs, out, workers=workers, backend=backend, isolate=True,
                              on_result=lambda r: done.append(time.perf_counter() - t0))
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(out, ignore_errors=True)
    built = [r for r in results if r.error is None]
    done.sort()
    steady = (3600.0 * (len(done) - workers) / (done[-1] - done[workers - 1])
              if len(done) > workers and done[-1] > done[workers - 1] else float("nan"))
    return {"backend": backend, "workers": workers, "assets": len(results), "built": len(built),
            "passed": sum(r.passed for r in results), "wall_s": wall,
            "per_asset_s": sum(r.seconds for r in built) / max(1, len(built)),
            "assets_per_hour": 3600.0 * len(results) / wall, "steady_per_hour": steady}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=REPO / "scenarios" / "examples" / "tabletop.yaml")
    ap.add_argument("--assets", type=int, default=6, help="builds of the spec to time (its first N objects)")
    ap.add_argument("--backends", default="local,ray")
    ap.add_argument("--samples", default=None,
                    help="replace the samples of the spec's first source (a pybullet_data glob), for more assets")
    ap.add_argument("--node-cores", type=int, default=32, help="cores per node of the paper cluster")
    args = ap.parse_args()

    from n4d4d.scenarios.plan import plan_scenario
    from n4d4d.scenarios.spec import load_spec

    spec = load_spec(args.spec)
    if args.samples:
        first = spec.sources[0].model_copy(update={"samples": (args.samples,)})
        spec = spec.model_copy(update={"sources": (first, *spec.sources[1:])})
    plan = plan_scenario(spec, Path(tempfile.gettempdir()) / "n4d4d-bench-plan")
    jobs = [a.job for a in plan.objects][: args.assets]
    if any(a.procedural for a in plan.objects[: args.assets]):
        raise SystemExit("pick a spec without procedural sources (they need materialising into an output folder)")
    print(f"spec {args.spec.name}: {len(jobs)} builds, cpus {os.cpu_count()}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rows = []
    for backend in args.backends.split(","):
        if backend == "ray":
            try:
                import ray
            except ImportError:
                print("ray: not installed (pip install 'n4d4d[ray]'), skipped")
                continue
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            for workers in (1, 2):
                r = measure(jobs, workers, backend)
                rows.append(r)
                print(f"{backend:5s} workers={workers}: {r['built']}/{r['assets']} built ({r['passed']} passed) in "
                      f"{r['wall_s']:.1f} s -> {r['assets_per_hour']:.0f} assets/h "
                      f"(steady state {r['steady_per_hour']:.0f}/h); "
                      f"{r['per_asset_s']:.1f} s per asset in a worker", flush=True)
        finally:
            if backend == "ray":
                ray.shutdown()
    for backend in dict.fromkeys(r["backend"] for r in rows):
        one = next((r for r in rows if r["backend"] == backend and r["workers"] == 1), None)
        two = next((r for r in rows if r["backend"] == backend and r["workers"] == 2), None)
        if one and two:
            print(f"{backend}: scaling 1 -> 2 workers {two['assets_per_hour'] / one['assets_per_hour']:.2f}x "
                  f"with start-up, {two['steady_per_hour'] / one['steady_per_hour']:.2f}x steady state (goal >= 1.8x)")
    if rows:
        base = min((r for r in rows if r["workers"] == 1), key=lambda r: r["per_asset_s"], default=rows[0])
        cores = 100_000 * base["per_asset_s"] / DAY_S
        print(f"paper estimate: 100,000 assets/day at {base['per_asset_s']:.1f} core-s per asset "
              f"(this spec, one worker per core) = {cores:.0f} cores busy all day "
              f"= {cores / args.node_cores:.1f} nodes of {args.node_cores} cores at perfect scaling; "
              f"x {1 / 0.8:.2f} for 80% efficiency = {cores / args.node_cores / 0.8:.1f} nodes")


if __name__ == "__main__":
    main()
