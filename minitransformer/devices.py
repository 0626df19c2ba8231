"""Which device a model runs on: the one asked for, or the best this machine has.

    cuda (an NVIDIA GPU), then mps (an Apple GPU), then cpu

A name that torch does not know, or a device this machine lacks, is bad input (one line, exit
status 2 in the commands), not a traceback halfway through loading.
"""

from __future__ import annotations

import torch

from .errors import InputError


def best_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_device(name: str | torch.device | None = None, label: str = "device") -> torch.device:
    """torch.device(name), checked to exist here; None picks best_device(). `label` names the
    argument in messages (e.g. "--device")."""
    if name is None:
        return best_device()
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise InputError(f"{label} {name}: not a device; use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"{label} {name}: this machine has no CUDA device")
    if (device.type == "cuda" and device.index is not None
            and device.index >= torch.cuda.device_count()):
        raise InputError(f"{label} {name}: this machine has {torch.cuda.device_count()} "
                         f"CUDA device(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None)
                                     and torch.backends.mps.is_available()):
        raise InputError(f"{label} {name}: this machine has no Apple GPU (mps)")
    if device.type not in ("cpu", "cuda", "mps"):
        raise InputError(f"{label} {name}: use cpu, cuda, cuda:N or mps")
    return device
