"""The generator's training corpus: shapes as narrow-band sparse SDFs, a manifest and a fixed split.

What it does: :func:`discover` turns source names into shapes (:class:`CorpusItem`):

* ``pybullet_data``: the meshes installed with pybullet: ``random_urdfs/000..999`` (category
  ``random_urdf``) and the other single meshes (OBJ / STL; category = top folder, or the file stem at
  the top level), leaving out ground planes, terrains, cloth, scenes and collision-only copies;
  ``pybullet_data:N`` keeps only the first ``N`` random_urdfs (quicker builds);
* ``procedural`` or ``procedural:N``: ``N`` seeds (default 40) of each procedural family
  (:mod:`n4d4d.generator.procedural`), category = family, with part meshes and ground-truth joints;
* a folder: every mesh file below it (category = first sub-folder, or the file stem), and every URDF
  as one shape (its folder's meshes are then not shapes of their own; category = PartNet-Mobility's
  ``meta.json`` ``model_cat`` when present, else ``articulated``);
* a single mesh or URDF file.

:func:`build_corpus` computes each shape's sparse SDF (:func:`n4d4d.volume.compute_sparse_sdf`) at
every requested resolution, stores it compactly (:mod:`n4d4d.generator.store`, ``r064/<id>.npz``),
writes procedural part meshes (``parts/<id>.obj``, one object per part) and finally
``manifest.json``: per shape its id, category, source, split, files, node counts, and for
procedural and URDF shapes the URDF-like joints (type, parent, child, origin m, axis, limits rad /
m). The split is fixed by shape: :func:`split_of` hashes the shape id (SHA-256), so a shape keeps
its split at every resolution. Near-duplicates (a mesh and its ``_lores`` or convex-decomposed copy,
one mesh in two folders, seeds that came out alike) would land in different splits and leak test
shapes into training, so the build groups them (:mod:`n4d4d.generator.duplicates`: occupancy IoU of
32^3 fingerprints of the R = 64 volumes above 0.93, connected components) and gives every member of
a group the split of the group's first id (sorted); the manifest records the groups under
``near_duplicates`` and the fingerprints go to ``fingerprints.npz``. A shape's split can therefore
change when the corpus grows by a near-duplicate of it whose id sorts first. Each file is written
atomically and the manifest last; an interrupted build is resumed by running it again (existing
volumes are kept; splits are assigned again over all shapes).

What it does not: augment, normalise SDFs for training (:mod:`n4d4d.generator.train` does), or drop
near-duplicates (all are kept, in one split).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

MESH_SUFFIXES = (".obj", ".stl", ".ply", ".off", ".glb", ".gltf")
#: pybullet_data files that are not objects: ground planes, terrain, cloth, scenes, stadiums.
PYBULLET_EXCLUDE = ("plane", "terrain", "cloth", "samurai", "stadium", "heightmap", "checker")
MANIFEST = "manifest.json"
FORMAT = "n4d4d.corpus/1"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class CorpusItem:
    """One shape to put in the corpus.

    Attributes:
        id: unique id, ``<source group>/<name>`` (e.g. ``pybullet/random_urdfs/007``).
        category: category label.
        kind: ``"mesh" | "urdf" | "procedural"``.
        source: file path, or ``procedural:<family>:<seed>``.
    """

    id: str
    category: str
    kind: str
    source: str

    @property
    def file_stem(self) -> str:
        return self.id.replace("/", "__")


def split_of(shape_id: str, fractions: tuple[float, float] = (0.9, 0.05)) -> str:
    """``"train" | "val" | "test"`` of a shape: the first 8 bytes of SHA-256(id) as a number in [0, 1)."""
    u = int.from_bytes(hashlib.sha256(shape_id.encode()).digest()[:8], "big") / 2**64
    return "train" if u < fractions[0] else ("val" if u < fractions[0] + fractions[1] else "test")


def _pybullet_items(random_urdfs: int | None = None) -> list[CorpusItem]:
    """pybullet_data's shapes: the ``random_urdfs`` (the first ``random_urdfs`` of them when given)
    and the other meshes."""
    import pybullet_data

    root = Path(pybullet_data.getDataPath())
    items = [CorpusItem(f"pybullet/random_urdfs/{d.name}", "random_urdf", "mesh", str(d / f"{d.name}.obj"))
             for d in sorted((root / "random_urdfs").iterdir()) if (d / f"{d.name}.obj").is_file()]
    items = items[:random_urdfs] if random_urdfs is not None else items
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        low = str(rel).lower()
        if p.suffix.lower() not in (".obj", ".stl") or rel.parts[0] == "random_urdfs" or "collision" in low \
                or any(x in low for x in PYBULLET_EXCLUDE) or p.stem.lower().endswith(("_vhacd", "_col")):
            continue
        category = rel.parts[0] if len(rel.parts) > 1 else p.stem.lower()
        items.append(CorpusItem(f"pybullet/{rel.with_suffix('')}", category, "mesh", str(p)))
    return items


def _folder_items(folder: Path) -> list[CorpusItem]:
    group = folder.name
    urdfs = sorted(folder.rglob("*.urdf"))
    urdf_dirs = [u.parent for u in urdfs]
    items = []
    for u in urdfs:
        meta = u.parent / "meta.json"
        cat = json.loads(meta.read_text()).get("model_cat", "articulated") if meta.is_file() else "articulated"
        name = u.parent.name if u.stem == "mobility" else u.stem
        items.append(CorpusItem(f"{group}/{u.parent.relative_to(folder) / name}".replace("/./", "/"),
                                str(cat).lower(), "urdf", str(u)))
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() not in MESH_SUFFIXES or any(d in p.parents for d in urdf_dirs):
            continue
        rel = p.relative_to(folder)
        category = rel.parts[0] if len(rel.parts) > 1 else p.stem.lower()
        items.append(CorpusItem(f"{group}/{rel.with_suffix('')}", category, "mesh", str(p)))
    return items


def discover(sources: Sequence[str], *, procedural_per_family: int = 40) -> list[CorpusItem]:
    """Shapes named by ``sources`` (see module docstring), ids unique, in a stable order.

    Raises:
        MissingFileError: a source that is no keyword, folder or file.
        UnsupportedFormatError: a file that is not a mesh or URDF.
    """
    from n4d4d.errors import MissingFileError, UnsupportedFormatError

    items: list[CorpusItem] = []
    for s in sources:
        if s == "pybullet_data" or s.startswith("pybullet_data:"):
            items += _pybullet_items(int(s.split(":", 1)[1]) if ":" in s else None)
        elif s == "procedural" or s.startswith("procedural:"):
            from n4d4d.generator.procedural import families

            n = int(s.split(":", 1)[1]) if ":" in s else procedural_per_family
            items += [CorpusItem(f"procedural/{f}_{i:05d}", f, "procedural", f"procedural:{f}:{i}")
                      for f in families() for i in range(n)]
        else:
            p = Path(s)
            if p.is_dir():
                items += _folder_items(p)
            elif p.is_file():
                if p.suffix.lower() not in MESH_SUFFIXES + (".urdf",):
                    raise UnsupportedFormatError(f"not a mesh or URDF file ({p.suffix})", p)
                kind = "urdf" if p.suffix.lower() == ".urdf" else "mesh"
                items.append(CorpusItem(f"files/{p.stem}", p.stem.lower(), kind, str(p)))
            else:
                raise MissingFileError("no such corpus source (a folder, a file, 'pybullet_data' or "
                                       "'procedural[:N]')", p)
    seen, out = set(), []
    for it in items:
        if it.id not in seen:
            seen.add(it.id)
            out.append(it)
    return out


def load_item(item: CorpusItem):
    """``(mesh, extra)``: the shape's :class:`~n4d4d.asset.Mesh` and manifest extras (joints, params)."""
    if item.kind == "procedural":
        from n4d4d.generator.procedural import joints_to_json, make_shape

        _, fam, seed = item.source.split(":")
        asset = make_shape(fam, int(seed))
        return asset.visual, {"asset": asset, "joints": joints_to_json(asset.joints),
                              "parts": [p.name for p in asset.parts],
                              "params": dict(asset.provenance.options["params"])}
    if item.kind == "urdf":
        from n4d4d.generator.procedural import joints_to_json
        from n4d4d.io.urdf import load_urdf_asset

        asset = load_urdf_asset(item.source)
        return asset.visual, {"joints": joints_to_json(asset.joints), "parts": [p.name for p in asset.parts]}
    from n4d4d.io.load import load_mesh

    return load_mesh(item.source), {}


def build_corpus(sources: Sequence[str], out_dir: str | Path, resolutions: Sequence[int] = (64, 128), *,
                 procedural_per_family: int = 40, band_voxels: float = 2.0, block_size: int = 8,
                 limit: int | None = None, duplicate_threshold: float | None = None,
                 progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Build (or resume) a corpus in ``out_dir``; returns the manifest (also written as ``manifest.json``).

    Resuming keeps every volume already built; a resolution new to the corpus is computed alone
    (``-r 256`` on a corpus of 64 and 128 adds the 256 volumes and keeps the others).
    ``limit`` keeps the first ``limit`` discovered shapes (for quick builds). A shape that cannot be
    loaded or has no inside is listed under ``failed`` with its error, and the build goes on.
    ``duplicate_threshold``: occupancy IoU above which shapes are grouped into one split (default
    :data:`~n4d4d.generator.duplicates.IOU_THRESHOLD`; a value above 1 groups nothing).
    """
    from n4d4d.generator import duplicates as dup
    from n4d4d.generator.procedural import parts_obj
    from n4d4d.generator.store import load_compact, save_compact
    from n4d4d.io.atomic import atomic_write_text
    from n4d4d.volume import compute_sparse_sdf

    out = Path(out_dir)
    threshold = dup.IOU_THRESHOLD if duplicate_threshold is None else float(duplicate_threshold)
    fp_res = dup.fingerprint_resolution(resolutions)
    items = discover(sources, procedural_per_family=procedural_per_family)[:limit]
    old = {}
    if (out / MANIFEST).is_file():
        old = {e["id"]: e for e in json.loads((out / MANIFEST).read_text()).get("shapes", [])}
    fps = dup.load_fingerprints(out, fp_res)

    def fingerprint_from_file(shape_id: str, rel: str) -> None:  # a volume built by an earlier run
        if shape_id not in fps:
            fps[shape_id] = dup.occupancy_fingerprint(load_compact(out / rel))
    shapes, failed, seconds = [], [], {str(r): 0.0 for r in resolutions}
    t_start = time.perf_counter()
    for n, item in enumerate(items):
        if progress:
            progress(n, len(items), item.id)
        files = {str(r): f"r{r:03d}/{item.file_stem}.npz" for r in resolutions}
        prev = old.get(item.id)
        if prev and all(k in prev.get("files", {}) and (out / f).is_file() for k, f in files.items()):
            shapes.append(dict(prev))
            fingerprint_from_file(item.id, files[str(fp_res)])
            continue
        have = {k for k, f in (prev or {}).get("files", {}).items() if (out / f).is_file()}
        try:
            mesh, extra = load_item(item)
            entry = {"id": item.id, "category": item.category, "kind": item.kind, "source": item.source,
                     "split": split_of(item.id), "files": {}, "nodes": {}, "voxel_size": {}}
            for k in sorted(have, key=int):  # resuming with a new resolution: the others are kept
                for key in ("files", "nodes", "voxel_size"):
                    entry[key][k] = prev[key][k]
            entry["files"].update(files)
            for r in resolutions:
                if str(r) in have:
                    if r == fp_res:
                        fingerprint_from_file(item.id, files[str(r)])
                    continue
                t0 = time.perf_counter()
                sdf = compute_sparse_sdf(mesh, resolution=r, block_size=block_size, band_voxels=band_voxels,
                                         memory_budget_bytes=2 * 2**30, path=item.source)
                if not (sdf.values < 0).any():
                    raise ValueError("the volume has no inside (an open sheet or a flat mesh)")
                save_compact(sdf, out / files[str(r)])
                seconds[str(r)] += time.perf_counter() - t0
                if r == fp_res:
                    fps[item.id] = dup.occupancy_fingerprint(sdf)
                entry["nodes"][str(r)] = sdf.n_nodes
                entry["voxel_size"][str(r)] = sdf.voxel_size
            if "asset" in extra:
                atomic_write_text(out / "parts" / f"{item.file_stem}.obj", parts_obj(extra.pop("asset")))
                entry["parts_file"] = f"parts/{item.file_stem}.obj"
            entry.update(extra)
            shapes.append(entry)
        except Exception as exc:  # one bad shape never stops the build
            failed.append({"id": item.id, "source": item.source, "error": f"{type(exc).__name__}: {exc}"})
            fps.pop(item.id, None)
    ids = [e["id"] for e in shapes]
    fp = np.array([fps[i] for i in ids], np.uint8).reshape(len(ids), dup.FINGERPRINT_SIZE**3 // 8)
    groups = dup.duplicate_groups(ids, dup.near_duplicate_pairs(fp, threshold))
    split = dup.group_splits(ids, groups, split_of)
    for e in shapes:
        e["split"] = split[e["id"]]
    dup.save_fingerprints(out / dup.FINGERPRINTS, ids, fp, fp_res)
    counts = {s: sum(e["split"] == s for e in shapes) for s in SPLITS}
    present = sorted({int(k) for e in shapes for k in e["files"]} | set(resolutions))
    manifest = {"format": FORMAT, "sources": list(sources), "resolutions": present,
                "band_voxels": band_voxels, "block_size": block_size,
                "split_rule": "sha256(id)[:8] / 2^64: < 0.9 train, < 0.95 val, else test; every member of a "
                              "near_duplicates group takes the split of the group's first id",
                "near_duplicates": {"rule": f"occupancy IoU > {threshold:g} of {dup.FINGERPRINT_SIZE}^3 "
                                            f"fingerprints (bounding box, one scale) of the R = {fp_res} volumes; "
                                            "groups are connected components; first id = sorted first",
                                    "threshold": threshold, "resolution": fp_res,
                                    "fingerprints": dup.FINGERPRINTS, "groups": groups},
                "counts": counts, "categories": sorted({e["category"] for e in shapes}),
                "build_seconds": round(time.perf_counter() - t_start, 1),
                "sdf_seconds": {k: round(v, 1) for k, v in seconds.items()},
                "shapes": shapes, "failed": failed}
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1))
    return manifest


class Corpus:
    """A built corpus: its manifest and volumes. ``Corpus(dir)``; ``ValueError`` if no manifest."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        path = self.root / MANIFEST
        if not path.is_file():
            raise ValueError(f"{path}: no corpus manifest (build one with `n4d4d corpus build`)")
        self.manifest = json.loads(path.read_text())
        if self.manifest.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} manifest")

    def entries(self, split: str | None = None, resolution: int | None = None) -> list[dict]:
        """Shapes of ``split`` (all if None) that have a volume at ``resolution`` (any if None)."""
        return [e for e in self.manifest["shapes"] if (split is None or e["split"] == split)
                and (resolution is None or str(resolution) in e["files"])]

    def load(self, entry: dict, resolution: int):
        """The :class:`~n4d4d.volume.SparseSDF` of ``entry`` at ``resolution``."""
        from n4d4d.generator.store import load_compact

        return load_compact(self.root / entry["files"][str(resolution)])

    def summary(self) -> dict:
        """Counts per split and per category, and the volume bytes on disk per resolution."""
        m = self.manifest
        sizes = {str(r): sum((self.root / e["files"][str(r)]).stat().st_size for e in m["shapes"]
                             if str(r) in e["files"] and (self.root / e["files"][str(r)]).is_file())
                 for r in m["resolutions"]}
        cats: dict[str, int] = {}
        for e in m["shapes"]:
            cats[e["category"]] = cats.get(e["category"], 0) + 1
        return {"shapes": len(m["shapes"]), "failed": len(m["failed"]), "counts": m["counts"],
                "bytes": sizes, "categories": dict(sorted(cats.items(), key=lambda kv: -kv[1])),
                "mean_nodes": {str(r): float(np.mean([e["nodes"][str(r)] for e in m["shapes"]
                                                      if str(r) in e["nodes"]] or [0])) for r in m["resolutions"]}}
