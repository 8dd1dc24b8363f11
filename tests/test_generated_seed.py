"""A generated asset is reproduced by one number: the later stages of a ``Generated`` source take
its sampling seed unless the options set ``seed``, in Python and in ``n4d4d build --generate``
alike (before, the API seeded physics with 0 and the CLI with ``--seed`` for every sample, so
the same shape gave two different assets). No stage is run: the options each build would use are
captured where the stage table receives them."""

from __future__ import annotations

import pytest

import n4d4d
from n4d4d import pipeline
from n4d4d.sources import Generated


class _Stop(Exception):
    pass


@pytest.fixture
def seen(monkeypatch):
    got = []

    def fake_run_stage(stage, value, opts, progress=None, source=None):
        got.append((value, opts.seed))
        raise _Stop

    monkeypatch.setattr(pipeline, "run_stage", fake_run_stage)
    return got


def test_api_seeds_the_later_stages_with_the_sampling_seed(seen):
    with pytest.raises(_Stop):
        n4d4d.build(Generated("mug", seed=7))
    with pytest.raises(_Stop):
        n4d4d.build(Generated("mug", seed=7), seed=3)      # an explicit seed wins
    with pytest.raises(_Stop):
        n4d4d.build(sample="duck")                          # other sources keep the default
    assert [s for _, s in seen] == [7, 3, 0]


def test_cli_generate_builds_what_the_api_builds(monkeypatch, tmp_path, seen):
    from typer.testing import CliRunner

    from n4d4d import scenarios
    from n4d4d.cli import app

    calls = []

    def fake_batch(jobs, out, opts, **kw):
        for job in jobs:
            with pytest.raises(_Stop):
                pipeline.build(job, options=opts)
            calls.append(job)
        return []

    monkeypatch.setattr(scenarios, "build_batch", fake_batch)
    res = CliRunner().invoke(app, ["build", "--generate", "mug", "--seed", "5", "-n", "3", "-o", str(tmp_path)])
    assert [(j.category, j.seed) for j in calls] == [("mug", 5), ("mug", 6), ("mug", 7)], res.output
    assert [s for _, s in seen] == [5, 6, 7]               # = n4d4d.build(Generated("mug", seed=k))
