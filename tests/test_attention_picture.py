"""The attention pictures of inspect.py, read back from the drawn figures: the colours on a
scale that tells small weights apart (a power norm, not linear), a repeated piece labelled with
its position, the axes labelled, the picture about 900 px wide with no text under 10 px there,
long captions broken to their panel's width. A hand-made trace of the walkthrough's sentence
(no model: the weights are softmaxes of seeded numbers) gives the walkthrough picture's layout,
so its size is the kept picture's."""

from pathlib import Path

import pytest
import torch
from test_plot import PICTURES, check_text_sizes, png_size

from minitransformer import cli, inspect
from minitransformer.model.encoder import EncoderTrace

PIECES = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]  # the walkthrough's
LAYERS, HEADS = 2, 4


def hand_trace() -> inspect.SentenceTrace:
    """Attention weights (1, HEADS, T, T) per layer, each row a softmax, most weights small."""
    torch.manual_seed(0)
    length = len(PIECES)
    attention = [torch.softmax(2 * torch.randn(1, HEADS, length, length), dim=-1)
                 for _ in range(LAYERS)]
    states = torch.zeros(1, length, 8)  # (B, T, d): not drawn
    return inspect.SentenceTrace([PIECES], torch.zeros(1, length, dtype=torch.long),
                                 torch.ones(1, length, dtype=torch.long),
                                 EncoderTrace(states, attention, [states] * LAYERS, states),
                                 torch.zeros(1, 8), torch.zeros(1, 8))


def drawn(monkeypatch, draw, *args, saved: Path):
    """Call a drawing function; keep its figure and save it as the command does."""
    pytest.importorskip("matplotlib")
    figures = []

    def keep(figure, out):
        figures.append(figure)
        cli.save_figure(figure, saved)

    monkeypatch.setattr(inspect, "save_figure", keep)
    draw(*args)
    return figures[0]


def heatmaps(figure) -> list:
    return [axes for axes in figure.get_axes() if axes.get_images() and axes.get_title()]


def check_scale_and_labels(figure) -> None:
    """Every heatmap: the weights as they are, coloured through one non-linear norm that gives
    the weights 0-0.3 at least half of the colours; its piece labels all different; the key
    and query axes named, and the colour bar with its scale."""
    from matplotlib.colors import Normalize

    panels = heatmaps(figure)
    assert panels
    for axes in panels:
        norm = axes.get_images()[0].norm
        assert type(norm) is not Normalize  # not the linear scale
        assert norm(0.0) == 0.0 and norm(1.0) == 1.0
        assert norm(0.05) >= 0.2 and norm(0.3) >= 0.5  # a linear scale: 0.05 and 0.3
        labels = [label.get_text() for label in axes.get_xticklabels()]
        assert len(set(labels)) == len(labels) == len(PIECES)
        assert "the(1)" in labels and "the(5)" in labels
    assert figure.get_supxlabel() == "key (attended to)"
    bars = [axes for axes in figure.get_axes() if "attention weight" in axes.get_ylabel()]
    assert len(bars) == 1 and "square root" in bars[0].get_ylabel()


def test_the_grid_tells_small_weights_and_repeated_pieces_apart(monkeypatch, tmp_path):
    trace = hand_trace()
    saved = tmp_path / "a.png"
    figure = drawn(monkeypatch, inspect.draw_attention, trace, list(range(LAYERS)),
                   list(range(HEADS)), tmp_path / "out.png", saved=saved)
    assert len(heatmaps(figure)) == LAYERS * HEADS
    check_scale_and_labels(figure)
    assert figure.get_supylabel() == "query (attending)"
    for axes in heatmaps(figure):
        assert [label.get_text() for label in axes.get_yticklabels()] == \
            [label.get_text() for label in axes.get_xticklabels()]
    check_text_sizes(figure, saved)
    # The walkthrough's picture has this layout (9 pieces, layers 1 and 6, heads 1-4): drawn
    # by this code, it has this size.
    assert png_size(PICTURES / "walkthrough_attention.png") == png_size(saved)


def test_the_word_picture_uses_the_same_scale_and_names(monkeypatch, tmp_path):
    saved = tmp_path / "w.png"
    figure = drawn(monkeypatch, inspect.draw_word, hand_trace(), 5, list(range(LAYERS)),
                   [0, 1], tmp_path / "out.png", saved=saved)
    check_scale_and_labels(figure)
    assert "'the(5)' (position 5)" in figure.get_suptitle()
    check_text_sizes(figure, saved)


def test_a_caption_wider_than_its_panel_breaks_after_its_first_comma():
    caption = "mixed: other 0.46, [CLS]/[SEP] sink 0.25"  # 40 characters: 2.3 in at 7.5 pt
    assert inspect.fitted_caption(caption, 2.4) == caption
    assert inspect.fitted_caption(caption, 1.8) == "mixed: other 0.46,\n[CLS]/[SEP] sink 0.25"
    assert inspect.fitted_caption("self 0.91", 0.9) == "self 0.91"  # no comma: as it is
