"""Typed check results of the physics certificate: serialising, reading back, series sampling.

Every check (rest, drop, articulation, link penetration, motion clips, collision fidelity,
cross-engine agreement, the deformation stage's clip checks) returns an
:class:`n4d4d.asset.CheckResult` (``name, engine, part, measured, threshold, passed, reasons,
seconds, details``). The physics report (``asset.physics["checks"]``) holds them as JSON-ready
dicts with the same keys (:func:`check_dict`, ``dataclasses.asdict`` style: ``threshold``,
never ``bounds``); :func:`check_result` turns such a dict back into the record. A check's
``details["series"]``, where it has a trajectory, is a time series downsampled to at most
:data:`SERIES_SAMPLES` samples (:func:`sample_indices`) for plots.

This module checks nothing itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from n4d4d.asset import CheckResult

#: At most this many samples per time series in a check's ``details["series"]``.
SERIES_SAMPLES = 200


def sample_indices(n: int, limit: int = SERIES_SAMPLES) -> np.ndarray:
    """``(k,) int64`` indices into ``n`` samples, evenly spread, first and last included,
    ``k = min(n, limit)``."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, n - 1, min(n, max(limit, 2)))).astype(np.int64))


def _plain(value: Any) -> Any:
    """JSON-ready copy: mappings -> dict, sequences -> list, numpy scalars -> Python."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_dict(check: CheckResult) -> dict:
    """The JSON-ready dict of a check: the :class:`~n4d4d.asset.CheckResult` fields as keys
    (``name``, ``engine``, ``part``, ``measured``, ``threshold``, ``passed``, ``reasons``
    (list), ``seconds``, ``details``)."""
    return {f.name: _plain(getattr(check, f.name)) for f in dataclasses.fields(CheckResult)}


def check_result(d: Mapping[str, Any]) -> CheckResult:
    """The :class:`~n4d4d.asset.CheckResult` of a dict written by :func:`check_dict` (a report's
    ``physics["checks"]`` entry). Raises KeyError without ``name``; other fields default."""
    names = {f.name for f in dataclasses.fields(CheckResult)}
    kw = {k: v for k, v in d.items() if k in names}
    kw["name"] = d["name"]
    kw["reasons"] = tuple(kw.get("reasons", ()))
    return CheckResult(**kw)
