"""Scenarios and batch dataset builds: many assets at once, locally or on Ray.

:func:`build_batch` builds a list of inputs into one dataset folder, each job isolated so one
bad asset never stops the others (:mod:`n4d4d.scenarios.batch`, supervised workers in
:mod:`n4d4d.scenarios.pool`, Ray in :mod:`n4d4d.scenarios.ray_backend`).
"""

from n4d4d.scenarios.batch import AssetJob, BatchResult, Job, build_batch, build_one

__all__ = ["AssetJob", "BatchResult", "Job", "build_batch", "build_one"]
