"""``--up`` and ``--base`` reach a URDF through the build's load stage (BuildOptions -> load_stage ->
io.urdf.load_urdf_asset). Truth: pybullet_data's own files: kuka_iiwa/model.urdf's root link
declares ``<mass value="0.0"/>`` (PyBullet's static base), so auto bolts it down and ``free`` does
not; a closed-form quadruped written Y up (the test_robots_up_axis dog) is turned by the default
``auto`` and kept Z up by ``--up z``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pybullet_data

from n4d4d.io.stage import load_stage
from n4d4d.options import BuildOptions
from n4d4d.sources import UrdfFile

from test_robots_up_axis import _dog

KUKA = Path(pybullet_data.getDataPath()) / "kuka_iiwa" / "model.urdf"


def test_base_option_reaches_the_urdf():
    assert load_stage(UrdfFile(KUKA), BuildOptions()).fixed_base is True
    assert load_stage(UrdfFile(KUKA), BuildOptions(base="free")).fixed_base is False


def test_up_option_reaches_the_urdf(tmp_path):
    path = _dog(tmp_path)
    auto = load_stage(UrdfFile(path), BuildOptions())
    as_z = load_stage(UrdfFile(path), BuildOptions(up="z"))
    # the trunk box is 0.16 x 0.1 x 0.4 in the file: read Y up it lies level (0.1 m tall), read
    # Z up as written it stands on its end (0.4 m tall); 1e-9: float round-off of the turn
    np.testing.assert_allclose(np.ptp(auto.part("trunk").mesh.bounds, axis=0), [0.16, 0.4, 0.1], atol=1e-9)
    np.testing.assert_allclose(np.ptp(as_z.part("trunk").mesh.bounds, axis=0), [0.16, 0.1, 0.4], atol=1e-9)
    assert any("read Y up" in n for n in auto.notes)
