"""Shared fixtures: where the development data lies, and pybullet_data meshes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``../shared`` beside the repository (or ``$N4D4D_SHARED``)."""
    return Path(os.environ.get("N4D4D_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; skips the test with a reason when it is absent (a user's machine)."""
    d = shared_dir() / "data"
    if not d.is_dir():
        pytest.skip(f"development data not found at {d} (it ships beside the project, not in it)")
    return d


@pytest.fixture(scope="session")
def pybullet_data() -> Path:
    """The folder of meshes and URDFs installed with pybullet."""
    import pybullet_data as pd

    return Path(pd.getDataPath())


@pytest.fixture(scope="session")
def gltf_validator() -> tuple[str, str]:
    """``(node, npm global root)`` to run the Khronos glTF validator (npm ``gltf-validator``,
    which ``make system-deps`` installs); skips the test with a reason when node or it is absent."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the Khronos glTF validator runs on node)")
    root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True).stdout.strip()
    probe = subprocess.run([node, "-e", "require('gltf-validator')"], env={"NODE_PATH": root, "PATH": ""},
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("npm package gltf-validator is not installed (npm install -g gltf-validator)")
    return node, root
