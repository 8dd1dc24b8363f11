"""``--rig from-file``: a skinned glTF keeps its skeleton, inverse bind matrices, weights and walk.

The frame change and the weight transfer are checked on closed forms (a known similarity; points
on a triangle); CesiumMan (development data) is built once, up to the animate stage, and its
skeleton is compared with the file's own inverse bind matrices, read here by a few lines of
json/struct that share nothing with n4d4d's reader, in the asset, the GLB and the USD.
"""

from __future__ import annotations

import json
import struct
import subprocess

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from n4d4d.asset import MotionClip


def _similarity(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    A = np.eye(4)
    A[:3, :3] = 0.37 * Rotation.random(random_state=rng).as_matrix()
    A[:3, 3] = rng.normal(size=3)
    return A


def test_fit_similarity_recovers_a_known_one():
    from n4d4d.io.gltf_anim import fit_similarity

    src = np.random.default_rng(0).normal(size=(50, 3))
    A = _similarity()
    # exact data: Umeyama's closed form recovers it to rounding (1e-12 on unit-sized numbers)
    np.testing.assert_allclose(fit_similarity(src, src @ A[:3, :3].T + A[:3, 3]), A, atol=1e-12)


def test_moving_a_skin_commutes_with_skinning(tmp_path):
    """The file's skin read back and moved by a similarity skins to the moved frames of the
    unmoved one: in_frame changes nothing but the frame (LBS is linear; 1e-9 m is rounding)."""
    from n4d4d.deformation import shapes
    from n4d4d.deformation.skinning import skin_clip
    from n4d4d.exporters.glb import write_glb
    from n4d4d.io.gltf_anim import read_gltf_animation

    a = shapes.skinned_cylinder()
    T = 11
    t = np.arange(T) / 10.0
    root = np.zeros((T, 7))
    root[:, 3], root[:, 1] = 1.0, 0.3 * t
    rots = {"elbow": Rotation.from_rotvec(np.outer(1.2 * t, [0, 1, 0])).as_quat(scalar_first=True)}
    g = read_gltf_animation(write_glb(a.replace(motion_clips=(MotionClip("bend", t, root_poses=root,
                                                                         joint_rotations=rots),)),
                                      tmp_path / "c.glb"))
    A = _similarity()
    moved = g.in_frame(A)
    np.testing.assert_allclose(moved.vertices, g.vertices @ A[:3, :3].T + A[:3, 3], atol=1e-12)
    before = skin_clip(g.vertices, g.weights, g.skeleton, g.clips[0], "lbs")
    after = skin_clip(moved.vertices, moved.weights, moved.skeleton, moved.clips[0], "lbs")
    np.testing.assert_allclose(after, before @ A[:3, :3].T + A[:3, 3], atol=1e-9)
    # the bind rotations stay rotations (no scale leaks into the skeleton)
    R = moved.skeleton.bind_transforms[:, :3, :3]
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.tile(np.eye(3), (len(R), 1, 1)), atol=1e-6)


def test_frame_onto_a_loaded_mesh_with_fewer_vertices(tmp_path):
    """The loader drops vertices no face uses: the frame is then found from the bounding boxes
    (scale and translation; the load stage turns nothing but glTF's Y up, already undone)."""
    from n4d4d.asset import Mesh
    from n4d4d.deformation import shapes
    from n4d4d.exporters.glb import write_glb
    from n4d4d.io.gltf_anim import frame_onto, read_gltf_animation

    g = read_gltf_animation(write_glb(shapes.skinned_cylinder(), tmp_path / "c.glb"), animations=False)
    A = np.diag([0.4, 0.4, 0.4, 1.0])
    A[:3, 3] = [0.1, -0.2, 0.3]
    kept = np.arange(len(g.vertices))[5:]  # an interior run of vertices gone, the extremes kept
    kept = np.union1d(kept, [np.argmin(g.vertices[:, 0]), np.argmax(g.vertices[:, 0])])
    loaded = Mesh(g.vertices[kept] @ A[:3, :3].T + A[:3, 3], np.zeros((0, 3), np.int64))
    found, err = frame_onto(g, loaded)
    np.testing.assert_allclose(found, A, atol=1e-9)  # float32 GLB vertices, exact maps of them
    assert err < 1e-9


def test_weights_transfer_by_closest_point_is_barycentric():
    from n4d4d.rigging.from_file import transfer_weights

    v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    f = np.array([[0, 1, 2]])
    w = np.eye(3)
    pts = np.array([[0.0, 0, 0], [1 / 3, 1 / 3, 0.2], [0.5, 0.25, -0.1], [2.0, 0, 0]])
    out, dist = transfer_weights(v, f, w, pts)
    # a vertex keeps its weights, a point above the triangle takes its foot's barycentric
    # coordinates, a point outside takes the nearest vertex's (float32 BVH query: 1e-6)
    np.testing.assert_allclose(out, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.25, 0.5, 0.25], [0, 1, 0]], atol=1e-6)
    np.testing.assert_allclose(dist, [0, 0.2, 0.1, 1.0], atol=1e-6)


def test_rig_from_file_refuses_an_input_without_skin_or_parts(tmp_path):
    import trimesh

    from n4d4d.asset import Asset, Mesh, Provenance
    from n4d4d.errors import InputError
    from n4d4d.rigging.stage import rig_stage

    box = trimesh.creation.box()
    path = tmp_path / "box.obj"
    box.export(path)
    a = Asset("box", visual=Mesh(box.vertices, box.faces), provenance=Provenance(str(path), "", 0))
    with pytest.raises(InputError, match="from-file needs a skinned glTF or a URDF"):
        rig_stage(a, mode="from-file")
    assert rig_stage(a, mode="auto").skeleton is None  # auto: no skin, no skeleton


# --- CesiumMan -------------------------------------------------------------------------------

def _glb(path):
    """(json, accessor reader) of a GLB, by the spec's byte layout (glTF 2.0 section 4.4)."""
    data = open(path, "rb").read()
    n = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20:20 + n])
    blob = data[28 + n:]

    def accessor(i):
        acc = doc["accessors"][i]
        view = doc["bufferViews"][acc["bufferView"]]
        width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc["type"]]
        dtype = {5126: "<f4", 5123: "<u2", 5121: "u1"}[acc["componentType"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        itemsize = np.dtype(dtype).itemsize
        stride = view.get("byteStride") or itemsize * width
        rows = np.ndarray((acc["count"], width), dtype, blob, start, (stride, itemsize))
        return np.array(rows, np.float64)
    return doc, accessor


def _ibms(doc, accessor, skin=0):
    """Inverse bind matrices ``(J, 4, 4)`` (column-vector convention) of a GLB's skin, and its
    joint names (n4d4d's writer prefixes ``joint_``)."""
    joints = doc["skins"][skin]["joints"]
    names = [(doc["nodes"][n].get("name") or f"node{n}").removeprefix("joint_") for n in joints]
    return accessor(doc["skins"][skin]["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1), names


def _by_name(ibm, names, order):
    return ibm[[names.index(n) for n in order]]


def _same_skin_up_to_a_rigid_move(ibm_a, ibm_b):
    """``IBM_b = IBM_a X^-1`` for one rigid X (a frame change of the mesh) for every joint: the
    largest deviation, and how far X is from a rotation (unit = m: no scale)."""
    X = np.linalg.inv(ibm_b[0]) @ ibm_a[0]
    dev = float(np.abs(ibm_b @ X - ibm_a).max())
    return dev, float(np.abs(X[:3, :3] @ X[:3, :3].T - np.eye(3)).max())


@pytest.fixture(scope="module")
def cesium(shared_data, tmp_path_factory):
    from n4d4d.exporters import export
    from n4d4d.options import BuildOptions
    from n4d4d.pipeline import STAGES, run_stage
    from n4d4d.sources import as_source

    path = shared_data / "rigged" / "CesiumMan.glb"
    opts = BuildOptions(resolution=40, max_faces=2500, max_hulls=2, seed=0, unit="m", seconds=1.0)
    asset = run_stage(STAGES[0], as_source(path), opts)
    for stage in STAGES[1:]:
        if stage.name == "physics":
            break
        asset = run_stage(stage, asset, opts)
    out = tmp_path_factory.mktemp("cesium")
    return path, asset, export(asset, out, ("usda", "glb"))


def test_cesium_man_keeps_its_skeleton_weights_and_walk(cesium):
    path, asset, _ = cesium
    doc, accessor = _glb(path)
    names = [doc["nodes"][n].get("name") or f"node{n}" for n in doc["skins"][0]["joints"]]
    rig = next(s for s in asset.stages if s.name == "rigging").figures
    assert rig["mode"] == "from-file"  # --rig auto picks the file's skin
    assert list(asset.skeleton.joint_names) == names and len(names) == 19
    # the asset's inverse bind matrices are the file's after one rigid move (the load stage's
    # grounding and Y-up turn); float32 file storage: 1e-6
    dev, not_rigid = _same_skin_up_to_a_rigid_move(_ibms(doc, accessor)[0], np.linalg.inv(asset.skeleton.bind_transforms))
    assert dev < 1e-6 and not_rigid < 1e-6
    W = asset.skin_weights
    assert W.shape == (len(asset.visual.vertices), 19) and W.min() >= 0
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-12)
    assert any("210 vertices" in n and "normalised" in n for n in asset.notes)  # the file's quirk, said
    # the weights came from nearby: a coarse remesh (40 cells over 1.5 m) lies within a cell of the input
    assert rig["skin_transfer_max_m"] < 1.5 / 40
    walk = [c for c in asset.motion_clips if c.family == "imported"]
    assert len(walk) == 1 and len(walk[0].times) == 61  # the file's 2 s at 30 fps
    assert walk[0].times[-1] - walk[0].times[0] == pytest.approx(2.0)
    animate = next(s for s in asset.stages if s.name == "animate").figures
    assert any(c["family"] == "imported" and c["duration_s"] == pytest.approx(2.0) for c in animate["clips"])


def test_cesium_man_walk_on_the_remeshed_body_follows_the_files_own_skinning(cesium):
    """Each remeshed vertex, moved by the imported walk, stays with the file's own skinning of its
    nearest file vertex (the glTF spec's linear blend of the file's weights, offset by the bind
    distance between the two): weights transferred, frame changed and clip imported right.
    Bounds: a 40-cell remesh lies ~1 mm from the input; at limb junctions closest-point weights
    and the rigid offset err by centimetres (measured: median 1.0 mm, 95% 5 mm, max 37 mm)."""
    from scipy.spatial import cKDTree

    from n4d4d.io.gltf_anim import frame_onto, read_gltf_animation

    path, asset, _ = cesium
    g = read_gltf_animation(path, fps=30)
    g = g.in_frame(frame_onto(g, asset.source_mesh)[0])
    walk = next(c for c in asset.motion_clips if c.family == "imported")
    v = np.asarray(asset.visual.vertices)
    near = cKDTree(g.vertices).query(v)[1]
    err = np.linalg.norm(walk.vertices - (g.clips[0].vertices[:, near] + (v - g.vertices[near])), axis=2)
    assert np.median(err) < 0.003 and np.percentile(err, 95) < 0.01 and err.max() < 0.06


def test_cesium_man_glb_skin_and_walk_pass_the_khronos_validator(cesium, gltf_validator):
    from test_export_kinds import GLTF_SCRIPT

    path, asset, files = cesium
    node, root = gltf_validator
    out = subprocess.run([node, "-e", GLTF_SCRIPT, str(files["glb"])], env={"NODE_PATH": root, "PATH": ""},
                         capture_output=True, text=True, timeout=120)
    report = json.loads(out.stdout)
    assert report["errors"] == 0, report["messages"]
    doc_in, acc_in = _glb(path)
    doc, acc = _glb(files["glb"])
    assert len(doc["skins"]) == 1 and len(doc["skins"][0]["joints"]) == 19
    ibm_in, names = _ibms(doc_in, acc_in)
    ibm_out, out_names = _ibms(doc, acc)
    assert sorted(out_names) == sorted(names)
    dev, not_rigid = _same_skin_up_to_a_rigid_move(ibm_in, _by_name(ibm_out, out_names, names))
    assert dev < 1e-6 and not_rigid < 1e-6
    walk = next(a for a in doc["animations"] if a["name"] == next(c.name for c in asset.motion_clips
                                                                  if c.family == "imported"))
    ends = {acc(walk["samplers"][c["sampler"]]["input"]).max() for c in walk["channels"]}
    assert ends == {2.0}  # 2 s is exact in float32
    joint_nodes = set(doc["skins"][0]["joints"])
    assert {c["target"]["node"] for c in walk["channels"]} <= joint_nodes  # skin channels only


def test_cesium_man_usd_skeleton_and_walk_read_back_with_pxr(cesium):
    from pxr import Usd, UsdSkel

    path, asset, files = cesium
    stage = Usd.Stage.Open(str(files["usda"]))
    skels = [UsdSkel.Skeleton(p) for p in stage.Traverse() if p.IsA(UsdSkel.Skeleton)]
    assert len(skels) == 1 and len(skels[0].GetJointsAttr().Get()) == 19
    doc, accessor = _glb(path)
    bind = np.array([np.array(m).T for m in skels[0].GetBindTransformsAttr().Get()])  # USD rows -> columns
    usd_names = [str(j).rsplit("/", 1)[-1] for j in skels[0].GetJointsAttr().Get()]
    ibm_in, names = _ibms(doc, accessor)
    dev, not_rigid = _same_skin_up_to_a_rigid_move(ibm_in, _by_name(np.linalg.inv(bind), usd_names, names))
    assert dev < 1e-6 and not_rigid < 1e-6
    name = next(c.name for c in asset.motion_clips if c.family == "imported")
    anim = next(UsdSkel.Animation(p) for p in stage.Traverse() if p.IsA(UsdSkel.Animation) and p.GetName() == name)
    codes = anim.GetRotationsAttr().GetTimeSamples()
    assert len(codes) == 61 and (codes[-1] - codes[0]) / stage.GetTimeCodesPerSecond() == pytest.approx(2.0)
