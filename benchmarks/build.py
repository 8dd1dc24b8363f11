"""Per-stage wall time and peak memory of ``n4d4d.build`` on real meshes, with medians.

    python benchmarks/build.py                       # pybullet_data set + ../shared/data/meshes
    python benchmarks/build.py --samples duck mug    # a subset
    python benchmarks/build.py --resolution 128 --max-hulls 8

Each asset is built in a fresh child process (so one asset's caches and peak do not leak into
the next); inside it a sampler thread reads the process's resident set size every 5 ms and keeps
the maximum seen during each stage ("peak RSS", MiB: native allocations of CoACD, Warp and
PyBullet included, which tracemalloc would miss). Prints one row per asset and the median of
every column. Defaults are the production defaults (resolution 256, 32 hulls).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import threading
import time
from pathlib import Path

from n4d4d.pipeline import STAGE_NAMES as STAGES  # noqa: E402  (light: stages import lazily)
NAMED = ["duck", "teddy", "mug", "bunny"]
RANDOM = [f"random_urdfs/{i:03d}" for i in range(0, 100, 5)]


def _measure(job: tuple[str, str], options: dict, queue) -> None:
    import psutil

    import n4d4d

    proc = psutil.Process()
    current = {"stage": None}
    peaks = {s: 0.0 for s in STAGES}
    times = {}
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            stage = current["stage"]
            if stage:
                peaks[stage] = max(peaks[stage], proc.memory_info().rss / 2**20)
            time.sleep(0.005)

    def progress(stage, event):
        if event == "start":
            current["stage"] = stage
            times[stage] = time.perf_counter()
        else:
            peaks[stage] = max(peaks[stage], proc.memory_info().rss / 2**20)
            times[stage] = time.perf_counter() - times[stage]

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    kind, value = job
    try:
        kwargs = {"sample": value} if kind == "sample" else {"source": value}
        asset = n4d4d.build(progress=progress, **kwargs, **options)
        row = {"name": value, "passed": asset.passed, "faces": len(asset.visual.faces),
               "hulls": sum(len(h) for h in asset.collision.values()),
               "times": times, "peak_mib": peaks}
    except Exception as exc:  # reported, not fatal: the benchmark covers every mesh
        row = {"name": value, "error": f"{type(exc).__name__}: {exc}"}
    stop.set()
    queue.put(row)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", nargs="*", default=NAMED + RANDOM)
    ap.add_argument("--meshes", nargs="*", default=None, help="mesh files (default: ../shared/data/meshes/*)")
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--max-hulls", type=int, default=32)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "meshes"
    meshes = args.meshes if args.meshes is not None else sorted(str(p) for p in shared.glob("*.obj"))
    jobs = [("sample", s) for s in args.samples] + [("path", m) for m in meshes]
    options = {"resolution": args.resolution, "max_hulls": args.max_hulls, "seed": 0}

    ctx = mp.get_context("spawn")
    rows = []
    header = f"{'asset':28s} {'ok':>4s} " + " ".join(f"{s:>9s}" for s in STAGES) + f" {'total':>8s} {'peakMiB':>8s}"
    print(f"resolution {args.resolution}, max hulls {args.max_hulls}; seconds per stage, peak RSS")
    print(header)
    for job in jobs:
        q = ctx.Queue()
        p = ctx.Process(target=_measure, args=(job, options, q))
        p.start()
        row = q.get()
        p.join()
        rows.append(row)
        if "error" in row:
            print(f"{Path(row['name']).name:28s} ERROR {row['error']}")
            continue
        t = row["times"]
        print(f"{Path(row['name']).name:28s} {'yes' if row['passed'] else 'NO':>4s} "
              + " ".join(f"{t.get(s, float('nan')):9.2f}" for s in STAGES)
              + f" {sum(t.values()):8.2f} {max(row['peak_mib'].values()):8.0f}", flush=True)
    ok = [r for r in rows if "error" not in r]
    if ok:
        med = {s: statistics.median(r["times"].get(s, 0.0) for r in ok) for s in STAGES}
        print(f"{'MEDIAN':28s} {'':>4s} " + " ".join(f"{med[s]:9.2f}" for s in STAGES)
              + f" {statistics.median(sum(r['times'].values()) for r in ok):8.2f}"
              + f" {statistics.median(max(r['peak_mib'].values()) for r in ok):8.0f}")
        print(f"passed {sum(r['passed'] for r in ok)}/{len(rows)}; errors {len(rows) - len(ok)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
