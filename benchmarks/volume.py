"""Benchmark of the watertight remesh (n4d4d.volume): wall time and peak memory per sub-step.

For pybullet_data's duck, teddy, bunny, mug and a spread of random_urdfs, and the meshes of
``../shared/data/meshes`` when present, runs the remesh's sub-steps one by one (remeshing
forced, as ``mode="always"``) and prints per mesh and as medians over meshes:

- ``sdf``: :func:`compute_sparse_sdf` (weld, cap, coarse-to-fine distances, sign);
- ``mc``: :func:`extract_surface` (block marching cubes, weld, shell clean-up);
- ``decimate``: :func:`decimate` to ``--max-faces``;
- ``quality``: :func:`mesh_quality` of the result;

and the peak resident memory above the baseline during each (sampled every 2 ms in a thread,
so it sees the C++ libraries' allocations too). Each mesh runs in a fresh child process, after
a warm-up that loads the libraries and warp's kernels (compiled once per machine, then cached;
reported separately), so that memory freed by one mesh does not hide the next one's peak.

Usage: ``python benchmarks/volume.py [--resolution 256] [--max-faces 20000] [--random 10]
[--json out.json]``. Timings depend on what else runs on the machine: quote them with it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]


class PeakRSS:
    """Peak resident set size (bytes) of this process while the context is open."""

    def __init__(self, interval: float = 0.002):
        import psutil

        self._proc = psutil.Process()
        self.interval = interval

    def __enter__(self):
        self.base = self._proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.t0 = time.perf_counter()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
        self.delta = self.peak - self.base


def meshes(n_random: int) -> list[tuple[str, Path]]:
    import pybullet_data

    pd = Path(pybullet_data.getDataPath())
    out = [("duck", pd / "duck.obj"), ("teddy", pd / "teddy2_VHACD_CHs.obj"),
           ("bunny", pd / "bunny.obj"), ("mug", pd / "objects" / "mug.obj")]
    step = max(1, 100 // max(n_random, 1))
    out += [(f"random_urdfs/{i:03d}", pd / "random_urdfs" / f"{i:03d}" / f"{i:03d}.obj")
            for i in range(0, step * n_random, step)]
    shared = REPO.parent / "shared" / "data" / "meshes"
    if shared.is_dir():
        out += [(f"shared/{p.stem}", p) for p in sorted(shared.glob("*.obj"))]
    return out


def load(path: Path):
    import trimesh

    from n4d4d.asset import Mesh

    tm = trimesh.load(path, force="mesh", process=False)
    return Mesh(vertices=tm.vertices, faces=tm.faces)


def run_one(mesh, resolution: int, max_faces: int) -> dict:
    from n4d4d.volume import compute_sparse_sdf, decimate, extract_surface, mesh_quality

    row: dict = {"faces_in": int(len(mesh.faces))}
    with PeakRSS() as m:
        sdf = compute_sparse_sdf(mesh, resolution=resolution)
    row.update(sdf_s=m.seconds, sdf_mb=m.delta / 2**20, band_nodes=sdf.n_nodes,
               blocks=sdf.n_blocks, sdf_bytes=sdf.nbytes)
    with PeakRSS() as m:
        surface = extract_surface(sdf)
    row.update(mc_s=m.seconds, mc_mb=m.delta / 2**20, mc_faces=int(len(surface.faces)))
    with PeakRSS() as m:
        out = decimate(surface, max_faces)
    row.update(decimate_s=m.seconds, decimate_mb=m.delta / 2**20, faces_out=int(len(out.faces)))
    with PeakRSS() as m:
        q = mesh_quality(out)
    q_in = mesh_quality(mesh)
    row.update(quality_s=m.seconds, closed=bool(q["watertight"] and q["edge_manifold"]
                                                and q["vertex_manifold"]
                                                and q["winding_consistent"]),
               shells=q["n_shells"], input_closed=bool(q_in["watertight"]
                                                       and q_in["winding_consistent"]),
               volume_rel_change=q["volume"] / q_in["volume"] - 1 if q_in["volume"] else None)
    row["total_s"] = row["sdf_s"] + row["mc_s"] + row["decimate_s"]
    return row


def warm_up() -> float:
    t0 = time.perf_counter()
    import trimesh

    from n4d4d.asset import Mesh
    from n4d4d.volume import remesh_watertight

    ball = trimesh.creation.icosphere(subdivisions=2)
    remesh_watertight(Mesh(vertices=ball.vertices, faces=ball.faces), resolution=32,
                      mode="always")
    return time.perf_counter() - t0


def child(path: str, resolution: int, max_faces: int) -> int:
    warm = warm_up()
    row = run_one(load(Path(path)), resolution, max_faces)
    row["warm_up_s"] = warm
    print("ROW " + json.dumps(row, default=float))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--max-faces", type=int, default=20000)
    ap.add_argument("--random", type=int, default=10, help="how many random_urdfs")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child, args.resolution, args.max_faces)

    rows = {}
    head = (f"{'mesh':22s} {'faces':>6s} {'band nodes':>10s} {'blocks':>6s} {'sdf s':>6s} "
            f"{'MB':>5s} {'mc s':>5s} {'MB':>5s} {'mc faces':>8s} {'dec s':>6s} {'MB':>5s} "
            f"{'out':>6s} {'qual s':>6s} {'total s':>7s} closed dV")
    print(head)
    for name, path in meshes(args.random):
        proc = subprocess.run([sys.executable, __file__, "--child", str(path), "--resolution",
                               str(args.resolution), "--max-faces", str(args.max_faces)],
                              capture_output=True, text=True)
        line = [x for x in proc.stdout.splitlines() if x.startswith("ROW ")]
        if proc.returncode or not line:
            print(f"{name:22s} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = rows[name] = json.loads(line[0][4:])
        dv = "   -  " if not r["input_closed"] else f"{r['volume_rel_change']:+.2%}"
        print(f"{name:22s} {r['faces_in']:6d} {r['band_nodes']:10d} {r['blocks']:6d} "
              f"{r['sdf_s']:6.2f} {r['sdf_mb']:5.0f} {r['mc_s']:5.2f} {r['mc_mb']:5.0f} "
              f"{r['mc_faces']:8d} {r['decimate_s']:6.2f} {r['decimate_mb']:5.0f} "
              f"{r['faces_out']:6d} {r['quality_s']:6.2f} {r['total_s']:7.2f} "
              f"{str(r['closed']):6s} {dv}", flush=True)

    def med(key):
        return statistics.median(r[key] for r in rows.values())

    print(f"warm-up per process (imports, warp kernels from cache): {med('warm_up_s'):.2f} s")
    print(f"median over {len(rows)} meshes at R={args.resolution}: "
          f"sdf {med('sdf_s'):.2f} s ({med('sdf_mb'):.0f} MB peak), "
          f"marching cubes {med('mc_s'):.2f} s ({med('mc_mb'):.0f} MB), "
          f"decimation {med('decimate_s'):.2f} s ({med('decimate_mb'):.0f} MB), "
          f"quality {med('quality_s'):.2f} s, total {med('total_s'):.2f} s; "
          f"band nodes {med('band_nodes'):.0f}, all closed: "
          f"{all(r['closed'] for r in rows.values())}")
    closed = [abs(r["volume_rel_change"]) for r in rows.values() if r["input_closed"]]
    if closed:
        print(f"closed inputs: max |volume change| {max(closed):.2%}")
    if args.json:
        args.json.write_text(json.dumps({"resolution": args.resolution, "rows": rows},
                                        indent=1, default=float))
    return 0 if rows and all(r["closed"] for r in rows.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
