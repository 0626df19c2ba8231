"""The attention explorer page: a trace's numbers written into one self-contained HTML file.

    write_page("page.html", trace, caption, heading)  # what `inspect --html page.html` calls

The file holds everything it shows: the style, the script and the numbers are written inline,
so it opens from disk with no server and no network; its Content-Security-Policy forbids
fetching anything but data: URLs. The numbers are the trace's (inspect.trace_sentences): for each
sentence its word pieces, every layer's and head's attention weights over its real pieces
(padding left out), a caption for each head, and its sentence vector.

Size: the weights are most of the page, sentences x layers x heads x T x T of them. Each is
kept to WEIGHT_DECIMALS decimals, written as a whole number of 1/SCALE (0.0323 -> 323), so a
small weight costs one to three characters; a drawn opacity is then within 0.5 / SCALE of the
model's weight (tests/test_explorer_browser.py measures MiniLM's page against 1 MB).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from string import Template
from typing import Callable

import torch

from ..storage.atomic import atomic_file

HERE = Path(__file__).resolve().parent
WEIGHT_DECIMALS = 4
SCALE = 10 ** WEIGHT_DECIMALS  # a weight w is stored as round(w * SCALE)
VALUE_DECIMALS = 4  # the sentence vector's values, its norm and the cosine, as inspect prints them
FIRST_VALUES = 8  # how many of the sentence vector's values the page shows


def page_data(trace, caption: Callable[[torch.Tensor], str]) -> dict:
    """The numbers the page draws, as JSON-ready values.

    trace: an inspect.SentenceTrace (its pieces, encoder.attention: per layer (B, h, T, T),
    pooled and normalized: (B, d)); caption: (T, T) weights of one head over one sentence's
    real pieces -> the words under its map in the model view (inspect's pattern caption).
    """
    attention = trace.encoder.attention
    sentences = []
    for index, pieces in enumerate(trace.pieces):
        length = len(pieces)
        real = [layer[index, :, :length, :length] for layer in attention]  # per layer (h, T, T)
        sentences.append({
            "pieces": pieces,
            # per layer, per head, per query: the weights on each key, in 1/SCALE
            "attention": [torch.round(weights.float() * SCALE).int().tolist() for weights in real],
            "captions": [[caption(head) for head in weights] for weights in real],
            "first_values": [round(v, VALUE_DECIMALS)
                             for v in trace.pooled[index, :FIRST_VALUES].tolist()],
            "norm": round(float(trace.pooled[index].norm()), VALUE_DECIMALS),
        })
    cosine = None
    if len(sentences) == 2:
        cosine = round(float(trace.normalized[0] @ trace.normalized[1]), VALUE_DECIMALS)
    layers, heads = len(attention), attention[0].shape[1]
    return {"layers": layers, "heads": heads, "scale": SCALE, "width": trace.pooled.shape[-1],
            "sentences": sentences, "cosine": cosine}


def render_page(data: dict, heading: str) -> str:
    """The page's HTML: page.html with the style, the data and the script written in. The data
    is JSON inside a <script type="application/json">; every '<' in it is escaped as \\u003c,
    so that no word piece can end the script element early."""
    template = Template((HERE / "page.html").read_text(encoding="utf-8"))
    return template.substitute(
        heading=html.escape(heading),
        style=(HERE / "explorer.css").read_text(encoding="utf-8"),
        data=json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c"),
        script=(HERE / "explorer.js").read_text(encoding="utf-8"))


def write_page(path: str | Path, trace, caption: Callable[[torch.Tensor], str],
               heading: str) -> int:
    """Write the explorer page of `trace` to `path` (atomically); returns its size in bytes.
    heading: the line under the title that says which model this is."""
    text = render_page(page_data(trace, caption), heading).encode("utf-8")
    with atomic_file(path) as temporary:
        temporary.write_bytes(text)
    return len(text)
