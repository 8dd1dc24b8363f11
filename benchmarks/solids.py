"""Benchmark of faithful solids: how closely the watertight closer keeps the input's shape.

Two tracks, both through the public entry points a build uses:

- **whole meshes**: :func:`n4d4d.volume.remesh_watertight` with ``mode="always"`` (the remesh
  forced, so closed inputs exercise the engine too) on pybullet_data's duck, teddy, mug, bunny
  and ``random_urdfs/000..099`` and the meshes of ``../shared/data/meshes``;
- **parts**: every link body of the PartNet-Mobility objects in ``../shared/data/partnet-mobility``
  that is not already closed, closed by :func:`n4d4d.rigging.parts.close_mesh` (what the rigging
  stage calls).

Per mesh it measures, against the input surface (independent of the closer: libigl's exact
point-to-triangle distance, 20,000 area-weighted samples of the output, seed 0):

- ``closed``: watertight, edge- and vertex-manifold, consistently wound
  (:func:`n4d4d.volume.mesh_quality`);
- ``p95``: 95th percentile of the distance from output samples to the input surface, % of the
  input's bounding-box diagonal (one-sided Hausdorff at p95; target <= 0.5 %);
- ``nc``: normal consistency, mean ``|n_out . n_in|`` of each sample's face normal and the normal
  of the input triangle closest to it (absolute value: soups have no reliable orientation;
  target >= 0.95);
- ``seconds``, ``cpu_seconds`` (parts): the closing's wall time and the process's CPU time over
  all threads (the machine is shared: CPU time is the cost that compares across runs), with the
  closer's ``kind`` and ``resolution``;
- ``thick`` (parts): output extent / input extent along the input's thinnest oriented-bounding-box
  axis (trimesh), and whether it is within 10 % or 1 mm of the input's (for a sheet the input
  extent is ~0 and the output is the shell wall: within 1 mm when the wall is).

Usage: ``python benchmarks/solids.py [--random 100] [--partnet 44] [--ids ID ...] [--resolution 256]
[--out table.txt] [--json rows.jsonl]``; ``--random``/``--partnet`` take the first N (a subset
for speed), ``--ids`` names PartNet objects. Prints one row per mesh and a summary table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def whole_meshes(n_random: int) -> list[tuple[str, Path]]:
    """``[(name, path)]`` of the whole-mesh track."""
    import pybullet_data

    pd = Path(pybullet_data.getDataPath())
    out = [("duck", pd / "duck.obj"), ("teddy", pd / "teddy2_VHACD_CHs.obj"),
           ("bunny", pd / "bunny.obj"), ("mug", pd / "objects" / "mug.obj")]
    out += [(f"random_urdfs/{i:03d}", pd / "random_urdfs" / f"{i:03d}" / f"{i:03d}.obj")
            for i in range(n_random)]
    if (SHARED / "meshes").is_dir():
        out += [(f"meshes/{p.stem}", p) for p in sorted((SHARED / "meshes").glob("*.obj"))]
    return out


def partnet_objects(n: int, ids: list[str] | None = None) -> list[Path]:
    """The first ``n`` PartNet-Mobility ``mobility.urdf`` files (sorted by id), or those of
    ``ids``."""
    root = SHARED / "partnet-mobility"
    if not root.is_dir():
        return []
    if ids:
        return [root / i / "mobility.urdf" for i in ids if (root / i / "mobility.urdf").is_file()]
    return sorted(root.glob("*/mobility.urdf"), key=lambda p: p.parent.name)[:n]


def measure(out, ref, n_samples: int = 20000, seed: int = 0) -> dict:
    """Closedness, p95 output->input distance (% diagonal) and normal consistency of mesh
    ``out`` against mesh ``ref`` (both :class:`n4d4d.asset.Mesh`, same frame)."""
    import igl
    import trimesh

    from n4d4d.volume import mesh_quality

    q = mesh_quality(out)
    closed = bool(q["watertight"] and q["edge_manifold"] and q["vertex_manifold"]
                  and q["winding_consistent"] and q["volume"] > 0)
    rv = np.ascontiguousarray(ref.vertices, np.float64)
    rf = np.ascontiguousarray(ref.faces, np.int64)
    diag = float(np.linalg.norm(rv.max(0) - rv.min(0)))
    tm = trimesh.Trimesh(out.vertices, out.faces, process=False)
    pts, fid = trimesh.sample.sample_surface(tm, n_samples, seed=seed)
    d2, near, _ = igl.point_mesh_squared_distance(np.ascontiguousarray(pts), rv, rf)
    d = np.sqrt(np.maximum(d2, 0))
    rn = np.cross(rv[rf[:, 1]] - rv[rf[:, 0]], rv[rf[:, 2]] - rv[rf[:, 0]])
    rn /= np.maximum(np.linalg.norm(rn, axis=1, keepdims=True), 1e-300)
    on = np.asarray(tm.face_normals)[fid]
    nc = float(np.mean(np.abs(np.einsum("ij,ij->i", on, rn[np.asarray(near, np.int64)]))))
    return {"closed": closed, "p95": 100 * float(np.percentile(d, 95)) / diag,
            "max": 100 * float(d.max()) / diag, "nc": nc, "faces_out": int(len(out.faces))}


def thickness(out, ref) -> dict:
    """Extents of ``out`` and ``ref`` (m) along ``ref``'s thinnest oriented-bounding-box axis."""
    import trimesh

    obb = trimesh.Trimesh(ref.vertices, ref.faces, process=False).bounding_box_oriented
    R = np.asarray(obb.primitive.transform)[:3, :3]
    axis = R[:, int(np.argmin(obb.primitive.extents))]
    t_in = float(np.ptp(np.asarray(ref.vertices) @ axis))
    t_out = float(np.ptp(np.asarray(out.vertices) @ axis))
    ok = abs(t_out - t_in) <= max(0.1 * t_in, 1e-3)
    return {"t_in": t_in, "t_out": t_out, "thick_ratio": t_out / t_in if t_in > 0 else float("inf"),
            "thick_ok": bool(ok)}


def run_whole(name: str, path: Path, resolution: int) -> dict:
    import trimesh

    from n4d4d.asset import Mesh
    from n4d4d.volume import remesh_watertight

    tm = trimesh.load(path, force="mesh", process=False)
    mesh = Mesh(vertices=np.asarray(tm.vertices, np.float64), faces=np.asarray(tm.faces, np.int64))
    t0, c0 = time.perf_counter(), time.process_time()
    out, _, fig = remesh_watertight(mesh, resolution=resolution, mode="always")
    row = {"track": "whole", "name": name, "seconds": time.perf_counter() - t0,
           "cpu_seconds": time.process_time() - c0}
    row.update(measure(out, mesh))
    return row


def run_parts(urdf: Path) -> list[dict]:
    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.rigging.parts import close_mesh, is_closed

    asset = load_urdf_asset(urdf)
    rows = []
    for p in asset.parts:
        if is_closed(p.mesh):
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        fig: dict = {}
        out, _ = close_mesh(p.mesh, figures=fig)
        row = {"track": "part", "name": f"{urdf.parent.name}/{p.name}",
               "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
               "kind": fig.get("kind"), "resolution": fig.get("resolution")}
        row.update(measure(out, p.mesh))
        row.update(thickness(out, p.mesh))
        rows.append(row)
    return rows


def summary(rows: list[dict]) -> str:
    lines = [f"{'track':6} {'n':>4} {'closed%':>8} {'p95% med':>9} {'p95<=0.5%':>10} {'nc mean':>8} "
             f"{'nc>=0.95':>9} {'thick ok%':>9} {'thick med':>9} {'s med':>6}"]
    for track in ("whole", "part"):
        rs = [r for r in rows if r["track"] == track and "error" not in r]
        errs = [r for r in rows if r["track"] == track and "error" in r]
        if not rs:
            continue
        p95 = np.array([r["p95"] for r in rs])
        nc = np.array([r["nc"] for r in rs])
        th = [r for r in rs if "thick_ok" in r]
        thick_ok = f"{100 * np.mean([r['thick_ok'] for r in th]):.0f}" if th else "-"
        thick_med = f"{np.median([r['thick_ratio'] for r in th if r['t_in'] > 1e-4]):.3f}" if th else "-"
        lines.append(f"{track:6} {len(rs):4d} {100 * np.mean([r['closed'] for r in rs]):8.1f} "
                     f"{np.median(p95):9.3f} {100 * np.mean(p95 <= 0.5):9.1f}% {nc.mean():8.3f} "
                     f"{100 * np.mean(nc >= 0.95):8.1f}% {thick_ok:>9} {thick_med:>9} "
                     f"{np.median([r['seconds'] for r in rs]):6.2f}")
        if any("cpu_seconds" in r for r in rs):
            lines.append(f"       closing cost: {sum(r['seconds'] for r in rs):.0f} s wall, "
                         f"{sum(r.get('cpu_seconds', 0.0) for r in rs):.0f} s CPU (all threads) over {len(rs)}")
        if errs:
            lines.append(f"       {len(errs)} failed: " + "; ".join(f"{r['name']}: {r['error']}" for r in errs[:8]))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--random", type=int, default=100, help="random_urdfs 000..N-1 (default 100)")
    ap.add_argument("--partnet", type=int, default=100, help="first N PartNet-Mobility objects")
    ap.add_argument("--ids", nargs="*", help="these PartNet-Mobility ids instead of the first N")
    ap.add_argument("--resolution", type=int, default=256, help="whole-mesh grid resolution")
    ap.add_argument("--no-whole", action="store_true", help="skip the whole-mesh track")
    ap.add_argument("--out", type=Path, help="also write the summary table here")
    ap.add_argument("--json", type=Path, help="write one JSON row per mesh here")
    args = ap.parse_args(argv)

    rows: list[dict] = []
    jobs = [] if args.no_whole else [("whole", n, p) for n, p in whole_meshes(args.random)]
    jobs += [("part", u.parent.name, u) for u in partnet_objects(args.partnet, args.ids)]
    for kind, name, path in jobs:
        try:
            new = [run_whole(name, path, args.resolution)] if kind == "whole" else run_parts(path)
        except Exception as e:  # noqa: BLE001 - a benchmark row records the failure and goes on
            new = [{"track": kind, "name": name, "error": f"{type(e).__name__}: {e}"[:160]}]
        for r in new:
            rows.append(r)
            if "error" in r:
                print(f"{r['track']:5} {r['name']:32} ERROR {r['error']}", flush=True)
            else:
                extra = f" thick {r['t_in']:.4f}->{r['t_out']:.4f}" if "t_in" in r else ""
                print(f"{r['track']:5} {r['name']:32} closed {int(r['closed'])} p95 {r['p95']:6.3f}% "
                      f"nc {r['nc']:.3f} {r['seconds']:5.1f}s{extra}", flush=True)
    table = summary(rows)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    if args.json:
        args.json.write_text("".join(json.dumps(r, default=float) + "\n" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
