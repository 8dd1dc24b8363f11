"""Reports of what a build measured: ``report.json`` (:mod:`.json_report`) and, beside it,
pictures (renders, plots) and ``report.html``.

``report.json`` is built from the :class:`~n4d4d.asset.Asset` record alone; the pictures
are drawn from the record and the files a build wrote. Heavy dependencies (a renderer,
matplotlib) are imported only by the modules that draw.
"""

from n4d4d.report.json_report import REPORT_VERSION, asset_report, dumps, to_json

__all__ = ["REPORT_VERSION", "asset_report", "dumps", "to_json"]
