"""Rigging: parts, joints, skeletons and skin weights inferred from geometry alone.

The stage function is :func:`rig_stage` (:mod:`n4d4d.rigging.stage`). Parts and watertight
closing live in :mod:`~n4d4d.rigging.parts` (flat sheets lying on a piece fused into it:
:mod:`~n4d4d.rigging.sheets`), joint inference in :mod:`~n4d4d.rigging.joints` (the kinematic
tree in :mod:`~n4d4d.rigging.tree`, joint ranges and the separability check in
:mod:`~n4d4d.rigging.ranges`, contact fits in :mod:`~n4d4d.rigging.pair_fits`,
contact analysis in :mod:`~n4d4d.rigging.contact`, joint hypotheses and their geometric priors
in :mod:`~n4d4d.rigging.hypotheses`, collision sweeps in :mod:`~n4d4d.rigging.sweep` on voxel
solids from :mod:`~n4d4d.rigging.voxels`, the confidence of each joint in
:mod:`~n4d4d.rigging.confidence`), curve skeletons in :mod:`~n4d4d.rigging.skeleton`, bone-heat
skin weights in :mod:`~n4d4d.rigging.skinning`, and the evaluation harness behind
``n4d4d eval rigging`` in :mod:`~n4d4d.rigging.harness` (metrics in
:mod:`~n4d4d.rigging.metrics`, tables and leave-one-category-out figures in
:mod:`~n4d4d.rigging.scoring`, training of the confidence model in
:mod:`~n4d4d.rigging.training`). No learned weights are shipped: the joint confidence is the
rule score (prior x sweep usefulness); a learned part-pair classifier can be fitted and
measured leaving each category out (``n4d4d eval rigging --train``), and on the dev set it
did not beat the rules (see :mod:`~n4d4d.rigging.training`).
"""

from n4d4d.rigging.stage import MODES, rig_stage

__all__ = ["MODES", "rig_stage"]
