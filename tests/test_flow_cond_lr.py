"""The category embedding's own learning rate in flow training (``FlowTrainConfig.cond_lr_mult``)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest


def _cache(tmp_path):
    """A structure-only cache (no latent channels) of two sphere shells, categories ball / bowl."""
    from n4d4d.generator.latents import FORMAT
    from n4d4d.io.atomic import atomic_write_npz

    g = np.stack(np.meshgrid(*[np.arange(16)] * 3, indexing="ij"), -1).reshape(-1, 3)
    cells = [g[np.abs(np.linalg.norm(g - 7.5, axis=1) - r) < 0.9] for r in (3.0, 5.0)]
    meta = {"format": FORMAT, "resolution": 128, "vae": None, "ids": ["a", "b"], "categories": ["ball", "bowl"],
            "splits": ["train", "train"], "latent_channels": 0, "grid": 16}
    path = tmp_path / "structure_r128.npz"
    n = sum(len(c) for c in cells)
    atomic_write_npz(path, {"meta": np.array(json.dumps(meta)), "offsets": np.r_[0, np.cumsum([len(c) for c in cells])],
                            "cells": np.concatenate(cells).astype(np.uint8), "feats": np.zeros((n, 0), np.float32),
                            "voxel_size": np.full(2, 0.001), "grid_shape": np.full((2, 3), 129)})
    return path


@pytest.mark.parametrize("mult", [1.0, 10.0])
def test_first_adam_step_moves_the_embedding_by_lr_times_mult(tmp_path, mult):
    """Adam's first step moves every weight with a non-zero gradient by exactly its learning rate
    (``m / sqrt(v) = g / |g|``; bias-corrected, eps 1e-8 against gradients >> 1e-8), whatever the
    gradient's size: so after one step of ``train_flow`` the category rows that were drawn move by
    ``lr_at(0) * cond_lr_mult`` and the other weights by at most ``lr_at(0)``. Closed form; the
    tolerance (1 %) is for the few elements whose gradient is near eps."""
    import torch

    from n4d4d.generator.flow_train import get_config, load_flow, train_flow
    from n4d4d.generator.structure import StructureFlow
    from n4d4d.generator.train import lr_at

    from n4d4d.generator.flow_train import save_flow

    cfg = dataclasses.replace(get_config("tiny"), steps=1, log_every=1, ckpt_every=1, ema=0.0, cond_dropout=0.0,
                              cond_lr_mult=mult, grad_clip=1e9)
    # non-zero weights everywhere: at adaLN-zero's initialisation the category gets no gradient
    start = StructureFlow(dataclasses.replace(cfg.structure, num_categories=2))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in start.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    save_flow(tmp_path / "start.safetensors", start, "structure", {"categories": ["ball", "bowl"]})
    train_flow(cfg, "structure", tmp_path, tmp_path / "run", latents_path=_cache(tmp_path),
               init=tmp_path / "start.safetensors")
    trained, _ = load_flow(tmp_path / "run" / "structure.safetensors", "structure")  # ema 0: the raw weights
    lr = lr_at(0, cfg)
    d = {n: (trained.state_dict()[n] - p).abs() for n, p in start.state_dict().items()}
    rows = d["cond.y_embed.weight"][:2]  # ball and bowl (the tiny batch of 2 draws from both or one)
    moved = rows[rows.sum(1) > 0]
    assert len(moved) >= 1 and d["cond.y_embed.weight"][2].max() == 0  # the null row is never drawn
    assert np.median(moved.numpy()) == pytest.approx(lr * mult, rel=0.01)
    others = max(float(v.max()) for n, v in d.items() if not n.startswith("cond.y_embed"))
    assert others <= lr * 1.01


def test_param_groups_split_only_with_a_multiplier():
    from n4d4d.generator.flow_train import get_config, param_groups
    from n4d4d.generator.structure import StructureFlow

    model = StructureFlow(dataclasses.replace(get_config("tiny").structure, num_categories=3))
    one = param_groups(model, 1.0)
    assert len(one) == 1 and len(one[0]["params"]) == len(list(model.parameters()))
    two = param_groups(model, 5.0)
    assert [g["lr_mult"] for g in two] == [1.0, 5.0] and two[1]["params"][0] is model.cond.y_embed.weight
    with pytest.raises(ValueError, match="cond_lr_mult"):
        param_groups(model, 0.0)
