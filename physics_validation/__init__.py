"""Physics validation of n4d4d assets: collision hulls, mass properties, the physics certificate.

Pipeline stages (``Asset -> Asset``): :func:`collision_stage` (CoACD hulls per part under hull,
vertex and time budgets), :func:`mass_stage` (mass, COM, inertia, and the joint drives;
:func:`drives_stage` alone for hand-built assets), :func:`stability_stage`
(the certificate: rest and drop checks in PyBullet and Newton, link penetration, articulation
sweeps, motion clips, cross-engine agreement, collision fidelity); optionally, right after
loading, :func:`rest_pose_stage` (turn an input authored in a toppling pose onto its stable
face). Building blocks:
:func:`mass_properties`, :func:`convex_decomposition`, :func:`collision_fidelity`,
:func:`check_pybullet`, :func:`check_newton`, :func:`check_articulation` (PyBullet) and
:func:`check_articulation_newton`, :func:`certify`; every bound is in
:mod:`.thresholds` with its reason.

Heavy dependencies (coacd, pybullet, newton, warp) load inside the functions that use them.
"""

from __future__ import annotations

from typing import Any

from .mass import mass_properties
from .rest_pose import rest_pose_stage
from .stages import collision_stage, drives_stage, mass_stage, stability_stage
from .thresholds import (CertificateThresholds, FidelityThresholds, StabilityThresholds,
                         Thresholds)

_LAZY = {
    "convex_decomposition": ".decomposition",
    "collision_fidelity": ".fidelity",
    "check_pybullet": ".pybullet_check",
    "check_newton": ".newton_check",
    "check_articulation": ".articulation",
    "check_articulation_newton": ".newton_articulation",
    "certify": ".certificate",
}


#: The PyBullet boundary other stages share (physics-driven motion): public name -> the private
#: implementation. ``bullet_client(time_step)``: a quiet DIRECT client, gravity
#: :data:`n4d4d.conventions.GRAVITY`, deterministic pairs; ``bullet_ground_plane(client)``: the
#: plane z = 0 with coefficients 1; ``quiet_output()``: silences PyBullet's C-level prints.
_ALIASES = {"bullet_client": ("._bullet", "connect"), "bullet_ground_plane": ("._bullet", "ground_plane"),
            "quiet_output": ("._bullet", "_quiet")}


def __getattr__(name: str) -> Any:
    if name in _LAZY or name in _ALIASES:
        import importlib

        module, attr = _ALIASES.get(name, (_LAZY.get(name), name))
        return getattr(importlib.import_module(module, __name__), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "collision_stage", "mass_stage", "drives_stage", "stability_stage", "rest_pose_stage", "mass_properties", "convex_decomposition",
    "collision_fidelity", "check_pybullet", "check_newton", "check_articulation",
    "check_articulation_newton", "certify", "StabilityThresholds",
    "FidelityThresholds", "CertificateThresholds", "Thresholds", "bullet_client", "bullet_ground_plane",
    "quiet_output",
]
