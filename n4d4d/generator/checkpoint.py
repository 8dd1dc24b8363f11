"""SS-VAE checkpoints: safetensors weights with the JSON config in the header; never unpickled.

What it does: :func:`save_vae` writes one ``.safetensors`` file whose tensors are the model's
``state_dict`` (``float32``; optionally extra tensors under their own prefix, e.g. optimizer state)
and whose header metadata holds ``n4d4d.format`` and ``n4d4d.config``, the :class:`VAEConfig` as JSON
(plus any JSON ``meta``: training config, step, metrics). :func:`load_vae` rebuilds the model from
that config and loads the weights strictly; :func:`read_header` returns the header alone.
safetensors stores raw little-endian tensors and a JSON header, so loading executes no code
(unlike ``torch.load`` of a pickle).

Errors are :class:`CheckpointError` (an :class:`~n4d4d.errors.InputError`) naming the file: not a
safetensors file, not an SS-VAE checkpoint, a config that differs from the one the caller expects
(each differing field listed), or weights that do not fit the stored config (each missing,
unexpected or mis-shaped tensor listed).
"""

from __future__ import annotations

import json
from pathlib import Path

from n4d4d.errors import InputError

FORMAT = "n4d4d.ssvae/1"


#: The checkpoint shipped inside the package (see ``weights/MODEL_CARD.md`` beside it).
SHIPPED = "weights/ssvae_cpu.safetensors"


class CheckpointError(InputError):
    """A checkpoint cannot be used: unreadable, another format, or a config / weight mismatch."""


def default_checkpoint() -> Path:
    """Path of the shipped SS-VAE checkpoint; :class:`CheckpointError` if the package has none."""
    p = Path(__file__).parent / SHIPPED
    if not p.is_file():
        raise CheckpointError("this installation ships no SS-VAE checkpoint; pass --checkpoint", p)
    return p


def save_vae(path: str | Path, model, meta: dict | None = None, extra: dict | None = None) -> Path:
    """Write ``model`` (a :class:`SparseSDFVAE`) to ``path`` atomically; returns the path.

    ``meta``: JSON-serialisable values stored in the header under ``n4d4d.meta``. ``extra``: name ->
    tensor, stored beside the weights (names must not start with ``model.``).
    """
    from safetensors.torch import save as st_save

    from n4d4d.io.atomic import atomic_write_bytes

    tensors = {f"model.{k}": v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    for k, v in (extra or {}).items():
        if k.startswith("model."):
            raise ValueError(f"extra tensor name {k!r} collides with the model's")
        tensors[k] = v.detach().cpu().contiguous()
    header = {"n4d4d.format": FORMAT, "n4d4d.config": json.dumps(model.config.to_dict()),
              "n4d4d.meta": json.dumps(meta or {})}
    return atomic_write_bytes(path, st_save(tensors, metadata=header))


def read_header(path: str | Path) -> dict:
    """``{"config": dict, "meta": dict}`` of a checkpoint, reading only its JSON header."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError("no such checkpoint file", p)
    try:
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n < 100 * 2**20:
                raise ValueError("bad header length")
            header = json.loads(f.read(n))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"not a safetensors file ({exc})", p) from exc
    md = header.get("__metadata__") or {}
    if md.get("n4d4d.format") != FORMAT:
        raise CheckpointError(f"not an SS-VAE checkpoint (format {md.get('n4d4d.format')!r}, expected {FORMAT!r})", p)
    return {"config": json.loads(md["n4d4d.config"]), "meta": json.loads(md.get("n4d4d.meta", "{}"))}


def load_vae(path: str | Path, expect=None, device: str = "cpu", with_extra: bool = False):
    """Rebuild the :class:`SparseSDFVAE` stored in ``path`` (in eval mode, on ``device``).

    Args:
        expect: a :class:`VAEConfig` the checkpoint must have; a different stored config raises.
        with_extra: also return the extra tensors (name -> tensor) and the meta dict.
    Raises:
        CheckpointError: see module docstring.
    """
    from safetensors.torch import load_file

    from n4d4d.generator.vae import SparseSDFVAE, VAEConfig

    p = Path(path)
    head = read_header(p)
    try:
        config = VAEConfig.from_dict(head["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"stored config is invalid: {exc}", p) from exc
    if expect is not None and expect != config:
        want, have = expect.to_dict(), config.to_dict()
        diff = "; ".join(f"{k}: checkpoint has {have.get(k)!r}, expected {want.get(k)!r}"
                         for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k))
        raise CheckpointError(f"checkpoint config differs from the expected config ({diff})", p)
    tensors = load_file(str(p), device=device)
    model = SparseSDFVAE(config).to(device)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: stored {tuple(state[k].shape)}, config needs {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state)) if state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = ([f"missing {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else "")] if missing else []) \
            + ([f"unexpected {', '.join(unexpected[:5])}" + (" ..." if len(unexpected) > 5 else "")] if unexpected else []) \
            + shapes[:5]
        raise CheckpointError("weights do not fit the stored config: " + "; ".join(parts), p)
    model.load_state_dict(state, strict=True)
    model.eval()
    if with_extra:
        return model, {k: v for k, v in tensors.items() if not k.startswith("model.")}, head["meta"]
    return model
