"""What ``build()`` takes: a source of geometry, as a first-class record.

A :class:`Source` says where an asset's geometry comes from and what the asset is called
(:attr:`Source.name`, derived once here and reused by the pipeline, batch builds and
``--skip-existing``). Four kinds:

- :class:`MeshFile`: a mesh file (OBJ, GLB/glTF, STL, PLY, OFF), scaled by the build options.
- :class:`UrdfFile`: a URDF whose links become parts and whose joints are kept (metres).
- :class:`Sample`: a named pybullet_data sample (``duck``, ``random_urdfs/042``) at the size
  its URDF gives.
- :class:`Generated`: a shape sampled by the SSA generator (category, seed, a coarse blockout
  or a shape to vary), made by :func:`generated_mesh` with the shipped flow models
  (:mod:`n4d4d.generator.generate`) when the load stage runs.

:func:`as_source` turns what a user passes (a path string, a ``Path``, a Source, or
``sample=NAME``) into one of these. Loading itself is :mod:`n4d4d.io` (this module reads no
file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from n4d4d.errors import InputError


def safe_asset_name(text: str) -> str:
    """``text`` as an asset name: ``[A-Za-z0-9_]``, no leading digit, never empty.

    The same rule as :func:`n4d4d.kinematics.safe_name` for part names (characters outside the
    set become ``_``; a leading digit gets a ``_`` prefix), with leading/trailing ``_`` stripped
    so ``../x.obj``-style stems stay readable. Folder, default prim and link-name safe.
    """
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(text)).strip("_") or "asset"
    return ("_" + name) if name[0].isdigit() else name


class Source:
    """Base of every source; subclasses are frozen dataclasses.

    Attributes (all subclasses):
        name: the asset name this source gives without an explicit ``name`` option.
        label: how the source is written in provenance and error messages
            (a path, ``sample:NAME`` or ``generator:...``).
    """

    @property
    def name(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def label(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class MeshFile(Source):
    """A mesh file on disk; the asset is named after the file's stem.

    Attributes:
        path: the file (OBJ, GLB/glTF, STL, PLY, OFF).
    """

    path: Path

    @property
    def name(self) -> str:
        return safe_asset_name(Path(self.path).stem)

    @property
    def label(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class UrdfFile(Source):
    """A URDF file: links become parts, joints are kept (lengths in metres).

    The asset is named after the file's stem, or after its folder when the file has a generic
    name (``mobility.urdf`` as PartNet-Mobility names every object, ``model.urdf``,
    ``robot.urdf``), so ``partnet-mobility/40147/mobility.urdf`` builds ``_40147``.

    Attributes:
        path: the ``.urdf`` file.
    """

    path: Path

    @property
    def name(self) -> str:
        p = Path(self.path)
        generic = p.stem.lower() in GENERIC_URDF_STEMS
        return safe_asset_name(p.parent.name if generic and p.parent.name else p.stem)

    @property
    def label(self) -> str:
        return str(self.path)


#: URDF file stems that say nothing of the object: the asset takes its folder's name.
GENERIC_URDF_STEMS = ("mobility", "model", "robot")


@dataclass(frozen=True)
class Sample(Source):
    """A named pybullet_data sample (:mod:`n4d4d.io.samples`): ``duck``, ``teddy``, ``bunny``,
    ``mug``, ``random_urdfs/NNN``, built at the size its URDF gives.

    Attributes:
        sample: the sample name.
    """

    sample: str

    @property
    def name(self) -> str:
        return safe_asset_name(self.sample.replace("/", "_"))

    @property
    def label(self) -> str:
        return f"sample:{self.sample}"


@dataclass(frozen=True)
class Generated(Source):
    """A shape from the SSA generator (issue 15): sampled for ``category`` with ``seed``,
    optionally from a coarse blockout mesh (``coarse``) or as a variation of a given shape
    (``like``, noised to ``strength`` and sampled back).

    Attributes:
        category: a corpus category (``mug``, ``chair``, ...).
        seed: sampling seed (>= 0).
        coarse: path of a blockout mesh voxelised to the latent grid, or None.
        like: path of a shape to vary, or None.
        strength: noise level in (0, 1] for ``like``.
    """

    category: str
    seed: int = 0
    coarse: Path | None = None
    like: Path | None = None
    strength: float = 0.5

    def __post_init__(self):
        if int(self.seed) < 0:
            raise InputError(f"generator seed must be >= 0, got {self.seed}", self.label)
        if not 0.0 < float(self.strength) <= 1.0:
            raise InputError(f"generator strength must be in (0, 1], got {self.strength}", self.label)

    @property
    def name(self) -> str:
        return safe_asset_name(f"{self.category}_{self.seed:04d}")

    @property
    def label(self) -> str:
        extra = "".join(f",{k}={v}" for k, v in (("coarse", self.coarse), ("like", self.like)) if v)
        return f"generator:{self.category}/seed={self.seed}{extra}"


SourceLike = Union[Source, str, Path]

#: Suffixes read as mesh files (case-insensitive); anything else but ``.urdf`` is refused by
#: the loader with an "unknown format" error naming the file.
URDF_SUFFIX = ".urdf"


def as_source(source: SourceLike | None = None, *, sample: str | None = None) -> Source:
    """The :class:`Source` for what a user passed: exactly one of ``source`` or ``sample``.

    A ``str`` or ``Path`` ending in ``.urdf`` is a :class:`UrdfFile`, any other path a
    :class:`MeshFile` (its format is checked when it is loaded); a string ``sample:NAME`` is a
    :class:`Sample`. Raises :class:`~n4d4d.errors.InputError` when both or neither are given or
    the value is of another type.
    """
    if (source is None) == (sample is None):
        raise InputError("give exactly one of a source (a path or n4d4d.sources.Source) or a sample name")
    if sample is not None:
        return Sample(str(sample))
    if isinstance(source, Source):
        return source
    if isinstance(source, (str, Path)):
        text = str(source)
        if text.startswith("sample:"):
            return Sample(text[len("sample:"):])
        path = Path(source)
        return UrdfFile(path) if path.suffix.lower() == URDF_SUFFIX else MeshFile(path)
    raise InputError(f"cannot build from a {type(source).__name__}: give a path or an n4d4d.sources.Source")


def generated_mesh(source: Generated):
    """``(mesh, sha256 hex, figures)`` of a :class:`Generated` source: the shape the shipped SSA
    generator samples for it (:func:`n4d4d.generator.generate.generate`, CPU, bit for bit the
    same for the same source), a closed :class:`~n4d4d.asset.Mesh` in metres at the category's
    size (or the blockout's / varied shape's size), Z up, resting on ``z = 0``.

    The digest is of the mesh's vertex and face bytes (the provenance's ``source_sha256``);
    ``figures`` has the resolved category, the number of latent cells, the sampling seconds and
    the surface post-process's figures (``solid``: ``solids`` is 1 unless the decode was
    fragmented, :func:`n4d4d.generator.solid.solid_field`).

    Raises:
        InputError: unknown category (the message lists the known ones), a blockout or shape to
            vary that cannot be read; CheckpointError: no shipped generator checkpoint.
    """
    import hashlib

    import numpy as np

    from n4d4d.generator.generate import generate
    from n4d4d.io.scale import ground_offset

    sample = generate(source.category, int(source.seed), 1, coarse=source.coarse, like=source.like,
                      strength=float(source.strength))[0]  # on one thread (FlowGenerator.sample)
    mesh = sample.mesh.replace(vertices=sample.mesh.vertices + ground_offset(sample.mesh.vertices))
    digest = hashlib.sha256(np.ascontiguousarray(mesh.vertices, np.float64).tobytes()
                            + np.ascontiguousarray(mesh.faces, np.int64).tobytes()).hexdigest()
    figures = {"category": sample.category, "seed": sample.seed, "latent_cells": int(len(sample.cells)),
               "sampling_s": {k: round(v, 3) for k, v in sample.seconds.items()}, "solid": dict(sample.solid)}
    return mesh, digest, figures
