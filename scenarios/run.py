"""Run a scenario spec: plan, build every asset, settle the scene, write the scene and manifest.

:func:`run_scenario` is what ``n4d4d scenario run SPEC -o OUT`` does:

1. :func:`~n4d4d.scenarios.spec.load_spec`: validate the spec and check its inputs (nothing
   is built or written when it fails);
2. :func:`~n4d4d.scenarios.plan.plan_scenario`: names, seeds and options of every build
   (``dry_run`` stops here);
3. :func:`~n4d4d.scenarios.batch.build_batch` into ``OUT/assets/`` in isolated workers (local
   pool or Ray), always resuming: assets whose folder is complete and hash-verified are kept;
4. per environment, :func:`~n4d4d.scenarios.settle.settle_environment` of the assets that were
   built (supports first, then every object ``instances`` times), seeded from the spec's seed
   and the environment's index;
5. ``OUT/scene.usda`` (:func:`~n4d4d.scenarios.scene.write_scene`), checked in Newton
   (:func:`~n4d4d.scenarios.verify.newton_motion`, unless ``verify=False``);
6. ``OUT/assets.{parquet,jsonl}``, ``OUT/placements.{parquet,jsonl}`` and ``OUT/summary.json``
   (:mod:`~n4d4d.scenarios.manifest`), written by this process only.

Everything but wall-clock timings is a function of the spec and its seed: the same files
whatever the worker count or backend, and a run killed at any moment and started again
finishes with the same outputs (builds are atomic folders; the scene and manifest are
rewritten whole, atomically, at the end of every run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from n4d4d.scenarios.batch import BatchResult
from n4d4d.scenarios.plan import ROLE_SCENE, Plan, materialize, plan_scenario
from n4d4d.scenarios.spec import ScenarioSpec, load_spec


@dataclass
class ScenarioResult:
    """What a run made: the plan, one result per build, the settled environments, file paths,
    and the summary (:func:`summarize`)."""

    plan: Plan
    results: list[BatchResult] = field(default_factory=list)
    envs: list = field(default_factory=list)
    scene: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    newton_error: str = ""


#: Files this module writes at the top of the output folder (atomically: a killed run can leave
#: a hidden temporary ``.<stem>.XXXX<suffix>`` of each, which the next run removes).
TOP_FILES = ("scene.usda", "assets.parquet", "assets.jsonl", "placements.parquet", "placements.jsonl", "summary.json")


def remove_stale_outputs(out: Path) -> list[str]:
    """Delete the temporaries a killed run left beside :data:`TOP_FILES` in ``out``; returns them.
    Call it only when no other run writes ``out``."""
    removed = []
    for name in TOP_FILES:
        stem, suffix = Path(name).stem, Path(name).suffix
        for p in sorted(out.glob(f".{stem}.*{suffix}")) if out.is_dir() else []:
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


def _joint_fractions(report: dict, span, rng) -> list[float] | None:
    if span is None:
        return None
    movable = [j for j in report.get("joints") or [] if j.get("type") != "fixed"]
    return [float(rng.uniform(*span)) if span[0] != span[1] else float(span[0]) for _ in movable]


def settle_scene(plan: Plan, results: list[BatchResult]) -> list:
    """Settle every environment of ``plan`` with the assets ``results`` made (see module doc)."""
    from n4d4d.scenarios.batch import completed_output
    from n4d4d.scenarios.settle import settle_environment

    spec = plan.spec
    usable = {}
    for a, r in zip(plan.assets, results):
        done = completed_output(plan.assets_dir, a.name) if r.error is None else None
        if done and (done[0] / "asset.urdf").is_file() and (done[0] / "asset.usda").is_file():
            usable[a.name] = done
    envs = []
    for e in range(spec.scene.envs):
        rng = np.random.default_rng(np.random.SeedSequence([spec.seed, ROLE_SCENE, e]))
        supports = [(a.name, a.name, usable[a.name][0] / "asset.urdf", a.support.position, a.support.yaw)
                    for a in plan.supports if a.name in usable]
        objects = []
        for a in plan.objects:
            if a.name not in usable:
                continue
            for k in range(a.instances):
                key = a.name if a.instances == 1 else f"{a.name}_{k}"
                objects.append((key, a.name, usable[a.name][0] / "asset.urdf",
                                _joint_fractions(usable[a.name][1], a.joint_positions, rng)))
        envs.append(settle_environment(e, supports, objects, spec.scene, rng))
    return envs


def summarize(asset_rows: list[dict], placement_rows: list[dict], envs, spec: ScenarioSpec) -> dict:
    """Pass rate, failure reasons by check (and by kind of error), time per stage, settle figures."""
    from n4d4d.pipeline import STAGE_NAMES
    from n4d4d.scenarios.manifest import TIMING_PREFIX

    n = len(asset_rows)
    passed = sum(r["verdict"] == "passed" for r in asset_rows)
    by_check: dict[str, int] = {}
    for r in asset_rows:
        for c in dict.fromkeys(c.split("/")[0] for c in r["failing_checks"]):
            by_check[c] = by_check.get(c, 0) + 1
        if r["verdict"] == "error":
            kind = ("worker crash" if "worker" in r["error"] and "died" in r["error"] else
                    "time limit" if "time limit" in r["error"] else
                    "memory limit" if "memory limit" in r["error"] else "build error")
            by_check[kind] = by_check.get(kind, 0) + 1
    stages = {}
    for s in STAGE_NAMES:
        vals = [r[f"{TIMING_PREFIX}{s}"] for r in asset_rows if r.get(f"{TIMING_PREFIX}{s}") is not None]
        stages[s] = {"total_s": float(sum(vals)), "mean_s": float(np.mean(vals)) if vals else None, "assets": len(vals)}
    placed = [p for p in placement_rows if p["placed"]]
    motions = [p["newton_motion_m"] for p in placed if p["newton_motion_m"] is not None]
    return {
        "scene": spec.name, "assets": n, "passed": passed, "failed": n - passed,
        "pass_rate": passed / n if n else 0.0,
        "failures_by_check": dict(sorted(by_check.items(), key=lambda kv: (-kv[1], kv[0]))),
        "seconds_per_stage": stages,
        "settle": {
            "envs": len(envs), "all_at_rest": all(e.at_rest for e in envs),
            "settle_seconds": [e.seconds for e in envs],
            "placed": len(placed), "left_out": len(placement_rows) - len(placed),
            "over_gap_bound": sum(not p["gap_ok"] for p in placed),
            "over_penetration_bound": sum(not p["penetration_ok"] for p in placed),
            "max_gap_m": max((p["gap_m"] for p in placed), default=None),
            "max_penetration_m": max((p["penetration_m"] for p in placed), default=None),
            "gap_bound_m": spec.scene.settle.max_gap, "penetration_bound_m": spec.scene.settle.max_penetration,
            "newton_max_motion_1s_m": max(motions) if motions else None,
        },
    }


def run_scenario(spec: ScenarioSpec | str | Path, out: str | Path, *, workers: int = 1,
                 backend: Literal["local", "ray"] = "local", ray_address: str | None = None,
                 dry_run: bool = False, verify: bool = True,
                 on_result: Callable[[BatchResult], None] | None = None,
                 progress: Callable[[str, str, str], None] | None = None,
                 on_phase: Callable[[str], None] | None = None) -> ScenarioResult:
    """Run ``spec`` (a validated spec or a path to one) into ``out`` (see the module docstring).

    Args:
        workers: assets built at once (worker processes, or Ray tasks in flight).
        backend: ``"local"`` or ``"ray"`` (joins ``ray_address`` / ``RAY_ADDRESS`` or starts a
            local Ray unless one is initialised).
        dry_run: plan only: nothing is built or written.
        verify: load ``scene.usda`` in Newton and record each object's motion in 1 s.
        on_result: called with each build's result as it arrives; progress: per stage, see
            :func:`~n4d4d.scenarios.batch.build_batch`; on_phase: called with ``"build"``,
            ``"settle"``, ``"scene"``, ``"verify"``, ``"manifest"`` as each phase starts.

    Raises:
        SpecError: an invalid spec or an input that does not exist (before any work).
        ImportError: backend "ray" without ray.
    """
    from n4d4d.scenarios.batch import build_batch
    from n4d4d.scenarios.manifest import asset_row, placement_rows, write_table
    from n4d4d.scenarios.scene import SCENE_FILE, write_scene

    spec = spec if isinstance(spec, ScenarioSpec) else load_spec(spec)
    out = Path(out).resolve()
    plan = plan_scenario(spec, out)
    res = ScenarioResult(plan)
    if dry_run:
        return res
    phase = on_phase or (lambda name: None)
    remove_stale_outputs(out)
    materialize(plan)
    phase("build")
    res.results = build_batch([a.job for a in plan.assets], plan.assets_dir, workers=workers, backend=backend,
                              keep_failed=spec.keep_failed, skip_existing=True, on_result=on_result, progress=progress,
                              isolate=True, time_limit_s=spec.limits.time_s, memory_limit_gb=spec.limits.memory_gb,
                              ray_address=ray_address)
    phase("settle")
    res.envs = settle_scene(plan, res.results)
    phase("scene")
    files = {a.name: out / "assets" / a.name / "asset.usda" for a in plan.assets}
    res.scene = write_scene(out / SCENE_FILE, res.envs, files, env_spacing=spec.scene.env_spacing,
                            ground_friction=spec.scene.ground.friction,
                            ground_restitution=spec.scene.ground.restitution, name=spec.name)
    motion = None
    if verify and any(b.placed for e in res.envs for b in e.bodies):
        phase("verify")
        try:
            from n4d4d.scenarios.verify import newton_motion

            motion = newton_motion(res.scene)
        except Exception as exc:  # recorded: a scene Newton cannot load is a finding, not a crash
            res.newton_error = f"{type(exc).__name__}: {exc}"
    phase("manifest")
    rows = [asset_row(a, r, out) for a, r in zip(plan.assets, res.results)]
    prow = placement_rows(res.envs, spec.scene.settle, motion)
    res.files["assets"], res.files["assets_jsonl"] = write_table(rows, out / "assets")
    res.files["placements"], res.files["placements_jsonl"] = write_table(prow, out / "placements")
    res.summary = summarize(rows, prow, res.envs, spec)
    if res.newton_error:
        res.summary["settle"]["newton_error"] = res.newton_error
    from n4d4d.io.atomic import atomic_write_text

    res.files["summary"] = atomic_write_text(out / "summary.json", json.dumps(res.summary, indent=1) + "\n")
    res.files["scene"] = res.scene
    return res
