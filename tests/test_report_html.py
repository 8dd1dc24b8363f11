"""report.html per asset folder, index.html per batch, ``n4d4d report``, and the pages in headless
Chromium (skipped with the reason when Debian's ``chromium`` or the ``playwright`` driver is
absent): thumbnails shown, no console error, no request leaving the machine, the 3D view loaded.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from test_export_common import hinged_asset, skinned_asset

from n4d4d.asset import CheckResult, MotionClip
from n4d4d.report.render import RenderError, backend

try:
    backend()
    HAVE_GL = True
except RenderError:  # pragma: no cover
    HAVE_GL = False

T = np.linspace(0.0, 2.0, 21)
OPEN = np.linspace(0.0, 1.3, 21)  # rad, inside the lid's 0..1.4 limits


def _physics(passed: bool) -> dict:
    series = {"t_s": T.tolist(), "height_m": (0.5 - 0.1 * T).tolist(), "speed_m_s": (0.3 * T).tolist(),
              "penetration_m": (1e-4 * T).tolist()}
    drop = CheckResult("drop", "pybullet", measured={"peak_speed_m_s": 0.6, "max_penetration_m": 2e-4},
                       threshold={"peak_speed_m_s": 5.0, "max_penetration_m": 3e-3}, passed=passed,
                       reasons=() if passed else ("drop: tipped over onto its side",), details={"series": series})
    art = CheckResult("articulation", "pybullet", details={"series": {"t_s": T.tolist(), "hinge_q": OPEN.tolist()}})
    fid = CheckResult("collision_fidelity", "", "base", measured={"mean_pct": 0.1, "p95_pct": 0.4, "hausdorff_pct": 1.0,
                                                                  "volume_ratio": 1.02},
                      threshold={"max_mean_distance_pct": 1.5, "max_hausdorff_p95_pct": 5.0,
                                 "min_volume_ratio": 0.85, "max_volume_ratio": 1.35})
    return {"passed": passed, "reasons": [] if passed else ["pybullet drop: tipped over onto its side"],
            "warnings": [], "checks": [asdict(c) for c in (drop, art, fid)]}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """A batch folder: a hinged chest that passed (with an opening clip) and a skinned bar that failed."""
    out = tmp_path_factory.mktemp("batch")
    chest = hinged_asset("revolute")
    chest = chest.replace(motion_clips=(MotionClip("open", T, joint_positions={"hinge": OPEN}),),
                          physics=_physics(True))
    bar = skinned_asset().replace(physics=_physics(False))
    chest.save(out / "chest", formats=("usda", "glb"))
    bar.save(out / "bar", formats=("usda", "glb"), keep_failed=True)
    return out, {"chest": chest, "bar": bar}


@pytest.mark.skipif(not HAVE_GL, reason="no offscreen OpenGL (libEGL / libOSMesa)")
def test_asset_report_writes_pictures_plots_and_page(batch):
    import imageio.v3 as iio

    from n4d4d.report.html import write_asset_report

    out, assets = batch
    page = write_asset_report(out / "chest")  # from the folder alone
    write_asset_report(out / "bar", assets["bar"])  # from the record in memory
    files = out / "chest" / "report_files"
    assert iio.imread(files / "thumb.png").shape == (240, 320, 3)
    gif = iio.imread(files / "clip_open.gif", index=None)
    assert gif.shape[0] == 21 and np.abs(gif[0].astype(int) - gif[-1].astype(int)).mean() > 1.0  # the lid moves
    for name in ("views.png", "parts.png", "hulls.png", "clip_open_strip.png", "clip_open_joints.png", "fidelity.png"):
        assert (files / name).stat().st_size > 1000, name
    text = page.read_text()
    for src in re.findall(r'src="([^"]+)"', text):  # every picture and script the page loads is there
        assert (page.parent / src).is_file(), src
    assert 'href="asset.usda"' in text and 'href="asset.glb"' in text and "<model-viewer" in text
    assert "checks_drop.png" in text and "checks_articulation.png" in text
    bar = (out / "bar" / "report.html").read_text()
    assert "FAIL" in bar and "tipped over onto its side" in bar and "skeleton.png" in bar
    assert (out / "bar" / "report_files" / "clip_bend.gif").is_file()
    total = sum(assets["chest"].mass[p].mass for p in ("base", "lid"))  # 8.0 + 1.6 kg, closed form
    assert f"Total mass {total:.4g} kg" in text


def test_usd_read_back_recovers_the_clips(batch):
    """Without the record, joint tracks come back from the USD part poses, rotations from UsdSkel."""
    from n4d4d.report.folder import read_asset

    out, assets = batch
    chest = read_asset(out / "chest", prefer_record=False)
    assert [p.name for p in chest.parts] == ["base", "lid"] and len(chest.collision["lid"]) == 2
    (clip,) = chest.motion_clips
    assert np.allclose(clip.times, T, atol=1e-9)
    assert np.allclose(clip.joint_positions["hinge"], OPEN, atol=1e-5)  # float32 USD orientations
    bar = read_asset(out / "bar", prefer_record=False)
    src = assets["bar"].motion_clips[0].joint_rotations["elbow"]
    got = bar.motion_clips[0].joint_rotations["elbow"]
    assert np.allclose(np.abs(np.sum(got * src, axis=1)), 1.0, atol=1e-6)  # same rotations (q ~ -q)
    assert bar.skin_weights.shape == assets["bar"].skin_weights.shape
    assert np.allclose(bar.skin_weights.sum(axis=1), 1.0)


def test_plots_take_old_and_new_checks():
    from n4d4d.report.plots import check_bounds, check_series_plot, fidelity_plot

    new = _physics(True)["checks"][0]
    old = {"name": "drop", "engine": "pybullet", "passed": True, "measured": {"peak_speed_m_s": 1.0},
           "bounds": {"peak_speed_m_s": 7.8}}  # report v1: bounds, no series
    assert check_bounds(old) == {"peak_speed_m_s": 7.8} and check_bounds(new)["max_penetration_m"] == 3e-3
    assert check_series_plot(old) is None
    assert check_series_plot(new)[:8] == b"\x89PNG\r\n\x1a\n"
    assert fidelity_plot([old]) is None and fidelity_plot(_physics(True)["checks"])[:4] == b"\x89PNG"


def test_report_without_opengl_still_has_tables(batch, monkeypatch, tmp_path):
    import n4d4d.report.html as h

    def no_gl(*a, **k):
        raise RenderError("no offscreen OpenGL library (test)")

    monkeypatch.setattr(h, "render_pictures", no_gl)
    folder = tmp_path / "chest"
    shutil.copytree(batch[0] / "chest", folder)
    text = h.write_asset_report(folder).read_text()
    assert "No pictures: no offscreen OpenGL library (test)" in text and "Mass properties" in text


@pytest.mark.skipif(not HAVE_GL, reason="no offscreen OpenGL (libEGL / libOSMesa)")
def test_cli_report_writes_every_report_and_the_index(batch):
    from typer.testing import CliRunner

    from n4d4d.cli import app

    out, _ = batch
    result = CliRunner().invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    data = _index_data(out)
    assert {d["name"]: d["verdict"] for d in data} == {"chest": "pass", "bar": "fail"}
    assert all((out / d["thumb"]).is_file() and (out / d["href"]).is_file() for d in data)
    assert CliRunner().invoke(app, ["report", str(out / "missing")]).exit_code == 1


def _index_data(out: Path) -> list[dict]:
    text = (out / "index.html").read_text()
    return json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S).group(1))


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("headless Chromium not found (Debian: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright driver is not installed (pip install playwright)")
    return exe


@pytest.mark.skipif(not HAVE_GL, reason="no offscreen OpenGL (libEGL / libOSMesa)")
def test_pages_in_headless_chromium(batch):
    exe = _chromium()
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from n4d4d.report.html import write_asset_report
    from n4d4d.report.index import write_index

    out, _ = batch
    for name in ("chest", "bar"):
        if not (out / name / "report.html").is_file():
            write_asset_report(out / name)
    write_index(out)
    errors, outside = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--enable-unsafe-swiftshader"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):  # anything not local is refused and remembered
                if r.request.url.startswith(("file:", "blob:", "data:")):
                    return r.continue_()
                outside.append(r.request.url)
                return r.abort()

            page.route("**/*", route)
            page.goto((out / "index.html").as_uri())
            page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            assert page.locator(".card").count() == 2
            shot = out / "index_screenshot.png"
            page.screenshot(path=str(shot))
            box = page.locator(".card img").first.bounding_box()
            name = page.locator(".card .name").first.text_content()
            seen = np.asarray(Image.open(shot).convert("RGB"), np.float64)
            seen = seen[int(box["y"]) + 2:int(box["y"] + box["height"]) - 2, int(box["x"]) + 2:int(box["x"] + box["width"]) - 2]
            thumb = Image.open(out / name / "report_files" / "thumb.png").convert("RGB")
            thumb = np.asarray(thumb.resize((seen.shape[1], seen.shape[0])), np.float64)
            assert np.abs(seen - thumb).mean() < 12.0  # the screenshot shows that asset's thumbnail
            assert seen.std() > 10.0  # and it is a picture, not a flat placeholder
            page.select_option("#verdict", "fail")
            assert page.locator(".card").count() == 1 and page.locator(".card .name").text_content() == "bar"
            page.select_option("#verdict", "")
            page.locator("#sort").select_option(index=3)  # mass, heaviest first
            assert page.locator(".card .name").first.text_content() == "chest"  # 9.6 kg vs 0.5 kg
            page.locator(".card").first.click()
            page.wait_for_function("document.querySelector('model-viewer') && document.querySelector('model-viewer').loaded",
                                   timeout=20000)
            assert page.title().startswith("chest")
        finally:
            browser.close()
    assert errors == [], errors
    assert outside == [], outside
