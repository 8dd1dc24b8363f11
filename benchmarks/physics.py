"""Physics validation benchmark: decomposition speed and fidelity, per-check times, pass rate.

Prints, for pybullet_data meshes built through the pipeline's load / static / rig stages with
default options:

1. per asset: hull count, decomposition wall and CoACD CPU seconds, collision fidelity (mean and
   p95 symmetric surface distance in % of the diagonal, hull-union volume ratio), per-check
   wall seconds of the physics stage (PyBullet, Newton, others) and the verdict, then medians;
2. CoACD (ours: budgets, light settings, hull reduction) against V-HACD (``pybullet.vhacd``,
   64 vertices per hull) on the same parts, fidelity measured the same way;
3. CoACD with its default settings on the raw ``duck.obj`` (what ``obj2mjcf --decompose`` runs)
   against ours on the same mesh, fidelity against the same closed duck surface;
4. with ``--random A:B``, the certificate's pass rate over ``random_urdfs/A..B-1`` (full
   pipeline), with every failure's reasons.

Wall times on a shared 2-core machine grow with its load; CPU seconds do not, so both are
printed. Usage::

    .venv/bin/python benchmarks/physics.py                      # sections 1-3
    .venv/bin/python benchmarks/physics.py --random 0:100       # + pass rate (1-2 h on a busy machine)
    .venv/bin/python benchmarks/physics.py --samples --skip-vhacd --skip-defaults --random 0:100 --rest-pose
    .venv/bin/python benchmarks/physics.py --samples duck --skip-vhacd --skip-defaults
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _cpu() -> float:
    import resource

    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


REST_POSE = False  # --rest-pose: insert physics_validation.rest_pose_stage after loading


def rigged(sample: str, seed: int = 0):
    """The asset of a pybullet_data sample after the load, (rest pose,) static and rig stages."""
    from n4d4d.options import BuildOptions
    from n4d4d.physics_validation import rest_pose_stage
    from n4d4d.pipeline import STAGES
    from n4d4d.sources import Sample

    opts = BuildOptions(seed=seed)
    stage = {s.name: s.run for s in STAGES}
    asset = stage["load"](Sample(sample), opts)
    if REST_POSE:
        asset = rest_pose_stage(asset, seed=seed)
    return stage["rigging"](stage["static"](asset, opts), opts)


def physics(asset, engines=("pybullet", "newton"), seed: int = 0) -> dict:
    """Collision, mass and physics stages on ``asset``, timed; returns a row of figures."""
    from n4d4d.physics_validation import collision_stage, mass_stage, stability_stage

    w0, c0 = time.perf_counter(), _cpu()
    a = collision_stage(asset, seed=seed)
    w1, c1 = time.perf_counter(), _cpu()
    from n4d4d.exporters.usd import write_usd  # Newton checks the exported USD, as the pipeline has it

    a = stability_stage(mass_stage(a), seed=seed, engines=engines, usd_writer=write_usd)
    w2, c2 = time.perf_counter(), _cpu()
    parts = a.stages[-3].figures["parts"]
    fid = [p["fidelity"] for p in parts.values()]
    return {
        "asset": a.name, "faces": len(a.visual.faces), "parts": len(a.parts),
        "hulls": sum(p["hulls"] for p in parts.values()),
        "decomp_wall": w1 - w0, "decomp_cpu": c1 - c0,
        "coacd_cpu": sum(t.get("coacd_cpu_seconds", 0.0) for p in parts.values() for t in p["attempts"]),
        "mean_pct": max(f["mean_pct"] for f in fid), "p95_pct": max(f["p95_pct"] for f in fid),
        "volume_ratio": min(f["volume_ratio"] for f in fid),
        "physics_wall": w2 - w1, "physics_cpu": c2 - c1, "checks": a.physics["seconds_per_check"],
        "passed": a.passed, "reasons": a.physics["reasons"], "warnings": a.physics["warnings"],
    }


def vhacd(mesh, max_vertices: int = 64) -> tuple[list, float]:
    """V-HACD (pybullet.vhacd, its defaults but ``max_vertices`` per hull) on ``mesh``."""
    import pybullet
    import trimesh

    from n4d4d.asset import Mesh
    from n4d4d.physics_validation._bullet import _quiet

    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.obj", Path(tmp) / "out.obj"
        trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).export(src)
        t = time.perf_counter()
        with _quiet():
            pybullet.vhacd(str(src), str(out), str(Path(tmp) / "log.txt"), maxNumVerticesPerCH=max_vertices)
        seconds = time.perf_counter() - t
        hulls, verts = [], []
        for line in out.read_text().splitlines() + ["o end"]:
            if line.startswith("o ") and verts:
                hulls.append(Mesh.from_trimesh(trimesh.convex.convex_hull(np.array(verts))))
                verts = []
            elif line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
    return hulls, seconds


def compare_vhacd(assets) -> None:
    from n4d4d.physics_validation.decomposition import convex_decomposition
    from n4d4d.physics_validation.fidelity import collision_fidelity

    print("\n== CoACD (n4d4d) vs V-HACD (pybullet.vhacd), same parts; distances in % of diagonal")
    print(f"{'part':28s} {'method':7s} {'hulls':>5s} {'max v':>5s} {'wall s':>7s} {'mean':>6s} {'p95':>6s} "
          f"{'haus':>6s} {'vol':>6s}")
    for asset in assets:
        for part in asset.parts:
            t = time.perf_counter()
            ours, _ = convex_decomposition(part.mesh, name=part.name, time_budget_s=600)
            rows = [("coacd", ours, time.perf_counter() - t), ("vhacd", *vhacd(part.mesh))]
            for label, hulls, secs in rows:
                f = collision_fidelity(part.mesh, hulls)
                print(f"{asset.name + '/' + part.name:28s} {label:7s} {len(hulls):5d} "
                      f"{max(len(h.vertices) for h in hulls):5d} {secs:7.1f} {f['mean_pct']:6.2f} "
                      f"{f['p95_pct']:6.2f} {f['hausdorff_pct']:6.2f} {f['volume_ratio']:6.3f}")


def compare_coacd_defaults() -> None:
    """CoACD defaults on raw duck.obj (obj2mjcf --decompose) vs ours on the same mesh."""
    import pybullet_data
    import trimesh

    from n4d4d.asset import Mesh
    from n4d4d.physics_validation.coacd_runner import run_coacd
    from n4d4d.physics_validation.decomposition import convex_decomposition
    from n4d4d.physics_validation.hulls import reduce_hull
    from n4d4d.physics_validation.fidelity import collision_fidelity

    raw = trimesh.load(Path(pybullet_data.getDataPath()) / "duck.obj", force="mesh", process=False)
    raw = trimesh.Trimesh(raw.vertices * 0.05, raw.faces, process=False)  # its URDF scale: real size
    closed = trimesh.Trimesh(raw.vertices, raw.faces, process=True)
    closed.merge_vertices(merge_tex=True, merge_norm=True)  # the same surface, UV seams closed
    ref = Mesh.from_trimesh(closed)
    print("\n== duck.obj (0.05 m per unit, its URDF scale): CoACD defaults (as obj2mjcf --decompose) vs n4d4d,"
          " same input file, fidelity against the closed duck")
    defaults = dict(threshold=0.05, max_convex_hull=-1, preprocess_mode="auto", preprocess_resolution=50,
                    resolution=2000, mcts_nodes=20, mcts_iterations=150, mcts_max_depth=3, seed=0)
    t, c = time.perf_counter(), _cpu()
    pieces, coacd_cpu = run_coacd(raw.vertices, raw.faces, defaults, time_budget_s=900)
    wall = time.perf_counter() - t
    full = [Mesh.from_trimesh(trimesh.convex.convex_hull(v)) for v, _ in pieces]
    capped = [h for h in (reduce_hull(v, 64) for v, _ in pieces) if h is not None]
    t, c = time.perf_counter(), _cpu()
    ours, fig = convex_decomposition(Mesh(np.asarray(raw.vertices), np.asarray(raw.faces)), name="duck",
                                     time_budget_s=900)
    ours_wall, ours_cpu = time.perf_counter() - t, _cpu() - c
    rows = [("CoACD defaults", full, wall, coacd_cpu),
            ("CoACD defaults, hulls cut to 64 v", capped, wall, coacd_cpu),
            (f"n4d4d ({len(ours)} hulls <= 32, 64 v)", list(ours), ours_wall, ours_cpu)]
    print(f"{'method':36s} {'hulls':>5s} {'max v':>6s} {'wall s':>7s} {'cpu s':>6s} {'mean':>6s} {'p95':>6s} {'vol':>6s}")
    for label, hulls, w, cpu in rows:
        f = collision_fidelity(ref, hulls)
        print(f"{label:36s} {len(hulls):5d} {max(len(h.vertices) for h in hulls):6d} {w:7.1f} {cpu:6.1f} "
              f"{f['mean_pct']:6.2f} {f['p95_pct']:6.2f} {f['volume_ratio']:6.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", nargs="*", default=["duck", "teddy", "mug", "bunny"])
    ap.add_argument("--random", default=None, help="A:B: pass rate over random_urdfs/A..B-1")
    ap.add_argument("--engines", nargs="*", default=["pybullet", "newton"])
    ap.add_argument("--skip-vhacd", action="store_true")
    ap.add_argument("--skip-defaults", action="store_true")
    ap.add_argument("--rest-pose", action="store_true", help="turn toppling inputs onto their stable face first")
    args = ap.parse_args()
    global REST_POSE
    REST_POSE = args.rest_pose
    os.environ.setdefault("PYTHONWARNINGS", "ignore")

    rows, assets = [], []
    print("== physics stage per asset (defaults: 32 hulls x 64 vertices, both engines)")
    for s in args.samples:
        asset = rigged(s)
        assets.append(asset)
        rows.append(physics(asset, engines=tuple(args.engines)))
        _print_row(rows[-1])
    if rows:
        _medians(rows)
    if not args.skip_vhacd and assets:
        compare_vhacd(assets)
    if not args.skip_defaults:
        compare_coacd_defaults()
    if args.random:
        a, b = (int(x) for x in args.random.split(":"))
        _pass_rate([f"random_urdfs/{i:03d}" for i in range(a, b)], tuple(args.engines))


def _print_row(r: dict) -> None:
    checks = " ".join(f"{k}={v:.2f}" for k, v in r["checks"].items())
    print(f"{r['asset']:22s} faces={r['faces']:6d} hulls={r['hulls']:3d} decomp {r['decomp_wall']:5.1f}s wall "
          f"(CoACD {r['coacd_cpu']:4.1f}s cpu) fidelity mean {r['mean_pct']:.2f}% p95 {r['p95_pct']:.2f}% "
          f"vol {r['volume_ratio']:.3f} | physics {r['physics_wall']:5.1f}s wall {r['physics_cpu']:5.1f}s cpu "
          f"[{checks}] {'PASS' if r['passed'] else 'FAIL ' + '; '.join(r['reasons'])}", flush=True)


def _medians(rows: list[dict]) -> None:
    med = {k: statistics.median(r[k] for r in rows) for k in
           ("decomp_wall", "decomp_cpu", "coacd_cpu", "physics_wall", "physics_cpu")}
    print("medians: " + ", ".join(f"{k} {v:.1f} s" for k, v in med.items())
          + f"; decomposition + physics wall {statistics.median(r['decomp_wall'] + r['physics_wall'] for r in rows):.1f} s")


def _pass_rate(samples: list[str], engines: tuple[str, ...]) -> None:
    print(f"\n== certificate pass rate over {samples[0]}..{samples[-1]} (full pipeline, defaults)")
    rows, errors = [], []
    for s in samples:
        try:
            rows.append(physics(rigged(s), engines=engines))
            _print_row(rows[-1])
        except Exception as exc:  # a benchmark reports every failure and goes on
            errors.append((s, f"{type(exc).__name__}: {exc}"))
            print(f"{s}: ERROR {errors[-1][1]}", flush=True)
    passed = sum(r["passed"] for r in rows)
    print(f"passed {passed}/{len(samples)} ({100.0 * passed / max(len(samples), 1):.0f}%), errors {len(errors)}")
    if rows:
        _medians(rows)


if __name__ == "__main__":
    main()
