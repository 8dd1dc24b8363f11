"""The kinematic tree of a set of rigid parts, from their contacts (part of joint inference,
:mod:`n4d4d.rigging.joints`).

What it does: :func:`contact_graph` weighs every pair of parts by their gap and bond (how much
of the smaller one touches or sits inside the other); :func:`kinematic_tree` is its minimum
spanning tree rooted at the part of largest convex-hull volume (:func:`hull_volume`);
:func:`_subtrees` and :func:`_relative_mover` say what each joint carries and which parts move
relative to which; :func:`_one_joint_per_pin` keeps one turning joint per pin (an axle or hub
modelled apart gives one joint, not two). What it does not: infer a joint's type, axis or range.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from n4d4d.budget import process_cpu_seconds as work_clock  # deadlines count work, not the clock (issue 13)
from n4d4d.rigging.geometry import PartGeometry

if TYPE_CHECKING:
    from n4d4d.rigging.joints import InferredJoint

MANY_PARTS = 80  # above it the contact graph skips its winding-number term
SEAM_GAP = 1e-3  # merged meshes: pieces closer than this fraction of the largest part are seamed (one structure first)


def hull_volume(part: PartGeometry) -> float:
    """Convex-hull volume (m^3) of a part's vertices, 0 if degenerate."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        return float(ConvexHull(part.vertices).volume)
    except (QhullError, ValueError):
        return 0.0


def contact_graph(parts: list[PartGeometry], deadline: float | None = None, *, seam: float = 0.0):
    """The parts' contact graph: a ``networkx.Graph`` whose edges carry ``weight`` (see
    :func:`kinematic_tree`) and ``touch`` (True when the two parts come within 1 % of the
    smaller one's diagonal of each other). Once ``deadline`` (:func:`work_clock` s: CPU seconds of
    this process) has passed, the remaining pairs are weighted by their bounding boxes' gap alone (and do not
    touch); with more than :data:`MANY_PARTS` parts the inside term of the bond is left out
    (a winding number per pair: minutes for a rack of 200 rods).

    ``seam`` (a fraction of the largest part diagonal ``D``; 0: off): pairs closer than
    ``seam * D`` are *seamed* (butted pieces of one structure, modelled a hair apart) and
    weighted by their gap alone, before any pair further apart however wide its patch: a
    merged mesh's panels are linked to each other before a drawer resting 3 mm over the
    cabinet floor is linked to that floor (:data:`SEAM_GAP`)."""
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(p.name for p in parts)
    D = max(p.diag for p in parts)
    lo = np.array([p.vertices.min(0) for p in parts])
    hi = np.array([p.vertices.max(0) for p in parts])
    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            a, b = parts[i], parts[j]
            box_gap = float(np.linalg.norm(np.maximum(0.0, np.maximum(lo[i] - hi[j], lo[j] - hi[i]))))
            late = deadline is not None and work_clock() > deadline
            if box_gap > 0.05 * D or late:  # far apart: the boxes' gap bounds the distance from below
                g.add_edge(a.name, b.name, weight=box_gap / D + 0.05, touch=False)
                continue
            da, db = b.distance(a.points), a.distance(b.points)
            gap = float(min(da.min(), db.min()))
            small, d_small, large = (a, da, b) if a.area <= b.area else (b, db, a)
            bond = float((d_small <= 0.01 * small.diag).mean())
            seamed = seam > 0 and gap <= seam * D  # one structure: the gap alone weighs it
            if not seamed and gap <= 0.05 * D and len(parts) <= MANY_PARTS:
                bond += float(large.inside(small.points).mean())
            weight = gap / D if seamed else gap / D + 0.05 * (1.0 - min(bond, 1.0))
            g.add_edge(a.name, b.name, weight=weight, touch=bool(gap <= 0.01 * min(a.diag, b.diag)))
    return g


def kinematic_tree(parts: list[PartGeometry], root: str | None = None, graph=None) -> list[tuple[str, str]]:
    """Parent -> child edges ``[(parent, child), ...]`` in breadth-first order.

    Minimum spanning tree of the parts' graph (:func:`contact_graph`, or ``graph``) weighted
    by ``gap / D + 0.05 (1 - bond)``: ``gap`` the closest distance between the two parts
    (exact distances from each part's samples to the other's surface; for parts whose boxes
    are more than ``0.05 D`` apart, the boxes' gap), ``D`` the largest part diagonal, and
    ``bond`` (0..1) the fraction of the smaller part's samples touching the other (within 1 %
    of its diagonal) plus the fraction inside it. Among parts that touch, a part mounted inside
    another (a steering knuckle in a wheel hub) or resting on it over a wide patch (a lid on
    its base, rather than a magazine grazing it) is linked first. Rooted at ``root`` or at
    the part of largest convex-hull volume.
    """
    import networkx as nx

    if len(parts) < 2:
        return []
    g = contact_graph(parts) if graph is None else graph
    mst = nx.minimum_spanning_tree(g)
    if root is None:
        root = max(parts, key=hull_volume).name
    return [(u, v) for u, v in nx.bfs_edges(mst, root)]


def _subtrees(edges: list[tuple[str, str]]) -> dict[str, set[str]]:
    children: dict[str, list[str]] = {}
    for a, b in edges:
        children.setdefault(a, []).append(b)
    out: dict[str, set[str]] = {}
    for _, b in reversed(edges):  # breadth-first edges reversed: children before parents
        out[b] = {b}.union(*(out[k] for k in children.get(b, [])))
    return out


def _relative_mover(edges: list[tuple[str, str]], confident: set[str]):
    """``moves(p, ref)``: whether part ``p`` moves relative to part ``ref`` by a confident
    joint of its own: a joint in ``confident`` (child names) on the path from ``p`` up to
    (not including) the lowest common ancestor of ``p`` and ``ref``. A part carried by the same
    moving drawer as ``ref`` (the drawer's other panels) does not move relative to it."""
    parent_of = {b: a for a, b in edges}

    def up(n: str) -> list[str]:
        out = [n]
        while out[-1] in parent_of:
            out.append(parent_of[out[-1]])
        return out

    def moves(p: str, ref: str) -> bool:
        above = set(up(ref))
        for n in up(p):
            if n in above:
                return False
            if n in confident:
                return True
        return False

    return moves


PIN_ALIGN = np.cos(np.deg2rad(10.0))  # two turning joints within 10 degrees of each other ...
PIN_LINE = 0.25  # ... whose lines pass within this fraction of the pin's diagonal: one pin's


def _one_joint_per_pin(joints: list[InferredJoint], by_name: dict) -> list[InferredJoint]:
    """A round piece between two parts (an axle, a hub modelled apart from its arm) carries two
    turning joints about one line: ``A -> pin`` and ``pin -> B`` where ``B`` is larger than the
    pin and turns about the pin's own axis of revolution (a ``parent-symmetry`` candidate won:
    the pin's shape, not ``B``'s contact, gave that axis). Relative to ``A``, ``B`` turns once;
    the pin's own joint (``A -> pin``) is that turn and ``pin -> B`` is fixed (the arm is
    carried by its hub). Axes within 10 degrees (:data:`PIN_ALIGN`) and lines within
    :data:`PIN_LINE` of the pin's diagonal. A ``pin -> B`` joint found from the contact itself
    (a faucet's handle on its stem) is kept: which of the two is the turn, the geometry does
    not say."""
    by_child = {j.child: j for j in joints}
    out = []
    for j in joints:
        up = by_child.get(j.parent)
        pin = by_name[j.parent]
        if (j.type in ("revolute", "continuous") and up is not None and up.type in ("revolute", "continuous")
                and "parent" in j.source.split(":")[-1] and by_name[j.child].diag > pin.diag
                and abs(float(j.axis @ up.axis)) >= PIN_ALIGN):
            r = j.origin - up.origin
            if np.linalg.norm(r - (r @ up.axis) * up.axis) <= PIN_LINE * pin.diag:
                j = replace(j, type="fixed", lower=0.0, upper=0.0, source=j.source + "+pin", confidence=0.0, features=None)
        out.append(j)
    return out
