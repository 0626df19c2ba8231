import pytest
import torch

from conftest import make_encoder
from minitransformer.heads import (IGNORE_INDEX, MultiTaskModel, SentenceClassificationHead,
                                   SimilarityObjective, TokenClassificationHead)


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
    torch.testing.assert_close(output.predictions, torch.cosine_similarity(pooled_a, pooled_b), atol=1e-5, rtol=0)


def test_unknown_task_is_named(tokenizer):
    model = MultiTaskModel(make_encoder(tokenizer.vocab_size), {"topic": SentenceClassificationHead(32, 3)})
    with pytest.raises(KeyError, match="no head for task 'ner'"):
        model("ner", {})


def test_every_task_kind_has_a_head_and_metrics_that_exist():
    from minitransformer import metrics
    from minitransformer.heads import HEADS
    from minitransformer.kinds import KINDS

    assert set(HEADS) == set(KINDS)
    for kind in KINDS.values():
        assert kind.metrics and all(callable(getattr(metrics, name)) for name in kind.metrics)
