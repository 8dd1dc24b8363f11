"""Static penetration checks: links against links (SimReady BA.002) and motion-clip frames.

A :class:`HullWorld` holds each link's hulls as a static compound body in its own PyBullet
client, used purely as a collision library: PyBullet's GJK/EPA on convex hulls reports the
signed distance between two links (negative = penetration depth), less the collision margin
PyBullet gives every convex mesh shape (1 mm each, which is added back here). Poses come from
:func:`.rigid_model.link_transforms`. Ground penetration is geometric (the lowest hull vertex below z = 0).

Checks (each returns an :class:`~n4d4d.asset.CheckResult`):

- :func:`check_link_penetration`: in the rest pose, no two non-adjacent links overlap by more
  than :attr:`CertificateThresholds.max_link_penetration_m` (NVIDIA SimReady BA.002);
- :func:`check_motion_clips`: every frame of every clip, posed by forward kinematics (rigid
  parts) or by its per-frame vertices (skinned), stays out of the ground and out of itself.

This module does not simulate dynamics (see :mod:`.articulation` for driven sweeps).
"""

from __future__ import annotations

import time

import numpy as np

from n4d4d.asset import Asset, CheckResult

from .checks import sample_indices
from .rigid_model import RigidModel, link_transforms
from .thresholds import CertificateThresholds, as_dict


def hull_shape(client, hulls, offset: np.ndarray) -> int:
    """A PyBullet collision shape of one link's convex hulls, as every PyBullet check of the
    certificate and every motion clip loads them: one compound of convex meshes, each hull
    shrunk by Bullet's collision margin first (``physics_validation._bullet.shrink_hull``: a
    hull thinner than two margins by 0.9 of its inscribed radius) so that the shape Bullet
    collides is the hull itself, not a hull a margin fatter.

    Args:
        client: a PyBullet ``BulletClient``.
        hulls: the link's hulls (:class:`n4d4d.asset.Mesh`, vertices in the asset frame, m).
        offset: ``(3,)`` point (m, asset frame) subtracted from every vertex: the link frame's
            origin (zeros for a body placed by its asset-frame pose).

    Returns:
        The shape id (``createCollisionShape``), for ``createMultiBody``.
    """
    import tempfile
    from pathlib import Path

    import pybullet

    from . import _bullet

    with tempfile.TemporaryDirectory(prefix="n4d4d_hull_") as tmp:
        path = Path(tmp) / "link.obj"
        _bullet._hull_obj(hulls, np.asarray(offset, dtype=np.float64), path)
        return client.createCollisionShape(pybullet.GEOM_MESH, fileName=str(path))


class HullWorld:
    """Each link's hulls as a static PyBullet body, for distance queries between links.

    Args:
        model: the links. ``close()`` (or use as a context manager) frees the client.
    """

    def __init__(self, model: RigidModel):
        from scipy.spatial.transform import Rotation  # noqa: F401  (loaded before the client)

        from . import _bullet

        self.model = model
        self.client = _bullet.connect(1.0 / 240.0)
        self.client.setGravity(0, 0, 0)
        self.bodies, corners = [], []
        for link in model.links:  # the 8 corners of each link's rest box: its world box at any pose
            pts = np.vstack([h.vertices for h in link.hulls]) if link.hulls else np.zeros((1, 3))
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            corners.append([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        self.corners = np.asarray(corners, dtype=np.float64)  # (L, 8, 3)
        for link in model.links:
            self.bodies.append(self.client.createMultiBody(0.0, hull_shape(self.client, link.hulls, np.zeros(3))))

    def set_poses(self, transforms: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Place link i at ``x = R x_rest + t`` for each ``(R, t)`` of ``transforms``."""
        from scipy.spatial.transform import Rotation

        for body, (R, t) in zip(self.bodies, transforms):
            self.client.resetBasePositionAndOrientation(body, np.asarray(t).tolist(),
                                                        Rotation.from_matrix(R).as_quat().tolist())
        self.client.performCollisionDetection()

    def depth(self, i: int, j: int) -> float:
        """Penetration depth (m, >= 0) between links i and j at the current poses (GJK/EPA on
        the hulls; Bullet's margin is taken off the hulls it loads, :func:`._bullet.shrink_hull`)."""
        pts = self.client.getClosestPoints(self.bodies[i], self.bodies[j], 0.0)
        return max(0.0, max((-p[8] for p in pts), default=0.0))

    def pair_depths(self, pairs: list[tuple[int, int]], transforms: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Penetration depth (m, >= 0) of each link pair at the given poses (``x = R x_rest +
        t`` per link). Pairs whose world bounding boxes (the rest boxes' corners, transformed)
        are apart cannot touch and are 0 without a query; the others are :meth:`depth`, so
        the answer is the one querying every pair gives, for a fraction of the queries. Leaves
        the bodies at these poses when any pair was queried."""
        out = np.zeros(len(pairs))
        if not pairs:
            return out
        R = np.stack([r for r, _ in transforms])
        t = np.stack([x for _, x in transforms])
        world = np.einsum("lij,lkj->lki", R, self.corners) + t[:, None, :]
        lo, hi = world.min(axis=1), world.max(axis=1)
        a = np.array([i for i, _ in pairs])
        c = np.array([j for _, j in pairs])
        meet = np.all(lo[a] <= hi[c], axis=1) & np.all(lo[c] <= hi[a], axis=1)
        if meet.any():
            self.set_poses(transforms)
            for k in np.flatnonzero(meet):
                out[k] = self.depth(*pairs[k])
        return out

    def ground_depth(self, transforms: list[tuple[np.ndarray, np.ndarray]]) -> float:
        """Deepest point of any hull below z = 0 (m, >= 0) for the given link poses."""
        z = min(float(((np.vstack([h.vertices for h in link.hulls]) @ R.T) + t)[:, 2].min())
                for link, (R, t) in zip(self.model.links, transforms))
        return max(0.0, -z)

    def close(self) -> None:
        self.client.disconnect()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _pair_label(model: RigidModel, i: int, j: int) -> str:
    return f"{model.links[i].name}/{model.links[j].name}"


def check_link_penetration(model: RigidModel, th: CertificateThresholds | None = None) -> dict:
    """SimReady BA.002 in the rest pose: non-adjacent links must not overlap, with every joint at
    its rest coordinate (:func:`.rigid_model.rest_coordinate`), where the engine worlds start.

    Returns:
        :class:`~n4d4d.asset.CheckResult` ``name`` "initial_penetration": ``measured``
        {``max_depth_m``, ``pairs`` (label -> depth for overlapping pairs), ``pairs_checked``},
        ``threshold`` {``max_link_penetration_m``}, ``passed``, ``reasons``, ``seconds``.
    """
    th = th or CertificateThresholds()
    t0 = time.perf_counter()
    pairs = model.non_adjacent_pairs()
    depths = {}
    if pairs:
        with HullWorld(model) as world:
            for (i, j), d in zip(pairs, world.pair_depths(pairs, model.rest_transforms())):
                if d > 0:
                    depths[_pair_label(model, i, j)] = float(d)
    worst = max(depths.values(), default=0.0)
    reasons = [f"non-adjacent links {k} overlap by {1e3 * d:.1f} mm in the rest pose (SimReady BA.002, "
               f"bound {1e3 * th.max_link_penetration_m:.1f} mm)"
               for k, d in depths.items() if d > th.max_link_penetration_m]
    return CheckResult(name="initial_penetration", engine="pybullet-collision",
                       measured={"max_depth_m": worst, "pairs": depths, "pairs_checked": len(pairs)},
                       threshold={"max_link_penetration_m": th.max_link_penetration_m}, passed=not reasons,
                       reasons=tuple(reasons), seconds=time.perf_counter() - t0)


def _root_transform(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial.transform import Rotation

    from n4d4d.conventions import wxyz_to_xyzw

    pose = np.asarray(pose, dtype=np.float64)
    return Rotation.from_quat(wxyz_to_xyzw(pose[3:7])).as_matrix(), pose[:3]


def self_penetration_fraction(vertices: np.ndarray, faces: np.ndarray, sample: np.ndarray,
                              offset: float) -> tuple[float, float]:
    """Self-penetration of a deformed closed surface, by generalized winding number.

    Points pushed ``offset`` metres outward along the vertex normals at the ``sample`` vertex
    indices must lie outside the surface (winding number < 0.5); those inside mark surface
    that has passed into another part of the same mesh.

    Returns:
        ``(fraction of sampled vertices inside, deepest such point's distance to the surface
        in metres)``.
    """
    import trimesh

    from ._wp import inside_depth

    tm = trimesh.Trimesh(np.asarray(vertices), np.asarray(faces), process=False)
    pts = tm.vertices[sample] + offset * tm.vertex_normals[sample]
    inside, depth = inside_depth(tm.vertices, tm.faces, pts)
    return float(inside.mean()) if len(inside) else 0.0, float(depth[inside].max(initial=0.0))


def check_motion_clips(asset: Asset, model: RigidModel, th: CertificateThresholds | None = None,
                       *, seed: int = 0, max_vertices: int = 2000) -> dict:
    """Every frame of every motion clip: no ground penetration, no self-penetration.

    Rigid parts: each frame's link poses by forward kinematics from the clip's joint
    positions and root pose; ground depth from the hulls, link overlap for non-adjacent pairs.
    Clips with per-frame vertices (skinned meshes): ground depth from the vertices, and
    self-penetration by the winding-number test of :func:`self_penetration_fraction` on
    ``max_vertices`` seeded vertices per frame.

    Returns:
        :class:`~n4d4d.asset.CheckResult` ``name`` "motion_clips": ``measured`` per clip
        {frames, max ground depth, worst frame, max link overlap, self-penetration fraction},
        ``threshold``, ``passed``, ``reasons``, ``seconds``, ``details["series"]``: clip ->
        {``t_s``, ``penetration_m``, ``link_overlap_m``} per frame (at most 200 samples).
    """
    th = th or CertificateThresholds()
    t0 = time.perf_counter()
    per_clip, reasons, series = {}, [], {}
    pairs = model.non_adjacent_pairs()
    world = HullWorld(model) if pairs or not any(c.vertices is not None for c in asset.motion_clips) else None
    rng = np.random.default_rng(seed)
    try:
        for clip in asset.motion_clips:
            n = len(clip.times)
            ground = np.zeros(n)
            overlap = np.zeros(n)
            self_frac = np.zeros(n)
            if clip.vertices is not None and asset.visual is not None:
                V = np.asarray(clip.vertices)
                ground = np.maximum(0.0, -V[:, :, 2].min(axis=1))
                sample = rng.choice(V.shape[1], size=min(max_vertices, V.shape[1]), replace=False)
                offset = 1e-3 * asset.visual.diagonal
                for k in range(n):
                    self_frac[k], _ = self_penetration_fraction(V[k], asset.visual.faces, sample, offset)
            if world is not None:
                for k in range(n):
                    q = {name: float(v[k]) for name, v in clip.joint_positions.items()}
                    root = _root_transform(clip.root_poses[k]) if clip.root_poses is not None else None
                    tf = link_transforms(model, q, root)
                    if clip.vertices is None:
                        ground[k] = world.ground_depth(tf)
                    overlap[k] = float(world.pair_depths(pairs, tf).max(initial=0.0))
            k_ = sample_indices(n)
            series[clip.name] = {"t_s": np.asarray(clip.times, dtype=np.float64)[k_].tolist(),
                                 "penetration_m": ground[k_].tolist(), "link_overlap_m": overlap[k_].tolist()}
            per_clip[clip.name] = {
                "frames": n, "max_ground_depth_m": float(ground.max(initial=0.0)),
                "worst_ground_frame": int(np.argmax(ground)) if n else -1,
                "max_link_overlap_m": float(overlap.max(initial=0.0)),
                "worst_overlap_frame": int(np.argmax(overlap)) if n else -1,
                "max_self_penetration_fraction": float(self_frac.max(initial=0.0)),
            }
            c = per_clip[clip.name]
            if c["max_ground_depth_m"] > th.max_frame_ground_penetration_m:
                reasons.append(f"clip '{clip.name}' frame {c['worst_ground_frame']} goes "
                               f"{1e3 * c['max_ground_depth_m']:.1f} mm into the ground "
                               f"(bound {1e3 * th.max_frame_ground_penetration_m:.1f} mm)")
            if c["max_link_overlap_m"] > th.max_link_penetration_m:
                reasons.append(f"clip '{clip.name}' frame {c['worst_overlap_frame']}: non-adjacent links overlap by "
                               f"{1e3 * c['max_link_overlap_m']:.1f} mm (bound {1e3 * th.max_link_penetration_m:.1f} mm)")
            if c["max_self_penetration_fraction"] > th.max_self_penetration_fraction:
                reasons.append(f"clip '{clip.name}': {100 * c['max_self_penetration_fraction']:.1f}% of the surface "
                               f"passes into itself in some frame (bound {100 * th.max_self_penetration_fraction:.1f}%)")
    finally:
        if world is not None:
            world.close()
    return CheckResult(name="motion_clips", engine="pybullet-collision", measured=per_clip,
                       threshold={k: v for k, v in as_dict(th).items()
                                  if k in ("max_frame_ground_penetration_m", "max_link_penetration_m",
                                           "max_self_penetration_fraction")},
                       passed=not reasons, reasons=tuple(reasons), seconds=time.perf_counter() - t0,
                       details={"series": series})
