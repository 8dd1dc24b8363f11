"""Assets the exporter tests build by hand, and tests of the exporters' shared machinery.

Builders: a rotated box (one rigid part, its hull the box itself, mass properties in closed
form), a two-part asset joined by one joint (a box with a hinged lid, or a sliding drawer), and
a skinned two-bone bar. Other ``test_export_*`` files import them from here.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from n4d4d.asset import (Asset, Joint, MassProperties, Material, Mesh, MotionClip, Part, Provenance,
                         Skeleton)
from n4d4d.errors import ExportError

DENSITY = 500.0
BOX = np.array([0.2, 0.1, 0.05])  # m
BOX_CENTER = np.array([0.03, -0.02, 0.025])
BOX_YAW = 30.0  # degrees about Z, so the inertia tensor is not diagonal


def box_mesh(extents, center=(0, 0, 0), yaw_deg=0.0, **attrs) -> Mesh:
    """A closed box, ``extents`` (m), rotated ``yaw_deg`` about Z, centred at ``center``."""
    import trimesh

    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("z", yaw_deg, degrees=True).as_matrix()
    T[:3, 3] = center
    tm = trimesh.creation.box(extents=extents, transform=T)
    return Mesh(vertices=tm.vertices, faces=tm.faces, **attrs)


def box_mass(extents, center=(0, 0, 0), yaw_deg=0.0, density=DENSITY) -> MassProperties:
    """Closed-form mass properties of a solid box: m = rho a b c, I_xx = m (b^2 + c^2) / 12, ..."""
    a, b, c = extents
    m = density * a * b * c
    moments = m / 12.0 * np.array([b * b + c * c, a * a + c * c, a * a + b * b])
    R = Rotation.from_euler("z", yaw_deg, degrees=True).as_matrix()
    order = np.argsort(moments)
    axes = R[:, order]
    if np.linalg.det(axes) < 0:
        axes[:, 2] *= -1
    return MassProperties(
        mass=m, center_of_mass=np.asarray(center, float), inertia=R @ np.diag(moments) @ R.T,
        principal_moments=moments[order], principal_axes=Rotation.from_matrix(axes).as_quat(scalar_first=True),
        volume=a * b * c, density=density)


def provenance() -> Provenance:
    return Provenance(source="test:handmade", source_sha256="ab" * 32, seed=7,
                      versions={"n4d4d": "0.1.0", "trimesh": "test"})


def box_asset(name: str = "box", **visual_attrs) -> Asset:
    """One rigid part: the 0.2 x 0.1 x 0.05 m box, yawed 30 degrees; its single hull is itself."""
    mesh = box_mesh(BOX, BOX_CENTER, BOX_YAW, **visual_attrs)
    hull = box_mesh(BOX, BOX_CENTER, BOX_YAW)
    return Asset(name=name, visual=mesh, parts=(Part("body", mesh, np.arange(len(mesh.faces))),),
                 collision={"body": (hull,)}, mass={"body": box_mass(BOX, BOX_CENTER, BOX_YAW)},
                 material=Material(density=DENSITY), provenance=provenance())


LID_LIMITS = (0.0, 1.4)  # rad
DRAWER_LIMITS = (0.0, 0.25)  # m


def hinged_asset(kind: str = "revolute", name: str = "chest") -> Asset:
    """A 0.4 x 0.4 x 0.1 m base and a 0.4 x 0.4 x 0.02 m lid (or drawer) joined by one joint.

    ``kind="revolute"``: the lid hinges about -X through (0, 0.2, 0.1) (positive angle opens
    it), limits ``LID_LIMITS``. ``kind="prismatic"``: it slides along -Y, limits
    ``DRAWER_LIMITS``. The lid's collision is two hulls (its two halves).
    """
    base = box_mesh([0.4, 0.4, 0.1], [0, 0, 0.05])
    lid = box_mesh([0.4, 0.4, 0.02], [0, 0, 0.11])
    halves = (box_mesh([0.2, 0.4, 0.02], [-0.1, 0, 0.11]), box_mesh([0.2, 0.4, 0.02], [0.1, 0, 0.11]))
    nb = len(base.faces)
    visual = Mesh(np.vstack([base.vertices, lid.vertices]),
                  np.vstack([base.faces, lid.faces + len(base.vertices)]))
    parts = (Part("base", base, np.arange(nb)), Part("lid", lid, np.arange(nb, nb + len(lid.faces))))
    if kind == "revolute":
        joint = Joint("hinge", "revolute", "base", "lid", origin=np.array([0, 0.2, 0.1]),
                      axis=np.array([-1.0, 0, 0]), lower=LID_LIMITS[0], upper=LID_LIMITS[1], effort=5.0,
                      velocity=2.0)
    else:
        joint = Joint("slide", "prismatic", "base", "lid", origin=np.array([0, 0.0, 0.11]),
                      axis=np.array([0, -1.0, 0]), lower=DRAWER_LIMITS[0], upper=DRAWER_LIMITS[1],
                      effort=20.0, velocity=0.5)
    return Asset(name=name, visual=visual, parts=parts, joints=(joint,),
                 collision={"base": (base,), "lid": halves},
                 mass={"base": box_mass([0.4, 0.4, 0.1], [0, 0, 0.05]),
                       "lid": box_mass([0.4, 0.4, 0.02], [0, 0, 0.11])},
                 material=Material(density=DENSITY), provenance=provenance())


def skinned_asset() -> Asset:
    """A 0.4 m bar along X with a two-joint skeleton and linear-blend weights along its length."""
    import trimesh

    tm = trimesh.creation.box(extents=[0.4, 0.05, 0.05])
    tm = tm.subdivide().subdivide()
    mesh = Mesh(tm.vertices + [0.2, 0, 0.025], tm.faces)
    x = mesh.vertices[:, 0] / 0.4
    w1 = np.clip((x - 0.25) / 0.5, 0, 1)
    weights = np.column_stack([1 - w1, w1])
    skel = Skeleton(("shoulder", "elbow"), np.array([-1, 0]), np.array([[0.0, 0, 0.025], [0.2, 0, 0.025]]))
    t = np.linspace(0, 1, 11)
    rot = Rotation.from_rotvec(np.outer(t * np.pi / 2, [0, 0, 1])).as_quat(scalar_first=True)
    clip = MotionClip("bend", t, joint_rotations={"elbow": rot})
    return Asset(name="bar", visual=mesh, parts=(Part("body", mesh, np.arange(len(mesh.faces))),),
                 collision={"body": (mesh,)}, mass={"body": box_mass([0.4, 0.05, 0.05], [0.2, 0, 0.025])},
                 skeleton=skel, skin_weights=weights, motion_clips=(clip,), provenance=provenance())


# --- tests of the shared machinery -------------------------------------------------------------

def test_unknown_format_is_an_export_error(tmp_path):
    from n4d4d.exporters import export

    with pytest.raises(ExportError, match="unknown export format"):
        export(box_asset(), tmp_path, ["usda", "fbx"])
    assert list(tmp_path.iterdir()) == []
