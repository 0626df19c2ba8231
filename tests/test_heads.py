import pytest
import torch
from conftest import make_encoder

from minitransformer.tasks.heads import (
    IGNORE_INDEX,
    MultiTaskModel,
    SentenceClassificationHead,
    SimilarityObjective,
    TokenClassificationHead,
)


def test_token_loss_ignores_unlabelled_positions():
    logits = torch.randn(2, 3, 4)
    labels = torch.tensor([[IGNORE_INDEX, 2, IGNORE_INDEX], [1, IGNORE_INDEX, IGNORE_INDEX]])
    expected = -(logits.log_softmax(-1)[0, 1, 2] + logits.log_softmax(-1)[1, 0, 1]) / 2
    torch.testing.assert_close(TokenClassificationHead.loss(logits, labels), expected)


def test_similarity_runs_the_encoder_once_on_both_sides(tokenizer):
    encoder = make_encoder(tokenizer.vocab_size)
    model = MultiTaskModel(encoder, {"sts": SimilarityObjective()}).eval()
    a = tokenizer(["A cat sleeps.", "The quick brown fox jumps over the lazy dog."])
    b = tokenizer(["A small cat.", "A dog."])
    calls = []
    encoder.register_forward_hook(lambda *args: calls.append(1))
    output = model("sts", {"input_ids_a": a["input_ids"], "attention_mask_a": a["attention_mask"],
                           "input_ids_b": b["input_ids"], "attention_mask_b": b["attention_mask"],
                           "scores": torch.tensor([4.0, 1.0])})
    assert len(calls) == 1
    with torch.no_grad():  # the same cosines as embedding each side on its own
        pooled_a = model.pool(encoder(a["input_ids"], a["attention_mask"]), a["attention_mask"])
        pooled_b = model.pool(encoder(b["input_ids"], b["attention_mask"]), b["attention_mask"])
    torch.testing.assert_close(output.predictions.cosines,
                               torch.cosine_similarity(pooled_a, pooled_b), atol=1e-5, rtol=0)


def test_unknown_task_is_named(tokenizer):
    model = MultiTaskModel(make_encoder(tokenizer.vocab_size),
                           {"topic": SentenceClassificationHead(32, 3)})
    with pytest.raises(KeyError, match="no head for task 'ner'"):
        model("ner", {})


def test_every_task_kind_has_a_head_and_metric_functions():
    from minitransformer.tasks import metrics
    from minitransformer.tasks.heads import HEADS
    from minitransformer.tasks.kinds import KINDS

    assert set(HEADS) == set(KINDS)
    for kind in KINDS.values():
        # Each metric is the function of metrics.py of the name it is reported under.
        assert kind.metrics and all(function is getattr(metrics, name)
                                    for name, function in kind.metrics.items())
    assert [kind.main_metric for kind in KINDS.values()] == [
        "accuracy", "entity_f1", "spearman", "masked_accuracy"]


def test_a_head_with_a_hidden_layer_is_an_mlp_and_survives_a_checkpoint(tokenizer, tmp_path):
    from minitransformer.errors import InputError
    from minitransformer.loading import load_model_with_heads
    from minitransformer.tasks.data import TaskSpec
    from minitransformer.tasks.heads import build_head
    from minitransformer.training.optimizer import format_groups, parameter_groups
    from minitransformer.training.saving import save_checkpoint

    encoder = make_encoder(tokenizer.vocab_size)
    head = build_head("sentence_classification", encoder.config, tokenizer, ["a", "b", "c"], 0.0,
                      hidden=16)
    features = torch.randn(5, 32)
    expected = head.classifier(torch.relu(head.hidden(features)))  # d -> 16 -> ReLU -> 3
    torch.testing.assert_close(head(features), expected)
    model = MultiTaskModel(encoder, {"topic": head})
    _, infos = parameter_groups(model, 1e-3)
    assert {"head topic hidden", "head topic classifier"} <= {info.name for info in infos}
    assert "head topic hidden" in format_groups(infos)

    spec = TaskSpec("topic", "sentence_classification", "t.jsonl", head_hidden=16)
    save_checkpoint(tmp_path / "c", model, tokenizer,
                    [{"spec": spec.to_dict(), "label_map": ["a", "b", "c"]}], {})
    loaded, _, _ = load_model_with_heads(tmp_path / "c")
    torch.testing.assert_close(loaded.heads["topic"](features), head(features))
    with pytest.raises(InputError, match="has no hidden layer"):
        TaskSpec("sts", "sentence_similarity", "s.jsonl", head_hidden=16)
    for width in (0, 10**9):  # none, or more than any layer of ours: refused before building
        with pytest.raises(InputError, match="head_hidden must be an integer from 1 to 65,536"):
            TaskSpec("topic", "sentence_classification", "t.jsonl", head_hidden=width)
