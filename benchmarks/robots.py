"""The robot URDFs of pybullet_data through ``n4d4d build`` with default options: one row per robot.

    python benchmarks/robots.py OUT [--only kuka,laikago] [--nice 10] [-- extra build options]

Each robot is built in its own process (``n4d4d build URDF -o OUT/<robot>``, default options
unless given after ``--``), one at a time; its ``report.json`` gives the row: passed or not, the
CPU and wall seconds of the build, and the first failing check with its figure (the report's
first reason). Prints a Markdown table and writes it to ``OUT/robots.md``. Issue 12's robot
figure ("1 of 16 pass", session 13) is this table's pass count.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

#: Robot name -> path under pybullet_data (the 16 of issue 12's robot figure).
ROBOTS = {
    "a1": "a1/a1.urdf", "aliengo": "aliengo/aliengo.urdf", "laikago": "laikago/laikago.urdf",
    "mini_cheetah": "mini_cheetah/mini_cheetah.urdf", "minitaur": "quadruped/minitaur.urdf",
    "kuka": "kuka_iiwa/model.urdf", "panda": "franka_panda/panda.urdf",
    "pendulum5": "pendulum5.urdf", "TwoJointRobot": "TwoJointRobot_w_fixedJoints.urdf",
    "cartpole": "cartpole.urdf", "racecar": "racecar/racecar.urdf", "husky": "husky/husky.urdf",
    "pr2_gripper": "pr2_gripper.urdf", "r2d2": "r2d2.urdf", "humanoid": "humanoid/humanoid.urdf",
    "biped2d": "biped/biped2d_pybullet.urdf",
}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _report(folder: Path) -> dict | None:
    for p in [folder / "report.json", *sorted(folder.glob("rejected/*/report.json")), *sorted(folder.glob("*/report.json"))]:
        if p.is_file():
            return json.loads(p.read_text())
    return None


def row(name: str, out: Path, nice: int, extra: list[str]) -> dict:
    """Build one robot; ``{"robot", "passed", "cpu_s", "wall_s", "first_reason", "notes"}``."""
    import pybullet_data

    src = Path(pybullet_data.getDataPath()) / ROBOTS[name]
    folder = out / name
    exe = Path(sys.executable).with_name("n4d4d")  # the console script of this environment
    cmd = ["nice", "-n", str(nice), str(exe), "build", str(src), "-o", str(folder), *extra]
    c0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    cpu, wall = _children_cpu() - c0, time.perf_counter() - t0
    rep = _report(folder)
    if rep is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"robot": name, "passed": False, "cpu_s": cpu, "wall_s": wall, "first_reason": f"no report: {tail[0]}"}
    phys = rep.get("physics") or {}
    reasons = phys.get("reasons") or []
    return {"robot": name, "passed": bool(rep.get("passed")), "cpu_s": cpu, "wall_s": wall,
            "first_reason": reasons[0] if reasons else "", "reasons": len(reasons),
            "notes": [n for n in rep.get("notes", []) if n.startswith(("base ", "read "))]}


def main(argv=None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    extra = args_in[args_in.index("--") + 1:] if "--" in args_in else []
    args_in = args_in[:args_in.index("--")] if "--" in args_in else args_in
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--only", default="", help="comma list of robot names (default: all 16)")
    ap.add_argument("--nice", type=int, default=10)
    args = ap.parse_args(args_in)
    names = [n for n in args.only.split(",") if n] or list(ROBOTS)
    unknown = [n for n in names if n not in ROBOTS]
    if unknown:
        ap.error(f"unknown robot(s) {unknown}; known: {', '.join(ROBOTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["| robot | passed | CPU s | wall s | failing checks | first reason |", "|---|---|---|---|---|---|"]
    passed = 0
    for name in names:
        r = row(name, args.out, args.nice, extra)
        passed += r["passed"]
        reason = r["first_reason"].replace("|", "/")[:160]
        lines.append(f"| {name} | {'yes' if r['passed'] else 'no'} | {r['cpu_s']:.0f} | {r['wall_s']:.0f} | "
                     f"{r.get('reasons', '-')} | {reason} |")
        print(lines[-1], flush=True)
    lines.append(f"\n{passed} of {len(names)} pass")
    text = "\n".join(lines) + "\n"
    (args.out / "robots.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
