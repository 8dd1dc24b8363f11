"""Rigid-body mass properties of a closed triangle mesh: mass, centre of mass, inertia.

Volume integrals over the mesh's signed tetrahedra (trimesh's ``mass_properties``, after
Eberly, "Polyhedral Mass Properties (Revisited)", 2003; exact for a closed, consistently
oriented mesh of uniform density), then the principal frame by a symmetric eigen-decomposition.
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
