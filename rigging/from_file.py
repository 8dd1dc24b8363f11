"""``--rig from-file`` for a skinned glTF: the file's own skeleton, bind pose and skin weights
kept, moved into the asset frame and carried onto the watertight visual mesh.

What it does: reads the input's first skin (:func:`n4d4d.io.gltf_anim.read_gltf_animation`,
weights normalised on read; CesiumMan stores 210 vertices whose weights do not sum to 1), finds
how the load and rest-pose stages moved the file's mesh (:func:`n4d4d.io.gltf_anim.frame_onto`:
a uniform scale, rotation and translation) and moves the skeleton with it
(:meth:`~n4d4d.io.gltf_anim.GltfAnimation.in_frame`), so the asset's inverse bind matrices are
the file's up to that frame change.

Weights on the remeshed surface: the watertight visual mesh is new geometry (marching cubes of
the sparse SDF, then decimated), so each visual vertex takes the weights of its closest point on
the file's skinned mesh (in the asset frame), interpolated barycentrically from that triangle's
three vertices, and rows are renormalised to sum 1. Chosen over keeping the input mesh as the
visual because the certificate, the hulls and the mass all use the watertight surface, and an
input that is already a closed manifold is kept by the remesh (``--remesh auto``) anyway, where
the closest point of each vertex is the vertex itself and the weights are the file's exactly.
Where two limbs touch, a vertex of the merged surface takes the nearer limb's weights: the
largest closest-point distance is in the stage record (``skin_transfer_max_m``).

What it does not: skins beyond the first, a skin whose mesh is only part of the input (then the
rigging stage infers structure as without a skin, and a note says why), morph targets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from n4d4d.asset import Asset, Skeleton
from n4d4d.errors import InputError

#: A loaded mesh vertex farther than this fraction of the mesh's diagonal from the moved skin
#: mesh means the skin is not the loaded mesh (float32 storage and the scale fit err by ~1e-7).
MATCH_TOLERANCE = 1e-4


def source_path(asset: Asset) -> Path | None:
    """The input file of ``asset`` (its provenance source) when that is a file, else None
    (a sample's ``sample:NAME`` or a generated source)."""
    src = asset.provenance.source if asset.provenance is not None else ""
    return Path(src) if src and Path(src).is_file() else None


def transfer_weights(src_vertices: np.ndarray, src_faces: np.ndarray, src_weights: np.ndarray,
                     points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skin weights at ``points`` from a skinned mesh, by closest point (module docstring).

    Args:
        src_vertices: ``(V, 3) float64`` skinned mesh (m, same frame as ``points``).
        src_faces: ``(F, 3) int64``. src_weights: ``(V, J) float64`` rows summing to 1.
        points: ``(P, 3) float64`` where weights are wanted (the visual mesh's vertices).

    Returns:
        ``weights (P, J) float64`` (rows sum to 1) and ``distance (P,) float64`` (m) from each
        point to the closest point it took them from.
    """
    from n4d4d.volume.texture import closest_points

    v = np.asarray(src_vertices, np.float64)
    f = np.asarray(src_faces, np.int64)
    w = np.asarray(src_weights, np.float64)
    face, bary = closest_points(v, f, points)
    corners = f[face]  # (P, 3)
    out = np.einsum("pk,pkj->pj", bary, w[corners])
    out /= np.where(out.sum(axis=1, keepdims=True) > 0, out.sum(axis=1, keepdims=True), 1.0)
    where = np.einsum("pk,pkd->pd", bary, v[corners])
    return out, np.linalg.norm(np.asarray(points, np.float64) - where, axis=1)


def skin_from_file(asset: Asset, path: Path) -> tuple[Skeleton, np.ndarray, dict, list[str]]:
    """The file's skeleton (asset frame) and skin weights on ``asset.visual``'s vertices.

    Args:
        asset: after the static stage (``source_mesh`` as loaded, ``visual`` watertight).
        path: the skinned ``.glb`` / ``.gltf`` the asset was loaded from.

    Returns:
        ``(skeleton, weights (V, J) float64, figures, notes)``; figures (JSON):
        ``weights_renormalised`` (vertices of the file whose weights did not sum to 1),
        ``frame_scale``, ``frame_fit_error_m``, ``skin_transfer_max_m`` / ``_mean_m``.

    Raises:
        InputError: the file's skinned mesh is not the loaded mesh (beyond
            :data:`MATCH_TOLERANCE`), and what :func:`~n4d4d.io.gltf_anim.read_gltf_animation`
            raises.
    """
    from n4d4d.io.gltf_anim import frame_onto, read_gltf_animation

    g = read_gltf_animation(path, with_vertices=False, animations=False)
    loaded = asset.source_mesh if asset.source_mesh is not None else asset.visual
    A, err = frame_onto(g, loaded)
    if err > MATCH_TOLERANCE * max(loaded.diagonal, 1e-12):
        raise InputError(f"the skinned mesh of the file is not the loaded mesh (a loaded vertex lies "
                         f"{err:.3g} m from it): the skin cannot be placed", path)
    g = g.in_frame(A)
    weights, dist = transfer_weights(g.vertices, g.faces, g.weights, asset.visual.vertices)
    notes = [f"skeleton, inverse bind matrices and skin weights kept from the file ({len(g.skeleton.joint_names)} "
             "joints); weights carried onto the watertight mesh by closest point"]
    if g.weights_renormalised:
        notes.append(f"{g.weights_renormalised} vertices of the file had skin weights not summing to 1: normalised")
    figures = {"weights_renormalised": int(g.weights_renormalised),
               "frame_scale": float(np.cbrt(np.linalg.det(A[:3, :3]))), "frame_fit_error_m": err,
               "skin_transfer_max_m": float(dist.max()), "skin_transfer_mean_m": float(dist.mean())}
    return g.skeleton, weights, figures, notes
