"""Motion clips collide the certificate's hull shapes (:func:`n4d4d.physics_validation.penetration.hull_shape`).

A clip's PyBullet scene (:func:`n4d4d.deformation.bullet_scene.build`) once shrank each hull by a
quarter of its centroid's depth when the hull was thinner than two Bullet margins, while the
certificate's sweeps shrink it by 0.9 of its inscribed radius: a 1 mm flap collided 0.33 mm fatter
in the clip than in the sweep, so PartNet-Mobility 100154's box flaps, whose sweeps keep them
0.4 mm from the neighbouring flap, were stopped 0.05-0.24 rad short of their -3.93 rad limit in
the ``articulate`` clip.

Geometry (closed form): a base block and two parallel plates, each plate a child of the base on
its own prismatic joint (so the plates are non-adjacent and collide), the plates' facing sides
``GAP`` apart. Bullet inflates every hull by its 1 mm margin (``BULLET_HULL_MARGIN_M``); a hull
is shrunk by that margin first, or, when its inscribed radius ``r`` is under the margin (a slab
thinner than 2 mm: ``r`` = half its thickness), by ``0.9 r``. So two plates 10 mm thick are
seen ``GAP`` apart, and two plates 1 mm thick ``GAP - 2 (1 - 0.45) mm`` apart.
"""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from boxes import box_between

from n4d4d.asset import Asset, Joint, Mesh, Part
from n4d4d.physics_validation import collision_stage, mass_stage

#: Distance (m) between the plates' facing sides.
GAP = 0.002


def _plates(thickness: float) -> Asset:
    t = thickness
    meshes = {"base": box_between([-0.2, -0.2, 0.0], [0.2, 0.2, 0.05]),
              "a": box_between([-0.1, -0.1, 0.1], [0.1, -0.1 + t, 0.3]),
              "b": box_between([-0.1, -0.1 + t + GAP, 0.1], [0.1, -0.1 + 2 * t + GAP, 0.3])}
    joints = tuple(Joint(name=f"slide_{n}", type="prismatic", parent="base", child=n, origin=np.array([0.0, 0.0, 0.1]),
                         axis=np.array([0.0, 0.0, 1.0]), lower=0.0, upper=0.05, effort=50.0, velocity=1.0)
                   for n in ("a", "b"))
    parts = tuple(Part(n, Mesh.from_trimesh(m)) for n, m in meshes.items())
    visual = Mesh.from_trimesh(trimesh.util.concatenate(list(meshes.values())))
    return mass_stage(collision_stage(Asset(name=f"plates_{t}", visual=visual, parts=parts, joints=joints)))


@pytest.mark.parametrize("thickness, seen", [(0.010, GAP), (0.001, GAP - 2 * (0.001 - 0.9 * 0.0005))])
def test_a_clip_scene_sees_the_hulls_the_sweeps_measure(thickness, seen):
    from n4d4d.deformation import bullet_scene as bs
    from n4d4d.physics_validation.penetration import HullWorld
    from n4d4d.physics_validation.rigid_model import link_transforms, rigid_model

    asset = _plates(thickness)
    model = rigid_model(asset)
    index = {link.name: link.index for link in model.links}
    a, b = index["a"], index["b"]
    client = bs.connect(1.0 / 960.0)
    try:
        scene = bs.build(client, model, asset.material, np.eye(4), fixed_root=True)
        points = client.getClosestPoints(scene.bodies[a], scene.bodies[b], 0.05, scene.links[a], scene.links[b])
        clip_gap = min(p[8] for p in points)
    finally:
        client.disconnect()
    with HullWorld(model) as world:
        world.set_poses(link_transforms(model))
        sweep_gap = min(p[8] for p in world.client.getClosestPoints(world.bodies[a], world.bodies[b], 0.05))
    # GJK on boxes: exact to Bullet's float tolerance (1e-5 m measured); 0.05 mm keeps the thin
    # case (0.9 mm) apart from the old shrink's 0.25 mm
    assert clip_gap == pytest.approx(seen, abs=5e-5)
    assert clip_gap == pytest.approx(sweep_gap, abs=1e-6)  # the same shapes in the clip and the sweep
