"""The SS-VAE checkpoint shipped in the package: it loads, and reconstructs a real shape it never saw."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_shipped_checkpoint_reconstructs_the_held_out_bunny(pybullet_data, one_thread):
    from n4d4d.generator.checkpoint import default_checkpoint, load_vae, read_header
    from n4d4d.generator.corpus import split_of
    from n4d4d.generator.metrics import evaluate_volumes
    from n4d4d.io.load import load_mesh
    from n4d4d.volume import compute_sparse_sdf

    path = default_checkpoint()
    assert path.stat().st_size < 30 * 2**20
    meta = read_header(path)["meta"]
    # the split is a pure function of the shape id: the bunny is in the test split, so the
    # checkpoint (trained on the train split only) never saw it
    assert split_of("pybullet/bunny") == "test"
    # stage 2 (whole R = 128 shapes) started from stage 1 ("cpu"); both trained on the train split
    assert meta["train_config"]["name"] == "cpu-r128" and meta["train_config"]["init"]
    model = load_vae(path)
    sdf = compute_sparse_sdf(load_mesh(pybullet_data / "bunny.obj"), resolution=128)
    (row,) = evaluate_volumes(model, [sdf], names=["bunny"], n_points=30_000)
    assert "error" not in row, row
    # the target at R = 128: F-score (tau = 1% of the diagonal) >= 0.9, watertight output
    assert row["fscore"] >= 0.9 and row["watertight"] and row["single_volume"], row
