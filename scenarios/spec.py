"""Scenario specs: a YAML file validated with pydantic, every error naming its field and line.

A spec says what to build and how to lay it out::

    name: tabletop                 # the scene's name ([A-Za-z0-9_] safe)
    seed: 7                        # every random choice of the run derives from it
    build: {resolution: 96}        # BuildOptions shared by every asset (not name, not seed)
    keep_failed: false             # place assets that fail the certificate (marked FAILED)
    limits: {time_s: 1800, memory_gb: 12}  # per asset, in its worker
    sources:                       # each entry: exactly one of files, samples, urdfs,
      - samples: ["random_urdfs/00*"]  #   procedural, generate
        variants: 1                # randomised builds of each item
        instances: 1               # placements of each build per environment
        randomize:                 # a number, or [low, high] drawn uniformly per build
          size: [0.06, 0.12]       # longest side (m); not for URDF sources
          density: [300, 900]      # kg/m^3 (or mass: kg, not both)
          friction: [0.4, 0.9]     # Coulomb coefficient (static = dynamic)
          restitution: [0.0, 0.3]
          joint_damping: [0.5, 2]  # drive damping, SI (N m s/rad or N s/m)
          joint_positions: [0, 0.5]  # initial joint coordinate (fraction of its range), per placement
          motion: [drop]           # motion families to make (BuildOptions.motion)
    scene:
      ground: {friction: 0.8, restitution: 0.0}
      supports: [{procedural: {family: table}, size: 0.9}]
      placement: {mode: random, region: [[-0.3, -0.2], [0.3, 0.2]]}
      settle: {max_seconds: 4}
      envs: 4                      # environments, cloned under /World/envs as Isaac Lab does
      env_spacing: 2.5             # m between environment origins

Paths (``files``, ``urdfs``) are relative to the spec's folder and may be globs; ``samples``
are pybullet_data sample names (:mod:`n4d4d.io.samples`), globs allowed (``random_urdfs/01*``);
``urdfs`` entries are URDF files or folders holding one (``mobility.urdf`` as
PartNet-Mobility ships them); ``procedural`` is a family of
:mod:`n4d4d.generator.procedural` with ``count`` seeds; ``generate`` is the SSA generator
(:class:`n4d4d.sources.Generated`: its jobs fail with a clear error until it can sample).

:func:`load_spec` parses, validates and checks that every path and sample exists before any
work starts; a problem raises :class:`SpecError` naming the file, the line and the field
(``tabletop.yaml:12: sources[0].randomize.size: ...``). This module validates only;
:mod:`n4d4d.scenarios.plan` expands a spec into jobs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from n4d4d.errors import InputError
from n4d4d.options import MOTION_FAMILIES, BuildOptions

#: Bounds of each randomised quantity: (low, high, low inclusive, unit) - what a real object has.
RANGE_BOUNDS = {
    "size": (0.0, 50.0, False, "m"),            # longest side; 50 m is a building, beyond any asset here
    "density": (0.0, 25_000.0, False, "kg/m^3"),  # osmium ~22,600 kg/m^3 is the densest element
    "mass": (0.0, 10_000.0, False, "kg"),
    "friction": (0.0, 5.0, True, ""),          # Coulomb coefficients above ~2 are adhesive rubber
    "restitution": (0.0, 1.0, True, ""),
    "joint_damping": (0.0, 1.0e6, True, "SI"),
    "joint_positions": (0.0, 1.0, True, "fraction of the joint range"),
}


class SpecError(InputError):
    """A scenario spec is invalid. ``line`` is the 1-based line of the offending field (or
    None), ``field`` its dotted path (``sources[0].randomize.size``)."""

    def __init__(self, message: str, path: str | Path | None = None, *, line: int | None = None,
                 field: str = ""):
        self.line, self.field = line, field
        where = f"{path}:{line}" if path is not None and line is not None else path
        super().__init__(f"{field}: {message}" if field else message, where)


def _strict() -> ConfigDict:
    return ConfigDict(extra="forbid", frozen=True)


class Randomize(BaseModel):
    """Per-build randomisation of one source; each field a number or ``[low, high]`` (uniform),
    units and bounds in :data:`RANGE_BOUNDS`; None keeps the build options' value."""

    model_config = _strict()

    size: Optional[tuple[float, float]] = Field(None, description="longest side (m)")
    density: Optional[tuple[float, float]] = Field(None, description="kg/m^3")
    mass: Optional[tuple[float, float]] = Field(None, description="total mass (kg)")
    friction: Optional[tuple[float, float]] = Field(None, description="Coulomb friction (static = dynamic)")
    restitution: Optional[tuple[float, float]] = Field(None, description="coefficient of restitution")
    joint_damping: Optional[tuple[float, float]] = Field(None, description="drive damping, SI per rad or m")
    joint_positions: Optional[tuple[float, float]] = Field(
        None, description="initial joint coordinate as a fraction of [lower, upper] (continuous: of [-pi, pi])")
    motion: Optional[tuple[str, ...]] = Field(None, description=f"motion families: {', '.join(MOTION_FAMILIES)}")

    @field_validator(*RANGE_BOUNDS, mode="before")
    @classmethod
    def _pair(cls, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (value, value)
        return value

    @field_validator(*RANGE_BOUNDS)
    @classmethod
    def _bounded(cls, value, info):
        if value is None:
            return value
        lo, hi = value
        b_lo, b_hi, inclusive, unit = RANGE_BOUNDS[info.field_name]
        unit = f" {unit}" if unit else ""
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("bounds must be finite numbers")
        if lo > hi:
            raise ValueError(f"bad range: low {lo:g} is above high {hi:g}")
        if lo < b_lo or (lo == b_lo and not inclusive) or hi > b_hi:
            op = ">=" if inclusive else ">"
            raise ValueError(f"bad range [{lo:g}, {hi:g}]: values must be {op} {b_lo:g} and <= {b_hi:g}{unit}")
        return (float(lo), float(hi))

    @field_validator("motion", mode="before")
    @classmethod
    def _families(cls, value):
        if value is None:
            return value
        names = [value] if isinstance(value, str) else list(value)
        unknown = [n for n in names if n not in MOTION_FAMILIES + ("auto", "none")]
        if unknown or not names:
            raise ValueError(f"unknown motion famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(map(str, unknown))}; "
                             f"known: {', '.join(MOTION_FAMILIES)}, or auto / none")
        return tuple(names)

    @model_validator(mode="after")
    def _one_of_density_mass(self):
        if self.density is not None and self.mass is not None:
            raise ValueError("give density or mass, not both")
        return self


class Procedural(BaseModel):
    """``count`` shapes of a procedural family, seeds ``first_seed`` .. ``first_seed + count - 1``."""

    model_config = _strict()
    family: str
    count: int = Field(1, ge=1, le=100_000)
    first_seed: int = Field(0, ge=0)

    @field_validator("family")
    @classmethod
    def _known(cls, value):
        from n4d4d.generator.procedural import families

        if value not in families():
            raise ValueError(f"unknown procedural family {value!r}; known: {', '.join(families())}")
        return value


class Generate(BaseModel):
    """``count`` shapes of ``category`` from the SSA generator, seeds from ``first_seed``."""

    model_config = _strict()
    category: str = Field(min_length=1)
    count: int = Field(1, ge=1, le=100_000)
    first_seed: int = Field(0, ge=0)


#: The keys of a source entry that say where its geometry comes from (exactly one per entry).
SOURCE_KINDS = ("files", "samples", "urdfs", "procedural", "generate")


class SourceSpec(BaseModel):
    """One entry of ``sources`` (or of ``scene.supports``): exactly one of :data:`SOURCE_KINDS`."""

    model_config = _strict()
    files: Optional[tuple[str, ...]] = Field(None, min_length=1, description="mesh files or globs")
    samples: Optional[tuple[str, ...]] = Field(None, min_length=1, description="pybullet_data samples or globs")
    urdfs: Optional[tuple[str, ...]] = Field(None, min_length=1, description="URDF files or folders, globs")
    procedural: Optional[Procedural] = None
    generate: Optional[Generate] = None
    category: Optional[str] = Field(None, description="manifest category (default: from the source)")
    variants: int = Field(1, ge=1, le=10_000, description="randomised builds of each item")
    instances: int = Field(1, ge=1, le=1_000, description="placements of each build in each environment")
    randomize: Randomize = Randomize()
    build: Optional[BuildOptions] = Field(None, description="build options of this entry (over the spec's)")
    keep_failed: Optional[bool] = Field(None, description="export and place this entry's assets even when they "
                                        "fail their physics checks (default: the spec's keep_failed)")

    @field_validator("build", mode="before")
    @classmethod
    def _no_identity(cls, value):
        return _check_build(value)

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k in SOURCE_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(SOURCE_KINDS)} (got {', '.join(given) or 'none'})")
        if self.urdfs is not None and self.randomize.size is not None:
            raise ValueError("randomize.size does not apply to URDF sources (URDF lengths are metres)")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in SOURCE_KINDS if getattr(self, k) is not None)


class SupportSpec(SourceSpec):
    """One entry of ``scene.supports``: a source (one item) built like any asset, set on the
    ground at ``position`` and ``yaw``; objects are placed on the first support's top."""

    size: Optional[float] = Field(None, gt=0, le=50, description="longest side (m)")
    position: tuple[float, float] = Field((0.0, 0.0), description="centre on the ground (m)")
    yaw: float = Field(0.0, ge=-2 * math.pi, le=2 * math.pi, description="rotation about Z (rad)")

    @model_validator(mode="after")
    def _single(self):
        if self.variants != 1 or self.instances != 1:
            raise ValueError("a support is one build placed once: variants and instances must be 1")
        if self.procedural is not None and self.procedural.count != 1:
            raise ValueError("a support is one shape: procedural.count must be 1")
        return self


def _check_build(value):
    if isinstance(value, dict):
        for key, why in (("name", "asset names come from the sources"), ("seed", "seeds derive from the spec's seed")):
            if key in value:
                raise ValueError(f"build.{key} cannot be set in a spec: {why}")
    return value


class Ground(BaseModel):
    model_config = _strict()
    friction: float = Field(0.8, ge=0, le=5)
    restitution: float = Field(0.0, ge=0, le=1)


class Placement(BaseModel):
    """How objects are laid out before settling (Kubric's protocol: sample, reject overlaps,
    then simulate until at rest)."""

    model_config = _strict()
    mode: Literal["random", "grid", "stacked"] = "random"
    region: Optional[tuple[tuple[float, float], tuple[float, float]]] = Field(
        None, description="[[x0, y0], [x1, y1]] in the environment frame (m); default: the first "
                          "support's top, else a 1 m square around the origin")
    spacing: float = Field(0.02, ge=0, le=10, description="grid: gap between neighbours (m)")
    drop_height: float = Field(0.005, ge=0, le=1, description="clearance above the surface at spawn (m)")
    max_tries: int = Field(200, ge=1, le=100_000, description="random: poses tried per object")
    random_yaw: bool = Field(True, description="random: draw a yaw in [0, 2 pi)")

    @field_validator("region")
    @classmethod
    def _ordered(cls, value):
        if value is not None and not (value[0][0] < value[1][0] and value[0][1] < value[1][1]):
            raise ValueError(f"bad range: region corners {list(value[0])} and {list(value[1])} must be "
                             "[x0, y0] < [x1, y1] in both coordinates")
        return value


class Settle(BaseModel):
    """The settling simulation (PyBullet) and the bounds a settled scene is held to."""

    model_config = _strict()
    max_seconds: float = Field(5.0, gt=0, le=120, description="simulated seconds at most")
    timestep: float = Field(1 / 240, gt=0, le=0.01, description="s")
    rest_speed: float = Field(0.005, gt=0, description="m/s under which a body is at rest")
    rest_angular_speed: float = Field(0.05, gt=0, description="rad/s under which a body is at rest")
    rest_seconds: float = Field(0.25, gt=0, description="s every body must stay at rest to stop")
    max_gap: float = Field(0.002, gt=0, description="m an object may float above its support")
    max_penetration: float = Field(0.003, gt=0, description="m two bodies may interpenetrate")


class Scene(BaseModel):
    model_config = _strict()
    ground: Ground = Ground()
    supports: tuple[SupportSpec, ...] = ()
    placement: Placement = Placement()
    settle: Settle = Settle()
    envs: int = Field(1, ge=1, le=4096, description="environments (Isaac Lab clones)")
    env_spacing: float = Field(2.0, gt=0, le=1000, description="m between environment origins")


class Limits(BaseModel):
    """Per-asset limits of a worker (:func:`n4d4d.scenarios.batch.build_batch`)."""

    model_config = _strict()
    time_s: float = Field(1800.0, gt=0)
    memory_gb: Optional[float] = Field(None, gt=0)


class ScenarioSpec(BaseModel):
    """A validated spec; :attr:`path` is the file it came from (paths resolve beside it)."""

    model_config = _strict()
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)
    seed: int = Field(0, ge=0, lt=2**32)
    build: BuildOptions = BuildOptions()
    sources: tuple[SourceSpec, ...] = Field(min_length=1)
    scene: Scene = Scene()
    limits: Limits = Limits()
    keep_failed: bool = Field(False, description="export and place assets that fail their physics checks (marked)")
    _path: Path | None = PrivateAttr(None)
    _lines: dict = PrivateAttr(default_factory=dict)

    @field_validator("build", mode="before")
    @classmethod
    def _no_identity(cls, value):
        return _check_build(value)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def folder(self) -> Path:
        """Where relative paths resolve: the spec's folder (the working folder for a spec from text)."""
        return self._path.parent if self._path is not None else Path.cwd()

    def error(self, loc: tuple, message: str) -> SpecError:
        """A :class:`SpecError` for the field at ``loc`` (keys and indices), with its line."""
        return SpecError(message, self._path, line=line_of(self._lines, loc), field=dotted(loc))


def dotted(loc: tuple) -> str:
    """``("sources", 0, "randomize", "size")`` -> ``sources[0].randomize.size``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def yaml_lines(text: str) -> dict[tuple, int]:
    """1-based line of every key and item of a YAML document, by path of keys and indices."""
    import yaml

    lines: dict[tuple, int] = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = path + (key.value,)
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[path + (i,)] = item.start_mark.line + 1
                walk(item, path + (i,))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        lines[()] = root.start_mark.line + 1
        walk(root, ())
    return lines


def line_of(lines: dict[tuple, int], loc: tuple) -> int | None:
    """The line of ``loc``, or of its nearest ancestor the YAML has (pydantic adds tags such as
    ``function-after[...]`` that are no YAML key)."""
    loc = tuple(p for p in loc if isinstance(p, int) or not str(p).startswith(("function-", "tuple[", "union[")))
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def parse_spec(text: str, path: str | Path | None = None) -> ScenarioSpec:
    """Validate YAML ``text`` (from ``path``, used in messages and to resolve relative paths).

    Raises:
        SpecError: YAML syntax, a wrong type, an unknown field, a bad range, a missing or
            conflicting key, naming the line and field; several problems are listed, the first
            one's line in the message's prefix.
    """
    import yaml

    try:
        data = yaml.safe_load(text)
        lines = yaml_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SpecError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}", path,
                        line=None if mark is None else mark.line + 1) from None
    if not isinstance(data, dict):
        raise SpecError("a spec is a YAML mapping (name:, seed:, sources:, scene:)", path, line=1)
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # a container that failed because its items did is reported through the items only
        errors = [e for e in errors if not (e["type"] == "too_short" and any(
            len(o["loc"]) > len(e["loc"]) and tuple(o["loc"][:len(e["loc"])]) == tuple(e["loc"]) for o in errors))] or errors
        first = errors[0]
        msgs = [f"{dotted(e['loc']) or 'spec'}: {_message(e)}"
                + (f" (line {line_of(lines, e['loc'])})" if len(errors) > 1 else "") for e in errors]
        err = SpecError("; ".join(msgs), path, line=line_of(lines, first["loc"]))
        err.field = dotted(first["loc"])
        raise err from None
    spec._path = None if path is None else Path(path).resolve()
    spec._lines = lines
    return spec


def _message(e: dict[str, Any]) -> str:
    if e["type"] == "extra_forbidden":
        return "unknown field"
    msg = e["msg"]
    return msg[len("Value error, "):] if msg.startswith("Value error, ") else msg


def load_spec(path: str | Path, check_inputs: bool = True) -> ScenarioSpec:
    """Read, validate and (``check_inputs``) check the inputs of the spec at ``path``.

    Raises:
        MissingFileError: ``path`` does not exist.
        SpecError: see :func:`parse_spec`; and with ``check_inputs``, a file glob, URDF
            entry or sample name that matches nothing (:func:`n4d4d.scenarios.plan.expand_items`).
    """
    from n4d4d.errors import MissingFileError

    p = Path(path)
    if not p.is_file():
        raise MissingFileError("no such spec file", p)
    spec = parse_spec(p.read_text(encoding="utf-8"), p)
    if check_inputs:
        from n4d4d.scenarios.plan import expand_items

        for where, entries in (("sources", spec.sources), (("scene", "supports"), spec.scene.supports)):
            prefix = (where,) if isinstance(where, str) else where
            for i, entry in enumerate(entries):
                expand_items(spec, entry, prefix + (i,))
    return spec
