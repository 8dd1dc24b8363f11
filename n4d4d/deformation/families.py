"""The motion families the ``animate`` stage knows, and the error a family raises when it does
not apply to an asset.

Each family is a function ``(asset, opts) -> MotionClip`` (see :func:`make_clip`); which ones
``--motion auto`` picks is :func:`auto_families`. The families themselves live in
:mod:`.articulate`, :mod:`.drop`, :mod:`.gait` (gait and idle) and :mod:`.soft`.
"""

from __future__ import annotations


class NotApplicable(ValueError):
    """A motion family does not fit the asset; the message says why (for the stage record)."""
