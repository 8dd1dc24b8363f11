"""Wall time of joint inference per object and track against the rigging time budget, and
whether the harness runs on every pybullet_data robot without an error.

    python benchmarks/rigging.py                    # every pybullet_data URDF with a movable joint
    python benchmarks/rigging.py --budget 60 r2d2.urdf franka_panda/panda.urdf
    python benchmarks/rigging.py --json out.jsonl   # also the harness records (n4d4d eval rigging --from-json)
    python benchmarks/rigging.py --merged-subset 17 --json merged.jsonl
        # merged track only: the first object (SOURCES.tsv order) of each of the first 17
        # PartNet-Mobility categories of ../shared/data + the procedural families (issue 18's
        # precision subset, 181 true joints); prints class accuracy and extras per true joint at
        # confidence 0, 0.95 and the shipped threshold, the confidence's AUC (right joints
        # above wrong ones), the class / extras curve over thresholds, and each category at the
        # threshold chosen on the others; --from-json F re-prints that from a file
    python benchmarks/rigging.py --kept-dev --json kept.jsonl [--only 100809 11826 ...]
        # kept track only on the dev set: every PartNet-Mobility object of ../shared/data + the
        # procedural families; prints the limit-within-20% figure (issue 18) at confidence 0 and
        # at the shipped threshold, broken down by true joint type and by category, and each
        # missed limit (true and predicted range); --from-json F re-prints that from a file;
        # --conventions: hinge and drawer ranges by convention (n4d4d.rigging.joints)
    python benchmarks/rigging.py --segmentation [--only 100809 ...] [--no-creases]
        # no joint inference: merged-mesh part recall per object against the PartNet-Mobility
        # ground truth (a true moving body is found when some candidate part holds more of its
        # visual area than of any other body's), after each step of rigging.parts (pieces and
        # crease cuts, tiny parts merged, welded structure fused, flat sheets lying on another
        # part fused into it: rigging.sheets), and the surplus candidate
        # parts (a body that is the majority of more than one part); --no-creases: without the
        # crease cuts (rigging.creases), the segmentation before session 13
    python benchmarks/rigging.py --press-travel
        # no inference: the source's press travel (PartNet-Mobility prismatic joints whose child
        # is under 0.2 of the object's diagonal) against scalings of simple geometric sizes
        # (the key's height along the axis, its width, its diagonal, the object's diagonal, a
        # constant, the clearance ahead of the key's leading face along its travel: the sweep
        # until contact): per object the travel / height spread, and for each scaling the best
        # single factor's share within 20 % and the leave-one-category-out share

Conventions, measured (session 10, kept track, 44 objects + 9 families, 357 joints with a true
range): limit within 20 % 0.431 with free-sweep ranges, 0.487 with ``--conventions`` (hinged
panels capped at 90 degrees, a hinged panel free a full turn revolute, drawers one way at 0.85
of their depth; strict type 0.926 -> 0.934). Leave-one-category-out
(each category scored at the cap chosen on the others, applied to the free-sweep run's
predicted spans): hinge caps chosen 76-104 degrees, 12 of 34 hinge joints within 20 % against 6
free; drawer fractions chosen 0.81-0.87, 18 of 19 drawers against 11 free. Press travel (279
joints) is left at half the button's height: the best single fraction reaches 175 of 279, and
chosen leaving a category out it gives 29 of 279 (remotes pull it one way, cameras the other).
``--press-travel`` (session 11, 269 presses of the 44 objects): no size predicts the source's
travel: travel / height runs 0.26 (phone 103892) to 3.93 (microwave 7263) between objects and
0.29-0.79 within one camera (102411: travels 2 and 8 mm); the best factor on the key's height
gets 165 of 269 within 20 %, 20 of 269 when it is chosen leaving a category out (width 12,
object diagonal or a constant 22).

Merged subset (session 11, 181 true joints, confidence 0): at b66f377 class 0.442, 272 extras
(1.503 per true joint; 11709's 112 stocked cola cans gave 109 continuous extras); with
``embedded.MIN_ENCLOSED_SPIN`` (cbafa74) class 0.425, 161 extras (0.890 per true joint): the
three "right" fridge joints were cans the scoring mapped to the doors. At 0.95 and at the shipped
0.952 unchanged (class 0.199 / 0.028, extras 0.530 / 0.017 per true joint).

Session 13 (merged meshes cut along concave creases, rigging/creases.py; a piece resting on
one held body no longer welded to it; a spinning piece inside the hull of any part that stays
put glued). ``--segmentation``: part recall 140 of 370 moving bodies (0.378, d93dc6f, the same
measure by a scratch script) -> 314 (0.849, 837a684; surplus parts 855 -> 1075). Merged subset
(eda8a7c, 181 true joints): confidence 0: class 0.425 -> 0.834, strict 0.78, extras 161 -> 233
(0.890 -> 1.287 per true joint: laptop 9960's 49 key caps that its source groups in the fixed
base, phone 103251's 47 decal sheets lying on its key caps, 45213 23, microwave 7263 21);
shipped 0.952: class 0.033, extras 15 (0.083); leave-one-category-out rule threshold (0.97 in
every category) class 0.03, extras 0.08; leave-one-category-out learned model (``n4d4d eval
rigging --from-json F --train W``, not shipped) class 0.42, precision 0.53, extras 0.37.

Session 14. Kept track at eeb8e8a (``--kept-dev``, 44 objects + 9 families, 391 true joints):
class 0.949, strict 0.926, pivot median 7.15 mm (0.35 % of the diagonal), limit within 20 %
0.431 (revolute 10 of 50 with a true range, presses 135 of 279, other slides 9 of 22: the
free sweep gives doors, lids and temples about 180 degrees where the sources say 90); hinge
cap and drawer fraction chosen leaving each category out (from that run's free ranges): hinges
6 -> 12 of 37, slides 9 -> 17 of 20 (caps 76-104 degrees, fractions 0.73-0.80); the sweep
until contact does not give a press's travel (a key's leading face meets the next surface
far beyond the source's travel: ``--press-travel``). Merged subset with flat sheets lying on a
piece fused into it (rigging.sheets, at 231787e; before: eda8a7c's records, rigging unchanged
to eeb8e8a): confidence 0: class 0.834 -> 0.812 (strict 0.785 -> 0.757; the 4 lost are phone
103251's keys whose cap is welded into the body, found before only through the label lying
on them), extras 233 -> 186 (1.287 -> 1.028 per true joint; 103251 47 -> 8); at 0.95 class
0.541 -> 0.519, extras 88 -> 67 (0.486 -> 0.370); shipped 0.952 unchanged (0.039, 0.083).
Confidence AUC (right joints above wrong ones): rule score 0.686 -> 0.687, learned model
leaving each category out 0.664 -> 0.635: no recorded feature set ranks them (laptop 9960's 49
key caps, which its source puts in the fixed base, look like every right press).

Each object runs both tracks of ``n4d4d eval rigging`` (parts kept, merged mesh) in this
process, one after the other; prints one row per object (true movable joints, seconds per
track, whether it stayed within the budget, the error if any) and the totals. The budget is
``rig_stage``'s ``time_budget_s``: joint inference stops there and leaves the remaining joints
fixed, so a row over it by more than the final joint's inference is a bug. The budget counts
CPU seconds of the process (``n4d4d.budget.process_cpu_seconds``), so over budget is judged on
the stage's CPU seconds (``cpu_s``: finding parts, closing them, inferring joints); the seconds
printed are wall time, several times the CPU at a load above the core count.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    import pybullet_data

    from n4d4d.rigging import harness

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("robots", nargs="*", help="paths under pybullet_data (default: every robot URDF)")
    ap.add_argument("--budget", type=float, default=120.0, help="time_budget_s per object and track")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="write the harness records as JSON lines")
    ap.add_argument("--merged-subset", type=int, default=0, metavar="N",
                    help="instead: the merged track on the first object of each of the first N categories + procedural")
    ap.add_argument("--kept-dev", action="store_true", help="instead: the kept track on the whole dev set")
    ap.add_argument("--only", nargs="*", default=None, help="with --kept-dev: these object ids / family names only")
    ap.add_argument("--from-json", type=Path, default=None,
                    help="with --kept-dev or --merged-subset: report a --json file; run nothing")
    ap.add_argument("--press-travel", action="store_true", help="instead: press travel against geometric sizes")
    ap.add_argument("--segmentation", action="store_true", help="instead: merged-mesh part recall per object")
    ap.add_argument("--no-creases", action="store_true", help="with --segmentation: no crease cuts")
    ap.add_argument("--conventions", action="store_true",
                    help="hinge and drawer ranges by convention (n4d4d.rigging.joints.LIMIT_CONVENTIONS)")
    a = ap.parse_args(argv)
    if a.conventions:
        from n4d4d.rigging import joints

        joints.LIMIT_CONVENTIONS = True
    if a.press_travel:
        return press_travel()
    if a.segmentation:
        return segmentation(a.only, not a.no_creases, a.seed)
    if a.kept_dev:
        return kept_dev(a.budget, a.seed, a.json, a.only, a.from_json)
    if a.merged_subset:
        if a.from_json is not None:
            return merged_report([_records(json.loads(x)) for x in a.from_json.read_text().splitlines() if x.strip()])
        return merged_subset(a.merged_subset, a.budget, a.seed, a.json)
    base = Path(pybullet_data.getDataPath())
    paths = [base / r for r in a.robots] if a.robots else harness.all_robot_paths()
    if not a.robots:
        for p in harness.all_robot_paths(unparsed=True):
            print(f"not read by the URDF reader (its errors, not rigging's): {p.relative_to(base)}")
    rows, results = [], []
    print(f"{'robot':40s} {'joints':>6s} {'kept s':>8s} {'merged s':>9s} {'sheets':>6s}  "
          f"kept / merged stage CPU s: parts/closing/joints  error")
    for p in paths:
        rs = harness.evaluate([p], seed=a.seed, time_budget_s=a.budget)
        results += rs
        t = {r.track: r for r in rs}
        k, m = t.get("kept"), t.get("merged")
        err = "; ".join(f"{r.track}: {r.error[:70]}" for r in rs if r.error)
        over = [r.track for r in rs if r.over_budget]
        name = str(p.relative_to(base)) if base in p.parents else str(p)
        print(f"{name:40s} {(k.true_joints if k else 0):6d} {(k.seconds if k else 0):8.1f} "
              f"{(m.seconds if m else 0):9.1f} {(m.sheets_fused if m else 0):6d}  {_cpu(k)} / {_cpu(m)}  "
              f"{err}{' OVER BUDGET: ' + ','.join(over) if over else ''}",
              flush=True)
        rows.append((name, err, over))
    n_err = sum(bool(e) for _, e, _ in rows)
    n_over = sum(bool(o) for _, _, o in rows)
    total = sum(r.seconds for r in results)
    print(f"{len(rows)} robots, {n_err} with an error, {n_over} over the {a.budget:g} s budget, {total:.0f} s in all")
    if a.json is not None:
        from n4d4d.io.atomic import atomic_write_text

        atomic_write_text(a.json, "".join(json.dumps(r.to_json()) + "\n" for r in results))
    return 0


def merged_subset(n_categories: int, budget: float, seed: int, json_path) -> int:
    """The merged track on issue 18's precision subset (see the module docstring)."""
    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.rigging import harness, procedural
    from n4d4d.rigging.scoring import figures, shipped_thresholds

    shared = harness.default_shared()
    rows = [line.split("\t") for line in (shared / "partnet-mobility" / "SOURCES.tsv").read_text().splitlines()[1:]
            if line.strip()]
    first: dict[str, str] = {}
    for r in rows:
        first.setdefault(r[1], r[0])
    results = []
    for obj in list(first.values())[:n_categories]:
        p = shared / "partnet-mobility" / obj / "mobility.urdf"
        truth = load_urdf_asset(p)
        results += harness.evaluate_asset(truth, truth.joints, harness._label(p), harness.category_of(p), seed=seed,
                                          time_budget_s=budget, tracks=("merged",))
        r = results[-1]
        print(f"{r.name:28s} {r.category:18s} {r.seconds:6.1f} s  true {r.true_joints:3d}  matched {r.matched:3d}  "
              f"extras {len(r.extras):3d}  sheets fused {r.sheets_fused:3d}  {_cpu(r)}  {r.error or ''}", flush=True)
    for name in procedural.FAMILIES:
        asset, joints = procedural.FAMILIES[name]()
        results += harness.evaluate_asset(asset, joints, name, "procedural", seed=seed, time_budget_s=budget,
                                          tracks=("merged",))
    if json_path is not None:
        from n4d4d.io.atomic import atomic_write_text

        atomic_write_text(json_path, "".join(json.dumps(r.to_json()) + "\n" for r in results))
    return merged_report(results)


CURVE = (0.0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.93, 0.95, 0.952, 0.97, 0.99, 1.0)


def merged_report(results) -> int:
    """The merged subset's figures: at confidence 0, 0.95 and the shipped threshold; the
    confidence's AUC (right above wrong) for the rule score and for the learned model scored
    leaving each category out; the class / extras curve over :data:`CURVE`; each category at the
    threshold chosen on the other categories (rule score and learned model)."""
    from n4d4d.rigging import training
    from n4d4d.rigging.scoring import (confidence_auc, counts, figures, loco_thresholds, shipped_thresholds,
                                       threshold_curve)

    ok = [r for r in results if r.error is None and r.track == "merged"]
    for r in results:
        if r.error is not None:
            print(f"error {r.name}: {r.error}")
    for t in (0.0, 0.95, shipped_thresholds()["merged"]):
        f = figures(ok, t)
        print(f"confidence >= {t:.3f}: {f['joints']} true joints, class {f['class_acc']:.3f} (strict "
              f"{f['strict_acc']:.3f}), extras {f['extra']} ({f['extra_per_joint']:.3f} per true joint)")
    learned, learned_t = training.loco(ok)
    learned = [r for r in learned if r.track == "merged"]
    print(f"confidence AUC (right above wrong, all predicted movable joints): rule score {confidence_auc(ok):.3f}, "
          f"learned model leaving each category out {confidence_auc(learned):.3f}")
    print(f"{'threshold':>9s} {'class':>6s} {'strict':>6s} {'prec':>6s} {'extras':>6s} {'extra/j':>7s} {'false/j':>7s}")
    for row in threshold_curve(ok, CURVE):
        print(f"{row['threshold']:9.3f} {row['class_acc']:6.3f} {row['strict_acc']:6.3f} {row['precision']:6.3f} "
              f"{row['extra']:6d} {row['extra_per_joint']:7.3f} {row['false_per_joint']:7.3f}")
    for label, rs, th in (("rule score", ok, loco_thresholds(ok)["merged"]), ("learned model", learned,
                                                                               learned_t["merged"])):
        c = counts(rs, {"merged": th})
        n = max(c["n"], 1)
        print(f"leave-one-category-out threshold, {label}: class {c['tp'] / n:.3f}, extras {c['extra']} "
              f"({c['extra'] / n:.3f} per true joint), false {c['fp'] / n:.3f} per true joint; thresholds "
              + ", ".join(f"{k} {v:.2f}" for k, v in sorted(th.items())))
    return 0


def _records(line: dict):
    from n4d4d.rigging.harness import Extra, JointRecord, ObjectResult

    d = dict(line)
    d.pop("true_joints", None)
    d.pop("matched", None)
    d["records"] = [JointRecord(**{k: (float("nan") if k == "confidence" and v is None else v)
                                   for k, v in x.items()}) for x in d["records"]]
    d["extras"] = [Extra(**x) for x in d["extras"]]
    return ObjectResult(**{k: (float("inf") if k == "budget_s" and v is None else v) for k, v in d.items()})


def kept_dev(budget: float, seed: int, json_path, only, from_json) -> int:
    """The kept track on the dev set and its limit figures (see the module docstring)."""
    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.rigging import harness, procedural
    from n4d4d.rigging.scoring import figures, shipped_thresholds

    if from_json is not None:
        results = [_records(json.loads(x)) for x in from_json.read_text().splitlines() if x.strip()]
    else:
        shared = harness.default_shared()
        results = []
        for p in sorted((shared / "partnet-mobility").glob("*/mobility.urdf")):
            if only and p.parent.name not in only:
                continue
            truth = load_urdf_asset(p)
            results += harness.evaluate_asset(truth, truth.joints, harness._label(p), harness.category_of(p),
                                              seed=seed, time_budget_s=budget, tracks=("kept",))
            r = results[-1]
            print(f"{r.name:24s} {r.category:18s} {r.seconds:6.1f} s  true {r.true_joints:3d}  "
                  f"{r.error or ''}", flush=True)
        for name in procedural.FAMILIES:
            if only and name not in only:
                continue
            asset, joints = procedural.FAMILIES[name]()
            results += harness.evaluate_asset(asset, joints, name, "procedural", seed=seed, time_budget_s=budget,
                                              tracks=("kept",))
        if json_path is not None:
            from n4d4d.io.atomic import atomic_write_text

            atomic_write_text(json_path, "".join(json.dumps(r.to_json()) + "\n" for r in results))
    ok = [r for r in results if r.error is None]
    for r in results:
        if r.error is not None:
            print(f"error {r.name}: {r.error}")
    shipped = shipped_thresholds()["kept"]
    for t in (0.0, shipped):
        f = figures(ok, t)
        print(f"confidence >= {t:.3f}: {f['joints']} true joints, class {f['class_acc']:.3f}, strict "
              f"{f['strict_acc']:.3f}, pivot {f['pivot_mm_med']:.2f} mm, limit within 20% {f['limit_ok']:.3f}")

    def limit_row(label, recs):
        lim = [x for x in recs if x.limit_ok is not None]
        em = [x for x in lim if x.confidence is not None and x.confidence >= shipped and x.pred_type != "none"]
        n_ok = sum(bool(x.limit_ok) for x in lim)
        n_ok_s = sum(bool(x.limit_ok) for x in em)
        if lim:
            print(f"  {label:22s} {len(lim):4d} joints with a range: within 20% {n_ok / len(lim):.3f} (conf 0), "
                  f"{n_ok_s / len(lim):.3f} (shipped)")

    recs = [x for r in ok for x in r.records]
    print("limit within 20% by true type:")
    for jt in ("revolute", "prismatic"):
        limit_row(jt, [x for x in recs if x.true_type == jt])
    print("by category:")
    for c in sorted({r.category for r in ok}):
        limit_row(c, [x for r in ok if r.category == c for x in r.records])
    limit_conventions_loco(ok)
    print("missed limits (object, joint, true type -> predicted, true range, predicted range):")
    for r in ok:
        for x in r.records:
            if x.limit_ok is False:
                print(f"  {r.name:24s} {x.name:14s} {x.true_type:9s} -> {x.pred_type:10s} "
                      f"{_fmt(x.true_range)} {_fmt(x.pred_range)}  {x.source}")
    return 0


def limit_conventions_loco(results) -> None:
    """Hinge and drawer range conventions scored leaving each category out, from the free-sweep
    ranges of a kept-track run (no inference): a hinge-family prediction of a true revolute
    joint gets its free span capped at an angle (as ``joints.hinge_opening``; a continuous one is
    a full turn before the cap), a slide (not a press) of a true prismatic joint
    ``min(free range, f x its extent along the slide)`` (``drawer_travel``, whose extent is
    the range over the ``span`` feature); the cap and ``f`` are chosen on the other categories
    (most joints within 20 %), each category scored at them. Prints the count within 20 % free
    and by the chosen conventions."""
    import numpy as np

    def within(p, t):
        return abs(p - t) <= 0.2 * t

    recs = [(r.category, x) for r in results for x in r.records if x.limit_ok is not None]
    hinges = [(c, x, 2 * np.pi if x.pred_type == "continuous" else x.pred_range) for c, x in recs
              if x.true_type == "revolute" and x.source.startswith("hinge") and x.pred_type in ("revolute", "continuous")]
    slides = [(c, x, x.pred_range / x.features["span"]) for c, x in recs
              if x.true_type == "prismatic" and x.pred_type == "prismatic" and not x.source.startswith("press")
              and x.features and x.features.get("span") and x.pred_range is not None]
    for label, rows, grid, apply, unit in (
            ("hinge cap", hinges, np.radians(np.arange(30.0, 181.0, 2.0)), lambda v, k: min(v[2], k), "deg"),
            ("drawer fraction", slides, np.arange(0.5, 1.205, 0.01), lambda v, f: min(v[1].pred_range, f * v[2]), "")):
        if not rows:
            continue
        free = sum(within(v[2] if label == "hinge cap" else v[1].pred_range, v[1].true_range)
                   and v[1].pred_type == v[1].true_type for v in rows)
        n_ok, chosen = 0, {}
        for c in sorted({v[0] for v in rows}):
            train = [v for v in rows if v[0] != c]
            k = max(grid, key=lambda k: sum(within(apply(v, k), v[1].true_range) for v in train))
            chosen[c] = float(np.degrees(k)) if unit == "deg" else float(k)
            n_ok += sum(within(apply(v, k), v[1].true_range) for v in rows if v[0] == c)
        print(f"{label}, leave-one-category-out: {len(rows)} joints, within 20% free {free}, by the convention "
              f"chosen on the other categories {n_ok} (chosen {min(chosen.values()):.2f}-{max(chosen.values()):.2f}"
              f"{' deg' if unit else ''})")


def press_travel() -> int:
    """The source's press travel against geometric sizes (see the module docstring)."""
    import numpy as np

    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.rigging import harness

    shared = harness.default_shared() / "partnet-mobility"
    rows = []
    for p in sorted(shared.glob("*/mobility.urdf")):
        a = load_urdf_asset(p)
        cat = harness.category_of(p)
        parts = {q.name: q.mesh for q in a.parts}
        D = float(np.linalg.norm(np.ptp(np.concatenate([m.vertices for m in parts.values()]), 0)))
        for j in a.joints:
            if j.type != "prismatic":
                continue
            v = parts[j.child].vertices
            ax = np.asarray(j.axis, float) / np.linalg.norm(j.axis)
            cd = float(np.linalg.norm(np.ptp(v, 0)))
            if cd >= 0.2 * D:  # drawers and slides
                continue
            rows.append({"obj": p.parent.name, "cat": cat, "T": float(j.upper - j.lower), "h": float(np.ptp(v @ ax)),
                         "w": float(np.ptp(v, 0).max()), "cd": cd, "D": D, "1": 1.0,
                         "clear": _clearance(parts, j.child, ax if j.upper >= -j.lower else -ax)})
    print(f"{len(rows)} presses; travel / height along the axis by object (median [min, max]):")
    for o in sorted({r["obj"] for r in rows}):
        q = np.array([r["T"] / max(r["h"], 1e-12) for r in rows if r["obj"] == o])
        T = sorted({round(r["T"], 4) for r in rows if r["obj"] == o})
        cat = next(r["cat"] for r in rows if r["obj"] == o)
        print(f"  {o:7s} {cat:12s} {len(q):3d}  {np.median(q):6.2f} [{q.min():.2f}, {min(q.max(), 99):.2f}]  "
              f"travels {T[:4]}")
    ks = np.exp(np.linspace(np.log(1e-4), np.log(10.0), 3000))
    cats = sorted({r["cat"] for r in rows})

    def n_ok(k, key, rs):
        return sum(abs(k * r[key] - r["T"]) <= 0.2 * r["T"] for r in rs)

    clear = np.array([r["clear"] / r["T"] for r in rows])
    print(f"sweep until contact (clearance ahead of the key's leading face along its travel, median ray): "
          f"clearance / travel median {np.median(clear):.2f}, within 20 % {int(np.sum(np.abs(clear - 1) <= 0.2))}"
          f"/{len(rows)}, no surface ahead {int(np.sum(~np.isfinite(clear)))}")
    for r in rows:
        r["clear"] = r["clear"] if np.isfinite(r["clear"]) else 0.0
    for key, label in (("h", "height"), ("w", "width"), ("cd", "key diagonal"), ("D", "object diagonal"),
                       ("1", "constant"), ("clear", "clearance ahead")):
        scores = [n_ok(k, key, rows) for k in ks]
        loco = 0
        for c in cats:
            train = [r for r in rows if r["cat"] != c]
            k = ks[int(np.argmax([n_ok(k, key, train) for k in ks]))]
            loco += n_ok(k, key, [r for r in rows if r["cat"] == c])
        print(f"travel = k x {label:15s}: best k {ks[int(np.argmax(scores))]:.4g} -> {max(scores)}/{len(rows)} "
              f"within 20 %; leave-one-category-out {loco}/{len(rows)}")
    return 0


def _clearance(parts: dict, child: str, direction) -> float:
    """Free travel (m) of ``parts[child]`` along unit ``direction`` until it meets another part:
    the median over its leading face (samples whose normal is within 25 degrees of
    ``direction``) of the distance each ray from it travels before it hits another part's
    surface (libigl's AABB; inf when nothing is ahead)."""
    import igl
    import numpy as np

    from n4d4d.rigging.geometry import sample_surface

    others = [m for n, m in parts.items() if n != child]
    V = np.concatenate([m.vertices for m in others])
    off = np.cumsum([0] + [len(m.vertices) for m in others])[:-1]
    F = np.concatenate([m.faces + o for m, o in zip(others, off)]).astype(np.int64)
    tree = igl.AABB()
    tree.init(V, F)
    c = parts[child]
    pts, nrm = sample_surface(c.vertices, c.faces, 1500, 0)
    lead = nrm @ direction > np.cos(np.radians(25.0))
    if not lead.any():
        return float("inf")
    fid, t, _ = tree.intersect_ray_first(V, F, np.ascontiguousarray(pts[lead]),
                                         np.ascontiguousarray(np.tile(direction, (int(lead.sum()), 1))))
    t = np.where(fid >= 0, t, np.inf)
    t = t[t > 1e-3 * float(np.linalg.norm(np.ptp(c.vertices, 0)))]
    return float(np.median(t)) if len(t) else float("inf")


def segmentation(only, creases: bool, seed: int) -> int:
    """Merged-mesh part recall per object (see the module docstring)."""
    import time
    from collections import Counter

    import numpy as np

    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.rigging import harness
    from n4d4d.rigging.parts import component_groups, fuse_held, merge_small
    from n4d4d.rigging.sheets import fuse_sheets

    shared = harness.default_shared() / "partnet-mobility"
    cats = harness.categories(shared.parent)
    steps = ("pieces", "merged small", "fused held", "sheets fused")
    tot = {"movers": 0, **{k: 0 for k in steps}, "surplus": 0}
    print(f"{'object':8s} {'category':17s} {'moving':>6s}  found after {' / '.join(steps)}   parts  surplus")
    for p in sorted(shared.glob("*/mobility.urdf")):
        if only and p.parent.name not in only:
            continue
        t0 = time.monotonic()
        truth = load_urdf_asset(p)
        v = truth.visual
        lab, names = v.face_submesh, v.submesh_names
        tri = v.vertices[v.faces]
        area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        merged = v.replace(face_submesh=None, submesh_names=())
        g0 = component_groups(merged, seed=seed, creases=creases)
        g1 = merge_small(merged, g0)[0]
        g2 = fuse_held(merged, g1, seed=seed)[0]
        g3 = fuse_sheets(merged, g2, seed=seed)[0]
        movers = {j.child for j in truth.joints if j.type != "fixed"}

        def majority(groups):
            return [names[int(np.argmax(np.bincount(lab[f], weights=area[f], minlength=len(names))))]
                    for _, f in groups]

        found = [len(movers & set(majority(g))) for g in (g0, g1, g2, g3)]
        surplus = sum(k - 1 for k in Counter(majority(g3)).values())
        tot["movers"] += len(movers)
        for k, n in zip(steps, found):
            tot[k] += n
        tot["surplus"] += surplus
        print(f"{p.parent.name:8s} {cats.get(p.parent.name, ''):17s} {len(movers):6d}  "
              f"{found[0]:4d} / {found[1]:4d} / {found[2]:4d} / {found[3]:4d}   {len(g3):5d}  {surplus:5d}   "
              f"{time.monotonic() - t0:.1f} s", flush=True)
    n = max(tot["movers"], 1)
    print(f"{tot['movers']} moving bodies; part recall " + ", ".join(f"{k} {tot[k] / n:.3f} ({tot[k]})" for k in steps)
          + f"; surplus parts {tot['surplus']} (creases {'on' if creases else 'off'})")
    return 0


def _cpu(r) -> str:
    """A result's stage CPU seconds by step (parts / closing / joints)."""
    c = (r.cpu_s if r is not None else None) or {}
    return "cpu " + "/".join(f"{c[k]:.0f}" if k in c else "-" for k in ("parts", "closing", "joints"))


def _fmt(v) -> str:
    return "     -" if v is None else f"{v:8.4f}"


if __name__ == "__main__":
    sys.exit(main())
