"""Rigid-part segmentation of a mesh and watertight closing of part meshes.

What it does:

- **Parts from labels**: faces grouped by the source's sub-mesh labels (``Mesh.face_submesh``:
  a multi-mesh GLB/OBJ, a URDF's links).
- **Parts from connected components** (no labels: a merged mesh as a generator hands it over):
  the mesh's pieces (triangles joined across edges two triangles share, after welding
  coincident vertices and dropping duplicate triangles), then pieces that share three or more
  vertex positions (one surface with a non-manifold seam) or interpenetrate (more than 30 %
  of the smaller one's surface samples inside the other) are fused into one rigid part, as a
  handle modelled through a door is one body with it; small pieces (under
  :data:`SMALL_PIECE` of the diagonal) touching each other are one small part (a key's cap
  and its stem), weighed together by the tiny-part merge below.
- **Welded structure** (:func:`fuse_held`, merged meshes only): a piece that touches others
  (within 1e-4 of the diagonal) on faces turned opposite ways, so no single motion pulls it
  off them all (a cabinet's side panel between its top, bottom and back), is welded to every
  piece it touches; a cabinet modelled as separate panels becomes one static body, while a
  door, drawer or lid with a clearance, or resting against its frame on one face, stays apart
  (a piece not held itself is welded only to two or more held ones).
- **Merging degenerate or tiny parts**: a part with fewer than 4 faces, (almost) no area, or a
  bounding-box diagonal under ``min_fraction`` (default 1.5 %) of the whole mesh's diagonal is
  merged into the part nearest to it, never emitted alone. Buttons are kept: a microwave's
  keys are 2.7 % of its diagonal, an oven's knobs 1.5 %, a door's handle 3.9 % (a floor of
  4 % merged them all into their panels, so no joint could be found for them).
- **Closing**: every part mesh handed to later stages must be watertight (the physics stage
  decomposes and weighs it). A part that already is (a closed component, or a union of closed
  components with consistent orientation) is kept as it is. Otherwise it is closed by the one
  watertight engine, :func:`n4d4d.volume.solids.close_solid`: exact distances and the
  generalized winding number on a grid whose voxel is fine enough that the part's thinnest
  extent spans 3 voxels, marching cubes, quadric decimation; a part that encloses no volume (a
  sheet) becomes a shell of two voxels' wall (or ``thickness``) about it.

- **Crease cuts** (merged meshes): a piece is first cut along the concave creases that ring
  whatever stands out of it (:mod:`n4d4d.rigging.creases`): PartNet-Mobility models a remote's
  keys and a camera's buttons welded through their body's holes, one surface with it.

What it does not: cut a surface along anything but a closed concave crease (no learned or
thin-neck segmentation: a smooth watertight body is one rigid part, or a skeleton's skinned
body).
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Mesh


def label_groups(mesh: Mesh) -> list[tuple[str, np.ndarray]]:
    """``[(name, face_indices (F_i,) int64), ...]`` from ``mesh.face_submesh``; empty list when
    the mesh has no labels. Names are made unique."""
    if mesh.face_submesh is None:
        return []
    out, seen = [], set()
    for lab in np.unique(mesh.face_submesh):
        name = mesh.submesh_names[lab] if lab < len(mesh.submesh_names) else f"part_{lab}"
        base, k = name, 1
        while name in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name)
        out.append((name, np.flatnonzero(mesh.face_submesh == lab).astype(np.int64)))
    return out


def shared_vertices(mesh: Mesh, pieces: list[np.ndarray], *, tol: float = 1e-6) -> np.ndarray:
    """``(P, P) int64`` number of vertex positions (welded within ``tol`` x the diagonal)
    that pieces (face index arrays) share; the diagonal holds each piece's own count."""
    import scipy.sparse as sp

    scale = max(mesh.diagonal, 1e-300) * tol
    _, weld = np.unique(np.round(np.asarray(mesh.vertices) / scale), axis=0, return_inverse=True)
    weld = weld.ravel()
    rows, cols = [], []
    for k, f in enumerate(pieces):
        w = np.unique(weld[np.asarray(mesh.faces)[f]])
        rows.append(np.full(len(w), k))
        cols.append(w)
    M = sp.csr_matrix((np.ones(sum(len(c) for c in cols)), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(len(pieces), int(weld.max()) + 1))
    return np.asarray((M @ M.T).todense(), np.int64)


SMALL_PIECE = 0.04  # merged meshes: pieces under this fraction of the diagonal that touch ...
SMALL_TOUCH = 1e-3  # ... within this fraction of it are one small part (component_groups)


def component_groups(mesh: Mesh, *, seed: int = 0, creases: bool = True) -> list[tuple[str, np.ndarray]]:
    """Pieces (:func:`~n4d4d.rigging.geometry.mesh_components`), each cut along the concave
    creases around what stands out of it when ``creases`` (:func:`n4d4d.rigging.creases.crease_cuts`:
    a key welded into its keypad), joined where two pieces share three or more vertex positions
    (one surface modelled across a non-manifold seam; two solids touching along an edge share
    two; the cuts of one piece share their rim and are not joined for it) or interpenetrate
    (see module docstring): ``[("part_0", faces), ...]`` ordered by decreasing face count. A
    mesh of one uncut piece, or of more than 400 pieces, is one group."""
    from scipy.sparse.csgraph import connected_components

    from n4d4d.rigging.geometry import PartGeometry, mesh_components

    from n4d4d.rigging.creases import crease_cuts, welded

    pieces = mesh_components(mesh.vertices, mesh.faces)
    if len(pieces) > 400:
        return [("part_0", np.arange(len(mesh.faces), dtype=np.int64))]
    comps, origin = [], []
    weld = welded(mesh.vertices, mesh.faces) if creases and len(pieces) else None
    for k, c in enumerate(pieces):  # a key welded through its keypad's hole: cut along the crease
        cuts = crease_cuts(mesh.vertices, mesh.faces, c, weld=weld) if creases else [c]
        comps += cuts
        origin += [k] * len(cuts)
    origin = np.asarray(origin)
    if len(comps) <= 1:
        return [("part_0", np.arange(len(mesh.faces), dtype=np.int64))]
    geos = [PartGeometry(str(i), mesh.vertices, mesh.faces[c], n_samples=200, seed=seed)
            for i, c in enumerate(comps)]
    lo = np.array([g.vertices.min(0) for g in geos])
    hi = np.array([g.vertices.max(0) for g in geos])
    n = len(comps)
    adj = (shared_vertices(mesh, comps) >= 3) & (origin[:, None] != origin[None, :])  # crease cuts share their rim
    for i in range(n):
        for j in range(n):
            if i == j or np.any(lo[i] > hi[j]) or np.any(lo[j] > hi[i]):
                continue
            if geos[j].area < geos[i].area:  # test the smaller one's samples inside the larger
                continue
            if geos[j].inside(geos[i].points).mean() > 0.3:
                adj[i, j] = adj[j, i] = True
    # small pieces touching each other are one small part (a key's cap and its stem, a button's
    # rim and face): joined before merge_small sees them, so they are weighed together
    D = max(mesh.diagonal, 1e-300)
    tol = SMALL_TOUCH * D
    small = [i for i in range(n) if geos[i].diag < SMALL_PIECE * D]
    for a, i in enumerate(small):
        for j in small[a + 1:]:
            if adj[i, j] or np.any(lo[i] > hi[j] + tol) or np.any(lo[j] > hi[i] + tol):
                continue
            if float(geos[j].distance(geos[i].points).min()) <= tol:
                adj[i, j] = adj[j, i] = True
    k, lab = connected_components(adj, directed=False)
    groups = [np.concatenate([comps[i] for i in range(n) if lab[i] == g]) for g in range(k)]
    groups.sort(key=len, reverse=True)
    return [(f"part_{i}", np.sort(g)) for i, g in enumerate(groups)]


def merge_small(mesh: Mesh, groups: list[tuple[str, np.ndarray]], *,
                min_fraction: float = 0.015) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """Merge degenerate or tiny parts into their nearest neighbour (see module docstring).

    The nearest neighbour is the group with the closest vertex (k-d trees cached per group;
    groups are visited by the gap between bounding boxes, a lower bound of that distance).
    Returns the new groups and the names of the parts merged away.
    """
    from scipy.spatial import cKDTree

    diag = mesh.diagonal
    groups = list(groups)
    merged = []
    V = [mesh.vertices[np.unique(mesh.faces[f])] for _, f in groups]
    trees: list = [None] * len(groups)

    def small(k):
        faces, v = groups[k][1], V[k]
        t = mesh.vertices[mesh.faces[faces]]
        area = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum()
        return len(faces) < 4 or area <= 1e-12 * diag ** 2 or np.linalg.norm(np.ptp(v, 0)) < min_fraction * diag

    flags = [small(k) for k in range(len(groups))]
    while len(groups) > 1:
        idx = next((i for i, f in enumerate(flags) if f), None)
        if idx is None:
            break
        name, faces = groups.pop(idx)
        pts = V.pop(idx)
        trees.pop(idx)
        flags.pop(idx)
        lo, hi = pts.min(0), pts.max(0)
        gaps = [float(np.linalg.norm(np.maximum(0.0, np.maximum(v.min(0) - hi, lo - v.max(0))))) for v in V]
        best, j = np.inf, 0
        for k in np.argsort(gaps):
            if gaps[k] >= best:
                break
            if trees[k] is None:
                trees[k] = cKDTree(V[k])
            d = float(trees[k].query(pts)[0].min())
            if d < best:
                best, j = d, int(k)
        groups[j] = (groups[j][0], np.sort(np.concatenate([groups[j][1], faces])))
        V[j] = np.concatenate([V[j], pts])
        trees[j] = None
        flags[j] = small(j)
        merged.append(name)
    return groups, merged


def submesh(mesh: Mesh, faces: np.ndarray) -> Mesh:
    """The faces ``faces`` of ``mesh`` as a compact :class:`Mesh` (unused vertices dropped)."""
    f = mesh.faces[faces]
    used, inv = np.unique(f, return_inverse=True)
    return Mesh(mesh.vertices[used], inv.reshape(-1, 3))


#: A closed piece counts as a solid only when its mean thickness, ``2 V / A``, is at least this
#: fraction of its own diagonal: a sheet written twice face to face (PartNet-Mobility 101068's
#: flat links, volume ~1e-19 m^3) is watertight with a volume of rounding error, and kept as a
#: "solid" it is not a manifold once its coincident vertices are welded. A 1 mm plate 20 cm
#: across has a ratio of 5e-3, so real thin plates pass.
MIN_SOLID_THICKNESS = 1e-4


def is_closed(mesh: Mesh) -> bool:
    """Watertight (every edge shared by exactly two faces) with consistent winding and
    positive volume, a mean thickness ``2 V / A`` of at least :data:`MIN_SOLID_THICKNESS` of
    the diagonal."""
    tm = mesh.to_trimesh()
    return bool(tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
                and _thick_enough(tm, mesh.diagonal))


def _thick_enough(tm, diagonal: float) -> bool:
    return bool(2.0 * abs(tm.volume) > MIN_SOLID_THICKNESS * tm.area * diagonal)


def closed_pieces(mesh: Mesh) -> tuple[list[Mesh], np.ndarray]:
    """The pieces of ``mesh`` (:func:`~n4d4d.rigging.geometry.mesh_components`) that are
    already solids, and the faces of the rest.

    Returns ``(solids, rest)``: each solid a compact :class:`Mesh` passing :func:`is_closed`
    (a piece closed but turned inside out, negative volume, is turned outward; one thinner than
    :data:`MIN_SOLID_THICKNESS` of its diagonal is not a solid), ``rest`` the
    ``(F_r,) int64`` indices of ``mesh.faces`` in the other pieces (open, or not closed
    without welding). A mesh of one piece gives ``([], all faces)`` unless it is closed."""
    from n4d4d.rigging.geometry import mesh_components

    comps = mesh_components(mesh.vertices, mesh.faces)
    if len(comps) <= 1:
        return ([mesh] if is_closed(mesh) else []), (np.zeros(0, np.int64) if is_closed(mesh)
                                                      else np.arange(len(mesh.faces), dtype=np.int64))
    solids, rest = [], []
    for c in comps:
        piece = submesh(mesh, c)
        tm = piece.to_trimesh()
        if tm.is_watertight and tm.is_winding_consistent and _thick_enough(tm, piece.diagonal):
            solids.append(piece if tm.volume > 0 else Mesh(piece.vertices, piece.faces[:, ::-1].copy()))
        else:
            rest.append(c)
    return solids, (np.sort(np.concatenate(rest)) if rest else np.zeros(0, np.int64))


def union_solids(meshes: list[Mesh]) -> tuple[Mesh, bool]:
    """One closed :class:`Mesh` of closed ``meshes`` (m): their boolean union
    (manifold3d), so pieces that overlap are counted once in a volume or a mass; and whether
    the union was made. Where manifold3d rejects a piece or the union fails, the pieces side
    by side (vertices and faces concatenated, still watertight, overlaps counted twice)."""
    if len(meshes) == 1:
        return meshes[0], True
    try:
        import manifold3d as mf

        from n4d4d.volume.disjoint import from_manifold, to_manifold

        ms = [to_manifold(m) for m in meshes]
        if all(m is not None for m in ms):
            u = mf.Manifold.batch_boolean(ms, mf.OpType.Add)
            if u.status() == mf.Error.NoError and not u.is_empty():
                out = from_manifold(u, meshes[0])
                if is_closed(out):
                    return Mesh(out.vertices, out.faces), True
    except Exception:  # noqa: BLE001 - a failed boolean leaves the pieces side by side
        pass
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return Mesh(np.concatenate([np.asarray(m.vertices, np.float64) for m in meshes]),
                np.concatenate([np.asarray(m.faces, np.int64) + o for m, o in zip(meshes, offsets)])), False


def close_mesh(mesh: Mesh, *, thickness: float | None = None,
               figures: dict | None = None) -> tuple[Mesh, bool]:
    """A watertight version of ``mesh`` and whether it had to be rebuilt (see the module
    docstring; :func:`n4d4d.volume.solids.close_solid` with ``thickness`` the wall of a
    sheet-like part, m). ``figures``, if a dict, receives the closer's figures. Raises
    ValueError for a mesh with no extent.

    Pieces that are already solids (:func:`closed_pieces`) are kept as they are and only the
    others are closed (together, as one soup), then all united (:func:`union_solids`): the closer's cost grows
    with the grid band about the surface it is handed, so a robot's body of 31 pieces, 2,780 of
    its 180,586 faces in open ones (pybullet_data's microtaur), closes in seconds rather than
    minutes, and its closed pieces keep their exact surface. ``figures`` then also holds
    ``closed_pieces_kept`` (count), ``faces_closed`` (faces handed to the closer) and
    ``union`` (whether the boolean union was made)."""
    if is_closed(mesh):
        return mesh, False
    from n4d4d.errors import EmptyMeshError
    from n4d4d.volume.solids import close_solid

    if not mesh.diagonal > 0:
        raise ValueError("part mesh has no extent")
    solids, rest = closed_pieces(mesh)
    if solids:
        fig = {"kind": "kept", "reason": "closed pieces"}
        extra = {"closed_pieces_kept": len(solids), "faces_closed": int(len(rest))}
        open_part = submesh(mesh, rest) if len(rest) else None
        if open_part is not None and open_part.diagonal > 0:
            try:
                closed, fig = close_solid(open_part, thickness=thickness)
                solids = solids + [Mesh(closed.vertices, closed.faces)]
            except EmptyMeshError as e:  # slivers that enclose nothing and cannot be walled
                extra["open_faces_left_out"] = int(len(rest))
                extra["why_left_out"] = str(e)
        elif open_part is not None:
            extra["open_faces_left_out"] = int(len(rest))
        out, extra["union"] = union_solids(solids)
        if figures is not None:
            figures.update(fig, **extra)
        return out, True
    try:
        closed, fig = close_solid(mesh, thickness=thickness)
    except EmptyMeshError as e:
        raise ValueError(f"part mesh cannot be closed: {e}") from e
    if figures is not None:
        figures.update(fig)
    return Mesh(closed.vertices, closed.faces), fig["kind"] != "kept"


HELD_TOL = 1e-4  # pieces within this fraction of the mesh diagonal of each other touch (welded)
HELD_MIN_SAMPLES = 5  # a contact patch needs this many surface samples (a corner kiss is none)
HELD_SEPARATION = 0.2  # a piece pulls away from a contact when its motion . normal <= -this
HELD_SEAM = 0.3  # a holding contact is a seam at least this fraction of the smaller piece's diagonal long
HELD_BY = 0.5  # ... with a neighbour of comparable size: diagonals within this ratio of each other
HELD_DIRECTIONS = 200  # pull directions tried by is_held (a Fibonacci sphere: ~14 degrees apart)
HELD_MAX_GROUPS = 400  # more groups than this are left unfused (the pairwise contacts would cost minutes)


def contact_normals(geos: list, tol: float) -> dict[int, list[tuple[int, np.ndarray, float]]]:
    """Touching pairs of pieces and their contact normals: ``{i: [(j, n (3,), length), ...]}``
    where ``n`` is the unit normal of piece ``i``'s contact patch with piece ``j`` pointing from
    ``i`` into ``j`` and ``length`` (m) the patch's extent along its principal axis.

    ``geos`` are :class:`~n4d4d.rigging.geometry.PartGeometry` (asset frame, m); a patch is the
    samples of both pieces within ``tol`` (m) of the other one (at least
    :data:`HELD_MIN_SAMPLES` of them); its normal is the direction of least spread of the patch
    (principal axes: a face-on-face or end-on-face contact is flat), oriented towards ``j``'s
    centroid. A line contact (two directions of near-zero spread) has no defined normal and is
    left out."""
    from n4d4d.rigging.geometry import pca

    n = len(geos)
    lo = np.array([g.vertices.min(0) for g in geos])
    hi = np.array([g.vertices.max(0) for g in geos])
    out: dict[int, list] = {i: [] for i in range(n)}
    for i in range(n):
        for j in range(i + 1, n):
            if np.any(lo[i] > hi[j] + tol) or np.any(lo[j] > hi[i] + tol):
                continue
            a, b = geos[i], geos[j]
            pa = a.points[b.distance(a.points) <= tol]
            pb = b.points[a.distance(b.points) <= tol]
            patch = np.concatenate([pa, pb])
            if len(patch) < HELD_MIN_SAMPLES:
                continue
            centre, w, vecs = pca(patch)
            if w[1] <= 1e-6 * max(w[0], 1e-300):  # a line: no plane, no normal
                continue
            nrm = vecs[:, 2]
            if (b.points.mean(0) - a.points.mean(0)) @ nrm < 0:
                nrm = -nrm
            length = float(np.ptp((patch - centre) @ vecs[:, 0]))
            out[i].append((j, nrm, length))
            out[j].append((i, -nrm, length))
    return out


def _directions(k: int) -> np.ndarray:
    """``(k, 3)`` unit vectors spread over the sphere (Fibonacci lattice). The physics stage
    has its own (``rest_pose.fibonacci_directions``); rigging runs before it and may not import
    it (``tests/test_import_graph.py``)."""
    i = np.arange(k) + 0.5
    z = 1.0 - 2.0 * i / k
    r = np.sqrt(1.0 - z * z)
    phi = np.pi * (3.0 - np.sqrt(5.0)) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], 1)


def is_held(normals: list[np.ndarray]) -> bool:
    """True when no single translation pulls a piece away from all its contacts at once:
    no unit ``d`` with ``d . n <= -HELD_SEPARATION`` for every contact normal ``n`` (normals
    from the piece into its neighbours). A panel between two others (contacts on opposite
    faces), or one seamed on three sides of a box, is held; a door or lid resting against a
    frame on one face is not."""
    if len(normals) < 2:
        return False
    N = np.asarray(normals)
    return not bool(np.any(np.all(_directions(HELD_DIRECTIONS) @ N.T <= -HELD_SEPARATION, axis=1)))


def fuse_held(mesh: Mesh, groups: list[tuple[str, np.ndarray]], *, tol: float = HELD_TOL,
              seed: int = 0) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """Fuse welded structure: a group that touches others (within ``tol`` x the mesh diagonal)
    and is held by them (:func:`is_held`: its contacts face opposite ways, so it cannot be pulled
    off by any one motion, as a cabinet's side panel between its top, bottom and back) is one
    rigid body with every group it touches that is held too, or that two or more held groups
    touch (one held neighbour alone is what a door, lid or drawer rests on). Only *seams* hold: contacts at least
    :data:`HELD_SEAM` of the smaller piece's diagonal long with a neighbour of comparable
    size (diagonals within a ratio :data:`HELD_BY` of each other): a hinge knuckle between a
    frame and a temple, or a boss between an arm's links, is small against both and welds
    neither to the other; a phone's body between buttons on both faces is not held by them.
    Pieces with a clearance to their neighbours (a door, a drawer, a lid, a key in its pocket)
    touch nothing and are left alone; so is a part resting against others on one face only.

    Args:
        mesh: the whole mesh (asset frame, m); ``groups``: ``[(name, faces (F_i,) int64), ...]``.
    Returns:
        The fused groups (ordered by decreasing face count, each named after its largest
        member) and the names of the groups fused away. A mesh of more than
        :data:`HELD_MAX_GROUPS` groups is left as it is.
    """
    from scipy.sparse.csgraph import connected_components

    from n4d4d.rigging.geometry import PartGeometry

    if len(groups) < 2 or len(groups) > HELD_MAX_GROUPS:
        return list(groups), []
    geos = [PartGeometry(n, mesh.vertices, mesh.faces[f], n_samples=1500, seed=seed) for n, f in groups]
    contacts = contact_normals(geos, tol * mesh.diagonal)
    n = len(groups)
    seams = [[(j, nrm) for j, nrm, length in contacts[i]
              if HELD_BY <= geos[j].diag / geos[i].diag <= 1.0 / HELD_BY
              and length >= HELD_SEAM * min(geos[i].diag, geos[j].diag)] for i in range(n)]
    held = np.array([is_held([nrm for _, nrm in s]) for s in seams])
    # a piece that is not held itself is welded to held ones only when two or more of them
    # hold it (a cabinet's top on both sides); one held neighbour alone is where a door, a lid
    # or a drawer rests on its body (PartNet-Mobility 11709's doors against the refrigerator,
    # 32052's drawers on the table's shelf)
    holders = np.array([sum(bool(held[j]) for j, _ in s) for s in seams])
    adj = np.zeros((n, n), bool)
    for i in range(n):
        if held[i]:
            for j, _ in seams[i]:
                if held[j] or holders[j] >= 2:
                    adj[i, j] = adj[j, i] = True
    k, lab = connected_components(adj, directed=False)
    if k == n:
        return list(groups), []
    out, gone = [], []
    for c in range(k):
        members = [i for i in range(n) if lab[i] == c]
        members.sort(key=lambda i: -len(groups[i][1]))
        gone += [groups[i][0] for i in members[1:]]
        out.append((groups[members[0]][0], np.sort(np.concatenate([groups[i][1] for i in members]))))
    out.sort(key=lambda g: -len(g[1]))
    return out, gone
