"""The ``drop`` motion family: the asset released from a seeded pose above the ground, simulated
in PyBullet until it rests.

The placement is a seeded uniform random orientation (``scipy.spatial.transform.Rotation.random``
with ``numpy.random.default_rng(seed)``) with the centre of mass over the origin and the lowest
hull point ``height_m`` above the ground (default: the certificate's drop height,
:attr:`n4d4d.physics_validation.thresholds.StabilityThresholds.drop_height_m`, so a clip and the
drop check see the same impact). Movable joints are held at their rest coordinate by the
certificate's PD drive (the asset as a servoed prop, not a rag doll), effort-clipped, stepped at
:data:`.articulate.TIME_STEP_S` (a quarter of the certificate's step: sampled impact frames then
show contact, not one step's overshoot). The clip
runs for ``seconds`` and then on, up to the drop check's own horizon (settle time plus rest
window), until the root has rested for :attr:`MotionThresholds.rest_window_s` (displacement over
the window under the rest speeds): the clip ends at rest, or at that horizon if it never rests
(and its plausibility check says so).

This module does not judge the clip (see :mod:`.plausibility`).
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Asset, MotionClip



def drop_pose(asset: Asset, seed: int, height_m: float) -> np.ndarray:
    """``(4, 4)`` seeded placement: uniform random orientation, COM over the origin, lowest hull
    point ``height_m`` (m) above z = 0, all with the joints at their rest coordinates (where the
    clip starts: :func:`~n4d4d.physics_validation.rigid_model.rest_coordinate`). Raises
    StageInputError without hulls or mass."""
    from scipy.spatial.transform import Rotation

    from n4d4d.physics_validation.rigid_model import rigid_model

    model = rigid_model(asset)
    R = Rotation.random(random_state=np.random.default_rng(seed)).as_matrix()
    com, pts = model.rest_com(), model.rest_hull_points()
    pose = np.eye(4)
    pose[:3, :3] = R
    pose[:3, 3] = -R @ com
    pose[2, 3] = height_m - float((pts @ R.T)[:, 2].min())
    return pose


def at_rest(times: np.ndarray, root_poses: np.ndarray, window_s: float, linear_m_s: float,
            angular_rad_s: float) -> bool:
    """True when, over the last ``window_s`` of ``times (k,)``, the root ``root_poses (k, 7)``
    (position m, quaternion w, x, y, z) moved less than ``linear_m_s * window_s`` from any
    sample to the last and turned less than ``angular_rad_s * window_s``."""
    times = np.asarray(times)
    if len(times) < 2 or times[-1] - times[0] < window_s:
        return False
    w = times >= times[-1] - window_s - 1e-9
    p, q = root_poses[w, :3], root_poses[w, 3:]
    moved = float(np.linalg.norm(p - p[-1], axis=1).max())
    turned = float((2 * np.arccos(np.clip(np.abs(q @ q[-1]), 0.0, 1.0))).max())
    return moved < linear_m_s * window_s and turned < angular_rad_s * window_s


def drop_clip(asset: Asset, *, seed: int = 0, fps: float = 30.0, seconds: float = 4.0,
              height_m: float | None = None, name: str = "drop") -> MotionClip:
    """Drop ``asset`` from a seeded pose and record it until at rest (module docstring).

    Args:
        asset: with parts, collision hulls and mass properties; all parts in one body tree.
        seed: seeds the orientation. fps: frames per second. seconds: least clip length (s).
        height_m: clearance of the lowest hull point at release (m).

    Returns:
        A clip of family ``"drop"``: ``root_poses (T, 7)``, ``joint_positions`` (held joints, as
        simulated), ``commanded_positions`` (the held rest coordinates), ``times`` s.

    Raises:
        StageInputError: missing hulls or mass. ValueError: the parts form several unconnected
        bodies (a clip carries one root pose).
    """
    from n4d4d.physics_validation.rigid_model import rigid_model
    from n4d4d.physics_validation.thresholds import StabilityThresholds
    from n4d4d.physics_validation.thresholds_motion import MotionThresholds

    from .articulate import simulate_clip

    st, mt = StabilityThresholds(), MotionThresholds()
    if len(rigid_model(asset).roots) > 1:
        raise ValueError(f"{asset.name}: drop needs one body tree; the parts form "
                         f"{len(rigid_model(asset).roots)} unconnected bodies")
    pose = drop_pose(asset, seed, st.drop_height_m if height_m is None else height_m)
    return simulate_clip(
        asset, name=name, family="drop", seconds=seconds, fps=fps, drives=True, fixed_root=False, pose=pose,
        rest=lambda t, r: at_rest(t, r, mt.rest_window_s, mt.rest_linear_speed_m_s, mt.rest_angular_speed_rad_s),
        max_seconds=max(seconds, st.duration_s))
