"""Time-evolving deformation (the ``animate`` stage): motion clips of an asset, each checked.

Motion families (each deterministic for a seed; :mod:`.stage` picks them for ``--motion auto``):

- ``articulate`` (:mod:`.articulate`): every movable joint driven open and closed through its
  limits by the certificate's PD drive, simulated in PyBullet with self-collision, recorded as it
  happened (a blocked drawer records the blocked travel);
- ``drop`` (:mod:`.drop`): released from a seeded pose above the ground, simulated until at rest;
- ``gait`` and ``idle`` (:mod:`.gait`): legs found from the structure and the rest pose's ground
  contact (:mod:`.legs`), a Hopf-oscillator pattern generator (:mod:`.cpg`), feet placed by
  inverse kinematics (:mod:`.ik`), for articulated and skinned assets;
- ``soft`` (:mod:`.soft`, assets marked deformable): the watertight mesh filled with tetrahedra
  (:mod:`.tetmesh`, TetGen), dropped and pushed as a Neo-Hookean body in Newton's VBD solver, the
  visual vertices following the nodes;
- skinning of skeletal clips (:mod:`.skinning`): linear blend and dual quaternion.

Plausibility per clip (:mod:`.plausibility`) is a :class:`~n4d4d.asset.CheckResult` with bounds
from :mod:`n4d4d.physics_validation.thresholds_motion`. Heavy dependencies (pybullet, scipy,
newton, tetgen) load inside the functions.

Public names: :func:`animate_stage`, :func:`clip_checks`, :func:`clip_check`, :func:`articulate_clip`,
:func:`drop_clip`, :func:`gait_clip`, :func:`idle_clip`, :func:`lbs`, :func:`dqs`,
:func:`skin_clip`, :func:`find_legs`, :func:`soft_clip`, :func:`tetrahedralize`, :class:`NotApplicable`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .families import NotApplicable

if TYPE_CHECKING:  # pragma: no cover
    from n4d4d.asset import Asset, CheckResult
    from n4d4d.options import BuildOptions

_LAZY = {
    "clip_check": ".plausibility",
    "articulate_clip": ".articulate",
    "simulate_clip": ".articulate",
    "drop_clip": ".drop",
    "gait_clip": ".gait",
    "idle_clip": ".gait",
    "lbs": ".skinning",
    "dqs": ".skinning",
    "skin_clip": ".skinning",
    "find_legs": ".legs",
    "soft_clip": ".soft",
    "tetrahedralize": ".tetmesh",
    "summary_line": ".stage",
}


def animate_stage(asset: "Asset", opts: "BuildOptions") -> "Asset":
    """The animate stage: motion clips for ``asset`` chosen by ``opts.motion``, each checked; a stage
    record either way (:func:`n4d4d.deformation.stage.animate_stage`)."""
    from .stage import animate_stage as run

    return run(asset, opts)


def clip_checks(asset: "Asset") -> "list[CheckResult]":
    """Plausibility checks of every motion clip of ``asset``, one ``CheckResult`` named
    ``clip:<name>`` per clip (:func:`n4d4d.deformation.plausibility.clip_checks`)."""
    from .plausibility import clip_checks as run

    return run(asset)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["animate_stage", "clip_checks", "NotApplicable", *_LAZY]
