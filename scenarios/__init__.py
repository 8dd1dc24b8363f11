"""Scenarios and batch dataset builds: many assets at once, locally or on Ray.

:func:`build_batch` builds a list of inputs into one dataset folder, each job isolated so one
bad asset never stops the others. See :mod:`n4d4d.scenarios.batch`.
"""

from n4d4d.scenarios.batch import BatchResult, Job, build_batch, build_one

__all__ = ["BatchResult", "Job", "build_batch", "build_one"]
