"""Every threshold of the physics certificate, in one place, each with its reason.

Three frozen records: :class:`StabilityThresholds` (rest and drop checks, in every engine),
:class:`FidelityThresholds` (how closely the convex hulls must follow the visual surface) and
:class:`CertificateThresholds` (penetration between links, articulation sweeps, motion clips,
cross-engine agreement). The physics report writes :func:`as_dict` of each next to the values
it measured, so a reader sees bound and measurement side by side.

Sources: BlenderProc's settle rule (an object is at rest when it moved under 1 cm and 0.1 rad
over the last second: ``blenderproc.object.simulate_physics_and_fix_final_poses``) is the
documented lower bar; we are stricter where the engines allow (measured with
``benchmarks/physics.py``). NVIDIA SimReady rule BA.002 (no contact between non-adjacent
links at rest); Infinigen-Sim's asset test (constraint force at rest under a bound); Isaac
Lab / PhysX GPU limits (64 vertices per convex hull).

This module holds numbers and their reasons only (and re-exports the motion-clip bounds of
:mod:`.thresholds_motion`); the checks that use them live in
:mod:`.pybullet_check`, :mod:`.newton_check`, :mod:`.penetration`, :mod:`.articulation`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from n4d4d.conventions import GRAVITY_MAGNITUDE as G  # m/s^2


@dataclass(frozen=True)
class StabilityThresholds:
    """Bounds of the rest and drop checks (SI units).

    Attributes:
        time_step_s: simulation step. 1/240 s is PyBullet's default and what its contact
            solver is tuned for; Newton runs the same step (as two substeps) so both engines see
            the same dynamics.
        settle_time_s: the body must be at rest (speeds below ``rest_*_speed``) from this time
            after release on. BlenderProc simulates at least 4 s (at most 20 s) before testing
            for rest; pybullet_data's duck dropped on its side rocks for 3.0 s in PyBullet and
            3.7 s in Newton, its mug on its side for 4.8 s; 8 s leaves margin for such rocking
            while slow creep or endless rolling still fails. Simulations stop early once at
            rest for a whole window, so the bound costs only the assets that need it.
        rest_window_s: the last stretch of the simulation over which drift is measured
            ("over the last second", BlenderProc).
        rest_linear_speed_m_s, rest_angular_speed_rad_s: "at rest" means the COM speed and
            the angular speed, averaged over ``rest_speed_window_s``, stay below these from the
            settle time on. 1 cm/s and 0.1 rad/s are BlenderProc's per-second drift bounds read
            as speeds.
        rest_speed_window_s: speeds for the rest test are displacements over this window
            divided by it. Impulse-based contact makes a resting body's instantaneous velocity
            spike (a joint held against its limit chatters at 0.3 rad/s in PyBullet while
            moving 0.1 mm); BlenderProc, too, judges rest by displacement, not velocity.
        max_drift_m, max_drift_rad: COM displacement and rotation angle over the last
            ``rest_window_s``. BlenderProc accepts 1 cm and 0.1 rad; resting contact in PyBullet
            drifts microns per second and Newton's XPBD contact ~0.05 mm per second (the mug),
            so 2 mm and 0.02 rad (5x stricter) still leave margin.
        support_contact_m: a link whose lowest collider point ends a run within this height
            of the ground (m) is in ground contact, and a joint whose child subtree holds such a
            link may carry up to the asset's whole weight (a leg carries the body), not only its
            subtree's (a lid). The same 3 mm as ``max_penetration_m``: resting contact sits
            within PyBullet's 1 mm convex margin and well under 1 mm in Newton.
        max_penetration_m: deepest ground penetration of any hull in the placed pose and over
            the rest window. Both engines hold resting contact to well under 1 mm at 240 Hz for
            household masses (PyBullet: 0.2 mm for a 1.5 kg box); 3 mm is below what a camera or
            gripper notices at tabletop scale. Deeper means a hull below the visual surface or
            a body sinking through the ground.
        impact_steps: at any step the penetration may exceed ``max_penetration_m`` by the
            distance the body falls in this many steps at its free-fall impact speed
            (``sqrt(2 g h)``, h the drop height): a discrete-time engine sees the contact only
            after the step that crossed the plane (a 5 cm drop at 240 Hz: 4.1 mm per step;
            the box of ``tests/test_physics_pybullet.py`` peaks at 4.7 mm). Tunnelling goes far
            beyond one step's travel.
        speed_factor: explosion bound. Energy conservation caps the COM speed at
            ``sqrt(2 g dh)`` and the angular speed at ``sqrt(2 m g dh / I_min)``, where dh is
            the most the COM can fall (drop height + bounding-box diagonal); a solver that
            exceeds either by this factor injected energy (an explosion).
        speed_slack_m_s: absolute slack added to the linear bound (contact restitution and
            depenetration impulses of a few cm/s are not explosions).
        drop_height_m: clearance between the lowest hull point and the ground at release in
            the drop check (the same drop for every asset, so verdicts compare).
        rest_perturbation_rad: the rest check tilts the authored pose by this angle about a
            seeded horizontal axis. Real placement is never exact: an equilibrium that a 0.6
            degree tilt upsets (a cone on its tip) is not a rest pose.
        max_rest_com_drop_fraction, min_rest_com_drop_m: the rest check fails when the settled
            centre of mass is lower than the placed one by more than
            ``max(min_rest_com_drop_m, max_rest_com_drop_fraction * diagonal)``: the authored pose
            was an unstable balance (a cone on its tip, a plate on its edge) that the 0.6 degree
            tilt upset. Settling into contact and rocking into the nearest equilibrium lower the
            COM by a few millimetres (pybullet_data's teddy: 3.4 mm, 2.5% of its diagonal; the
            duck rocks 0.17 rad and rises); toppling loses far more (a cube off an edge: 12% of
            its diagonal, off a corner 21%; a box onto its side 18%; the cone 50%). 5% of the
            diagonal, at least 1 mm.
        max_rest_shift_m, max_rest_shift_rad: in the rest check, a settled pose farther than
            this from the placed pose, without the COM drop above, is reported as a warning, not
            a failure: a ball rolls on, a duck rocks into its equilibrium (0.17 rad). 1 cm /
            0.1 rad are BlenderProc's numbers.
    """

    time_step_s: float = 1.0 / 240.0
    settle_time_s: float = 8.0
    rest_window_s: float = 1.0
    rest_linear_speed_m_s: float = 0.01
    rest_angular_speed_rad_s: float = 0.1
    rest_speed_window_s: float = 0.25
    max_drift_m: float = 0.002
    max_drift_rad: float = 0.02
    max_penetration_m: float = 0.003
    support_contact_m: float = 0.003
    impact_steps: float = 1.5
    speed_factor: float = 1.2
    speed_slack_m_s: float = 0.05
    drop_height_m: float = 0.05
    rest_perturbation_rad: float = 0.01
    max_rest_com_drop_fraction: float = 0.05
    min_rest_com_drop_m: float = 0.001
    max_rest_shift_m: float = 0.01
    max_rest_shift_rad: float = 0.1

    @property
    def duration_s(self) -> float:
        """Simulated seconds per check: settle time plus the rest window."""
        return self.settle_time_s + self.rest_window_s

    @property
    def steps(self) -> int:
        """Simulation steps per check (``duration_s / time_step_s``, rounded)."""
        return int(round(self.duration_s / self.time_step_s))

    def penetration_bound(self, drop_height_m: float) -> float:
        """Peak ground-penetration bound (m) for a release ``drop_height_m`` above the ground."""
        return self.max_penetration_m + self.impact_steps * self.time_step_s * math.sqrt(2.0 * G * max(drop_height_m, 0.0))

    def speed_bounds(self, diagonal_m: float, mass_kg: float, min_moment: float) -> tuple[float, float]:
        """Linear (m/s) and angular (rad/s) peak-speed bounds from energy conservation.

        ``diagonal_m``: bounding-box diagonal (m); ``mass_kg``: total mass;
        ``min_moment``: smallest principal moment about the COM (kg m^2).
        """
        dh = self.drop_height_m + diagonal_m
        v = self.speed_factor * math.sqrt(2.0 * G * dh) + self.speed_slack_m_s
        w = self.speed_factor * math.sqrt(2.0 * mass_kg * G * dh / max(min_moment, 1e-12))
        return v, w


@dataclass(frozen=True)
class FidelityThresholds:
    """How closely a part's convex hulls must follow its surface (CoACD, Wei et al. 2022).

    Distances are percentages of the part's bounding-box diagonal; volumes are ratios to the
    part's volume.

    Attributes:
        convex_fast_path_ratio: a part whose volume is at least this fraction of its convex
            hull's is treated as convex (one hull, no CoACD), provided the fidelity bounds below
            still hold. A solid with 3% hollowness has concavities of ~1% of its diagonal.
        max_hausdorff_p95_pct: 95th percentile of the symmetric surface distance. CoACD's
            default concavity threshold (0.05, a Hausdorff-like measure relative to the
            bounding box) is the fidelity its authors accept; we bound the 95th percentile at
            5% of the diagonal, and a miss triggers a finer retry.
        max_mean_distance_pct: mean symmetric surface distance bound (1.5% of the diagonal).
        min_volume_ratio, max_volume_ratio: union of hulls over part volume. Hulls reduced to
            64 vertices sit up to ~1 mm inside curved surfaces, and a skin 1% of the diagonal
            thick already holds ~10% of a compact part's volume (duck.obj at 5 cm per unit with
            32-vertex hulls: 0.88, mean distance 0.46% of the diagonal): 0.85 still rejects a
            missing piece. 1.35 rejects hulls that bridge large concavities (a mug filled in).
        samples: surface points per side used to measure distances (seeded). 20,000 points
            on a 20k-face mesh put the sampling error of the mean well under 0.1% of the
            diagonal (distances themselves are exact point-to-triangle queries).
        retry_threshold_factor: a fidelity miss reruns CoACD with its concavity threshold
            multiplied by this (finer), if the time budget leaves room.
        small_part_fraction: a part of a multi-part asset whose bounding-box diagonal is at
            most this fraction of the asset's is judged at the asset's scale: its distances in %
            of the asset's diagonal against the same bounds, and no volume-ratio bound (a thin
            shell's hull fills its cavity; mass comes from the part mesh, not its hulls). A
            collider 1.7 mm off a 1 cm camera button is 0.4% of the 40 cm camera: what a
            grasp of the camera feels. Such parts take the convex fast path whenever their
            hull meets the bounds so judged (PartNet-Mobility's camera 102417: 16 buttons of
            convexity 0.13-0.29, thin shells, each 4-7 CPU s of CoACD for 15-30 hulls).
    """

    convex_fast_path_ratio: float = 0.97
    max_hausdorff_p95_pct: float = 5.0
    max_mean_distance_pct: float = 1.5
    min_volume_ratio: float = 0.85
    max_volume_ratio: float = 1.35
    samples: int = 20_000
    retry_threshold_factor: float = 0.6
    small_part_fraction: float = 0.2


@dataclass(frozen=True)
class CertificateThresholds:
    """Bounds of the checks beyond rest and drop.

    Attributes:
        max_link_penetration_m: deepest allowed overlap between the hulls of two non-adjacent
            links in the rest pose and along articulation sweeps and motion clips (SimReady
            BA.002 asks for none; 1 mm absorbs the float32 round-off of exported hulls and
            contact margins).
        max_frame_ground_penetration_m: deepest allowed ground penetration of the visual
            surface in a motion-clip frame (same reason as the stability check's 3 mm).
        max_self_penetration_fraction: a skinned motion-clip frame may have at most this
            fraction of sampled surface points inside the surface itself. Linear blend skinning
            pinches a few vertices at tight bends (the "candy-wrapper" artefact) without
            limbs passing through each other; 1% separates the two.
        max_rest_force_ratio: Infinigen-Sim's test: at rest, the total contact force on the
            asset may exceed its weight by at most this ratio (a larger force means links
            pushing against each other or against the ground: a preloaded constraint).
        limit_tolerance_rad, limit_tolerance_m: an articulation sweep may overshoot a joint
            limit by this much (PyBullet's limit constraint is soft by one step's motion). Also
            the cross-engine bound on a sweep's extremes: both engines run the same explicit PD
            at the same step (the hinged arm's agree to 2e-3 rad).
        max_sweep_speed_factor: during a sweep, no link moves faster than this times the
            commanded joint speed times its distance from the joint axis plus 1 m/s
            (anything faster is an explosion).
        max_rest_disagreement_m, max_rest_disagreement_rad: cross-engine agreement of the
            rest pose (COM position and orientation) between PyBullet and Newton after the
            rest check. 5 mm and 0.05 rad: both are at rest on the same face; contact models
            differ by their penetration (~1 mm) and settling micro-tilt.
        max_force_ratio_disagreement: cross-engine agreement of the forces at rest (ground force
            and each joint's, as ratios to the weight carried). Both engines measure a resting
            box and a hinged arm at 1 +- 3e-4; a gap of a tenth of the weight means one engine
            sees a preload (parts pushing each other) that the other does not.
    """

    max_link_penetration_m: float = 0.001
    max_frame_ground_penetration_m: float = 0.003
    max_self_penetration_fraction: float = 0.01
    max_rest_force_ratio: float = 1.5
    limit_tolerance_rad: float = 0.02
    limit_tolerance_m: float = 0.002
    max_sweep_speed_factor: float = 3.0
    max_rest_disagreement_m: float = 0.005
    max_rest_disagreement_rad: float = 0.05
    max_force_ratio_disagreement: float = 0.1


def as_dict(thresholds) -> dict:
    """The thresholds record as a plain JSON-ready dict (field name -> value)."""
    return {f.name: getattr(thresholds, f.name) for f in dataclasses.fields(thresholds)}


@dataclass(frozen=True)
class Thresholds:
    """All bounds of the certificate together (what :func:`.certificate.certify` takes)."""

    stability: StabilityThresholds = dataclasses.field(default_factory=StabilityThresholds)
    fidelity: FidelityThresholds = dataclasses.field(default_factory=FidelityThresholds)
    certificate: CertificateThresholds = dataclasses.field(default_factory=CertificateThresholds)

    def as_dict(self) -> dict:
        """``{"stability": {...}, "fidelity": {...}, "certificate": {...}}``, JSON-ready."""
        return {"stability": as_dict(self.stability), "fidelity": as_dict(self.fidelity),
                "certificate": as_dict(self.certificate)}


try:  # the motion-clip bounds (owned beside these by the motion stage), one import path for all bounds
    from .thresholds_motion import *  # noqa: F401,F403,E402
except ImportError:  # pragma: no cover - the motion stage is not installed
    pass
