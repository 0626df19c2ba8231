"""The environment variables minitransformer reads, read and checked in one place (except the
two tuning variables of training/memory.py, which it still reads itself, leniently).

    WORLD_SIZE    how many processes train together; unset or 1: this one alone
    RANK          this process's number among them, 0 to WORLD_SIZE - 1
    LOCAL_RANK    its number on this machine (it picks the GPU)
    MASTER_ADDR   where rank 0 waits for the others (host name or address)
    MASTER_PORT   and on which port, 1 to 65535

torchrun sets all five in each process it starts (training/distributed.py joins them). A value
that cannot be what it should be (WORLD_SIZE=abc, WORLD_SIZE=0, RANK beyond the world) or a
world of several processes without the variables that say how to meet is refused with an
InputError naming the variable: one line, exit status 2, as for a bad flag, before anything is
done. Numbers are read by values.parse_int, as every number typed to a command.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import InputError
from .values import parse_int

MAX_WORLD_SIZE = 65_536  # processes; far above any run of this project, and a bound on typos
TORCHRUN_HINT = ("start the processes with torchrun (torchrun --nproc_per_node=N train.py ...), "
                 "or unset WORLD_SIZE to train in this process alone")


@dataclass(frozen=True)
class Torchrun:
    """Where this process stands among those torchrun started (all checked)."""

    world_size: int
    rank: int
    local_rank: int


def variable(name: str) -> str | None:
    """The text of environment variable `name`, or None when it is unset."""
    return os.environ.get(name)


def number(name: str, low: int, high: int) -> int:
    """Environment variable `name` (set) as an integer low <= n <= high, or an InputError."""
    return parse_int(variable(name), f"environment variable {name}", low, high)


def torchrun() -> Torchrun | None:
    """This process's place among several that torchrun started; None when it runs alone
    (WORLD_SIZE unset or 1). Refuses values that are not what torchrun writes, and a
    WORLD_SIZE above 1 without RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT."""
    if variable("WORLD_SIZE") is None:
        return None
    world_size = number("WORLD_SIZE", 1, MAX_WORLD_SIZE)
    if world_size == 1:
        return None
    missing = [name for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
               if not (variable(name) or "").strip()]
    if missing:
        raise InputError(f"environment variable WORLD_SIZE is {world_size}, but "
                         f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set; "
                         f"{TORCHRUN_HINT}")
    rank = number("RANK", 0, world_size - 1)
    local_rank = number("LOCAL_RANK", 0, world_size - 1)
    number("MASTER_PORT", 1, 65_535)
    address = variable("MASTER_ADDR")
    if not address.isprintable() or " " in address:
        raise InputError(f"environment variable MASTER_ADDR must be a host name or address, "
                         f"got {address!r}")
    return Torchrun(world_size, rank, local_rank)
