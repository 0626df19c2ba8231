"""The explorer page's numbers, without a browser: the weights it stores are the trace's within
the page's rounding, over each sentence's real pieces; each head's caption is inspect's; the
sentence vectors and the cosine are encode's; the page is one file that names nothing outside
itself, and no word piece can break out of its data. `inspect --html` writes it.
(tests/test_explorer_browser.py checks what Chromium draws from it.)"""

import json
import re

import numpy as np
import pytest
import torch
from conftest import CORPUS

from minitransformer import inspect
from minitransformer.explorer import page

TWO = [CORPUS[1], "A cat."]  # different lengths: the second is padded in the trace


def caption(weights: torch.Tensor) -> str:
    """What inspect's --html passes: the caption of its attention pictures."""
    return inspect.pattern_caption(inspect.attention_pattern(weights))


def embedded_data(text: str) -> dict:
    """The JSON the page carries in <script id="explorer-data">."""
    found = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', text,
                      re.S)
    return json.loads(found.group(1))


def test_stored_weights_are_the_trace_s_over_the_real_pieces(sentence_encoder):
    trace = inspect.trace_sentences(sentence_encoder, TWO)
    data = page.page_data(trace, caption)
    config = sentence_encoder.encoder.config
    assert (data["layers"], data["heads"]) == (config.num_layers, config.num_heads)
    for index, sentence in enumerate(data["sentences"]):
        length = int(trace.attention_mask[index].sum())
        assert sentence["pieces"] == trace.pieces[index] and len(sentence["pieces"]) == length
        stored = np.array(sentence["attention"])  # (layers, heads, T, T), whole 1/SCALE
        assert stored.shape == (config.num_layers, config.num_heads, length, length)
        assert stored.dtype.kind == "i"
        model = np.stack([layer[index, :, :length, :length].numpy()
                          for layer in trace.encoder.attention])
        np.testing.assert_allclose(stored / page.SCALE, model, rtol=0,
                                   atol=0.5 / page.SCALE + 1e-7)
        assert np.abs(stored / page.SCALE - model).max() > 0  # rounded: not the full floats


def test_captions_are_inspect_s(sentence_encoder):
    trace = inspect.trace_sentences(sentence_encoder, TWO)
    data = page.page_data(trace, caption)
    for index, sentence in enumerate(data["sentences"]):
        length = len(trace.pieces[index])
        for layer, weights in enumerate(trace.encoder.attention):
            assert sentence["captions"][layer] == [
                inspect.pattern_caption(inspect.attention_pattern(weights[index, head, :length,
                                                                          :length]))
                for head in range(weights.shape[1])]
    # and they name the patterns the text output prints for sentence 1, layer by layer
    text = inspect.describe(sentence_encoder, trace)
    printed = [line.split("each head's pattern: ")[1] for line in text
               if "each head's pattern: " in line]
    assert len(printed) == data["layers"]
    for layer, line in enumerate(printed):
        named = {}
        for group in line.split("; "):
            name, _, heads = group.rpartition(": head")
            for head in heads.lstrip("s ").split(", "):
                named[int(head) - 1] = name
        shown = data["sentences"][0]["captions"][layer]
        assert sorted(named) == list(range(data["heads"]))
        for head, name in named.items():
            assert shown[head].startswith("mixed:" if name == "mixed" else f"{name} ")


def test_sentence_vectors_and_cosine_are_encode_s(sentence_encoder):
    trace = inspect.trace_sentences(sentence_encoder, TWO)
    data = page.page_data(trace, caption)
    with torch.inference_mode():
        ids = sentence_encoder.tokenizer.pad(sentence_encoder.tokenizer.tokenize(TWO))
        pooled = sentence_encoder(ids["input_ids"], ids["attention_mask"])  # (B, d)
    for sentence, vector in zip(data["sentences"], pooled):
        np.testing.assert_allclose(sentence["first_values"], vector[:page.FIRST_VALUES].numpy(),
                                   atol=0.5e-4 + 1e-6)
        assert sentence["norm"] == pytest.approx(float(vector.norm()), abs=0.5e-4 + 1e-6)
    embeddings = sentence_encoder.encode(TWO)
    assert data["cosine"] == pytest.approx(float(embeddings[0] @ embeddings[1]), abs=1e-4)
    assert page.page_data(inspect.trace_sentences(sentence_encoder, TWO[:1]),
                          caption)["cosine"] is None


def test_the_page_is_one_file_that_names_nothing_outside_itself(sentence_encoder, tmp_path):
    trace = inspect.trace_sentences(sentence_encoder, TWO)
    size = page.write_page(tmp_path / "p.html", trace, caption, "tiny <model> & co")
    text = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert size == len(text.encode("utf-8"))
    assert embedded_data(text) == json.loads(json.dumps(page.page_data(trace, caption)))
    assert "tiny &lt;model&gt; &amp; co" in text  # the heading is text, not markup
    assert "$" not in text.split("<script")[0]  # every place of the template was filled
    # nothing to fetch: no address (the SVG namespace is a name, not one), no src, links only to
    # data: URLs; and the policy forbids fetching anyway
    names = text.replace('"http://www.w3.org/2000/svg"', "")
    assert not re.search(r"https?:|//[a-z]|\bsrc\s*=|url\(|@import", names, re.I)
    assert re.findall(r'href="([^"]*)"', text) == ["data:,"]
    assert "default-src 'none'" in text


def test_a_piece_cannot_end_the_data_script(sentence_encoder):
    trace = inspect.trace_sentences(sentence_encoder, TWO[:1])
    trace.pieces[0][1] = "</script><script>alert(1)</script>"
    text = page.render_page(page.page_data(trace, caption), "x")
    assert text.count("</script>") == 2  # the data's and the program's own
    assert embedded_data(text)["sentences"][0]["pieces"][1] == trace.pieces[0][1]


def test_the_legend_says_the_rules_the_numbers_follow(sentence_encoder):
    text = page.render_page(page.page_data(inspect.trace_sentences(sentence_encoder, TWO[:1]),
                                           caption), "x")
    words = " ".join(text.split())  # the template's line breaks as spaces
    assert f"more than {inspect.DOMINANT_SHARE:.0%} of the weight" in words
    assert f"stored with {page.WEIGHT_DECIMALS} decimals" in words
    assert f"by up to {0.5 / page.SCALE:.{page.WEIGHT_DECIMALS + 1}f}" in words


def test_command_writes_the_page(sentence_encoder, tmp_path, capsys):
    sentence_encoder.save(tmp_path / "model")
    model, out = str(tmp_path / "model"), tmp_path / "page.html"
    assert inspect.main(["--model", model, *TWO, "--html", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "layer 2 of 2" in printed and f"wrote {out}" in printed
    data = embedded_data(out.read_text(encoding="utf-8"))
    assert [sentence["pieces"] for sentence in data["sentences"]] == \
        inspect.trace_sentences(sentence_encoder, TWO).pieces
    with pytest.raises(SystemExit) as stop:
        inspect.main(["--model", model, "x", "--html", str(tmp_path / "page.png")])
    assert stop.value.code == 2
    assert "--html: must end in .html" in capsys.readouterr().err
    assert inspect.main(["--model", model, "x", "--html", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
