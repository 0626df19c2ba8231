"""Layer-wise learning-rate groups and the warm-up schedule, on a tiny 6-layer model."""

import re
from collections import Counter

import pytest
import torch
from conftest import make_encoder

from minitransformer.tasks.heads import (
    MultiTaskModel,
    SentenceClassificationHead,
    TokenClassificationHead,
)
from minitransformer.training.freezing import apply_freezing
from minitransformer.training.optimizer import format_groups, parameter_groups, warmup_linear_factor

LR, DECAY, HEAD_LR, WEIGHT_DECAY = 1e-3, 0.8, 5e-3, 0.01


def six_layer_model(norm_placement="post"):
    encoder = make_encoder(100, num_layers=6, norm_placement=norm_placement)
    heads = {"topic": SentenceClassificationHead(32, 3), "ner": TokenClassificationHead(32, 5)}
    return MultiTaskModel(encoder, heads)


def expected_depth(name: str) -> int | None:
    """Written out from the names, independently of optim.depth_of."""
    if name.startswith("encoder.embeddings."):
        return 0
    match = re.match(r"encoder\.layers\.(\d+)\.", name)
    if match:
        return int(match.group(1)) + 1
    if name.startswith("encoder.final_norm."):
        return 6
    assert name.startswith("heads.")
    return None


@pytest.mark.parametrize("norm_placement", ["post", "pre"])
def test_every_parameter_gets_the_rate_of_its_depth_in_exactly_one_group(norm_placement):
    model = six_layer_model(norm_placement)
    groups, infos = parameter_groups(model, LR, WEIGHT_DECAY, DECAY, head_lrs={"topic": HEAD_LR})
    names = dict((id(p), n) for n, p in model.named_parameters())
    counts = Counter(id(p) for group in groups for p in group["params"])
    assert set(counts) == set(names) and set(counts.values()) == {1}
    for group in groups:
        for parameter in group["params"]:
            name = names[id(parameter)]
            depth = expected_depth(name)
            if depth is None:
                rate = HEAD_LR if name.startswith("heads.topic.") else LR  # ner: the default
            else:
                rate = LR * DECAY ** (6 - depth)
            assert group["lr"] == pytest.approx(rate), name
            # Decay only on matrices: linear weights and embedding tables, never biases or norms.
            decays = parameter.dim() == 2 and not name.endswith("norm.weight")
            assert group["weight_decay"] == (WEIGHT_DECAY if decays else 0.0), name
    assert {info.name for info in infos} >= {"embeddings", "layer 1", "layer 6", "head topic"}
    assert sum(info.parameters for info in infos) == sum(p.numel() for p in model.parameters())
    assert "layer 6" in format_groups(infos)


def test_frozen_parameters_never_reach_the_optimizer():
    model = six_layer_model()
    apply_freezing(model, "layers:2")
    groups, _ = parameter_groups(model, LR)
    grouped = {id(p) for group in groups for p in group["params"]}
    for name, parameter in model.named_parameters():
        frozen = expected_depth(name) is not None and expected_depth(name) <= 2
        assert (id(parameter) in grouped) != frozen, name


def test_excluded_parameters_are_left_out():
    model = six_layer_model()
    first, _ = parameter_groups(model, LR)
    heads_only = [p for group in first if group["name"].startswith("head") for p in group["params"]]
    rest, _ = parameter_groups(model, LR, exclude=heads_only)
    assert all(not group["name"].startswith("head") for group in rest)
    assert sum(len(g["params"]) for g in rest) + len(heads_only) == len(list(model.parameters()))


def test_warmup_then_linear_decay_by_hand():
    # 2 warm-up steps of 10: (s + 1) / 3 while warming up, then (10 - s) / 8 down to 0.
    factors = [warmup_linear_factor(step, 2, 10) for step in range(11)]
    expected = [1 / 3, 2 / 3, 1.0, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8, 0.0]
    assert factors == pytest.approx(expected)


def test_optimizer_groups_train_at_their_rates():
    model = six_layer_model()
    groups, _ = parameter_groups(model, LR, layer_decay=DECAY)
    optimizer = torch.optim.AdamW(groups)
    rates = {group["name"]: group["lr"] for group in optimizer.param_groups}
    assert rates["layer 6"] == pytest.approx(LR) and rates["embeddings"] == pytest.approx(
        LR * DECAY ** 6)


def test_an_mlp_heads_layers_get_groups_of_their_own_and_the_hidden_rate_factor():
    encoder = make_encoder(100, num_layers=6)
    model = MultiTaskModel(encoder, {"topic": SentenceClassificationHead(32, 3, hidden=16)})
    groups, infos = parameter_groups(model, LR, WEIGHT_DECAY, head_lrs={"topic": HEAD_LR},
                                     hidden_lr_factor=3.0)
    rates = {(group["name"], group["weight_decay"]): group["lr"] for group in groups}
    assert rates[("head topic hidden", WEIGHT_DECAY)] == pytest.approx(3 * HEAD_LR)
    assert rates[("head topic hidden", 0.0)] == pytest.approx(3 * HEAD_LR)  # its bias
    assert rates[("head topic classifier", WEIGHT_DECAY)] == pytest.approx(HEAD_LR)
    hidden = {name for group in groups if group["name"] == "head topic hidden"
              for name in group["names"]}
    assert hidden == {"heads.topic.hidden.weight", "heads.topic.hidden.bias"}
    assert "head topic hidden" in format_groups(infos)
