"""Write an asset's folder atomically: exported files plus ``report.json``.

The folder is assembled in a temporary sibling (:func:`n4d4d.io.atomic.atomic_dir`) and
renamed into place, so an output folder is absent or complete, never partial. An asset that
failed its physics checks is not exported as sim-ready: unless ``keep_failed`` is set, only
its report goes to ``<out_dir.parent>/rejected/<name>/`` with the reason.
"""

from __future__ import annotations

from pathlib import Path

from n4d4d.asset import Asset
from n4d4d.io.atomic import atomic_dir
from n4d4d.report import asset_report, dumps


def save_asset(asset: Asset, out_dir: Path, *, formats: tuple[str, ...] = ("usda",),
               keep_failed: bool = True) -> Path:
    """Export ``asset`` in ``formats`` into ``out_dir`` with ``report.json``; returns the folder.

    With ``keep_failed=False`` an asset whose physics report did not pass is written to
    ``out_dir.parent / "rejected" / out_dir.name`` as ``report.json`` only, and that folder
    is returned. A failed asset exported anyway is marked ``"passed": false`` in its report
    and in a ``FAILED.txt`` beside it.

    Raises:
        ExportError: an exporter failed; nothing is left behind.
    """
    from n4d4d.exporters import export

    out_dir = Path(out_dir)
    if not asset.passed and not keep_failed:
        target = out_dir.parent / "rejected" / out_dir.name
        with atomic_dir(target) as tmp:
            (tmp / "report.json").write_text(dumps(asset_report(asset)))
        return target
    with atomic_dir(out_dir) as tmp:
        written = export(asset, tmp, formats)
        files = {fmt: str(Path(p).relative_to(tmp)) for fmt, p in written.items()}
        if not asset.passed:
            reasons = (asset.physics or {}).get("reasons") or ["no physics report"]
            (tmp / "FAILED.txt").write_text(
                "This asset FAILED its physics checks and is not sim-ready:\n" + "\n".join(map(str, reasons)) + "\n")
        (tmp / "report.json").write_text(dumps(asset_report(asset, files)))
    return out_dir
