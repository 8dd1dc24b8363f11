"""Expand a validated scenario spec into the assets to build: sources, seeds, randomised options.

:func:`plan_scenario` turns every source entry into items (files matched by their globs,
sample names, URDF folders, procedural or generator seeds), every item into ``variants``
builds, and every build into an :class:`~n4d4d.scenarios.batch.AssetJob` with its own
:class:`~n4d4d.options.BuildOptions`: the spec's ``build`` options, the entry's, then the
values drawn for it (longest side, density or mass, friction, restitution, motion) and its
seed. Supports are planned the same way.

Seeds: build ``k`` gets ``numpy.random.SeedSequence([spec.seed, role, entry, item,
variant])``; its first 32-bit word is the build seed (``BuildOptions.seed``), and the values
are drawn from a generator on the same sequence with one more word, in the order of the
fields of :class:`~n4d4d.scenarios.spec.Randomize`. So a build's seed and draws depend on
the spec and on where the build sits in it, never on the worker count, backend or the order
in which builds finish. Names are planned once (:func:`n4d4d.scenarios.batch.unique_names`).

Procedural items are written as URDF inputs under ``OUT/sources/<name>/`` (atomically,
byte for byte the same on a rerun) by :func:`materialize`; nothing else is written here.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from n4d4d.options import BuildOptions
from n4d4d.scenarios.batch import AssetJob, unique_names
from n4d4d.scenarios.spec import ScenarioSpec, SourceSpec, SupportSpec
from n4d4d.sources import Generated, MeshFile, Sample, Source, UrdfFile, safe_asset_name

#: Seed-sequence word that tells objects, supports and scene draws apart.
ROLE_OBJECT, ROLE_SUPPORT, ROLE_SCENE = 0, 1, 2

#: Formats every scenario asset is written in: the scene references ``asset.usda``, and
#: settling loads ``asset.urdf`` into PyBullet.
REQUIRED_FORMATS = ("usda", "urdf")

#: Folder names under the output folder.
ASSETS_DIR, SOURCES_DIR = "assets", "sources"

_SIZE_KEYS = ("height", "longest_side", "unit")


@dataclass(frozen=True)
class Item:
    """One thing a source entry names, before variants: ``kind`` is a key of
    :data:`~n4d4d.scenarios.spec.SOURCE_KINDS`; ``value`` a path, a sample name, or a
    ``(family or category, seed)`` pair."""

    kind: str
    value: Any
    category: str
    label: str


@dataclass(frozen=True)
class PlannedAsset:
    """One build of a plan.

    Attributes:
        name: the asset's (unique) name, its folder ``OUT/assets/<name>``.
        role: ``"object"`` or ``"support"``.
        entry, item, variant: where it sits in the spec (indices).
        seed: its build seed.
        category: manifest category.
        label: how its source is written (``sample:random_urdfs/003``, a path, ``procedural:table/seed=0``).
        job: the :class:`AssetJob` to build.
        draws: the randomised values drawn for it (plain JSON values, SI units).
        instances: placements per environment.
        joint_positions: range of initial joint coordinates (fractions), drawn per placement.
        support: the support's spec (role ``"support"``), else None.
        procedural: ``(family, seed, longest side or None)`` for a procedural item, else None.
    """

    name: str
    role: str
    entry: int
    item: int
    variant: int
    seed: int
    category: str
    label: str
    job: AssetJob
    draws: dict = field(default_factory=dict)
    instances: int = 1
    joint_positions: tuple[float, float] | None = None
    support: SupportSpec | None = None
    procedural: tuple | None = None


@dataclass(frozen=True)
class Plan:
    """The planned builds of a spec, for output folder ``out``; supports first."""

    spec: ScenarioSpec
    out: Path
    assets: tuple[PlannedAsset, ...]
    notes: tuple[str, ...] = ()

    @property
    def assets_dir(self) -> Path:
        return self.out / ASSETS_DIR

    @property
    def supports(self) -> tuple[PlannedAsset, ...]:
        return tuple(a for a in self.assets if a.role == "support")

    @property
    def objects(self) -> tuple[PlannedAsset, ...]:
        return tuple(a for a in self.assets if a.role == "object")


def derive_seed(*words: int) -> int:
    """A 32-bit seed from a tuple of non-negative integers (``SeedSequence(words)``'s first word)."""
    return int(np.random.SeedSequence([int(w) for w in words]).generate_state(1)[0])


def _sample_names() -> list[str]:
    from n4d4d.io.samples import SAMPLE_NAMES

    return [n for n in SAMPLE_NAMES if "NNN" not in n] + [f"random_urdfs/{k:03d}" for k in range(1000)]


def _urdf_in(folder: Path) -> Path | None:
    if (folder / "mobility.urdf").is_file():
        return folder / "mobility.urdf"
    found = sorted(folder.glob("*.urdf"))
    return found[0] if len(found) == 1 else None


def _urdf_category(urdf: Path) -> str:
    """PartNet-Mobility's ``meta.json`` ``model_cat`` beside the URDF, else its folder's name."""
    meta = urdf.parent / "meta.json"
    if meta.is_file():
        try:
            cat = json.loads(meta.read_text()).get("model_cat")
            if cat:
                return str(cat)
        except (OSError, ValueError):
            pass
    return urdf.parent.name


def expand_items(spec: ScenarioSpec, entry: SourceSpec, loc: tuple) -> list[Item]:
    """The items of one source entry, in a deterministic order (each pattern's matches sorted).

    Raises:
        SpecError: a glob or path matching nothing, a URDF folder without exactly one URDF,
            an unknown sample name (naming the line of the pattern).
    """
    from n4d4d.errors import InputError

    kind, items = entry.kind, []
    if kind in ("files", "urdfs"):
        for k, pattern in enumerate(getattr(entry, kind)):
            full = Path(pattern).expanduser()
            full = full if full.is_absolute() else spec.folder / full
            matches = sorted(Path(p) for p in glob.glob(str(full), recursive=True))
            if not matches:
                raise spec.error(loc + (kind, k), f"no {'file' if kind == 'files' else 'URDF'} matches {pattern!r} "
                                 f"(relative to {spec.folder})")
            for m in matches:
                if kind == "files":
                    if m.is_file():
                        items.append(Item("files", m, entry.category or m.parent.name, str(m)))
                    continue
                urdf = _urdf_in(m) if m.is_dir() else m
                if urdf is None or urdf.suffix.lower() != ".urdf":
                    raise spec.error(loc + (kind, k), f"{m} is not a URDF file nor a folder holding exactly one")
                items.append(Item("urdfs", urdf, entry.category or _urdf_category(urdf), str(urdf)))
    elif kind == "samples":
        known = _sample_names()
        for k, pattern in enumerate(entry.samples):
            if any(c in pattern for c in "*?["):
                matches = [n for n in known if fnmatch.fnmatchcase(n, pattern)]
            else:
                try:
                    from n4d4d.io.samples import resolve_sample

                    matches = [resolve_sample(pattern).name]
                except InputError as exc:
                    raise spec.error(loc + ("samples", k), exc.problem) from None
            if not matches:
                raise spec.error(loc + ("samples", k), f"no pybullet_data sample matches {pattern!r}")
            for n in matches:
                items.append(Item("samples", n, entry.category or n.split("/")[0], f"sample:{n}"))
    elif kind == "procedural":
        p = entry.procedural
        for seed in range(p.first_seed, p.first_seed + p.count):
            items.append(Item("procedural", (p.family, seed), entry.category or p.family,
                              f"procedural:{p.family}/seed={seed}"))
    else:
        g = entry.generate
        for seed in range(g.first_seed, g.first_seed + g.count):
            items.append(Item("generate", (g.category, seed), entry.category or g.category,
                              Generated(g.category, seed).label))
    return items


def _base_name(item: Item) -> str:
    if item.kind == "files":
        return MeshFile(item.value).name
    if item.kind == "urdfs":
        return UrdfFile(item.value).name
    if item.kind == "samples":
        return Sample(item.value).name
    if item.kind == "procedural":
        return safe_asset_name(f"{item.value[0]}_{item.value[1]:05d}")
    return Generated(item.value[0], item.value[1]).name


def _draw(rng: np.random.Generator, value: tuple[float, float] | None) -> float | None:
    if value is None:
        return None
    lo, hi = value
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def _options(spec: ScenarioSpec, entry: SourceSpec, item: Item, rng, seed: int, name: str,
             support_size: float | None) -> tuple[BuildOptions, dict, float | None, float | None]:
    """Build options of one build, the values drawn, its joint damping and (procedural) size."""
    opts: dict[str, Any] = {k: getattr(spec.build, k) for k in spec.build.model_fields_set}
    if entry.build is not None:
        opts.update({k: getattr(entry.build, k) for k in entry.build.model_fields_set})
    r = entry.randomize
    draws: dict[str, Any] = {}
    for key in ("size", "density", "mass", "friction", "restitution", "joint_damping"):
        v = _draw(rng, getattr(r, key))
        if v is not None:
            draws[key] = v
    if support_size is not None:
        draws["size"] = support_size
    size = draws.get("size")
    urdf_like = item.kind in ("urdfs", "procedural")
    if size is not None or urdf_like:
        for k in _SIZE_KEYS:
            opts.pop(k, None)
    if size is not None and not urdf_like:
        opts["longest_side"] = size
    if "mass" in draws:
        opts["mass"] = draws["mass"]
        opts.pop("density", None)
    if "density" in draws:
        opts["density"] = draws["density"]
        opts.pop("mass", None)
    if "friction" in draws:
        opts["static_friction"] = opts["dynamic_friction"] = draws["friction"]
    if "restitution" in draws:
        opts["restitution"] = draws["restitution"]
    if r.motion is not None:
        opts["motion"] = ",".join(r.motion)
        draws["motion"] = opts["motion"]
    opts["formats"] = tuple(dict.fromkeys(REQUIRED_FORMATS + tuple(opts.get("formats") or ())))
    opts["seed"], opts["name"] = seed, name
    return BuildOptions(**opts), draws, draws.get("joint_damping"), (size if item.kind == "procedural" else None)


def plan_scenario(spec: ScenarioSpec, out: str | Path) -> Plan:
    """Every build of ``spec`` for output folder ``out`` (supports first, then sources in
    order); procedural sources point at ``OUT/sources/<name>/model.urdf``, which
    :func:`materialize` writes. Raises :class:`SpecError` as :func:`expand_items` does."""
    out = Path(out).resolve()
    rows = []  # (role, entry index, entry, item index, item, variant)
    for role, code, entries, key in (("support", ROLE_SUPPORT, spec.scene.supports, ("scene", "supports")),
                                     ("object", ROLE_OBJECT, spec.sources, ("sources",))):
        for e, entry in enumerate(entries):
            for i, item in enumerate(expand_items(spec, entry, key + (e,))):
                for v in range(entry.variants):
                    rows.append((role, code, e, entry, i, item, v))
    wanted = [_base_name(item) + (f"_v{v}" if entry.variants > 1 else "") for _, _, _, entry, _, item, v in rows]
    names, notes = unique_names([safe_asset_name(w) for w in wanted], [row[5].label for row in rows])
    assets = []
    for (role, code, e, entry, i, item, v), name in zip(rows, names):
        seed = derive_seed(spec.seed, code, e, i, v)
        rng = np.random.default_rng(np.random.SeedSequence([spec.seed, code, e, i, v, 1]))
        support_size = entry.size if isinstance(entry, SupportSpec) else None
        opts, draws, damping, proc_size = _options(spec, entry, item, rng, seed, name, support_size)
        procedural = None
        if item.kind == "procedural":
            procedural = (item.value[0], int(item.value[1]), proc_size)
            source: Source = UrdfFile(out / SOURCES_DIR / name / "model.urdf")
        elif item.kind == "files":
            source = MeshFile(item.value)
        elif item.kind == "urdfs":
            source = UrdfFile(item.value)
        elif item.kind == "samples":
            source = Sample(item.value)
        else:
            source = Generated(item.value[0], int(item.value[1]))
        assets.append(PlannedAsset(
            name=name, role=role, entry=e, item=i, variant=v, seed=seed, category=item.category, label=item.label,
            job=AssetJob(source, opts, damping, entry.keep_failed), draws=draws, instances=entry.instances,
            joint_positions=entry.randomize.joint_positions, support=entry if role == "support" else None,
            procedural=procedural))
    return Plan(spec, out, tuple(assets), tuple(n for ns in notes for n in ns))


def materialize(plan: Plan) -> list[str]:
    """Write the procedural sources of ``plan`` (unchanged folders are kept) and remove
    temporaries an interrupted run left in ``OUT/sources``; returns what was removed."""
    from n4d4d.scenarios.procedural import write_procedural_urdf

    folder = plan.out / SOURCES_DIR
    removed = []
    if folder.is_dir():
        for p in sorted(folder.glob(".*")):
            if ".tmp." in p.name or ".old." in p.name:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(str(p.relative_to(plan.out)))
    for a in plan.assets:
        if a.procedural is not None:
            family, seed, size = a.procedural
            write_procedural_urdf(Path(a.job.source.path).parent, family, seed, size)
    return removed
