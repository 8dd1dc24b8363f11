"""The ``articulate`` clip's contact breaking threshold
(:data:`n4d4d.deformation.articulate.BREAKING_THRESHOLD`): a drawer sliding past a closed door at
a small gap runs its whole travel, a real blocker still stops a drawer, and the threshold is put
back for the certificate's PyBullet checks afterwards (Bullet keeps it in one process-wide
variable).

Slider geometry (closed form): drawer x in [-0.6, 0], y in [-0.1, 0.1], z in [0.1, 0.2], sliding
+X by 0.5 m; a closed door (listed before the drawer, as PartNet-Mobility 45332 lists its doors)
x in [0.003, 0.033], |y| <= 0.15, from z = 0.2 + gap up to 0.5. The drawer's top passes under the
door's bottom ``gap`` apart over its whole travel and nothing stops it; at Bullet's default
threshold 0.02 it jammed after 8.6 mm (gap 1.5 mm) and 7.3 mm (gap 0.5 mm), on a contact point
carried along from the edge-edge approach. A door at x in [0.02, 0.05] reaching down to z = 0.15,
into the drawer's path, that opens only 0.05 rad (so no hold clears the path) is met by the
drawer's front after 20 mm.

Blocker geometry (closed form, tests/test_sweep_prerequisites.py's cupboard with a door that
opens only 0.2 rad, so no hold clears the drawer and the clip drives it against the closed
door): the drawer's front is at x = 0.251, the door's inner face at x = 0.253, so the drawer can
travel 2 mm of its commanded 150 mm before it meets the door."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from boxes import cupboard as make_cupboard

from n4d4d.asset import Asset, Joint, Mesh, Part
from n4d4d.physics_validation import collision_stage, mass_stage


def _block(extents, centre):
    m = trimesh.creation.box(extents=extents)
    m.apply_translation(centre)
    return m


def _tight_cupboard():
    return make_cupboard(0.2, slide_velocity=10.0, hinge_velocity=10.0, name="tight_cupboard")


@pytest.fixture(scope="module")
def tight_clip():
    from n4d4d.deformation.articulate import articulate_clip

    return articulate_clip(_tight_cupboard())


def _slider(door_x0: float, door_z0: float, door_upper: float = 1.0):
    """The slider of the module docstring; door x in [door_x0, door_x0 + 0.03], z in [door_z0, 0.5]."""
    meshes = {"base": _block([0.1, 0.6, 0.6], [-0.75, 0.0, 0.3]),
              "door": _block([0.03, 0.3, 0.5 - door_z0], [door_x0 + 0.015, 0.0, 0.5 * (door_z0 + 0.5)]),
              "drawer": _block([0.6, 0.2, 0.1], [-0.3, 0.0, 0.15])}
    joints = (Joint(name="hinge", type="revolute", parent="base", child="door", origin=np.array([door_x0, 0.15, door_z0]),
                    axis=np.array([0.0, 0.0, 1.0]), lower=0.0, upper=door_upper, effort=100.0, velocity=10.0),
              Joint(name="slide", type="prismatic", parent="base", child="drawer", origin=np.array([0.0, 0.0, 0.15]),
                    axis=np.array([1.0, 0.0, 0.0]), lower=0.0, upper=0.5, effort=100.0, velocity=10.0))
    parts = tuple(Part(n, Mesh.from_trimesh(m)) for n, m in meshes.items())
    visual = Mesh.from_trimesh(trimesh.util.concatenate(list(meshes.values())))
    return mass_stage(collision_stage(Asset(name="slider", visual=visual, parts=parts, joints=joints)))


@pytest.mark.parametrize("gap", [0.0015, 0.0005])
def test_a_drawer_slides_past_a_closed_door_a_small_gap_away(gap):
    from n4d4d.deformation.articulate import articulate_clip

    clip = articulate_clip(_slider(0.003, 0.2 + gap))
    slide, hinge = clip.joint_positions["slide"], clip.joint_positions["hinge"]
    # the drive's tracking at the hold (tests/test_sweep_prerequisites.py's 0.01): it reached its
    # upper limit, not a stop on the way
    assert slide.max() == pytest.approx(0.5, abs=0.01)
    out = slide > 0.02
    assert np.abs(hinge[out]).max() < 0.01  # the door stayed closed while the drawer passed it


def test_a_drawer_driven_into_the_door_in_its_path_stops():
    from n4d4d.deformation.articulate import TIME_STEP_S, articulate_clip

    clip = articulate_clip(_slider(0.02, 0.15, door_upper=0.05))  # cannot open out of the way: no hold
    slide, commanded = clip.joint_positions["slide"], clip.commanded_positions["slide"]
    peak = float(np.max(np.abs(np.diff(commanded)) / np.diff(clip.times)))
    # 20 mm free travel, one step late at the peak speed, two 1 mm hull margins (as below)
    assert slide.max() < 0.02 + peak * TIME_STEP_S + 0.002, (slide.max(), peak)


def test_a_drawer_driven_into_a_closed_door_still_stops(tight_clip):
    from n4d4d.deformation.articulate import TIME_STEP_S

    slide = tight_clip.joint_positions["slide"]
    commanded = tight_clip.commanded_positions["slide"]
    assert commanded.max() == pytest.approx(0.15, abs=1e-6)  # it was asked for its full travel
    # 2 mm of free travel, plus one simulation step's travel at the commanded peak speed (a
    # contact met one step late) and 2 mm for the two hulls' 1 mm Bullet margins pressed in by
    # the drive: past that it went into the door (measured: 3.2 mm, at 0.02 and 0.005 alike).
    peak = float(np.max(np.abs(np.diff(commanded)) / np.diff(tight_clip.times)))
    assert slide.max() < 0.002 + peak * TIME_STEP_S + 0.002, (slide.max(), peak)


def test_the_breaking_threshold_is_put_back_after_a_clip(tight_clip):
    """A client made after the clip collides as a fresh process does: the same two-box contact
    query gives the same points as before any clip ran (Bullet's default 0.02, not the clip's)."""
    import pybullet

    from n4d4d.deformation import bullet_scene as bs

    def contacts(setup=None):
        c = bs.connect(1.0 / 960.0)
        try:
            if setup:
                setup(c)
            cube = [[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)]
            shape = c.createCollisionShape(pybullet.GEOM_MESH, vertices=cube)
            a = c.createMultiBody(0.0, shape, basePosition=[0, 0, 0])
            b = c.createMultiBody(1.0, shape, basePosition=[0, 0, 1.01])  # 10 mm apart
            c.performCollisionDetection()
            return len(c.getContactPoints(a, b))
        finally:
            c.disconnect()

    # Independent of the clip: the cubes' hulls, each inflated by Bullet's 1 mm margin, are 8 mm
    # apart; at Bullet's 0.02 (x the cube's 0.87 m bounding radius: 17 mm) that is within the
    # manifold's reach and gives a point; at the clip's BREAKING_THRESHOLD (0.002: 1.7 mm) it gives none.
    with_default = contacts(lambda c: c.setPhysicsEngineParameter(contactBreakingThreshold=bs.BULLET_CONTACT_BREAKING_THRESHOLD))
    assert with_default > 0
    from n4d4d.deformation.articulate import BREAKING_THRESHOLD

    assert contacts(lambda c: c.setPhysicsEngineParameter(contactBreakingThreshold=BREAKING_THRESHOLD)) == 0
    other = bs.connect(1.0 / 960.0)
    try:
        with bs.contact_breaking_threshold(other, BREAKING_THRESHOLD):
            assert contacts() == 0  # the context's value reaches every client in the process
    finally:
        other.disconnect()
    assert contacts() == with_default  # and is put back when it ends
