"""Scenario specs are rejected before any work, naming the field and the line; a valid spec
plans the same builds, seeds and drawn values every time, and a procedural source is written as
a URDF whose joints load back as authored."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from typer.testing import CliRunner

from n4d4d.cli import app
from n4d4d.scenarios.plan import derive_seed, plan_scenario
from n4d4d.scenarios.spec import SpecError, load_spec, parse_spec

GOOD = """\
name: shelf
seed: 11
build: {resolution: 64, max_hulls: 4, unit: m}
sources:
  - files: ["meshes/*.obj"]
    variants: 2
    randomize:
      size: [0.05, 0.10]
      density: [300, 900]
      friction: 0.7
  - samples: ["random_urdfs/00[0-1]"]
scene:
  placement: {mode: grid}
"""


@pytest.fixture
def spec_dir(tmp_path):
    (tmp_path / "meshes").mkdir()
    for k in range(2):
        trimesh.creation.box((0.1, 0.05 + 0.01 * k, 0.04)).export(tmp_path / "meshes" / f"box{k}.obj")
    return tmp_path


def write(folder, text):
    path = folder / "spec.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("old, new, needle, field, words", [
    ("      friction: 0.7\n", "      friction: 0.7\n      frictoin: 0.3\n", "frictoin:", "sources[0].randomize.frictoin",
     "unknown field"),
    ("size: [0.05, 0.10]", "size: [0.10, 0.05]", "size:", "sources[0].randomize.size", "low 0.1 is above high 0.05"),
    ("density: [300, 900]", "density: [-5, 900]", "density:", "sources[0].randomize.density", "must be > 0"),
    ("  placement: {mode: grid}", "  placement: {mode: grid, region: [[1, 0], [0, 1]]}", "placement:",
     "scene.placement.region", "bad range"),
    ("  - samples:", "  - fles: [a.obj]\n    samples:", "fles:", "sources[1].fles", "unknown field"),
    ('files: ["meshes/*.obj"]', 'files: ["meshes/*.stl"]', "files:", "sources[0].files[0]", "no file matches"),
    ('"random_urdfs/00[0-1]"', '"teapot"', "teapot", "sources[1].samples[0]", "unknown sample"),
])
def test_bad_spec_names_field_and_line_before_any_work(spec_dir, old, new, needle, field, words):
    assert old in GOOD
    text = GOOD.replace(old, new)
    # ground truth for "names the line": the 1-based line of the offending text in what we wrote
    line = next(k for k, t in enumerate(text.splitlines(), 1) if needle in t)
    path = write(spec_dir, text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    err = info.value
    assert err.line == line and err.field == field, (str(err), err.line, err.field)
    assert f"spec.yaml:{line}:" in str(err) and field in str(err) and words in str(err)
    out = spec_dir / "out"
    result = CliRunner().invoke(app, ["scenario", "run", str(path), "-o", str(out)])
    assert result.exit_code == 2 and field in result.output, result.output
    assert not out.exists()  # rejected before any work: nothing written


def test_yaml_syntax_error_names_line(tmp_path):
    with pytest.raises(SpecError) as info:
        parse_spec("name: x\nsources:\n  - files: [a\n", tmp_path / "s.yaml")
    assert info.value.line is not None and "not valid YAML" in str(info.value)


def test_plan_is_deterministic_and_draws_within_ranges(spec_dir):
    spec = load_spec(write(spec_dir, GOOD))
    a, b = plan_scenario(spec, spec_dir / "out"), plan_scenario(load_spec(spec_dir / "spec.yaml"), spec_dir / "out")
    assert [x.name for x in a.assets] == ["box0_v0", "box0_v1", "box1_v0", "box1_v1",
                                           "random_urdfs_000", "random_urdfs_001"]
    assert [x.job.options for x in a.assets] == [x.job.options for x in b.assets]
    seeds = [x.seed for x in a.assets]
    assert len(set(seeds)) == len(seeds)
    # the seed is SeedSequence([spec seed, role 0 (object), entry, item, variant])'s first word
    assert seeds[1] == int(np.random.SeedSequence([11, 0, 0, 0, 1]).generate_state(1)[0]) == derive_seed(11, 0, 0, 0, 1)
    for x in a.assets[:4]:
        o = x.job.options
        assert 0.05 <= o.longest_side <= 0.10 and 300 <= o.density <= 900 and o.unit is None
        assert o.static_friction == o.dynamic_friction == 0.7 and o.seed == x.seed and o.name == x.name
        assert set(o.formats) >= {"usda", "urdf"}
    assert a.assets[4].job.options.unit == "m"  # spec build options reach entries without a size draw
    assert not (spec_dir / "out").exists()  # planning writes nothing


def test_procedural_source_is_a_urdf_with_the_family_joints(tmp_path):
    from n4d4d.generator.procedural import make_shape
    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.scenarios.procedural import write_procedural_urdf

    truth = make_shape("cabinet", 2)
    urdf = write_procedural_urdf(tmp_path / "cab", "cabinet", 2)
    first = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in sorted((tmp_path / "cab").rglob("*")) if p.is_file()}
    write_procedural_urdf(tmp_path / "cab", "cabinet", 2)  # a rerun keeps the same bytes
    assert first == {p.relative_to(tmp_path).as_posix(): p.read_bytes()
                     for p in sorted((tmp_path / "cab").rglob("*")) if p.is_file()}
    loaded = load_urdf_asset(urdf)
    got = {j.child: j for j in loaded.joints}
    assert len(got) == len([j for j in truth.joints if j.type != "fixed"]) > 0
    for j in truth.joints:
        if j.type == "fixed":
            continue
        g = got[j.child]
        # pivots and axes in the asset frame as the family made them (OBJ written to 1e-7 m)
        assert g.type == j.type
        np.testing.assert_allclose(g.origin, j.origin, atol=1e-6)
        np.testing.assert_allclose(g.axis, np.asarray(j.axis) / np.linalg.norm(j.axis), atol=1e-9)
        assert g.lower == pytest.approx(j.lower, abs=1e-8) and g.upper == pytest.approx(j.upper, abs=1e-8)
    # scaled to a longest side: every length scales, angles do not
    scaled = load_urdf_asset(write_procedural_urdf(tmp_path / "cab2", "cabinet", 2, longest_side=0.5))
    lo, hi = scaled.visual.bounds
    assert float(np.max(hi - lo)) == pytest.approx(0.5, rel=1e-6)


def test_generate_entries_become_generated_jobs(tmp_path):
    """A ``generate`` entry plans one Generated source per count, seeded in order, named by
    category and seed; building them is the generator's and the pipeline's job (a generated
    shape through every stage: tests/test_generate.py)."""
    from n4d4d.sources import Generated

    spec = parse_spec("name: gen\nseed: 1\nsources:\n  - generate: {category: mug, count: 2}\n", tmp_path / "g.yaml")
    plan = plan_scenario(spec, tmp_path / "out")
    assert [a.job.source for a in plan.assets] == [Generated("mug", 0), Generated("mug", 1)]
    assert len({a.job.source.name for a in plan.assets}) == 2
    assert all("mug" in a.job.source.name for a in plan.assets)
