"""Convex decomposition cost and fidelity per part, on real meshes, in CPU seconds.

    python benchmarks/decomposition.py prepare            # parts of every asset, cached (slow, once)
    python benchmarks/decomposition.py run                # decompose every cached part (this code)
    python benchmarks/decomposition.py run --impl DIR     # the same with another copy of
                                                          # physics_validation/ (e.g. git archive HEAD)
    python benchmarks/decomposition.py table A.json B.json   # before / after, per mesh

``prepare`` builds each asset through the pipeline's load, rest pose, static and rigging stages
with default options (shared meshes read Y up, as authored) and caches its part meshes under
``--cache`` (npz); ``run`` decomposes every cached part (one fresh child process per asset) at the default
hull budget (32 hulls of at most 64 vertices) and records the CPU seconds of the call (the
process's own and its children's: CoACD runs in a child process), wall seconds, method, hull
count and collision fidelity (mean / p95 symmetric surface distance in % of the diagonal, hull
union volume ratio), one JSON row per part. CPU seconds do not grow with the machine's load;
wall seconds do (both printed). Assets: ``../shared/data/meshes/*.obj``, pybullet_data's duck,
teddy, mug and bunny, and the PartNet-Mobility objects of ``../shared/data/partnet-mobility``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLES = ["duck", "teddy", "mug", "bunny"]


def _cpu() -> float:
    import resource

    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def jobs(partnet: bool = True) -> list[tuple[str, str]]:
    """``(kind, value)`` of every asset: mesh paths, sample names, URDF paths."""
    out = [("mesh", str(p)) for p in sorted((SHARED / "meshes").glob("*.obj"))]
    out += [("sample", s) for s in SAMPLES]
    if partnet:
        out += [("urdf", str(p)) for p in sorted((SHARED / "partnet-mobility").glob("*/mobility.urdf"))]
    return out


def _key(kind: str, value: str) -> str:
    return Path(value).parent.name if kind == "urdf" else Path(value).stem.replace("/", "_")


def _prepare_one(job, cache: str, queue) -> None:
    import numpy as np

    from n4d4d.options import BuildOptions
    from n4d4d.pipeline import STAGES
    from n4d4d.sources import MeshFile, Sample, UrdfFile

    kind, value = job
    try:
        opts = BuildOptions(seed=0, up="y") if kind == "mesh" else BuildOptions(seed=0)
        src = {"mesh": MeshFile, "sample": Sample, "urdf": UrdfFile}[kind](value)
        t0 = time.perf_counter()
        asset = STAGES[0].run(src, opts)
        for stage in STAGES[1:4]:  # rest pose, static, rigging
            asset = stage.run(asset, opts)
        arrays = {}
        for i, p in enumerate(asset.parts):
            arrays[f"v{i}"], arrays[f"f{i}"] = np.asarray(p.mesh.vertices), np.asarray(p.mesh.faces)
        names = np.array([p.name for p in asset.parts])
        np.savez_compressed(Path(cache) / f"{_key(kind, value)}.npz", names=names, **arrays)
        queue.put({"asset": _key(kind, value), "parts": len(asset.parts), "seconds": time.perf_counter() - t0})
    except Exception as exc:  # reported; the benchmark goes on
        queue.put({"asset": _key(kind, value), "error": f"{type(exc).__name__}: {exc}"})


def _run_asset(path: str, impl: str | None, budget: float, queue) -> None:
    """Decompose every part of one cached asset in this (fresh) process, one row per part.
    The first part pays for loading Warp's cached kernels (the fidelity queries), as a build does."""
    import numpy as np

    from n4d4d.asset import Mesh

    if impl:
        sys.path.insert(0, str(Path(impl).parent))
        mod = importlib.import_module(f"{Path(impl).name}.decomposition")
    else:
        mod = importlib.import_module("n4d4d.physics_validation.decomposition")
    import inspect

    data = np.load(path)
    names = list(data["names"])
    allv = np.vstack([data[f"v{i}"] for i in range(len(names))])
    extra = {}  # as the collision stage calls it: small parts of a multi-part asset judged at its scale
    if len(names) > 1 and "asset_diagonal" in inspect.signature(mod.convex_decomposition).parameters:
        extra["asset_diagonal"] = float(np.linalg.norm(allv.max(axis=0) - allv.min(axis=0)))
    for index, name in enumerate(names):
        mesh = Mesh(data[f"v{index}"], data[f"f{index}"])
        c0, t0 = _cpu(), time.perf_counter()
        try:
            hulls, fig = mod.convex_decomposition(mesh, seed=0, time_budget_s=budget, **extra)
            row = {"method": fig["method"], "hulls": len(hulls), "mean_pct": fig["surface_distance_mean_pct"],
                   "p95_pct": fig["surface_distance_p95_pct"], "volume_ratio": fig["volume_ratio"],
                   "passed": fig["fidelity_passed"], "notes": fig.get("notes", []),
                   "asset_scale": fig["fidelity"].get("asset_scale")}
        except Exception as exc:
            row = {"error": f"{type(exc).__name__}: {exc}"}
        row.update(part=str(name), cpu_s=_cpu() - c0, wall_s=time.perf_counter() - t0, faces=len(mesh.faces))
        queue.put(row)
    queue.put(None)


def prepare(args) -> int:
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    for job in jobs(not args.no_partnet):
        if args.only and _key(*job) not in args.only:
            continue
        if (cache / f"{_key(*job)}.npz").exists():
            continue
        q = ctx.Queue()
        p = ctx.Process(target=_prepare_one, args=(job, str(cache), q))
        p.start()
        row = q.get()
        p.join()
        print(json.dumps(row), flush=True)
    return 0


def run(args) -> int:
    ctx = mp.get_context("spawn")
    rows = []
    files = sorted(Path(args.cache).glob("*.npz"))
    if args.only:
        files = [f for f in files if f.stem in args.only]
    out = open(args.json, "a") if args.json else None
    for f in files:
        q = ctx.Queue()
        p = ctx.Process(target=_run_asset, args=(str(f), args.impl, args.budget, q))
        p.start()
        while (got := q.get()) is not None:
            row = {"asset": f.stem, **got}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if out:
                out.write(json.dumps(row) + "\n")
                out.flush()
        p.join()
    return 0


def _read(path: str) -> dict:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return {(r["asset"], r["part"]): r for r in rows}


def table(args) -> int:
    """Per asset, before and after: the largest per-part CPU seconds, total CPU seconds, total
    hulls, parts whose fidelity fails, and the fidelity of the part with the largest CPU time
    (mean / p95 % of its diagonal, volume ratio; "s" marks a part judged at the asset's scale)."""
    before, after = _read(args.before), _read(args.after)
    assets = sorted({a for a, _ in after} | {a for a, _ in before})

    def side(rows):
        if not rows:
            return f"{'-':>6s} {'':>6s} {'':>5s} {'':>4s} {'':>6s} {'':>5s} {'':>5s}"
        worst = max(rows, key=lambda r: r["cpu_s"])
        tot, hulls = sum(r["cpu_s"] for r in rows), sum(r.get("hulls", 0) for r in rows)
        bad = sum(not r.get("passed", False) for r in rows)
        if "error" in worst:
            return f"{worst['cpu_s']:6.1f} {tot:6.1f} ERROR {worst['error'][:40]}"
        mark = "s" if worst.get("asset_scale") else " "
        return (f"{worst['cpu_s']:6.1f} {tot:6.1f} {hulls:5d} {bad:4d} {worst['mean_pct']:6.3f} {worst['p95_pct']:5.2f}"
                f" {worst['volume_ratio']:5.2f}{mark}")

    head = f"{'max':>6s} {'total':>6s} {'hulls':>5s} {'bad':>4s} {'mean':>6s} {'p95':>5s} {'vol':>5s}"
    print(f"{'asset':10s} {'parts':>5s} | before: {head} | after:  {head}")
    for a in assets:
        b = [r for (x, _), r in before.items() if x == a]
        f = [r for (x, _), r in after.items() if x == a]
        print(f"{a:10s} {len(f or b):5d} | {'':8s}{side(b)} | {'':8s}{side(f)}")
    for label, rows in (("before", before), ("after", after)):
        cpu = [r["cpu_s"] for r in rows.values()]
        if cpu:
            print(f"{label}: parts {len(cpu)}, CPU s per part median {statistics.median(cpu):.2f}, max {max(cpu):.1f}, "
                  f"total {sum(cpu):.0f}; parts over 15 CPU s: {sum(c > 15 for c in cpu)}; hulls "
                  f"{sum(r.get('hulls', 0) for r in rows.values())}; fidelity failed: "
                  f"{sum(not r.get('passed', False) for r in rows.values())}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--cache", default="/tmp/n4d4d-decomposition-parts")
    p.add_argument("--no-partnet", action="store_true")
    p.add_argument("--only", nargs="*", default=None, help="asset keys (mesh stems, sample names, PartNet ids)")
    r = sub.add_parser("run")
    r.add_argument("--cache", default="/tmp/n4d4d-decomposition-parts")
    r.add_argument("--impl", default=None, help="a folder holding another physics_validation copy")
    r.add_argument("--budget", type=float, default=60.0, help="decomposition budget per part (s)")
    r.add_argument("--only", nargs="*", default=None, help="asset keys (cache file stems)")
    r.add_argument("--json", default=None, help="append JSON lines here")
    t = sub.add_parser("table")
    t.add_argument("before")
    t.add_argument("after")
    args = ap.parse_args(argv)
    return {"prepare": prepare, "run": run, "table": table}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
