"""The static stage: a watertight, manifold visual mesh and the sparse SDF volume it came from.

Runs after the rest pose (so the volume is built in the pose the asset rests in) and before
rigging. The remesh itself is :func:`n4d4d.volume.remesh_watertight`; this module only adapts
it to the :class:`~n4d4d.asset.Asset` record and the build options.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from n4d4d.asset import Asset, StageRecord
from n4d4d.errors import EmptyMeshError
from n4d4d.options import BuildOptions


def static_stage(asset: Asset, opts: BuildOptions) -> Asset:
    """Fill ``visual`` (watertight mesh, asset frame, m) and ``volume`` from ``source_mesh``.

    Uses ``opts.resolution`` (cells along the longest side), ``max_faces``, ``remesh`` and
    ``memory_budget_gb``. The input's texture or vertex colours, which the remesh drops, are
    transferred onto the new mesh (:func:`n4d4d.volume.texture.transfer_appearance`: UV atlas
    and baked base-colour texture, or vertex colours; ``figures["appearance"]``). Raises
    StageInputError without a source mesh, EmptyMeshError when the remesh is empty, MemoryBudgetError when the volume would not fit the budget.
    """
    from n4d4d.volume import remesh_watertight

    asset.require("static", "source_mesh")
    t0 = time.perf_counter()
    visual, volume, figures = remesh_watertight(
        asset.source_mesh, resolution=opts.resolution, max_faces=opts.max_faces, mode=opts.remesh,
        memory_budget_bytes=int(opts.memory_budget_gb * 2**30), path=asset.provenance.source,
        seed=opts.seed)
    if len(visual.faces) == 0:
        raise EmptyMeshError("the watertight remesh is empty", asset.provenance.source)
    src = asset.source_mesh
    lost_texture = src.texture_png is not None and src.uvs is not None and (
        visual.texture_png is None or (visual.uvs is None and visual.face_uvs is None))
    lost_colors = src.vertex_colors is not None and visual.vertex_colors is None
    if lost_texture or lost_colors:  # the remesh dropped them: bake them back (closest point)
        from n4d4d.volume.texture import transfer_appearance

        visual, figures["appearance"] = transfer_appearance(visual, src)
    parts = asset.parts
    if parts and (len(visual.faces) != len(src.faces) or not np.array_equal(visual.faces, src.faces)):
        # a URDF's parts index faces of the loaded mesh: the remesh has other faces, so the
        # parts keep their own meshes (materials included) and no index into ``visual``
        parts = tuple(dataclasses.replace(p, face_indices=None) for p in parts)
    return asset.with_stage(StageRecord("static", time.perf_counter() - t0, figures),
                            visual=visual, volume=volume, parts=parts)
