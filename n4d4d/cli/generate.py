"""``n4d4d generate --category mug --seed 3 -n 8 -o OUT``: new shapes from the SSA flow generator.

Writes ``OUT/<category>_<seed>.obj`` (closed meshes, each one solid with its decoded SDF smoothed by
``--smoothing`` voxels, :mod:`n4d4d.generator.solid`; metres, Z up, resting on z = 0) and
``OUT/preview.png`` (the samples side by side, :func:`n4d4d.report.pictures.sample_grid`; skipped
with a note when no offscreen OpenGL exists) and prints one line per sample. ``--coarse MESH``
starts from a blockout, ``--like MESH --strength S`` varies a given shape (SDEdit: noised to
``t = S`` and sampled back); ``n4d4d generate --list`` prints the categories. An unknown category
is an error listing the known ones (exit 2). A sample that decodes to nothing is skipped with a note
(exit 1 when every one is). Same seed, same shape, bit for bit on the CPU.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import List, Optional

import typer

from n4d4d.cli.app import app, set_torch_threads


@app.command("generate")
def generate_cmd(
    category: Optional[str] = typer.Option(None, "--category", "-c",
                                           help="category (free text: nearest known name or synonym)"),
    seed: int = typer.Option(0, "--seed", help="first seed; sample i uses seed + i"),
    n: int = typer.Option(1, "-n", help="number of samples"),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="output folder"),
    coarse: Optional[Path] = typer.Option(None, "--coarse", help="blockout mesh to add detail to"),
    like: Optional[Path] = typer.Option(None, "--like", help="a mesh to make variations of"),
    strength: float = typer.Option(0.5, "--strength", help="--like: noise level in (0, 1] (1 = ignore the shape)"),
    steps: Optional[int] = typer.Option(None, "--steps",
                                        help="Euler steps of both stages (default: structure 25, latents 12)"),
    cfg_scale: Optional[float] = typer.Option(None, "--cfg",
                                              help="CFG scale of both stages (default 1: none)"),
    smoothing: Optional[float] = typer.Option(None, "--smoothing", help="surface smoothing, voxels of the R = 128 "
                                                                         "grid (default 2; 0: none)"),
    structure_sigma: Optional[float] = typer.Option(None, "--structure-sigma", help="Gaussian filter of the "
                                                    "structure field before its threshold, latent cells "
                                                    "(0: none; default: DEFAULT_SAMPLING's)"),
    min_cells: Optional[int] = typer.Option(None, "--structure-min-cells", help="fewest latent cells a sampled "
                                            "structure keeps (its most occupied region grown to that size; 0: no "
                                            "floor; default: DEFAULT_SAMPLING's)"),
    bridge: Optional[float] = typer.Option(None, "--bridge", help="longest break between decoded pieces closed "
                                                                 "by a neck, voxels of the R = 128 grid (default "
                                                                 "8, one latent cell; 0: none)"),
    fallback_sigma: List[float] = typer.Option([], "--fallback-sigma", help="structure sigmas tried in turn when "
                                               "a sample decodes as several solids (repeat; 0 alone: none; "
                                               "default: DEFAULT_SAMPLING's)"),
    list_categories: bool = typer.Option(False, "--list", help="print the known categories and exit"),
    preview: bool = typer.Option(True, "--preview/--no-preview", help="write OUT/preview.png"),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads"),
) -> None:
    """Sample watertight shapes for a category (or from a blockout / as variations of a mesh)."""
    from rich.console import Console

    from n4d4d.errors import N4d4dError
    from n4d4d.generator.generate import DEFAULT_SAMPLING, default_generator, generate, with_steps

    console = Console(stderr=True)
    set_torch_threads(threads)
    try:
        g = default_generator()
        if list_categories:
            vs = g.voxel_sizes
            for c in g.categories:
                typer.echo(f"{c}\t(longest side ~{vs.get(c, 0) * 122:.3f} m)")
            return
        if out is None:
            console.print("error: give -o OUT (or --list)")
            raise typer.Exit(2)
        sampling = with_steps(DEFAULT_SAMPLING, steps, cfg_scale)
        if smoothing is not None:
            sampling = dataclasses.replace(sampling, smoothing=smoothing)
        if structure_sigma is not None:
            sampling = dataclasses.replace(sampling, structure_sigma=structure_sigma)
        if bridge is not None:
            sampling = dataclasses.replace(sampling, bridge=bridge)
        if min_cells is not None:
            sampling = dataclasses.replace(sampling, min_cells=min_cells)
        if fallback_sigma:
            sampling = dataclasses.replace(sampling, fallback_sigmas=tuple(x for x in fallback_sigma if x > 0))
        samples = generate(category, seed, n, coarse=coarse, like=like, strength=strength, sampling=sampling,
                           generator=g, skip_empty=True,
                           on_empty=lambda sd, exc: console.print(f"note: seed {sd}: empty sample, skipped ({exc})"))
    except N4d4dError as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2)
    if not samples:
        console.print(f"error: all {n} samples decoded to nothing (nothing written)")
        raise typer.Exit(1)
    from n4d4d.io.atomic import atomic_path
    from n4d4d.io.scale import ground_offset

    out.mkdir(parents=True, exist_ok=True)
    meshes, labels = [], []
    for s in samples:
        m = s.mesh.replace(vertices=s.mesh.vertices + ground_offset(s.mesh.vertices))
        name = f"{s.category or 'like'}_{s.seed:04d}"
        with atomic_path(out / f"{name}.obj") as tmp:
            m.to_trimesh(process=False).export(tmp, file_type="obj")
        tm = m.to_trimesh(process=True)
        meshes.append(m)
        labels.append(f"{name}")
        typer.echo(f"{out / (name + '.obj')}: {len(m.faces)} faces, watertight {tm.is_watertight}, "
                   f"{s.solid.get('solids', '?')} solid(s), {len(s.cells)} latent cells, "
                   f"extents {tm.extents.round(3).tolist()} m, "
                   f"{sum(s.seconds.values()):.1f} s")
    if preview:
        try:
            import numpy as np
            from PIL import Image

            from n4d4d.report.pictures import sample_grid

            grid = sample_grid(meshes, columns=min(4, len(meshes)), labels=labels)
            with atomic_path(out / "preview.png") as tmp:
                Image.fromarray(np.asarray(grid)).save(tmp, format="PNG")
            typer.echo(f"{out / 'preview.png'}: {len(meshes)} samples")
        except N4d4dError as exc:  # no offscreen OpenGL: the meshes are written all the same
            console.print(f"note: no preview ({exc})")
