"""Task samplers: which task the next training batch comes from.

Multi-task training takes one task per step. How often each task comes up decides what the
shared encoder is pulled toward: equal turns (round robin), turns in proportion to the data
(every example equally often), or in between (temperature sampling). Each sampler is an endless
iterator of task names; the seeded ones draw from their own numpy generator, so a run is
reproducible and a resumed run can replay the draws.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError


class RoundRobinSampler:
    """Task 1, task 2, ..., task K, task 1, ...: equal steps for every task, whatever its size."""

    def __init__(self, names: Sequence[str]):
        if not names:
            raise ValueError("a sampler needs at least one task")
        self.names = list(names)
        self.step = 0

    def __iter__(self) -> "RoundRobinSampler":
        return self

    def __next__(self) -> str:
        name = self.names[self.step % len(self.names)]
        self.step += 1
        return name

    def probabilities(self) -> dict[str, float]:
        """The long-run share of steps of each task: 1 / K."""
        return {name: 1.0 / len(self.names) for name in self.names}


class TemperatureSampler:
    """Draw task i with probability p_i = n_i^(1/T) / sum_j n_j^(1/T), n_i = its training size.

    T = 1 is proportional to size (big tasks dominate); T -> infinity is uniform (small tasks
    are seen as often as big ones and overfit). T between the two, e.g. 2 or 5, is the usual
    compromise of multilingual training (Arivazhagan et al. 2019; XLM-R and mT5 use the same rule
    written with alpha = 1/T = 0.3). `temperature=math.inf` gives exactly uniform.
    """

    def __init__(self, sizes: dict[str, int], temperature: float = 1.0, seed: int = 0):
        if not sizes:
            raise ValueError("a sampler needs at least one task")
        for name, size in sizes.items():
            if size <= 0:
                raise ValueError(f"task {name!r} has size {size}; sizes must be positive")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.names = list(sizes)
        self.temperature = temperature
        # n_i^(1/T) computed as exp((log n_i - log n_max) / T): the common factor n_max^(1/T)
        # cancels in the normalisation, and this way a small T cannot overflow.
        log_sizes = np.log(np.array([sizes[name] for name in self.names], dtype=np.float64))
        weights = np.exp((log_sizes - log_sizes.max()) / temperature)
        self._probabilities = weights / weights.sum()
        self._cumulative = np.cumsum(self._probabilities)
        self.rng = np.random.default_rng(seed)

    def __iter__(self) -> "TemperatureSampler":
        return self

    def __next__(self) -> str:
        # Inverse-CDF sampling: the first task whose cumulative probability exceeds u ~ U[0, 1).
        # min() guards against the last cumulative sum rounding to just below 1.
        index = int(np.searchsorted(self._cumulative, self.rng.random(), side="right"))
        return self.names[min(index, len(self.names) - 1)]

    def probabilities(self) -> dict[str, float]:
        return {name: float(p) for name, p in zip(self.names, self._probabilities)}


class ProportionalSampler(TemperatureSampler):
    """Draw task i with probability n_i / sum_j n_j: every training example equally often."""

    def __init__(self, sizes: dict[str, int], seed: int = 0):
        super().__init__(sizes, temperature=1.0, seed=seed)


SAMPLERS = ("round_robin", "proportional", "temperature")


def make_sampler(strategy: str, sizes: dict[str, int], seed: int = 0,
                 temperature: float = 2.0):
    """A sampler by name (one of SAMPLERS); `sizes` maps task name -> training set size."""
    if strategy == "round_robin":
        return RoundRobinSampler(list(sizes))
    if strategy == "proportional":
        return ProportionalSampler(sizes, seed)
    if strategy == "temperature":
        return TemperatureSampler(sizes, temperature, seed)
    raise InputError(f"unknown sampling strategy {strategy!r}; "
                     f"choose one of {', '.join(SAMPLERS)}")


def draw_different(sampler, k: int) -> list[str]:
    """The sampler's next k different tasks, for a step that mixes k (a draw of a task already
    drawn is passed over); k = 1: its next draw."""
    names: list[str] = []
    while len(names) < k:
        name = next(sampler)
        if name not in names:
            names.append(name)
    return names
