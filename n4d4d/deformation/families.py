"""The error a motion family raises when it does not fit an asset.

The families live in :mod:`.articulate`, :mod:`.drop`, :mod:`.gait` (gait and idle) and
:mod:`.soft`; which
ones ``--motion auto`` picks, and the table from names to functions, is :mod:`.stage`
(:func:`~.stage.auto_families`, :func:`~.stage.make_clip`).
"""

from __future__ import annotations


class NotApplicable(ValueError):
    """A motion family does not fit the asset; the message says why (for the stage record)."""
