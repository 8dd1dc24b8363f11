"""``n4d4d warmup``: compile every kernel a build needs, once, before the first real build.

Warp (the sparse SDF's mesh queries) and Newton (the physics checks) compile their kernels on
first use and cache them (Warp's kernel cache, ``warp.config.kernel_cache_dir``); on a fresh
machine that takes tens of CPU seconds, which would otherwise land inside the first build's
stages. This command builds a small box through every stage of the pipeline in a temporary
folder (nothing is written elsewhere) and prints how long each stage took, so the cache is
warm when real work starts. ``make install`` runs it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import typer

from n4d4d.cli.app import app


@app.command()
def warmup() -> None:
    """Compile and cache the Warp and Newton kernels a build uses (builds a small box once)."""
    import trimesh
    from rich.console import Console

    from n4d4d.pipeline import build

    console = Console(stderr=True, highlight=False)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="n4d4d-warmup-") as tmp:
        box = Path(tmp) / "warmup_box.obj"
        trimesh.creation.box((0.1, 0.08, 0.06)).export(box)
        asset = build(box, unit="m", resolution=64, max_hulls=4, max_faces=2000, report=False)
        asset.save(Path(tmp) / "out", formats=("usda",))
    stages = ", ".join(f"{s.name} {s.seconds:.1f} s" for s in asset.stages)
    console.print(f"warm: kernels compiled and cached in {time.perf_counter() - t0:.1f} s ({stages})", markup=False)
    if not asset.passed:
        console.print("warning: the warm-up box did not pass its physics checks: "
                      + "; ".join(map(str, asset.physics.get("reasons", []))), markup=False)
        raise typer.Exit(1)
