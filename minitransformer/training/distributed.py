"""Data-parallel training on PyTorch's own engine (torch.distributed + DistributedDataParallel).

    torchrun --nproc_per_node=2 train.py ...      # 2 processes, gloo on CPU, NCCL on CUDA
    python train.py ...                           # 1 process, no torch.distributed at all

torchrun starts N copies of the script and tells each its RANK and WORLD_SIZE in the
environment. Every rank holds a full copy of the model. Each step, all ranks train the same task
(the task sampler is seeded alike everywhere) on their own slice of the global batch (data.py
shards each epoch's order by rank); DDP averages the gradients across ranks during backward,
so every rank applies the same update and the copies stay identical. With the loss a mean over
examples, the average of the ranks' gradients is the gradient of the global batch: N processes
with --batch-size B take the same steps as one process with B, up to float rounding, when each
task's size is a multiple of N x B/N. (Otherwise the last, short batches of an epoch differ
in size across ranks, and are averaged with equal weight: a tiny difference, no error.)

Only rank 0 prints, evaluates and writes checkpoints; the others wait for it at a barrier.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..environment import torchrun
from ..errors import InputError


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def average_gradients(self, parameters) -> None:
        """Average the gradients of parameters that DDP does not manage (the learned loss
        weights live outside the model) so that every rank applies the same update."""
        if not self.enabled:
            return
        for parameter in parameters:
            if parameter.grad is not None:
                dist.all_reduce(parameter.grad)
                parameter.grad /= self.world_size

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model itself alone; under torchrun, DDP around it, which looks for unused
        parameters: each step trains one task, so the other heads get no gradient, and DDP
        would otherwise wait for theirs forever."""
        if not self.enabled:
            return model
        return DistributedDataParallel(model, find_unused_parameters=True)

    def any(self, flag: bool) -> bool:
        """Whether `flag` is true on any rank (every rank gets the answer)."""
        if not self.enabled:
            return flag
        tensor = torch.tensor([float(flag)], dtype=torch.float64)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item())

    def mean(self, value: float) -> float:
        """The mean of a number over all ranks (every rank gets it)."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor)  # sum
        return float(tensor) / self.world_size


def init_distributed() -> DistributedContext:
    """Join the process group when started by torchrun (WORLD_SIZE > 1), else run alone. The
    environment torchrun sets is read and checked by environment.torchrun."""
    place = torchrun()
    if place is None:
        return DistributedContext()
    if not dist.is_available():
        raise InputError(f"environment variable WORLD_SIZE is {place.world_size}, but this "
                         f"PyTorch is built without torch.distributed")
    if not dist.is_initialized():
        if torch.cuda.is_available():
            if place.local_rank >= torch.cuda.device_count():
                raise InputError(f"environment variable LOCAL_RANK is {place.local_rank}, but "
                                 f"this machine has {torch.cuda.device_count()} GPU(s)")
            torch.cuda.set_device(place.local_rank)
            # NCCL for the CUDA gradients, gloo for the few CPU tensors (the logged loss).
            dist.init_process_group("cpu:gloo,cuda:nccl")
        else:
            dist.init_process_group("gloo")
    return DistributedContext(dist.get_rank(), dist.get_world_size())


def shutdown_distributed(context: DistributedContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
