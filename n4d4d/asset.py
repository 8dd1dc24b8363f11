"""The record that flows through n4d4d: :class:`Asset` and the frozen records it holds.

Each stage is a function ``Asset -> Asset`` that fills some optional fields with
``dataclasses.replace``; it checks at its boundary that what it needs is there
(:meth:`Asset.require`) and raises :class:`~n4d4d.errors.StageInputError` otherwise.
No stage reaches back into an earlier one. All arrays follow :mod:`n4d4d.conventions`
(SI units, Z up, quaternions ``(w, x, y, z)``).

This module defines data only: loading lives in :mod:`n4d4d.io`, writing in
:mod:`n4d4d.exporters` (reached through :meth:`Asset.save`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

import numpy as np

from n4d4d.errors import StageInputError

if TYPE_CHECKING:  # pragma: no cover
    import trimesh

    from n4d4d.volume import SparseSDF

JointType = Literal["fixed", "revolute", "continuous", "prismatic"]


def _frozen_array(a, dtype) -> np.ndarray:
    """A read-only C-contiguous array of ``a``; a copy unless ``a`` is already read-only, so
    the caller's own array never becomes read-only behind its back."""
    if isinstance(a, np.ndarray) and not a.flags.writeable and a.dtype == dtype and a.flags.c_contiguous:
        return a
    arr = np.array(a, dtype=dtype, order="C", copy=True)
    arr.setflags(write=False)
    return arr


#: Analytic collider shapes (:class:`CollisionPrimitive`); every format n4d4d writes carries
#: them (UsdGeom Cube / Sphere / Cylinder / Capsule, URDF ``<box>`` / ``<sphere>`` /
#: ``<cylinder>`` / ``<capsule>``, MJCF geom types).
PRIMITIVE_KINDS = ("box", "sphere", "cylinder", "capsule")


@dataclass(frozen=True)
class CollisionPrimitive:
    """An analytic collider (a URDF ``<collision>`` box, cylinder, sphere or capsule), kept as
    the shape it is so that exporters write it as that shape, not as a mesh.

    It rides on the triangulated hull that stands for it (:attr:`Mesh.primitive`): stages that
    only know hulls (fidelity, union volumes, PyBullet) use the triangles; exporters write the
    shape.

    Attributes:
        kind: one of :data:`PRIMITIVE_KINDS`.
        size: box ``(x, y, z)`` full extents; sphere ``(radius,)``; cylinder and capsule
            ``(radius, length)`` with the axis along the frame's local Z (a capsule's
            ``length`` is its cylinder's, between the cap centres, as in URDF). Metres.
        transform: ``(4, 4) float64`` pose of the shape's frame (centre, axes) in the asset frame.
    """

    kind: str
    size: tuple[float, ...]
    transform: np.ndarray

    def __post_init__(self):
        if self.kind not in PRIMITIVE_KINDS:
            raise ValueError(f"CollisionPrimitive.kind must be one of {PRIMITIVE_KINDS}, got {self.kind!r}")
        size = tuple(float(x) for x in self.size)
        want = {"box": 3, "sphere": 1, "cylinder": 2, "capsule": 2}[self.kind]
        if len(size) != want or not all(np.isfinite(x) and x > 0 for x in size):
            raise ValueError(f"a {self.kind} needs {want} positive finite size value(s), got {size}")
        object.__setattr__(self, "size", size)
        T = _frozen_array(self.transform, np.float64)
        if T.shape != (4, 4):
            raise ValueError(f"CollisionPrimitive.transform must have shape (4, 4), got {T.shape}")
        object.__setattr__(self, "transform", T)

    @property
    def volume(self) -> float:
        """Closed-form volume (m^3)."""
        if self.kind == "box":
            return float(np.prod(self.size))
        r = self.size[0]
        if self.kind == "sphere":
            return 4.0 / 3.0 * np.pi * r**3
        h = self.size[1]
        return np.pi * r**2 * h + (4.0 / 3.0 * np.pi * r**3 if self.kind == "capsule" else 0.0)

    def translated(self, offset) -> "CollisionPrimitive":
        """The same shape moved by ``offset`` ``(3,)`` (m, asset frame)."""
        T = np.array(self.transform)
        T[:3, 3] += np.asarray(offset, dtype=np.float64)
        return CollisionPrimitive(self.kind, self.size, T)

    def transformed(self, rotation, offset) -> "CollisionPrimitive":
        """The same shape moved rigidly: ``x -> R x + t`` for ``rotation`` ``R (3, 3)`` (proper
        orthonormal) and ``offset`` ``t (3,)`` (m, asset frame)."""
        M = np.eye(4)
        M[:3, :3], M[:3, 3] = np.asarray(rotation, dtype=np.float64), np.asarray(offset, dtype=np.float64)
        return CollisionPrimitive(self.kind, self.size, M @ np.asarray(self.transform))


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangle mesh in the asset frame.

    Attributes:
        vertices: ``(V, 3) float64``, metres, Z up.
        faces: ``(F, 3) int64``, counter-clockwise seen from outside.
        normals: ``(V, 3) float64`` unit vertex normals, or None.
        uvs: ``(V, 2) float64`` texture coordinates (glTF convention, v down), or None.
        vertex_colors: ``(V, 4) uint8`` RGBA, or None.
        base_color: ``(4,) float64`` RGBA in [0, 1] of the material, or None.
        texture_png: base-colour texture as PNG bytes, or None.
        face_submesh: ``(F,) int32`` index into ``submesh_names`` of the source sub-mesh
            each face came from, or None.
        submesh_names: names of the source sub-meshes (scene geometry names).
        face_uvs: ``(F, 3, 2) float64`` texture coordinates per face corner (glTF convention,
            v down), or None; set when UVs have seams the vertices do not (a UV atlas of a
            closed mesh, :mod:`n4d4d.volume.texture`), and then used instead of ``uvs``.
        primitive: the analytic shape a collision hull stands for (:class:`CollisionPrimitive`,
            asset frame), or None; move it with the vertices through :meth:`translated`.
        quad_count: ``Q``, the number of quads (``--topology quad``): the first ``2 Q`` faces
            are ``Q`` quads ``(a, b, c, d)``, each split along its ``a-c`` diagonal into faces
            ``2 i = (a, b, c)`` and ``2 i + 1 = (a, c, d)``; the rest are triangles. Formats
            that carry polygons (USD) write the quads (:attr:`quads`), the others and every
            computation use the triangles. 0: a triangle mesh.

    Arrays are made read-only on construction so the record stays immutable.
    """

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray | None = None
    uvs: np.ndarray | None = None
    vertex_colors: np.ndarray | None = None
    base_color: np.ndarray | None = None
    texture_png: bytes | None = None
    face_submesh: np.ndarray | None = None
    submesh_names: tuple[str, ...] = ()
    face_uvs: np.ndarray | None = None
    primitive: CollisionPrimitive | None = None
    quad_count: int = 0

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "vertices", _frozen_array(self.vertices, np.float64).reshape(-1, 3))
        set_(self, "faces", _frozen_array(self.faces, np.int64).reshape(-1, 3))
        for name, dtype, width in (("normals", np.float64, 3), ("uvs", np.float64, 2),
                                   ("vertex_colors", np.uint8, 4)):
            value = getattr(self, name)
            if value is not None:
                value = _frozen_array(value, dtype)
                if value.shape != (len(self.vertices), width):
                    raise ValueError(f"Mesh.{name} must have shape (V, {width}), got {value.shape}")
                set_(self, name, value)
        if self.base_color is not None:
            set_(self, "base_color", _frozen_array(self.base_color, np.float64).reshape(4))
        if self.face_submesh is not None:
            fs = _frozen_array(self.face_submesh, np.int32)
            if fs.shape != (len(self.faces),):
                raise ValueError(f"Mesh.face_submesh must have shape (F,), got {fs.shape}")
            set_(self, "face_submesh", fs)
        set_(self, "submesh_names", tuple(self.submesh_names))
        if self.face_uvs is not None:
            fu = _frozen_array(self.face_uvs, np.float64)
            if fu.shape != (len(self.faces), 3, 2):
                raise ValueError(f"Mesh.face_uvs must have shape (F, 3, 2), got {fu.shape}")
            set_(self, "face_uvs", fu)
        q = int(self.quad_count)
        set_(self, "quad_count", q)
        if q:
            pairs = self.faces[:2 * max(q, 0)]
            if q < 0 or 2 * q > len(self.faces) or not (
                    np.array_equal(pairs[0::2, 0], pairs[1::2, 0]) and np.array_equal(pairs[0::2, 2], pairs[1::2, 1])):
                raise ValueError(f"Mesh.quad_count={q}: the first 2 x {q} faces must be quads split as "
                                 "(a, b, c), (a, c, d)")

    @property
    def quads(self) -> np.ndarray:
        """``(Q, 4) int64`` the quads ``(a, b, c, d)`` of the first ``2 Q`` faces (see
        :attr:`quad_count`; empty for a triangle mesh)."""
        f = self.faces[:2 * self.quad_count]
        return np.column_stack([f[0::2], f[1::2, 2]]) if self.quad_count else np.zeros((0, 4), np.int64)

    def quads_first(self, face_indices) -> tuple[np.ndarray, int]:
        """``face_indices`` ``(F',) int64`` reordered so that the quads whose two faces are both
        selected come first, in pairs, then the other faces in the given order, and how many
        such quads there are: ``mesh.replace(faces=mesh.faces[order], quad_count=q)`` is valid."""
        fi = np.asarray(face_indices, np.int64)
        if not self.quad_count:
            return fi, 0
        quad = np.where(fi < 2 * self.quad_count, fi // 2, -1)
        ids, counts = np.unique(quad[quad >= 0], return_counts=True)
        whole = ids[counts == 2]
        in_whole = np.isin(quad, whole)
        order = np.concatenate([np.column_stack([2 * whole, 2 * whole + 1]).ravel(), fi[~in_whole]])
        return order.astype(np.int64), int(len(whole))

    @property
    def bounds(self) -> np.ndarray:
        """Axis-aligned bounds ``(2, 3) float64``: min corner, max corner (m)."""
        return np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)])

    @property
    def diagonal(self) -> float:
        """Length of the bounding-box diagonal (m)."""
        b = self.bounds
        return float(np.linalg.norm(b[1] - b[0]))

    def to_trimesh(self, process: bool = False) -> "trimesh.Trimesh":
        """A ``trimesh.Trimesh`` copy (geometry only; ``process=False`` keeps vertex order)."""
        import trimesh

        return trimesh.Trimesh(np.array(self.vertices), np.array(self.faces), process=process)

    @classmethod
    def from_trimesh(cls, tm: "trimesh.Trimesh", **attributes) -> "Mesh":
        """Geometry of a ``trimesh.Trimesh`` as a :class:`Mesh`; extra fields by keyword."""
        return cls(vertices=np.asarray(tm.vertices), faces=np.asarray(tm.faces), **attributes)

    def replace(self, **changes) -> "Mesh":
        """``dataclasses.replace`` for meshes."""
        return dataclasses.replace(self, **changes)

    def translated(self, offset) -> "Mesh":
        """The mesh moved by ``offset`` ``(3,)`` (m, asset frame), its :attr:`primitive` too."""
        d = np.asarray(offset, dtype=np.float64)
        prim = None if self.primitive is None else self.primitive.translated(d)
        return dataclasses.replace(self, vertices=self.vertices + d, primitive=prim)

    def transformed(self, rotation, offset) -> "Mesh":
        """The mesh moved rigidly, ``x -> R x + t`` (``rotation`` ``R (3, 3)`` proper
        orthonormal, ``offset`` ``t (3,)`` m, asset frame): vertices, vertex normals and its
        :attr:`primitive`; faces, winding and every per-vertex or per-face attribute unchanged.

        Raises:
            ValueError: ``rotation`` is not a proper rotation (det 1, orthonormal, to 1e-6).
        """
        R = np.asarray(rotation, dtype=np.float64)
        if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise ValueError("Mesh.transformed needs a proper rotation matrix (3, 3)")
        t = np.asarray(offset, dtype=np.float64)
        prim = None if self.primitive is None else self.primitive.transformed(R, t)
        normals = None if self.normals is None else self.normals @ R.T
        return dataclasses.replace(self, vertices=self.vertices @ R.T + t, normals=normals, primitive=prim)


@dataclass(frozen=True)
class Part:
    """A rigid part of the asset.

    Attributes:
        name: unique part name (a link name in URDF / MJCF, a prim name in USD).
        mesh: the part's watertight surface, in the asset frame at the rest pose (m).
        face_indices: ``(F_part,) int64`` indices of this part's faces in ``Asset.visual``,
            or None when the part mesh is not a subset of the visual mesh.
    """

    name: str
    mesh: Mesh
    face_indices: np.ndarray | None = None


@dataclass(frozen=True)
class Joint:
    """A joint between two parts (URDF / UsdPhysics semantics).

    Attributes:
        name: unique joint name.
        type: ``"fixed" | "revolute" | "continuous" | "prismatic"``.
        parent: parent part name.
        child: child part name.
        origin: ``(3,) float64`` pivot point in the asset frame at rest pose (m).
        axis: ``(3,) float64`` unit axis in the asset frame (rotation axis for revolute /
            continuous, translation direction for prismatic).
        lower, upper: limits in rad (revolute) or m (prismatic); ignored for fixed and
            continuous joints (set to -inf, inf).
        effort: maximum force (N) or torque (N m) the joint drive may apply.
        velocity: maximum speed (rad/s or m/s).
    """

    name: str
    type: JointType
    parent: str
    child: str
    origin: np.ndarray
    axis: np.ndarray
    lower: float = -np.inf
    upper: float = np.inf
    effort: float = 100.0
    velocity: float = 10.0


@dataclass(frozen=True)
class Skeleton:
    """A skeleton for organic shapes (UsdSkel / glTF skin semantics).

    Attributes:
        joint_names: ``J`` unique names.
        parents: ``(J,) int64`` parent index per joint, -1 for the root.
        bind_positions: ``(J, 3) float64`` joint positions in the asset frame at bind pose (m).
        bind_transforms: ``(J, 4, 4) float64`` world-space bind transforms (the inverse of the
            inverse bind matrices), or None meaning pure translations to ``bind_positions``.
    """

    joint_names: tuple[str, ...]
    parents: np.ndarray
    bind_positions: np.ndarray
    bind_transforms: np.ndarray | None = None


@dataclass(frozen=True)
class MotionClip:
    """A time-sampled motion of the asset.

    Attributes:
        name: clip name.
        times: ``(T,) float64`` sample times (s), increasing.
        joint_positions: joint name -> ``(T,) float64`` joint coordinate (rad or m).
        root_poses: ``(T, 7) float64`` root position (m) and orientation (w, x, y, z), or None.
        vertices: ``(T, V, 3) float64`` per-frame visual vertices (m), or None.
        joint_rotations: skeleton joint name -> ``(T, 4) float64`` rotation (w, x, y, z) of
            the joint relative to its bind pose, applied in the joint's own frame (local
            transform at t = bind-pose local transform @ rotation); empty without a skeleton.
            Exported as UsdSkel.Animation / glTF skin animation.
        family: the motion family that made it (``"articulate"``, ``"drop"``, ``"gait"``,
            ``"idle"``, ``"soft"``, ``"imported"``), or ``""``; plausibility checks read it to
            know which frames should touch the ground (:mod:`n4d4d.deformation`).
        commanded_positions: joint name -> ``(T,) float64`` target the joint's drive was given
            (rad or m) in a driven clip; ``joint_positions`` holds what the simulation did, the
            difference is the tracking error. Empty for undriven motion.
    """

    name: str
    times: np.ndarray
    joint_positions: Mapping[str, np.ndarray] = field(default_factory=dict)
    root_poses: np.ndarray | None = None
    vertices: np.ndarray | None = None
    joint_rotations: Mapping[str, np.ndarray] = field(default_factory=dict)
    family: str = ""
    commanded_positions: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Drive:
    """The position servo of one movable joint, computed once in the sim-ready stage.

    Exporters write these numbers as they are (UsdPhysics DriveAPI, MJCF position actuators);
    the physics checks drive the joint with them, so the file that ships carries the servo
    the certificate tested.

    Attributes:
        joint: name of the :class:`Joint` it drives.
        kind: ``"angular"`` (revolute, continuous) or ``"linear"`` (prismatic).
        stiffness: proportional gain kp, SI: N m/rad (angular) or N/m (linear).
        damping: derivative gain kd, SI: N m s/rad (angular) or N s/m (linear).
        target: rest coordinate the servo holds (rad or m).
        max_force: effort limit (N m or N): ``Joint.effort``.
        frequency_hz: natural frequency the gains were tuned for (critically damped).
    """

    joint: str
    kind: Literal["angular", "linear"]
    stiffness: float
    damping: float
    target: float = 0.0
    max_force: float = 100.0
    frequency_hz: float = 10.0


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome, the schema every check in n4d4d reports with.

    Attributes:
        name: check name, e.g. ``"drop"``, ``"rest"``, ``"articulation"``, ``"clip:open"``.
        engine: ``"pybullet"``, ``"newton"``, or ``""`` for a geometric / engine-free check.
        part: the part (or joint, or clip) it concerns, or ``""`` for the whole asset.
        measured: key figures measured (JSON values, SI units; keys say the unit, e.g.
            ``max_penetration_m``).
        threshold: the bounds those figures are held to, same keys as ``measured`` where
            they correspond (reasons for each bound: :mod:`n4d4d.physics_validation.thresholds`).
        passed: the verdict.
        reasons: one sentence per violated bound (empty when passed).
        seconds: wall time the check took (s).
        details: anything else worth reporting (trajectories summaries, warnings), JSON values.
    """

    name: str
    engine: str = ""
    part: str = ""
    measured: Mapping[str, Any] = field(default_factory=dict)
    threshold: Mapping[str, Any] = field(default_factory=dict)
    passed: bool = True
    reasons: tuple[str, ...] = ()
    seconds: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MassProperties:
    """Rigid-body mass properties of one part, computed from its watertight mesh.

    Attributes:
        mass: kg.
        center_of_mass: ``(3,) float64`` in the asset frame (m).
        inertia: ``(3, 3) float64`` inertia tensor about the centre of mass, axes of the asset
            frame (kg m^2).
        principal_moments: ``(3,) float64`` eigenvalues of ``inertia``, ascending (kg m^2).
        principal_axes: ``(4,) float64`` quaternion (w, x, y, z) rotating the asset frame onto
            the principal axes (columns of the eigenvector matrix), as UsdPhysics.MassAPI wants.
        volume: m^3 of the mesh the properties came from.
        density: kg/m^3 used.
    """

    mass: float
    center_of_mass: np.ndarray
    inertia: np.ndarray
    principal_moments: np.ndarray
    principal_axes: np.ndarray
    volume: float
    density: float


@dataclass(frozen=True)
class FileInertials:
    """Mass properties an input file declares for its parts (a URDF's ``<inertial>`` s), which
    the mass stage uses instead of computing them from the geometry (its rule: its docstring).

    The values are the file's own, in the input's frame at load (a URDF's world frame at rest:
    metres, Z up, before the asset is set on the ground); the asset frame differs from it by the
    translation that moved the source mesh, ``source_mesh.bounds[0] - source_low``, which the
    mass stage applies (and refuses, falling back to computed mass, when the source mesh's
    extents no longer match ``source_extents``: it was rescaled or turned, so the file's values
    no longer describe the geometry).

    Attributes:
        parts: part name -> :class:`MassProperties` (kg; ``center_of_mass`` (m) and ``inertia``
            about it (kg m^2) in the input's frame; ``volume`` and ``density`` NaN: the file
            gives none).
        source_low: ``(3,) float64`` the source mesh's lower bounds corner in that frame (m).
        source_extents: ``(3,) float64`` the source mesh's extents (m).
        notes: which declared inertials were not used, and why.
        masses: part name -> kg for parts the file gives a mass but no usable inertia (COM and
            inertia then come from the geometry, scaled to this mass).
    """

    parts: Mapping[str, MassProperties] = field(default_factory=dict)
    source_low: np.ndarray = field(default_factory=lambda: np.zeros(3))
    source_extents: np.ndarray = field(default_factory=lambda: np.zeros(3))
    notes: tuple[str, ...] = ()
    masses: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Material:
    """Physical surface and bulk material.

    Attributes:
        density: kg/m^3 (default 500: hard plastic / wood, a middle value for household objects).
        static_friction, dynamic_friction: Coulomb coefficients (dimensionless).
        restitution: coefficient of restitution in [0, 1].
    """

    density: float = 500.0
    static_friction: float = 0.8
    dynamic_friction: float = 0.6
    restitution: float = 0.1


@dataclass(frozen=True)
class Provenance:
    """Where an asset came from, enough to repeat its build bit for bit.

    Attributes:
        source: input path (or ``sample:NAME`` / ``generator:...``), as given.
        source_sha256: hex SHA-256 of the input file's bytes ("" for generated input).
        seed: the build's random seed.
        options: the build options as plain JSON values.
        versions: package name -> version of n4d4d and of each dependency that shaped it.
    """

    source: str
    source_sha256: str
    seed: int
    options: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StageRecord:
    """What one stage did: its name, wall time (s), and key figures (JSON values)."""

    name: str
    seconds: float
    figures: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Asset:
    """One asset as it flows through the pipeline; optional fields are filled stage by stage.

    Attributes:
        name: asset name (output folder name, default prim name), ``[A-Za-z0-9_]`` safe.
        visual: the watertight visual mesh (asset frame, m), from the static stage.
        source_mesh: the loaded (scaled, Z-up) input mesh before remeshing.
        volume: the sparse narrow-band SDF the visual mesh was extracted from, or None.
        parts: rigid parts; a single-body asset has one part holding the whole visual mesh.
        joints: joints between parts (empty for a single rigid body).
        skeleton: skeleton for organic shapes, or None.
        skin_weights: ``(V, J) float64`` per visual vertex, rows sum to 1, or None.
        motion_clips: time-sampled motions.
        collision: part name -> convex hulls (each a closed convex :class:`Mesh`, asset frame;
            a hull that stands for an analytic shape carries it as :attr:`Mesh.primitive`). A
            URDF input fills it at load with the file's own colliders, in the asset frame
            (``collision_stage`` checks them and decides what to keep).
        mass: part name -> :class:`MassProperties`.
        inertials: the mass properties the input file declares (:class:`FileInertials`; a
            URDF's ``<inertial>`` s), or None.
        drives: joint name -> :class:`Drive` (movable joints), from the sim-ready stage.
        material: physical material.
        physics: the physics report (JSON-ready mapping with ``passed: bool``), or None.
        provenance: where the asset came from.
        stages: what each stage did, in order.
        notes: human-readable remarks for the report (e.g. "scaled to default size").
        fixed_base: the root parts are bolted to the world at their rest pose (a robot arm on
            its mount, a cart's rail): the physics checks hold them fixed (no drops, no
            toppling) and the exporters weld them to the world (USD: a fixed joint to the
            world; URDF: a ``world`` link; MJCF: no free joint). Set at load by
            :func:`n4d4d.io.urdf.fixed_base_rule`.
    """

    name: str
    visual: Mesh | None = None
    source_mesh: Mesh | None = None
    volume: "SparseSDF | None" = None
    parts: tuple[Part, ...] = ()
    joints: tuple[Joint, ...] = ()
    skeleton: Skeleton | None = None
    skin_weights: np.ndarray | None = None
    motion_clips: tuple[MotionClip, ...] = ()
    collision: Mapping[str, tuple[Mesh, ...]] = field(default_factory=dict)
    mass: Mapping[str, MassProperties] = field(default_factory=dict)
    material: Material = field(default_factory=Material)
    physics: Mapping[str, Any] | None = None
    provenance: Provenance | None = None
    stages: tuple[StageRecord, ...] = ()
    notes: tuple[str, ...] = ()
    drives: Mapping[str, Drive] = field(default_factory=dict)
    inertials: FileInertials | None = None
    fixed_base: bool = False

    def replace(self, **changes) -> "Asset":
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def with_stage(self, record: StageRecord, **changes) -> "Asset":
        """A copy with ``changes`` applied and ``record`` appended to :attr:`stages`."""
        return dataclasses.replace(self, stages=self.stages + (record,), **changes)

    def require(self, stage: str, *fields: str) -> None:
        """Raise :class:`StageInputError` naming ``stage`` if any of ``fields`` is empty/None."""
        missing = [f for f in fields if getattr(self, f) in (None, (), {})]
        if missing:
            raise StageInputError(
                f"stage '{stage}' needs {', '.join(missing)}, which earlier stages did not fill",
                self.name,
            )

    def part(self, name: str) -> Part:
        """The part called ``name``; KeyError if there is none."""
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def passed(self) -> bool:
        """True when the physics report exists and says the asset passed."""
        return bool(self.physics and self.physics.get("passed"))

    @classmethod
    def load(cls, folder: str | Path) -> "Asset":
        """The asset saved in ``folder`` (by :meth:`save`), exactly as it was built.

        Reads the canonical record ``asset.json`` + ``asset.npz`` (:mod:`n4d4d.io.record`;
        no pickle). Raises :class:`~n4d4d.errors.MissingFileError` when the folder has no
        record, :class:`~n4d4d.errors.InputError` when it is damaged or of another format.
        """
        from n4d4d.io.record import read_record

        return read_record(Path(folder))

    def save(self, out_dir: str | Path, formats: tuple[str, ...] | None = None,
             keep_failed: bool = True, report: bool | None = None) -> Path:
        """Write the asset's folder ``out_dir`` atomically: files, then ``report.json``.

        The folder is assembled in a temporary sibling and renamed into place, so ``out_dir``
        is either absent or complete. ``formats``: any of ``usda usdc urdf mjcf glb 3mf``;
        default: the formats of the build options the asset was built with
        (``n4d4d.build(p, formats=("urdf",)).save(out)`` writes URDF), else USDA.
        With ``keep_failed=False`` an asset that failed its physics checks goes to
        ``rejected/`` beside ``out_dir`` with its report only (see :mod:`n4d4d.output`).
        ``report``: write ``report.html`` with renders and plots (default: the build's
        ``report`` option, on unless ``--no-report``). Returns the folder written. Raises :class:`~n4d4d.errors.ExportError` for an unknown
        format or if an exporter fails (nothing is left behind).
        """
        from n4d4d.output import save_asset

        return save_asset(self, Path(out_dir), formats=formats, keep_failed=keep_failed, report=report)
