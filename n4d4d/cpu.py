"""CPU threads for torch on a shared machine: as many as there are idle cores, at least one.

Why: torch's CPU thread pool defaults to one thread per core, and its threads wait for each
other at the end of every parallel operation. The generator and the SS-VAE run thousands of small
operations on sparse tensors; on a busy machine each wait lasts until the other thread is
scheduled again. Measured on the 2-core development machine at load 8-9 (other builds running):
one shipped-generator sample of ``mug`` took 37.7 s with two threads and 5.8 s with one, and the
SS-VAE encoded the corpus at 7 s a shape with two threads and 0.36 s with one (0.3 s on the quiet
machine). So n4d4d gives torch the cores that are idle, not all of them.

Generation is the exception: it always samples on one thread. The thread count changes the order
of torch's floating-point sums: the shipped generator's ``mug`` seed 1 and ``random_urdf`` seed 2
decoded to meshes whose vertices differ (by up to 1.5e-8 m for the mug) with one thread and with
two (``animal`` 5 and ``cabinet`` 3 were equal), and a difference in the structure field's
threshold can change which cells a sample has. One thread is the count every machine has, so the
same seed gives the same shape, bit for bit, on any of them.

The rule (:func:`torch_threads`): the cores this process may run on (``os.sched_getaffinity``)
minus the one-minute load average rounded to the nearest integer, clipped to ``[1, cores]``; a
count the user gives (``--threads N``) is used as given. :func:`torch_thread_limit` applies it
around a block and restores torch's setting after. What it does not: limit other libraries'
threads (CoACD and the physics engines run in their own processes or single-threaded), or
follow the load while a block runs.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity; ``os.cpu_count()`` where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def torch_threads(requested: int | None = None) -> int:
    """Threads for torch's CPU pool: ``requested`` if given (> 0), else the idle cores: usable
    cores minus the rounded one-minute load average, at least 1 (see the module docstring).
    ValueError for a negative ``requested``."""
    if requested is not None and requested < 0:
        raise ValueError(f"threads must be >= 0, got {requested}")
    if requested:
        return int(requested)
    cores = usable_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows): assume the machine is free
        load = 0.0
    return int(min(cores, max(1, cores - round(load))))


@contextmanager
def torch_thread_limit(requested: int | None = None) -> Iterator[int]:
    """Run a block with torch's CPU threads at most :func:`torch_threads` (``requested``); yields
    the count in force and restores torch's own setting afterwards. Never raises the count above
    what the caller had set."""
    import torch

    before = torch.get_num_threads()
    n = min(before, torch_threads(requested))
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if n != before:
            torch.set_num_threads(before)
