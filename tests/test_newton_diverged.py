"""A Newton world whose solve diverges (non-finite or zero-norm body quaternions, as a build of
pybullet_data's a1 produced) fails its check as an explosion; it does not crash the certificate,
and the other worlds of the same run keep their own verdicts."""
from __future__ import annotations

import numpy as np

from n4d4d.exporters.usd import write_usd
from n4d4d.physics_validation import collision_stage, mass_stage, shapes
from n4d4d.physics_validation import newton_check
from n4d4d.physics_validation.newton_check import check_newton


def test_a_diverged_world_is_an_explosion_not_a_crash(tmp_path, monkeypatch):
    box = mass_stage(collision_stage(shapes.box()))
    usd = write_usd(box, tmp_path / "box.usda")
    substeps = []

    class Poisoning(newton_check.Stepper):
        # every run is poisoned (the coarse one and any re-run of its failed worlds at finer
        # substeps: check_newton(coarse_first=True)), so the run that decides has diverged
        def step(self, dt):
            super().step(dt)
            substeps.append(dt)
            self.steps = getattr(self, "steps", 0) + 1
            if self.steps == 2:  # the state the first sample reads: world 0's body (the rest
                q = self.states[0].body_q.numpy()  # run) gets a zero pose (a view of the CPU buffer)
                q[0] = 0.0  # position and quaternion (x, y, z, w) all zero: a zero-norm rotation

    monkeypatch.setattr(newton_check, "Stepper", Poisoning)
    res = check_newton(box, usd_path=usd, seed=0, orientations=1)
    assert len(substeps) >= 2
    rest, drop = res["checks"]
    assert not rest.passed and any("explosion" in r for r in rest.reasons), rest.reasons
    assert drop.passed, drop.reasons  # the other world is untouched
