"""Task samplers: which task the next training batch comes from.

Multi-task training takes one task per step. How often each task comes up decides what the
shared encoder is pulled toward: equal turns (round robin), turns in proportion to the data
(every example equally often), or in between (temperature sampling). Each sampler is an endless
iterator of task names; the seeded ones draw from their own numpy generator, so a run is
reproducible and a resumed run can replay the draws. For a step that mixes k tasks,
`draw_different` asks a sampler for tasks not drawn yet (next_not_in, draw_excluding), in a
number of draws with a bound.
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

    def next_not_in(self, drawn: Sequence[str], limit: int) -> str | None:
        """The next task in turn that is not in `drawn`, passing over at most `limit` turns;
        None if every one of them is in `drawn`."""
        for _ in range(min(limit, len(self.names))):
            name = next(self)
            if name not in drawn:
                return name
        return None

    def draw_excluding(self, drawn: Sequence[str]) -> str:
        """The next task in turn that is not in `drawn` (one must be left)."""
        name = self.next_not_in(drawn, len(self.names))
        if name is None:
            raise ValueError(f"no task is left to draw besides {', '.join(drawn)}")
        return name


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
        self._log_sizes = np.log(np.array([sizes[name] for name in self.names],
                                          dtype=np.float64))
        self._probabilities = self._normalised(np.arange(len(self.names)))
        self._cumulative = np.cumsum(self._probabilities)
        self.rng = np.random.default_rng(seed)

    def _normalised(self, indices: np.ndarray) -> np.ndarray:
        """p_i of the tasks `indices` among themselves. n_i^(1/T) computed as
        exp((log n_i - log n_max) / T), n_max the largest of them: the common factor n_max^(1/T)
        cancels in the normalisation, and this way a small T cannot overflow, nor can every
        weight underflow (the largest is exp(0) = 1)."""
        log_sizes = self._log_sizes[indices]
        weights = np.exp((log_sizes - log_sizes.max()) / self.temperature)
        return weights / weights.sum()

    def __iter__(self) -> "TemperatureSampler":
        return self

    def __next__(self) -> str:
        # Inverse-CDF sampling: the first task whose cumulative probability exceeds u ~ U[0, 1).
        # min() guards against the last cumulative sum rounding to just below 1.
        index = int(np.searchsorted(self._cumulative, self.rng.random(), side="right"))
        return self.names[min(index, len(self.names) - 1)]

    def probabilities(self) -> dict[str, float]:
        return {name: float(p) for name, p in zip(self.names, self._probabilities)}

    def next_not_in(self, drawn: Sequence[str], limit: int) -> str | None:
        """The first of the next `limit` draws that is not in `drawn`, with the generator left
        where drawing one at a time up to it would leave it; None (after `limit` draws) if each
        of them is in `drawn`. The draws are made in chunks of 8, 64, ... up to CHUNK (numpy's
        random(n) gives the numbers of n calls of random()), so a large limit is cheap."""
        outside = np.array([name not in drawn for name in self.names])
        looked, size = 0, 8
        while looked < limit:  # ends: each pass looks at one draw or more
            size = min(size, CHUNK, limit - looked)
            state = self.rng.bit_generator.state
            indices = np.searchsorted(self._cumulative, self.rng.random(size), side="right")
            indices = np.minimum(indices, len(self.names) - 1)
            hits = np.flatnonzero(outside[indices])
            if hits.size:
                self.rng.bit_generator.state = state  # then exactly the draws up to the hit
                self.rng.random(hits[0] + 1)
                return self.names[indices[hits[0]]]
            looked, size = looked + size, size * 8
        return None

    def draw_excluding(self, drawn: Sequence[str]) -> str:
        """A task not in `drawn` (one must be left), with the probabilities p renormalised over
        those left: what drawing until a task not in `drawn` comes up gives, in one draw."""
        left = np.array([i for i, name in enumerate(self.names) if name not in drawn])
        if len(left) == 0:
            raise ValueError(f"no task is left to draw besides {', '.join(drawn)}")
        cumulative = np.cumsum(self._normalised(left))
        index = int(np.searchsorted(cumulative, self.rng.random(), side="right"))
        return self.names[left[min(index, len(left) - 1)]]


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


# For up to this many draws a step's next task is drawn by the rule it always had (draw again
# on a repeat), so a step that needed fewer draws gets exactly the tasks and leaves exactly the
# generator it did: 2**20, far more than any run needed that ended in reasonable time (a task
# of p = 1e-5 took 100,000 draws a step). Needing more means a task that almost never comes up
# (p = 6e-61 for sizes 4 and 16 at T = 0.01), which could take forever: it is then drawn
# from the tasks left.
REDRAWS = 2**20
CHUNK = 2**14  # draws looked at in one numpy call


def draw_different(sampler, k: int) -> list[str]:
    """The sampler's next k different tasks, for a step that mixes k; k = 1: its next draw.

    Each task after the first is the first draw not drawn yet within REDRAWS draws
    (sampler.next_not_in), else a draw from the tasks left (sampler.draw_excluding: the
    probabilities renormalised over them, which is what drawing on until one of them comes up
    gives). Either way the k tasks have the distribution of drawing until k different ones
    came up; the function makes at most 1 + (k - 1) * (REDRAWS + 1) draws."""
    if not 1 <= k <= len(sampler.names):
        raise ValueError(f"cannot draw {k} different tasks out of {len(sampler.names)}")
    names = [next(sampler)]
    for _ in range(k - 1):
        name = sampler.next_not_in(names, REDRAWS)
        names.append(sampler.draw_excluding(names) if name is None else name)
    return names
