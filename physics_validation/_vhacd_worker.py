"""Child-process entry point for V-HACD (private): ``python -m n4d4d.physics_validation._vhacd_worker``.

Reads one pickled ``(vertices, faces, kwargs)`` tuple from stdin, runs ``pybullet.vhacd``
(V-HACD 2, Mamou et al., through PyBullet's binding, which reads and writes OBJ files: a
temporary folder here) and writes one pickled ``("ok", [(vertices, faces), ...])`` or
``("error", message)`` to stdout, like :mod:`._coacd_worker`, so the parent can budget and kill it.
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile

import numpy as np


def _read_pieces(path: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The convex pieces of V-HACD's output OBJ: one ``o`` group each (global vertex indices)."""
    verts, groups = [], []
    with open(path) as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("o ") or (line.startswith("f ") and not groups):
                groups.append([])
                if line.startswith("f "):
                    groups[-1].append([int(t.split("/")[0]) - 1 for t in line.split()[1:4]])
            elif line.startswith("f "):
                groups[-1].append([int(t.split("/")[0]) - 1 for t in line.split()[1:4]])
    v = np.asarray(verts, dtype=np.float64)
    out = []
    for g in groups:
        if len(g) < 4:
            continue
        f = np.asarray(g, dtype=np.int64)
        used = np.unique(f)
        remap = np.full(len(v), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        out.append((v[used], remap[f]))
    return out


def main() -> None:
    from n4d4d.budget import die_with_parent

    die_with_parent()  # a killed build never leaves a decomposition running
    vertices, faces, kwargs = pickle.load(sys.stdin.buffer)
    try:
        import pybullet

        with tempfile.TemporaryDirectory(prefix="n4d4d_vhacd_") as tmp:
            src, dst, log = (os.path.join(tmp, n) for n in ("in.obj", "out.obj", "log.txt"))
            with open(src, "w") as fh:
                fh.writelines(f"v {x:.9g} {y:.9g} {z:.9g}\n" for x, y, z in vertices)
                fh.writelines(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in faces)
            saved = os.dup(1)  # V-HACD prints its progress on stdout: keep the pickle stream clean
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            try:
                pybullet.vhacd(src, dst, log, **kwargs)
            finally:
                os.dup2(saved, 1)
            out = ("ok", _read_pieces(dst))
    except Exception as exc:  # reported to the parent, which raises a typed error
        out = ("error", f"{type(exc).__name__}: {exc}")
    sys.stdout.buffer.write(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
