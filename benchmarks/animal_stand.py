"""Procedural animals standing: the certificate's rest check and drops, in PyBullet and Newton,
over many seeds of the ``animal`` family (and, with ``--sweep``, the PyBullet joint sweeps).

Each animal gets its parts' convex hulls as colliders (the parts are capsules and ellipsoids;
CoACD would take ~15 s each) and the mass stage's mass and drives, then
:func:`~n4d4d.physics_validation.pybullet_check.check_pybullet` and
:func:`~n4d4d.physics_validation.newton_check.check_newton` (on the exported USD) with the
certificate's three drops. Prints one JSON line per seed (length, rest COM drop per engine,
failing checks with reasons) and the pass count.

    python benchmarks/animal_stand.py --seeds 20 [--engines pybullet newton] [--sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def stand(seed: int, engines, sweep: bool) -> dict:
    from n4d4d.asset import Mesh
    from n4d4d.exporters.usd import write_usd
    from n4d4d.generator.procedural import make_shape
    from n4d4d.physics_validation import mass_stage

    t0 = time.perf_counter()
    a = make_shape("animal", seed)
    a = mass_stage(a.replace(collision={p.name: (Mesh.from_trimesh(p.mesh.to_trimesh().convex_hull),) for p in a.parts}))
    row = {"seed": seed, "length_m": a.provenance.options["params"]["length"], "fails": []}
    for engine in engines:
        if engine == "pybullet":
            from n4d4d.physics_validation.pybullet_check import check_pybullet

            res = check_pybullet(a, seed=0, orientations=3)
        else:
            from n4d4d.physics_validation.newton_check import check_newton

            with tempfile.TemporaryDirectory() as d:
                res = check_newton(a, usd_path=write_usd(a, os.path.join(d, "a.usda")), seed=0, orientations=3)
        row[f"{engine}_rest_com_drop_mm"] = round(1e3 * res["checks"][0].measured.get("rest_com_drop_m", float("nan")), 2)
        row["fails"] += [f"{engine}:{c.name}: {r}" for c in res["checks"] for r in c.reasons]
    if sweep:
        from n4d4d.physics_validation.articulation import check_articulation
        from n4d4d.physics_validation.rigid_model import rigid_model

        sw = check_articulation(a, rigid_model(a))
        row["fails"] += [f"pybullet:articulation: {r}" for r in sw.reasons]
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20, help="seeds 0 .. N-1")
    ap.add_argument("--engines", nargs="+", default=["pybullet", "newton"], choices=["pybullet", "newton"])
    ap.add_argument("--sweep", action="store_true", help="also the PyBullet joint sweeps")
    args = ap.parse_args()
    rows = []
    for seed in range(args.seeds):
        rows.append(stand(seed, args.engines, args.sweep))
        print(json.dumps(rows[-1]), flush=True)
    print(f"passed {sum(not r['fails'] for r in rows)} / {len(rows)}")


if __name__ == "__main__":
    main()
