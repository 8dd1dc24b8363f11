"""Curve skeletons of organic shapes: joint positions and a parent tree.

What it does: voxelizes the closed mesh (grid nodes inside by the generalized winding number,
``resolution`` cells along the longest side), thins the solid to a one-voxel-wide medial curve
(``skimage.morphology.skeletonize``, Lee, Kashyap & Chu 1994), turns the curve voxels into a
26-neighbour graph, keeps its largest component, roots it at the curve voxel nearest the
shape's volume centroid (the pelvis / torso of a character, as RigNet's root), takes the
breadth-first tree from there, grows each terminal branch on to its limb's end where thinning
eroded it (a straight axis-aligned limb loses far more than its end cap's radius), prunes
terminal branches shorter than ``prune`` x the mesh diagonal (surface noise spurs), and places joints at the root, at branch points, at branch
ends and every ``spacing`` x diagonal along each chain. The joint count is capped at
``max_joints`` by widening the spacing.

A shape without branches that thinning erases entirely (a plain cylinder) gets its
principal axis instead, inset by its radius at both ends.

What it does not: name joints semantically (spine, arm ...), orient joint frames beyond pure
translations, or handle shapes thinner than about two voxels (they vanish in the grid: the
skeleton is then a single root joint).
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Mesh, Skeleton


def _solid_grid(mesh: Mesh, resolution: int):
    import igl

    lo, hi = mesh.bounds
    pitch = float((hi - lo).max()) / resolution
    lo = lo - 1.5 * pitch
    shape = np.ceil((hi - lo) / pitch).astype(int) + 2
    axes = [lo[i] + pitch * np.arange(shape[i]) for i in range(3)]
    q = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    w = igl.fast_winding_number(np.asarray(mesh.vertices), np.asarray(mesh.faces), q)
    return (w > 0.5).reshape(shape), lo, pitch


def curve_skeleton(mesh: Mesh, *, resolution: int = 64, prune: float = 0.08, spacing: float = 0.1,
                   max_joints: int = 32) -> Skeleton:
    """Curve skeleton of a closed mesh (see the module docstring).

    Args:
        mesh: closed surface, asset frame (m).
        resolution: voxels along the bounding box's longest side.
        prune: terminal branches shorter than this fraction of the diagonal are removed.
        spacing: joint spacing along chains, fraction of the diagonal.
        max_joints: upper bound on the joint count.

    Returns:
        A :class:`~n4d4d.asset.Skeleton`: ``J`` joints named ``joint_0..``, ``parents (J,) int64``
        (-1 for the root, parents before children), ``bind_positions (J, 3) float64`` (m).
    """
    import networkx as nx
    from skimage.morphology import skeletonize

    solid, lo, pitch = _solid_grid(mesh, resolution)
    centroid = np.argwhere(solid).mean(0) * pitch + lo if solid.any() else mesh.vertices.mean(0)
    skel = skeletonize(solid) > 0 if solid.any() else solid
    idx = np.argwhere(skel)
    if len(idx) < 2 and solid.any():
        idx = _axis_voxels(np.argwhere(solid))
    if len(idx) < 2:
        return Skeleton(("joint_0",), np.array([-1], np.int64), centroid[None, :].astype(np.float64))
    pos = idx * pitch + lo
    lookup = {tuple(v): i for i, v in enumerate(idx)}
    g = nx.Graph()
    g.add_nodes_from(range(len(idx)))
    offs = [np.array(o) for o in np.ndindex(3, 3, 3) if o != (1, 1, 1)]
    for i, v in enumerate(idx):
        for o in offs:
            j = lookup.get(tuple(v + o - 1))
            if j is not None and j > i:
                g.add_edge(i, j, weight=float(np.linalg.norm(o - 1)) * pitch)
    comp = max(nx.connected_components(g), key=len)
    g = g.subgraph(comp).copy()
    nodes = np.array(sorted(comp))
    root = int(nodes[np.argmin(np.linalg.norm(pos[nodes] - centroid, axis=1))])
    tree = nx.minimum_spanning_tree(g)
    t = nx.bfs_tree(tree, root)
    pos = _extend_ends(t, root, pos, solid, lo, pitch)  # before pruning: an eroded limb is no spur
    tree = t.to_undirected()
    diag = mesh.diagonal
    # prune short terminal branches, twice (a pruned spur can expose another)
    for _ in range(2):
        t = nx.bfs_tree(tree, root)
        for leaf in [n for n in t if t.out_degree(n) == 0 and n != root]:
            path, n = [leaf], leaf
            while True:
                p = next(iter(t.predecessors(n)), None)
                if p is None or t.out_degree(p) > 1 or p == root:
                    break
                path.append(p)
                n = p
            length = len(path) * pitch
            if length < prune * diag and tree.number_of_nodes() > len(path) + 1:
                tree.remove_nodes_from(path)
    t = nx.bfs_tree(tree, root)
    step = spacing * diag
    while True:
        joints, parents = _place_joints(t, root, pos, step)
        if len(joints) <= max_joints:
            break
        step *= 1.25
    names = tuple(f"joint_{i}" for i in range(len(joints)))
    return Skeleton(names, np.array(parents, np.int64), np.array([pos[j] for j in joints], np.float64))


def _extend_ends(t, root, pos: np.ndarray, solid: np.ndarray, lo: np.ndarray, pitch: float) -> np.ndarray:
    """Grow each terminal branch of tree ``t`` (networkx DiGraph from ``root``, nodes index
    ``pos (N, 3)``, m) straight on to its limb's end, inset by the limb's radius: returns ``pos``
    with the added nodes' positions appended (the nodes join ``t`` as a chain below the leaf).

    Lee's thinning ends a round limb about its radius short of the tip (the centre of its end
    cap), but erodes an axis-aligned straight limb much further: a procedural animal's straight
    leg (a vertical capsule, foot 0.06 m in radius) ended 0.215 m above the ground, so the skin
    weights shared the foot between the two leg bones and the gait sank it 16 mm. The branch's
    direction is taken over its last voxels (at least its radius' worth); the solid along it is
    followed to where it exits, and the branch ends the limb's radius (the distance transform at
    the leaf) before that. A branch already within 1.5 voxels of that end, or shorter than two
    voxels (no direction), is left as it is. Runs before the spur pruning, so that a limb eroded
    to a stub is not pruned away as surface noise."""
    from scipy.ndimage import distance_transform_edt

    edt = distance_transform_edt(solid) * pitch
    shape = np.array(solid.shape)
    added: list[np.ndarray] = []
    n_old = len(pos)
    for leaf in [n for n in list(t) if t.out_degree(n) == 0 and n != root]:
        v = np.round((pos[leaf] - lo) / pitch).astype(int)
        r = float(edt[tuple(v)])
        up, k = leaf, 0
        while k < max(2, int(np.ceil(r / pitch))):  # along the branch, not past where it forks
            p = next(iter(t.predecessors(up)), None)
            if p is None or t.out_degree(p) > 1:
                break
            up, k = p, k + 1
        d = pos[leaf] - pos[up]
        if k < 2 or np.linalg.norm(d) < 1e-12:
            continue
        d = d / np.linalg.norm(d)
        s = 0.0
        while True:
            c = np.round((pos[leaf] + (s + 0.5 * pitch) * d - lo) / pitch).astype(int)
            if (c < 0).any() or (c >= shape).any() or not solid[tuple(c)]:
                break
            s += 0.5 * pitch
        want = s - r
        if want <= 1.5 * pitch:
            continue
        prev = leaf
        for step in np.arange(pitch, want + 1e-9, pitch):
            node = n_old + len(added)
            added.append(pos[leaf] + step * d)
            t.add_edge(prev, node)
            prev = node
    return np.vstack([pos, np.array(added)]) if added else pos


def _axis_voxels(cells: np.ndarray) -> np.ndarray:
    """Voxels ``(M, 3) int64`` along the principal axis of solid ``cells (N, 3)``, inset by
    the solid's radius at each end (where Lee's thinning ends a limb): the curve skeleton of
    a shape without branches, which thinning (scikit-image 0.26) can erase entirely. Empty
    for a shape no longer than it is wide."""
    mean = cells.mean(0)
    w, v = np.linalg.eigh(np.cov((cells - mean).T))
    a = v[:, np.argmax(w)]
    t = (cells - mean) @ a
    radius = float(np.sqrt(np.max(np.sum((cells - mean) ** 2, 1) - t ** 2)))
    lo, hi = t.min() + radius, t.max() - radius
    if hi - lo < 1.0:
        return np.zeros((0, 3), np.int64)
    steps = np.arange(lo, hi + 1e-9, 0.5)
    line = np.unique(np.round(mean + steps[:, None] * a).astype(np.int64), axis=0)
    return line[np.argsort((line - mean) @ a)]


def _place_joints(t, root, pos, step):
    """Joints at root, branch points, ends and every ``step`` metres along chains."""
    joints, parents = [root], [-1]
    stack = [(root, 0, 0.0)]
    while stack:
        node, parent_joint, run = stack.pop()
        for ch in t.successors(node):
            d = run + float(np.linalg.norm(pos[ch] - pos[node]))
            key = t.out_degree(ch) != 1
            if key or d >= step:
                joints.append(ch)
                parents.append(parent_joint)
                stack.append((ch, len(joints) - 1, 0.0))
            else:
                stack.append((ch, parent_joint, d))
    return joints, parents


def bones(skeleton: Skeleton) -> list[tuple[int, int]]:
    """``[(parent, child), ...]`` joint index pairs, one per non-root joint (a bone)."""
    return [(int(p), j) for j, p in enumerate(skeleton.parents) if p >= 0]
