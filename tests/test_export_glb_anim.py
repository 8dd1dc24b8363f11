"""glTF skins and animations in the GLB, evaluated with the glTF 2.0 spec's own formulas.

Skinning per glTF 2.0 section 3.7.3: ``v' = sum_k w_k * G(joint_k) * IBM_k * v`` with ``G`` the
joint node's global matrix; node locals are T * R * S. The file's numbers come from the raw GLB
chunks; the expected positions are closed form.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_export_common import hinged_asset, skinned_asset
from test_export_formats import _accessor, _glb_json_and_bin

from n4d4d.asset import MotionClip
from n4d4d.conventions import Y_UP_TO_Z_UP
from n4d4d.exporters import export


def local_matrix(node, rotation=None, translation=None):
    if "matrix" in node:
        return np.array(node["matrix"]).reshape(4, 4).T
    m = np.eye(4)
    m[:3, :3] = Rotation.from_quat(rotation if rotation is not None else node.get("rotation", [0, 0, 0, 1])).as_matrix()
    m[:3, :3] *= np.array(node.get("scale", [1, 1, 1]))
    m[:3, 3] = translation if translation is not None else node.get("translation", [0, 0, 0])
    return m


def global_matrices(tree, animated=None):
    """Node index -> global 4x4; ``animated`` maps (node, path) -> value."""
    animated = animated or {}
    out = {}

    def visit(i, parent):
        node = tree["nodes"][i]
        out[i] = parent @ local_matrix(node, animated.get((i, "rotation")), animated.get((i, "translation")))
        for c in node.get("children", []):
            visit(c, out[i])

    for r in tree["scenes"][tree.get("scene", 0)]["nodes"]:
        visit(r, np.eye(4))
    return out


def sample_last(tree, blob, animation):
    """(node, path) -> the animation's value at its last key frame."""
    out = {}
    for ch in animation["channels"]:
        s = animation["samplers"][ch["sampler"]]
        out[(ch["target"]["node"], ch["target"]["path"])] = _accessor(tree, blob, s["output"])[-1]
    return out


def test_skin_binds_at_rest_and_bends_like_the_closed_form(tmp_path):
    asset = skinned_asset()
    tree, blob = _glb_json_and_bin(export(asset, tmp_path, ["glb"])["glb"])
    (skin,) = tree["skins"]
    assert [tree["nodes"][j]["name"] for j in skin["joints"]] == ["joint_shoulder", "joint_elbow"]
    ibm = _accessor(tree, blob, skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
    rest = global_matrices(tree)
    for j, m in zip(skin["joints"], ibm):  # bind pose: G * IBM = I (float32 storage)
        assert np.allclose(rest[j] @ m, np.eye(4), atol=1e-6)
    body = next(i for i, n in enumerate(tree["nodes"]) if n.get("skin") == 0)
    prim = tree["meshes"][tree["nodes"][body]["mesh"]]["primitives"][0]
    pos = _accessor(tree, blob, prim["attributes"]["POSITION"]).astype(np.float64)
    joints = _accessor(tree, blob, prim["attributes"]["JOINTS_0"]).astype(int)
    weights = _accessor(tree, blob, prim["attributes"]["WEIGHTS_0"]).astype(np.float64)
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    (anim,) = tree["animations"]
    assert anim["name"] == "bend"
    times = _accessor(tree, blob, anim["samplers"][0]["input"]).ravel()
    assert times[0] == 0.0 and times[-1] == pytest.approx(1.0)
    G = global_matrices(tree, sample_last(tree, blob, anim))
    skin_mats = np.array([G[j] @ m for j, m in zip(skin["joints"], ibm)])
    homo = np.column_stack([pos, np.ones(len(pos))])
    skinned = np.einsum("vk,vkij,vj->vi", weights, skin_mats[joints], homo)[:, :3]
    skinned_z = skinned @ Y_UP_TO_Z_UP.T  # back to n4d4d's Z up
    rest_z = pos @ Y_UP_TO_Z_UP.T
    tip = rest_z[:, 0] > 0.375 + 1e-6  # bound only to the elbow
    rel = rest_z[tip] - [0.2, 0, 0.025]
    expected = np.column_stack([-rel[:, 1], rel[:, 0], rel[:, 2]]) + [0.2, 0, 0.025]  # 90 deg about +Z
    assert tip.sum() > 10 and np.allclose(skinned_z[tip], expected, atol=1e-6)


def test_rigid_clip_animates_the_lid_node(tmp_path):
    import trimesh

    t = np.linspace(0.0, 1.0, 11)
    asset = hinged_asset().replace(motion_clips=(MotionClip("open", t, {"hinge": t * np.pi / 2}),))
    path = export(asset, tmp_path, ["glb"])["glb"]
    tree, blob = _glb_json_and_bin(path)
    (anim,) = tree["animations"]
    lid = next(i for i, n in enumerate(tree["nodes"]) if n.get("name") == "lid")
    G0 = global_matrices(tree)
    G1 = global_matrices(tree, sample_last(tree, blob, anim))
    edge_y = Y_UP_TO_Z_UP.T @ np.array([0, -0.4, 0])  # the lid's front edge, lid frame, in Y up
    for G, ang in ((G0, 0.0), (G1, np.pi / 2)):
        world_z = Y_UP_TO_Z_UP @ (G[lid][:3, :3] @ edge_y + G[lid][:3, 3])
        assert np.allclose(world_z, [0, 0.2 - 0.4 * np.cos(ang), 0.1 + 0.4 * np.sin(ang)], atol=1e-6)
    scene = trimesh.load(path, process=False)  # trimesh still reads the geometry
    assert sorted(len(g.vertices) for g in scene.geometry.values()) == [8, 8]
