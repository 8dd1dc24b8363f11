"""Motion families: time per clip per family, and the plausibility table.

Prints one row per (asset, clip): seconds to make the clip, seconds to check it, frames, verdict
and the plausibility figures (joint-limit violations, ground penetration and float in mm, largest
non-adjacent overlap in mm, GMD foot-skating ratio, largest reach error, support margin in mm,
volume change in %), then the mean seconds per clip per family.

Assets: the test shapes (hinged lid, blocked drawer), the generator's procedural families
(``animal`` and ``figure`` (two legs) seeds 0-2, and ``cabinet``, ``lidded_box``, ``lamp`` seed 0;
each part's collision its convex hull, their parts being unions of convex primitives), the
procedural animals and figures skinned (``*_skinned``: the rigging stage's curve skeleton and
bone-heat weights on the whole mesh, ``--rig skeletal``), a soft cube (``--deformable`` at the
default E and nu; with ``--soft``), CesiumMan's own walk and
PartNet-Mobility objects (``--partnet 10495,40147``; built by the pipeline's own stages load to
mass, CoACD included) from the development data when present (``$N4D4D_SHARED``, default
``../shared``)::

    .venv/bin/python benchmarks/motion.py [--partnet 10495,103100,40147] [--fps 30] [--seconds 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _hulls(asset):
    from n4d4d.asset import Mesh
    from n4d4d.physics_validation import mass_stage

    hulls = {p.name: (Mesh.from_trimesh(p.mesh.to_trimesh().convex_hull),) for p in asset.parts}
    return mass_stage(asset.replace(collision=hulls))


def _skinned(asset):
    """The whole mesh rigged as ``--rig skeletal`` does: curve skeleton, bone-heat weights."""
    from n4d4d.rigging.stage import skeletal

    return skeletal(asset.replace(parts=(), joints=()), time.monotonic(), "skeletal", [])


def _partnet(path: Path, opts):
    """The pipeline's own stages, load to mass (the asset the animate stage is given)."""
    from n4d4d import pipeline
    from n4d4d.sources import as_source

    asset = as_source(path)
    for stage in pipeline.STAGES:
        if stage.name == "animate":
            break
        asset = stage.run(asset, opts)
    return asset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--partnet", default="", help="comma list of PartNet-Mobility ids in ../shared/data")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--no-procedural", action="store_true")
    ap.add_argument("--soft", action="store_true", help="also a soft cube (Newton VBD; compiles on first use)")
    args = ap.parse_args()

    from n4d4d.deformation import shapes
    from n4d4d.deformation.families import NotApplicable
    from n4d4d.deformation.plausibility import clip_check
    from n4d4d.deformation.stage import auto_families, make_clip
    from n4d4d.options import BuildOptions
    from n4d4d.physics_validation import collision_stage, mass_stage
    from n4d4d.physics_validation import shapes as pv_shapes

    opts = BuildOptions(fps=args.fps, seconds=args.seconds, seed=0)
    shared = Path(os.environ.get("N4D4D_SHARED", REPO.parent / "shared")) / "data"
    assets = [("hinged_lid", lambda: mass_stage(collision_stage(shapes.hinged_lid_box())), None),
              ("drawer_blocked", lambda: mass_stage(collision_stage(shapes.drawer_cabinet(0.08))), None)]
    if not args.no_procedural:
        from n4d4d.generator.procedural import make_shape

        for fam, seeds in (("animal", (0, 1, 2)), ("figure", (0, 1, 2)), ("cabinet", (0,)), ("lidded_box", (0,)),
                           ("lamp", (0,))):
            for s in seeds:
                assets.append((f"{fam}_{s}", lambda fam=fam, s=s: _hulls(make_shape(fam, s)), None))
        for fam in ("animal", "figure"):
            for s in (0, 1, 2):
                assets.append((f"{fam}_{s}_skinned", lambda fam=fam, s=s: _skinned(make_shape(fam, s)), None))
    if args.soft:
        assets.append(("soft_cube", lambda: mass_stage(collision_stage(pv_shapes.box(extents=(0.1, 0.1, 0.1)))),
                       "soft"))
    cesium = shared / "rigged" / "CesiumMan.glb"
    if cesium.is_file():
        from n4d4d.io.gltf_anim import skinned_asset

        assets.append(("CesiumMan", lambda: skinned_asset(cesium, fps=args.fps), "imported"))
    for pid in [p for p in args.partnet.split(",") if p]:
        urdf = shared / "partnet-mobility" / pid / "mobility.urdf"
        if urdf.is_file():
            assets.append((f"partnet_{pid}", lambda urdf=urdf: _partnet(urdf, opts), None))
        else:
            print(f"# {urdf} not found, skipped")

    header = (f"{'asset':<16} {'clip':<11} {'make_s':>6} {'check_s':>7} {'frames':>6} {'ok':>3} {'lim':>3} "
              f"{'pen_mm':>6} {'flt_mm':>6} {'ovl_mm':>6} {'skate':>5} {'reach':>7} {'marg_mm':>7} {'dV_%':>5}  reasons")
    print(header)
    per_family: dict[str, list[float]] = {}
    for label, make, only in assets:
        t0 = time.perf_counter()
        try:
            asset = make()
        except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
            print(f"{label:<16} build failed: {type(exc).__name__}: {exc}")
            continue
        prep = time.perf_counter() - t0
        if only == "imported":
            made = [(c, 0.0) for c in asset.motion_clips]
        elif only == "soft":
            t1 = time.perf_counter()
            made = [(make_clip(asset, "soft", opts.model_copy(update={"deformable": True})), 0.0)]
            made[0] = (made[0][0], time.perf_counter() - t1)
        else:
            fams, why = auto_families(asset)
            made = []
            for fam in fams + (["trot"] if "gait" in fams else []):
                t1 = time.perf_counter()
                try:
                    if fam == "trot":
                        from n4d4d.deformation.gait import gait_clip

                        clip = gait_clip(asset, pattern="trot", seed=0, fps=args.fps, seconds=args.seconds)
                    else:
                        clip = make_clip(asset, fam, opts)
                except NotApplicable as exc:
                    print(f"{label:<16} {fam:<11} not applicable: {exc}")
                    continue
                made.append((clip, time.perf_counter() - t1))
            for fam, reason in why.items():
                print(f"{label:<16} {fam:<11} skipped: {reason}")
        print(f"# {label}: prepared in {prep:.1f} s")
        for clip, secs in made:
            chk = clip_check(asset, clip)
            m = chk.measured
            per_family.setdefault(clip.name.split("_")[0] if clip.family != "imported" else "imported", []).append(secs)

            def mm(key):
                v = m.get(key)
                return f"{1e3 * v:6.2f}" if v is not None else f"{'-':>6}"

            reach = m.get("max_reach_error_rad") or m.get("max_reach_error_m")
            skate = m.get("foot_skate_ratio")
            marg = m.get("min_support_margin_m")
            dv = m.get("max_volume_change_pct")
            if clip.family == "soft":
                print(f"# {label} soft: inverted tets {m.get('inverted_tets')}, max strain {m.get('max_strain'):.3f}, "
                      f"tet volume change {m.get('tet_volume_change_pct'):.2f}%, final shape error "
                      f"{1e3 * m.get('final_shape_error_m'):.2f} mm, ends at rest {m.get('ends_at_rest')}")
            print(f"{label:<16} {clip.name:<11} {secs:6.2f} {chk.seconds:7.2f} {m['frames']:6d} "
                  f"{'yes' if chk.passed else 'NO':>3} {m['joint_limit_violations']:3d} "
                  f"{mm('max_ground_penetration_m')} {mm('max_float_m')} {mm('max_link_overlap_m')} "
                  f"{(f'{skate:5.3f}' if skate is not None else '-'):>5} "
                  f"{(f'{reach:7.3f}' if reach is not None else '-'):>7} "
                  f"{(f'{1e3 * marg:7.1f}' if marg is not None else '-'):>7} "
                  f"{(f'{dv:5.1f}' if dv is not None else '-'):>5}  {'; '.join(chk.reasons)[:160]}")
    print("\n# mean seconds per clip per family (make only)")
    for fam, xs in per_family.items():
        print(f"{fam:<11} {sum(xs) / len(xs):6.2f} s over {len(xs)} clip(s)")


if __name__ == "__main__":
    main()
