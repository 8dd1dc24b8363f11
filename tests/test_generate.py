"""The shipped flow generator: categories, determinism, blockouts, and a sample through the pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.errors import InputError
from n4d4d.generator.categories import resolve_category

KNOWN = ["mug", "chair", "table", "lidded_box", "random_urdf", "figure"]


def test_category_names_synonyms_and_unknown():
    assert resolve_category("Mug", KNOWN) == "mug"
    assert resolve_category("mugs", KNOWN) == "mug"
    assert resolve_category("coffee cup", KNOWN) == "mug"
    assert resolve_category("Lidded-Box", KNOWN) == "lidded_box"
    assert resolve_category("stools", KNOWN) == "chair"
    assert resolve_category("chiar", KNOWN) == "chair"          # a typo: nearest name
    with pytest.raises(InputError, match="unknown generator category 'spaceship'.*chair, figure, lidded_box"):
        resolve_category("spaceship", KNOWN)


torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def generator():
    from n4d4d.generator.generate import default_generator

    torch.set_num_threads(1)
    return default_generator()


def _fast(steps: int = 6):
    from n4d4d.generator.generate import DEFAULT_SAMPLING, with_steps

    return with_steps(DEFAULT_SAMPLING, steps)


def test_same_seed_same_shape_bit_for_bit(generator):
    a = generator.sample("chair", 5, sampling=_fast())
    b = generator.sample("chair", 5, sampling=_fast())
    c = generator.sample("chair", 6, sampling=_fast())
    assert np.array_equal(a.mesh.vertices, b.mesh.vertices) and np.array_equal(a.mesh.faces, b.mesh.faces)
    assert not np.array_equal(a.cells, c.cells)  # another seed, another structure
    with pytest.raises(InputError, match="known categories"):
        generator.sample("spaceship", 0)


@pytest.mark.parametrize("category", ["animal", "lamp"])
def test_a_structure_without_a_compact_body_still_decodes_to_a_solid(generator, category):
    """Validation seed 101 of the shipped structure flow has no compact body (raw: ~300 occupied
    cells in 15-17 thin pieces; 1-10 cells left after the filter); with the old floor (the 8
    highest raw cells, scattered) it decoded to nothing in animal, figure, bottle and lamp. With
    ``min_cells`` the structure is the field's most occupied region grown to that size, and the
    sample is a closed solid. Truth: the sample is not empty, its structure is one face-connected
    component of at least ``min_cells`` cells, and its mesh is watertight."""
    from scipy import ndimage

    from n4d4d.generator.generate import DEFAULT_SAMPLING
    from n4d4d.generator.latents import structure_grid

    assert DEFAULT_SAMPLING.min_cells >= 8
    s = generator.sample(category, 101)  # the defaults: the case as a user meets it
    assert len(s.cells) >= DEFAULT_SAMPLING.min_cells
    assert ndimage.label(structure_grid(s.cells, 16))[1] == 1
    assert s.mesh.to_trimesh(process=True).is_watertight


def test_box_blockout_is_kept(generator):
    """--coarse with a box: the samples' filled, pooled occupancy (8^3) overlaps the box's."""
    from n4d4d.asset import Mesh
    from n4d4d.generator.evaluate import blockout_metrics
    from n4d4d.generator.generate import mesh_volume
    from n4d4d.generator.latents import coarse_grid, structure_grid
    from n4d4d.generator.procedural import box

    blk = Mesh.from_trimesh(box([-0.2, -0.1, 0.0], [0.2, 0.1, 0.3]))
    _, cells = mesh_volume(blk)
    target = coarse_grid(structure_grid(cells))
    samples = [generator.sample("lidded_box", s, coarse=blk, sampling=_fast(10)) for s in range(2)]
    m = blockout_metrics([s.cells for s in samples], target)
    # bound: the shipped checkpoint kept 0.82-0.88 on 4 samples of 10 steps (model card); 0.5 is
    # leaves margin for other seeds; without the blockout the same seeds overlap it 0.19 on average
    assert m["lp_iou_min"] >= 0.5, m
    # at the blockout's size (not the category's): within two blockout cells (16 voxels each, the
    # resolution the blockout is given at) of the box's extents
    cell = 16 * samples[0].sdf.voxel_size
    ext = np.ptp(samples[0].mesh.vertices, axis=0)
    assert np.all(np.abs(ext - [0.4, 0.2, 0.3]) <= 2 * cell), (ext, cell)


@pytest.mark.slow
@pytest.mark.parametrize("category,seed", [("mug", 0)])
def test_shipped_sample_passes_the_certificate(category, seed):
    """A fixed seed of a procedural family through every stage as a ``Generated`` source: the
    remeshed visual is one watertight solid and the physics certificate passes (both engines'
    rest and drop checks, and collision fidelity: the hulls' union within [0.85, 1.35] of the
    part's volume, the bound the unsmoothed samples missed at 1.47-1.58); the asset records
    where it came from. Budgets kept small for time: R = 128, no motion clip."""
    import n4d4d
    from n4d4d.generator.metrics import count_solids
    from n4d4d.physics_validation.thresholds import FidelityThresholds
    from n4d4d.sources import Generated

    torch.set_num_threads(1)
    asset = n4d4d.build(Generated(category, seed=seed), report=False, motion="none", resolution=128)
    assert asset.visual.to_trimesh(process=True).is_watertight and count_solids(asset.visual) == 1
    checks = asset.physics["checks"]
    assert asset.physics["passed"] and asset.passed, asset.physics["reasons"]
    bounds = FidelityThresholds()
    ratios = [c["measured"]["volume_ratio"] for c in checks if c["name"] == "collision_fidelity"]
    assert ratios and all(bounds.min_volume_ratio <= r <= bounds.max_volume_ratio for r in ratios), ratios
    assert {c["engine"] for c in checks} >= {"pybullet", "newton"}  # both engines certified it
    assert asset.provenance.source == f"generator:{category}/seed={seed}"
    load = next(r for r in asset.stages if r.name == "load")
    assert load.figures["generated"]["category"] == category and load.figures["generated"]["latent_cells"] > 0


def test_cli_lists_categories_and_rejects_unknown_ones(tmp_path, generator):
    from typer.testing import CliRunner

    from n4d4d.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["generate", "--list"])
    assert res.exit_code == 0, res.output
    listed = [line.split("\t")[0] for line in res.output.splitlines()]
    assert listed == generator.categories and "mug" in listed
    res = runner.invoke(app, ["generate", "--category", "spaceship", "-o", str(tmp_path / "g")])
    assert res.exit_code == 2 and "known categories" in res.output and "random_urdf" in res.output
