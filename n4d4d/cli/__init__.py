"""Command-line interface: ``n4d4d build``, ``n4d4d eval ...``.

Each command module registers itself on :mod:`n4d4d.cli.app`; importing them here wires
the CLI. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

from n4d4d.cli.app import app

from n4d4d.cli import build as _build  # noqa: F401,E402
from n4d4d.cli import corpus as _corpus  # noqa: F401,E402
from n4d4d.cli import eval_vae as _eval_vae  # noqa: F401,E402
from n4d4d.cli import generate as _generate  # noqa: F401,E402
from n4d4d.cli import eval_generator as _eval_generator  # noqa: F401,E402
from n4d4d.cli import train as _train  # noqa: F401,E402
from n4d4d.cli import eval_rigging as _eval_rigging  # noqa: F401,E402
from n4d4d.cli import scenario as _scenario  # noqa: F401,E402
from n4d4d.cli import warmup as _warmup  # noqa: F401,E402
from n4d4d.cli import export as _export  # noqa: F401,E402
from n4d4d.cli import report as _report  # noqa: F401,E402
from n4d4d.cli import validate as _validate  # noqa: F401,E402


def main() -> None:
    """Console-script entry point."""
    app()
