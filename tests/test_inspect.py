"""inspect: the stages it prints are the model's own (the weights are a softmax over the real
keys, the states and embeddings are what forward and encode give), with the shapes it prints;
the attention pictures draw the trace's weights of the sentence, layers and heads asked for,
in rows of at most HEADS_PER_ROW, with one colour bar and each head's pattern measured from its
weights (hand-made matrices with a known pattern check the measure)."""

import re

import numpy as np
import pytest
import torch
from conftest import CORPUS

from minitransformer import inspect
from minitransformer.errors import InputError

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
    cosine = float(re.search(r"cosine of sentences 1 and 2: (-?[\d.]+)", text).group(1))
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


def pattern_of(rows: list[list[float]]) -> dict[str, float]:
    return inspect.attention_pattern(torch.tensor(rows))


def shifted(length: int, offset: int) -> torch.Tensor:
    """A (T, T) matrix whose query i puts all its weight on key i + offset (clamped to the
    sentence): previous-token for offset -1, self for 0, next-token for +1."""
    weights = torch.zeros(length, length)
    for query in range(length):
        weights[query, min(max(query + offset, 0), length - 1)] = 1.0
    return weights


@pytest.mark.parametrize("offset, pattern", [(-1, "previous-token"), (0, "self"),
                                             (1, "next-token")])
def test_a_pure_neighbour_or_self_head_is_named_so(offset, pattern):
    shares = inspect.attention_pattern(shifted(8, offset))
    # Word queries 1..6; previous-token: query 1's previous is [CLS], a sink, so 5 of 6 rows are
    # previous-token (next-token likewise with query 6 and [SEP]); self: all 6.
    expected = {-1: 5 / 6, 0: 1.0, 1: 5 / 6}[offset]
    assert shares[pattern] == pytest.approx(expected)
    assert shares["[CLS]/[SEP] sink"] == pytest.approx(1.0 - expected)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert inspect.dominant_pattern(shares) == pattern
    assert inspect.pattern_caption(shares) == f"{pattern} {expected:.2f}"


def test_a_cls_sink_head_is_named_so():
    weights = torch.zeros(6, 6)
    weights[:, 0] = 0.9  # every query puts 0.9 on [CLS] ...
    weights[:, 3] = 0.1  # ... and 0.1 on piece 3
    shares = inspect.attention_pattern(weights)
    # Word queries 1..4: all 0.9 sink; piece 3's 0.1 is 'self' for query 3, 'previous' for
    # query 4, 'next' for query 2 and 'other' for query 1.
    assert shares == pytest.approx({"[CLS]/[SEP] sink": 0.9, "self": 0.025,
                                    "previous-token": 0.025, "next-token": 0.025, "other": 0.025})
    assert inspect.pattern_caption(shares) == "[CLS]/[SEP] sink 0.90"


def test_no_pattern_over_the_threshold_is_mixed():
    # Word queries 1 and 2 (T = 4): the mean of their rows' parts.
    shares = pattern_of([[1.0, 0.0, 0.0, 0.0],
                         [0.0, 0.4, 0.0, 0.6],   # self 0.4, sink 0.6
                         [0.0, 0.8, 0.2, 0.0],   # previous 0.8, self 0.2
                         [0.0, 0.0, 0.0, 1.0]])
    assert shares["self"] == pytest.approx(0.3) and shares["[CLS]/[SEP] sink"] == pytest.approx(0.3)
    assert shares["previous-token"] == pytest.approx(0.4)
    assert inspect.dominant_pattern(shares) is None  # 0.4 is not more than half
    assert inspect.pattern_caption(shares) == "mixed: previous-token 0.40, [CLS]/[SEP] sink 0.30"


def test_the_threshold_is_more_than_half():
    at_half = pattern_of([[1.0, 0.0, 0.0, 0.0, 0.0],
                          [0.0, 0.5, 0.0, 0.0, 0.5],
                          [0.0, 0.0, 0.5, 0.0, 0.5],
                          [0.0, 0.0, 0.0, 0.5, 0.5],
                          [0.0, 0.0, 0.0, 0.0, 1.0]])
    assert at_half["self"] == pytest.approx(0.5) and inspect.dominant_pattern(at_half) is None


def drawn_figure(monkeypatch, draw, *args):
    """Call a drawing function and keep the figure it would have saved."""
    pytest.importorskip("matplotlib")
    figures = []
    monkeypatch.setattr(inspect, "save_figure", lambda figure, out: figures.append(figure))
    draw(*args)
    return figures[0]


def heatmaps(figure) -> list:
    """The panels that show weights (the colour bar is an axes too, without a title)."""
    return [axes for axes in figure.get_axes() if axes.get_images() and axes.get_title()]


def test_the_grid_draws_the_chosen_sentence_wraps_and_captions_each_head(sentence_encoder,
                                                                          monkeypatch, tmp_path):
    trace = inspect.trace_sentences(sentence_encoder, TWO)
    monkeypatch.setattr(inspect, "HEADS_PER_ROW", 3)  # 4 heads: a row of 3, then a row of 1
    figure = drawn_figure(monkeypatch, inspect.draw_attention, trace, [0, 1], [0, 1, 2, 3],
                          tmp_path / "a.png", 1)
    length = int(trace.attention_mask[1].sum())  # sentence 2's real pieces
    panels = heatmaps(figure)
    assert len(panels) == 8
    for index, axes in enumerate(panels):
        layer, head = divmod(index, 4)
        weights = trace.encoder.attention[layer][1, head, :length, :length]
        np.testing.assert_array_equal(axes.get_images()[0].get_array(), weights.numpy())
        caption = inspect.pattern_caption(inspect.attention_pattern(weights))
        assert axes.get_title() == f"layer {layer + 1}, head {head + 1}\n{caption}"
        assert [label.get_text() for label in axes.get_xticklabels()] == trace.pieces[1]
    rows, columns = panels[0].get_subplotspec().get_geometry()[:2]
    assert (rows, columns) == (4, 3)  # 2 layers x 2 rows each, 3 heads a row
    colour_bars = [axes for axes in figure.get_axes() if "attention weight" in axes.get_ylabel()]
    assert len(colour_bars) == 1


def test_word_follows_one_piece_through_the_layers(sentence_encoder, monkeypatch, tmp_path):
    trace = inspect.trace_sentences(sentence_encoder, TWO)
    position = inspect.find_piece(trace.pieces[0], trace.pieces[0][2])
    assert position == 2
    figure = drawn_figure(monkeypatch, inspect.draw_word, trace, position, [0, 1], [1, 3],
                          tmp_path / "w.png", 0)
    length = int(trace.attention_mask[0].sum())
    for axes, head in zip(heatmaps(figure), [1, 3]):
        rows = np.stack([trace.encoder.attention[layer][0, head, position, :length].numpy()
                         for layer in (0, 1)])
        np.testing.assert_array_equal(axes.get_images()[0].get_array(), rows)
        labels = [label.get_text() for label in axes.get_yticklabels()]
        for layer, label in enumerate(labels):
            weights = trace.encoder.attention[layer][0, head, :length, :length]
            name = inspect.dominant_pattern(inspect.attention_pattern(weights, [position]))
            assert label == f"layer {layer + 1}: {name or 'mixed'}"


def test_find_piece_names_repeated_pieces_by_position():
    pieces = ["[CLS]", "the", "cat", "the", "[SEP]"]
    assert inspect.find_piece(pieces, "the(3)") == 3
    assert inspect.find_piece(pieces, "Cat") == 2
    with pytest.raises(InputError, match=r"\[CLS\] the\(1\) cat the\(3\) \[SEP\]"):
        inspect.find_piece(pieces, "dog")


def test_command_sentence_and_word_flags(sentence_encoder, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    sentence_encoder.save(tmp_path / "model")
    model, out = str(tmp_path / "model"), str(tmp_path / "w.png")
    assert inspect.main(["--model", model, *TWO, "--attention-png", out, "--sentence", "2",
                         "--word", "a"]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "w.png").stat().st_size > 5_000
    assert inspect.main(["--model", model, *TWO, "--attention-png", out, "--word", "zebra"]) == 2
    assert "--word 'zebra': not one of the sentence's pieces" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        inspect.main(["--model", model, *TWO, "--attention-png", out, "--sentence", "3"])
    assert stop.value.code == 2
    assert "--sentence: 3, but 2 sentence(s)" in capsys.readouterr().err
