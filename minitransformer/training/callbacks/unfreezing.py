"""UnfreezeOnSchedule: gradual unfreezing, one more depth of the encoder joins the optimizer
when freezing.GradualUnfreezing's schedule says so, at its own layer-wise rate.

The schedule is a function of the step alone, so a resumed run rebuilds exactly the groups
it had when it stopped (on_restore, before the saved optimizer state is loaded).
"""

from __future__ import annotations

from ..freezing import GradualUnfreezing, count_parameters
from ..optimizer import parameter_groups
from .base import Callback, StepDone


class UnfreezeOnSchedule(Callback):
    def __init__(self, schedule: GradualUnfreezing):
        self.schedule = schedule

    def on_start(self, trainer) -> None:
        self.unfreeze_due(trainer)

    def on_restore(self, trainer) -> None:
        self.unfreeze_due(trainer)

    def on_step_end(self, trainer, step: StepDone) -> None:
        # Before any checkpoint of this step: a saved optimizer must hold every group the
        # step count calls for, or a resumed run could not load it.
        self.unfreeze_due(trainer)

    def unfreeze_due(self, trainer) -> None:
        """Give the depths due by now to the optimizer, at their own rates."""
        newly = self.schedule.advance(trainer.state.global_step)
        if not newly:
            return
        options, optimizer = trainer.options, trainer.optimizer
        in_optimizer = [p for group in optimizer.param_groups for p in group["params"]]
        groups, infos = parameter_groups(trainer.model, options.lr, options.weight_decay,
                                         options.layer_decay, exclude=in_optimizer)
        # Top depth first, the order in which depths join one at a time: a resumed run that
        # unfreezes several at once must rebuild the same group order to load the saved state.
        for group, info in sorted(zip(groups, infos), key=lambda pair: -pair[1].depth):
            optimizer.add_param_group(group)  # the other groups keep their Adam state
            trainer.group_infos.append(info)
        trainer.model.train_unfrozen()  # the unfrozen blocks leave eval mode
        trainer.wrap_for_distributed()  # DDP syncs only what was trainable when it was built
        trainer.log(f"\nstep {trainer.state.global_step}: unfroze " +
                    ", ".join("embeddings" if depth == 0 else f"layer {depth}"
                              for depth in newly) +
                    f" ({count_parameters(trainer.model):,} trainable parameters)")
