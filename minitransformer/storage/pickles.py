"""PyTorch's pickle files (pytorch_model.bin, training_state.pt), read without running code.

`torch.load(weights_only=True)` rebuilds tensors and plain containers only and refuses every
other Python object, so a file made to run code when unpickled is refused, not run. A malformed
file (a broken memo, an empty stack, a cut stream) can raise almost any exception from inside
the unpickler; here every one of them is bad input, reported in one line that names the file.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import torch

from ..errors import InputError


def load_plain_pickle(path: str | Path, map_location: str | torch.device = "cpu") -> object:
    """The tensors and plain data a pickle file holds, or an InputError that says why not."""
    try:
        with warnings.catch_warnings():  # notes on pickle protocols, not for our users
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - see the module docstring
        raise InputError(f"{path}: {refusal_reason(error)}") from None


def refusal_reason(error: Exception) -> str:
    text = str(error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if isinstance(error, pickle.UnpicklingError) and "weights_only" in text:
        # torch's message is a page of advice to load the file unsafely; keep only the cause.
        cause = next((line for line in lines if line.startswith("Unsupported")), "")
        return (f"refused: not a file of plain tensors as torch.save writes them"
                f"{f' ({cause})' if cause else ''}; unpickling it anyway could run code")
    return f"not a readable pickle ({type(error).__name__}{f': {lines[0][:120]}' if lines else ''})"
