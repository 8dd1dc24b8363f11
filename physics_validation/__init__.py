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
from .stages import collision_stage, drives_stage, mass_stage, rest_pose_stage, stability_stage
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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "collision_stage", "mass_stage", "drives_stage", "stability_stage", "rest_pose_stage", "mass_properties", "convex_decomposition",
    "collision_fidelity", "check_pybullet", "check_newton", "check_articulation",
    "check_articulation_newton", "certify", "StabilityThresholds",
    "FidelityThresholds", "CertificateThresholds", "Thresholds",
]
