"""Near-duplicate shapes in a corpus: occupancy fingerprints, all-pairs IoU, groups and leaks.

What it does:

* :func:`occupancy_fingerprint`: a fixed-size signature of one :class:`~n4d4d.volume.SparseSDF`: the
  occupancy of the shape on a ``size^3`` grid (default 32^3) over its bounding box, scaled the same
  along every axis (the longest side fills the grid, the others are centred), packed to bits. The
  sign beyond the narrow band comes from :func:`n4d4d.generator.codec.dense_signed_grid`; the box
  is the sub-voxel box of the zero crossings. A translated, uniformly scaled or re-meshed copy of a
  shape gets (nearly) the same bits, as it gets (nearly) the same corpus volume, whose grid also
  spans the shape's own box; aspect ratio is kept (a cube and a bar differ).
* :func:`pairwise_iou`: occupancy IoU ``|A & B| / |A | B|`` of every pair of fingerprints as
  float32 products of the unpacked bits in row chunks (1,515 x 1,515: about 6 s on 2 busy cores);
* :func:`near_duplicate_pairs`, :func:`duplicate_groups` (connected components of the pairs whose
  IoU exceeds the threshold) and :func:`group_splits` (every member of a group takes the split of
  the group's first id in sorted order, by :func:`n4d4d.generator.corpus.split_of`);
* :func:`corpus_fingerprints` and :func:`corpus_leaks`: for a built corpus, the shapes of one
  split (test, val) with a near-duplicate in another (train), with the best IoU.

Threshold, :data:`IOU_THRESHOLD` = 0.93, from IoUs measured on the 1,515-shape corpus of issue 6
(pybullet_data, 9 procedural families x 40 seeds, shared meshes; R = 64 volumes):

* copies score above it: duck vs duck_vhacd 0.949, laikago ``hip_motor`` / ``lower_leg3`` /
  ``chassis_zup`` vs their ``_lores`` meshes 0.97-0.99, the unit cube of ``cube``, ``jenga`` and
  ``table`` 1.0; 111 of 120 corpus shapes re-meshed (marching cubes at R = 128, decimated to half
  the faces), scaled 1.6x and moved: median 0.997, the 9 below being thin-walled parts (channels,
  cabinet doors) whose walls the decimation opened;
* distinct shapes mostly score below: each shape's best IoU with another seed of its procedural
  family has median 0.66, 90th percentile 0.91 (the 26 of 360 above 0.93 are seeds whose
  proportions agree within 2%: scaled copies); each random_urdf's best IoU with another has median
  0.81, 90th percentile 0.915 (the 66 of 999 above 0.93 are blobs whose surfaces lie within about
  one R = 64 voxel of each other, surface Chamfer-L1 0.6-1.9% of the size); a procedural chair's
  nearest other chair 0.89; of all 1.15 million pairs, 0.01% exceed 0.93.

``n4d4d corpus duplicates DIR --histogram`` prints these distributions for a corpus.

Orientation: fingerprints are compared as stored, not over the 48 rotations and reflections of the
cube. Shapes from one source share an up axis; the max over the 48 poses finds re-posed copies
(laikago ``chassis`` vs ``chassis_zup`` 0.26 -> 0.99, a1 ``thigh`` vs ``thigh_mirror`` 0.29 -> 0.96)
but pairs distinct blobs three times as often (random_urdfs with a match above 0.93: 14 -> 40 of
200) and costs 48 times the products (about 40 s for 200 x 1,515). :func:`pairwise_iou` and
:func:`corpus_leaks` take ``symmetries=True`` for a report; corpus builds do not use it.

What it does not: compare detail finer than a cell (1/32 of the longest side), catch copies scaled
differently along different axes, or change a built corpus (it only reads one).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from n4d4d.volume.sparse import SparseSDF

#: Fingerprint cells per side.
FINGERPRINT_SIZE = 32
#: Occupancy IoU above which two shapes are near-duplicates (see the module docstring).
IOU_THRESHOLD = 0.93
#: Volume resolution the fingerprints are taken from when a corpus has it.
FINGERPRINT_RESOLUTION = 64
#: Sub-samples per cell side: a cell is occupied when any of its ``SUBSAMPLES^3`` points is inside.
SUBSAMPLES = 2
#: The fingerprint file of a corpus, and its format tag.
FINGERPRINTS = "fingerprints.npz"
FINGERPRINTS_FORMAT = "n4d4d.fingerprints/1"


def _crossing_box(vol: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-voxel bounding box ``(lo, hi)`` (grid-index units) of the zero crossings of ``vol``.

    Along each axis, the first (last) slab holding an inside node is bounded by an all-outside
    slab; the crossing on each such edge is placed by linear interpolation of the two values.
    """
    lo, hi = np.empty(3), np.empty(3)
    for a in range(3):
        idx = np.nonzero(inside.any(axis=tuple(b for b in range(3) if b != a)))[0]
        for end, i, step in ((lo, int(idx[0]), -1), (hi, int(idx[-1]), 1)):
            v_in = np.take(vol, i, axis=a)
            m = v_in < 0
            v_out = np.take(vol, i + step, axis=a)[m]
            end[a] = i + step * float(np.max(v_in[m] / (v_in[m] - v_out)))
    return lo, hi


def occupancy_fingerprint(sdf: SparseSDF, size: int = FINGERPRINT_SIZE) -> np.ndarray:
    """The shape's occupancy on a ``size^3`` grid over its bounding box, packed: ``(size^3 / 8,) uint8``.

    The box is the sub-voxel box of the SDF's zero crossings; the grid's side is the box's longest
    side (one scale for all axes), centred on the box. A cell is occupied when any of its
    ``SUBSAMPLES^3`` regularly spaced points is inside, the SDF read by trilinear interpolation of
    :func:`~n4d4d.generator.codec.dense_signed_grid` (a conservative voxelisation, so walls a few
    voxels thin are kept); a shape so thin that every point misses it takes the cells holding its
    inside grid nodes instead. Bits are C-ordered over ``(x, y, z)`` cells, ``numpy.packbits``.
    A volume with no inside node gives all zeros.
    """
    from scipy import ndimage

    from n4d4d.generator.codec import dense_signed_grid

    vol = dense_signed_grid(sdf)  # voxels; index = grid node + 1
    inside = vol < 0
    if not inside.any():
        return np.zeros(size**3 // 8, np.uint8)
    lo, hi = _crossing_box(vol, inside)
    side = float(np.max(hi - lo))
    start = (lo + hi) / 2 - side / 2
    s = SUBSAMPLES
    t = (np.arange(size * s) + 0.5) / (size * s) * side  # sub-sample positions along a side
    pts = np.stack(np.meshgrid(t + start[0], t + start[1], t + start[2], indexing="ij")).reshape(3, -1)
    val = ndimage.map_coordinates(vol, pts, order=1, mode="constant", cval=float(vol.max()), prefilter=False)
    occ = (val < 0).reshape(size, s, size, s, size, s).any(axis=(1, 3, 5))
    if not occ.any():
        cell = np.clip(((np.argwhere(inside) - start) / side * size).astype(np.int64), 0, size - 1)
        occ[cell[:, 0], cell[:, 1], cell[:, 2]] = True
    return np.packbits(occ.ravel())


def _unpack(fps: np.ndarray, n_bits: int) -> np.ndarray:
    return np.unpackbits(fps, axis=1, count=n_bits).astype(np.float32)


def _symmetries(size: int) -> list[np.ndarray]:
    """Index maps (``size^3,`` int64) of the 48 rotations and reflections of the cube's cells."""
    grid = np.arange(size**3).reshape(size, size, size)
    maps = []
    for perm in itertools.permutations(range(3)):
        for flips in itertools.product((False, True), repeat=3):
            g = grid.transpose(perm)
            for a, f in enumerate(flips):
                if f:
                    g = np.flip(g, axis=a)
            maps.append(g.ravel().copy())
    return maps


def pairwise_iou(a: np.ndarray, b: np.ndarray | None = None, *, size: int = FINGERPRINT_SIZE,
                 symmetries: bool = False, chunk: int = 256) -> np.ndarray:
    """Occupancy IoU of every fingerprint in ``a (n, size^3/8) uint8`` with every one in ``b (m, ...)``.

    ``b`` defaults to ``a``. Returns ``(n, m) float32``; two empty fingerprints have IoU 0.
    Counts are float32 products of 0/1 vectors (exact below 2^24 cells). With ``symmetries`` the
    IoU is the max over the 48 rotations and reflections of ``a``'s grid (48 times the work).

    Raises ``ValueError`` when the fingerprints' byte length is not ``size^3 / 8``.
    """
    a = np.asarray(a, np.uint8)
    b = a if b is None else np.asarray(b, np.uint8)
    n_bits = size**3
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != n_bits // 8 or b.shape[1] != n_bits // 8:
        raise ValueError(f"fingerprints must be (n, {n_bits // 8}) uint8, got {a.shape} and {b.shape}")
    bt = _unpack(b, n_bits).T.copy()  # (n_bits, m)
    nb = bt.sum(axis=0)
    maps = _symmetries(size) if symmetries else [None]
    out = np.zeros((len(a), len(b)), np.float32)
    for i in range(0, len(a), chunk):
        ai = _unpack(a[i:i + chunk], n_bits)
        na = ai.sum(axis=1)[:, None]
        for m in maps:
            inter = (ai if m is None else ai[:, m]) @ bt
            union = na + nb[None, :] - inter
            iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
            np.maximum(out[i:i + chunk], iou, out=out[i:i + chunk])
    return out


def near_duplicate_pairs(fps: np.ndarray, threshold: float = IOU_THRESHOLD, *,
                         size: int = FINGERPRINT_SIZE) -> list[tuple[int, int, float]]:
    """``(i, j, iou)`` with ``i < j`` for every pair of rows of ``fps`` whose IoU exceeds ``threshold``."""
    if len(fps) < 2:
        return []
    iou = pairwise_iou(fps, size=size)
    i, j = np.nonzero(np.triu(iou > threshold, k=1))
    return [(int(p), int(q), float(iou[p, q])) for p, q in zip(i, j)]


def duplicate_groups(ids: Sequence[str], pairs: Sequence[tuple[int, int, float]]) -> list[list[str]]:
    """Connected components (2 or more members) of the graph whose edges are ``pairs`` over ``ids``.

    Each group is sorted; groups are sorted by their first id. Components by
    ``scipy.sparse.csgraph.connected_components``.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(ids)
    i = np.array([p[0] for p in pairs], dtype=np.int64)
    j = np.array([p[1] for p in pairs], dtype=np.int64)
    _, label = connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)
    comps: dict[int, list[str]] = {}
    for k, name in enumerate(ids):
        comps.setdefault(int(label[k]), []).append(name)
    return sorted((sorted(g) for g in comps.values() if len(g) > 1), key=lambda g: g[0])


def group_splits(ids: Sequence[str], groups: Sequence[Sequence[str]],
                 split_rule: Callable[[str], str] | None = None) -> dict[str, str]:
    """Split of every id: ``split_rule(id)`` (default :func:`~n4d4d.generator.corpus.split_of`),
    except that every member of a group takes the split of the group's first id in sorted order."""
    if split_rule is None:
        from n4d4d.generator.corpus import split_of as split_rule
    out = {i: split_rule(i) for i in ids}
    for g in groups:
        s = split_rule(min(g))
        out.update({i: s for i in g})
    return out


def fingerprint_resolution(resolutions: Sequence[int]) -> int:
    """The resolution fingerprints are taken from: 64 when present, else the one nearest to it."""
    res = sorted(int(r) for r in resolutions)
    return min(res, key=lambda r: (abs(r - FINGERPRINT_RESOLUTION), r))


def save_fingerprints(path: str | Path, ids: Sequence[str], fps: np.ndarray, resolution: int,
                      size: int = FINGERPRINT_SIZE) -> Path:
    """Write fingerprints ``(n, size^3/8) uint8`` of ``ids`` to ``path`` (compressed ``.npz``, atomic)."""
    from n4d4d.io.atomic import atomic_write_npz

    return atomic_write_npz(path, {"format": np.array(FINGERPRINTS_FORMAT), "ids": np.array(list(ids), dtype=str),
                                   "fingerprints": np.asarray(fps, np.uint8).reshape(len(ids), size**3 // 8),
                                   "resolution": np.array(resolution), "size": np.array(size)}, compressed=True)


def load_fingerprints(path: str | Path, resolution: int, size: int = FINGERPRINT_SIZE) -> dict[str, np.ndarray]:
    """``{id: fingerprint}`` from a file of :func:`save_fingerprints` (a corpus folder names its
    ``fingerprints.npz``); empty when the file is absent or holds another resolution or size.

    Raises ``ValueError`` naming the file when it exists but is not a fingerprint file.
    """
    import zipfile

    p = Path(path)
    p = p / FINGERPRINTS if p.is_dir() else p
    if not p.is_file():
        return {}
    try:
        with np.load(p, allow_pickle=False) as z:
            if str(z["format"]) != FINGERPRINTS_FORMAT:
                raise ValueError(f"{p}: not a {FINGERPRINTS_FORMAT} file")
            if int(z["resolution"]) != resolution or int(z["size"]) != size:
                return {}
            return dict(zip((str(i) for i in z["ids"]), z["fingerprints"]))
    except (KeyError, zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{p}: not a {FINGERPRINTS_FORMAT} file ({e})") from e


def corpus_fingerprints(corpus, resolution: int | None = None, *, size: int = FINGERPRINT_SIZE,
                        progress: Callable[[int, int, str], None] | None = None
                        ) -> tuple[list[str], np.ndarray, int]:
    """``(ids, fingerprints (n, size^3/8) uint8, resolution)`` of a
    :class:`~n4d4d.generator.corpus.Corpus`'s shapes that have a volume at ``resolution`` (default
    :func:`fingerprint_resolution` of the corpus's resolutions). Stored fingerprints
    (``fingerprints.npz``) are used when present; the others are computed from the volumes (about
    0.05 s a shape at R = 64). Reads only.
    """
    res = fingerprint_resolution(corpus.manifest["resolutions"]) if resolution is None else int(resolution)
    entries = corpus.entries(None, res)
    stored = load_fingerprints(corpus.root, res, size)
    ids, rows = [], []
    for n, e in enumerate(entries):
        if progress:
            progress(n, len(entries), e["id"])
        fp = stored.get(e["id"])
        rows.append(fp if fp is not None else occupancy_fingerprint(corpus.load(e, res), size))
        ids.append(e["id"])
    return ids, np.array(rows, np.uint8).reshape(len(ids), size**3 // 8), res


def cross_split_duplicates(ids: Sequence[str], splits: Sequence[str], fps: np.ndarray,
                           query: str = "test", reference: str = "train", *,
                           threshold: float = IOU_THRESHOLD, size: int = FINGERPRINT_SIZE,
                           symmetries: bool = False) -> list[dict]:
    """Shapes of split ``query`` whose best IoU with a shape of split ``reference`` exceeds ``threshold``.

    Returns ``[{"id", "match", "iou"}]`` (``match``: the best reference shape), by decreasing IoU.
    """
    sp = np.asarray(splits)
    q, r = np.flatnonzero(sp == query), np.flatnonzero(sp == reference)
    if not len(q) or not len(r):
        return []
    iou = pairwise_iou(fps[q], fps[r], size=size, symmetries=symmetries)
    best = iou.argmax(axis=1)
    rows = [{"id": ids[qi], "match": ids[r[b]], "iou": float(iou[k, b])}
            for k, (qi, b) in enumerate(zip(q, best)) if iou[k, b] > threshold]
    return sorted(rows, key=lambda d: (-d["iou"], d["id"]))


def corpus_leaks(corpus, query: str = "test", reference: str = "train", *, threshold: float = IOU_THRESHOLD,
                 resolution: int | None = None, symmetries: bool = False, fingerprints=None,
                 progress: Callable[[int, int, str], None] | None = None) -> list[dict]:
    """Shapes of a built corpus's ``query`` split with a near-duplicate in its ``reference`` split.

    ``fingerprints``: ``(ids, fps)`` from :func:`corpus_fingerprints`, to share them between calls.
    Returns the rows of :func:`cross_split_duplicates`. A corpus built with near-duplicate grouping
    has none at its own threshold; an older one (plain hash split) may have some.
    """
    if fingerprints is None:
        ids, fps, _ = corpus_fingerprints(corpus, resolution, progress=progress)
    else:
        ids, fps = fingerprints[0], fingerprints[1]
    split = {e["id"]: e["split"] for e in corpus.manifest["shapes"]}
    return cross_split_duplicates(ids, [split[i] for i in ids], fps, query, reference,
                                  threshold=threshold, symmetries=symmetries)
