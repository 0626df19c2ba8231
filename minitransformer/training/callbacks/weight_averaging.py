"""WeightAveraging: an exponential moving average of the weights, evaluated and kept as RUN/best.

After every step each parameter's average moves a little toward it:

    average = d * average + (1 - d) * weight,     d = min(ema_decay, (1 + t) / (10 + t))

(t: steps taken). The weights of one step carry the noise of its one batch and of the task the
sampler drew; their average over the last ~1 / (1 - d) steps smooths that noise away and tends to
sit in a flatter part of the loss surface, which is what holds on data no one tuned on (Polyak &
Juditsky 1992; Izmailov et al. 2018, "Averaging weights leads to wider optima"). The warm-up of
d (TensorFlow's ExponentialMovingAverage with num_updates) lets the first steps count fully, so
the average does not drag the pretrained start along for thousands of steps.

What changes with --ema-decay: every evaluation scores the averaged weights, so RUN/best holds
averaged weights chosen on the select part. Training itself does not change: the steps go on
from the live weights, bit for bit those of a run without the option, and RUN/last keeps the
live weights (a resumed run goes on from them) with the average in training_state.pt.
train.py then scores three models: RUN/best, the final live weights, the final average.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from .base import Callback, StepDone


class WeightAveraging(Callback):
    def __init__(self, decay: float):
        self.decay = decay  # ema_decay, in (0, 1)

    def on_start(self, trainer) -> None:
        # A resumed run has its average back in trainer.state; a new one starts at the weights.
        if trainer.state.averaged_weights is None:
            trainer.state.averaged_weights = {
                name: parameter.detach().clone()
                for name, parameter in trainer.model.named_parameters()}
        else:  # a checkpoint is read onto the CPU
            trainer.state.averaged_weights = {
                name: average.to(trainer.device)
                for name, average in trainer.state.averaged_weights.items()}

    def on_step_end(self, trainer, step: StepDone) -> None:
        t = trainer.state.global_step  # steps taken, this one included
        decay = min(self.decay, (1 + t) / (10 + t))
        averages = trainer.state.averaged_weights
        with torch.no_grad():
            for name, parameter in trainer.model.named_parameters():
                averages[name].lerp_(parameter, 1 - decay)  # a += (1 - d) (w - a)

    @contextmanager
    def averaged_weights_in(self, trainer) -> Iterator[None]:
        """While open, the model holds the averaged weights; then its own again, unchanged."""
        averages = trainer.state.averaged_weights
        live = {name: parameter.detach().clone()
                for name, parameter in trainer.model.named_parameters()}
        try:
            self._load(trainer.model, averages)
            yield
        finally:
            self._load(trainer.model, live)

    @staticmethod
    def _load(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                parameter.copy_(weights[name])
