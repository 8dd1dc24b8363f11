"""Bounds of motion-clip plausibility, each with its reason (the clip half of :mod:`.thresholds`).

One frozen record, :class:`MotionThresholds`, read by :mod:`n4d4d.deformation.plausibility`;
each clip's :class:`~n4d4d.asset.CheckResult` carries :func:`.thresholds.as_dict` of the bounds
it was held to beside what it measured. Sources: PhysDiff (Yuan et al. 2023, "PhysDiff:
Physics-Guided Human Motion Diffusion Model", metrics Penetrate / Float / Skate); GMD
(Karunratanakul et al. 2023, "Guided Motion Diffusion for Controllable Human Motion Synthesis",
the foot-skating ratio); the certificate's own bounds (:class:`.thresholds.CertificateThresholds`,
:class:`.thresholds.StabilityThresholds`), which a clip must not contradict.

This module holds numbers and their reasons only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MotionThresholds:
    """Plausibility bounds of one motion clip (SI units).

    Attributes:
        limit_tolerance_rad, limit_tolerance_m: a frame whose joint coordinate is beyond a
            limit by more than this counts as a joint-limit violation, and the count must be 0.
            PyBullet's limit constraint is soft by about one step's motion; the same tolerance
            as the certificate's articulation sweep (0.02 rad, 2 mm), so a clip and the sweep
            never disagree about the same joint.
        reach_tolerance_rad, reach_tolerance_m: at the end of each hold of an ``articulate``
            clip the joint must be this close to the limit it was driven to, or it is reported
            as stopped short (blocked by a collider, or a drive too weak for its load). The
            10 Hz critically damped drive sags under gravity by under 0.03 rad for a 10 cm lever
            (:data:`.rigid_model.NATURAL_FREQUENCY_HZ`); 0.05 rad (about 3 degrees) and 5 mm
            leave margin for that and are still far below a jam (a blocked drawer stops
            centimetres short).
        max_ground_penetration_m: deepest point below z = 0 in any frame. The certificate's
            frame bound (:attr:`.thresholds.CertificateThresholds.max_frame_ground_penetration_m`,
            3 mm: resting contact in both engines stays well under 1 mm), for every family:
            simulated clips are stepped at a quarter of the certificate's step so that a frame
            sampled just after impact does not show the integrator's one-step overshoot
            (:data:`n4d4d.deformation.articulate.TIME_STEP_S`).
        max_float_m: PhysDiff's Float: height of the lowest contact point above the ground in
            frames where the asset should touch it (every frame of ``articulate``, ``idle``,
            ``gait`` and imported clips; the resting tail of ``drop``). 5 mm: under it a shadow
            and the contact look attached at tabletop and human scale; more is visible hovering.
        skate_height_m, skate_speed_m_s, skate_window_s, skate_reference_leg_m: GMD's
            foot-skating ratio: a foot closer to the ground than ``skate_height_m`` (5 cm) whose
            horizontal speed, both over the frame step and averaged over ``skate_window_s`` (GMD:
            5 frames at 20 fps, 0.25 s), exceeds ``skate_speed_m_s`` (GMD: 0.5 m/s, that is 2.5 cm
            per frame at 20 fps; people notice sliding from about 2 cm) is skating; the ratio is
            skating foot-frames over foot-frames near the ground. GMD's numbers are for humans (leg about 0.9 m):
            lengths and speeds scale by the asset's leg length over ``skate_reference_leg_m``
            (geometric similarity), so a 15 cm-legged toy is held to the same standard.
        max_skate_ratio: 0.05: GMD's generated walks reach 0.05-0.1; a planned gait whose
            stance feet are pinned by inverse kinematics should stay under the low end.
        max_volume_change_pct: the skinned or soft mesh's enclosed volume may change by at
            most this share of the rest volume in any frame. Linear blend skinning loses volume
            at bends and collapses at twists (the candy-wrapper artefact); 10% is about the loss
            that reads as a deflated joint.
        max_inverted_tets: tetrahedra with non-positive volume in any frame of a ``soft`` clip,
            and frames with such a tetrahedron in any solver step between two samples: none (an
            inverted element is a solver failure, not a deformation; an elastic material's
            energy grows without bound as an element's volume goes to zero).
        soft_rest_shape_fraction, soft_sag_factor: a ``soft`` clip that ends at rest must have
            recovered its rest shape: the final nodes' RMS distance from the rest nodes after the
            best rigid fit (Kabsch) at most ``soft_rest_shape_fraction`` of the body's bounding-box
            diagonal plus ``soft_sag_factor`` times the closed-form sag of a column of its height
            H under its own weight, ``rho g H^2 / (2 E)`` (an elastic body resting on the ground is
            compressed by its weight, it has not failed to recover). 1% of the size is under what
            reads as a permanent dent; twice the column sag covers the shape's departure from a
            column and friction holding a little of the landing's lateral strain.
        rest_linear_speed_m_s, rest_angular_speed_rad_s, rest_window_s: a ``drop`` clip ends at
            rest: over its last ``rest_window_s`` the root's displacement divided by the window
            is under these speeds (BlenderProc's settle rule, the certificate's rest speeds,
            :class:`.thresholds.StabilityThresholds`).
        min_support_margin_m: a statically stable gait (duty factor >= 0.75, a walk) keeps the
            centre of mass projected inside the polygon of the stance feet; the margin (signed
            distance inside) must not fall below this. -5 mm allows the instant a foot lifts
            while the root has just shifted; a trot (duty 0.5) is dynamically balanced and only
            reported.
    """

    limit_tolerance_rad: float = 0.02
    limit_tolerance_m: float = 0.002
    reach_tolerance_rad: float = 0.05
    reach_tolerance_m: float = 0.005
    max_ground_penetration_m: float = 0.003
    max_float_m: float = 0.005
    skate_height_m: float = 0.05
    skate_speed_m_s: float = 0.5
    skate_window_s: float = 0.25
    skate_reference_leg_m: float = 0.9
    max_skate_ratio: float = 0.05
    max_volume_change_pct: float = 10.0
    max_inverted_tets: int = 0
    soft_rest_shape_fraction: float = 0.01
    soft_sag_factor: float = 2.0
    rest_linear_speed_m_s: float = 0.01
    rest_angular_speed_rad_s: float = 0.1
    rest_window_s: float = 0.5
    min_support_margin_m: float = -0.005
