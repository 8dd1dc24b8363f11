"""Stages of one build from a saved asset: the cost of collision and physics on a fixed rigged asset.

    python benchmarks/stage_cost.py SRC.urdf rigged.pkl --upto rigging          # build and save
    python benchmarks/stage_cost.py rigged.pkl checked.pkl --start collision    # resume, to physics

Other stages change under the collision and physics code (rigging, part solids); saving the
rigged asset once (a pickle of the frozen :class:`n4d4d.Asset`) and resuming from it measures
collision and physics before and after a change on the same parts. Prints each stage's CPU
seconds (this process's and its children's) and wall seconds, and, when the collision or
physics stage ran, where their CPU went (``benchmarks/build.py``'s breakdown: per decomposition
method and hull cuts, the costliest parts, the certificate's seconds per check). The pickle is
a local cache for this benchmark only (it is trusted input: never load one from elsewhere).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build import _breakdown, _cpu, _print_breakdown  # noqa: E402


def main(argv=None) -> int:
    from n4d4d.pipeline import STAGES, as_source, resolve_options, run_stage

    names = [s.name for s in STAGES]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="a source (mesh, URDF) or, with --start, a saved asset (.pkl)")
    ap.add_argument("out", type=Path, help="where the asset after the last stage is saved (.pkl)")
    ap.add_argument("--start", choices=names[1:], default=None, help="resume the saved asset at this stage")
    ap.add_argument("--upto", choices=names, default=names[-1], help="last stage run")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    opts = resolve_options(seed=args.seed)
    if args.start:
        with open(args.source, "rb") as fh:
            value = pickle.load(fh)
        first = names.index(args.start)
    else:
        value, first = as_source(args.source), 0
    for stage in STAGES[first:names.index(args.upto) + 1]:
        c0, t0 = _cpu(), time.perf_counter()
        value = run_stage(stage, value, opts, source=str(args.source))
        print(f"{stage.name:10s} CPU {_cpu() - c0:7.1f} s  wall {time.perf_counter() - t0:7.1f} s", flush=True)
    with open(args.out, "wb") as fh:
        pickle.dump(value, fh)
    ran = {s.name for s in value.stages}
    if {"collision", "physics"} & ran:
        _print_breakdown(_breakdown(value))
    if value.physics:
        print("passed", value.physics.get("passed"), "; ".join(value.physics.get("reasons", []))[:600])
    return 0


if __name__ == "__main__":
    sys.exit(main())
