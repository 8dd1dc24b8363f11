"""``Sampling.fallback_sigmas``: a sample that decodes as several solids is decoded again on the
same structure field filtered more (a more compact structure), and the first one-solid sample is
kept; a sample that is one solid at once is untouched (issue 15: several solids are invalid
builds)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def generator():
    from n4d4d.generator.generate import default_generator

    torch.set_num_threads(1)
    return default_generator()


def _scripted(monkeypatch, g, solids):
    """Replace the latent + decode + surface step by a script: call ``k`` reports ``solids[k]``
    solids; returns the list of structures (cells) it was called with."""
    calls = []

    def decode(cells, *a, **k):
        calls.append(np.array(cells))
        return f"mesh{len(calls) - 1}", None, {"solids": solids[min(len(calls) - 1, len(solids) - 1)]}

    monkeypatch.setattr(g, "_decode_cells", decode)
    return calls


def test_a_fragmented_sample_falls_back_to_a_more_compact_structure(generator, monkeypatch):
    from n4d4d.generator.generate import DEFAULT_SAMPLING, structure_occupancy

    sigmas = (2.0, 2.0, 1.0)  # the repeated sigma gives the same structure: it is not decoded twice
    sampling = dataclasses.replace(DEFAULT_SAMPLING, structure_sigma=1.5, fallback_sigmas=sigmas)
    fields = []
    real = structure_occupancy

    def spy(field, *a, **k):
        fields.append(np.array(field))
        return real(field, *a, **k)

    monkeypatch.setattr("n4d4d.generator.generate.structure_occupancy", spy)
    calls = _scripted(monkeypatch, generator, [2, 3, 1])
    s = generator.sample("table", 4, sampling=sampling)
    # truth: the structures decoded are the sampled field's occupancy at the default sigma, then
    # at each new fallback sigma in turn, until one decodes as one solid
    field = fields[0]
    assert all(np.array_equal(f, field) for f in fields)  # one sampled field, filtered again
    want = [np.argwhere(real(field, sampling.threshold, x, sampling.min_cells))
            for x in (1.5, 2.0, 1.0)]
    assert not any(np.array_equal(want[i], want[j]) for i in range(3) for j in range(i))  # else says nothing
    assert len(calls) == 3 and all(np.array_equal(c, w) for c, w in zip(calls, want))
    assert s.mesh == "mesh2" and s.solid["fallback_sigma"] == 1.0 and s.solid["structures_tried"] == 3
    assert np.array_equal(s.cells, want[2])


def test_one_solid_at_once_and_all_fragmented_keep_the_first_sample(generator, monkeypatch):
    from n4d4d.generator.generate import DEFAULT_SAMPLING

    sampling = dataclasses.replace(DEFAULT_SAMPLING, fallback_sigmas=(2.0, 3.0))
    calls = _scripted(monkeypatch, generator, [1])
    s = generator.sample("table", 4, sampling=sampling)
    assert len(calls) == 1 and s.mesh == "mesh0" and "fallback_sigma" not in s.solid
    calls = _scripted(monkeypatch, generator, [2])
    s = generator.sample("table", 4, sampling=sampling)
    assert len(calls) == 3 and s.mesh == "mesh0" and s.solid["solids"] == 2 and "fallback_sigma" not in s.solid
    assert np.array_equal(s.cells, calls[0])


def test_the_candidate_checkpoint_makes_a_fragmented_table_one_solid():
    """Session 13's `cpu-family` candidate (``CANDIDATE_STRUCTURE``, not the default) with
    ``CANDIDATE_SAMPLING``: table seed 1's first decode (structure sigma 1.0) is 3 solids (its
    legs cut off: measured 13 decoded pieces); a fallback structure gives one watertight solid.
    Truth: trimesh's count of connected shells of the processed mesh."""
    from pathlib import Path

    from n4d4d.generator import generate as gen_mod
    from n4d4d.generator.metrics import count_solids

    n = torch.get_num_threads()
    torch.set_num_threads(1)  # the seed's shape is bit for bit the measured one at one thread
    try:
        g = gen_mod.FlowGenerator.load(structure=Path(gen_mod.__file__).parent / gen_mod.CANDIDATE_STRUCTURE)
        first = g.sample("table", 1, sampling=dataclasses.replace(gen_mod.CANDIDATE_SAMPLING, fallback_sigmas=()))
        s = g.sample("table", 1, sampling=gen_mod.CANDIDATE_SAMPLING)
    finally:
        torch.set_num_threads(n)
    assert count_solids(first.mesh) == first.solid["solids"] >= 2
    assert s.solid.get("fallback_sigma") in gen_mod.CANDIDATE_SAMPLING.fallback_sigmas
    assert s.mesh.to_trimesh(process=True).is_watertight and count_solids(s.mesh) == s.solid["solids"] == 1
