"""Synthetic sparse voxel sets shaped like the data of sparse 3D generation, for tests and benchmarks.

The occupied voxels of a sparse SDF latent lie in a thin band around a surface, so a block of side
``b`` holds about ``b**2`` of its ``b**3`` voxels. :func:`shell_coords` makes such sets: the voxels
within half a voxel of a sphere, randomly thinned to an exact count. It does not make real shapes
(those come from :mod:`n4d4d.volume`).
"""

from __future__ import annotations

import math

import torch


def shell_coords(n: int, seed: int, thickness: float = 1.0, radius: float | None = None) -> torch.Tensor:
    """``(n, 3)`` int32 unique voxel coordinates (x, y, z >= 0) on a sphere shell, random order.

    The sphere's radius (in voxels) is ``radius``, or by default the smallest for which the shell of
    ``thickness`` voxels holds ``n`` voxels (about ``4 pi r**2 thickness``); it grows by 10% steps
    until the shell holds at least ``n`` voxels, and ``n`` of them are kept at random
    (``torch.Generator`` seeded with ``seed``); a large ``radius`` gives a sparser, wider set.
    Needs ``n >= 1``.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    gen = torch.Generator().manual_seed(seed)
    r = max(2.0, math.sqrt(n / (4 * math.pi * thickness)) if radius is None else float(radius))
    while True:
        side = int(math.ceil(2 * r + thickness)) + 2
        c = (side - 1) / 2.0
        ax = torch.arange(side, dtype=torch.float32)
        yz = torch.stack(torch.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
        pts = []
        for x in range(side):                                       # slice by slice: O(side^2) memory
            d = torch.sqrt((x - c) ** 2 + ((yz - c) ** 2).sum(-1))
            keep = (d - r).abs() <= thickness / 2
            sel = yz[keep]
            pts.append(torch.cat([torch.full((sel.shape[0], 1), float(x)), sel], 1))
        pts = torch.cat(pts).to(torch.int32)
        if pts.shape[0] >= n:
            return pts[torch.randperm(pts.shape[0], generator=gen)[:n]]
        r *= 1.1
