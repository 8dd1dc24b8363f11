"""A small hull that a joint's motion brings into a neighbour's, and that no cut the motion keeps
can part, is dropped; a part's only hull, or a hull that covers much of its part, never is.

Closed form: door a (0.407 x 0.007 x 0.5 m, hinge about z at y = -0.4) is given two box hulls,
a plate (y <= 0) and a 7 mm edge strip (0 <= y <= 7 mm) whose faces are 2.5% of the door's
surface (2 x 7 mm x 0.5 m + 7 x 500 mm^2 + 2 x 49 mm^2 of 0.416 m^2); door b stands 3.7 mm
clear of the strip at rest on a parallel hinge, so the motion keeps only planes normal to z,
and a cut along z would uncover all of what the strip alone covers. The strip goes (2.5% is
under the 5% bound), the plate (97.5%) and b's one hull stay, their pair listed as one that may
meet in motion."""
from __future__ import annotations

import numpy as np

from n4d4d.asset import Asset, Joint, Mesh, Part
from n4d4d.physics_validation.hull_clip import MAX_DROPPED_FRACTION, clip_hulls
from n4d4d.physics_validation.part_motion import colliding_pairs, pair_motions

from boxes import box_between


def test_a_small_hull_in_a_moving_neighbours_way_is_dropped_not_the_rest():
    body = box_between([0.05, -0.45, 0.0], [0.3, 0.25, 0.5])
    a = box_between([0.0, -0.4, 0.0], [0.007, 0.007, 0.5])
    b = box_between([0.0, 0.0107, 0.0], [0.014, 0.2107, 0.5])
    parts = [Part("body", Mesh.from_trimesh(body)), Part("a", Mesh.from_trimesh(a)), Part("b", Mesh.from_trimesh(b))]
    z = np.array([0.0, 0.0, 1.0])
    joints = [Joint("ja", "revolute", "body", "a", np.array([0.0, -0.4, 0.0]), z, 0.0, 1.5),
              Joint("jb", "revolute", "body", "b", np.array([0.0, 0.2107, 0.0]), -z, 0.0, 1.5)]
    asset = Asset(name="doors", visual=parts[0].mesh, parts=tuple(parts), joints=tuple(joints))
    plate = Mesh.from_trimesh(box_between([0.0, -0.4, 0.0], [0.007, 0.0, 0.5]))
    strip = Mesh.from_trimesh(box_between([0.0, 0.0, 0.0], [0.007, 0.007, 0.5]))
    hulls = [[Mesh.from_trimesh(body)], [plate, strip], [Mesh.from_trimesh(b)]]
    pairs = colliding_pairs(asset)
    motions = pair_motions(asset, pairs)
    area = 2 * 0.407 * 0.5 + 2 * 0.007 * 0.5 + 2 * 0.407 * 0.007
    own = 2 * 0.007 * 0.5 + 0.007 * 0.5 + 2 * 0.007 * 0.007
    assert own / area < MAX_DROPPED_FRACTION < (area - own) / area  # the strip may go, the plate may not
    out, fig = clip_hulls([p.mesh for p in asset.parts], hulls, [True] * 3, pairs, motions=motions)
    assert fig["parts"][1]["dropped_for_motion"] == 1 and fig["parts"][1]["dropped"] == 1
    assert len(out[1]) == 1 and np.array_equal(out[1][0].vertices, plate.vertices)  # the plate, uncut
    assert len(out[2]) == 1 and np.array_equal(out[2][0].vertices, hulls[2][0].vertices)  # b's only hull stays
    assert fig["unresolved"] and all(u.get("at_rest") is False for u in fig["unresolved"])
