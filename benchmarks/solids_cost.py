"""CPU cost of closing solids (issue 13): the static and rigging stages of a build, profiled.

Runs the first four stages of :func:`n4d4d.build` (load, rest pose, static, rigging) on each
URDF or mesh given, under :mod:`cProfile` with the process CPU clock (``time.process_time``,
so time other processes take on a busy machine is not counted), and prints per stage the CPU
seconds, then the CPU seconds spent in the winding-number queries
(``igl`` fast winding number, tree built or cached), the distance / box queries (warp) and the
marching cubes and simplifier, with their share of the two stages. ``--top N`` prints the
``N`` functions of largest cumulative CPU time.

Usage: ``python benchmarks/solids_cost.py PATH [PATH ...] [--top 25]``; default: PartNet camera
102417 (``../shared/data/partnet-mobility/102417/mobility.urdf``, 19 links), about 1-2
minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "data" / "partnet-mobility" / "102417" / "mobility.urdf"

#: (label, (file suffix, function name) pairs): the query families, by the n4d4d function that
#: wraps them (the compiled libraries' own calls do not show in the profile)
GROUPS = (
    ("winding number (igl)", (("_queries.py", "winding_number"),)),
    ("distance / ray (warp)", (("_queries.py", "distance"), ("_queries.py", "cube_distances"),
                               ("_queries.py", "ray_hits"))),
    ("marching cubes", (("extract.py", "extract_surface"),)),
    ("simplify", (("simplify.py", "decimate"),)),
    ("disjoint parts", (("disjoint.py", "disjoint_parts"),)),
)


def profile_stages(path: Path, top: int, dump: Path | None = None) -> dict:
    """CPU seconds per stage of load .. rigging on ``path``, and per query family."""
    from n4d4d.options import BuildOptions
    from n4d4d.pipeline import STAGES, run_stage
    from n4d4d.sources import as_source

    opts = BuildOptions()
    src = as_source(str(path))
    cpu: dict[str, float] = {}
    prof = cProfile.Profile(time.process_time)
    value = src
    for stage in STAGES[:4]:
        c0 = time.process_time()
        if stage.name in ("static", "rigging"):
            prof.enable()
        value = run_stage(stage, value, opts, None, src.label)
        prof.disable()
        cpu[stage.name] = time.process_time() - c0
    st = pstats.Stats(prof)
    families = {}
    for label, keys in GROUPS:
        families[label] = sum(ct for (file, _, name), (_, _, _, ct, _) in st.stats.items()
                              if any(file.endswith(f) and name == n for f, n in keys))
    if dump:
        prof.dump_stats(str(dump))
    if top:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(top)
        print(s.getvalue())
    return {"cpu": cpu, "families": families, "parts": len(value.parts or ())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path, default=[DEFAULT])
    ap.add_argument("--top", type=int, default=0, help="print this many functions by cumulative CPU")
    ap.add_argument("--dump", type=Path, default=None, help="write the profile (pstats) here")
    args = ap.parse_args(argv)
    for path in args.paths:
        r = profile_stages(path, args.top, args.dump)
        c = r["cpu"]
        both = c["static"] + c["rigging"]
        print(f"{path}: {r['parts']} parts; CPU s " + ", ".join(f"{k} {v:.1f}" for k, v in c.items())
              + f"; static + rigging {both:.1f}")
        for label, t in r["families"].items():
            print(f"  {label:22s} {t:7.1f} CPU s  ({100 * t / max(both, 1e-9):4.1f}% of static + rigging)")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
