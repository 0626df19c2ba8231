"""Every random choice of a run, derived from its one seed.

A run draws random numbers for several purposes: the new heads' weights, each epoch's order of
examples and of tasks, each step's dropout masks. Each purpose gets its own seed, derived from
the run's seed and names that say which draw it is:

    derive_seed(seed, "head", "sentiment")       # the sentiment head's initial weights
    derive_seed(seed, "epoch", 2, "batches", "topic")
    derive_seed(seed, "dropout", step, rank)

so a draw never depends on how many numbers another purpose consumed before it (adding a task
leaves the other heads as they were), and a resumed run can rebuild any stream from the step
it stopped at without saving a random-number state.
"""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, *parts: str | int) -> int:
    """A 63-bit seed for the purpose named by `parts` in the run seeded with `seed`.

    A stable hash (BLAKE2b of the parts' text), not Python's hash(), which is salted per
    process: the same arguments give the same seed in every process and on every machine, and
    different arguments give unrelated seeds. 63 bits suit torch, numpy and random alike.
    """
    text = "/".join(str(part) for part in (seed, *parts))
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
