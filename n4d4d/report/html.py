"""``report.html`` of one asset folder: pictures, plots, checks, mass, timings, provenance, files.

:func:`write_asset_report` reads the folder's ``report.json`` (and, without an
:class:`~n4d4d.asset.Asset`, the exported files through :mod:`n4d4d.report.folder`), renders
the pictures (:mod:`n4d4d.report.pictures`) and plots (:mod:`n4d4d.report.plots`) into
``report_files/`` beside it and writes ``report.html``: self-contained, no network at view
time. The interactive 3D view is Google's ``<model-viewer>`` vendored in
``n4d4d/report/static/`` (see ``VENDORED.md`` there), copied beside the report with the GLB as
a base64 classic script so that it opens from ``file://``.

When no offscreen OpenGL is available the report is still written, with plots and tables and
the reason the pictures are missing. It does not rebuild or re-check anything.
"""

from __future__ import annotations

import base64
import html
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np

from n4d4d.io.atomic import atomic_dir, atomic_write_text
from n4d4d.report.folder import exported_file, read_asset, read_report

FILES_DIR = "report_files"
STATIC = Path(__file__).with_name("static")
VIEWER_JS = "model-viewer-umd.min.js"
MAX_INLINE_GLB = 40 * 2**20  # bytes; a larger GLB is linked, not viewed inline
THUMB_SIZE = (320, 240)


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format="PNG", optimize=False, compress_level=3)
    return buf.getvalue()


def _gif(frames: list[np.ndarray], seconds: float) -> bytes:
    import imageio.v3 as iio

    ms = max(40.0, 1000.0 * seconds / max(len(frames), 1))
    return iio.imwrite("<bytes>", np.asarray(frames, np.uint8), extension=".gif", duration=ms, loop=0)


def _grid(images: list[np.ndarray], columns: int) -> np.ndarray:
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    out = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        out[r * h:(r + 1) * h, c * w:(c + 1) * w] = im
    return out


def strip_indices(frames: list[np.ndarray], n: int) -> np.ndarray:
    """Indices of ``n`` frames for a filmstrip, spaced evenly in accumulated picture change (mean
    absolute pixel difference between consecutive frames) rather than in time, so a clip whose
    action is brief (a drop that settles in its first second) still shows that action; the
    first and last frames are always in. Evenly in time when nothing changes."""
    if len(frames) <= n:
        return np.arange(len(frames))
    change = np.array([np.abs(frames[k].astype(np.int16) - frames[k - 1].astype(np.int16)).mean()
                       for k in range(1, len(frames))])
    if change.sum() <= 0:
        return np.unique(np.round(np.linspace(0, len(frames) - 1, n)).astype(int))
    cum = np.concatenate([[0.0], np.cumsum(change)]) / change.sum()
    picks = {0, len(frames) - 1}
    for q in np.linspace(0, 1, n)[1:-1]:
        order = np.argsort(np.abs(cum - q))
        picks.add(int(next((k for k in order if int(k) not in picks), order[0])))
    return np.array(sorted(picks))


def render_pictures(asset, size: tuple[int, int] = (640, 480), gif_frames: int = 24,
                    strip_frames: int = 6) -> tuple[dict[str, bytes], list[tuple[str, str, str]], dict]:
    """Every picture of ``asset``: (file name -> PNG/GIF bytes, [(section, file, caption)],
    seconds per picture). Raises :class:`~n4d4d.report.render.RenderError` without OpenGL."""
    from n4d4d.kinematics import safe_name
    from n4d4d.report.pictures import AssetPictures, Label, draw_labels

    files, shown, secs = {}, [], {}
    pics = AssetPictures(asset, size=size)
    try:
        t0 = time.perf_counter()
        hero = pics.camera()
        half = (size[0] // 2, size[1] // 2)
        views = []
        for k, (daz, el) in enumerate(((0, -25), (90, -25), (180, -25), (0, -89))):
            cam = pics.camera(azimuth=hero.azimuth + daz, elevation=el, size=half)
            views.append(draw_labels(pics.shaded(cam), [Label(("front", "side", "back", "top")[k], (6, 4))]))
        files["thumb.png"] = _png(pics.shaded(hero.with_size(*THUMB_SIZE)))
        files["views.png"] = _png(_grid(views, 2))
        shown.append(("Shaded views", "views.png", "the visual mesh in its texture or material colour, "
                      "from the side the parts move to, turned 90 degrees, from behind and from above"))
        secs["views"] = time.perf_counter() - t0
        if len(pics.part_names) > 1 or pics.joints:
            t0 = time.perf_counter()
            files["parts.png"] = _png(pics.parts(hero))
            shown.append(("Parts and joints", "parts.png", "parts in distinct colours; each movable joint an "
                          "arrow along its axis from its pivot (black dot), its range in red (arc or bar), "
                          "the moved part translucent at its upper limit"))
            secs["parts"] = time.perf_counter() - t0
        if asset.collision:
            t0 = time.perf_counter()
            files["hulls.png"] = _png(pics.hulls(hero))
            n = sum(len(v) for v in asset.collision.values())
            shown.append(("Collision hulls", "hulls.png", f"{n} convex hulls, one colour each; the visual "
                          "mesh outlined in dark grey; mesh no hull covers in magenta"))
            secs["hulls"] = time.perf_counter() - t0
        if asset.skeleton is not None:
            t0 = time.perf_counter()
            files["skeleton.png"] = _png(pics.skeleton(hero))
            shown.append(("Skeleton", "skeleton.png", f"{len(asset.skeleton.joint_names)} joints (blue) and "
                          "bones (orange) at the bind pose inside the translucent mesh"))
            secs["skeleton"] = time.perf_counter() - t0
        taken: set[str] = set()
        for clip in asset.motion_clips:
            t0 = time.perf_counter()
            stem = f"clip_{safe_name(clip.name, taken)}"
            frames, times = pics.clip_frames(clip, n=gif_frames, size=THUMB_SIZE)
            pick = strip_indices(frames, strip_frames)
            strip = [draw_labels(frames[i], [Label(f"t = {times[i]:.2f} s", (6, 4))]) for i in pick]
            files[f"{stem}_strip.png"] = _png(np.hstack(strip))
            dur = float(times[-1] - times[0]) if len(times) > 1 else 1.0
            files[f"{stem}.gif"] = _gif(frames, dur)
            shown.append((f"Motion clip '{clip.name}'", f"{stem}_strip.png",
                          f"{len(clip.times)} frames over {dur:.2f} s; animated: {stem}.gif"))
            shown.append((f"Motion clip '{clip.name}' (animated)", f"{stem}.gif", "loops"))
            secs[stem] = time.perf_counter() - t0
    finally:
        pics.close()
    return files, shown, secs


def _checks(report: dict) -> list[dict]:
    phys = report.get("physics") or {}
    return [c for c in (phys.get("checks") or []) if isinstance(c, dict)]


def render_plots(report: dict, asset) -> tuple[dict[str, bytes], list[tuple[str, str, str]]]:
    """Every plot of the report (and of ``asset``'s clips): (file -> PNG bytes, [(section, file, caption)])."""
    from n4d4d.kinematics import safe_name
    from n4d4d.report import plots

    files, shown = {}, []
    joints = report.get("joints") or []
    taken: set[str] = set()
    groups: dict[str, list[dict]] = {}
    for c in _checks(report):  # one figure per kind of check: every engine and orientation together
        groups.setdefault(str(c.get("name")), []).append(c)
    for kind, group in groups.items():
        png = plots.check_group_plot(group, joints)
        if png:
            name = f"checks_{safe_name(kind, taken)}.png"
            files[name] = png
            who = ", ".join(" ".join(str(c.get(k)) for k in ("engine", "part") if c.get(k)) or kind for c in group)
            shown.append(("Physics checks over time", name, f"{kind}: {who}; bounds dashed red, failed runs dotted"))
    png = plots.fidelity_plot(_checks(report))
    if png:
        files["fidelity.png"] = png
        shown.append(("Collision fidelity", "fidelity.png", "per part, against the bounds"))
    for clip in getattr(asset, "motion_clips", ()) if asset is not None else ():
        png = plots.clip_joint_plot(clip, asset.joints)
        if png:
            name = f"clip_{safe_name(clip.name, taken)}_joints.png"
            files[name] = png
            shown.append((f"Motion clip '{clip.name}'", name, "joint coordinates over the clip, limits dashed"))
    png = plots.timings_plot(stage_seconds(report))
    if png:
        files["timings.png"] = png
        shown.append(("Timings", "timings.png", "wall time per stage"))
    return files, shown


def stage_seconds(report: dict) -> dict[str, float]:
    """Stage name -> wall seconds, from report v2's ``timings`` or v1's ``stages[].seconds``."""
    values = (report.get("timings") or {}).get("values") or {}
    out = {}
    for s in report.get("stages") or []:
        n = str(s.get("name"))
        v = values.get(f"stages.{n}.seconds", s.get("seconds"))
        if isinstance(v, (int, float)):
            out[n] = float(v)
    return out


def total_seconds(report: dict) -> float | None:
    """The build's wall time (s): ``timings.total_seconds`` (v2) or ``total_seconds`` (v1)."""
    v = (report.get("timings") or {}).get("total_seconds", report.get("total_seconds"))
    return float(v) if isinstance(v, (int, float)) else None


def total_mass(report: dict) -> float | None:
    """Sum of the parts' masses (kg), or None when no part has mass properties."""
    m = [p["mass"]["mass"] for p in report.get("parts") or [] if isinstance(p.get("mass"), dict)]
    return float(sum(m)) if m else None


def write_asset_report(asset_dir: Path, asset=None, *, size: tuple[int, int] = (640, 480)) -> Path:
    """Write ``asset_dir/report.html`` and its pictures in ``asset_dir/report_files/``.

    Args:
        asset_dir: a folder ``n4d4d build`` wrote: ``report.json`` and the exported files.
        asset: the built :class:`~n4d4d.asset.Asset` (pictures from the record); None reads it
            back from the folder's files (:func:`n4d4d.report.folder.read_asset`).
        size: ``(width, height)`` of the large pictures (pixels).

    Returns:
        The path of ``report.html``. ``report_files/`` is replaced whole, atomically.

    Raises:
        ReportInputError: no readable ``report.json``, or unreadable exported files.
    """
    from n4d4d.report.render import RenderError

    asset_dir = Path(asset_dir)
    t_start = time.perf_counter()
    report = read_report(asset_dir)
    if asset is None:
        asset = read_asset(asset_dir, report)
    files: dict[str, bytes] = {}
    shown: list[tuple[str, str, str]] = []
    missing = ""
    secs: dict[str, float] = {}
    if asset.visual is not None or asset.parts:
        try:
            files, shown, secs = render_pictures(asset, size=size)
        except RenderError as exc:
            missing = f"No pictures: {exc.problem}"
    else:
        missing = "No pictures: this folder holds no exported mesh (a rejected asset keeps its report only)."
    t0 = time.perf_counter()
    pfiles, pshown = render_plots(report, asset)
    secs["plots"] = time.perf_counter() - t0
    files.update(pfiles)
    glb = exported_file(asset_dir, report, ("glb",))
    viewer = glb is not None and glb.stat().st_size <= MAX_INLINE_GLB
    with atomic_dir(asset_dir / FILES_DIR) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if viewer:
            shutil.copyfile(STATIC / VIEWER_JS, tmp / VIEWER_JS)
            b64 = base64.b64encode(glb.read_bytes()).decode("ascii")
            (tmp / "asset_glb.js").write_text(f'window.N4D4D_GLB = "{b64}";\n')
    secs["total"] = time.perf_counter() - t_start
    page = asset_page(report, shown, pshown, asset_dir, glb if viewer else None, missing, secs)
    return atomic_write_text(asset_dir / "report.html", page)


# -- the page -------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#fff;border-bottom:1px solid #d0d7de;padding:14px 24px;display:flex;gap:16px;align-items:center}
main{padding:12px 24px;max-width:1320px}
h1{font-size:22px;margin:0}h2{font-size:17px;margin:22px 0 8px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:12px}
.pass{background:#1a7f37}.fail{background:#cf222e}.none{background:#6e7781}
figure{display:inline-block;margin:6px 10px 10px 0;vertical-align:top;background:#fff;border:1px solid #d0d7de;padding:6px}
figure img{max-width:100%;display:block}figcaption{font-size:12px;color:#57606a;max-width:640px}
table{border-collapse:collapse;background:#fff;font-size:13px;margin-bottom:8px}
td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f0f3f6}
code{font-size:12px}.reasons li{color:#cf222e}.warn li{color:#9a6700}
model-viewer{width:640px;height:480px;background:#fff;border:1px solid #d0d7de}
"""


def _badge(passed) -> str:
    if passed is None:
        return '<span class="badge none">NO VERDICT</span>'
    return '<span class="badge pass">PASS</span>' if passed else '<span class="badge fail">FAIL</span>'


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and len(v) <= 4 and all(isinstance(x, (int, float)) for x in v):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, (dict, list)):
        s = json.dumps(v)
        return s if len(s) < 90 else s[:87] + "..."
    return str(v)


def _kv_table(d: dict, keys=None) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td><code>{_e(_fmt(d[k]))}</code></td></tr>" for k in (keys or d) if k in d)
    return f"<table>{rows}</table>" if rows else ""


def _figures(shown, section_order) -> str:
    out, by = [], {}
    for sec, f, cap in shown:
        by.setdefault(sec, []).append((f, cap))
    for sec in section_order or by:
        if sec not in by:
            continue
        out.append(f"<h2>{_e(sec)}</h2>")
        for f, cap in by[sec]:
            out.append(f'<figure><img src="{FILES_DIR}/{_e(f)}" alt="{_e(sec)}" loading="lazy">'
                       f"<figcaption>{_e(cap)}</figcaption></figure>")
    return "\n".join(out)


def _checks_table(report: dict) -> str:
    rows = []
    for c in _checks(report):
        measured, bounds = c.get("measured") or {}, c.get("threshold") or c.get("bounds") or {}
        shown = [k for k in bounds if k in measured] or list(measured)[:6]
        figs = "<br>".join(f"{_e(k)} = {_e(_fmt(measured.get(k)))}" + (f" (bound {_e(_fmt(bounds[k]))})" if k in bounds else "")
                           for k in shown[:8])
        other = [k for k in bounds if k not in measured]
        if other:
            figs += "<br><small>bounds: " + ", ".join(f"{_e(k)} {_e(_fmt(bounds[k]))}" for k in other[:6]) + "</small>"
        reasons = "<br>".join(_e(r) for r in c.get("reasons") or []) or ""
        warns = (c.get("details") or {}).get("warnings") or c.get("warnings") or []
        if warns:
            reasons += "".join(f'<br><span style="color:#9a6700">{_e(w)}</span>' for w in warns)
        rows.append(f"<tr><td>{_e(c.get('name', ''))}</td><td>{_e(c.get('engine') or '')}</td><td>{_e(c.get('part') or '')}</td>"
                    f"<td>{_badge(c.get('passed'))}</td><td>{figs}</td><td>{reasons}</td></tr>")
    if not rows:
        return "<p>No physics checks in this report.</p>"
    return ("<table><tr><th>check</th><th>engine</th><th>part</th><th>verdict</th><th>measured (bound)</th>"
            "<th>reasons / warnings</th></tr>" + "".join(rows) + "</table>")


def _mass_table(report: dict) -> str:
    rows = []
    for p in report.get("parts") or []:
        m = p.get("mass") or {}
        rows.append(f"<tr><td>{_e(p.get('name'))}</td><td>{_e(_fmt(m.get('mass', '')))}</td><td>{_e(_fmt(m.get('volume', '')))}</td>"
                    f"<td>{_e(_fmt(m.get('density', '')))}</td><td>{_e(_fmt(m.get('center_of_mass', '')))}</td>"
                    f"<td>{_e(_fmt(m.get('principal_moments', '')))}</td><td>{_e(p.get('faces', ''))}</td><td>{_e(p.get('hulls', ''))}</td></tr>")
    if not rows:
        return "<p>No parts.</p>"
    total = total_mass(report)
    return ("<table><tr><th>part</th><th>mass (kg)</th><th>volume (m³)</th><th>density (kg/m³)</th><th>centre of mass (m)</th>"
            "<th>principal moments (kg m²)</th><th>faces</th><th>hulls</th></tr>" + "".join(rows) + "</table>"
            + (f"<p>Total mass {total:.4g} kg.</p>" if total is not None else ""))


def _joints_table(report: dict) -> str:
    rows = []
    for j in report.get("joints") or []:
        rows.append("<tr>" + "".join(f"<td>{_e(_fmt(j.get(k, '')))}</td>" for k in
                                     ("name", "type", "parent", "child", "origin", "axis", "lower", "upper", "effort", "velocity")) + "</tr>")
    if not rows:
        return ""
    return ("<h2>Joints</h2><table><tr><th>joint</th><th>type</th><th>parent</th><th>child</th><th>pivot (m)</th><th>axis</th>"
            "<th>lower (rad|m)</th><th>upper</th><th>effort</th><th>velocity</th></tr>" + "".join(rows) + "</table>")


def _files_table(report: dict, asset_dir: Path) -> str:
    """Every file of the folder (but the report's own), linked; sub-folders folded."""
    sha = report.get("files_sha256") or {}
    fmt_of = {v: k for k, v in (report.get("files") or {}).items()}
    groups: dict[str, list[str]] = {}
    for p in sorted(asset_dir.rglob("*")):
        rel = p.relative_to(asset_dir).as_posix()
        if not p.is_file() or rel.startswith(FILES_DIR + "/") or rel == "report.html" or any(s.startswith(".") for s in rel.split("/")):
            continue
        groups.setdefault(rel.split("/")[0] if "/" in rel else "", []).append(
            f'<tr><td><a href="{_e(rel)}">{_e(rel)}</a></td><td>{_e(fmt_of.get(rel, ""))}</td>'
            f"<td>{p.stat().st_size:,}</td><td><code>{_e(sha.get(rel, '')[:16])}</code></td></tr>")
    head = "<tr><th>file</th><th>format</th><th>bytes</th><th>sha256 (first 16)</th></tr>"
    out = f"<table>{head}{''.join(groups.pop('', []))}</table>"
    for folder, rows in groups.items():
        out += f"<details><summary>{_e(folder)}/ ({len(rows)} files)</summary><table>{head}{''.join(rows)}</table></details>"
    return out


def _viewer(glb: Path | None) -> str:
    if glb is None:
        return ""
    return f"""<h2>3D view</h2>
<p>{_e(glb.name)}: drag to orbit, scroll to zoom (Google &lt;model-viewer&gt;, bundled, offline).</p>
<model-viewer id="viewer" loading="eager" camera-controls auto-rotate shadow-intensity="1" exposure="0.7" alt="{_e(glb.name)}"></model-viewer>
<script src="{FILES_DIR}/{VIEWER_JS}"></script>
<script src="{FILES_DIR}/asset_glb.js"></script>
<script>
(function () {{
  var s = atob(window.N4D4D_GLB || ""), a = new Uint8Array(s.length);
  for (var i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
  if (a.length) document.getElementById("viewer").src = URL.createObjectURL(new Blob([a], {{type: "model/gltf-binary"}}));
}})();
</script>"""


def asset_page(report: dict, pictures, plots, asset_dir: Path, glb: Path | None, missing: str, secs: dict) -> str:
    """The HTML text of one asset's report (see :func:`write_asset_report`)."""
    name = report.get("name") or asset_dir.name
    phys = report.get("physics") or {}
    passed = report.get("passed") if phys or "passed" in report else None
    reasons = "".join(f"<li>{_e(r)}</li>" for r in phys.get("reasons") or [])
    warns = "".join(f"<li>{_e(w)}</li>" for w in phys.get("warnings") or [])
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.get("notes") or [])
    prov = dict(report.get("provenance") or {})
    total = total_seconds(report)
    summary = {"source": prov.get("source"), "source_sha256": prov.get("source_sha256"), "seed": prov.get("seed"),
               "report_version": report.get("report_version"),
               "build seconds": total, "total mass (kg)": total_mass(report),
               "visual": report.get("visual"), "skeleton": report.get("skeleton"),
               "motion clips": report.get("motion_clips")}
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(name)}: n4d4d report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><header><img src="{FILES_DIR}/thumb.png" alt="" height="60" onerror="this.remove()"><div><h1>{_e(name)} {_badge(passed)}</h1>
<div>{_e(prov.get('source', ''))}</div></div></header><main>
{f'<ul class="reasons">{reasons}</ul>' if reasons else ''}
{f'<p><b>{_e(missing)}</b></p>' if missing else ''}
{_figures(pictures, None)}
{_viewer(glb)}
<h2>Physics checks</h2>{_checks_table(report)}
{f'<h3>Warnings</h3><ul class="warn">{warns}</ul>' if warns else ''}
{_figures(plots, None)}
<h2>Mass properties</h2>{_mass_table(report)}
{_joints_table(report)}
<h2>Summary and provenance</h2>{_kv_table({k: v for k, v in summary.items() if v is not None})}
<details><summary>versions and build options</summary>{_kv_table(prov.get('versions') or {})}{_kv_table(prov.get('options') or {})}</details>
{f'<h3>Notes</h3><ul>{notes}</ul>' if notes else ''}
<h2>Files</h2>{_files_table(report, asset_dir)}
<p><small>report.html written in {secs.get('total', 0):.2f} s; <a href="report.json">report.json</a></small></p>
</main></body></html>
"""
