"""UsdSkel part of the USD export: a skinned visual mesh and its skeletal animations.

Layout under the root rigid body (the part frame at the asset origin)::

    /<name>/<part>/skin            SkelRoot, SkelBindingAPI skel:skeleton -> skeleton
      /skeleton                    Skeleton: joints (paths "root/child/..."), bindTransforms
                                   (skeleton-space, that is part-frame, bind matrices),
                                   restTransforms (joint-local bind pose);
                                   skel:animationSource -> first animation
      /mesh                        Mesh + SkelBindingAPI: primvars:skel:jointIndices /
                                   jointWeights (vertex, elementSize 4), geomBindTransform = I
      /animations/<clip>           SkelAnimation per clip with ``joint_rotations``:
                                   time-sampled translations / rotations / scales

Joints are re-ordered parent-first (UsdSkel requires a parent's index below its children's)
and the joint indices of the weights follow. Each vertex keeps its 4 largest weights,
renormalised to sum 1 (the UsdSkel / glTF limit). USD matrices are row-vector (translation in
the last row): n4d4d's column-vector 4x4 matrices are transposed at this boundary. A clip's
per-frame vertices are not written on the skinned mesh (skinning would move them again). Follows
the UsdSkel schema (openusd.org, "UsdSkel: Schemas In-Depth"). Writes no file.
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Asset, Mesh
from n4d4d.errors import ExportError

from n4d4d.kinematics import safe_name, skeleton_bind, skeleton_order

INFLUENCES = 4


def skeleton_layout(asset: Asset) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Parent-first joint order, joint path tokens and bind matrices of ``asset.skeleton``.

    Returns ``order`` ``(J,) int64`` (new position -> original index), ``paths`` (UsdSkel joint
    tokens in the new order) and ``bind`` ``(J, 4, 4) float64`` asset-frame bind transforms in
    the new order (column-vector convention). Raises ExportError on a malformed skeleton.
    """
    sk = asset.skeleton
    J = len(sk.joint_names)
    parents = np.asarray(sk.parents, np.int64).reshape(-1)
    if parents.shape != (J,) or np.any(parents >= J) or np.any(parents < -1):
        raise ExportError(f"skeleton parents {parents} do not match its {J} joints", asset.name)
    bind = skeleton_bind(sk)
    order = skeleton_order(parents, asset.name)  # KinematicsError (an ExportError) on a cycle
    taken: set[str] = set()
    names = {j: safe_name(sk.joint_names[j], taken) for j in range(J)}
    paths: dict[int, str] = {}
    for j in order.tolist():
        paths[j] = names[j] if parents[j] < 0 else f"{paths[int(parents[j])]}/{names[j]}"
    return order, [paths[int(j)] for j in order], bind[order]


def top_influences(weights: np.ndarray, k: int = INFLUENCES) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest weights per row of ``(V, J)`` weights, renormalised to sum 1.

    Returns indices ``(V, k) int32`` and weights ``(V, k) float32``; with fewer than ``k``
    joints the extra columns are joint 0 with weight 0 (UsdSkel and glTF both accept that).
    Raises ValueError when a row has no positive weight.
    """
    w = np.clip(np.asarray(weights, np.float64), 0.0, None)
    if w.shape[1] < k:
        w = np.column_stack([w, np.zeros((len(w), k - w.shape[1]))])
    idx = np.argsort(-w, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(w, idx, axis=1)
    s = top.sum(axis=1, keepdims=True)
    if np.any(s <= 0):
        raise ValueError(f"{int(np.sum(s <= 0))} vertices have no positive skin weight")
    n_joints = np.asarray(weights).shape[1]
    idx = np.where(idx < n_joints, idx, 0)
    return idx.astype(np.int32), (top / s).astype(np.float32)


def _gf(m: np.ndarray):
    from pxr import Gf

    return Gf.Matrix4d(np.asarray(m, np.float64).T.tolist())


def add_skinned_mesh(stage, asset: Asset, path, mesh: Mesh, index: np.ndarray, origin: np.ndarray):
    """Define the SkelRoot at ``path`` with skeleton and skinned ``mesh``; returns the mesh prim.

    ``mesh`` is the part's visual in the asset frame, ``index`` ``(V_part,)`` its rows in
    ``asset.visual`` / ``asset.skin_weights``, ``origin`` ``(3,)`` the part-frame origin (m).
    """
    from pxr import Sdf, UsdGeom, UsdSkel, Vt

    from .usd import define_mesh

    order, paths, bind = skeleton_layout(asset)
    to_part = np.eye(4)
    to_part[:3, 3] = -np.asarray(origin, np.float64)
    bind = to_part @ bind
    parents = np.asarray(asset.skeleton.parents, np.int64)[order]
    new_of_old = np.empty(len(order), np.int64)
    new_of_old[order] = np.arange(len(order))
    rest = np.empty_like(bind)
    for n, old in enumerate(order):
        p = parents[n]
        rest[n] = bind[n] if p < 0 else np.linalg.inv(bind[new_of_old[p]]) @ bind[n]
    root = UsdSkel.Root.Define(stage, path)
    skel = UsdSkel.Skeleton.Define(stage, path.AppendChild("skeleton"))
    skel.CreateJointsAttr(Vt.TokenArray(paths))
    skel.CreateJointNamesAttr(Vt.TokenArray([p.rsplit("/", 1)[-1] for p in paths]))
    skel.CreateBindTransformsAttr(Vt.Matrix4dArray([_gf(m) for m in bind]))
    skel.CreateRestTransformsAttr(Vt.Matrix4dArray([_gf(m) for m in rest]))
    UsdSkel.BindingAPI.Apply(root.GetPrim()).CreateSkeletonRel().SetTargets([skel.GetPath()])
    weights = np.asarray(asset.skin_weights, np.float64)
    if weights.shape != (len(asset.visual.vertices), len(order)):
        raise ExportError(f"skin_weights has shape {weights.shape}, want "
                          f"({len(asset.visual.vertices)}, {len(order)})", asset.name)
    try:
        idx, w = top_influences(weights[index])
    except ValueError as e:
        raise ExportError(f"skin weights: {e}", asset.name) from e
    idx = new_of_old[idx].astype(np.int32)
    prim = define_mesh(stage, path.AppendChild("mesh"), mesh, origin)
    binding = UsdSkel.BindingAPI.Apply(prim)
    binding.CreateJointIndicesPrimvar(False, idx.shape[1]).Set(Vt.IntArray.FromNumpy(idx.ravel()))
    binding.CreateJointWeightsPrimvar(False, w.shape[1]).Set(Vt.FloatArray.FromNumpy(w.ravel()))
    binding.CreateGeomBindTransformAttr(_gf(np.eye(4)))
    binding.CreateSkeletonRel().SetTargets([skel.GetPath()])
    UsdGeom.Imageable(prim).CreatePurposeAttr(UsdGeom.Tokens.default_)
    skel.GetPrim().CreateAttribute("n4d4d:jointOrder", Sdf.ValueTypeNames.IntArray, custom=True).Set(
        Vt.IntArray.FromNumpy(order.astype(np.int32)))
    return prim


def add_animations(stage, asset: Asset, mesh_prim, all_codes: list[np.ndarray]) -> None:
    """One ``UsdSkel.Animation`` per clip with ``joint_rotations``; the first is bound.

    ``all_codes`` holds each clip's time codes on the stage timeline (``usd.clip_time_codes``).
    Per time code, every joint's local transform is
    its rest transform followed by the clip's rotation (identity for joints without a track),
    written as translations ``float3[]``, rotations ``quatf[]`` and scales ``half3[]``.
    """
    from pxr import Gf, UsdSkel, Vt
    from scipy.spatial.transform import Rotation

    clips = [(c, k) for c, k in zip(asset.motion_clips, all_codes) if c.joint_rotations]
    if not clips:
        return
    skin_path = mesh_prim.GetPath().GetParentPath()
    skel = UsdSkel.Skeleton(stage.GetPrimAtPath(skin_path.AppendChild("skeleton")))
    paths = list(skel.GetJointsAttr().Get())
    rest = np.array([np.array(m).T for m in skel.GetRestTransformsAttr().Get()])
    order = np.array(skel.GetPrim().GetAttribute("n4d4d:jointOrder").Get(), np.int64)
    names = [asset.skeleton.joint_names[j] for j in order]
    taken: set[str] = set()
    first = None
    for clip, codes in clips:
        unknown = set(clip.joint_rotations) - set(names)
        if unknown:
            raise ExportError(f"clip '{clip.name}' animates unknown skeleton joints {sorted(unknown)}",
                              asset.name)
        times = np.asarray(clip.times, np.float64)
        T = len(times)
        anim = UsdSkel.Animation.Define(
            stage, skin_path.AppendChild("animations").AppendChild(safe_name(clip.name, taken)))
        anim.CreateJointsAttr(Vt.TokenArray(paths))
        local = np.tile(rest, (T, 1, 1, 1))
        for n, name in enumerate(names):
            if name in clip.joint_rotations:
                q = np.asarray(clip.joint_rotations[name], np.float64)
                if q.shape != (T, 4):
                    raise ExportError(f"clip '{clip.name}': rotation track '{name}' has shape {q.shape}, "
                                      f"want ({T}, 4)", asset.name)
                delta = np.tile(np.eye(4), (T, 1, 1))
                delta[:, :3, :3] = Rotation.from_quat(q, scalar_first=True).as_matrix()
                local[:, n] = rest[n] @ delta
        tr, ro, sc = anim.CreateTranslationsAttr(), anim.CreateRotationsAttr(), anim.CreateScalesAttr()
        for t in range(T):
            code = float(codes[t])
            quats = Rotation.from_matrix(local[t, :, :3, :3]).as_quat(scalar_first=True)
            tr.Set(Vt.Vec3fArray.FromNumpy(local[t, :, :3, 3].astype(np.float32)), code)
            ro.Set(Vt.QuatfArray([Gf.Quatf(float(q[0]), *map(float, q[1:])) for q in quats]), code)
            sc.Set(Vt.Vec3hArray([Gf.Vec3h(1, 1, 1)] * len(paths)), code)
        first = first or anim
    UsdSkel.BindingAPI.Apply(skel.GetPrim()).CreateAnimationSourceRel().SetTargets([first.GetPath()])
