"""The collision stage scopes congruent-part reuse to one asset: the pipeline forgets every kept
decomposition before an asset's collision stage, so a long-lived worker (the zygote pool) gives
the same hulls for an asset whatever it built before (batch outputs identical for 1 and 2
workers). Truth: the store's own contents, seen by the stage that runs after the clear."""
from __future__ import annotations

from n4d4d import pipeline
from n4d4d.options import BuildOptions
from n4d4d.physics_validation import congruent


def test_collision_stage_starts_with_an_empty_congruent_store(monkeypatch):
    import n4d4d.physics_validation as pv

    seen = []
    congruent_store = congruent._STORE  # the store itself: nothing public lists it
    congruent_store.append(("left over from an earlier asset",))

    def fake_stage(asset, **kwargs):
        seen.append(list(congruent_store))
        return asset

    monkeypatch.setattr(pv, "collision_stage", fake_stage)
    stage = next(s for s in pipeline.STAGES if s.name == "collision")
    marker = object()
    assert stage.run(marker, BuildOptions()) is marker
    assert seen == [[]]
