"""Time-evolving deformation (the ``animate`` stage): motion clips of an asset.

Placeholder package until the deformation issue fills it: :func:`animate_stage` returns the
asset unchanged with a stage record saying no clip was made, and :func:`clip_checks` has no
plausibility check to add.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from n4d4d.asset import Asset, CheckResult
    from n4d4d.options import BuildOptions


def animate_stage(asset: "Asset", opts: "BuildOptions") -> "Asset":
    """The animate stage: motion clips for ``asset`` (none yet); a stage record either way."""
    from n4d4d.asset import StageRecord

    return asset.with_stage(StageRecord("animate", 0.0, {"clips": [], "motion": opts.motion,
                                                         "note": "no motion families yet"}))


def clip_checks(asset: "Asset") -> "list[CheckResult]":
    """Plausibility checks of every motion clip of ``asset`` (none yet)."""
    return []
