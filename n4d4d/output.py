"""Write an asset's folder atomically: exported files plus ``report.json``.

The folder is assembled in a temporary sibling (:func:`n4d4d.io.atomic.atomic_dir`) and
renamed into place, so an output folder is absent or complete, never partial. An asset that
failed its physics checks is not exported as sim-ready: unless ``keep_failed`` is set, only
its report goes to ``<out_dir.parent>/rejected/<name>/`` with the reason. Every exported
folder also holds the asset's canonical record (``asset.json`` + ``asset.npz``,
:mod:`n4d4d.io.record`), from which :meth:`Asset.load` restores it exactly. ``report.json``
lists the SHA-256 of every other file in the folder (``files_sha256``), so a resumed batch
can tell a complete folder from one whose files were damaged.
"""

from __future__ import annotations

from pathlib import Path

from n4d4d.asset import Asset
from n4d4d.io.atomic import atomic_dir
from n4d4d.report import asset_report, dumps


def default_formats(asset: Asset) -> tuple[str, ...]:
    """The formats the asset's build options name (``provenance.options["formats"]``), else
    ``("usda",)``."""
    opts = asset.provenance.options if asset.provenance else {}
    return tuple(opts.get("formats") or ("usda",))


def folder_hashes(folder: Path) -> dict[str, str]:
    """Relative path (POSIX) -> hex SHA-256 of every file under ``folder``, sorted."""
    from n4d4d.io.load import sha256_file

    return {p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def default_report(asset: Asset) -> bool:
    """Whether the asset's build options ask for ``report.html`` (``provenance.options["report"]``;
    True when absent, as ``n4d4d build`` does)."""
    opts = asset.provenance.options if asset.provenance else {}
    return bool(opts.get("report", True))


def save_asset(asset: Asset, out_dir: Path, *, formats: tuple[str, ...] | None = None,
               keep_failed: bool = True, report: bool | None = None) -> Path:
    """Export ``asset`` in ``formats`` into ``out_dir`` with ``report.json``; returns the folder.

    ``formats`` defaults to the formats of the asset's build options (:func:`default_formats`),
    ``report`` (write ``report.html`` with renders and plots, :mod:`n4d4d.report.html`) to its
    ``report`` option. The pictures are a view of the rest: they are not in ``files_sha256``,
    they show wall times (so their bytes vary from run to run), and a failure to draw them is
    a warning, never a failed save.
    With ``keep_failed=False`` an asset whose physics report did not pass is written to
    ``out_dir.parent / "rejected" / out_dir.name`` as ``report.json`` only, and that folder
    is returned. A failed asset exported anyway is marked ``"passed": false`` in its report
    and in a ``FAILED.txt`` beside it.

    Raises:
        ExportError: an unknown format, or an exporter failed; nothing is left behind.
    """
    from n4d4d.errors import ExportError
    from n4d4d.exporters import FORMATS, export

    out_dir = Path(out_dir)
    formats = default_formats(asset) if formats is None else tuple(formats)
    unknown = [f for f in formats if str(f).lower().lstrip(".") not in FORMATS]
    if unknown:
        raise ExportError(f"unknown export format(s) {unknown}; known: {', '.join(FORMATS)}", asset.name)
    if not asset.passed and not keep_failed:
        target = out_dir.parent / "rejected" / out_dir.name
        with atomic_dir(target) as tmp:
            (tmp / "report.json").write_text(dumps(asset_report(asset, files_sha256={})))
        return target
    from n4d4d.io.record import write_record

    with atomic_dir(out_dir) as tmp:
        written = export(asset, tmp, formats)
        record_timings = write_record(asset, tmp)
        files = {fmt: str(Path(p).relative_to(tmp)) for fmt, p in written.items()}
        if not asset.passed:
            reasons = (asset.physics or {}).get("reasons") or ["no physics report"]
            (tmp / "FAILED.txt").write_text(
                "This asset FAILED its physics checks and is not sim-ready:\n" + "\n".join(map(str, reasons)) + "\n")
        (tmp / "report.json").write_text(dumps(asset_report(asset, files, files_sha256=folder_hashes(tmp),
                                                            record_timings=record_timings)))
        if default_report(asset) if report is None else report:
            write_pictures(asset, tmp)
    return out_dir


def write_pictures(asset: Asset, folder: Path) -> None:
    """``report.html`` and ``report_files/`` for the asset in ``folder``; a failure is a warning."""
    import warnings

    try:
        from n4d4d.report.html import write_asset_report

        write_asset_report(folder, asset)
    except Exception as exc:  # pictures are a view: they never fail a build
        warnings.warn(f"{asset.name}: report.html not written: {type(exc).__name__}: {exc}", stacklevel=2)
