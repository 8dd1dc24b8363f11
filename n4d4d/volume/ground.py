"""Set a rigged asset back on the ground by its closed parts (after the rigging stage).

Loading sets the input on z = 0, but closing open part surfaces (:mod:`n4d4d.rigging.parts`)
gives a sheet about one voxel thick around where it was, so the closed parts can reach below
the ground the input stood on. Parts are what the collision hulls and the simulators see, so
they decide where the ground is. This module moves records only; it computes no geometry.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from n4d4d.asset import Asset

#: Part meshes whose lowest point is within this of z = 0 (m) are left where they are.
GROUND_TOLERANCE_M = 1e-6


def reground(asset: Asset) -> Asset:
    """Move the asset along z so that its lowest part point is at z = 0.

    PartNet-Mobility's cabinet 40147, whose bottom panel is an open sheet, comes out 15.9 mm
    below the ground after its parts are closed, and would start every physics check sunk.

    Moves ``source_mesh``, ``visual``, ``volume``, ``parts``, joint origins and collision
    hulls (a URDF's own colliders, filled at load) by the same
    offset (m, asset frame) and adds a note; an asset with a skeleton or motion clips (their
    frames are not moved here), without parts, or already on the ground within
    :data:`GROUND_TOLERANCE_M`, is returned unchanged (the same object).
    """
    if not asset.parts or asset.skeleton is not None or asset.motion_clips:
        return asset
    low = min(float(np.asarray(p.mesh.vertices)[:, 2].min()) for p in asset.parts)
    if abs(low) <= GROUND_TOLERANCE_M:
        return asset
    dz = np.array([0.0, 0.0, -low])

    def up(mesh):
        return None if mesh is None else mesh.replace(vertices=np.asarray(mesh.vertices) + dz)

    volume = asset.volume
    if volume is not None:
        volume = dataclasses.replace(volume, origin=np.asarray(volume.origin) + dz)
    return asset.replace(
        source_mesh=up(asset.source_mesh), visual=up(asset.visual), volume=volume,
        parts=tuple(dataclasses.replace(p, mesh=up(p.mesh)) for p in asset.parts),
        joints=tuple(dataclasses.replace(j, origin=np.asarray(j.origin) + dz) for j in asset.joints),
        collision={n: tuple(h.translated(dz) for h in hs) for n, hs in asset.collision.items()},
        notes=asset.notes + (f"moved {1e3 * -low:+.1f} mm along z: closed part meshes reach "
                             f"{'below' if low < 0 else 'above'} the ground the input stood on",))
