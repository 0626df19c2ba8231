"""Which parts of a multi-task model learn: named freezing strategies and gradual unfreezing.

The blocks of a MultiTaskModel, by encoder depth (Encoder.blocks_by_depth, which optimizer.py's
layer-wise rates read too):

    depth 0        the embeddings
    depth 1..N     encoder layers, bottom to top (a pre-norm model's final LayerNorm goes with N)
    heads          one per task

Strategies (`train.py --freeze`):

    none             everything trains
    all[:A,B]        everything frozen except the heads named (the encoder as a fixed feature
                     extractor; `all` alone trains nothing and is refused by the trainer)
    backbone         the whole encoder frozen, every head trains
    embeddings       the embeddings frozen
    layers:K         the embeddings and the lowest K layers frozen
    head:A[,B]       these heads frozen, everything else trains

"Frozen" means three things. The parameters have requires_grad False, so autograd computes no
gradient for them (and skips the backward pass below the lowest trainable block). They are left
out of the optimizer (optim.parameter_groups), so they get no Adam state and no weight decay:
AdamW's decoupled decay would otherwise shrink weights that get no gradient. And a block with
nothing to train runs in eval mode (MultiTaskModel.train_unfrozen, which the trainer calls, not
nn.Module's train), so its dropout is off: our choice.
A frozen block is then a fixed function, as a feature extractor should be, instead of feeding
noise to the blocks above that they cannot learn to undo.

Gradual unfreezing (ULMFiT, Howard & Ruder 2018): train the heads alone at first, then every
`every` steps unfreeze the next block from the top, so the general features of the low layers
are disturbed only once the layers above have adapted.
"""

from __future__ import annotations

from torch import nn

from ..errors import InputError
from ..values import parse_int

STRATEGY_HELP = "none | all[:HEAD,...] | backbone | embeddings | layers:K | head:HEAD[,...]"


def set_trainable(modules, trainable: bool) -> None:
    for module in modules:
        for parameter in module.parameters():
            parameter.requires_grad_(trainable)


def apply_freezing(model, strategy: str) -> list[str]:
    """Freeze the parts of `model` that `strategy` names; returns their names, for the log.

    Starts from everything trainable, so applying a strategy twice gives the same model.
    """
    kind, _, argument = strategy.partition(":")
    heads = dict(model.heads.items())
    num_layers = model.encoder.config.num_layers
    set_trainable([model], True)

    def named_heads(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in heads]
        if unknown:
            raise InputError(f"freeze (--freeze) {strategy}: no head named {', '.join(unknown)}; "
                             f"heads: {', '.join(heads)}")
        return names

    if kind == "none" and not argument:
        frozen_depths, frozen_heads = [], []
    elif kind == "all":
        keep = named_heads(argument)
        frozen_depths, frozen_heads = (list(range(num_layers + 1)),
                                       [h for h in heads if h not in keep])
    elif kind == "backbone" and not argument:
        frozen_depths, frozen_heads = list(range(num_layers + 1)), []
    elif kind == "embeddings" and not argument:
        frozen_depths, frozen_heads = [0], []
    elif kind == "layers":
        try:
            depth = parse_int(argument, "K", 0, num_layers)
        except InputError:
            raise InputError(f"freeze (--freeze) layers:K needs 0 <= K <= {num_layers} in ASCII "
                             f"digits, got {strategy!r}") from None
        frozen_depths, frozen_heads = list(range(depth + 1)), []
    elif kind == "head" and argument:
        frozen_depths, frozen_heads = [], named_heads(argument)
    else:
        raise InputError(f"unknown freezing strategy {strategy!r}; use {STRATEGY_HELP}")

    blocks = model.encoder.blocks_by_depth()
    set_trainable([module for depth in frozen_depths for module in blocks[depth]], False)
    set_trainable([heads[name] for name in frozen_heads], False)
    return [("embeddings" if depth == 0 else f"layer {depth}") for depth in frozen_depths] + \
        [f"head {name}" for name in frozen_heads]


def freeze_for_run(model, strategy: str, unfreeze_every_steps: int
                   ) -> tuple[list[str], GradualUnfreezing | None]:
    """Apply `strategy`, and gradual unfreezing when unfreeze_every_steps > 0 (which freezes
    the whole encoder first). Returns what is frozen, for the log, and the schedule or None."""
    frozen = apply_freezing(model, strategy)
    schedule = GradualUnfreezing(model, unfreeze_every_steps) if unfreeze_every_steps else None
    if count_parameters(model) == 0:  # (learned loss weights alone are nothing to train)
        unfreezing = " with gradual unfreezing, which starts from a frozen encoder," \
            if schedule else ""
        raise InputError(f"freeze (--freeze) {strategy}{unfreezing} leaves nothing of the "
                         f"model to train")
    if schedule is None:
        return frozen, None
    return ["the encoder, unfrozen from the top one depth every "
            f"{unfreeze_every_steps} steps"] + frozen, schedule


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class GradualUnfreezing:
    """Unfreeze the encoder one depth at a time, from the top, every `every` steps.

    Stage s (after s * every steps) has the top s depths unfrozen: stage 0 trains the heads
    only, stage N + 1 the whole encoder. The stage is a function of the step alone, so a
    resumed run rebuilds exactly the optimizer groups it had when it stopped.
    """

    def __init__(self, model, every: int):
        if every < 1:
            raise ValueError(f"gradual unfreezing needs a positive interval, got {every}")
        self.blocks = model.encoder.blocks_by_depth()
        self.every = every
        self.unfrozen = 0  # how many depths, counted from the top, are trainable now
        set_trainable([module for block in self.blocks for module in block], False)

    def stage_at(self, step: int) -> int:
        return min(step // self.every, len(self.blocks))

    def advance(self, step: int) -> list[int]:
        """Unfreeze every depth that is due at `step`; returns the depths unfrozen now."""
        newly = []
        while self.unfrozen < self.stage_at(step):
            depth = len(self.blocks) - 1 - self.unfrozen
            set_trainable(self.blocks[depth], True)
            newly.append(depth)
            self.unfrozen += 1
        return newly
