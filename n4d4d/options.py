"""Build options: one pydantic model shared by the CLI (``n4d4d build``) and the API
(``n4d4d.build(path, **options)``), so both validate and default the same way.

Defaults are documented here once; the README's table is generated from the same numbers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Longest side (m) an asset is scaled to when neither a size nor a unit is given: a
#: household / tabletop object that a robot hand can grasp (YCB objects span 0.05-0.3 m).
DEFAULT_LONGEST_SIDE = 0.25

#: Motion families the animate stage knows (``--motion``), see :mod:`n4d4d.deformation`.
MOTION_FAMILIES = ("articulate", "drop", "gait", "idle", "soft", "imported")


class BuildOptions(BaseModel):
    """Options of one asset build. All lengths in metres, masses in kg, times in seconds.

    Size (at most one of ``height``, ``longest_side``, ``unit``): ``height`` scales so the
    Z extent is that many metres; ``longest_side`` scales the largest bounding-box side;
    ``unit`` reads file coordinates in that unit. With none, the asset is scaled to
    :data:`DEFAULT_LONGEST_SIDE` and the report says so.

    Raises:
        pydantic.ValidationError: out-of-range or conflicting values.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="asset name; default: the source's name (file stem, "
                             "URDF folder for mobility.urdf, sample name)")
    height: float | None = Field(None, gt=0, description="target height along Z (m)")
    longest_side: float | None = Field(None, gt=0, description="target longest bounding-box side (m)")
    unit: Literal["mm", "cm", "m", "in"] | None = Field(None, description="length unit of the file")
    up: Literal["auto", "y", "z"] = Field(
        "auto", description="up axis of the file: auto reads glTF y up (its spec), a sample as its URDF says, "
        "OBJ/STL/PLY/OFF the way that stands as authored (z unless only the y reading stands; the load "
        "stage's record says why), and a URDF z up (its spec) unless only its y reading stands on its limbs")
    base: Literal["auto", "fixed", "free"] = Field(
        "auto", description="a URDF's root link: fixed bolts it to the world (an arm on a table), free lets it "
        "move; auto fixes a root that declares mass 0 (PyBullet's static base) or a 'world' root holding "
        "the robot by fixed joints (the asset's notes say why)")
    solidify: float | None = Field(None, gt=0, description="wall thickness (m) given to an open sheet "
                                   "(zero-thickness input), offset symmetrically about it; default: a flat "
                                   "or open sheet is refused")
    resolution: int = Field(256, ge=16, le=1024, description="sparse SDF grid cells along the longest side")
    max_faces: int = Field(20_000, ge=100, description="face budget of the visual mesh")
    remesh: Literal["auto", "always", "never"] = Field(
        "auto", description="auto keeps input that is already watertight and manifold")
    density: float | None = Field(None, gt=0, description="kg/m^3 (default 500, see Material)")
    mass: float | None = Field(None, gt=0, description="total mass in kg (overrides density)")
    static_friction: float = Field(0.8, ge=0, description="Coulomb static friction coefficient (>= dynamic)")
    dynamic_friction: float = Field(0.6, ge=0, description="Coulomb dynamic friction coefficient")
    restitution: float = Field(0.1, ge=0, le=1, description="coefficient of restitution in [0, 1]")
    rest_pose: Literal["auto", "keep"] = Field(
        "auto", description="auto turns an asset whose authored pose topples into its nearest stable resting pose")
    rig: Literal["auto", "articulated", "skeletal", "rigid", "from-file"] = Field(
        "auto", description="structure to infer; from-file keeps the skeleton, inverse bind matrices and skin "
        "weights of a skinned glTF (auto does so when the input has a skin)")
    joints: Literal["from-file", "infer"] = Field("from-file", description="use joints an input URDF gives")
    merge_fixed: bool = Field(False, description="merge links joined by fixed joints of an input URDF into "
                              "their parent (default: every link is kept, fixed ones too)")
    collision: Literal["auto", "from-file", "recompute"] = Field(
        "auto", description="collision geometry: auto uses a URDF's own collision primitives and convex meshes "
        "as given and decomposes only non-convex ones; from-file uses them all as given; recompute decomposes "
        "the visual instead")
    shell_thickness: float | None = Field(
        None, ge=0, description="wall thickness (m) used for the mass of hollow parts (a cabinet's panels, a "
        "bottle's wall); 0 forces solid mass; default: shell or solid decided per part from the geometry")
    part_clearance: float = Field(5e-4, ge=0, description="gap (m) left between neighbouring part solids "
                                  "when they are made disjoint")
    topology: Literal["tri", "quad"] = Field("tri", description="visual mesh topology: tri, or quad "
                                             "(quad-dominant retopology, written as quads where the format "
                                             "carries them; collision and physics keep triangles)")
    max_hulls: int = Field(32, ge=1, le=256, description="convex hulls per part (Isaac Lab / PhysX GPU limit)")
    max_hulls_fallback: int = Field(64, ge=0, le=256, description="a part whose --max-hulls hulls miss the "
                                    "collision-fidelity bounds is decomposed again with up to this many, kept when "
                                    "they meet them (noted in the report); 0: never")
    max_hull_vertices: int = Field(64, ge=8, le=255, description="vertices per hull (PhysX GPU limit 64)")
    rigging_time_budget: float = Field(120.0, gt=0, description="CPU seconds of joint inference (joints not "
                                       "inferred by then stay fixed, with a note)")
    decomposition_time_budget: float = Field(60.0, gt=0, description="CPU seconds of convex decomposition "
                                             "search per part (CoACD's child process counted; a part whose search "
                                             "runs out gets a cheaper fallback, its fidelity measured and noted; "
                                             "10x this in wall seconds is taken as a hang)")
    simulation_time_budget: float = Field(60.0, gt=0, description="CPU seconds for the physics checks (engine "
                                          "loading and kernel compilation not counted; 10x this in wall seconds is "
                                          "taken as a hang)")
    memory_budget_gb: float = Field(8.0, gt=0, description="peak memory allowed for the sparse volume")
    seed: int = Field(0, ge=0, description="seed of every random choice; written into the outputs")
    formats: tuple[str, ...] = Field(("usda",), description="files to write: usda usdc urdf mjcf glb 3mf")
    motion: str = Field("auto", description="motion clips to make: auto, none, or a comma list of "
                        "articulate drop gait idle soft imported (the input's own glTF animations)")
    fps: float = Field(30.0, gt=0, le=240, description="frames per second of motion clips")
    seconds: float = Field(4.0, gt=0, le=60, description="length of each motion clip (s)")
    skinning: Literal["lbs", "dqs"] = Field("lbs", description="skinning of skeletal clips: linear blend or dual quaternion")
    deformable: bool = Field(False, description="treat the asset as an elastic body (soft motion)")
    youngs_modulus: float = Field(1.0e5, gt=0, description="Young's modulus of a deformable asset (Pa)")
    poisson_ratio: float = Field(0.3, gt=0, lt=0.5, description="Poisson ratio of a deformable asset")
    report: bool = Field(True, description="write report.html with renders and plots beside report.json")

    @field_validator("up", mode="before")
    @classmethod
    def _up_default(cls, value):
        """None (the API's old default) means ``auto``; case is ignored."""
        return "auto" if value is None else str(value).lower()

    @field_validator("formats", mode="before")
    @classmethod
    def _known_formats(cls, value):
        """A comma string or a sequence of names from :data:`n4d4d.exporters.FORMATS`,
        normalised (lower case, no dot, duplicates dropped); an unknown name is an error here,
        before any stage runs."""
        from n4d4d.exporters import FORMATS

        items = value.split(",") if isinstance(value, str) else list(value)
        names = list(dict.fromkeys(str(f).strip().lower().lstrip(".") for f in items if str(f).strip()))
        unknown = [f for f in names if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}")
        if not names:
            raise ValueError(f"give at least one format of {', '.join(FORMATS)}")
        return tuple(names)

    @field_validator("motion")
    @classmethod
    def _known_motion(cls, value: str) -> str:
        """``auto``, ``none`` or a comma list of :data:`MOTION_FAMILIES`, normalised."""
        names = [m.strip().lower() for m in value.split(",") if m.strip()]
        if names in (["auto"], ["none"]):
            return names[0]
        unknown = [m for m in names if m not in MOTION_FAMILIES]
        if unknown or not names:
            raise ValueError(f"unknown motion famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown) or '(none given)'}; "
                             f"give auto, none or a comma list of {', '.join(MOTION_FAMILIES)}")
        return ",".join(dict.fromkeys(names))

    @model_validator(mode="after")
    def _one_size(self):
        given = [k for k in ("height", "longest_side", "unit") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of height, longest_side, unit (got {', '.join(given)})")
        if self.static_friction < self.dynamic_friction:
            raise ValueError("static_friction must be >= dynamic_friction")
        return self
