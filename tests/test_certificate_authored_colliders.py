"""The certificate keeps a URDF's own colliders as authored: their fidelity to the visual is
reported (a warning), and only colliders that miss their link altogether fail.

Truths: the URDF text written here. A link whose visual is a 0.4 m box and whose authored
collider is a 0.27 m box (a1's trunk proportions) misses the fidelity bounds by construction
(the visual's two ends lie 65 mm outside the collider, far over 5% of the 0.42 m diagonal at
p95 of a surface sample that puts about a third of its points there); the same collider moved
1 m off (a unit or origin error) lies outside the visual's box.
"""

from __future__ import annotations

from pathlib import Path

URDF = """<?xml version="1.0"?>
<robot name="coarse">
  <link name="base">
    <visual><geometry><box size="0.4 0.1 0.1"/></geometry></visual>
    <collision><origin xyz="{dx} 0 0"/><geometry><box size="0.27 0.1 0.1"/></geometry></collision>
  </link>
</robot>
"""


def _fidelity(tmp_path: Path, dx: float):
    from n4d4d.io.stage import load_stage
    from n4d4d.options import BuildOptions
    from n4d4d.physics_validation import collision_stage
    from n4d4d.physics_validation.certificate import _fidelity_checks
    from n4d4d.physics_validation.fidelity import fidelity_misses
    from n4d4d.physics_validation.thresholds import Thresholds
    from n4d4d.sources import as_source

    path = tmp_path / f"coarse_{dx}" / "coarse.urdf"
    path.parent.mkdir()
    path.write_text(URDF.format(dx=dx))
    a = load_stage(as_source(str(path)), BuildOptions())
    a = a.replace(visual=a.source_mesh)
    a = collision_stage(a)
    fig = a.stages[-1].figures["parts"]["base"]
    assert fig["source"] == "file"
    assert fidelity_misses(fig["fidelity"], Thresholds().fidelity)  # coarse by construction
    (check,) = _fidelity_checks(a, Thresholds(), seed=0)
    return check


def test_coarse_authored_collider_is_kept_with_a_warning(tmp_path):
    check = _fidelity(tmp_path, 0.0)
    assert check.passed and check.details["authored"]
    assert check.details["warnings"] and all("kept as authored" in w for w in check.details["warnings"])


def test_authored_collider_off_its_link_still_fails(tmp_path):
    check = _fidelity(tmp_path, 1.0)
    assert not check.passed and any("do not overlap" in r for r in check.reasons)


def test_misplaced_colliders_closed_form():
    """The half-diagonal rule on unit cubes: the diagonal is sqrt(3) m, so a collider cube
    centred 0.8 m off (overlapping 0.2 m) is within sqrt(3)/2 = 0.866 m and passes, one centred
    (0.9, 0.1) m off (0.906 m) fails, and one 1.5 m off does not overlap at all."""
    import trimesh

    from n4d4d.asset import Mesh
    from n4d4d.physics_validation.certificate import misplaced_colliders

    cube = Mesh.from_trimesh(trimesh.creation.box(extents=[1, 1, 1]))

    def moved(x, y):
        m = trimesh.creation.box(extents=[1, 1, 1])
        m.apply_translation([x, y, 0])
        return Mesh.from_trimesh(m)

    assert misplaced_colliders(cube, [moved(0.8, 0.0)]) == []
    (why,) = misplaced_colliders(cube, [moved(0.9, 0.1)])
    assert "over half" in why
    (why,) = misplaced_colliders(cube, [moved(1.5, 0.0)])
    assert "do not overlap" in why
    assert misplaced_colliders(cube, [moved(0.0, 0.0)]) == []
