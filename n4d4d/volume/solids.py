"""Close one part (or any mesh) into a faithful watertight solid, at a resolution chosen from it.

:func:`close_solid` is what the rigging stage calls for every part mesh that is not already a
closed manifold (and what any caller that needs "a solid of this surface" should call): one
engine, :func:`n4d4d.volume.remesh_watertight`, with

- **resolution per part**: the voxel is the smaller of ``longest side / resolution`` and
  ``thinnest / feature_voxels``, where ``thinnest`` is the part's local thickness at its 5th
  percentile (rays along the normals to the next surface, :func:`local_thickness`, at most the
  smallest extent of its oriented bounding box), so a thin plate (a scissor blade, a door
  panel) spans at least ``feature_voxels`` (default 3) voxels across and keeps its thickness to
  a fraction of a voxel (marching cubes on exact distances, not on occupancy); capped at
  ``max_resolution`` and by the memory budget (the band is narrow, so cost and memory grow with
  the surface, O(area / voxel^2), not with the volume);
- **sign of open input** from the generalized winding number of the surface with its holes
  capped by their rims' polygons (:mod:`n4d4d.volume._chain`): no fan leaves the rim's hull;
- **open panels** (:mod:`n4d4d.volume.winding`): a part whose walls have both faces but open
  rims (PartNet's cabinet bodies, doors, drawers) is solid between its faces by the uncapped
  winding number on the solid track's grid, kept when it covers the input and adds little
  surface away from it (single sheets among the panels get the default shell, united), and
  not built at all when its surface samples predict it would add too much (a container of
  single sheets: :func:`~n4d4d.volume.winding.predicted_new_area`);
- **sheets and open containers**: otherwise, a part whose hole caps would add a tenth of its
  area or more (an open box, a sheet; :data:`OPEN_SHELL_FRACTION`), or that encloses no volume
  (the closed solid's volume is under a quarter voxel times its own area: a plate of thickness
  ``t`` has ``t / 2``), becomes the shell of wall ``thickness`` (``--solidify T``) or, by default, of two voxels (the thinnest wall
  the grid resolves: every point of the sheet is within ``sqrt(3)/2`` voxel of a node, which is
  then inside), offset symmetrically about the sheet (:func:`compute_sparse_sdf` ``shell=``),
  on a grid of :data:`SHELL_VOXEL_FRACTION` of the diagonal, and cut back to the input's
  oriented bounding box grown by a fraction of issue 12's thickness tolerance
  (:func:`clip_to_extent`: an open cup's height would grow by the wall, a sheet's thickness is
  the wall), which keeps the thickness whatever the grid; a default-wall shell whose normals
  agree less than 0.95 with the input's (features under its wall: wire racks) is built once
  more at half the voxel, within :data:`SHELL_RETRY_MAX_RESOLUTION` and the memory budget, and
  kept if it agrees better (``figures["finer"]``);
- **slabs that stand off the input**: an uncapped winding solid whose p95 distance to the
  input is over :data:`CAPPED_MAX_P95_FRACTION` of the diagonal and half its median wall (the
  most an open rim closed across the wall lies off the input; farther, a fill between panels
  that are not one wall's two faces) is set against the shell, and the shell kept if it is closer and
  keeps the part's thinnest extent (:func:`extent_error`) as well as the slab or within the tolerance;
- **capped solids that drop a feature**: a capped solid whose caps stand off the input
  (p95 over :data:`CAPPED_MAX_P95_FRACTION`) goes to the tracks above; one that misses the
  input's thinnest extent (a single sheet standing off the body, which encloses nothing) gets
  the shell of the faces it leaves uncovered, united and cut back (:func:`_cover_capped`).

A closing is reused when the same input and arguments come again (the static stage closes a
URDF's parts to build the whole from them, the rigging stage closes them again).

What it does not: keep an open flap attached to an enclosed body (the solid track wins and the
flap, enclosing nothing, is dropped), or make neighbouring parts disjoint
(:mod:`n4d4d.volume.disjoint` does that).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from n4d4d.errors import EmptyMeshError, MemoryBudgetError
from n4d4d.volume.remesh import SHEET_WALL_VOXELS

#: a solid thinner than this many voxels on average (volume / area) encloses nothing the grid
#: resolves: the part is a sheet (a closed surface's volume / area is >= its thickness / 2)
SHEET_VOLUME_VOXELS = 0.25

#: a part whose hole caps (:func:`~n4d4d.volume._chain.close_chain`) would add at least this
#: fraction of its surface area is an open container or a sheet (a box missing a face: 0.2; a
#: button cap modelled as a cup: ~0.45; a sheet: 0.5), made a shell about its surface rather
#: than a capped block (a cabinet's open front capped would fill the room its drawers move in).
#: On the PartNet-Mobility parts of ../shared/data the fractions split into < 0.02 (cracks,
#: small holes) and > 0.1 (open containers, sheets).
OPEN_SHELL_FRACTION = 0.1

#: default wall of a sheet, in voxels of its grid (see the module docstring): the static
#: stage's, :data:`n4d4d.volume.remesh.SHEET_WALL_VOXELS`
DEFAULT_WALL_VOXELS = SHEET_WALL_VOXELS

#: voxels across a part's thinnest extent: marching cubes on exact distances places the two
#: faces of a plate to a small fraction of a voxel each (measured on PartNet-Mobility plates:
#: thickness within 10 % at 3 voxels), so 3 keep it while bounding the cost
FEATURE_VOXELS = 3.0

#: the uncapped winding-number solid's grid goes at most this fine: its winding evaluations
#: (~5-35 us a node) grow with the band's nodes, ~resolution^2 (a PartNet cabinet body: 4-20 s at
#: 160), while the capped solid's sign costs a few evaluations whatever the grid (a 16 mm plate
#: of PartNet 101293, 1.2 m long, needs 239 to span its 3 voxels: normal consistency 0.942 at 160,
#: 0.962 at 239)
WINDING_MAX_RESOLUTION = 320
#: voxel of the uncapped winding-number solid's grid, at most this fraction of the part's
#: diagonal: the shells it gives single sheets among the panels lie a voxel off them and the
#: seams where they meet the panels up to ~1.6 voxels (p95 1.01-1.23 voxels on PartNet 45261,
#: 11361, 9960, where a voxel of 0.46-0.75 % of the diagonal put the p95 at 0.51-0.76 %, over
#: issue 12's 0.5 %)
WINDING_VOXEL_FRACTION = 0.003

#: voxel of a shell's grid, as a fraction of the part's bounding-box diagonal: the default wall's
#: faces lie one voxel from the sheet, so this bounds the shell's distance from its sheet, and
#: seams where sheets meet add up to ~0.2 voxel more (at 0.5 % the p95 distance of PartNet
#: shells measured 0.50-0.54 %, at 0.45 % 0.45-0.55 %: 101668, 102417, 11826 over issue 12's
#: 0.5 %; finer grids cost ~(1/voxel)^2 in marching-cubes faces and simplification time:
#: 0.4 % took 5-10 s per PartNet cabinet panel)
SHELL_VOXEL_FRACTION = 0.0038
#: a shell's grid may go this fine (a long sheet needs ~250 cells for the voxel above; a given
#: ``--solidify`` wall may need more), the band of a sheet being two thin layers
SHELL_MAX_RESOLUTION = 640

#: a capped solid whose p95 distance to the input (:func:`~n4d4d.volume.winding.fidelity`'s
#: ``p95_out_to_in``) exceeds this fraction of the diagonal (issue 12's target) has caps that
#: stand far off the input (PartNet 167's faucet body: caps of 9.5 % of its area, p95 2.8 %): it
#: goes to the uncapped winding solid or the shell instead
CAPPED_MAX_P95_FRACTION = 0.005

#: issue 12's thickness target: a part keeps its thinnest extent within this fraction of it or
#: :data:`THICKNESS_TOLERANCE_M`, whichever is larger
THICKNESS_TOLERANCE = 0.1
THICKNESS_TOLERANCE_M = 1e-3


def thinnest_extent(vertices: np.ndarray) -> float:
    """Smallest side (m) of the minimum-volume oriented bounding box of ``vertices (V, 3)``
    (trimesh's ``oriented_bounds``, on the convex hull); 0 for a flat set."""
    import trimesh

    v = np.asarray(vertices, np.float64)
    try:
        _, extents = trimesh.bounds.oriented_bounds(v)
    except Exception:  # noqa: BLE001 - qhull refuses flat sets: the thinnest extent is zero
        return 0.0
    return float(np.min(extents))


#: surface samples whose rays measure the local thickness, and the percentile taken
THICKNESS_SAMPLES = 2000
THICKNESS_PERCENTILE = 5.0


def thickness_samples(mesh, *, n_samples: int = THICKNESS_SAMPLES, seed: int = 0) -> tuple[np.ndarray, float]:
    """``(hits (n,) float64 m, cap m)``: at ``n_samples`` area-weighted surface samples of
    ``mesh`` (trimesh's, ``seed``), the distance along the face normal, either way, to the next
    surface hit, capped at ``cap``, the smallest oriented-bounding-box extent
    (:func:`thinnest_extent`), which a sample that hits nothing reads. Repeated faces are
    dropped first (:func:`~n4d4d.volume._chain.clean`), so a double-sided sheet does not
    measure 0. Rays start 1e-6 of the diagonal off the surface (warp BVH ray queries); ``hits``
    is empty for a flat or empty input."""
    from n4d4d.volume._chain import clean
    from n4d4d.volume._queries import MeshQueries

    v, f, _ = clean(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    cap = thinnest_extent(v)
    if len(f) == 0 or not cap > 0:
        return np.zeros(0), cap
    import trimesh

    tm = trimesh.Trimesh(v, f, process=False)
    if not tm.area > 0:
        return np.zeros(0), cap
    pts, face = trimesh.sample.sample_surface(tm, n_samples, seed=seed)
    nrm = np.asarray(tm.face_normals)[face]
    diag = float(np.linalg.norm(np.ptp(v, axis=0)))
    q = MeshQueries(v, f)
    eps = 1e-6 * diag
    hits = np.minimum(q.ray_hits(pts + eps * nrm, nrm, cap), q.ray_hits(pts - eps * nrm, -nrm, cap))
    return np.minimum(hits + eps, cap), cap


def local_thickness(mesh, *, n_samples: int = THICKNESS_SAMPLES, seed: int = 0) -> float:
    """The thinnest feature of ``mesh`` (m): the :data:`THICKNESS_PERCENTILE` percentile of
    :func:`thickness_samples` (a wall's thickness, or a gap's width: both must span voxels to
    survive), at most the smallest oriented-bounding-box extent, which it also is when no ray
    hits."""
    hits, cap = thickness_samples(mesh, n_samples=n_samples, seed=seed)
    return float(min(cap, np.percentile(hits, THICKNESS_PERCENTILE))) if len(hits) else cap


def cap_fraction(mesh) -> float:
    """Area of the caps that would close ``mesh``'s holes (:func:`~n4d4d.volume._chain.close_chain`
    after :func:`~n4d4d.volume._chain.clean`) over the area of the cleaned surface; 0 for a
    closed chain."""
    from n4d4d.volume._chain import clean, close_chain

    v, f, _ = clean(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    if len(f) == 0:
        return 0.0
    cv, cf, n_caps, _ = close_chain(v, f)
    if n_caps == 0:
        return 0.0

    def area(vv, ff):
        t = vv[ff]
        return float(0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum())

    return area(cv, cf[len(f):]) / max(area(v, f), 1e-300)


#: a shell offset about its sheet grows the part past the input's own extent by half its wall on
#: each side (an open cup's height by the wall, a flat sheet's thickness is the wall); it is cut
#: back to the input's oriented bounding box grown by this fraction of the thickness tolerance
#: (:data:`THICKNESS_TOLERANCE`, :data:`THICKNESS_TOLERANCE_M`) on each side
#: (:func:`clip_to_extent`), so the part keeps every extent within the tolerance whatever the
#: grid: PartNet 11709's refrigerator doors, 13.4 mm open trays 0.95 m tall, grew to 16.4 mm at
#: the finest shell grid (640 cells) and keep 13.4 + 2 x 0.4 x 1.34 mm clipped
SHELL_CLIP_TOLERANCE_FRACTION = 0.4


def oriented_box(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(to_box (4, 4) float64, extents (3,) float64 m)``: the minimum-volume oriented bounding
    box of ``vertices (V, 3)`` (trimesh's ``oriented_bounds``; for a flat set, on which qhull
    fails, the principal axes of the points, SVD), ``to_box`` moving the points into the box's
    frame, centred on its middle, axes along its sides."""
    import trimesh

    v = np.asarray(vertices, np.float64)
    try:
        to_box, extents = trimesh.bounds.oriented_bounds(v)
        return np.asarray(to_box, np.float64), np.asarray(extents, np.float64)
    except Exception:  # noqa: BLE001 - qhull refuses flat sets: principal axes instead
        c = v.mean(axis=0)
        _, _, vt = np.linalg.svd(v - c, full_matrices=False)
        if np.linalg.det(vt) < 0:
            vt[2] = -vt[2]
        local = (v - c) @ vt.T
        lo, hi = local.min(axis=0), local.max(axis=0)
        to_box = np.eye(4)
        to_box[:3, :3] = vt
        to_box[:3, 3] = -vt @ c - 0.5 * (lo + hi)
        return to_box, hi - lo


def clip_to_extent(out, mesh, *, fraction: float = SHELL_CLIP_TOLERANCE_FRACTION, wall: float = 0.0):
    """``(clipped, figures)``: the closed ``out`` (a shell of ``mesh``, both
    :class:`n4d4d.asset.Mesh`, m, same frame) intersected (manifold3d) with ``mesh``'s oriented
    bounding box (:func:`oriented_box`) grown on each side by ``fraction`` of issue 12's
    thickness tolerance of that side's extent ``e``, ``max(THICKNESS_TOLERANCE * e,
    THICKNESS_TOLERANCE_M)``, and never narrower than the shell's ``wall`` (m): along a sheet's
    normal (``e`` ~ 0) the shell's thickness is its wall (``--solidify T``), not the input's
    extent. ``out`` comes back unchanged (figures say why) when it lies
    inside that box already, or when the intersection is not a closed manifold of positive
    volume. Figures: ``clipped`` (bool), ``margins_m`` (3,), ``volume_before`` and
    ``volume_after`` (m^3)."""
    import manifold3d as mf

    from n4d4d.volume.disjoint import from_manifold, to_manifold

    to_box, extents = oriented_box(np.asarray(mesh.vertices, np.float64))
    margins = fraction * np.maximum(THICKNESS_TOLERANCE * extents, THICKNESS_TOLERANCE_M)
    margins = np.maximum(margins, 0.5 * (float(wall) - extents))  # a side is at least the wall
    rec = {"clipped": False, "margins_m": margins.tolist()}
    ov = np.asarray(out.vertices, np.float64)
    local = ov @ to_box[:3, :3].T + to_box[:3, 3]
    if np.all(np.abs(local) <= 0.5 * extents + margins):
        rec["why"] = "inside the grown box"
        return out, rec
    m = to_manifold(out)
    if m is None:
        rec["why"] = "not a manifold3d manifold"
        return out, rec
    box = mf.Manifold.cube((extents + 2 * margins).tolist(), True).transform(np.linalg.inv(to_box)[:3])
    cut = m ^ box
    rec.update(volume_before=float(m.volume()), volume_after=float(cut.volume()))
    if cut.is_empty() or cut.status() != mf.Error.NoError or not cut.volume() > 0:
        rec["why"] = "the intersection is empty"
        return out, rec
    rec["clipped"] = True
    return from_manifold(cut, out), rec


def part_resolution(mesh, *, feature: float, resolution: int, max_resolution: int,
                    band_voxels: float, memory_budget_bytes: int, path=None) -> int:
    """Grid resolution (cells along the longest side of the padded box) at which the voxel is
    at most ``feature`` m (no bound for ``feature <= 0``), at least ``resolution``, at most
    ``max_resolution``, lowered (not below ``resolution``) until the memory estimate of
    :func:`~n4d4d.volume.sdf.estimate_for_mesh` fits ``memory_budget_bytes``.

    Raises :class:`MemoryBudgetError` when even ``resolution`` does not fit."""
    from n4d4d.volume.sdf import estimate_for_mesh, padding_voxels

    v = np.asarray(mesh.vertices, np.float64)
    longest = float(np.ptp(v, axis=0).max())
    pad = padding_voxels(band_voxels)
    want = resolution if not feature > 0 else int(math.ceil(longest / feature)) + 2 * pad
    r = int(min(max(resolution, want), max_resolution))
    while True:
        est, area, h = estimate_for_mesh(mesh, r, band_voxels, path)
        if est <= memory_budget_bytes or r <= resolution:
            break
        r = max(resolution, int(r * 0.8))
    if est > memory_budget_bytes:
        raise MemoryBudgetError(f"closing this part needs about {est / 2**30:.2f} GiB at "
                                f"resolution {r}, over the budget of {memory_budget_bytes / 2**30:.2f} GiB", path)
    return r


def extent_error(out, mesh) -> float:
    """``|t_out - t_in| / max(THICKNESS_TOLERANCE * t_in, THICKNESS_TOLERANCE_M)``: how far
    ``out``'s extent along ``mesh``'s thinnest oriented-bounding-box axis (:func:`oriented_box`)
    is from ``mesh``'s own ``t_in``, in units of issue 12's thickness tolerance (<= 1 keeps it)."""
    to_box, extents = oriented_box(np.asarray(mesh.vertices, np.float64))
    axis = to_box[:3, :3][int(np.argmin(extents))]
    t_in = float(np.min(extents))
    t_out = float(np.ptp(np.asarray(out.vertices, np.float64) @ axis))
    return abs(t_out - t_in) / max(THICKNESS_TOLERANCE * t_in, THICKNESS_TOLERANCE_M)


def _cover_capped(mesh, out, sdf, fig, *, common, figures):
    """When the capped solid ``out`` misses the input's thinnest extent (:func:`extent_error`
    over 1), ``out`` united with the shell of the input faces it leaves uncovered
    (farther than half a voxel, the snap's reach; single sheets standing off an enclosed body,
    which enclose nothing and are dropped by the capped sign: PartNet 12428's dishwasher door
    lost its 14 mm sheet handle, 86 -> 77 mm; features thinner than a voxel: 8867's door
    handles, 46.8 -> 32.2 mm), as
    :func:`~n4d4d.volume.winding.cover_sheets` does for winding solids, the shell on the shell
    track's voxel (:data:`SHELL_VOXEL_FRACTION` of the diagonal, at most the solid's) and cut
    back to the input's extents (:func:`clip_to_extent`); ``out`` unchanged when every face is
    covered or a step fails. ``figures["cover"]`` says what was done."""
    from n4d4d.volume.quality import mesh_quality
    from n4d4d.volume.remesh import SNAP_VOXELS, vertex_normals
    from n4d4d.volume.winding import cover_sheets

    err = extent_error(out, mesh)
    if err <= 1.0:  # the part keeps its thickness: nothing to cover (a cover thickens and costs)
        return out, fig
    diag = float(np.linalg.norm(np.ptp(np.asarray(mesh.vertices, np.float64), axis=0)))
    shell_voxel = min(float(sdf.voxel_size), SHELL_VOXEL_FRACTION * diag)
    # uncovered: farther than the snap's reach (the snap puts covered input within half a voxel;
    # 8867's door handles stand 7.3 mm off a 9.2 mm voxel's solid: a voxel's bound missed them)
    covered = cover_sheets(out, mesh, SNAP_VOXELS * float(sdf.voxel_size), shell_voxel=shell_voxel, **common)
    if covered is None:
        return out, fig
    united, n_faces = covered
    clipped, clip = clip_to_extent(united, mesh)
    if clip["clipped"] and len(clipped.faces) > common["max_faces"]:  # the cut's faces, over budget
        from n4d4d.volume.simplify import decimate

        clipped = decimate(clipped, common["max_faces"], seed=common["seed"])
    q = mesh_quality(clipped)
    if not (q["watertight"] and q["edge_manifold"] and q["vertex_manifold"] and q["volume"] > 0):
        figures["cover"] = {"sheet_faces": n_faces, "rejected": "the union is not a closed manifold"}
        return out, fig
    figures["cover"] = {"sheet_faces": n_faces, "shell_voxel_m": shell_voxel, "clip": clip,
                        "extent_error_before": err, "extent_error_after": extent_error(clipped, mesh)}
    fig = {**fig, "quality_after": q, "volume_after": q["volume"]}
    return clipped.replace(normals=vertex_normals(clipped.vertices, clipped.faces)), fig


#: a default-wall shell whose normals agree less than this with the input's (issue 12's target;
#: mean ``|n_out . n_in|`` of its surface samples against the closest input face,
#: :func:`~n4d4d.volume.winding.surface_distances`) has features under its wall (PartNet 11826's
#: dishwasher racks, 3 mm wires at a 3.4-4.8 mm voxel: 0.81-0.84): it is built once more on a grid
#: :data:`SHELL_RETRY_VOXEL_RATIO` as coarse, up to :data:`SHELL_RETRY_MAX_RESOLUTION` cells and
#: within the memory budget, and the finer kept if it agrees better
SHELL_RETRY_NORMAL_CONSISTENCY = 0.95
SHELL_RETRY_VOXEL_RATIO = 0.5
SHELL_RETRY_MAX_RESOLUTION = 1024


def _shell(mesh, r, *, thickness, band, max_faces, seed, common):
    """``(out, sdf, remesh figures, clip figures, wall m)``: the shell of ``mesh`` on a grid of
    ``r`` cells, of wall ``thickness`` (m) or :data:`DEFAULT_WALL_VOXELS` voxels, cut back to
    its extents (:func:`clip_to_extent`), simplified to ``max_faces``."""
    from n4d4d.volume.remesh import remesh_watertight
    from n4d4d.volume.sdf import grid_for

    v = np.asarray(mesh.vertices, np.float64)
    _, h, _ = grid_for(np.stack([v.min(0), v.max(0)]), r, band)
    wall = float(thickness) if thickness is not None else DEFAULT_WALL_VOXELS * h
    out, sdf, fig = remesh_watertight(mesh, resolution=r, shell=0.5 * wall, **common)
    # the wall's offset cut back to the part's extents; a given wall (--solidify) is kept whole
    # (a default one is bounded by the thickness tolerance: a sheet then keeps within 1 mm of it)
    out, clip = clip_to_extent(out, mesh, wall=wall if thickness is not None else 0.0)
    if clip["clipped"]:
        from n4d4d.volume.quality import mesh_quality
        from n4d4d.volume.remesh import drop_sub_voxel_shells, vertex_normals

        if len(out.faces) > max_faces:  # the cut's faces, over budget
            from n4d4d.volume.simplify import decimate

            out = decimate(out, max_faces, seed=seed)
        out, _ = drop_sub_voxel_shells(out, sdf.voxel_size)
        out = out.replace(normals=vertex_normals(out.vertices, out.faces))
        fig["quality_after"] = mesh_quality(out)
        fig["volume_after"] = fig["quality_after"]["volume"]
    return out, sdf, fig, clip, wall


def _winding_slab(mesh, hits, thin, *, feature_voxels, resolution, max_resolution, common, figures):
    """The uncapped winding-number solid of an open ``mesh``
    (:func:`~n4d4d.volume.winding.winding_solid`) on the solid track's grid, or None when it is
    refused (encloses nothing, leaves input surface uncovered, adds too much surface away from
    the input: a container of single sheets, whose solid is a layer on one side); the
    attempt's figures go under ``figures["winding"]``."""
    from n4d4d.volume.winding import WINDING_BAND_MAX_VOXELS, winding_solid

    try:
        diag = float(np.linalg.norm(np.ptp(np.asarray(mesh.vertices, np.float64), axis=0)))
        r = part_resolution(mesh, feature=min(thin / feature_voxels, WINDING_VOXEL_FRACTION * diag),
                            resolution=resolution, max_resolution=min(max_resolution, WINDING_MAX_RESOLUTION),
                            band_voxels=common["band_voxels"] + WINDING_BAND_MAX_VOXELS,
                            memory_budget_bytes=common["memory_budget_bytes"], path=common["path"])
        out, sdf, fig, rec = winding_solid(mesh, resolution=r, hits=hits, **common)
    except MemoryBudgetError as e:  # the shell's grid is coarser: left to it
        figures["winding"] = {"rejected": str(e)}
        return None
    figures["winding"] = rec
    if out is None:
        return None
    figures.update(kind="solid", sign="winding number, uncapped", resolution=int(sdf.resolution),
                   voxel_size=float(sdf.voxel_size), remesh=fig)
    return out


#: closings :func:`close_solid` keeps for reuse, most recent last (at most this many, and at
#: most :data:`CLOSE_CACHE_BYTES` of mesh arrays): the static stage closes a URDF's declared
#: parts to build the whole from them (:func:`n4d4d.volume.stage.whole_from_parts`) and the
#: rigging stage closes the same parts again, minutes of work for a PartNet cabinet
CLOSE_CACHE_ENTRIES = 256
CLOSE_CACHE_BYTES = 512 * 2**20
_CLOSED: dict = {}


def _close_key(mesh, args: tuple) -> tuple:
    """Cache key of a closing: a digest of ``mesh``'s vertex and face arrays and the arguments."""
    import hashlib

    v = np.ascontiguousarray(np.asarray(mesh.vertices, np.float64))
    f = np.ascontiguousarray(np.asarray(mesh.faces, np.int64))
    h = hashlib.sha256(v.tobytes())
    h.update(f.tobytes())
    return (h.hexdigest(), v.shape, f.shape) + args


def close_solid(mesh, *, thickness: float | None = None, feature_voxels: float = FEATURE_VOXELS,
                resolution: int = 96, max_resolution: int = 256, max_faces: int = 20000,
                memory_budget_bytes: int = 4 * 2**30, path: str | Path | None = None,
                seed: int = 0):
    """A closed, manifold, outward-oriented solid of ``mesh`` and the figures of how.

    The same input (vertex and face arrays, bit for bit) with the same arguments (``path`` aside:
    it only names the file in errors) gives the same result, reused from memory the second
    time (:data:`CLOSE_CACHE_ENTRIES`; ``figures["reused"]`` is then True, and the figures are
    a copy). Errors are not kept: a refused input is tried again.

    Args:
        mesh: :class:`n4d4d.asset.Mesh` (m, any frame), any triangle soup.
        thickness: wall (m) for a sheet-like input (``--solidify T``); None: two voxels.
            An input that encloses volume is closed as a solid either way.
        feature_voxels: voxels across the thinnest extent (see module docstring).
        resolution, max_resolution: lower and upper bound of the grid resolution (the
            uncapped winding-number attempt at most :data:`WINDING_MAX_RESOLUTION`).
        max_faces: face budget of the result (:func:`~n4d4d.volume.decimate`).
        memory_budget_bytes: refuse grids over this estimate.
        path: named in errors.
        seed: the simplifier's seed.

    Returns:
        ``(mesh, figures)``: figures has ``kind`` ("kept", "solid" or "shell"), ``resolution``,
        ``voxel_size`` (m), ``thinnest`` (m, input), ``wall`` (m, shells), and the remesh's own
        figures under ``remesh``.

    Raises:
        EmptyMeshError, NonFiniteError, InputError: bad input (as
        :func:`~n4d4d.volume.compute_sparse_sdf`); MemoryBudgetError: over budget even at
        ``resolution``; ValueError: a non-positive ``thickness``.
    """
    import copy

    check_args = (None if thickness is None else float(thickness), float(feature_voxels), int(resolution),
                  int(max_resolution), int(max_faces), int(memory_budget_bytes), int(seed))
    key = _close_key(mesh, check_args)
    hit = _CLOSED.pop(key, None)
    if hit is not None:
        _CLOSED[key] = hit  # most recent last
        return hit[0], {**copy.deepcopy(hit[1]), "reused": True}
    out, figures = _close_solid(mesh, thickness=thickness, feature_voxels=feature_voxels, resolution=resolution,
                                max_resolution=max_resolution, max_faces=max_faces,
                                memory_budget_bytes=memory_budget_bytes, path=path, seed=seed)
    _CLOSED[key] = (out, copy.deepcopy(figures),
                    int(np.asarray(out.vertices).nbytes + np.asarray(out.faces).nbytes))
    while len(_CLOSED) > CLOSE_CACHE_ENTRIES or (
            len(_CLOSED) > 1 and sum(e[2] for e in _CLOSED.values()) > CLOSE_CACHE_BYTES):
        _CLOSED.pop(next(iter(_CLOSED)))  # the least recently used
    return out, figures


def _close_solid(mesh, *, thickness, feature_voxels, resolution, max_resolution, max_faces,
                 memory_budget_bytes, path, seed):
    """:func:`close_solid` without the reuse."""
    from n4d4d.volume.quality import is_closed_manifold, mesh_quality
    from n4d4d.volume.remesh import remesh_watertight
    from n4d4d.volume.sdf import check_input

    check_input(mesh, path)
    if thickness is not None and not (np.isfinite(thickness) and thickness > 0):
        raise ValueError(f"thickness must be a positive number of metres, got {thickness!r}")
    if is_closed_manifold(mesh_quality(mesh)):
        return mesh, {"kind": "kept", "reason": "closed, manifold, consistently oriented"}
    hits, cap = thickness_samples(mesh, seed=seed)
    thin = float(min(cap, np.percentile(hits, THICKNESS_PERCENTILE))) if len(hits) else cap
    open_fraction = cap_fraction(mesh)
    band = 2.0
    common = dict(max_faces=max_faces, mode="always", band_voxels=band,
                  memory_budget_bytes=memory_budget_bytes, path=path, seed=seed)
    figures: dict = {"thinnest": thin, "feature_voxels": float(feature_voxels),
                     "cap_fraction": open_fraction}
    diag = float(np.linalg.norm(np.ptp(np.asarray(mesh.vertices, np.float64), axis=0)))
    if open_fraction < OPEN_SHELL_FRACTION:  # cracks and small holes: capped, closed as a solid
        r = part_resolution(mesh, feature=thin / feature_voxels, resolution=resolution,
                            max_resolution=max_resolution, band_voxels=band,
                            memory_budget_bytes=memory_budget_bytes, path=path)
        try:
            out, sdf, fig = remesh_watertight(mesh, resolution=r, **common)
            area = float(out.to_trimesh().area)  # the solid's own (the input's counts both
            solid = fig["volume_after"] > SHEET_VOLUME_VOXELS * sdf.voxel_size * area  # sides)
        except EmptyMeshError:
            solid = False
        p95 = ((fig.get("fidelity") or {}).get("p95_out_to_in") or 0.0) if solid else 0.0
        if solid and p95 > CAPPED_MAX_P95_FRACTION * diag:  # its caps stand far off the input
            figures["capped"] = {"rejected": f"p95 distance to the input {100 * p95 / diag:.2f}% of the "
                                             f"diagonal, over {100 * CAPPED_MAX_P95_FRACTION:g}%"}
            solid = False
        if solid:
            out, fig = _cover_capped(mesh, out, sdf, fig, common=common, figures=figures)
            figures.update(kind="solid", sign=fig.get("sign"), resolution=int(sdf.resolution),
                           voxel_size=float(sdf.voxel_size), remesh=fig)
            return out, figures
    # an open container or panel soup whose walls have both faces: solid between them (the
    # uncapped winding number), kept only if it is faithful both ways
    slab = _winding_slab(mesh, hits, thin, feature_voxels=feature_voxels, resolution=resolution,
                         max_resolution=max_resolution, common=common, figures=figures)
    slab_p95 = None
    if slab is not None:
        slab_p95 = float(figures["winding"]["p95_out_to_in"])  # of the slab as kept (its fidelity)
        # an open rim closed across a wall lies up to half the wall off the input (a rimless 20 mm
        # plate: p95 1.07 % of its diagonal, and a solid plate is what it is): only farther than
        # that and the target does the slab stand off (a fill between panels that are not one
        # wall's two faces: PartNet 103251/link_22, p95 = its median wall, 0.93 % at 256 cells and
        # 0.82 % at 320, so not the grid); then the shell is built too and set against it
        reach = max(CAPPED_MAX_P95_FRACTION * diag, 0.5 * float(figures["winding"].get("median_wall_m") or 0.0))  # None: no wall measured
        if slab_p95 <= reach:
            return slab, figures
        slab_figures = dict(figures)
        why = (f"p95 distance to the input {100 * slab_p95 / diag:.2f}% of the diagonal, over "
               f"{100 * CAPPED_MAX_P95_FRACTION:g}% and half the median wall: the shell instead if closer")
        figures["winding"] = {**figures["winding"], "rejected": why}
        for k in ("kind", "sign", "resolution", "voxel_size", "remesh"):
            figures.pop(k, None)
    # a sheet or open container: the shell about it, two voxels (or ``thickness``) thick, on
    # a grid at which a given wall spans ``feature_voxels`` voxels
    wall_voxels = DEFAULT_WALL_VOXELS if thickness is None else float(feature_voxels)
    diag = float(np.linalg.norm(np.ptp(np.asarray(mesh.vertices, np.float64), axis=0)))
    feature = SHELL_VOXEL_FRACTION * diag if thickness is None else thickness / wall_voxels
    r = part_resolution(mesh, feature=feature, resolution=resolution,
                        max_resolution=max(max_resolution, SHELL_MAX_RESOLUTION), band_voxels=band + wall_voxels / 2,
                        memory_budget_bytes=memory_budget_bytes, path=path)
    shell = dict(thickness=thickness, band=band, max_faces=max_faces, seed=seed, common=common)
    out, sdf, fig, clip, wall = _shell(mesh, r, **shell)
    from n4d4d.volume.winding import surface_distances

    nc = surface_distances(out, mesh, seed=seed, normals=True)[2] if thickness is None else 1.0
    if nc < SHELL_RETRY_NORMAL_CONSISTENCY:  # features under the grid's wall: once more, finer
        retry = {"normal_consistency_before": nc, "resolution_before": int(sdf.resolution)}
        try:
            r2 = part_resolution(mesh, feature=SHELL_RETRY_VOXEL_RATIO * float(sdf.voxel_size),
                                 resolution=resolution, max_resolution=SHELL_RETRY_MAX_RESOLUTION,
                                 band_voxels=band + wall_voxels / 2, memory_budget_bytes=memory_budget_bytes,
                                 path=path)
        except MemoryBudgetError as e:
            r2, retry["rejected"] = r, str(e)
        if r2 > int(sdf.resolution):
            fine = _shell(mesh, r2, **shell)
            nc2 = surface_distances(fine[0], mesh, seed=seed, normals=True)[2]
            retry.update(resolution_after=int(fine[1].resolution), normal_consistency_after=nc2, kept=nc2 > nc)
            if nc2 > nc:
                out, sdf, fig, clip, wall = fine
        else:
            retry.setdefault("rejected", f"resolution {r} is the finest the budget allows")
        figures["finer"] = retry
    if slab_p95 is not None:
        from n4d4d.volume.winding import surface_distances

        shell_p95 = float(np.percentile(surface_distances(out, mesh, seed=seed)[0], 95))
        thick = {"shell_extent_error": extent_error(out, mesh), "slab_extent_error": extent_error(slab, mesh)}
        # the shell only if closer and no thicker than the tolerance (or the slab): an open-rimmed
        # plate's slab has rims half its thickness off the faces, and its shell is a wall thicker
        if shell_p95 >= slab_p95 or thick["shell_extent_error"] > max(1.0, thick["slab_extent_error"]):
            slab_figures["winding"] = {**slab_figures["winding"], "shell_p95_out_to_in": shell_p95, **thick}
            return slab, slab_figures
        figures["winding"].update(shell_p95_out_to_in=shell_p95, **thick)
    figures["clip"] = clip
    figures.update(kind="shell", resolution=int(sdf.resolution), voxel_size=float(sdf.voxel_size),
                   wall=wall, wall_voxels=wall / float(sdf.voxel_size), remesh=fig,
                   reason=(f"open (its hole caps would add {100 * open_fraction:.0f}% of its area)"
                           if open_fraction >= OPEN_SHELL_FRACTION else "encloses no volume")
                   + (": a shell of the given wall (--solidify)" if thickness is not None else
                      f": a shell of the default wall, {DEFAULT_WALL_VOXELS:g} voxels"))
    return out, figures
