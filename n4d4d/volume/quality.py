"""Topology and size figures of a triangle mesh, as JSON-ready values.

:func:`mesh_quality` answers: is it closed (every edge has exactly two faces), is every edge
and every vertex manifold (a vertex is manifold when its faces form one fan, not two cones
touching at a point), are neighbouring faces consistently oriented, how many shells, and its
volume, area and Euler number. Vertices at the same position are welded first, so a mesh
split at UV seams is judged by its shape. It does not repair anything.
"""

from __future__ import annotations

import numpy as np

from n4d4d.volume._chain import weld


def _edges(faces: np.ndarray, n_vertices: int):
    """Directed half-edges ``(3F, 2)`` and, per half-edge, the id of its undirected edge,
    and the number of half-edges of each undirected edge."""
    he = np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2)
    key = np.minimum(he[:, 0], he[:, 1]) * n_vertices + np.maximum(he[:, 0], he[:, 1])
    _, edge_id, counts = np.unique(key, return_inverse=True, return_counts=True)
    return he, edge_id.reshape(-1), counts


def corner_fans(faces: np.ndarray, n_vertices: int, vertices: np.ndarray | None = None):
    """``(3F,) int64`` fan label of every corner (face ``i``, position ``k`` is corner
    ``3 i + k``): corners of one vertex share a label when their faces are linked through
    edges with exactly two faces around that vertex. A manifold vertex has one label.

    With ``vertices`` given, faces around an edge with more than two faces are linked in
    pairs too: sorted by angle around the edge, each face is paired with its neighbour across
    the solid wedge it bounds (the side its normal points away from). Cutting vertices by
    these fans (:func:`split_pinched`) then leaves every edge with exactly two faces.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n_c = 3 * len(faces)
    he = np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2)
    key_fwd = he[:, 0].astype(np.int64) * n_vertices + he[:, 1]
    key_rev = he[:, 1].astype(np.int64) * n_vertices + he[:, 0]
    und = np.minimum(key_fwd, key_rev)
    order = np.argsort(und, kind="stable")
    su = und[order]
    starts = np.flatnonzero(np.r_[True, su[1:] != su[:-1]])
    counts = np.diff(np.r_[starts, len(su)])
    two = starts[counts == 2]
    h1, h2 = order[two], order[two + 1]
    if vertices is not None:
        p1, p2 = _pair_around_edges(he, order, starts[counts > 2], counts[counts > 2],
                                    faces, vertices)
        h1, h2 = np.r_[h1, p1], np.r_[h2, p2]
    # half-edge h = 3 * face + k starts at corner h and ends at corner 3 * face + (k + 1) % 3
    nxt = lambda h: 3 * (h // 3) + (h % 3 + 1) % 3  # noqa: E731
    same_dir = he[h2, 0] == he[h1, 0]
    ca1, cb1 = h1, nxt(h1)
    ca2 = np.where(same_dir, h2, nxt(h2))
    cb2 = np.where(same_dir, nxt(h2), h2)
    graph = coo_matrix((np.ones(2 * len(h1), np.int8),
                        (np.r_[ca1, cb1], np.r_[ca2, cb2])), shape=(n_c, n_c))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _pair_around_edges(he, order, starts, counts, faces, vertices):
    """Half-edge pairs ``(h1, h2)`` across the solid wedges around non-manifold edges."""
    out1, out2 = [], []
    for s0, k in zip(starts, counts):
        hs = order[s0:s0 + k]
        a, b = he[hs[0]]
        axis = vertices[b] - vertices[a]
        axis /= np.linalg.norm(axis) or 1.0
        third = vertices[faces[hs // 3]].sum(axis=1) - vertices[a] - vertices[b]
        w = third - vertices[a]
        w -= np.outer(w @ axis, axis)
        ref = w[0] / (np.linalg.norm(w[0]) or 1.0)
        theta = np.arctan2(np.cross(ref, w) @ axis, w @ ref)
        ring = hs[np.argsort(theta)]
        wr = w[np.argsort(theta)]
        # the face normal, oriented by the half-edge's direction along the axis
        sign = np.where(he[ring, 0] == a, 1.0, -1.0)
        normal = np.cross(axis[None, :] * sign[:, None], wr)
        tangent = np.cross(axis[None, :], wr)  # direction of increasing angle
        # pair face i with i + 1 when turning forward from i enters the solid (against its
        # normal); pairs must run in opposite directions, else try the other offset
        n = len(ring)
        offsets = [0, 1] if (tangent[0] @ normal[0]) < 0 else [1, 0]
        for start in offsets:
            pairs = [(ring[i % n], ring[(i + 1) % n]) for i in range(start, start + n - 1, 2)]
            if n % 2 == 0 and all(he[p, 0] != he[q, 0] for p, q in pairs):
                break
        else:
            continue  # an odd or tangled fan: leave it (the checks will refuse the mesh)
        for p, q in pairs:
            out1.append(p)
            out2.append(q)
    return np.asarray(out1, dtype=np.int64), np.asarray(out2, dtype=np.int64)


def _vertex_manifold(faces: np.ndarray, n_vertices: int) -> bool:
    """True when the faces around every vertex form a single fan."""
    if len(faces) == 0:
        return True
    comp = corner_fans(faces, n_vertices)
    fans = np.unique(faces.reshape(-1).astype(np.int64) * len(comp) + comp) // len(comp)
    return bool(np.all(np.bincount(fans, minlength=n_vertices) <= 1))


def split_pinched(vertices: np.ndarray, faces: np.ndarray, pair_edges: bool = True):
    """Give each fan of a non-manifold vertex its own copy of the vertex: pinched vertices,
    and the ends of edges with more than two faces (paired by :func:`corner_fans` when
    ``pair_edges``; unpaired, such an edge links none of its faces, which cuts more).
    Returns ``(vertices, faces, number of vertices added)``; copies share a position."""
    comp = corner_fans(faces, len(vertices), vertices if pair_edges else None)
    key = faces.reshape(-1).astype(np.int64) * len(comp) + comp
    uniq, inverse = np.unique(key, return_inverse=True)
    added = len(uniq) - len(np.unique(faces))
    if added == 0:
        return vertices, faces, 0
    return vertices[uniq // len(comp)], inverse.reshape(-1, 3), int(added)


def shell_labels(faces: np.ndarray, n_vertices: int) -> tuple[int, np.ndarray]:
    """``(n_shells, label (F,))``: faces connected through shared vertices."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    f = len(faces)
    graph = coo_matrix((np.ones(3 * f, np.int8), (np.repeat(np.arange(f), 3),
                                                  f + faces.reshape(-1))),
                       shape=(f + n_vertices,) * 2)
    _, label = connected_components(graph, directed=False)
    uniq, face_label = np.unique(label[:f], return_inverse=True)
    return len(uniq), face_label.reshape(-1)


def signed_volumes(vertices: np.ndarray, faces: np.ndarray, label: np.ndarray, n: int):
    """``(n,)`` signed volume enclosed by the faces of each label (divergence theorem)."""
    v = vertices - vertices.mean(axis=0)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    six = (a[:, 0] * (b[:, 1] * c[:, 2] - b[:, 2] * c[:, 1])
           + a[:, 1] * (b[:, 2] * c[:, 0] - b[:, 0] * c[:, 2])
           + a[:, 2] * (b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0]))
    return np.bincount(label, weights=six, minlength=n) / 6.0


def mesh_quality(mesh) -> dict:
    """Figures of ``mesh`` (a :class:`n4d4d.asset.Mesh`), all plain JSON values:

    ``watertight`` (every edge shared by exactly two faces), ``edge_manifold`` (no edge with
    more than two faces), ``vertex_manifold`` (one fan per vertex), ``winding_consistent``
    (every two-face edge used once in each direction), ``n_shells`` (connected
    components), ``volume`` (m^3, signed: positive for outward normals), ``area`` (m^2),
    ``euler_number`` (V - E + F), ``n_vertices``, ``n_faces`` (after welding coincident
    vertices and dropping collapsed faces).
    """
    v, f = weld(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    out = {"n_vertices": int(len(v)), "n_faces": int(len(f))}
    if len(f) == 0:
        out.update(watertight=False, edge_manifold=True, vertex_manifold=True,
                   winding_consistent=True, n_shells=0, volume=0.0, area=0.0,
                   euler_number=int(len(v)))
        return out
    he, edge_id, counts = _edges(f, len(v))
    n_edges = len(counts)
    watertight = bool(np.all(counts == 2))
    edge_manifold = bool(np.all(counts <= 2))
    # consistent: for 2-face edges, the two half-edges run in opposite directions
    two = counts[edge_id] == 2
    fwd = he[:, 0] < he[:, 1]
    per_edge_fwd = np.bincount(edge_id[two], weights=fwd[two], minlength=n_edges)
    winding_consistent = bool(np.all(per_edge_fwd[counts == 2] == 1))
    # shells: faces connected through shared vertices
    n_shells, _ = shell_labels(f, len(v))
    tri = v[f]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = float(0.5 * np.linalg.norm(cross, axis=1).sum())
    volume = float(signed_volumes(v, f, np.zeros(len(f), np.int64), 1)[0])
    out.update(
        watertight=watertight, edge_manifold=edge_manifold,
        vertex_manifold=_vertex_manifold(f, len(v)),
        winding_consistent=winding_consistent, n_shells=n_shells, volume=volume, area=area,
        euler_number=int(len(v) - n_edges + len(f)),
    )
    return out


def is_closed_manifold(q: dict) -> bool:
    """True when the figures of :func:`mesh_quality` describe a closed, edge- and
    vertex-manifold, consistently oriented mesh with positive volume."""
    return bool(q["watertight"] and q["edge_manifold"] and q["vertex_manifold"]
                and q["winding_consistent"] and q["volume"] > 0)
