"""What the exporters share beyond the kinematics core: the exportable check, the provenance
every format records (the seed among it), part visuals, cleanup of a failed export.

Part frames, the kinematic tree, forward kinematics, joint helpers and names are
:mod:`n4d4d.kinematics` (one implementation for every stage): meshes are written in their
part's frame (asset-frame vertices minus the part origin), so a URDF joint origin is the offset
between two part origins and its axis is ``Joint.axis`` unchanged. This module writes no file
except through :func:`cleanup_on_failure`, which removes what a failed export created.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np

from n4d4d.asset import Asset, Mesh, Part
from n4d4d.errors import ExportError


def require_exportable(asset: Asset, what: str) -> None:
    """Raise :class:`ExportError` unless ``asset`` has parts with collision hulls and mass.

    ``what`` names the format for the message. Every part needs at least one hull
    (``asset.collision[part]``) and its :class:`~n4d4d.asset.MassProperties`.
    """
    if not asset.parts:
        raise ExportError(f"{what} export needs at least one part (run the static stage)", asset.name)
    for p in asset.parts:
        if not asset.collision.get(p.name):
            raise ExportError(f"{what} export: part '{p.name}' has no collision hulls", asset.name)
        if p.name not in asset.mass:
            raise ExportError(f"{what} export: part '{p.name}' has no mass properties", asset.name)
        m = asset.mass[p.name]
        if not (np.isfinite(m.mass) and m.mass > 0):
            raise ExportError(f"{what} export: part '{p.name}' has mass {m.mass}", asset.name)


def provenance_info(asset: Asset) -> dict:
    """What every format that can carry it records of the build, JSON-ready: ``n4d4d_version``,
    ``asset`` (name) and, with provenance, ``source``, ``source_sha256``, ``seed`` (int) and
    ``versions``. Nothing from ``asset.physics``, so a file written before the certificate is
    byte for byte the one written after it."""
    from importlib import metadata

    p = asset.provenance
    versions = dict(p.versions) if p is not None else {}
    try:
        n4d4d_version = versions.get("n4d4d") or metadata.version("n4d4d")
    except metadata.PackageNotFoundError:
        n4d4d_version = "unknown"
    info = {"n4d4d_version": str(n4d4d_version), "asset": asset.name}
    if p is not None:
        info.update(source=str(p.source), source_sha256=str(p.source_sha256), seed=int(p.seed),
                    versions={str(k): str(v) for k, v in versions.items()})
    return info


def part_visual(asset: Asset, part: Part) -> tuple[Mesh, np.ndarray | None]:
    """The visual mesh of ``part`` (asset frame) and its vertices' indices in ``asset.visual``.

    With ``part.face_indices`` the part's faces of ``asset.visual`` are cut out, keeping
    normals, UVs, vertex colours, base colour and texture (the part mesh's own when the visual
    has none: a URDF link's material); a single part without face indices
    uses ``asset.visual`` whole when it has the part mesh's size. Otherwise ``part.mesh`` is
    used and the index is None. Per-corner UVs (``face_uvs``) become per-vertex UVs through
    :func:`split_uv_seams` (vertices on a UV seam repeated, and their rows in the index). The index is ``(V_part,) int64`` and maps the returned mesh's
    vertices to rows of ``asset.visual.vertices`` (and of ``asset.skin_weights``, and of a
    clip's ``vertices``).
    """
    vis = asset.visual
    if vis is not None and part.face_indices is not None:
        fi, quads = vis.quads_first(part.face_indices)  # the part's whole quads stay quads
        sub = vis.faces[fi]
        used, inverse = np.unique(sub, return_inverse=True)
        pick = (lambda a: None if a is None else a[used])
        cut = vis.replace(vertices=vis.vertices[used], faces=inverse.reshape(-1, 3),
                          normals=pick(vis.normals), uvs=pick(vis.uvs),
                          vertex_colors=pick(vis.vertex_colors),
                          face_uvs=None if vis.face_uvs is None else vis.face_uvs[fi],
                          face_submesh=None if vis.face_submesh is None else vis.face_submesh[fi],
                          quad_count=quads)
        cut = _own_look(cut, part.mesh, vis)
        cut, rows = split_uv_seams(cut)
        return cut, used[rows]
    if vis is not None and len(asset.parts) == 1 and (
            part.mesh is vis or (len(part.mesh.vertices) == len(vis.vertices)
                                 and len(part.mesh.faces) == len(vis.faces))):
        return split_uv_seams(vis)
    mesh, rows = split_uv_seams(part.mesh)
    return mesh, None


def _own_look(cut: Mesh, own: Mesh, vis: Mesh) -> Mesh:
    """``cut`` (a part's faces of the visual) with the part mesh's own look when the visual has
    none (a URDF's merged links carry no colour; each link's material is on its part mesh): the
    base colour always, UVs / texture / vertex colours when ``own`` is ``cut``'s geometry."""
    if own is vis or vis.texture_png is not None or vis.vertex_colors is not None or vis.base_color is not None:
        return cut
    if own.base_color is not None:
        cut = cut.replace(base_color=own.base_color)
    same = (len(own.vertices) == len(cut.vertices) and np.array_equal(own.faces, cut.faces)
            and np.allclose(own.vertices, cut.vertices, rtol=0.0, atol=1e-12))
    if same and (own.texture_png is not None or own.vertex_colors is not None):
        cut = cut.replace(uvs=own.uvs, face_uvs=own.face_uvs, texture_png=own.texture_png,
                          vertex_colors=own.vertex_colors)
    return cut


def split_uv_seams(mesh: Mesh) -> tuple[Mesh, np.ndarray]:
    """``mesh`` with per-vertex UVs, and ``(V', ) int64`` the source vertex of each vertex.

    A mesh with ``face_uvs`` (per face corner, :mod:`n4d4d.volume.texture`) gets one vertex per
    distinct (vertex, UV) pair, so vertices on a UV seam are duplicated (formats with per-vertex
    UVs: glTF, OBJ, and USD's vertex primvars); faces keep their order, and normals and vertex
    colours are copied to the duplicates. A mesh without ``face_uvs`` is returned as it is with
    the identity index.
    """
    if mesh.face_uvs is None:
        return mesh, np.arange(len(mesh.vertices), dtype=np.int64)
    corners = np.asarray(mesh.faces, np.int64).reshape(-1)
    uv = np.asarray(mesh.face_uvs, np.float64).reshape(-1, 2)
    key = np.column_stack([corners.astype(np.float64), uv])
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    rows = corners[first]
    pick = (lambda a: None if a is None else np.asarray(a)[rows])
    out = mesh.replace(vertices=mesh.vertices[rows], faces=inverse.reshape(-1, 3), uvs=uv[first],
                       face_uvs=None, normals=pick(mesh.normals), vertex_colors=pick(mesh.vertex_colors))
    return out, rows.astype(np.int64)


@contextlib.contextmanager
def cleanup_on_failure(out_dir: Path) -> Iterator[None]:
    """Remove every file or folder under ``out_dir`` that appeared inside the block, on failure.

    Each exporter writes its files atomically; this makes a failed multi-file export (URDF and
    its meshes, say) leave ``out_dir`` as it was, and re-raises the error.
    """
    out_dir = Path(out_dir)
    before = set(out_dir.rglob("*")) if out_dir.exists() else set()
    try:
        yield
    except BaseException:
        if out_dir.exists():
            for p in sorted(set(out_dir.rglob("*")) - before, key=lambda p: len(p.parts)):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
        raise
