"""The ``n4d4d`` Typer application and its command groups.

Commands live in their own modules (``n4d4d.cli.build``, ``n4d4d.cli.eval_rigging``, ...)
and register themselves on these objects when :mod:`n4d4d.cli` imports them.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="n4d4d",
    help="Make physics-validated, simulator-ready 4D assets (USD, URDF, MJCF, GLB, 3MF).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Evaluation harnesses that score a stage against ground truth.",
                       no_args_is_help=True)
app.add_typer(eval_app, name="eval")


def set_torch_threads(threads: int | None) -> None:
    """``--threads N``: torch's CPU thread count for a model command (None or 0 leaves torch's
    default). torch is imported only when a count is given."""
    if threads:
        import torch

        torch.set_num_threads(threads)
