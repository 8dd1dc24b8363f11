"""Child-process entry point for CoACD (private): ``python -m n4d4d.physics_validation._coacd_worker``.

Reads one pickled ``(vertices, faces, kwargs)`` tuple from stdin, runs ``coacd.run_coacd`` and
writes one pickled ``("ok", [(vertices, faces), ...])`` or ``("error", message)`` to stdout.
A plain subprocess (not ``multiprocessing``) so that a user's script without an
``if __name__ == "__main__"`` guard is never re-imported, and so the parent can kill it.
"""

from __future__ import annotations

import pickle
import sys

import numpy as np


def main() -> None:
    from n4d4d.budget import die_with_parent

    die_with_parent()  # a killed build never leaves a decomposition running
    vertices, faces, kwargs = pickle.load(sys.stdin.buffer)
    try:
        import coacd

        coacd.set_log_level("error")
        parts = coacd.run_coacd(coacd.Mesh(vertices, faces), **kwargs)
        out = ("ok", [(np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int64)) for v, f in parts])
    except Exception as exc:  # reported to the parent, which raises a typed error
        out = ("error", f"{type(exc).__name__}: {exc}")
    sys.stdout.buffer.write(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
