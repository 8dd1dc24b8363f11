"""Small assets with known motion, for tests and benchmarks of the motion families.

Each function returns an :class:`~n4d4d.asset.Asset` in the asset frame (Z up, metres) with
``visual``, ``parts`` and ``joints`` (or a skeleton and skin weights) filled and nothing else;
run the collision and mass stages on it before simulating. The truths they carry: a hinged lid
whose range is its limits, a drawer whose travel a fixed block cuts short, a double pendulum
whose small-angle normal modes have a closed form (:func:`double_pendulum_modes`), a skinned
cylinder whose volume is that of a cylinder. This module runs no stage.
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Asset, Joint, Mesh, Part, Skeleton


def _box(lo, hi):
    import trimesh

    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    m = trimesh.creation.box(extents=hi - lo)
    m.apply_translation((lo + hi) / 2)
    return m


def _asset(name: str, meshes: dict, joints=()) -> Asset:
    import trimesh

    parts = tuple(Part(n, Mesh.from_trimesh(m)) for n, m in meshes.items())
    return Asset(name=name, visual=Mesh.from_trimesh(trimesh.util.concatenate(list(meshes.values()))),
                 parts=parts, joints=tuple(joints))


def hinged_lid_box(upper: float = 1.6, effort: float = 20.0) -> Asset:
    """A 20 x 20 x 10 cm box with a 1 cm lid hinged along its back top edge (axis -X, so positive
    coordinates lift the lid's front), limits [0, ``upper``] rad; the lid rests 1 mm above the box."""
    base = _box([-0.1, -0.1, 0.0], [0.1, 0.1, 0.1])
    lid = _box([-0.1, -0.1, 0.101], [0.1, 0.1, 0.111])
    hinge = Joint("hinge", "revolute", "box", "lid", origin=np.array([0.0, 0.1, 0.106]),
                  axis=np.array([-1.0, 0.0, 0.0]), lower=0.0, upper=upper, effort=effort, velocity=3.0)
    return _asset("hinged_lid", {"box": base, "lid": lid}, [hinge])


def drawer_cabinet(block_at: float | None = 0.08, travel: float = 0.25) -> Asset:
    """A cabinet body, a drawer on a prismatic joint along -Y (out of the front) with limits
    [0, ``travel``] m and, with ``block_at``, a block fixed to the body in front of the drawer
    ``block_at`` metres away, so the drawer can travel only that far."""
    body = _box([-0.2, -0.2, 0.0], [0.2, 0.2, 0.3])
    drawer = _box([-0.15, -0.21, 0.1], [0.15, -0.2005, 0.2])  # the drawer front, 0.5 mm proud of the body
    meshes = {"body": body, "drawer": drawer}
    joints = [Joint("slide", "prismatic", "body", "drawer", origin=np.array([0.0, -0.2, 0.15]),
                    axis=np.array([0.0, -1.0, 0.0]), lower=0.0, upper=travel, effort=50.0, velocity=0.5)]
    if block_at is not None:
        meshes["block"] = _box([-0.2, -0.21 - block_at - 0.05, 0.0], [0.2, -0.21 - block_at, 0.3])
        joints.append(Joint("block_mount", "fixed", "body", "block", origin=np.array([0.0, -0.2, 0.0]),
                            axis=np.array([0.0, 0.0, 1.0])))
    return _asset("drawer_cabinet", meshes, joints)


#: Double pendulum geometry: rod cross-section (m), rod lengths (m), pivot height (m).
ROD_SECTION = 0.02
ROD_LENGTHS = (0.3, 0.2)
PIVOT_Z = 1.0


def double_pendulum() -> Asset:
    """A fixed block with two rods hanging from it on revolute joints about +Y (a double
    pendulum): rod 1 from the pivot at (0, 0, 1) down to the second pivot, rod 2 below it.
    Rods are ``ROD_SECTION`` square boxes of lengths ``ROD_LENGTHS``, 2 mm short of each pivot so
    the links never touch."""
    s, (l1, l2), z = ROD_SECTION / 2, ROD_LENGTHS, PIVOT_Z
    top = _box([-0.05, -0.05, z + 0.004], [0.05, 0.05, z + 0.05])
    rod1 = _box([-s, -s, z - l1 + 0.002], [s, s, z - 0.002])
    rod2 = _box([-s, -s, z - l1 - l2 + 0.002], [s, s, z - l1 - 0.002])
    joints = [Joint("shoulder", "revolute", "top", "rod1", np.array([0.0, 0.0, z]), np.array([0.0, 1.0, 0.0]),
                    effort=10.0, velocity=50.0),
              Joint("elbow", "revolute", "rod1", "rod2", np.array([0.0, 0.0, z - l1]), np.array([0.0, 1.0, 0.0]),
                    effort=10.0, velocity=50.0)]
    return _asset("double_pendulum", {"top": top, "rod1": rod1, "rod2": rod2}, joints)


def double_pendulum_modes(density: float, g: float = 9.80665) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form small-angle normal modes of :func:`double_pendulum` with uniform ``density``.

    Absolute angles ``theta = (q1, q1 + q2)`` obey ``M theta'' + K theta = 0`` with
    ``M = [[I1 + m1 c1^2 + m2 l1^2, m2 l1 c2], [m2 l1 c2, I2 + m2 c2^2]]`` and
    ``K = g diag(m1 c1 + m2 l1, m2 c2)`` (``m`` rod mass, ``c`` pivot-to-COM distance, ``I`` moment
    about the COM, ``l1`` pivot-to-pivot length; a box's moment is ``m (a^2 + b^2) / 12``).

    Returns:
        ``(periods (2,), shapes (2, 2))``: periods in s (slow mode first) and each mode's shape
        in joint coordinates ``(q1, q2)`` (rows), unit norm.
    """
    from scipy.linalg import eigh

    a = ROD_SECTION
    l1, l2 = ROD_LENGTHS
    h1, h2 = l1 - 0.004, l2 - 0.004  # rod lengths between their 2 mm gaps
    m1, m2 = density * a * a * h1, density * a * a * h2
    c1, c2 = l1 / 2, l2 / 2  # each rod is centred between its pivots
    I1, I2 = m1 * (a * a + h1 * h1) / 12, m2 * (a * a + h2 * h2) / 12
    M = np.array([[I1 + m1 * c1 ** 2 + m2 * l1 ** 2, m2 * l1 * c2], [m2 * l1 * c2, I2 + m2 * c2 ** 2]])
    K = g * np.diag([m1 * c1 + m2 * l1, m2 * c2])
    w2, vec = eigh(K, M)
    shapes = np.stack([[v[0], v[1] - v[0]] for v in vec.T])
    shapes /= np.linalg.norm(shapes, axis=1, keepdims=True)
    return 2 * np.pi / np.sqrt(w2), shapes


def skinned_cylinder(radius: float = 0.05, length: float = 0.6, sections: int = 48,
                     rings: int = 60) -> Asset:
    """A closed cylinder along +X from x = 0 to ``length``, axis at z = ``radius`` + 0.1 m, with a
    3-joint chain skeleton (root at x = 0, elbow at the middle, tip at the end) and skin weights
    blending root and elbow smoothly over the middle fifth (a smoothstep of x): the classic
    elbow of skinning papers. Part ``base`` holds the whole mesh.
    """
    import trimesh

    x = np.linspace(0.0, length, rings + 1)
    ang = np.linspace(0.0, 2 * np.pi, sections, endpoint=False)
    zc = radius + 0.1
    ring = np.stack([np.cos(ang), np.sin(ang)], 1) * radius
    verts = np.concatenate([np.column_stack([np.full(sections, xi), ring[:, 0], zc + ring[:, 1]]) for xi in x])
    faces = []
    for r in range(rings):
        a, b = r * sections, (r + 1) * sections
        for s in range(sections):
            s1 = (s + 1) % sections
            faces += [[a + s, b + s, b + s1], [a + s, b + s1, a + s1]]
    caps = np.array([[0.0, 0.0, zc], [length, 0.0, zc]])
    c0, c1 = len(verts), len(verts) + 1
    last = rings * sections
    faces += [[c0, s, (s + 1) % sections] for s in range(sections)][::1]
    faces += [[c1, last + (s + 1) % sections, last + s] for s in range(sections)]
    verts = np.vstack([verts, caps])
    tm = trimesh.Trimesh(verts, np.array(faces), process=False)
    if tm.volume < 0:
        tm.invert()
    u = np.clip((tm.vertices[:, 0] - 0.4 * length) / (0.2 * length), 0.0, 1.0)
    w_elbow = u * u * (3 - 2 * u)
    weights = np.column_stack([1 - w_elbow, w_elbow, np.zeros(len(u))])
    sk = Skeleton(("root", "elbow", "tip"), np.array([-1, 0, 1]),
                  np.array([[0.0, 0.0, zc], [length / 2, 0.0, zc], [length, 0.0, zc]]))
    mesh = Mesh.from_trimesh(tm)
    return Asset(name="skinned_cylinder", visual=mesh, parts=(Part("base", mesh, np.arange(len(tm.faces))),),
                 skeleton=sk, skin_weights=weights)
