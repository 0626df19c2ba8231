import pytest
import torch
from conftest import make_encoder

from minitransformer.model.pooling import POOLINGS
from minitransformer.sentence import SentenceEncoder


@pytest.mark.parametrize("norm_placement", ["post", "pre"])
@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
@pytest.mark.parametrize("pooling", sorted(POOLINGS))
def test_padding_does_not_change_a_sentence(tokenizer, norm_placement, positional, pooling):
    encoder = make_encoder(tokenizer.vocab_size, norm_placement=norm_placement,
                           positional=positional, segment_vocab_size=2)
    model = SentenceEncoder(tokenizer, encoder, pooling=pooling).eval()
    short = "A cat."
    long_ones = ["The quick brown fox jumps over the lazy dog and the small cat sleeps on the "
                 "mat."] * 3
    model.normalize = False  # the pooled vectors themselves
    alone = model.encode([short])
    batch = tokenizer([short] + long_ones)
    assert batch["attention_mask"][0].sum() < batch["attention_mask"].shape[1] / 2  # really padded
    with torch.no_grad():
        in_batch = model(batch["input_ids"], batch["attention_mask"])[0].numpy()
    assert abs(alone[0] - in_batch).max() <= 1e-5


@pytest.mark.parametrize("norm_placement", ["post", "pre"])
def test_every_parameter_gets_a_gradient(tokenizer, norm_placement):
    encoder = make_encoder(tokenizer.vocab_size, norm_placement=norm_placement,
                           segment_vocab_size=2)
    model = SentenceEncoder(tokenizer, encoder).train()
    batch = tokenizer(["A cat sleeps.", "Attention is all we use here, really."])
    segments = torch.zeros_like(batch["input_ids"])
    segments[:, 3:] = 1
    pooled = model(batch["input_ids"], batch["attention_mask"], segments)
    (pooled ** 2).sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_output_shape_and_final_norm(tokenizer):
    pre = make_encoder(tokenizer.vocab_size, norm_placement="pre")
    post = make_encoder(tokenizer.vocab_size, norm_placement="post")
    ids = tokenizer(["One two three."])["input_ids"]
    assert pre(ids).shape == post(ids).shape == (1, ids.shape[1], 32)
    assert pre.final_norm is not None and post.final_norm is None
    assert len(pre.layers) == 2


def test_fused_encoder_equals_hand_written(tokenizer):
    encoder = make_encoder(tokenizer.vocab_size)
    batch = tokenizer(["A cat.", "The quick brown fox jumps over the lazy dog."])
    with torch.no_grad():
        expected = encoder(batch["input_ids"], batch["attention_mask"])
        encoder.set_fused_attention(True)
        fused = encoder(batch["input_ids"], batch["attention_mask"])
    torch.testing.assert_close(fused, expected, atol=1e-5, rtol=0)


def test_too_long_input_is_refused_clearly(tokenizer):
    encoder = make_encoder(tokenizer.vocab_size)
    with pytest.raises(ValueError, match="longer than the 64 positions"):
        encoder(torch.ones(1, 65, dtype=torch.long))
