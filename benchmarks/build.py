"""Whole builds, stage by stage, in CPU seconds (and wall), with peak memory; obj2mjcf on the
duck; the duck on a busy machine; batch scaling from one worker to two.

    python benchmarks/build.py assets                         # pybullet_data set + shared meshes
    python benchmarks/build.py assets --samples duck mug      # a subset
    python benchmarks/build.py parts                          # PartNet-Mobility objects with most parts
    python benchmarks/build.py obj2mjcf                       # duck: n4d4d vs obj2mjcf --decompose
    python benchmarks/build.py busy                           # duck while 2 spinning processes run
    python benchmarks/build.py scaling --first 0 --count 24   # random_urdfs, --workers 1 vs 2
    python benchmarks/build.py all

Every build runs in a fresh process (so one asset's caches and peak do not leak into the next).
``assets`` and ``parts`` print, per asset, each stage's CPU seconds (this process's and its
children's: CoACD runs in a child) and wall seconds, peak resident memory (MiB, the build's
process and its children, sampled every 20 ms), the verdict, and the medians; ``parts`` adds
parts, movable joints and CPU seconds per part, and below each row where the collision and
physics CPU went: per decomposition method and hull cuts, the costliest parts, and the
certificate's seconds per check with its CPU budget. CPU seconds are what the budgets charge; they
do not grow with the machine's load, wall seconds do (both printed).

``obj2mjcf`` installs obj2mjcf (PyPI) into its own virtual environment (under ``--venvs``, once)
and runs ``obj2mjcf --decompose`` (CoACD's defaults) on pybullet_data's duck.obj, then
``n4d4d build --sample duck --formats mjcf`` with default options; it prints both processes'
wall and CPU seconds and the ratio. It is skipped, with the reason, when obj2mjcf cannot be
installed. ``busy`` builds the duck (default options) while another process keeps both cores
busy, and reports whether it passed. ``scaling`` runs ``n4d4d build`` on random_urdfs with one
and with two workers and prints assets a minute, CPU seconds per asset, the speed-up, and
whether the two output trees are the same bytes (report.json compared outside its ``timings``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from n4d4d.pipeline import STAGE_NAMES as STAGES  # noqa: E402  (light: stages import lazily)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
NAMED = ["duck", "teddy", "mug", "bunny"]
RANDOM = [f"random_urdfs/{i:03d}" for i in range(0, 100, 10)]
N4D4D = [str(Path(sys.executable).parent / "n4d4d")]


def _cpu() -> float:
    import resource

    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _measure(job: tuple[str, str], options: dict, queue) -> None:
    import psutil

    import n4d4d

    proc = psutil.Process()
    current = {"stage": None}
    peaks = {s: 0.0 for s in STAGES}
    cpu, wall = {}, {}
    stop = threading.Event()

    def rss() -> float:
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20

    def sampler():
        while not stop.is_set():
            stage = current["stage"]
            if stage:
                peaks[stage] = max(peaks[stage], rss())
            time.sleep(0.02)

    def progress(stage, event):
        if event == "start":
            current["stage"] = stage
            wall[stage], cpu[stage] = time.perf_counter(), _cpu()
        else:
            peaks[stage] = max(peaks[stage], rss())
            wall[stage], cpu[stage] = time.perf_counter() - wall[stage], _cpu() - cpu[stage]

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    kind, value = job
    try:
        kwargs = {"sample": value} if kind == "sample" else {"source": value}
        asset = n4d4d.build(progress=progress, **kwargs, **options)
        physics = next((s for s in asset.stages if s.name == "physics"), None)
        excluded = physics.figures.get("budget", {}).get("excluded_cpu_seconds", 0.0) if physics else 0.0
        row = {"name": value, "passed": asset.passed, "faces": len(asset.visual.faces),
               "parts": len(asset.parts), "joints": sum(j.type != "fixed" for j in asset.joints),
               "hulls": sum(len(h) for h in asset.collision.values()), "cpu": cpu, "wall": wall,
               "peak_mib": peaks, "physics_excluded_cpu": excluded,
               "fallbacks": next((s.figures.get("fallbacks", 0) for s in asset.stages if s.name == "collision"), 0),
               "reasons": asset.physics.get("reasons", [])[:3], **_breakdown(asset)}
    except Exception as exc:  # reported, not fatal: the benchmark covers every asset
        row = {"name": value, "error": f"{type(exc).__name__}: {exc}", "cpu": cpu, "wall": wall}
    stop.set()
    queue.put(row)


def _breakdown(asset) -> dict:
    """Where the collision and physics stages' CPU went: per part (decomposition method, hulls,
    CPU s), the hull cuts' CPU s, and the certificate's seconds per check."""
    coll = next((s.figures for s in asset.stages if s.name == "collision"), {})
    phys = next((s.figures for s in asset.stages if s.name == "physics"), {})
    parts = {n: {"method": f.get("method"), "hulls": f.get("hulls"), "cpu": round(float(f.get("cpu_seconds", 0.0)), 2),
                 "passed": f.get("fidelity_passed")} for n, f in coll.get("parts", {}).items()}
    return {"collision_parts": parts, "clip_cpu": float(coll.get("clip", {}).get("cpu_seconds", 0.0)),
            "physics_checks": {k: round(float(v), 2) for k, v in phys.get("seconds_per_check", {}).items()},
            "physics_budget": phys.get("budget", {}), "newton_pairs": phys.get("newton_contact_filter")}


def _print_breakdown(row: dict) -> None:
    """The per-part collision CPU (most costly first) and the certificate's seconds per check."""
    parts = sorted(row.get("collision_parts", {}).items(), key=lambda kv: -kv[1]["cpu"])
    by = {}
    for _, f in parts:
        by.setdefault(f["method"], []).append(f["cpu"])
    print(f"    collision CPU s by method: " + ", ".join(f"{m} {sum(c):.1f} ({len(c)} parts)" for m, c in by.items())
          + f"; hull cuts {row.get('clip_cpu', 0.0):.1f}")
    print("    costliest parts: " + ", ".join(f"{n} {f['method']}/{f['hulls']} {f['cpu']:.1f}"
                                            f"{'' if f['passed'] else ' FAIL'}" for n, f in parts[:6]))
    b = row.get("physics_budget", {})
    print("    physics wall s per check: " + ", ".join(f"{k} {v:.1f}" for k, v in row.get("physics_checks", {}).items())
          + (f"; budget {b.get('cpu_s', 0.0):.1f} of {b.get('cpu_budget_s', 0.0):.0f} CPU s" if b else ""))
    f = row.get("newton_pairs")
    if f:
        print(f"    newton shape pairs tested {f.get('tested')} of {f.get('shape_pairs')} (link pairs proven apart "
              f"{f.get('link_pairs_skipped')}, coaxial {f.get('coaxial_link_pairs')}; runs {f.get('runs')}, "
              f"retested {sum(len(r) for r in f.get('retested', []))} link pairs)")


def build_rows(jobs: list[tuple[str, str]], options: dict, *, per_part: bool = False) -> list[dict]:
    """Build each job in a fresh process and print one row per asset, then the medians."""
    ctx = mp.get_context("spawn")
    rows = []
    extra = f" {'parts':>5s} {'joints':>6s} {'cpu/part':>8s}" if per_part else ""
    print(f"{'asset':22s} {'ok':>4s} " + " ".join(f"{s[:9]:>9s}" for s in STAGES)
          + f" {'cpu':>7s} {'wall':>7s} {'peakMiB':>7s}{extra}   (per stage: CPU s / wall s)")
    for job in jobs:
        q = ctx.Queue()
        p = ctx.Process(target=_measure, args=(job, options, q))
        p.start()
        row = q.get()
        p.join()
        rows.append(row)
        name = Path(row["name"]).parent.name if row["name"].endswith(".urdf") else Path(row["name"]).name
        row["label"] = name
        if "error" in row:
            print(f"{name:22s} ERROR {row['error'][:200]}", flush=True)
            continue
        c, w = row["cpu"], row["wall"]
        tail = ""
        if per_part:
            tail = f" {row['parts']:5d} {row['joints']:6d} {sum(c.values()) / max(row['parts'], 1):8.2f}"
        print(f"{name:22s} {'yes' if row['passed'] else 'NO':>4s} "
              + " ".join(f"{c.get(s, 0.0):4.1f}/{w.get(s, 0.0):<4.0f}" for s in STAGES)
              + f" {sum(c.values()):7.1f} {sum(w.values()):7.1f} {max(row['peak_mib'].values()):7.0f}{tail}",
              flush=True)
        if per_part:
            _print_breakdown(row)
    ok = [r for r in rows if "error" not in r]
    if ok:
        med_c = {s: statistics.median(r["cpu"].get(s, 0.0) for r in ok) for s in STAGES}
        med_w = {s: statistics.median(r["wall"].get(s, 0.0) for r in ok) for s in STAGES}
        print(f"{'MEDIAN':22s} {'':>4s} " + " ".join(f"{med_c[s]:4.1f}/{med_w[s]:<4.0f}" for s in STAGES)
              + f" {statistics.median(sum(r['cpu'].values()) for r in ok):7.1f}"
              + f" {statistics.median(sum(r['wall'].values()) for r in ok):7.1f}"
              + f" {statistics.median(max(r['peak_mib'].values()) for r in ok):7.0f}")
        print("median CPU s per stage: " + ", ".join(f"{s} {med_c[s]:.2f}" for s in STAGES))
        print("median wall s per stage: " + ", ".join(f"{s} {med_w[s]:.2f}" for s in STAGES))
        print(f"passed {sum(r['passed'] for r in ok)}/{len(rows)}; errors {len(rows) - len(ok)}; "
              f"decomposition fallbacks {sum(r['fallbacks'] for r in ok)}")
        for r in ok:
            if not r["passed"]:
                print(f"  {r['label']}: {'; '.join(r['reasons'])[:300]}")
    return rows


def _run(cmd: list[str], **kw) -> tuple[int, float, float, str]:
    """Run ``cmd``; returns ``(exit code, wall s, CPU s of it and its descendants, output tail)``."""
    c0, t0 = _cpu(), time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return p.returncode, time.perf_counter() - t0, _cpu() - c0, (p.stdout + p.stderr)[-2000:]


def obj2mjcf(venvs: Path) -> None:
    import pybullet_data

    print("\n== duck: n4d4d (default options, MJCF) vs obj2mjcf --decompose (CoACD defaults)")
    venv = venvs / "obj2mjcf"
    exe = venv / "bin" / "obj2mjcf"
    if not exe.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "obj2mjcf"], check=True, capture_output=True,
                           text=True, timeout=1800)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            why = getattr(exc, "stderr", "") or str(exc)
            print(f"SKIPPED: obj2mjcf could not be installed into {venv}: {str(why).strip().splitlines()[-1:]}")
            return
    data = Path(pybullet_data.getDataPath())
    with tempfile.TemporaryDirectory(prefix="n4d4d-o2m-") as tmp:
        d = Path(tmp) / "duck"
        d.mkdir()
        names = ["duck.obj", "duck.mtl"]
        names += [line.split()[-1] for line in (data / "duck.mtl").read_text().splitlines()
                  if line.strip().lower().startswith("map_")]  # the textures the MTL names
        for name in names:
            if (data / name).exists():
                shutil.copy(data / name, d / name)
        code, wall_o, cpu_o, out = _run([str(exe), "--obj-dir", str(d), "--decompose", "--save-mjcf"])
        pieces = sorted((d / "duck").glob("duck_collision_*.obj")) if (d / "duck").is_dir() else []
        if code != 0 or not pieces:
            print(f"SKIPPED: obj2mjcf failed (exit {code}, {len(pieces)} collision pieces written): "
                  f"{out.strip().splitlines()[-1:]}")
            return
        print(f"obj2mjcf wrote {len(pieces)} CoACD collision pieces and {len(list(d.rglob('*.xml')))} MJCF file(s)")
        code, wall_n, cpu_n, out = _run([*N4D4D, "build", "--sample", "duck", "-o", str(Path(tmp) / "n4d4d"),
                                         "--formats", "mjcf"])
    print(f"{'':10s} {'wall s':>8s} {'CPU s':>8s}")
    print(f"{'obj2mjcf':10s} {wall_o:8.1f} {cpu_o:8.1f}")
    print(f"{'n4d4d':10s} {wall_n:8.1f} {cpu_n:8.1f}   (exit {code}: {'passed' if code == 0 else 'FAILED'})")
    print(f"ratio n4d4d / obj2mjcf: wall {wall_n / wall_o:.2f}x, CPU {cpu_n / cpu_o:.2f}x")


def busy() -> None:
    print("\n== duck (default options) while another process keeps both cores busy")
    spin = ("import multiprocessing as m\n"
            "def burn():\n    while True:\n        pass\n"
            "if __name__ == '__main__':\n"
            "    ps = [m.Process(target=burn) for _ in range(2)]\n"
            "    [p.start() for p in ps]\n    [p.join() for p in ps]\n")
    hog = subprocess.Popen([sys.executable, "-c", spin], start_new_session=True)  # its own group: killed whole
    try:
        time.sleep(1.0)
        with tempfile.TemporaryDirectory(prefix="n4d4d-busy-") as tmp:
            code, wall, cpu, out = _run([*N4D4D, "build", "--sample", "duck", "-o", tmp])
    finally:
        import signal

        os.killpg(hog.pid, signal.SIGKILL)
        hog.wait()
    print(f"duck on a busy machine: {'passed' if code == 0 else 'FAILED'} (exit {code}), wall {wall:.1f} s, "
          f"CPU {cpu:.1f} s (CPU / wall {cpu / wall:.2f})")
    if code != 0:
        print(out)


def _tree(out: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``out`` (report.json without ``timings``;
    the HTML report, index and report pictures are a view that shows wall times: present, not
    compared, as in tests/test_batch_resume.py)."""
    import hashlib

    digests = {}
    for p in sorted(out.rglob("*")):
        if not p.is_file():
            continue
        if p.name in ("report.html", "index.html") or "report_files" in p.relative_to(out).parts:
            digests[str(p.relative_to(out))] = "view"
            continue
        data = p.read_bytes()
        if p.name == "report.json":
            r = json.loads(data)
            r.pop("timings", None)
            data = json.dumps(r, sort_keys=True).encode()
        digests[str(p.relative_to(out))] = hashlib.sha256(data).hexdigest()
    return digests


def _json_diff(a, b, path: str = "") -> list[str]:
    """Paths (``/key[i]``) where two JSON values differ, with both values (shortened)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str) for d in _json_diff(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _json_diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path or '/'}: {str(a)[:40]} vs {str(b)[:40]}"]


def scaling(first: int, count: int) -> None:
    samples = [f"random_urdfs/{i:03d}" for i in range(first, first + count)]
    print(f"\n== batch scaling: {len(samples)} assets (random_urdfs {first:03d}-{first + count - 1:03d}), "
          "default options, n4d4d build --workers N")
    rows, trees, contents = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="n4d4d-scaling-") as tmp:
        for workers in (1, 2):
            out = Path(tmp) / f"w{workers}"
            args = [*N4D4D, "build", "-o", str(out), "--workers", str(workers), "--keep-failed"]
            for s in samples:
                args += ["--sample", s]
            code, wall, cpu, tail = _run(args)
            rows[workers] = (wall, cpu, code)
            trees[workers] = _tree(out)
            contents[workers] = {str(p.relative_to(out)): json.loads(p.read_text()) for p in out.rglob("*.json")
                                 if p.name != "report.json"}
            print(f"workers {workers}: wall {wall:7.1f} s, {60 * len(samples) / wall:5.1f} assets/min, "
                  f"CPU {cpu:7.1f} s ({cpu / len(samples):5.2f} per asset), exit {code}", flush=True)
    (w1, c1, _), (w2, c2, _) = rows[1], rows[2]
    same = trees[1] == trees[2]
    diff = sorted(k for k in set(trees[1]) | set(trees[2]) if trees[1].get(k) != trees[2].get(k))
    print(f"speed-up 1 -> 2 workers: {w1 / w2:.2f}x; CPU per asset {c2 / c1:.2f}x of one worker's; "
          f"outputs identical: {same}" + ("" if same else f" (differ: {diff[:5]})"))
    for key in diff[:5]:
        if key.endswith(".json") and key in contents[1] and key in contents[2]:
            print(f"  {key}: " + "; ".join(_json_diff(contents[1][key], contents[2][key])[:4]))
    load = os.getloadavg()
    print(f"load average during the run (1/5/15 min): {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          f"on {os.cpu_count()} cores (a quiet machine is needed for the 1.8x goal)")


def partnet_most_parts(n: int) -> list[str]:
    """The ``n`` PartNet-Mobility objects of the dev set with the most movable joints."""
    import re

    counts = []
    for urdf in sorted((SHARED / "partnet-mobility").glob("*/mobility.urdf")):
        text = urdf.read_text()
        counts.append((len(re.findall(r'<joint[^>]*type="(?:revolute|prismatic|continuous)"', text)), str(urdf)))
    return [u for _, u in sorted(counts, key=lambda c: (-c[0], c[1]))[:n]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("section", choices=["assets", "parts", "obj2mjcf", "busy", "scaling", "all"])
    ap.add_argument("--samples", nargs="*", default=NAMED + RANDOM)
    ap.add_argument("--meshes", nargs="*", default=None, help="mesh files (default: ../shared/data/meshes/*)")
    ap.add_argument("--urdfs", nargs="*", default=None, help="URDFs for 'parts' (default: the most parts)")
    ap.add_argument("--most", type=int, default=5, help="'parts': this many objects with the most joints")
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--venvs", type=Path, default=Path(tempfile.gettempdir()) / "n4d4d-bench-venvs")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    rows = []
    if args.section in ("assets", "all"):
        meshes = args.meshes if args.meshes is not None else sorted(str(p) for p in (SHARED / "meshes").glob("*.obj"))
        print("== builds, default options")
        rows += build_rows([("sample", s) for s in args.samples] + [("path", m) for m in meshes], {"seed": 0})
    if args.section in ("parts", "all"):
        urdfs = args.urdfs or partnet_most_parts(args.most)
        print("\n== PartNet-Mobility objects with the most movable parts, default options")
        rows += build_rows([("path", u) for u in urdfs], {"seed": 0}, per_part=True)
    if args.section in ("obj2mjcf", "all"):
        obj2mjcf(args.venvs)
    if args.section in ("busy", "all"):
        busy()
    if args.section in ("scaling", "all"):
        scaling(args.first, args.count)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
