"""inspect: the stages it prints are the model's own (the weights are a softmax over the real
keys, the states and embeddings are what forward and encode give), with the shapes it prints."""

import re

import numpy as np
import pytest
import torch
from conftest import CORPUS

from minitransformer import inspect

TWO = [CORPUS[0], "A cat."]  # different lengths: the second is padded


def test_attention_weights_are_a_softmax_over_the_real_keys(sentence_encoder):
    trace = inspect.trace_sentences(sentence_encoder, TWO)
    real = trace.attention_mask.bool()  # (B, T)
    assert len(trace.encoder.attention) == sentence_encoder.encoder.config.num_layers
    for weights in trace.encoder.attention:  # (B, h, T, T)
        assert weights.shape == (2, 4, *trace.input_ids.shape[1:], trace.input_ids.shape[1])
        torch.testing.assert_close(weights.sum(dim=-1), torch.ones(weights.shape[:-1]))
        padded_keys = weights[1][:, :, ~real[1]]  # (h, T, padded positions)
        assert padded_keys.numel() > 0 and padded_keys.abs().max() == 0.0


def test_the_trace_is_the_model_s_forward_and_encode(sentence_encoder):
    trace = inspect.trace_sentences(sentence_encoder, TWO)
    with torch.no_grad():
        states = sentence_encoder.encoder(trace.input_ids, trace.attention_mask)
    torch.testing.assert_close(trace.encoder.states, states)
    # encode runs the packed path, the trace the padded one: other shapes, other float32
    # rounding on each CPU (3e-8 here); 1e-5 as in test_packed.py
    np.testing.assert_allclose(trace.normalized.numpy(), sentence_encoder.encode(TWO), atol=1e-5)


def test_printed_shapes_are_the_tensors_shapes(sentence_encoder):
    trace = inspect.trace_sentences(sentence_encoder, TWO)
    text = "\n".join(inspect.describe(sentence_encoder, trace))
    batch, length = trace.input_ids.shape
    assert f"input_ids ({batch}, {length})" in text
    assert text.count(f"attention weights ({batch}, 4, {length}, {length})") == 2  # two layers
    assert f"output ({batch}, {length}, 32)" in text
    assert f"sentence vectors ({batch}, 32)" in text
    cosine = float(re.search(r"cosine of sentences 0 and 1: (-?[\d.]+)", text).group(1))
    embeddings = sentence_encoder.encode(TWO)
    assert cosine == pytest.approx(float(embeddings[0] @ embeddings[1]), abs=1e-4)


def test_command_prints_and_draws(sentence_encoder, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    sentence_encoder.save(tmp_path / "model")
    out = tmp_path / "attention.png"
    assert inspect.main(["--model", str(tmp_path / "model"), TWO[0], "--attention-png", str(out),
                         "--layers", "1-2", "--heads", "all"]) == 0
    assert "layer 2 of 2" in capsys.readouterr().out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert inspect.main(["--model", str(tmp_path / "model"), "x", "--heads", "5"]) == 2
    assert "--heads: the model has heads 1 to 4" in capsys.readouterr().err


def test_attention_summary_names_the_positions_of_repeated_pieces():
    """A hand-made (1, 5, 5) case: 'the' occurs twice, so each link names which one."""
    pieces = ["[CLS]", "the", "cat", "the", "[SEP]"]
    weights = torch.tensor([[[1.0, 0.0, 0.0, 0.0, 0.0],
                             [0.1, 0.1, 0.2, 0.5, 0.1],  # the(1): most on the(3)
                             [0.2, 0.4, 0.1, 0.2, 0.1],  # cat: most on the(1)
                             [0.0, 0.3, 0.6, 0.0, 0.1],  # the(3): most on cat
                             [0.0, 0.0, 0.0, 0.0, 1.0]]])
    special, links = inspect.attention_summary(weights, pieces)
    assert special == pytest.approx((1.0 + 0.2 + 0.3 + 0.1 + 1.0) / 5)
    assert links == "the(1)->the(3) 0.50, cat->the(1) 0.40, the(3)->cat 0.60"
