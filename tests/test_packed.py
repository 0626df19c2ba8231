"""The packed (padding-free) inference path computes the same function as Encoder.forward."""

import numpy as np
import pytest
import torch
from conftest import make_encoder

from minitransformer.fast.packed import packed_forward

SETTINGS = [dict(norm_placement="post", positional="learned"),
            dict(norm_placement="pre", positional="sinusoidal")]


def padded_batch(lengths, vocab_size=100, seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab_size, (len(lengths), max(lengths)), generator=generator)
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        mask[row, :length] = 1
    return ids * mask, mask  # padding id 0


@pytest.mark.parametrize("settings", SETTINGS, ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("lengths", [[7, 3, 5, 1], [6, 6, 6]], ids=["padded", "no padding"])
def test_packed_states_equal_the_reference_at_real_tokens(settings, lengths):
    encoder = make_encoder(100, num_layers=3, **settings)
    ids, mask = padded_batch(lengths)
    with torch.inference_mode():
        reference = encoder(ids, mask)
        packed = packed_forward(encoder, ids, mask)
    real = mask.bool()
    torch.testing.assert_close(packed[real], reference[real], rtol=1e-5, atol=1e-5)
    assert torch.count_nonzero(packed[~real]) == 0  # zeros at padding, not leftovers


def test_encode_gives_the_same_embeddings_on_both_paths(sentence_encoder):
    sentences = ["a short one", "a much longer sentence with quite a few more words in it",
                 "mid length sentence here"]
    fast = sentence_encoder.encode(sentences, batch_size=2)
    reference = sentence_encoder.encode(sentences, batch_size=2, fast=False)
    np.testing.assert_allclose(fast, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("norm_placement", ["post", "pre"])
def test_training_through_the_packed_path_gives_the_reference_losses_and_gradients(
        tokenizer, norm_placement):
    """Every task kind's loss and every parameter's gradient, on padded batches, through the
    packed path and the reference one (dropout 0, so both compute the same function)."""
    from minitransformer.tasks.heads import MultiTaskModel, build_head
    from minitransformer.tasks.kinds import get_kind

    encoder = make_encoder(tokenizer.vocab_size, norm_placement=norm_placement)
    kinds = {"topic": ("sentence_classification", ["a", "b", "c"]),
             "ner": ("token_classification", ["B-X", "I-X", "O"]),
             "sts": ("sentence_similarity", None), "mlm": ("masked_lm", None)}
    heads = {name: build_head(kind, encoder.config, tokenizer, labels)
             for name, (kind, labels) in kinds.items()}
    model = MultiTaskModel(encoder, heads).train()
    texts = ["A cat.", "The quick brown fox jumps over the lazy dog.", "Attention is all."]
    ids = tokenizer.tokenize(texts)
    items = {"topic": [{"input_ids": row, "label": i} for i, row in enumerate(ids)],
             "ner": [{"input_ids": row, "labels": [i % 3 for i in range(len(row))]} for row in ids],
             "sts": [{"input_ids_a": a, "input_ids_b": b, "score": float(s)}
                     for a, b, s in zip(ids, ids[::-1], (4, 1, 2))],
             "mlm": [{"input_ids": row} for row in ids]}
    for name, (kind, _) in kinds.items():
        batch = get_kind(kind).collate(items[name], tokenizer)
        results = []
        for packed in (False, True):
            model.packed = packed
            model.zero_grad()
            torch.manual_seed(0)  # the same masks for the masked-LM task
            loss = model(name, batch).loss
            loss.backward()
            results.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                            if p.grad is not None}))
        (reference_loss, reference_grads), (packed_loss, packed_grads) = results
        torch.testing.assert_close(packed_loss, reference_loss, atol=1e-5, rtol=1e-5, msg=name)
        assert packed_grads.keys() == reference_grads.keys() and packed_grads, name
        for parameter in reference_grads:
            torch.testing.assert_close(packed_grads[parameter], reference_grads[parameter],
                                       atol=1e-5, rtol=1e-4, msg=f"{name}: {parameter}")


def test_dropout_acts_on_the_packed_path_in_training_only():
    encoder = make_encoder(100, dropout=0.3, attention_dropout=0.3)
    ids, mask = padded_batch([5, 3])
    encoder.train()
    first, second = packed_forward(encoder, ids, mask), packed_forward(encoder, ids, mask)
    assert not torch.equal(first, second)
    encoder.eval()
    torch.testing.assert_close(packed_forward(encoder, ids, mask)[mask.bool()],
                               encoder(ids, mask)[mask.bool()], atol=1e-5, rtol=0)
