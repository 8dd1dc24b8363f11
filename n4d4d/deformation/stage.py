"""The ``animate`` stage: motion clips for an asset, chosen by its structure, each checked.

``--motion auto`` picks (:func:`auto_families`): ``articulate`` when a joint moves and the asset has
no legs (a legged asset's joints move in its gait; driven through their full range with the body
fixed they would only dig its feet into the ground); ``drop`` when the parts form one body tree;
``gait`` (walk) and ``idle`` when it has legs (:func:`.legs.find_legs`); ``idle`` for a skeleton
without legs; the input's own animation (``imported``) when it is a glTF file that has one
(:mod:`n4d4d.io.gltf_anim`). An asset bolted to the world (``asset.fixed_base``: an arm on its
table) gets no ``drop`` and no ``gait`` (both carry the root), and ``articulate`` even with legs.
``soft`` (:mod:`.soft`: a tetrahedral elastic body in Newton, dropped and pushed) when the asset
is marked ``--deformable``, with its Young's modulus and Poisson ratio. An explicit list makes exactly
those families; one that does not fit the asset is skipped with the reason in the record. Every
clip gets its plausibility check (:func:`.plausibility.clip_check`), summarised in the stage
record; the certificate puts the full checks into its verdict (:func:`.plausibility.clip_checks`).

This stage adds clips to ``asset.motion_clips`` (after any it already had) and changes nothing else.
"""

from __future__ import annotations

import time
from pathlib import Path

from n4d4d.asset import Asset, MotionClip, StageRecord

from .families import NotApplicable

#: Families made by this version.
FAMILIES = ("articulate", "drop", "gait", "idle", "soft")


def auto_families(asset: Asset) -> tuple[list[str], dict[str, str]]:
    """Families that fit ``asset`` (module docstring) and, for the others, why not."""
    from .legs import find_legs

    chosen, why = [], {}
    legs, _kind, no_legs = find_legs(asset) if (asset.parts or asset.skeleton is not None) else ([], "", "no parts")
    movable = [j for j in asset.joints if j.type != "fixed"]
    bolted = bool(asset.fixed_base)
    if movable and (bolted or not legs):
        chosen.append("articulate")
    elif not movable:
        why["articulate"] = "no movable joint"
    else:
        why["articulate"] = "the asset has legs: its joints move in its gait"
    roots = {p.name for p in asset.parts} - {j.child for j in asset.joints}
    if bolted:
        why["drop"] = "the base is bolted to the world (fixed_base): it does not fall"
    elif asset.parts and asset.collision and len(roots) == 1:
        chosen.append("drop")
    else:
        why["drop"] = ("no collision hulls" if not asset.collision else
                       f"the parts form {len(roots)} unconnected bodies (a clip carries one root pose)")
    if legs and not bolted:
        chosen += ["gait", "idle"]
    else:
        no_gait = "the base is bolted to the world (fixed_base): a gait carries the root" if legs else no_legs
        why["gait"] = no_gait
        if asset.skeleton is not None and asset.skin_weights is not None:
            chosen.append("idle")
        else:
            why["idle"] = no_gait
    return chosen, why


def make_clip(asset: Asset, family: str, opts) -> MotionClip:
    """One clip of ``family`` for ``asset`` with the build options' fps, seconds, seed, skinning.

    Raises:
        NotApplicable: the family does not fit the asset (the message says why).
    """
    if family == "articulate":
        from .articulate import articulate_clip

        if not any(j.type != "fixed" for j in asset.joints):
            raise NotApplicable("no movable joint")
        return articulate_clip(asset, fps=opts.fps, seconds=opts.seconds)
    if family == "drop":
        from .drop import drop_clip

        try:
            return drop_clip(asset, seed=opts.seed, fps=opts.fps, seconds=opts.seconds)
        except ValueError as exc:
            raise NotApplicable(str(exc)) from exc
    if family in ("gait", "idle"):
        from .gait import gait_clip, idle_clip

        fn = gait_clip if family == "gait" else idle_clip
        return fn(asset, seed=opts.seed, fps=opts.fps, seconds=opts.seconds, skinning=opts.skinning)
    if family == "soft":
        from n4d4d.errors import StageInputError

        from .soft import soft_clip

        if not opts.deformable:
            raise NotApplicable("the asset is not marked deformable (--deformable, with --youngs-modulus and "
                                "--poisson-ratio)")
        try:
            return soft_clip(asset, youngs_modulus=opts.youngs_modulus, poisson_ratio=opts.poisson_ratio,
                             seed=opts.seed, fps=opts.fps, seconds=opts.seconds)
        except StageInputError as exc:
            raise NotApplicable(str(exc)) from exc
    raise NotApplicable(f"unknown motion family '{family}'")


def _imported(asset: Asset, opts) -> tuple[list[MotionClip], str]:
    """The input's own glTF animations as clips, with per-frame vertices skinned on the asset's
    visual mesh, when the input is a glTF file with a skin and animations and the asset's skeleton
    is that skin's (same joint names and bind transforms, as :func:`n4d4d.io.gltf_anim.
    read_gltf_animation` reads them, moved into the asset frame like the loaded mesh: ``--rig
    from-file``); else ``([], reason)``."""
    import dataclasses

    import numpy as np

    src = asset.provenance.source if asset.provenance is not None else ""
    if Path(src).suffix.lower() not in (".glb", ".gltf"):
        return [], ""
    from n4d4d.errors import InputError
    from n4d4d.io.gltf_anim import frame_onto, read_gltf_animation

    from n4d4d.kinematics import skeleton_bind

    from .skinning import skin_clip

    try:
        anim = read_gltf_animation(src, fps=opts.fps, with_vertices=False)
    except InputError as exc:
        return [], f"the input's animation was not read: {exc.problem}"
    if asset.source_mesh is not None:  # into the asset frame, as the rigging stage moved the skin
        anim = anim.in_frame(frame_onto(anim, asset.source_mesh)[0])
    sk = asset.skeleton
    if sk is None or asset.skin_weights is None or tuple(sk.joint_names) != tuple(anim.skeleton.joint_names) \
            or not np.allclose(skeleton_bind(sk), anim.skeleton.bind_transforms, atol=1e-6):
        return [], "the input has an animation, but the asset's skeleton is not its skin (joints or bind pose differ)"
    return [dataclasses.replace(c, vertices=skin_clip(asset.visual.vertices, asset.skin_weights, sk, c, opts.skinning))
            for c in anim.clips], ""


def clip_figures(check) -> dict:
    """The stage record's summary of one clip's check: name, family, frames, verdict, key figures."""
    m = check.measured
    keys = ("frames", "duration_s", "joint_limit_violations", "max_ground_penetration_m", "max_float_m",
            "max_link_overlap_m", "foot_skate_ratio", "tracking_rms_max", "max_reach_error_rad",
            "max_reach_error_m", "max_volume_change_pct", "ends_at_rest", "min_support_margin_m",
            "rms_jerk_root_m_s3", "inverted_tets", "max_strain", "tet_volume_change_pct", "final_shape_error_m")
    return {"name": check.part, "family": check.details.get("family", ""), "passed": check.passed,
            "reasons": list(check.reasons), **{k: m[k] for k in keys if m.get(k) is not None},
            "check_seconds": check.seconds}


def summary_line(asset: Asset) -> str:
    """One line naming every clip with its frame count and verdict, for the build's summary, e.g.
    ``articulate 121f ok, drop 98f ok, gait_walk 121f skate 0.000``."""
    rec = next((s for s in reversed(asset.stages) if s.name == "animate"), None)
    if rec is None or not rec.figures.get("clips"):
        return "no motion clips"
    out = []
    for c in rec.figures["clips"]:
        text = f"{c['name']} {c['frames']}f {'ok' if c['passed'] else 'FAILED'}"
        if c.get("foot_skate_ratio") is not None:
            text += f" skate {c['foot_skate_ratio']:.3f}"
        if (c.get("max_ground_penetration_m") or 0.0) >= 1e-4:
            text += f" pen {1e3 * c['max_ground_penetration_m']:.1f}mm"
        out.append(text)
    return ", ".join(out)


def animate_stage(asset: Asset, opts) -> Asset:
    """The animate stage (module docstring).

    Args:
        asset: after the mass-and-drives stage (parts, hulls, mass; joints, drives, skeleton as
            the asset has them).
        opts: :class:`~n4d4d.options.BuildOptions` (``motion``, ``fps``, ``seconds``, ``seed``,
            ``skinning``).

    Returns:
        The asset with the new clips appended to ``motion_clips`` and an "animate" stage record:
        ``motion``, ``families`` made, ``skipped`` (family -> reason), ``clips`` (per clip: name,
        family, frames, verdict, reasons, key plausibility figures, seconds to make),
        ``skinning``, ``fps``.
    """
    from .plausibility import clip_check

    t0 = time.perf_counter()
    motion = opts.motion
    if motion == "none":
        return asset.with_stage(StageRecord("animate", 0.0, {"motion": "none", "clips": [], "families": [],
                                                             "skipped": {}}))
    if motion == "auto":
        wanted, why = auto_families(asset)
        skipped = {k: v for k, v in why.items() if v}
        if opts.deformable:
            wanted.append("soft")
    else:
        wanted, skipped = [m for m in motion.split(",") if m], {}
    want_imported = motion == "auto" or "imported" in wanted
    wanted = [m for m in wanted if m != "imported"]
    clips, timing = [], {}
    for fam in wanted:
        t1 = time.perf_counter()
        try:
            clips.append(make_clip(asset, fam, opts))
            timing[clips[-1].name] = time.perf_counter() - t1
        except NotApplicable as exc:
            skipped[fam] = str(exc)
    if want_imported:
        t1 = time.perf_counter()
        imported, why_not = _imported(asset, opts)
        if not imported and not why_not and motion != "auto":  # asked for by name
            why_not = "the input is not a glTF file with a skin and an animation"
        if why_not:
            skipped["imported"] = why_not
        clips += imported
        for c in imported:
            timing[c.name] = (time.perf_counter() - t1) / len(imported)
    out = asset.replace(motion_clips=asset.motion_clips + tuple(clips))
    figures = []
    for c in clips:
        fig = clip_figures(clip_check(out, c))
        fig["make_seconds"] = timing.get(c.name, 0.0)
        figures.append(fig)
    record = StageRecord("animate", time.perf_counter() - t0, {
        "motion": motion, "families": [c.family for c in clips], "skipped": skipped, "clips": figures,
        "skinning": opts.skinning, "fps": opts.fps, "seed": opts.seed})
    return out.with_stage(record)
