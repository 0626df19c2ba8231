"""Modules as shapes only: built on the meta device, with no memory and no initialisation.

A model directory's config.json says how big the model is; its weights file says what the
tensors are. The two are compared before anything is allocated (a config claiming a vocabulary
of 10^9 would otherwise take gigabytes first), by building the module on PyTorch's meta device,
where every tensor has a shape and no storage.

Why the initialisation is skipped: nn.init's random fills (normal_, uniform_) have no meta
kernel of their own, so PyTorch runs its Python reference kernels for them, and their first use
imports torch._dynamo (0.84 s on a 2-core Intel Xeon, torch 2.13: `python -c "import torch;
import time; t = time.perf_counter(); import torch._dynamo; print(time.perf_counter() - t)"`),
more than the rest of a one-sentence `embed.py`. A skeleton's values are never read, so its
fills are simply not done (and the sinusoidal positional table, the one buffer computed at
construction, is not computed on meta).

The same saving applies to a module whose every value is about to be loaded from a file:
build_for_loading builds it for real but leaves out the random fills that loading overwrites.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

Module = TypeVar("Module", bound=nn.Module)


class SkipInitialisation(TorchFunctionMode):
    """Every call of a torch.nn.init function returns its tensor untouched. (nn.init's functions
    hand themselves to the active torch-function modes before running, which is what lets a mode
    see them; every other call passes through.)"""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__module__", None) == "torch.nn.init":
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


def build_skeleton(build: Callable[[], Module]) -> Module:
    """`build()`'s module on the meta device: its parameters and buffers have their shapes and
    dtypes, no memory and no values."""
    with torch.device("meta"), SkipInitialisation():
        return build()


def build_for_loading(build: Callable[[], Module]) -> Module:
    """`build()`'s module with its memory allocated but its nn.init fills left out: its
    parameters hold whatever the allocator gave until the caller loads every one of them (a
    strict load_state_dict, or a copy into every entry of the state dict). Buffers computed at
    construction without nn.init (the sinusoidal table) are computed as usual."""
    with SkipInitialisation():
        return build()
