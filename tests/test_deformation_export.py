"""Clips in the files that carry animation: MJCF keyframes read back by MuJoCo, and the GLB of each
motion family through the Khronos glTF validator (skipped with a reason without node and the
validator)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from n4d4d.asset import Mesh
from n4d4d.deformation import shapes
from n4d4d.deformation.articulate import articulate_clip
from n4d4d.deformation.drop import drop_clip
from n4d4d.physics_validation import collision_stage, mass_stage


@pytest.fixture(scope="module")
def lid_clips():
    lid = mass_stage(collision_stage(shapes.hinged_lid_box()))
    return lid.replace(motion_clips=(articulate_clip(lid, seconds=1), drop_clip(lid, seed=2, seconds=1)))


def test_mjcf_keyframes_pose_the_model_at_every_frame(lid_clips, tmp_path):
    import mujoco

    from n4d4d.exporters.mjcf import write_mjcf
    from n4d4d.kinematics import kinematic_tree, part_poses

    model = mujoco.MjModel.from_xml_path(str(write_mjcf(lid_clips, tmp_path / "asset.xml")))
    art, drop = lid_clips.motion_clips
    assert model.nkey == len(art.times) + len(drop.times)
    data = mujoco.MjData(model)
    hinge = int(model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "hinge")])
    lid_body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "lid")
    poses = part_poses(lid_clips, kinematic_tree(lid_clips), drop)
    # MuJoCo's XML keeps 6 significant digits: coordinates within 1e-5
    for k in range(len(art.times)):
        mujoco.mj_resetDataKeyframe(model, data, k)
        assert data.qpos[hinge] == pytest.approx(art.joint_positions["hinge"][k], abs=1e-5)
        assert data.ctrl[0] == pytest.approx(art.commanded_positions["hinge"][k], abs=1e-5)
    for k in range(len(drop.times)):
        mujoco.mj_resetDataKeyframe(model, data, len(art.times) + k)
        mujoco.mj_forward(model, data)
        np.testing.assert_allclose(data.xpos[lid_body], poses["lid"][k, :3, 3], atol=1e-5)
    assert model.key_time[len(art.times)] == 0.0 and model.key_time[-1] == pytest.approx(drop.times[-1], abs=1e-6)


SCRIPT = """
const fs = require('fs'); const v = require('gltf-validator');
v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[1])), {maxIssues: 500}).then(r => {
  console.log(JSON.stringify({errors: r.issues.numErrors, animations: r.info.animationCount,
    messages: r.issues.messages.filter(m => m.severity < 1).map(m => m.code + ' ' + m.pointer)}));
});
"""


def _animal_walk():
    from n4d4d.deformation.gait import gait_clip
    from n4d4d.generator.procedural import make_shape

    a = make_shape("animal", 0)
    a = mass_stage(a.replace(collision={p.name: (Mesh.from_trimesh(p.mesh.to_trimesh().convex_hull),) for p in a.parts}))
    return a.replace(motion_clips=(gait_clip(a, seconds=1),))


def _cylinder_idle():
    from n4d4d.deformation.gait import idle_clip

    a = shapes.skinned_cylinder()
    return a.replace(motion_clips=(idle_clip(a, seconds=1),))


@pytest.mark.parametrize("family", ["articulate_drop", "gait", "idle_skinned"])
def test_glb_of_each_family_passes_the_khronos_validator(family, lid_clips, tmp_path, gltf_validator):
    from n4d4d.exporters.glb import write_glb

    node, root = gltf_validator
    asset = {"articulate_drop": lambda: lid_clips, "gait": _animal_walk, "idle_skinned": _cylinder_idle}[family]()
    path = write_glb(asset, tmp_path / "asset.glb")
    out = subprocess.run([node, "-e", SCRIPT, str(path)], env={"NODE_PATH": root, "PATH": ""},
                         capture_output=True, text=True, timeout=120)
    report = json.loads(out.stdout)
    assert (report["errors"], report["messages"]) == (0, [])
    assert report["animations"] == len(asset.motion_clips)
