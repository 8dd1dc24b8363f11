"""PyBullet boundary (private): a quiet client per check, the asset as multibodies, state reads.

Conversions happen here and only here: PyBullet quaternions are (x, y, z, w), n4d4d's are
(w, x, y, z) (:mod:`n4d4d.conventions`). Each part is a link whose frame is at its joint pivot
with the asset's axes (:mod:`.rigid_model`); its hulls form one compound shape (an OBJ with one
object per hull, which PyBullet loads as one convex hull each); its inertial frame is the COM
with the principal axes and the principal moments are set explicitly (PyBullet would otherwise
estimate them from the shape's bounding box).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from n4d4d.asset import Material
from n4d4d.conventions import GRAVITY, wxyz_to_xyzw, xyzw_to_wxyz

from .rigid_model import RigidModel


#: Torsional and rolling friction (m: resisting torque per newton of normal force). A single
#: contact point has neither, yet a real contact patch resists spinning and rolling; without
#: them a round-bottomed asset (the duck) spins on its point of contact for seconds. These are
#: Newton's ``ShapeConfig`` defaults (``mu_torsional`` 0.005, ``mu_rolling`` 0.0001), which its
#: USD importer gives the exported colliders, so both engines model the same contact: a 5 mm
#: patch radius, and 0.1 mm rolling resistance (hard plastic on a hard floor).
SPINNING_FRICTION_M = 0.005
ROLLING_FRICTION_M = 0.0001


@contextlib.contextmanager
def _quiet():
    """Silence C-level stdout and stderr while PyBullet loads and connects (it prints its build
    time and ``argv[0]=`` there, which would interleave with the CLI's progress bars)."""
    import ctypes
    import sys

    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no real file descriptors (some embedders)
        yield
        return
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        libc.fflush(None)  # C stdio buffers text written to a pipe: drop it into devnull now
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def connect(time_step: float, substeps: int = 1):
    """A new DIRECT ``BulletClient`` with gravity :data:`n4d4d.conventions.GRAVITY` and the given step (s).

    ``substeps``: each ``stepSimulation`` call advances ``time_step`` in this many equal
    substeps (PyBullet's ``numSubSteps``; contacts are found and solved every substep): the
    stability checks use :data:`STABILITY_SUBSTEPS`, everything else one.
    """
    with _quiet():
        import pybullet
        from pybullet_utils import bullet_client

        client = bullet_client.BulletClient(pybullet.DIRECT)
    client.setGravity(*GRAVITY.tolist())
    client.setPhysicsEngineParameter(fixedTimeStep=time_step, deterministicOverlappingPairs=1,
                                     numSubSteps=int(substeps))
    return client


#: Substeps per step of the rest and drop checks (:func:`connect`; 1/960 s at the certificate's
#: 1/240 s step, the step of the drop clip, :data:`n4d4d.deformation.articulate.TIME_STEP_S`).
#: Bullet's convex-hull-against-plane contact keeps the hull's deepest point (and a few points
#: around it), so while one end of a long hull rests on the ground its other end gets no contact
#: until it is itself the deepest point: it swings down a whole step before it is stopped. A
#: body that lands on a corner and topples brings that end down far faster than the drop's
#: free-fall speed (PartNet-Mobility's 1.75 m door frame 8867: 2.8 m/s, the 2 m refrigerator
#: 103100: 4.5-6.1 m/s, against sqrt(2 g h) = 1.0 m/s for the 5 cm drop), so at one step it was
#: 11-13.5 mm deep for one step before the contact pushed it out, over the tunnelling bound
#: (9.2 mm). At four substeps the same drops peak at 0.4-2.8 mm (9960, 8867, 103100, 7167), at
#: the same CPU cost or less (the checks stop once at rest, and the impacts settle sooner).
STABILITY_SUBSTEPS = 4


def ground_plane(client) -> int:
    """A static plane z = 0 with friction and restitution 1, so that PyBullet's product rule
    for combining coefficients leaves the asset's own values in effect."""
    import pybullet

    shape = client.createCollisionShape(pybullet.GEOM_PLANE)
    plane = client.createMultiBody(0.0, shape)
    client.changeDynamics(plane, -1, lateralFriction=1.0, restitution=1.0)
    return plane


#: Collision margin (m) Bullet puts around every convex hull it loads from a mesh file: the
#: shape it collides is the hull inflated by this much (measured: a 10 cm cube 1 cm above a plane
#: is 9 mm from it, two such cubes 1 cm apart are 8 mm apart), and ``changeDynamics(...,
#: collisionMargin=...)`` does not reach the hulls of a compound. Two parts 0.03 mm apart (the
#: door and drawer of PartNet-Mobility's cabinet 40147) then overlap by 2 mm in PyBullet and push
#: each other with ~2,500 x their weight, which no other engine sees.
BULLET_HULL_MARGIN_M = 0.001


def shrink_hull(vertices: np.ndarray, margin: float) -> np.ndarray:
    """Vertices of a convex hull with every face plane moved ``margin`` inwards (m), so that
    Bullet's ``margin`` inflation gives back the hull (as Bullet's own ``btConvexHullComputer``
    ``shrink`` argument does). A hull whose inscribed sphere is smaller than ``margin`` (a
    slab thinner than two margins) shrinks by :data:`THIN_SHRINK_FRACTION` of that sphere's
    radius instead (its Chebyshev centre, a linear program), so it never inverts and Bullet
    inflates it past its faces by only what is left of the margin.

    Args:
        vertices: ``(n, 3) float64`` points whose convex hull is the shape (m).
        margin: inward offset (m), >= 0.

    Returns:
        ``(m, 3) float64`` vertices of the shrunk hull (the input when it cannot be shrunk: flat).
    """
    from scipy.optimize import linprog
    from scipy.spatial import ConvexHull, HalfspaceIntersection, QhullError

    v = np.asarray(vertices, dtype=np.float64)
    try:
        hull = ConvexHull(v)
    except (QhullError, ValueError):
        return v
    eq = hull.equations  # (f, 4): n . x + d <= 0 inside, |n| = 1
    # Chebyshev centre: max r subject to n . x + r <= -d (the largest ball inside the hull)
    lp = linprog(np.r_[0.0, 0.0, 0.0, -1.0], A_ub=np.c_[eq[:, :3], np.ones(len(eq))], b_ub=-eq[:, 3],
                 bounds=[(None, None)] * 3 + [(0.0, None)], method="highs")
    if lp.status != 0 or lp.x[3] <= 0:
        return v
    centre, radius = lp.x[:3], float(lp.x[3])
    step = min(margin, THIN_SHRINK_FRACTION * radius)
    if step <= 0:
        return v
    shifted = eq.copy()
    shifted[:, 3] += step
    try:
        return HalfspaceIntersection(shifted, centre).intersections
    except (QhullError, ValueError):
        return v


#: A hull thinner than two Bullet margins is shrunk by this fraction of its inscribed sphere's
#: radius (:func:`shrink_hull`). It was a quarter of its centroid's depth: the 1-2 mm slabs the
#: hull cuts leave at a joint (102417's coaxial lens rings, cut 1 mm apart,
#: :data:`.hull_clip.HULL_CLEARANCE_M`) then collided up to 0.75 mm fatter each, so PyBullet
#: saw the rings touch and press each other with 4.8 and 3.4 x their weight at rest.
THIN_SHRINK_FRACTION = 0.9


def _hull_obj(hulls, offset: np.ndarray, path: Path, margin: float = BULLET_HULL_MARGIN_M) -> None:
    """An OBJ with one object per hull (link frame: ``offset`` subtracted), each shrunk by
    Bullet's ``margin`` (:func:`shrink_hull`); PyBullet hulls each object's vertices itself.

    The text is kept by content (:data:`HULL_OBJ_CACHE` entries, keyed by a BLAKE2b digest of
    every hull's vertices, ``offset`` and ``margin``): the certificate loads one asset's links
    into a dozen PyBullet clients (rest, drops, sweeps, penetration worlds), and the shrink
    (a linear program and a half-space intersection per hull) was 11 CPU s of 102417's physics
    stage done over and over on the same hulls. The same input writes the same bytes."""
    import hashlib

    offset = np.asarray(offset, dtype=np.float64)
    digest = hashlib.blake2b(np.float64(margin).tobytes() + offset.tobytes(), digest_size=20)
    for h in hulls:
        v = np.ascontiguousarray(h.vertices, dtype=np.float64)
        digest.update(np.int64(len(v)).tobytes() + v.tobytes())
    key = digest.digest()
    text = _HULL_OBJ_TEXT.pop(key, None)
    if text is None:
        text = _hull_obj_text(hulls, offset, margin)
    _HULL_OBJ_TEXT[key] = text  # most recent last
    while len(_HULL_OBJ_TEXT) > HULL_OBJ_CACHE:
        _HULL_OBJ_TEXT.pop(next(iter(_HULL_OBJ_TEXT)))
    path.write_text(text)


#: Link OBJ texts :func:`_hull_obj` keeps (least recently used dropped first; a link's text is
#: tens of kB at 32 hulls of 64 vertices).
HULL_OBJ_CACHE = 512
_HULL_OBJ_TEXT: dict[bytes, str] = {}


def _hull_obj_text(hulls, offset: np.ndarray, margin: float) -> str:
    from scipy.spatial import ConvexHull

    lines, base = [], 1
    for k, h in enumerate(hulls):
        v = shrink_hull(np.asarray(h.vertices) - offset, margin)
        faces = ConvexHull(v).simplices if len(v) >= 4 else np.asarray(h.faces)
        lines.append(f"o hull_{k:03d}")
        lines.extend(f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in v)
        lines.extend(f"f {a + base} {b + base} {c + base}" for a, b, c in faces)
        base += len(v)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BulletBodies:
    """Handles of the asset in one client.

    Attributes:
        bodies: PyBullet body id per model link.
        links: PyBullet link index per model link (-1 for a tree's base).
        points: per model link, hull vertices ``(n, 3)`` relative to the link's COM, in the
            link's axes (the asset's axes at rest), for geometric ground-penetration measurement.
        principal: per model link, the principal-axes quaternion (x, y, z, w): PyBullet reports
            the orientation of the inertial frame, which :func:`read_state` turns back into the
            link frame's so that every engine reports the same frame.
    """

    bodies: tuple[int, ...]
    links: tuple[int, ...]
    points: tuple[np.ndarray, ...]
    principal: tuple[np.ndarray, ...]


def build(client, model: RigidModel, material: Material, rotation: np.ndarray, translation: np.ndarray,
          *, self_collision: bool = True, fixed_root: bool = False,
          joint_positions: dict[int, float] | None = None) -> BulletBodies:
    """Create the asset's multibodies in ``client``, posed as ``x_world = R x_asset + t``.

    Args:
        rotation: ``(3, 3)`` R. translation: ``(3,)`` t (m).
        joint_positions: model link index -> the coordinate (rad or m) its joint starts at
            (``resetJointState``); None: the rest coordinates
            (:func:`.rigid_model.rest_coordinates`: 0 clipped into the limits), missing joints 0.
        self_collision: let non-adjacent links collide (adjacent ones never do, nor neighbours
            through parts welded by fixed joints: :meth:`RigidModel.welded`).
        fixed_root: root links are static (mass 0), as in an articulation sweep.

    Returns:
        :class:`BulletBodies`.
    """
    import pybullet
    from scipy.spatial.transform import Rotation

    q_world = Rotation.from_matrix(rotation).as_quat()  # xyzw
    bodies, links = [0] * len(model.links), [0] * len(model.links)
    points, principal = [None] * len(model.links), [None] * len(model.links)
    flags = (pybullet.URDF_USE_SELF_COLLISION | pybullet.URDF_USE_SELF_COLLISION_EXCLUDE_PARENT) if self_collision else 0
    with tempfile.TemporaryDirectory(prefix="n4d4d_pb_") as tmp:
        def shape(link):
            path = Path(tmp) / f"link_{link.index}.obj"
            _hull_obj(link.hulls, link.origin, path)
            return client.createCollisionShape(pybullet.GEOM_MESH, fileName=str(path))

        def inertial(link):
            return (np.asarray(link.mass.center_of_mass) - link.origin).tolist(), wxyz_to_xyzw(link.mass.principal_axes).tolist()

        for root in model.roots:
            tree = [root]
            for link in model.links:
                if link.parent in tree and link.index not in tree:
                    tree.append(link.index)
            rl = model.links[root]
            pos_i, orn_i = inertial(rl)
            kids = [model.links[i] for i in tree[1:]]
            pyb_index = {root: -1, **{k.index: n for n, k in enumerate(kids)}}
            jt = {"revolute": pybullet.JOINT_REVOLUTE, "continuous": pybullet.JOINT_REVOLUTE,
                  "prismatic": pybullet.JOINT_PRISMATIC, "fixed": pybullet.JOINT_FIXED}
            kid_inertials = [inertial(k) for k in kids]
            body = client.createMultiBody(
                baseMass=0.0 if fixed_root else rl.mass.mass, baseCollisionShapeIndex=shape(rl),
                basePosition=(rotation @ rl.origin + translation).tolist(), baseOrientation=q_world.tolist(),
                baseInertialFramePosition=pos_i, baseInertialFrameOrientation=orn_i,
                linkMasses=[k.mass.mass for k in kids],
                linkCollisionShapeIndices=[shape(k) for k in kids],
                linkVisualShapeIndices=[-1] * len(kids),
                linkPositions=[(k.origin - model.links[k.parent].origin).tolist() for k in kids],
                linkOrientations=[[0, 0, 0, 1]] * len(kids),
                linkInertialFramePositions=[p for p, _ in kid_inertials],
                linkInertialFrameOrientations=[o for _, o in kid_inertials],
                linkParentIndices=[pyb_index[k.parent] + 1 for k in kids],
                linkJointTypes=[jt[k.joint.type] for k in kids],
                linkJointAxis=[np.asarray(k.joint.axis, dtype=float).tolist() for k in kids],
                flags=flags)
            for idx in tree:
                link = model.links[idx]
                li = pyb_index[idx]
                bodies[idx], links[idx] = body, li
                if not (fixed_root and li < 0):
                    client.changeDynamics(body, li, localInertiaDiagonal=link.mass.principal_moments.tolist())
                client.changeDynamics(body, li,
                                      lateralFriction=material.dynamic_friction, restitution=material.restitution,
                                      spinningFriction=SPINNING_FRICTION_M, rollingFriction=ROLLING_FRICTION_M,
                                      linearDamping=0.0, angularDamping=0.0)
                points[idx] = np.vstack([h.vertices for h in link.hulls]) - link.mass.center_of_mass
                principal[idx] = wxyz_to_xyzw(link.mass.principal_axes)
                if li >= 0:
                    j = link.joint
                    client.setJointMotorControl2(body, li, pybullet.VELOCITY_CONTROL, force=0.0)
                    if j.type in ("revolute", "prismatic") and np.isfinite([j.lower, j.upper]).all():
                        client.changeDynamics(body, li, jointLowerLimit=float(j.lower), jointUpperLimit=float(j.upper))
    if joint_positions is None:
        from .rigid_model import rest_coordinates

        joint_positions = rest_coordinates(model)
    for i, q in joint_positions.items():
        if links[i] >= 0 and q:
            client.resetJointState(bodies[i], links[i], float(q), 0.0)
    if self_collision:  # neighbours through parts welded by fixed joints do not collide, as the files filter them
        for i, j in sorted(model.welded()):
            client.setCollisionFilterPair(bodies[i], bodies[j], links[i], links[j], 0)
    return BulletBodies(tuple(bodies), tuple(links), tuple(points), tuple(principal))


def read_state(client, handles: BulletBodies) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw state of every model link, world frame: COM positions ``(B, 3)``, inertial-frame
    orientations ``(B, 4)`` in PyBullet's (x, y, z, w), COM linear ``(B, 3)`` and angular
    ``(B, 3)`` velocities. Convert orientations with :func:`link_orientations`."""
    n = len(handles.bodies)
    pos, quat, lin, ang = np.empty((n, 3)), np.empty((n, 4)), np.empty((n, 3)), np.empty((n, 3))
    for b in dict.fromkeys(handles.bodies):  # one batched getLinkStates per multibody
        rows = [i for i in range(n) if handles.bodies[i] == b]
        kids = [i for i in rows if handles.links[i] >= 0]
        for i in rows:
            if handles.links[i] < 0:
                pos[i], quat[i] = client.getBasePositionAndOrientation(b)
                lin[i], ang[i] = client.getBaseVelocity(b)
        if kids:
            for i, s in zip(kids, client.getLinkStates(b, [handles.links[i] for i in kids], computeLinkVelocity=1)):
                pos[i], quat[i], lin[i], ang[i] = s[0], s[1], s[6], s[7]
    return pos, quat, lin, ang


def link_orientations(handles: BulletBodies, quat_xyzw: np.ndarray) -> np.ndarray:
    """Link-frame orientations (w, x, y, z), shape ``(..., B, 4)``, from PyBullet's inertial-frame
    orientations ``(..., B, 4)`` (x, y, z, w): ``q_link = q_inertial * q_principal^-1``."""
    from scipy.spatial.transform import Rotation

    q = np.asarray(quat_xyzw, dtype=np.float64)
    shape = q.shape
    principal = np.broadcast_to(np.asarray(handles.principal), shape).reshape(-1, 4)
    link = Rotation.from_quat(q.reshape(-1, 4)) * Rotation.from_quat(principal).inv()
    out = xyzw_to_wxyz(link.as_quat()).reshape(shape)
    return np.where(out[..., :1] < 0, -out, out)


def ground_contacts(client, handles: BulletBodies, plane: int) -> tuple[float, float]:
    """Deepest ground penetration reported by PyBullet (m, >= 0) and total normal force (N)."""
    depth, force = 0.0, 0.0
    for b in set(handles.bodies):
        for c in client.getContactPoints(bodyA=b, bodyB=plane):
            depth = max(depth, -c[8])
            force += c[9]
    return depth, force
