"""The spine: sources, the stage table, options defined once, and what a batch writes.

Assets here are small boxes (closed, convex: they pass every physics check) built at low
resolution, so each build takes seconds; what is checked is the plumbing a user relies on:
which options are used, which files are written, which folder a name gets, what a resumed
batch skips and what verdict it reports.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import trimesh
from typer.testing import CliRunner

import n4d4d
from n4d4d.cli import app
from n4d4d.errors import InputError
from n4d4d.options import BuildOptions
from n4d4d.pipeline import STAGE_NAMES, STAGES
from n4d4d.sources import Generated, MeshFile, Sample, UrdfFile, as_source

FAST = dict(resolution=64, max_hulls=4, unit="m")
FAST_CLI = ["--resolution", "64", "--max-hulls", "4"]


def box_file(path: Path, extents=(0.1, 0.08, 0.06)) -> Path:
    trimesh.creation.box(extents).export(path)
    return path


def box_urdf(folder: Path) -> Path:
    """A one-link URDF with a box primitive, called mobility.urdf as PartNet-Mobility names it."""
    folder.mkdir(parents=True)
    path = folder / "mobility.urdf"
    path.write_text('<?xml version="1.0"?>\n<robot name="thing"><link name="base">'
                    '<visual><geometry><box size="0.2 0.2 0.1"/></geometry></visual>'
                    '<collision><geometry><box size="0.2 0.2 0.1"/></geometry></collision></link></robot>\n')
    return path


def cli(*args):
    result = CliRunner().invoke(app, ["build", *map(str, args)])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def box_asset(tmp_path_factory):
    src = box_file(tmp_path_factory.mktemp("src") / "box.obj")
    seen = []
    asset = n4d4d.build(src, formats=("usda", "urdf"), progress=lambda s, e: seen.append((s, e)), **FAST)
    return asset, seen


def test_options_with_conflicting_keywords_raise(tmp_path):
    src = box_file(tmp_path / "box.obj")
    with pytest.raises(InputError, match="seed"):
        n4d4d.build(src, options=BuildOptions(seed=1), seed=5)


def test_unknown_format_fails_before_any_stage(tmp_path):
    from pydantic import ValidationError

    src = box_file(tmp_path / "box.obj")
    seen = []
    with pytest.raises(ValidationError, match="usdz"):
        n4d4d.build(src, formats=("usda", "usdz"), progress=lambda s, e: seen.append(s), **FAST)
    assert seen == []  # refused at option time: no stage started
    code, out = cli(src, "-o", tmp_path / "out", "--formats", "usda,usdz", *FAST_CLI)
    assert code == 2 and "usdz" in out and not (tmp_path / "out").exists()


def test_formats_of_the_build_reach_save(box_asset, tmp_path):
    asset, _ = box_asset
    folder = asset.save(tmp_path / "box")
    assert (folder / "asset.usda").is_file() and (folder / "asset.urdf").is_file()
    report = json.loads((folder / "report.json").read_text())
    assert set(report["files"]) == {"usda", "urdf"}
    # every file but the report and its pictures (a view that shows wall times) is listed with
    # its hash (what --skip-existing verifies)
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
               and p.name != "report.html" and "report_files" not in p.parts} - {"report.json"}
    assert set(report["files_sha256"]) == on_disk
    assert report["files_sha256"]["asset.usda"] == hashlib.sha256((folder / "asset.usda").read_bytes()).hexdigest()


def test_stage_records_and_progress_follow_the_table(box_asset):
    asset, seen = box_asset
    assert [s.name for s in STAGES] == list(STAGE_NAMES)
    assert STAGE_NAMES == ("load", "rest_pose", "static", "rigging", "collision", "mass", "animate", "physics")
    assert [s for s, e in seen if e == "start"] == list(STAGE_NAMES)
    assert [s for s, e in seen if e == "done"] == list(STAGE_NAMES)
    # one record per stage, named as in the table (a stage may add a sub-record after its own)
    names = [r.name for r in asset.stages]
    assert [n for n in names if n in STAGE_NAMES] == list(STAGE_NAMES)


def test_usd_newton_checked_is_the_usd_that_ships(box_asset, tmp_path):
    asset, _ = box_asset
    assert "newton" in asset.physics["engines"]
    folder = asset.save(tmp_path / "box", formats=("usda",))
    shipped = hashlib.sha256((folder / "asset.usda").read_bytes()).hexdigest()
    assert asset.physics["usd_sha256"] == shipped


def test_report_timings_are_apart_and_the_rest_is_reproducible(tmp_path):
    src = box_file(tmp_path / "box.obj")
    reports = []
    for k in range(2):
        folder = n4d4d.build(src, **FAST).save(tmp_path / f"run{k}" / "box")
        reports.append(json.loads((folder / "report.json").read_text()))
    for r in reports:
        assert r["report_version"] == 2 and "stages.static.seconds" in r["timings"]["values"]
        assert all("seconds" not in s for s in r["stages"])
    strip = [{k: v for k, v in r.items() if k != "timings"} for r in reports]
    assert strip[0] == strip[1]  # same input, options and seed: identical but for timings


def test_sources_name_once():
    assert as_source("a/b/chair.obj") == MeshFile(Path("a/b/chair.obj"))
    assert as_source("x/40147/mobility.urdf") == UrdfFile(Path("x/40147/mobility.urdf"))
    assert as_source(sample="random_urdfs/042") == Sample("random_urdfs/042")
    assert UrdfFile(Path("x/40147/mobility.urdf")).name == "_40147"  # folder name, digit-safe
    assert UrdfFile(Path("robots/r2d2.urdf")).name == "r2d2"
    assert Sample("random_urdfs/042").name == "random_urdfs_042"
    assert MeshFile(Path("x y.obj")).name == "x_y"
    with pytest.raises(InputError, match="exactly one"):
        as_source("a.obj", sample="duck")


def test_generated_source_gives_a_clear_error():
    # an unknown category names the known ones (the generator's categories, issue 15)
    with pytest.raises(InputError, match="unknown generator category.*known categories: .*mug"):
        n4d4d.build(Generated("spaceship", seed=3))
    with pytest.raises(InputError, match="seed"):
        Generated("mug", seed=-1)


def test_cli_options_are_the_build_options():
    import typer.main

    command = typer.main.get_command(app).commands["build"]
    params = {p.name: p for p in command.params}
    for name, field in BuildOptions.model_fields.items():
        assert name in params, f"BuildOptions.{name} has no CLI option"
        p = params[name]
        want = ",".join(field.default) if isinstance(field.default, tuple) else field.default
        assert p.default == want, (name, p.default, want)
        assert (field.description or "") in (p.help or ""), name
        flag = "--" + name.replace("_", "-")
        assert flag in p.opts, (name, p.opts)
    assert {"--name", "--static-friction", "--dynamic-friction", "--restitution"} <= {
        o for p in command.params for o in p.opts}


def test_skip_existing_urdf_named_after_its_folder_reports_its_real_verdict(tmp_path):
    urdf = box_urdf(tmp_path / "cab")
    out = tmp_path / "out"
    code, output = cli(urdf, "-o", out, "--skip-existing", *FAST_CLI)
    assert code == 0 and (out / "cab" / "report.json").is_file(), output
    # a killed run's temporary; and the verdict the report gives is what a skip reports
    (out / ".cab.tmp.x1y2").mkdir()
    report = json.loads((out / "cab" / "report.json").read_text())
    report["passed"] = False
    (out / "cab" / "report.json").write_text(json.dumps(report))
    code, output = cli(urdf, "-o", out, "--skip-existing", *FAST_CLI)
    assert code == 1, output
    assert "skipped" in output and "cab: failed earlier" in output and "1 skipped" in output
    assert not (out / ".cab.tmp.x1y2").exists()
    # a damaged file makes the folder incomplete: built again, not skipped
    (out / "cab" / "asset.usda").write_text("#usda 1.0\n")
    code, output = cli(urdf, "-o", out, "--skip-existing", *FAST_CLI)
    assert code == 0 and "skipped" not in output and "passed cab" in output, output


def test_names_that_sanitise_alike_get_distinct_folders(tmp_path):
    a, b = box_file(tmp_path / "x y.obj"), box_file(tmp_path / "x_y.obj", (0.05, 0.05, 0.05))
    out = tmp_path / "out"
    code, output = cli(a, b, "-o", out, "--unit", "m", *FAST_CLI)
    assert code == 0, output
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["x_y", "x_y_2"]
    assert "written as 'x_y_2'" in output and "2 passed" in output
    sources = [json.loads((out / n / "report.json").read_text())["provenance"]["source"] for n in ("x_y", "x_y_2")]
    assert sources == [str(a), str(b)]  # job order decides, not worker order


def test_paths_are_printed_as_text_not_markup(tmp_path):
    good = box_file(tmp_path / "good.obj")
    odd = tmp_path / "[red]markup[/red].obj"
    broken = tmp_path / "a[/x]b.obj"
    code, output = cli(odd, broken, good, "-o", tmp_path / "out", "--unit", "m", *FAST_CLI)
    assert code == 1
    assert f"{odd}: no such file" in output and f"{broken}: no such file" in output
    assert "passed good" in output and "1 passed, 2 failed" in output
