"""Freezing strategies: frozen parameters get no gradient, no optimizer state, and never move."""

import pytest
import torch
from conftest import make_encoder

from minitransformer.tasks.heads import MultiTaskModel, SentenceClassificationHead
from minitransformer.training.freezing import GradualUnfreezing, apply_freezing
from minitransformer.training.optimizer import parameter_groups

NUM_LAYERS = 3

# Strategy -> which parameter names must end up frozen (written out by hand).
FROZEN = {
    "none": lambda name: False,
    "all:topic": lambda name: not name.startswith("heads.topic."),
    "backbone": lambda name: name.startswith("encoder."),
    "embeddings": lambda name: name.startswith("encoder.embeddings."),
    "layers:1": lambda name: name.startswith(("encoder.embeddings.", "encoder.layers.0.")),
    "layers:3": lambda name: name.startswith("encoder."),
    "head:topic": lambda name: name.startswith("heads.topic."),
    "head:topic,mood": lambda name: name.startswith("heads."),
}


def two_head_model(dropout=0.0):
    encoder = make_encoder(60, num_layers=NUM_LAYERS, dropout=dropout)
    heads = {"topic": SentenceClassificationHead(32, 3, dropout),
             "mood": SentenceClassificationHead(32, 2, dropout)}
    return MultiTaskModel(encoder, heads)


def batch(seed, classes):
    generator = torch.Generator().manual_seed(seed)
    return {"input_ids": torch.randint(5, 60, (4, 7), generator=generator),
            "attention_mask": torch.ones(4, 7, dtype=torch.long),
            "labels": torch.randint(0, classes, (4,), generator=generator)}


@pytest.mark.parametrize("strategy", sorted(FROZEN))
def test_frozen_parameters_stay_bit_identical_while_the_rest_trains(strategy):
    model = two_head_model()
    apply_freezing(model, strategy)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    groups, _ = parameter_groups(model, lr=1e-2, weight_decay=0.1)  # decay would move them too
    optimizer = torch.optim.AdamW(groups)
    model.train_unfrozen()
    for step in range(3):
        for task, classes in (("topic", 3), ("mood", 2)):
            loss = model(task, batch(step, classes)).loss
            if loss.requires_grad:  # all:topic: nothing of the mood task trains
                loss.backward()
            optimizer.step()
            # keep zero-filled grads: None means "no gradient"
            optimizer.zero_grad(set_to_none=False)
    for name, parameter in model.named_parameters():
        if FROZEN[strategy](name):
            assert not parameter.requires_grad and parameter.grad is None, name
            assert parameter not in optimizer.state, name
            assert torch.equal(parameter, before[name]), name
        else:
            assert parameter.requires_grad and not torch.equal(parameter, before[name]), name


def test_gradients_reach_only_the_trainable_parameters_of_the_task():
    model = two_head_model()
    apply_freezing(model, "backbone")
    model("topic", batch(0, 3)).loss.backward()
    for name, parameter in model.named_parameters():
        if name.startswith("heads.topic."):
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        else:  # frozen encoder, and the other task's head that this batch did not use
            assert parameter.grad is None, name


def test_frozen_blocks_run_without_dropout():
    model = two_head_model(dropout=0.5)
    apply_freezing(model, "layers:1")
    model.train_unfrozen()
    assert not model.encoder.embeddings.training and not model.encoder.layers[0].training
    assert model.encoder.layers[1].training and model.heads["topic"].training
    # So the frozen part is a fixed function: the embeddings' output repeats exactly.
    ids = batch(0, 3)["input_ids"]
    assert torch.equal(model.encoder.embeddings(ids), model.encoder.embeddings(ids))


def test_train_keeps_the_meaning_of_nn_module_train():
    """train() puts every module in train mode, frozen or not, as for any nn.Module; only
    train_unfrozen() applies the frozen-blocks-in-eval rule."""
    model = two_head_model(dropout=0.5)
    apply_freezing(model, "layers:1")
    model.train_unfrozen().train()
    assert all(module.training for module in model.modules())
    model.eval()
    assert not any(module.training for module in model.modules())
    ids = batch(0, 3)["input_ids"]  # dropout on in the frozen embeddings again: two draws differ
    assert not torch.equal(model.encoder.embeddings.train()(ids), model.encoder.embeddings(ids))


def test_applying_a_strategy_again_starts_from_everything_trainable():
    model = two_head_model()
    apply_freezing(model, "backbone")
    assert apply_freezing(model, "head:mood") == ["head mood"]
    assert all(p.requires_grad for p in model.encoder.parameters())


@pytest.mark.parametrize("strategy, message", [("layers:9", "0 <= K <= 3"), ("layers:x", "0 <= K"),
                                               ("head:nope", "no head named nope"),
                                               ("all:topic,nope", "no head named nope"),
                                               ("freeze-some", "unknown freezing strategy"),
                                               ("backbone:2", "unknown freezing strategy")])
def test_bad_strategies_are_refused_with_a_reason(strategy, message):
    with pytest.raises(ValueError, match=message):
        apply_freezing(two_head_model(), strategy)


def test_gradual_unfreezing_goes_from_the_top_down():
    model = two_head_model()
    unfreezing = GradualUnfreezing(model, every=10)
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert all(p.requires_grad for p in model.heads.parameters())
    assert unfreezing.advance(9) == []
    assert unfreezing.advance(10) == [3]  # the top layer first
    assert unfreezing.advance(35) == [2, 1]
    assert unfreezing.advance(1000) == [0]  # the embeddings last, then nothing is left
    assert all(p.requires_grad for p in model.parameters())
