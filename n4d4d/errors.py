"""Typed errors of n4d4d: every one names the file (or asset) and the problem.

The CLI prints ``str(error)`` as one line and exits non-zero; the Python API raises these.
"""

from __future__ import annotations

from pathlib import Path


class N4d4dError(Exception):
    """Base class. ``path`` is the input file (or asset name) the error is about, or None."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else str(path)
        self.problem = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(N4d4dError):
    """The input cannot be used: missing file, unknown format, empty, degenerate or non-finite mesh."""


class MissingFileError(InputError):
    """The input path does not exist or is not a file."""


class UnsupportedFormatError(InputError):
    """The file extension is not a format n4d4d reads."""


class EmptyMeshError(InputError):
    """The mesh has no faces, or encloses (almost) no volume."""


class NonFiniteError(InputError):
    """The mesh has NaN or infinite coordinates."""


class FlatMeshError(EmptyMeshError):
    """The mesh is flat or nearly so (all vertices within a sliver of one plane, or of a line):
    it encloses no volume a simulator could use. ``thickness`` is its extent across that plane
    (file units) and ``axis`` the direction it was measured along (``"x" | "y" | "z"`` or a
    vector written out)."""

    def __init__(self, message: str, path: str | Path | None = None, *, thickness: float = 0.0,
                 axis: str = "z"):
        self.thickness, self.axis = float(thickness), axis
        super().__init__(message, path)


class MalformedFileError(InputError):
    """The file's bytes do not follow its format: truncated, a header that lies about the data,
    malformed numbers or indices. ``line`` is the 1-based line (text formats, XML) or None."""

    def __init__(self, message: str, path: str | Path | None = None, *, line: int | None = None):
        self.line = line
        super().__init__(message, path)


class UnsafePathError(InputError):
    """A file names another one (a glTF buffer, a URDF mesh) outside the folders it may read:
    absolute paths, ``file://`` or network URLs, ``..`` out of the input's folder tree."""


class BudgetError(N4d4dError):
    """A resource budget (memory, time) would be or was exceeded."""


class MemoryBudgetError(BudgetError):
    """The requested resolution would need more memory than the budget allows."""


class TimeBudgetError(BudgetError):
    """A stage (CoACD, simulation, ...) ran past its time budget and was stopped."""


class StageInputError(N4d4dError):
    """A stage was given an Asset that lacks a field it needs (a stage-order mistake)."""


class ExportError(N4d4dError):
    """An exporter could not write a valid file."""


class GeneratorUnavailableError(InputError):
    """A generated source was asked for and the generator cannot sample it (no model yet)."""
