"""Read a finished asset folder back into an :class:`~n4d4d.asset.Asset` for its pictures.

``n4d4d report DIR`` re-renders without rebuilding: the record is rebuilt from ``report.json``
(joints, mass properties, name) and the exported USD (``asset.usda`` / ``asset.usdc``, read with
pxr): each rigid body's visual mesh, texture, convex hulls, skeleton and skin weights, and the
motion clips from its time samples (``customLayerData["n4d4d"]["clips"]`` gives each clip's
time-code range). Rigid clips come back as joint tracks: each joint's coordinate is recovered from
the relative pose of its child to its parent (rotation angle about the axis, or displacement
along it); skeletal clips as rotations relative to the rest pose; per-frame points as vertices.
Without a USD file the GLB (trimesh, Y up converted to Z up) gives the visual mesh only.

Only what pictures need is read (no drives, no materials' friction). Errors:
:class:`ReportInputError` (an :class:`~n4d4d.errors.InputError`) naming the folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from n4d4d.errors import InputError


class ReportInputError(InputError):
    """The folder has no readable ``report.json``, or its exported files cannot be read."""


def read_report(asset_dir: Path) -> dict:
    """``asset_dir/report.json`` as a dict. Raises :class:`ReportInputError`."""
    path = Path(asset_dir) / "report.json"
    if not path.is_file():
        raise ReportInputError("no report.json (not an asset folder written by n4d4d build)", asset_dir)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReportInputError(f"report.json is not readable JSON ({exc})", path) from exc


def _num(v, default=np.inf) -> float:
    if isinstance(v, str):
        return float(v)  # "inf", "-inf", "nan" as to_json writes them
    return default if v is None else float(v)


def exported_file(asset_dir: Path, report: dict, kinds: tuple[str, ...]) -> Path | None:
    """The first of ``kinds`` (``"usda"``, ``"glb"``, ...) listed in the report's files and present."""
    files = report.get("files") or {}
    for k in kinds:
        rel = files.get(k) or f"asset.{k}"
        p = Path(asset_dir) / rel
        if p.is_file():
            return p
    return None


def read_asset(asset_dir: Path, report: dict | None = None, prefer_record: bool = True):
    """The :class:`~n4d4d.asset.Asset` of a finished folder, as far as its files tell.

    With ``prefer_record`` the canonical record (``asset.json`` + ``asset.npz``,
    :meth:`~n4d4d.asset.Asset.load`) is read when the folder has one: the asset exactly as built.
    Otherwise (older folders, or a damaged record) the USD, else the GLB, is read back.
    Returns an Asset whose ``visual`` is None when the folder holds no USD or GLB (a rejected
    asset's folder holds its report only). Raises :class:`ReportInputError` on unreadable files.
    """
    from n4d4d.asset import Asset
    from n4d4d.errors import InputError as _InputError

    asset_dir = Path(asset_dir)
    report = read_report(asset_dir) if report is None else report
    name = str(report.get("name") or asset_dir.name)
    if prefer_record and (asset_dir / "asset.json").is_file():
        try:
            return Asset.load(asset_dir)
        except _InputError:
            pass  # fall back to the exported files
    usd = exported_file(asset_dir, report, ("usda", "usdc", "usd"))
    try:
        if usd is not None:
            return _from_usd(usd, report, name)
        glb = exported_file(asset_dir, report, ("glb",))
        if glb is not None:
            return _from_glb(glb, name)
    except ReportInputError:
        raise
    except Exception as exc:  # pxr / trimesh parse errors: name the file
        raise ReportInputError(f"cannot read the exported asset ({type(exc).__name__}: {exc})",
                               usd or asset_dir) from exc
    return Asset(name=name)


def _matrix(m) -> np.ndarray:
    """A Gf.Matrix4d (row vectors) as a ``(4, 4)`` column-vector transform."""
    return np.array(m, np.float64).T


def _apply(T: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ T[:3, :3].T + T[:3, 3]


def _triangles(gm, time=None) -> tuple[np.ndarray, np.ndarray]:
    from pxr import Usd

    t = Usd.TimeCode.Default() if time is None else time
    pts = np.asarray(gm.GetPointsAttr().Get(t), np.float64).reshape(-1, 3)
    counts = np.asarray(gm.GetFaceVertexCountsAttr().Get(), np.int64)
    idx = np.asarray(gm.GetFaceVertexIndicesAttr().Get(), np.int64)
    if len(counts) and np.all(counts == 3):
        return pts, idx.reshape(-1, 3)
    faces, k = [], 0
    for c in counts:  # fan-triangulate polygons
        faces += [(idx[k], idx[k + i], idx[k + i + 1]) for i in range(1, c - 1)]
        k += c
    return pts, np.asarray(faces, np.int64).reshape(-1, 3)


def _texture(prim, usd_path: Path):
    """(uvs (V, 2) glTF v-down, PNG bytes, base colour (4,)) of a mesh prim, Nones where absent."""
    from pxr import UsdGeom, UsdShade

    gm = UsdGeom.Mesh(prim)
    api = UsdGeom.PrimvarsAPI(gm)
    uvs = None
    st = api.GetPrimvar("st")
    if st and st.GetInterpolation() == UsdGeom.Tokens.vertex and st.Get() is not None:
        s = np.asarray(st.Get(), np.float64).reshape(-1, 2)
        uvs = np.column_stack([s[:, 0], 1.0 - s[:, 1]])
    color = None
    dc = gm.GetDisplayColorPrimvar()
    if dc and dc.Get() is not None and len(dc.Get()):
        c = np.asarray(dc.Get(), np.float64).reshape(-1, 3).mean(axis=0)
        color = np.array([*c, 1.0])
    png = None
    mat = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial()[0]
    if mat and uvs is not None:
        for child in mat.GetPrim().GetChildren():
            f = child.GetAttribute("inputs:file")
            if f and f.Get() is not None:
                p = (usd_path.parent / f.Get().path).resolve()
                if p.is_file():
                    png = p.read_bytes()
    return uvs, png, color


def _from_usd(path: Path, report: dict, name: str):
    from pxr import Usd, UsdGeom, UsdPhysics, UsdSkel

    from n4d4d.asset import Asset, Joint, MassProperties, Mesh, Part

    stage = Usd.Stage.Open(str(path))
    if stage is None:
        raise ReportInputError("pxr cannot open it", path)
    root = stage.GetDefaultPrim() or next(iter(stage.GetPseudoRoot().GetChildren()), None)
    if root is None:
        raise ReportInputError("the stage has no prim", path)
    cache = UsdGeom.XformCache(Usd.TimeCode.Default())
    bodies = [c for c in root.GetChildren() if c.HasAPI(UsdPhysics.RigidBodyAPI)] or [root]
    rest = {b.GetName(): _matrix(cache.GetLocalToWorldTransform(b)) for b in bodies}
    parts, hulls, visual_prims = [], {}, {}
    V, F, UV, offset = [], [], [], 0
    png = color = None
    skeleton = weights = None
    skel_info = None
    for b in bodies:
        bname = b.GetName()
        vis = b.GetChild("visual")
        skin = b.GetChild("skin")
        mesh_prim = vis if vis and vis.IsA(UsdGeom.Mesh) else None
        if mesh_prim is None and skin:
            mesh_prim = next((c for c in skin.GetChildren() if c.IsA(UsdGeom.Mesh)), None)
        if mesh_prim is not None:
            pts, faces = _triangles(UsdGeom.Mesh(mesh_prim))
            T = _matrix(cache.GetLocalToWorldTransform(mesh_prim))
            pts = _apply(T, pts)
            uvs, tex, col = _texture(mesh_prim, path)
            png, color = png or tex, color if color is not None else col
            UV.append(uvs if uvs is not None else np.full((len(pts), 2), np.nan))
            nf = sum(len(f) for f in F)
            parts.append(Part(bname, Mesh(pts, faces), np.arange(nf, nf + len(faces))))
            visual_prims[bname] = (mesh_prim, T)
            V.append(pts)
            F.append(faces + offset)
            offset += len(pts)
            if skin and mesh_prim.GetParent() == skin:
                skel_info = (UsdSkel.Root(skin), mesh_prim, T)
        col_scope = b.GetChild("collisions")
        if col_scope:
            hs = []
            for h in col_scope.GetChildren():
                if h.IsA(UsdGeom.Mesh):
                    hp, hf = _triangles(UsdGeom.Mesh(h))
                    hs.append(Mesh(_apply(_matrix(cache.GetLocalToWorldTransform(h)), hp), hf))
            if hs:
                hulls[bname] = tuple(hs)
    if not V:
        return Asset(name=name)
    uv_all = np.vstack(UV)
    uv_all = None if np.isnan(uv_all).any() else uv_all
    visual = Mesh(np.vstack(V), np.vstack(F), uvs=uv_all, texture_png=png if uv_all is not None else None,
                  base_color=color)
    by_safe = _safe_names(report, [p.name for p in parts])
    parts = [Part(by_safe.get(p.name, p.name), p.mesh, p.face_indices) for p in parts]
    hulls = {by_safe.get(k, k): v for k, v in hulls.items()}
    joints = []
    for j in report.get("joints") or []:
        joints.append(Joint(str(j["name"]), j["type"], str(j["parent"]), str(j["child"]),
                            np.asarray(j["origin"], np.float64), np.asarray(j["axis"], np.float64),
                            _num(j.get("lower"), -np.inf), _num(j.get("upper"), np.inf)))
    names = {p.name for p in parts}
    joints = [j for j in joints if j.parent in names and j.child in names]
    mass = {}
    for p in report.get("parts") or []:
        mp = p.get("mass")
        if mp and p.get("name") in names:
            mass[p["name"]] = MassProperties(
                float(mp["mass"]), np.asarray(mp["center_of_mass"]), np.asarray(mp["inertia"]),
                np.asarray(mp["principal_moments"]), np.asarray(mp["principal_axes"]), float(mp["volume"]),
                float(mp["density"]))
    if skel_info is not None:
        skeleton, weights, skel_prim = _skeleton(*skel_info, len(visual.vertices))
    asset = Asset(name=name, visual=visual, parts=tuple(parts), joints=tuple(joints), collision=hulls,
                  mass=mass, skeleton=skeleton, skin_weights=weights)
    clips = _clips(stage, asset, bodies, rest, visual_prims, by_safe,
                   skel_prim if skel_info is not None else None)
    return asset.replace(motion_clips=tuple(clips))


def _safe_names(report: dict, prim_names: list[str]) -> dict[str, str]:
    """USD prim name -> the report's part name (prims carry sanitised names)."""
    from n4d4d.kinematics import safe_name

    out = {}
    for p in report.get("parts") or []:
        out[safe_name(str(p["name"]))] = str(p["name"])
    return {n: out.get(n, n) for n in prim_names}


def _skeleton(skel_root, mesh_prim, T, n_vertices: int):
    """(Skeleton in the USD joint order, (V, J) weights, skeleton prim) of a SkelRoot."""
    from pxr import UsdSkel

    from n4d4d.asset import Skeleton

    binding = UsdSkel.BindingAPI(mesh_prim)
    skel = UsdSkel.Skeleton(binding.GetSkeletonRel().GetTargets() and
                            mesh_prim.GetStage().GetPrimAtPath(binding.GetSkeletonRel().GetTargets()[0]))
    paths = [str(p) for p in skel.GetJointsAttr().Get()]
    names = list(skel.GetPrim().GetAttribute("jointNames").Get() or [p.split("/")[-1] for p in paths])
    parents = np.array([paths.index(p.rsplit("/", 1)[0]) if "/" in p else -1 for p in paths], np.int64)
    bind = np.array([T @ _matrix(m) for m in skel.GetBindTransformsAttr().Get()])
    idx = np.asarray(binding.GetJointIndicesPrimvar().Get(), np.int64)
    w = np.asarray(binding.GetJointWeightsPrimvar().Get(), np.float64)
    k = max(1, len(idx) // max(n_vertices, 1))
    W = np.zeros((n_vertices, len(paths)))
    rows = np.repeat(np.arange(n_vertices), k)
    np.add.at(W, (rows, idx[:n_vertices * k]), w[:n_vertices * k])
    W /= np.maximum(W.sum(axis=1, keepdims=True), 1e-12)
    return (Skeleton(tuple(str(n) for n in names), parents, bind[:, :3, 3], bind), W, skel.GetPrim())


def _clip_ranges(stage) -> list[tuple[str, float, float]]:
    data = (stage.GetRootLayer().customLayerData or {}).get("n4d4d", {})
    clips = data.get("clips") or {}
    return sorted(((str(n), float(r["startTimeCode"]), float(r["endTimeCode"])) for n, r in clips.items()),
                  key=lambda c: c[1])


def _clips(stage, asset, bodies, rest, visual_prims, by_safe, skel_prim) -> list:
    """Motion clips from the stage's time samples (see the module docstring)."""
    from pxr import Gf, Usd, UsdGeom, UsdSkel
    from scipy.spatial.transform import Rotation

    from n4d4d.asset import MotionClip
    from n4d4d.kinematics import effective_type, unit_axis

    tps = float(stage.GetTimeCodesPerSecond() or 24.0)
    out = []
    anim = None
    if skel_prim is not None:
        src = UsdSkel.BindingAPI(skel_prim).GetAnimationSourceRel().GetTargets()
        anims = [c for c in skel_prim.GetParent().GetChild("animations").GetChildren()] if \
            skel_prim.GetParent().GetChild("animations") else []
        anim = {a.GetName(): UsdSkel.Animation(a) for a in anims}
        if src and not anim:
            anim = {"": UsdSkel.Animation(stage.GetPrimAtPath(src[0]))}
    for cname, start, end in _clip_ranges(stage):
        interval = Gf.Interval(start, end)
        codes = set()
        for b in bodies:
            for op in UsdGeom.Xformable(b).GetOrderedXformOps():
                codes.update(op.GetAttr().GetTimeSamplesInInterval(interval))
        for prim, _ in visual_prims.values():
            codes.update(UsdGeom.Mesh(prim).GetPointsAttr().GetTimeSamplesInInterval(interval))
        skel_anim = None
        if anim:
            from n4d4d.kinematics import safe_name

            skel_anim = anim.get(safe_name(cname)) or anim.get(cname) or anim.get("")
            if skel_anim is not None:
                codes.update(skel_anim.GetRotationsAttr().GetTimeSamplesInInterval(interval))
        codes = np.array(sorted(codes), np.float64)
        if len(codes) < 2:
            continue
        times = (codes - codes[0]) / tps
        poses = {b.GetName(): np.array([_matrix(UsdGeom.XformCache(Usd.TimeCode(c)).GetLocalToWorldTransform(b))
                                        @ np.linalg.inv(rest[b.GetName()]) for c in codes]) for b in bodies}
        poses = {by_safe.get(k, k): v for k, v in poses.items()}
        tracks = {}
        for j in asset.joints:
            kind = effective_type(j)
            if kind == "fixed":
                continue
            rel = np.linalg.inv(poses[j.parent]) @ poses[j.child]  # rest-to-rest relative motion
            a = unit_axis(j)
            if kind == "prismatic":
                tracks[j.name] = rel[:, :3, 3] @ a
            else:
                tracks[j.name] = Rotation.from_matrix(rel[:, :3, :3]).as_rotvec() @ a
        roots = {j.child for j in asset.joints}
        root = next((p.name for p in asset.parts if p.name not in roots), None)
        root_poses = None
        if root is not None and not np.allclose(poses[root], np.eye(4), atol=1e-9):
            M = poses[root]
            root_poses = np.column_stack([M[:, :3, 3], Rotation.from_matrix(M[:, :3, :3]).as_quat(scalar_first=True)])
        vertices = None
        moving_pts = [p for p, _ in visual_prims.values()
                      if UsdGeom.Mesh(p).GetPointsAttr().GetNumTimeSamples() > 0]
        if moving_pts and skel_anim is None:
            frames = []
            for c in codes:
                tc = Usd.TimeCode(c)
                xc = UsdGeom.XformCache(tc)
                frames.append(np.vstack([_apply(_matrix(xc.GetLocalToWorldTransform(p)),
                                                np.asarray(UsdGeom.Mesh(p).GetPointsAttr().Get(tc), np.float64))
                                         for p, _ in visual_prims.values()]))
            vertices = np.asarray(frames)
        rotations = {}
        if skel_anim is not None:
            restT = np.array([_matrix(m) for m in UsdSkel.Skeleton(skel_prim).GetRestTransformsAttr().Get()])
            names = asset.skeleton.joint_names
            for k, nm in enumerate(names):
                q = []
                for c in codes:
                    rots = skel_anim.GetRotationsAttr().Get(Usd.TimeCode(c))
                    r = rots[k]
                    R = Rotation.from_quat([r.GetReal(), *r.GetImaginary()], scalar_first=True).as_matrix()
                    q.append(Rotation.from_matrix(restT[k][:3, :3].T @ R).as_quat(scalar_first=True))
                rotations[nm] = np.asarray(q)
        out.append(MotionClip(cname, times, joint_positions=tracks, root_poses=root_poses, vertices=vertices,
                              joint_rotations=rotations))
    return out


def _from_glb(path: Path, name: str):
    """The visual mesh of a GLB (glTF Y up turned Z up), one part."""
    import trimesh

    from n4d4d.asset import Asset, Mesh, Part
    from n4d4d.conventions import Y_UP_TO_Z_UP

    scene = trimesh.load(str(path), force="scene")
    tm = scene.to_geometry() if hasattr(scene, "to_geometry") else scene.dump(concatenate=True)
    mesh = Mesh(np.asarray(tm.vertices) @ Y_UP_TO_Z_UP.T, np.asarray(tm.faces))
    return Asset(name=name, visual=mesh, parts=(Part("body", mesh, np.arange(len(mesh.faces))),))
