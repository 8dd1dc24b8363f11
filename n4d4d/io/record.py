"""The canonical serialised form of an :class:`~n4d4d.asset.Asset`: ``asset.json`` + ``asset.npz``.

:meth:`Asset.save` writes it into every asset folder, so a built asset can be re-exported
(``n4d4d export DIR --formats ...``), re-rendered or inspected without rebuilding
(:meth:`Asset.load`). The round trip is exact: every field, every array's dtype, shape and
bytes, every float (JSON floats are written with Python's shortest round-trip repr).

Format (``"format": "n4d4d.Asset/1"``):

- ``asset.npz``: every NumPy array of the record, deflate-compressed, plain arrays only (read
  with ``allow_pickle=False``), named ``a0``, ``a1``, ... in the order they are met; ``bytes``
  values (a PNG texture) are stored as ``uint8`` arrays; a sparse volume's node coordinates
  as ``uint8`` offsets inside their block (``{"$block_local": ...}``), rebuilt exactly from
  its block table.
- ``asset.json``: the record as a tree of tagged JSON values (wall-clock values replaced by
  ``{"$timing": "t3"}``, whose values report.json keeps under ``timings.record``): ``{"$type": "Mesh", ...fields}``
  for a record of :mod:`n4d4d.asset` (or :class:`~n4d4d.volume.SparseSDF`), ``{"$array": "a3"}``,
  ``{"$bytes": "a4"}``, ``{"$tuple": [...]}``, ``{"$float": "inf" | "-inf" | "nan"}``,
  ``{"$dict": [[key, value], ...]}`` for a mapping with non-string keys; plain JSON
  otherwise. NumPy scalars become Python scalars.

No pickle, no code: a record from an untrusted folder can only name the types listed in
:data:`RECORD_TYPES`. This module does not export simulator formats (:mod:`n4d4d.exporters`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from n4d4d.errors import InputError

FORMAT = "n4d4d.Asset/1"
JSON_NAME, NPZ_NAME = "asset.json", "asset.npz"


def _record_types() -> dict[str, type]:
    from n4d4d import asset as records
    from n4d4d.volume.sparse import SparseSDF

    names = ("Asset", "Mesh", "CollisionPrimitive", "Part", "Joint", "Skeleton", "MotionClip", "MassProperties", "Material",
             "Provenance", "StageRecord", "Drive", "CheckResult", "FileInertials")
    out = {n: getattr(records, n) for n in names if hasattr(records, n)}
    out["SparseSDF"] = SparseSDF
    from n4d4d.deformation.soft import SoftClip  # a soft clip keeps its tetrahedral body

    out["SoftClip"] = SoftClip
    return out


#: Record types a serialised asset may contain, by name (filled on first use: the records
#: import lazily so that importing this module stays light).
RECORD_TYPES: dict[str, type] = {}


def _types() -> dict[str, type]:
    if not RECORD_TYPES:
        RECORD_TYPES.update(_record_types())
    return RECORD_TYPES


def _block_local(sdf) -> np.ndarray | None:
    """A sparse volume's node coordinates as ``(N, 3) uint8`` offsets inside their block, when
    ``block_coords`` / ``block_offsets`` rebuild them exactly (4x smaller than the int32
    coordinates, which are 70% of a volume's bytes); else None."""
    bs = int(sdf.block_size)
    if bs > 256 or len(sdf.block_offsets) != len(sdf.block_coords) + 1:
        return None
    local = sdf.coords.astype(np.int64) - _block_starts(sdf.block_coords, sdf.block_offsets, bs)
    if local.min(initial=0) < 0 or local.max(initial=0) >= bs:
        return None
    return local.astype(np.uint8)


def _block_starts(block_coords: np.ndarray, block_offsets: np.ndarray, bs: int) -> np.ndarray:
    counts = np.diff(np.asarray(block_offsets, np.int64))
    return np.repeat(np.asarray(block_coords, np.int64) * bs, counts, axis=0)


def _timing(key: str, value: Any, timings: dict | None) -> Any:
    """``value`` of a wall-clock key moved into ``timings`` (replaced by a reference), so the
    record's bytes are the same from run to run; None when it stays where it is."""
    from n4d4d.conventions import is_timing_key

    if timings is None or not is_timing_key(key):
        return None
    ref = f"t{len(timings)}"
    scratch: list[np.ndarray] = []
    timings[ref] = _encode(value, scratch, None)
    if scratch:
        raise TypeError(f"timing '{key}' holds arrays")
    return {"$timing": ref}


def _encode(value: Any, arrays: list[np.ndarray], timings: dict | None = None) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if name not in _types():
            raise TypeError(f"cannot serialise a {name}: not an n4d4d record")
        inner = None if name == "Provenance" else timings  # build options (a clip's `seconds`) are no timings
        out = {"$type": name}
        for f in dataclasses.fields(value):
            if f.init and f.name != "coords":
                v = getattr(value, f.name)
                out[f.name] = _timing(f.name, v, inner) or _encode(v, arrays, inner)
        if name == "SparseSDF":
            local = _block_local(value)
            if local is not None:
                arrays.append(local)
                out["coords"] = {"$block_local": f"a{len(arrays) - 1}"}
            else:
                out["coords"] = _encode(value.coords, arrays, timings)
        elif any(f.name == "coords" for f in dataclasses.fields(value)):
            out["coords"] = _encode(value.coords, arrays, timings)
        return out
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError("object arrays cannot be serialised")
        arrays.append(np.ascontiguousarray(value))
        return {"$array": f"a{len(arrays) - 1}"}
    if isinstance(value, (bytes, bytearray)):
        arrays.append(np.frombuffer(bytes(value), dtype=np.uint8))
        return {"$bytes": f"a{len(arrays) - 1}"}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, arrays, timings) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays, timings) for v in value]
    if isinstance(value, dict) or (hasattr(value, "items") and hasattr(value, "keys")):
        if all(isinstance(k, str) and not k.startswith("$") for k in value.keys()):
            return {k: _timing(k, v, timings) or _encode(v, arrays, timings) for k, v in value.items()}
        return {"$dict": [[_encode(k, arrays, timings), _encode(v, arrays, timings)] for k, v in value.items()]}
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else {"$float": "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}
    if value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise a {type(value).__name__}")


def _decode(value: Any, arrays, where: Path, timings: dict | None = None) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays, where, timings) for v in value]
    if not isinstance(value, dict):
        return value
    if "$timing" in value:
        if timings is None or value["$timing"] not in timings:
            raise InputError(f"report.json has no timing {value['$timing']!r} for the asset record", where)
        return _decode(timings[value["$timing"]], arrays, where)
    if "$array" in value:
        return arrays[value["$array"]]
    if "$bytes" in value:
        return arrays[value["$bytes"]].tobytes()
    if "$tuple" in value:
        return tuple(_decode(v, arrays, where, timings) for v in value["$tuple"])
    if "$float" in value:
        return float(value["$float"])
    if "$dict" in value:
        return {_decode(k, arrays, where, timings): _decode(v, arrays, where, timings) for k, v in value["$dict"]}
    if "$type" in value:
        cls = _types().get(value["$type"])
        if cls is None:
            raise InputError(f"unknown record type {value['$type']!r}", where)
        fields = {k: _decode(v, arrays, where, timings) for k, v in value.items() if k not in ("$type", "coords")}
        if "coords" in value:
            c = value["coords"]
            if isinstance(c, dict) and "$block_local" in c:
                starts = _block_starts(fields["block_coords"], fields["block_offsets"], int(fields["block_size"]))
                fields["coords"] = (starts + arrays[c["$block_local"]]).astype(np.int32)
            else:
                fields["coords"] = _decode(c, arrays, where, timings)
        return cls(**fields)
    return {k: _decode(v, arrays, where, timings) for k, v in value.items()}


def write_record(asset, folder: Path) -> dict[str, Any]:
    """Write ``asset`` as ``folder/asset.json`` and ``folder/asset.npz`` (atomically each).

    Wall-clock values (keys of :func:`n4d4d.conventions.is_timing_key`: stage and check
    seconds) are not written there but returned, by reference id (``{"t0": 1.23, ...}``): the
    caller stores them in report.json's ``timings.record`` (:meth:`Asset.save` does), so the
    record's bytes are the same for the same input, options and seed. Raises TypeError for
    a value that is not an n4d4d record, array, bytes, tuple, list, mapping, number, string
    or None (nothing is written then).
    """
    from n4d4d.io.atomic import atomic_write_bytes, atomic_write_text

    arrays: list[np.ndarray] = []
    timings: dict[str, Any] = {}
    tree = {"format": FORMAT, "asset": _encode(asset, arrays, timings)}
    text = json.dumps(tree, indent=1, allow_nan=False) + "\n"
    buf = io.BytesIO()
    np.savez_compressed(buf, **{f"a{i}": a for i, a in enumerate(arrays)})
    folder = Path(folder)
    atomic_write_text(folder / JSON_NAME, text)
    atomic_write_bytes(folder / NPZ_NAME, buf.getvalue())
    return timings


def read_record(folder: str | Path):
    """The :class:`~n4d4d.asset.Asset` stored in ``folder`` by :func:`write_record`, its
    wall-clock values read back from ``folder/report.json`` (``timings.record``).

    Raises:
        MissingFileError: the folder lacks ``asset.json`` / ``asset.npz``.
        InputError: not an n4d4d asset record, of another format version, or damaged.
    """
    from n4d4d.errors import MissingFileError

    folder = Path(folder)
    jpath, npath = folder / JSON_NAME, folder / NPZ_NAME
    for p in (jpath, npath):
        if not p.is_file():
            raise MissingFileError(f"no {p.name}: not an n4d4d asset folder (built before records were saved?)", folder)
    try:
        tree = json.loads(jpath.read_text())
    except ValueError as exc:
        raise InputError(f"{JSON_NAME} is not valid JSON: {exc}", folder) from exc
    if not isinstance(tree, dict) or tree.get("format") != FORMAT:
        raise InputError(f"{JSON_NAME} is not an {FORMAT} record (format {tree.get('format') if isinstance(tree, dict) else None!r})", folder)
    try:
        with np.load(npath, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # a damaged zip or array header
        raise InputError(f"{NPZ_NAME} cannot be read: {type(exc).__name__}: {exc}", folder) from exc
    timings = None
    report = folder / "report.json"
    if report.is_file():
        try:
            timings = json.loads(report.read_text()).get("timings", {}).get("record")
        except (ValueError, AttributeError):
            timings = None
    try:
        return _decode(tree["asset"], arrays, folder, timings)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"the asset record is damaged: {type(exc).__name__}: {exc}", folder) from exc
