"""``n4d4d train vae --config NAME --corpus DIR --run DIR``: train the sparse SDF VAE;
``n4d4d train flow --stage structure|latent --config NAME --corpus DIR --run DIR``: one stage of the
flow generator (:mod:`n4d4d.generator.flow_train`; the corpus is encoded by the shipped VAE first).

Resumes from ``RUN/last.safetensors`` when present; logs one line per ``log_every`` steps and
``RUN/log.jsonl``; the final weights are ``RUN/vae.safetensors``. ``--steps``, ``--lr``,
``--warmup`` and ``--time-limit`` override the config (all but the last change the stored config,
so a run folder keeps one value); ``--init CKPT`` starts from a trained checkpoint's weights with a
fresh optimizer and schedule (a second, lower-rate stage).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import typer

from n4d4d.cli.app import app, set_torch_threads

train_app = typer.Typer(help="Train the generator's models.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("vae")
def vae(
    config: str = typer.Option("cpu", "--config", help="named config: tiny, cpu, cpu-r128, cpu-thin, gpu"),
    corpus: Path = typer.Option(..., "--corpus", help="corpus folder (n4d4d corpus build)"),
    run: Path = typer.Option(..., "--run", help="run folder: last.safetensors, vae.safetensors, log.jsonl"),
    steps: Optional[int] = typer.Option(None, help="override the config's number of steps"),
    lr: Optional[float] = typer.Option(None, help="override the config's peak learning rate"),
    warmup: Optional[int] = typer.Option(None, help="override the config's warm-up steps"),
    init: Optional[Path] = typer.Option(None, "--init",
                                        help="start from this checkpoint's weights (a second training stage)"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="stop (and save) after this many seconds"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads (default: the idle cores, n4d4d.cpu)"),
) -> None:
    """Train (or resume) the SS-VAE on a corpus's train split."""
    from rich.console import Console

    from n4d4d.errors import N4d4dError
    from n4d4d.generator.train import get_config, train_vae

    console = Console(stderr=True)
    try:
        cfg = get_config(config)
    except KeyError as exc:
        console.print(f"error: {exc.args[0]}")
        raise typer.Exit(2)
    overrides = {k: v for k, v in (("steps", steps), ("lr", lr), ("warmup", warmup)) if v is not None}
    if init is not None:
        if not init.is_file():
            console.print(f"error: {init}: no such checkpoint")
            raise typer.Exit(2)
        overrides["init"] = str(init.resolve())
    cfg = dataclasses.replace(cfg, **overrides)
    set_torch_threads(threads)
    try:
        metrics = train_vae(cfg, corpus, run, device=device, time_limit_s=time_limit,
                            log=lambda line: typer.echo(line, err=True))
    except (N4d4dError, ValueError) as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2)
    typer.echo(f"wrote {run / 'vae.safetensors'} at step {metrics.get('step')}")


@train_app.command("flow")
def flow(
    stage: str = typer.Option(..., "--stage", help="structure (occupied latent cells) or latent (SSA flow)"),
    config: str = typer.Option("cpu", "--config", help="named config: tiny, cpu, cpu-balanced (class-balanced draws), cpu-family (structure fine-tuning), gpu"),
    corpus: Path = typer.Option(..., "--corpus", help="corpus folder (n4d4d corpus build), with R = 128 volumes"),
    run: Path = typer.Option(..., "--run", help="run folder: last.safetensors, <stage>.safetensors, log.jsonl"),
    steps: Optional[int] = typer.Option(None, help="override the config's number of steps"),
    lr: Optional[float] = typer.Option(None, help="override the config's peak learning rate"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="stop (and save) after this many seconds"),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads (default: the idle cores, n4d4d.cpu)"),
    device: str = typer.Option("auto", help="auto (CUDA when available), cpu or cuda"),
    init: Optional[Path] = typer.Option(None, "--init", help="warm start a new run from this checkpoint of the "
                                                             "stage (e.g. the shipped one): fine-tuning"),
) -> None:
    """Train (or resume) one stage of the flow generator on the corpus's cached latents."""
    from rich.console import Console

    from n4d4d.errors import N4d4dError
    from n4d4d.generator.flow_train import get_config, train_flow

    console = Console(stderr=True)
    try:
        cfg = get_config(config)
    except KeyError as exc:
        console.print(f"error: {exc.args[0]}")
        raise typer.Exit(2)
    cfg = dataclasses.replace(cfg, **{k: v for k, v in (("steps", steps), ("lr", lr)) if v is not None})
    set_torch_threads(threads)
    try:
        metrics = train_flow(cfg, stage, corpus, run, time_limit_s=time_limit, init=init, device=device,
                             log=lambda line: typer.echo(line, err=True))
    except (N4d4dError, ValueError) as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2)
    typer.echo(f"wrote {run / (stage + '.safetensors')} at step {metrics.get('step')}")
