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
    """``--threads N``: torch's CPU thread count for a model command; None or 0: the idle cores
    (:func:`n4d4d.cpu.torch_threads`: torch's default of one thread per core is several times
    slower on a busy machine). Generation itself always samples on one thread (same seed, same
    shape on any machine)."""
    import torch

    from n4d4d.cpu import torch_threads

    torch.set_num_threads(torch_threads(threads))
