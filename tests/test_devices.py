"""Which device: the one asked for, else cuda, then mps, then cpu; a missing one is bad input."""

import pytest
import torch

from minitransformer.devices import best_device, pick_device
from minitransformer.errors import InputError


def test_the_order_is_cuda_then_mps_then_cpu(monkeypatch):
    mps_available = {"value": False}
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps_available["value"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert best_device() == torch.device("cpu") == pick_device(None)
    mps_available["value"] = True
    assert best_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert best_device() == torch.device("cuda")


def test_named_devices_are_checked(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="--device cuda: this machine has no CUDA device"):
        pick_device("cuda", "--device")
    with pytest.raises(InputError, match="mps: this machine has no Apple GPU"):
        pick_device("mps")
    with pytest.raises(InputError, match="gpu0: not a device; use cpu, cuda, cuda:N or mps"):
        pick_device("gpu0")
    with pytest.raises(InputError, match="meta: use cpu, cuda, cuda:N or mps"):
        pick_device("meta")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_encode_on_cuda_returns_numpy_on_the_cpu_and_tensors_on_the_gpu(sentence_encoder):
    on_cpu = sentence_encoder.encode(["A cat.", "A dog sleeps."])
    on_gpu = sentence_encoder.encode(["A cat.", "A dog sleeps."], device="cuda")
    assert type(on_gpu) is type(on_cpu) and abs(on_gpu - on_cpu).max() < 1e-4
    tensor = sentence_encoder.encode(["A cat."], convert_to_tensor=True)
    assert tensor.device.type == "cuda"
