"""Wall time of one asset's ``report.html`` (renders, GIFs, plots, page), cold and warm.

    python benchmarks/report.py OUT/ASSET [OUT/ASSET ...]   # finished build folders
    python benchmarks/report.py                             # a hand-built hinged chest with a clip
    python benchmarks/report.py --with-clip OUT/ASSET       # plus a 3 s clip opening every joint

Each folder is reported twice in one fresh child process: "cold" includes the imports (pxr,
MuJoCo, matplotlib), the OpenGL context and reading the folder back; "warm" is the second call
(what every asset after the first costs in a batch). Prints one row per folder with the seconds
per picture group of the warm call. The target (issue 20) is under 10 s per asset.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path


def _open_close_clip(asset):
    """A 3 s, 91-frame clip taking every movable joint from its lower limit to its upper and back."""
    import numpy as np

    from n4d4d.asset import MotionClip

    t = np.linspace(0.0, 3.0, 91)
    s = 0.5 - 0.5 * np.cos(2 * np.pi * t / 3.0)
    tracks = {}
    for j in asset.joints:
        if j.type != "fixed":
            lo, hi = (j.lower, j.upper) if np.isfinite(j.lower) and np.isfinite(j.upper) else (0.0, np.pi / 2)
            tracks[j.name] = lo + (hi - lo) * s
    return asset.replace(motion_clips=(MotionClip("open_close", t, joint_positions=tracks),))


def _measure(folder: str, with_clip: bool, queue) -> None:
    t0 = time.perf_counter()
    from n4d4d.report import html

    secs = {}
    real = html.render_pictures

    def timed(*a, **k):
        files, shown, s = real(*a, **k)
        secs.update(s)
        return files, shown, s

    def stopwatch(name, fn):
        def run(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            secs[name] = time.perf_counter() - t
            return out
        return run

    html.render_pictures = timed
    html.render_plots = stopwatch("plots", html.render_plots)
    html.read_asset = stopwatch("read folder", html.read_asset)
    asset = None
    if with_clip:
        from n4d4d.report.folder import read_asset

        asset = _open_close_clip(read_asset(Path(folder)))
    html.write_asset_report(Path(folder), asset)
    cold = time.perf_counter() - t0
    secs.clear()
    t1 = time.perf_counter()
    html.write_asset_report(Path(folder), asset)
    warm = time.perf_counter() - t1
    from n4d4d.report.render import backend

    queue.put({"folder": folder, "cold_s": cold, "warm_s": warm, "backend": backend(),
               "parts": {k: round(v, 3) for k, v in secs.items()}})


def _chest(tmp: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import numpy as np
    from test_export_common import hinged_asset

    from n4d4d.asset import MotionClip

    t = np.linspace(0, 2, 61)
    asset = hinged_asset().replace(motion_clips=(MotionClip("open", t, joint_positions={"hinge": 0.7 * t}),))
    return asset.save(tmp / "chest", formats=("usda", "glb"))


def main(argv: list[str]) -> None:
    with_clip = "--with-clip" in argv
    argv = [a for a in argv if a != "--with-clip"]
    with tempfile.TemporaryDirectory() as tmp:
        folders = [str(Path(a)) for a in argv] or [str(_chest(Path(tmp)))]
        ctx = mp.get_context("spawn")
        print(f"{'folder':50s} {'cold s':>7s} {'warm s':>7s}  warm seconds per picture group")
        for f in folders:
            q = ctx.Queue()
            p = ctx.Process(target=_measure, args=(f, with_clip, q))
            p.start()
            r = q.get()
            p.join()
            print(f"{f[-50:]:50s} {r['cold_s']:7.2f} {r['warm_s']:7.2f}  {json.dumps(r['parts'])} ({r['backend']})")


if __name__ == "__main__":
    main(sys.argv[1:])
