"""Pipeline stages of physics validation: collision hulls, mass properties, the certificate.

Each stage is a function ``Asset -> Asset`` that checks its inputs with ``asset.require``,
fills its fields and appends a :class:`~n4d4d.asset.StageRecord` (seconds and key figures):

- :func:`collision_stage` fills ``asset.collision`` (CoACD hulls per part, :mod:`.decomposition`;
  or the input's own colliders, a URDF's primitives and meshes, checked: :func:`file_colliders`);
- :func:`mass_stage` fills ``asset.mass`` (:mod:`.mass`) and ``asset.drives`` (the joint servos,
  :func:`.rigid_model.drives_of`, computed once for every later stage); :func:`drives_stage`
  fills the drives alone, for an asset whose mass came from elsewhere;
- :func:`stability_stage` fills ``asset.physics``, the certificate (:mod:`.certificate`);
- :func:`.rest_pose.rest_pose_stage` (optional, right after loading) turns ``source_mesh`` onto its
  nearest stable resting face (in :mod:`.rest_pose`), for inputs authored in a pose they cannot
  rest in.

Apart from :func:`.rest_pose.rest_pose_stage`, the stages never change geometry or the material; a failed check is a verdict in the report,
not an exception. Exceptions are for bad input and exhausted budgets.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from n4d4d.asset import Asset, StageRecord
from n4d4d.errors import EmptyMeshError

from .rigid_model import drives_of
from .thresholds import FidelityThresholds


def _label(asset: Asset, part: str | None = None) -> str:
    """What errors name: the input file (or the asset name) and the part."""
    src = asset.provenance.source if asset.provenance is not None else asset.name
    return f"{src} (part {part})" if part and len(asset.parts) > 1 else src


def collision_stage(asset: Asset, *, max_hulls: int = 32, max_hull_vertices: int = 64,
                    time_budget_s: float = 60.0, seed: int = 0,
                    fidelity: FidelityThresholds | None = None, collision: str = "auto",
                    max_hulls_fallback: int = 64) -> Asset:
    """Convex hulls for every part (:func:`.decomposition.convex_decomposition`), or the
    input's own colliders where it has them (:func:`file_colliders`).

    Args:
        asset: with ``parts`` (closed part meshes, asset frame).
        max_hulls: hulls per part (32: Isaac Lab / PhysX GPU default).
        max_hull_vertices: vertices per hull (64: PhysX GPU limit).
        max_hulls_fallback: a decomposed part whose hulls miss the fidelity bounds at
            ``max_hulls`` is decomposed again with up to this many (when larger), and the second
            set is kept when it meets them, with a note and ``hull_budget_raised`` in its record
            (PartNet-Mobility cabinet 40147's body of panels: hull volume ratio 1.506 with 32
            hulls, 1.265 with 64, bound 1.35); 0 never does.
        time_budget_s: CPU seconds per part for the decomposition search (CoACD runs in a child
            process, retries, fidelity; this process's CPU and the child's both count, so a
            busy machine does not spend it), with a wall-clock hang guard of 10x. A part whose
            search runs out gets a cheaper fallback (coarse CoACD, V-HACD, its convex hull:
            :mod:`.fallback`) with its fidelity measured, and a note; the build fails only if
            that fidelity misses the certificate's bounds.
        seed: CoACD and fidelity-sampling seed.
        fidelity: fidelity bounds (default :class:`FidelityThresholds`).
        collision: ``"auto"``: a part with colliders from the input (``asset.collision`` as
            the URDF loader filled it) keeps them: primitives as they are, convex meshes as
            their hulls, a non-convex closed mesh decomposed; a part whose collision meshes
            include open surfaces (PartNet-Mobility gives its visual pieces) is decomposed from
            its closed mesh instead, with a note; ``"from-file"``: every collider
            as given (a mesh as its convex hull, as PyBullet reads a URDF's collision mesh);
            ``"recompute"``: the input's colliders are dropped and every part's mesh is
            decomposed. Parts without colliders from the input are decomposed in every mode.

    A part small beside its asset (:attr:`FidelityThresholds.small_part_fraction`) is judged at
    the asset's scale and given its convex hull when that meets the bounds so judged, without
    CoACD: small parts cost a hull each, not a search. A small part whose one hull the cuts
    cannot keep clear of a neighbour's is decomposed by CoACD after all and the cuts made again
    (``clip.fast_path_blocked`` names them).

    Returns:
        The asset with ``collision`` = part name -> hulls, and a "collision" stage record
        (per part: method, hulls, max hull vertices, seconds, CPU seconds, volume ratio,
        surface distance mean / p95 in % of the diagonal, fidelity verdict, attempts,
        fallback; ``source`` "file" or "decomposed"), ``cpu_seconds`` in all, ``collision_mode``,
        ``from_file`` (parts that kept the input's colliders) and ``primitives`` (their
        count), ``clip`` (decomposed hulls cut back into their part's box and clear of the
        hulls of parts the simulators collide, :func:`.hull_clip.clip_collision`; a cut part's
        fidelity figures are re-measured); the fallbacks' notes join ``asset.notes``.

    Raises:
        StageInputError: no parts. EmptyMeshError / InputError: a degenerate part.
        ValueError: an unknown ``collision`` mode.
    """
    from n4d4d.budget import process_cpu_seconds

    from .decomposition import convex_decomposition

    import numpy as np

    asset.require("collision", "parts")
    if collision not in COLLISION_MODES:
        raise ValueError(f"collision must be one of {COLLISION_MODES}, got {collision!r}")
    t0, c0 = time.perf_counter(), process_cpu_seconds()
    given = {} if collision == "recompute" else _given_colliders(asset)
    collision_out, per_part, notes = {}, {}, []
    bounds = np.array([p.mesh.bounds for p in asset.parts])  # (P, 2, 3)
    diagonal = float(np.linalg.norm(bounds[:, 1].max(axis=0) - bounds[:, 0].min(axis=0)))
    for part in asset.parts:
        big = diagonal if len(asset.parts) > 1 else None
        fig = None
        if collision == "auto" and given.get(part.name) and _open_colliders(given[part.name]):
            notes.append(f"collision of {_label(asset, part.name)}: the input's collision meshes are open surfaces "
                         f"({_open_colliders(given[part.name])} of {len(given[part.name])}), not solids: the closed part "
                         "is decomposed instead (--collision from-file takes each as its convex hull)")
        elif given.get(part.name):
            try:
                hulls, fig = file_colliders(part.mesh, given[part.name], mode=collision, max_hulls=max_hulls,
                                            max_hull_vertices=max_hull_vertices, time_budget_s=time_budget_s, seed=seed,
                                            name=_label(asset, part.name), fidelity=fidelity, asset_diagonal=big)
            except EmptyMeshError:
                notes.append(f"collision of {_label(asset, part.name)}: the input's colliders are all flat; "
                             "decomposed the part instead")
        if fig is None:
            hulls, fig = convex_decomposition(part.mesh, max_hulls=max_hulls, max_hull_vertices=max_hull_vertices,
                                              time_budget_s=time_budget_s, seed=seed, name=_label(asset, part.name),
                                              fidelity=fidelity, asset_diagonal=big)
            if not fig["fidelity_passed"] and max_hulls_fallback > max_hulls:
                more, fig2 = convex_decomposition(part.mesh, max_hulls=max_hulls_fallback,
                                                  max_hull_vertices=max_hull_vertices, time_budget_s=time_budget_s,
                                                  seed=seed, name=_label(asset, part.name), fidelity=fidelity,
                                                  asset_diagonal=big)
                raised = {"from": max_hulls, "to": max_hulls_fallback, "hulls": len(more),
                          "volume_ratio_before": fig["volume_ratio"], "volume_ratio_after": fig2["volume_ratio"],
                          "kept": bool(fig2["fidelity_passed"])}
                if fig2["fidelity_passed"]:
                    hulls, fig = more, fig2
                    notes.append(f"collision of {_label(asset, part.name)}: {max_hulls} hulls missed the fidelity "
                                 f"bounds (hull volume ratio {raised['volume_ratio_before']:.3f}); {len(more)} hulls "
                                 f"meet them ({raised['volume_ratio_after']:.3f}, --max-hulls-fallback "
                                 f"{max_hulls_fallback})")
                fig["hull_budget_raised"] = raised
            fig["source"] = "decomposed"
        fig["small_part"] = "asset_scale" in fig["fidelity"]
        collision_out[part.name] = hulls
        per_part[part.name] = {k: v for k, v in fig.items() if k not in ("thresholds",)}
        notes += fig["notes"]
    from .hull_clip import clip_collision  # hulls kept in their part's box and clear of colliding parts

    def cut(hulls, figs):
        return clip_collision(asset, hulls, figs, fidelity=fidelity or FidelityThresholds(), seed=seed,
                              max_vertices=max_hull_vertices, asset_diagonal=diagonal)

    clipped, clipped_figs, clip_fig, clip_notes = cut(collision_out, per_part)
    redo = _blocked_fast_paths(clip_fig, per_part)
    if redo:  # a small part's one hull that no cut keeps clear of a neighbour: CoACD gives it more
        for name in redo:
            part = next(p for p in asset.parts if p.name == name)
            hulls, fig = convex_decomposition(part.mesh, max_hulls=max_hulls, max_hull_vertices=max_hull_vertices,
                                              time_budget_s=time_budget_s, seed=seed, name=_label(asset, name),
                                              fidelity=fidelity, asset_diagonal=diagonal, fast_path=False)
            fig.update(source="decomposed", small_part="asset_scale" in fig["fidelity"], fast_path_blocked=True)
            collision_out[name], per_part[name] = hulls, {k: v for k, v in fig.items() if k not in ("thresholds",)}
            notes += fig["notes"]
        notes.append(f"collision: {', '.join(redo)} took CoACD instead of the small-part convex fast path: "
                     "its one hull overlapped a neighbour's where no cut could part them")
        clipped, clipped_figs, clip_fig, clip_notes = cut(collision_out, per_part)
        clip_fig["fast_path_blocked"] = redo
    collision_out, per_part, clip = clipped, clipped_figs, clip_fig
    notes += clip_notes
    figures = {
        "collision_mode": collision,
        "from_file": [n for n, f in per_part.items() if f.get("source") == "file"],
        "primitives": sum(h.primitive is not None for hs in collision_out.values() for h in hs),
        "parts": per_part,
        "hulls_total": sum(len(h) for h in collision_out.values()),
        "max_hull_vertices": max(f["max_hull_vertices"] for f in per_part.values()),
        "fidelity_passed": all(f["fidelity_passed"] for f in per_part.values()),
        "fallbacks": sum(f["fallback"] is not None for f in per_part.values()),
        "clip": clip,
        "cpu_seconds": process_cpu_seconds() - c0,
        "budgets": {"max_hulls": max_hulls, "max_hull_vertices": max_hull_vertices, "time_budget_s": time_budget_s,
                    "time_budget_unit": "CPU seconds per part"},
    }
    return asset.with_stage(StageRecord("collision", time.perf_counter() - t0, figures), collision=collision_out,
                            notes=asset.notes + tuple(notes))


def _blocked_fast_paths(clip: dict, per_part: dict) -> list[str]:
    """Parts that took the small-part convex fast path (one hull) and whose hull the cuts left
    overlapping a neighbour's (``clip["unresolved"]`` with hulls named; not the pairs whose
    solids themselves overlap): PartNet-Mobility phone 103251's buttons link_4 / link_5, one
    hull each, 10 mm into each other, where a plane between them would uncover all of one."""
    names = []
    for u in clip.get("unresolved", []):
        if not u.get("hulls"):
            continue
        for n in u["parts"]:
            f = per_part.get(n, {})
            if f.get("method") == "convex" and f.get("small_part") and f.get("source") == "decomposed" and n not in names:
                names.append(n)
    return names


#: ``collision_stage``'s modes (``--collision``, :class:`n4d4d.options.BuildOptions`).
COLLISION_MODES = ("auto", "from-file", "recompute")


def _given_colliders(asset: Asset) -> dict:
    """Part name -> the input's own colliders (``asset.collision`` as loading filled it). A
    one-part asset whose part is not one of the input's bodies (rigging made the input one
    rigid part) gets all of them."""
    given = {n: tuple(hs) for n, hs in asset.collision.items() if hs}
    names = {p.name for p in asset.parts}
    if given and len(asset.parts) == 1 and not names & set(given):
        return {asset.parts[0].name: tuple(h for hs in given.values() for h in hs)}
    return {n: hs for n, hs in given.items() if n in names}


def _open_colliders(given) -> int:
    """How many of a part's collision meshes (not primitives) are not closed solids."""
    import numpy as np
    import trimesh

    def closed(h) -> bool:
        tm = trimesh.Trimesh(np.asarray(h.vertices), np.asarray(h.faces), process=False)
        if not tm.is_watertight:  # UV / normal seams split vertices: merged, the surface may close
            tm.merge_vertices(merge_tex=True, merge_norm=True)
        return bool(tm.is_watertight and tm.is_winding_consistent and tm.volume > 0)

    return sum(h.primitive is None and not closed(h) for h in given)


def file_colliders(mesh, given, *, mode: str = "auto", max_hulls: int = 32, max_hull_vertices: int = 64,
                   time_budget_s: float = 60.0, seed: int = 0, name: str = "",
                   fidelity: FidelityThresholds | None = None, asset_diagonal: float | None = None):
    """A part's colliders from its input (a URDF's ``<collision>`` elements), checked.

    Args:
        mesh: the part's closed surface (asset frame, m): what the colliders are measured against.
        given: the input's colliders for the part (:class:`~n4d4d.asset.Mesh` es, asset
            frame): a hull carrying a :class:`~n4d4d.asset.CollisionPrimitive` is an analytic
            shape, any other a collision mesh as read (maybe non-convex or open).
        mode: ``"auto"``: primitives kept (their hull rebuilt by
            :func:`.primitives.primitive_hull`: at most ``max_hull_vertices`` vertices, the
            shape's volume), a convex mesh (volume at least
            :attr:`FidelityThresholds.convex_fast_path_ratio` of its hull's) kept as its hull
            (cut to ``max_hull_vertices``), a non-convex closed mesh decomposed
            (:func:`.decomposition.convex_decomposition`, ``max_hulls`` at most, the CPU budget
            shared by the part's meshes), an open one given its convex hull;
            ``"from-file"``: every mesh as its convex hull, as given (PyBullet's reading).
        max_hulls: hull budget; when the meshes' hulls exceed it they are merged
            (:func:`.hulls.merge_to_budget`; primitives are never merged, and a part with more
            primitives than the budget says so in ``budget_exceeded``).
        fidelity, seed, asset_diagonal: as :func:`.decomposition.convex_decomposition`.

    Returns:
        ``(hulls, figures)``: the colliders (tuple of :class:`~n4d4d.asset.Mesh`), and the
        figures of :func:`.decomposition.convex_decomposition` (method ``"from-file"``,
        fidelity of the colliders against ``mesh``, its verdict and misses) plus ``source``
        "file", ``colliders`` (per given collider: kind, what was done, hulls), ``primitives``
        and ``budget_exceeded``.

    Raises:
        ValueError: an unknown ``mode``. EmptyMeshError: every collider is flat (flat ones
        among others are skipped, with a note).
    """
    import numpy as np
    import trimesh

    from n4d4d.budget import process_cpu_seconds

    from .decomposition import convex_decomposition, measure
    from .fidelity import asset_scale, fidelity_misses
    from .hulls import hull_of, merge_to_budget, reduce_hull
    from .primitives import primitive_hull
    from .thresholds import as_dict

    if mode not in ("auto", "from-file"):
        raise ValueError(f"file_colliders mode must be 'auto' or 'from-file', got {mode!r}")
    fidelity = fidelity or FidelityThresholds()
    t0, c0 = time.perf_counter(), process_cpu_seconds()
    prims, meshes, done, notes = [], [], [], []
    n_meshes = sum(h.primitive is None for h in given)
    for k, h in enumerate(given):
        if h.primitive is not None:
            prims.append(primitive_hull(h.primitive, max_hull_vertices))
            done.append({"collider": k, "kind": h.primitive.kind, "kept": "primitive", "hulls": 1})
            continue
        tm = trimesh.Trimesh(np.asarray(h.vertices), np.asarray(h.faces), process=False)
        full = hull_of(h.vertices)
        if full is None:  # a flat sheet: nothing a hull can collide with
            done.append({"collider": k, "kind": "mesh", "kept": "skipped (flat: no volume)", "hulls": 0})
            continue
        closed = tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
        convexity = float(tm.volume / full.volume) if closed else None
        if mode == "from-file" or not closed or convexity >= fidelity.convex_fast_path_ratio:
            how = ("convex hull (as given: --collision from-file)" if mode == "from-file"
                   else "convex hull (open mesh)" if not closed else "convex hull (convex mesh)")
            hull = reduce_hull(np.asarray(full.vertices), max_hull_vertices)
            if hull is None:  # a sliver that qhull cannot hull once cut to the vertex budget
                done.append({"collider": k, "kind": "mesh", "kept": "skipped (flat: no volume)", "hulls": 0})
                continue
            meshes.append(hull)
            done.append({"collider": k, "kind": "mesh", "kept": how, "convexity_ratio": convexity, "hulls": 1})
            continue
        sub, fig = convex_decomposition(h, max_hulls=max_hulls, max_hull_vertices=max_hull_vertices,
                                        time_budget_s=time_budget_s / max(n_meshes, 1), seed=seed, name=name,
                                        fidelity=fidelity)
        meshes += list(sub)
        notes += fig["notes"]
        done.append({"collider": k, "kind": "mesh", "kept": f"decomposed ({fig['method']}: not convex)",
                     "convexity_ratio": convexity, "hulls": len(sub)})
    if len(prims) + len(meshes) > max_hulls and meshes:
        meshes = merge_to_budget(meshes, max(max_hulls - len(prims), 1), max_hull_vertices)
    hulls = tuple(prims + [m for m in meshes if m is not None])
    skipped = sum(d["hulls"] == 0 for d in done)
    if skipped:
        notes.append(f"collision of {name or 'a part'}: {skipped} flat collision mesh(es) of the input skipped")
    if not hulls:
        raise EmptyMeshError("the input's collision geometry of the part is all flat (no volume)", name or None)
    small = asset_scale(mesh.diagonal, asset_diagonal, fidelity) is not None  # judged at the asset's scale
    fid = measure(mesh, hulls, fidelity, seed, asset_diagonal if small else None)
    misses = fidelity_misses(fid, fidelity)
    exceeded = len(hulls) > max_hulls
    if exceeded:
        notes.append(f"collision of {name or 'a part'}: the input's {len(prims)} primitives exceed the "
                     f"{max_hulls}-hull budget and are all kept")
    figures = {
        "method": "from-file", "source": "file", "hulls": len(hulls),
        "max_hull_vertices": max(len(h.vertices) for h in hulls), "seconds": time.perf_counter() - t0,
        "cpu_seconds": process_cpu_seconds() - c0, "convexity_ratio": None, "volume_ratio": fid["volume_ratio"],
        "surface_distance_mean_pct": fid["mean_pct"], "surface_distance_p95_pct": fid["p95_pct"], "fidelity": fid,
        "fidelity_passed": not misses, "fidelity_misses": misses, "attempts": [], "fallback": None, "notes": notes,
        "colliders": done, "primitives": len(prims), "budget_exceeded": exceeded,
        "budgets": {"max_hulls": max_hulls, "max_hull_vertices": max_hull_vertices, "time_budget_s": time_budget_s},
        "thresholds": as_dict(fidelity),
    }
    return hulls, figures


def mass_stage(asset: Asset, *, density: float | None = None, mass: float | None = None,
               shell_thickness: float | None = None, file_inertials: bool | None = None) -> Asset:
    """Mass, centre of mass and inertia of every part (:func:`.mass.mass_properties`), and the
    drive of every movable joint (:func:`.rigid_model.drives_of`): the sim-ready body.

    Args:
        asset: with ``parts``.
        density: kg/m^3 for every part; default ``asset.material.density``.
        mass: total kg instead of a density; parts share one uniform density (mass
            distributed by material volume: a shell's wall, a solid's volume).
        shell_thickness: wall thickness (m) of hollow parts; None decides per part from the
            geometry (:func:`.mass.mass_model`: thin-walled parts are shells, parts with a
            modelled cavity and bulky parts solid), 0 makes every part solid, T > 0 every part
            a shell of wall T. A shell's mass and inertia are the wall's
            (:func:`.mass.shell_mass_properties`), not the enclosed solid's.
        file_inertials: use the mass properties the input declares (``asset.inertials``, a
            URDF's ``<inertial>`` s: :func:`n4d4d.io.urdf.file_inertials`) for the parts it
            gives them for. None (the build's default): used unless ``mass`` is given or the
            build's options (``asset.provenance.options``) set a density explicitly: ``--mass``
            and ``--density`` override the file. True / False: always / never.

    File values are used as the file gives them (kg, m, kg m^2), moved by the translation that
    set the asset on the ground: a URDF is never rescaled (size options are refused for it).
    Were the source mesh rescaled or turned since load (its extents differ), the file's values
    would no longer describe the geometry (constant density would scale mass by s^3 and
    inertia by s^5): the stage then computes every part's mass and notes why. A part the file
    gives none for (no ``<inertial>``, or no positive mass: noted at load) is computed as below;
    one with a positive mass but an unusable tensor (zeros, say) gets the file's mass with the
    geometry's COM and inertia scaled to it. The record says per part ``mass_source``:
    ``"file"``, ``"file_mass"`` or ``"computed"``.

    A part whose mesh encloses no volume (an open part surface) gets the mass properties of
    the union of its collision hulls, when it has them, and the stage record says so.

    Drives are computed here, once: every later stage (the physics checks in both engines,
    the exporters, physics-driven motion) reads ``asset.drives`` and computes none.

    Returns:
        The asset with ``mass`` = part name -> MassProperties, ``drives`` = joint name ->
        :class:`~n4d4d.asset.Drive` (SI gains per radian or metre, critically damped at
        :data:`.rigid_model.NATURAL_FREQUENCY_HZ`) and a "mass" stage record (per-part mass,
        volume (material: a shell's wall), COM; total mass; density; the source of each part's
        volume; ``mass_model`` (solid / shell, wall thickness, sides, why: :func:`.mass.mass_model`);
        ``drives``: joint -> kind, stiffness, damping, max_force).

    Raises:
        StageInputError: no parts. ValueError: both ``density`` and ``mass`` given, or a
        non-positive one. EmptyMeshError: a part with no volume and no hulls.
        KinematicsError: the joints do not form a forest, or a movable joint's axis is zero.
    """
    import numpy as np

    from n4d4d.asset import Mesh

    from .fidelity import hull_union
    from .mass import mass_model, mass_properties, shell_mass_properties

    asset.require("mass", "parts")
    if density is not None and mass is not None:
        raise ValueError("give density or mass, not both")
    t0 = time.perf_counter()
    solids, source = {}, {}
    for part in asset.parts:
        try:
            mass_properties(part.mesh, density=1.0, name=_label(asset, part.name))
            solids[part.name], source[part.name] = _solid(part.mesh)
        except EmptyMeshError:
            hulls = asset.collision.get(part.name)
            if not hulls:
                raise
            um = hull_union(hulls).to_mesh64()
            solids[part.name] = Mesh(np.asarray(um.vert_properties)[:, :3], np.asarray(um.tri_verts, dtype=np.int64))
            source[part.name] = "union of collision hulls (part mesh encloses no volume)"
    models = {n: mass_model(m, shell_thickness) for n, m in solids.items()}

    def props_at(rho: float) -> dict:
        return {n: (shell_mass_properties(m, models[n]["wall_thickness_m"], density=rho, sides=models[n]["sides"],
                                          name=_label(asset, n))
                    if models[n]["model"] == "shell" else mass_properties(m, density=rho, name=_label(asset, n)))
                for n, m in solids.items()}

    if mass is not None:
        rho = mass / sum(u.volume for u in props_at(1.0).values())
    else:
        rho = density if density is not None else asset.material.density
    props = props_at(rho)
    declared, inertial_notes = _declared_mass(asset, mass, file_inertials)
    source_of = {}
    for n, fp in declared.items():
        if n not in props:
            continue
        if isinstance(fp, float):  # the file's mass alone: the geometry's COM and inertia, scaled to it
            k = fp / props[n].mass
            props[n] = dataclasses.replace(props[n], mass=fp, inertia=props[n].inertia * k,
                                           principal_moments=props[n].principal_moments * k,
                                           density=props[n].density * k)
            source_of[n] = "file_mass"
        else:
            props[n] = dataclasses.replace(fp, volume=props[n].volume, density=fp.mass / props[n].volume)
            source_of[n] = "file"
    drives = drives_of(asset.replace(mass=props))
    figures = {
        "density_kg_m3": rho, "total_mass_kg": sum(p.mass for p in props.values()),
        "parts": {n: {"mass_kg": p.mass, "volume_m3": p.volume, "center_of_mass_m": p.center_of_mass.tolist(),
                      "principal_moments_kg_m2": p.principal_moments.tolist(), "volume_source": source[n],
                      "mass_model": models[n], "mass_source": source_of.get(n, "computed")}
                  for n, p in props.items()},
        "mass_models": {k: sum(m["model"] == k for m in models.values()) for k in ("solid", "shell")},
        "mass_sources": {k: sum(source_of.get(n, "computed") == k for n in props) for k in ("file", "file_mass", "computed")},
        "inertials_notes": inertial_notes,
        "drives": _drive_figures(drives),
    }
    return asset.with_stage(StageRecord("mass", time.perf_counter() - t0, figures), mass=props, drives=drives)


def _declared_mass(asset: Asset, mass: float | None, use: bool | None) -> tuple[dict, list[str]]:
    """The input's declared mass properties (``asset.inertials``) moved into the asset frame,
    part name -> MassProperties (or kg alone, for a part whose file inertia is unusable), and notes on why some or all are not used (the rule:
    :func:`mass_stage`)."""
    import numpy as np

    fi = asset.inertials
    if fi is None or use is False:
        return {}, []
    notes = list(fi.notes)
    if use is None:
        options = asset.provenance.options if asset.provenance is not None else {}
        if mass is not None:
            return {}, notes + ["--mass given: the file's <inertial> masses are overridden"]
        if options.get("density") is not None:
            return {}, notes + ["--density given: the file's <inertial> masses are overridden"]
    src = asset.source_mesh
    if src is None:
        return {}, notes + ["no source mesh to place the file's inertials: all masses computed"]
    ext = np.ptp(np.asarray(src.vertices), axis=0)
    if not np.allclose(ext, fi.source_extents, rtol=0, atol=1e-9 * max(float(np.linalg.norm(ext)), 1e-12)):
        return {}, notes + [f"the source mesh was rescaled or turned since load (extents {ext.round(6).tolist()} m, "
                            f"file frame {np.round(fi.source_extents, 6).tolist()} m): the file's inertials no longer "
                            "describe the geometry, all masses computed"]
    shift = src.bounds[0] - np.asarray(fi.source_low)
    out = {n: float(m) for n, m in fi.masses.items()}
    out.update({n: dataclasses.replace(p, center_of_mass=np.asarray(p.center_of_mass) + shift) for n, p in fi.parts.items()})
    return out, notes


def _drive_figures(drives) -> dict:
    return {n: {"kind": d.kind, "stiffness_si": d.stiffness, "damping_si": d.damping, "max_force": d.max_force,
                "frequency_hz": d.frequency_hz} for n, d in drives.items()}


def drives_stage(asset: Asset, *, frequency_hz: float | None = None) -> Asset:
    """The drives of an asset whose mass properties are already there (built by hand, or to
    tune the servo): ``asset.drives`` from :func:`.rigid_model.drives_of`. The pipeline does not
    call it: :func:`mass_stage` fills the drives with the mass.

    Args:
        asset: with ``parts`` and ``mass`` (and joints; none gives no drives).
        frequency_hz: closed-loop natural frequency of every servo (Hz), default
            :data:`.rigid_model.NATURAL_FREQUENCY_HZ`.

    Returns:
        The asset with ``drives`` (joint name -> :class:`~n4d4d.asset.Drive`, SI units per
        radian or metre) and a "drives" stage record.

    Raises:
        StageInputError: no parts or no mass. KinematicsError: the joints do not form a forest.
    """
    from .rigid_model import NATURAL_FREQUENCY_HZ

    asset.require("drives", "parts", "mass")
    t0 = time.perf_counter()
    drives = drives_of(asset, NATURAL_FREQUENCY_HZ if frequency_hz is None else frequency_hz)
    return asset.with_stage(StageRecord("drives", time.perf_counter() - t0, {"drives": _drive_figures(drives)}),
                            drives=drives)


def _solid(mesh):
    """The solid a closed part mesh bounds: the mesh itself, or, when it is several shells
    that overlap (pybullet_data's teddy: 15 convex shells), their boolean union (manifold3d),
    whose volume counts the overlaps once where the shells' signed volumes count them twice."""
    import manifold3d as mf
    import numpy as np
    import trimesh

    from n4d4d.asset import Mesh

    tm = trimesh.Trimesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), process=False)
    if tm.body_count <= 1:
        return mesh, "part mesh"
    shells = tm.split(only_watertight=False)
    solids = []
    for sh in shells:
        m = mf.Manifold(mf.Mesh64(vert_properties=np.array(sh.vertices, dtype=np.float64, order="C"),
                                  tri_verts=np.array(sh.faces, dtype=np.uint64, order="C")))
        if m.status() != mf.Error.NoError or m.is_empty():
            return mesh, "part mesh (shells not each a closed manifold: overlaps not resolved)"
        solids.append(m)
    union = mf.Manifold.batch_boolean(solids, mf.OpType.Add)
    if abs(union.volume() - float(tm.volume)) <= 1e-9 * abs(float(tm.volume)):
        return mesh, f"part mesh ({len(shells)} disjoint shells)"
    um = union.to_mesh64()
    return (Mesh(np.asarray(um.vert_properties)[:, :3], np.asarray(um.tri_verts, dtype=np.int64)),
            f"union of its {len(shells)} overlapping shells")


def stability_stage(asset: Asset, *, seed: int = 0, time_budget_s: float = 60.0,
                    engines: Sequence[str] = ("pybullet", "newton"), orientations: int = 3,
                    thresholds=None, usd_path: str | Path | None = None,
                    usd_writer: Callable[[Asset, Path], Path] | None = None, budget=None) -> Asset:
    """The physics certificate (:func:`.certificate.certify`) as ``asset.physics``.

    Args:
        asset: with parts, collision hulls and mass properties (joints and motion clips are
            checked when present).
        seed: seeds rest tilt and drop orientations.
        time_budget_s: CPU seconds for all checks (this process's and its children's), with a
            wall-clock hang guard of 10x (:class:`n4d4d.budget.Budget`); loading the engines and
            compiling Warp kernels are charged to nothing (the stage record's ``budget`` shows
            them apart).
        engines: "pybullet" and/or "newton" (default both: the certificate of issue 4; Newton
            adds ~1-3 s per asset once imported, ~1.5-3 s more for its articulation sweeps when
            the asset has movable joints, ~3 s for its import, and minutes the very first time
            on a machine, when Warp compiles its kernels).
        orientations: drops per engine.
        thresholds: a :class:`~.certificate.Thresholds` bundle (default thresholds).
        usd_path: the asset's USD export that Newton checks, the file that ships (the pipeline
            writes it into its staging folder first); ``report["usd_sha256"]`` is its SHA-256.
        usd_writer: without ``usd_path``, ``usd_writer(asset, path) -> path`` writes one into a
            temporary folder (e.g. :func:`n4d4d.exporters.usd.write_usd`). With neither,
            Newton does not run and the report's ``warnings`` says so.
        budget: a running :class:`~n4d4d.budget.Budget` to charge instead of a fresh one of
            ``time_budget_s`` CPU seconds.

    Returns:
        The asset with ``physics`` (JSON-ready: ``passed``, ``reasons``, ``warnings``,
        ``checks``, ``engines``, per-engine sections, ``collision_fidelity``, ``thresholds``,
        ``usd_sha256``) and a "physics" stage record.

    Raises:
        StageInputError: missing parts, hulls or mass, or a USD file that is not the asset's.
        HangError (a TimeBudgetError): the hang guard tripped (names the input file); checks
            that run past ``time_budget_s`` CPU seconds instead fail the certificate with a
            "budget" check naming those not run. MissingFileError: ``usd_path`` names no file.
    """
    from .certificate import certify

    asset.require("physics", "parts", "collision", "mass")
    t0 = time.perf_counter()
    report = certify(asset, seed=seed, time_budget_s=time_budget_s, engines=tuple(engines),
                     orientations=orientations, thresholds=thresholds, label=_label(asset), usd_path=usd_path,
                     usd_writer=usd_writer, budget=budget)
    figures = {"passed": report["passed"], "engines": list(report["engines"]),
               "checks": len(report["checks"]), "failed": [c["name"] for c in report["checks"] if not c["passed"]],
               "seconds_per_check": report["seconds_per_check"], "budget": report["budget"],
               "newton_contact_filter": (report.get("newton") or {}).get("contact_filter")}
    return asset.with_stage(StageRecord("physics", time.perf_counter() - t0, figures), physics=report)
