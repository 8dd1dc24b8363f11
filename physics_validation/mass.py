"""Rigid-body mass properties of a closed triangle mesh: mass, centre of mass, inertia.

Volume integrals over the mesh's signed tetrahedra (trimesh's ``mass_properties``, after
Eberly, "Polyhedral Mass Properties (Revisited)", 2003; exact for a closed, consistently
oriented mesh of uniform density), then the principal frame by a symmetric eigen-decomposition.
Hollow parts (a cabinet is panels, a bottle is a wall) weigh what their walls weigh:
:func:`mass_model` decides per part, from the geometry, between the solid and a shell of some
wall thickness, and :func:`shell_mass_properties` gives a shell's own mass and inertia (exact
area integrals of the thin-wall limit, MuJoCo's ``inertia="shell"`` model).
This module does not repair meshes: an open or inside-out mesh gives a wrong or non-positive
volume, and a non-positive volume raises :class:`~n4d4d.errors.EmptyMeshError`.
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import MassProperties, Mesh
from n4d4d.conventions import xyzw_to_wxyz
from n4d4d.errors import EmptyMeshError, InputError


def principal_frame(inertia: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Principal moments (ascending) and principal-axes quaternion of an inertia tensor.

    Args:
        inertia: ``(3, 3) float64`` symmetric inertia tensor (kg m^2).

    Returns:
        ``(moments, quat)``: ``(3,) float64`` eigenvalues ascending, and ``(4,) float64``
        quaternion (w, x, y, z) of the proper rotation R whose columns are the matching
        eigenvectors, so ``inertia == R @ diag(moments) @ R.T``.
    """
    from scipy.spatial.transform import Rotation

    sym = 0.5 * (np.asarray(inertia, dtype=np.float64) + np.asarray(inertia, dtype=np.float64).T)
    moments, axes = np.linalg.eigh(sym)  # ascending
    # Deterministic signs: the largest component of each axis positive, then right-handed.
    for k in range(3):
        if axes[np.argmax(np.abs(axes[:, k])), k] < 0:
            axes[:, k] = -axes[:, k]
    if np.linalg.det(axes) < 0:
        axes[:, 2] = -axes[:, 2]
    quat = xyzw_to_wxyz(Rotation.from_matrix(axes).as_quat())
    if quat[0] < 0:
        quat = -quat
    return moments, quat


def mass_properties(mesh: Mesh, *, density: float | None = None, mass: float | None = None,
                    name: str = "") -> MassProperties:
    """Mass properties of a closed mesh of uniform density.

    Args:
        mesh: closed, outward-oriented triangle mesh (vertices in metres, asset frame).
        density: kg/m^3; exactly one of ``density`` / ``mass``.
        mass: total kg (the density becomes ``mass / volume``).
        name: asset or part name for error messages.

    Returns:
        :class:`~n4d4d.asset.MassProperties` with the inertia tensor about the COM in the
        asset's axes (kg m^2), principal moments ascending and the principal-axes quaternion
        (w, x, y, z) whose rotation-matrix columns are the principal axes (UsdPhysics.MassAPI
        ``principalAxes`` convention).

    Raises:
        ValueError: not exactly one of ``density`` / ``mass``, or a non-positive one.
        EmptyMeshError: the mesh has no faces or a non-positive volume.
        InputError: non-finite vertices.
    """
    if (density is None) == (mass is None):
        raise ValueError("give exactly one of density (kg/m^3) or mass (kg)")
    if (density is not None and not density > 0) or (mass is not None and not mass > 0):
        raise ValueError(f"density and mass must be positive, got density={density}, mass={mass}")
    if len(mesh.faces) == 0:
        raise EmptyMeshError("mass properties of a mesh with no faces", name or None)
    if not np.isfinite(mesh.vertices).all():
        raise InputError("mesh has non-finite vertices", name or None)
    import trimesh

    tm = trimesh.Trimesh(np.array(mesh.vertices), np.array(mesh.faces), process=False)
    with np.errstate(divide="ignore", invalid="ignore"):  # zero volume is reported below
        props = tm.mass_properties  # density 1: mass == volume
    volume = float(props["volume"])
    scale = max(mesh.diagonal, 1e-300) ** 3
    if not volume > 1e-12 * scale:
        raise EmptyMeshError(f"mesh encloses no positive volume ({volume:.3g} m^3): open or inside out",
                             name or None)
    rho = float(density) if density is not None else float(mass) / volume
    inertia = np.asarray(props["inertia"], dtype=np.float64) * rho  # about the COM, asset axes
    inertia = 0.5 * (inertia + inertia.T)
    moments, quat = principal_frame(inertia)
    return MassProperties(
        mass=rho * volume,
        center_of_mass=np.asarray(props["center_mass"], dtype=np.float64),
        inertia=inertia,
        principal_moments=moments,
        principal_axes=quat,
        volume=volume,
        density=rho,
    )


#: A closed part whose mean wall thickness ``2 V / A`` (the thickness it would have if it were
#: all walls: a plate of area A/2 each side) is at most this fraction of its middle bounding-box
#: side, and whose volume is at most :data:`HOLLOW_HULL_RATIO` of its convex hull's (its walls
#: surround empty space), is taken to be walls (a cabinet's carcass, a drawer, a bottle), not a
#: solid block. A cube has 2V/A = side/3 (ratio 0.33); a 2 cm door panel of 0.9 x 1.2 m is thin
#: (0.02 / 0.9) but convex: a solid board, its modelled thickness kept.
THIN_WALL_RATIO = 0.1
HOLLOW_HULL_RATIO = 0.5
#: Default wall thickness of a thin-walled part, as a fraction of its longest side, clamped to
#: [:data:`MIN_WALL_M`, :data:`MAX_WALL_M`]: 14 mm for a 1.4 m cabinet (furniture board is
#: 12-19 mm), 3 mm for a 0.3 m bottle. A part whose modelled walls are thinner keeps its own;
#: thicker modelled walls are taken at this thickness, since walls closed from open sheets come
#: out a voxel or two thick (PartNet-Mobility cabinet 40147: 2V/A about 30 mm), not as built.
WALL_FRACTION = 0.01
MIN_WALL_M = 0.001
MAX_WALL_M = 0.02


def surface_mass_properties(mesh: Mesh, surface_density: float, *, name: str = "") -> MassProperties:
    """Mass properties of a thin shell: mass spread over the mesh's surface (kg/m^2).

    Exact area integrals over the triangles (a triangle's second moment is
    ``A / 12 (sum_k v_k v_k^T + s s^T)``, ``s`` the sum of its corners): the thin-wall limit of a
    wall of thickness ``t`` and density ``rho`` with ``surface_density = rho t``, which is also
    how MuJoCo's ``inertia="shell"`` treats a mesh. The inertia is the shell's own (mass on the
    surface, e.g. ``2/3 m R^2`` for a sphere), not a solid's scaled.

    Args:
        mesh: triangle mesh (m, asset frame); need not be closed.
        surface_density: kg/m^2, > 0.
        name: for error messages.

    Returns:
        :class:`~n4d4d.asset.MassProperties`; ``volume`` is the wall's material volume
        ``mass / density`` only once the caller sets ``density`` (here: area in m^2 times 1 m,
        with ``density`` = ``surface_density``), so callers use :func:`shell_mass_properties`.

    Raises:
        ValueError: non-positive ``surface_density``. EmptyMeshError: no faces or no area.
    """
    if not surface_density > 0:
        raise ValueError(f"surface density must be positive, got {surface_density}")
    if len(mesh.faces) == 0:
        raise EmptyMeshError("shell mass properties of a mesh with no faces", name or None)
    tri = np.asarray(mesh.vertices)[np.asarray(mesh.faces)]  # (F, 3, 3)
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    total = float(area.sum())
    if not total > 1e-300:
        raise EmptyMeshError("shell mass properties of a mesh with no area", name or None)
    s = tri.sum(axis=1)  # (F, 3)
    first = (area[:, None] * s).sum(axis=0) / 3.0
    second = (np.einsum("f,fki,fkj->ij", area, tri, tri) + np.einsum("f,fi,fj->ij", area, s, s)) / 12.0
    m = surface_density * total
    com = first / total
    c = surface_density * second - m * np.outer(com, com)  # second moment about the COM
    inertia = np.trace(c) * np.eye(3) - c
    inertia = 0.5 * (inertia + inertia.T)
    moments, quat = principal_frame(inertia)
    return MassProperties(mass=m, center_of_mass=com, inertia=inertia, principal_moments=moments,
                          principal_axes=quat, volume=total, density=float(surface_density))


def shell_mass_properties(mesh: Mesh, thickness: float, *, density: float, sides: int = 1,
                          name: str = "") -> MassProperties:
    """Mass properties of a wall of ``thickness`` (m) and ``density`` (kg/m^3) along the mesh.

    ``sides`` = 1: the mesh is the outer face of the wall (a hollow body), whose mass is put
    on its mid-surface, the mesh moved ``t / 2`` inward along its area-weighted vertex normals
    (for a sphere of radius R: mass ``rho t 4 pi (R - t/2)^2`` and inertia
    ``2/3 m (R - t/2)^2``, the exact hollow sphere's to second order in ``t / R``); 2: the mesh
    has both faces of its walls (a closed thin-walled part, each panel with its front and back,
    whose mid-plane lies between them), each face carrying half the wall: ``rho t A / 2``.
    Thin-wall limit otherwise (:func:`surface_mass_properties`).

    Returns:
        :class:`~n4d4d.asset.MassProperties` with ``volume`` the wall's material volume (m^3)
        and ``density`` = ``density``.

    Raises:
        ValueError: non-positive ``thickness`` or ``density``, or ``sides`` not 1 or 2.
        EmptyMeshError: no faces or no area.
    """
    if not (thickness > 0 and density > 0) or sides not in (1, 2):
        raise ValueError(f"need thickness > 0, density > 0 and sides 1 or 2, got {thickness}, {density}, {sides}")
    if sides == 1:
        import trimesh

        tm = trimesh.Trimesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), process=False)
        mesh = Mesh(np.asarray(mesh.vertices) - 0.5 * thickness * np.asarray(tm.vertex_normals), mesh.faces)
    sp = surface_mass_properties(mesh, density * thickness / sides, name=name)
    return MassProperties(mass=sp.mass, center_of_mass=sp.center_of_mass, inertia=sp.inertia,
                          principal_moments=sp.principal_moments, principal_axes=sp.principal_axes,
                          volume=sp.mass / density, density=float(density))


def mass_model(mesh: Mesh, shell_thickness: float | None = None) -> dict:
    """How a closed part's mass is computed: ``solid`` or ``shell`` with a wall thickness.

    Decided from the geometry (JSON-ready figures say why): a part with an enclosed cavity (a
    shell of negative signed volume inside it: a bottle modelled with its inner wall) is its
    own wall, and is integrated as the solid it is (``solid``, ``cavity`` true); a thin-walled
    part (mean wall thickness ``2 V / A`` at most :data:`THIN_WALL_RATIO` of its middle side)
    whose walls surround empty space (volume at most :data:`HOLLOW_HULL_RATIO` of its convex
    hull's) is a ``shell`` with both faces of its walls in the mesh (``sides`` 2) and the wall
    thickness ``min(2 V / A, WALL_FRACTION x longest side)`` (clamped, see
    :data:`WALL_FRACTION`); other parts are ``solid``. ``shell_thickness`` overrides: 0 forces
    ``solid``, T > 0 makes every part a shell of T (2 faces for thin-walled parts, else 1: a
    hollow body of that wall).

    Returns:
        ``{"model", "wall_thickness_m" (None for solid), "sides", "mean_wall_m" (2V/A),
        "cavity", "reason"}``.
    """
    import trimesh

    tm = trimesh.Trimesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), process=False)
    volume, area = float(tm.volume), float(tm.area)
    ext = np.sort(np.ptp(np.asarray(mesh.vertices), axis=0))
    mean_wall = 2.0 * volume / max(area, 1e-300)
    try:
        hull_ratio = volume / float(tm.convex_hull.volume)
    except Exception:  # qhull: a flat part (no hull volume) is all wall
        hull_ratio = 0.0
    thin = mean_wall <= THIN_WALL_RATIO * ext[1] and hull_ratio <= HOLLOW_HULL_RATIO
    cavity = False
    if tm.body_count > 1:
        vols = [float(b.volume) for b in tm.split(only_watertight=False)]
        cavity = min(vols) < 0
    out = {"mean_wall_m": mean_wall, "hull_ratio": hull_ratio, "cavity": cavity, "thin_walled": bool(thin)}
    if shell_thickness is not None:
        if shell_thickness == 0:
            return {**out, "model": "solid", "wall_thickness_m": None, "sides": None, "reason": "--shell-thickness 0"}
        return {**out, "model": "shell", "wall_thickness_m": float(shell_thickness), "sides": 2 if thin else 1,
                "reason": "--shell-thickness"}
    if cavity:
        return {**out, "model": "solid", "wall_thickness_m": None, "sides": None,
                "reason": "encloses a cavity: its walls are modelled, integrated as they are"}
    if thin:
        wall = min(mean_wall, float(np.clip(WALL_FRACTION * ext[2], MIN_WALL_M, MAX_WALL_M)))
        return {**out, "model": "shell", "wall_thickness_m": wall, "sides": 2,
                "reason": f"thin-walled: mean wall 2V/A = {1e3 * mean_wall:.1f} mm <= {THIN_WALL_RATIO:g} x its "
                          f"middle side ({1e3 * ext[1]:.0f} mm), {100 * hull_ratio:.0f}% of its convex hull"}
    return {**out, "model": "solid", "wall_thickness_m": None, "sides": None,
            "reason": f"solid: mean wall 2V/A = {1e3 * mean_wall:.1f} mm, {100 * hull_ratio:.0f}% of its convex hull"}
