"""``index.html`` of a batch folder: a grid of thumbnails with verdict badges, linked to reports.

:func:`write_index` scans ``OUT_DIR/*/report.json`` and ``OUT_DIR/rejected/*/report.json`` (the
folders ``n4d4d build -o OUT_DIR`` writes), reads each asset's verdict, category (the
``category`` of its provenance options or notes when present, else its rig mode: articulated,
skeletal or rigid), total mass, build time and number of failed checks, and writes one
self-contained page whose inline script sorts the cards (name, mass, build time, verdict) and
filters them (verdict, category, text). Thumbnails are each asset's
``report_files/thumb.png`` (written by :func:`n4d4d.report.html.write_asset_report`); an asset
without one gets a grey placeholder. It renders nothing itself.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from n4d4d.io.atomic import atomic_write_text
from n4d4d.report.folder import ReportInputError, read_report
from n4d4d.report.html import FILES_DIR, total_mass, total_seconds


def asset_folders(out_dir: Path) -> list[Path]:
    """Asset folders under ``out_dir`` (``*/report.json`` and ``rejected/*/report.json``), sorted."""
    out_dir = Path(out_dir)
    found = [p.parent for p in out_dir.glob("*/report.json")] + [p.parent for p in out_dir.glob("rejected/*/report.json")]
    return sorted(set(found), key=lambda p: p.relative_to(out_dir).as_posix())


def _category(report: dict) -> str:
    opts = (report.get("provenance") or {}).get("options") or {}
    for key in ("category", "generator_category"):
        if opts.get(key):
            return str(opts[key])
    for s in report.get("stages") or []:
        if s.get("name") == "rigging":
            mode = (s.get("figures") or {}).get("mode")
            if mode:
                return str(mode)
    if report.get("skeleton"):
        return "skeletal"
    return "articulated" if report.get("joints") else "rigid"


def index_entry(out_dir: Path, folder: Path) -> dict:
    """One card's data: name, href, thumb, verdict, category, mass_kg, build_s, failed, reasons."""
    report = read_report(folder)
    rel = folder.relative_to(out_dir).as_posix()
    phys = report.get("physics") or {}
    checks = [c for c in phys.get("checks") or [] if isinstance(c, dict)]
    verdict = "pass" if report.get("passed") else ("fail" if phys else "none")
    return {
        "name": str(report.get("name") or folder.name), "href": f"{rel}/report.html" if (folder / "report.html").is_file()
        else f"{rel}/report.json", "thumb": f"{rel}/{FILES_DIR}/thumb.png" if (folder / FILES_DIR / "thumb.png").is_file() else "",
        "verdict": verdict, "category": _category(report), "mass_kg": total_mass(report),
        "build_s": total_seconds(report), "failed": sum(1 for c in checks if c.get("passed") is False),
        "checks": len(checks), "reasons": [str(r) for r in phys.get("reasons") or []][:3],
        "rejected": rel.startswith("rejected/"),
    }


def write_index(out_dir: Path) -> Path:
    """Write ``out_dir/index.html`` for every asset folder under ``out_dir``; returns its path.

    Folders whose ``report.json`` is unreadable are listed under "unreadable" with the reason,
    never dropped silently.
    """
    out_dir = Path(out_dir)
    entries, bad = [], []
    for folder in asset_folders(out_dir):
        try:
            entries.append(index_entry(out_dir, folder))
        except ReportInputError as exc:
            bad.append(f"{folder.relative_to(out_dir)}: {exc.problem}")
    return atomic_write_text(out_dir / "index.html", index_page(out_dir.name or str(out_dir), entries, bad))


CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f8fa;color:#1f2328}
header{background:#fff;border-bottom:1px solid #d0d7de;padding:12px 20px}h1{font-size:20px;margin:0 0 8px}
.controls{display:flex;gap:12px;flex-wrap:wrap;align-items:center}select,input{font:inherit;padding:2px 6px}
#grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:12px;padding:16px 20px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;overflow:hidden;color:inherit;text-decoration:none}
.card img,.card .ph{width:100%;aspect-ratio:4/3;display:block;object-fit:contain;background:#eaeef2}
.card .body{padding:6px 10px}.card .name{font-weight:600;word-break:break-all}
.meta{font-size:12px;color:#57606a}.why{font-size:11px;color:#cf222e}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:11px;font-weight:600;float:right}
.pass{background:#1a7f37}.fail{background:#cf222e}.none{background:#6e7781}
"""

JS = """
(function () {
  var data = JSON.parse(document.getElementById("data").textContent);
  var grid = document.getElementById("grid"), sortSel = document.getElementById("sort"),
      vSel = document.getElementById("verdict"), cSel = document.getElementById("category"),
      q = document.getElementById("q"), count = document.getElementById("count");
  var cats = Array.from(new Set(data.map(function (d) { return d.category; }))).sort();
  cats.forEach(function (c) { var o = document.createElement("option"); o.value = c; o.textContent = c; cSel.appendChild(o); });
  function num(v) { return v === null || v === undefined ? Infinity : v; }
  function text(tag, cls, s) { var e = document.createElement(tag); if (cls) e.className = cls; e.textContent = s; return e; }
  function card(d) {
    var a = document.createElement("a"); a.className = "card"; a.href = d.href;
    a.dataset.verdict = d.verdict; a.dataset.category = d.category; a.dataset.name = d.name;
    if (d.thumb) { var im = document.createElement("img"); im.src = d.thumb; im.alt = d.name; im.loading = "lazy"; a.appendChild(im); }
    else a.appendChild(text("div", "ph", ""));
    var b = document.createElement("div"); b.className = "body";
    var badge = text("span", "badge " + d.verdict, d.verdict === "none" ? "NO VERDICT" : d.verdict.toUpperCase());
    b.appendChild(badge); b.appendChild(text("div", "name", d.name));
    b.appendChild(text("div", "meta", d.category + " · " + (d.mass_kg === null ? "? kg" : d.mass_kg.toPrecision(3) + " kg") +
      " · " + (d.build_s === null ? "? s" : d.build_s.toFixed(1) + " s") + " · " + (d.checks - d.failed) + "/" + d.checks + " checks"));
    (d.reasons || []).forEach(function (r) { b.appendChild(text("div", "why", r)); });
    a.appendChild(b); return a;
  }
  function render() {
    var key = sortSel.value, v = vSel.value, c = cSel.value, s = q.value.toLowerCase();
    var rows = data.filter(function (d) {
      return (!v || d.verdict === v) && (!c || d.category === c) && (!s || d.name.toLowerCase().indexOf(s) >= 0);
    });
    rows.sort(function (a, b) {
      if (key === "name") return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
      if (key === "verdict") return (a.verdict === "pass") - (b.verdict === "pass") || b.failed - a.failed;
      var x = num(a[key]), y = num(b[key]); return x === y ? 0 : (x < y ? -1 : 1);
    });
    if (sortSel.selectedOptions[0].dataset.desc) rows.reverse();
    grid.replaceChildren.apply(grid, rows.map(card));
    count.textContent = rows.length + " of " + data.length + " assets";
  }
  [sortSel, vSel, cSel].forEach(function (e) { e.addEventListener("change", render); });
  q.addEventListener("input", render);
  render();
})();
"""


def index_page(title: str, entries: list[dict], bad: list[str]) -> str:
    """The HTML text of a batch index (see :func:`write_index`)."""
    n_pass = sum(e["verdict"] == "pass" for e in entries)
    data = json.dumps(entries, allow_nan=False).replace("</", "<\\/")
    unreadable = "".join(f"<li>{html.escape(b)}</li>" for b in bad)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}: n4d4d batch</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><header><h1>{html.escape(title)}: {len(entries)} assets, {n_pass} passed</h1>
<div class="controls">
<label>sort <select id="sort"><option value="name">name</option><option value="verdict">verdict (failed first)</option>
<option value="mass_kg">mass ↑</option><option value="mass_kg" data-desc="1">mass ↓</option>
<option value="build_s">build time ↑</option><option value="build_s" data-desc="1">build time ↓</option></select></label>
<label>verdict <select id="verdict"><option value="">all</option><option value="pass">pass</option><option value="fail">fail</option>
<option value="none">no verdict</option></select></label>
<label>category <select id="category"><option value="">all</option></select></label>
<label>name <input id="q" type="search" placeholder="filter"></label><span id="count" class="meta"></span>
</div>{f'<p>Unreadable folders:</p><ul>{unreadable}</ul>' if unreadable else ''}</header>
<div id="grid"></div>
<script type="application/json" id="data">{data}</script>
<script>{JS}</script>
</body></html>
"""
