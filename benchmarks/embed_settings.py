"""What the settings around the float32 encoder give: threads, the tokenizer's path, batch order.

Issue 31, item 3: `embed.py` float32 is a tokenizer, a loop over length-sorted batches and the
packed encoder (SentenceEncoder.encode). The encoder is mostly matrix products; these are the
knobs around it, each timed against encode's own choice, in one process, on the corpus:

    tokenizer   how the 2,000 sentences become token ids: the backend's encode_batch (encode's
                choice: ids, offsets, words, masks for every sentence, in parallel), its
                encode_batch_fast (the same ids without the character offsets; tokenizers
                0.21+), and encode one sentence at a time
    order       which sentences share a batch and in which order batches run: longest first
                (encode's: a batch too large for memory fails at once), shortest first, and
                the corpus order (no sorting: every batch padded to its longest sentence)
    batch       batch sizes 16, 32 (encode's default), 64, 128, longest first
    threads     torch's intra-op threads: 1 against every core this process may use

Each setting runs the same pieces encode runs (tokenizer.pad, packed_forward, pool, normalise),
so only the knob differs; its vectors are compared with encode's (max |diff|). Rounds
interleave the settings, the median of --repeats rounds is reported; ratios are against
encode's setting in the same run (x default).

    python benchmarks/embed_settings.py                 # the corpus, 3 rounds
    python benchmarks/embed_settings.py --limit 400 --repeats 1   # a quick check
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F
from common import DEFAULT_CORPUS, format_table, median, minilm_model_directory, read_corpus, timed

from minitransformer.fast.packed import packed_forward
from minitransformer.loading import load_model
from minitransformer.sentence import SentenceEncoder

ORDERS = ("longest first", "shortest first", "corpus order")
BATCH_SIZES = (16, 32, 64, 128)
DEFAULT_BATCH = 32


def tokenizer_paths(model: SentenceEncoder) -> dict:
    """name -> a function from sentences to token ids (lists of ints), one per tokenizer path."""
    backend = model.tokenizer.backend
    paths = {"encode_batch (encode's)": lambda s: [e.ids for e in backend.encode_batch(s)],
             "encode, one at a time": lambda s: [backend.encode(text).ids for text in s]}
    if hasattr(backend, "encode_batch_fast"):
        paths["encode_batch_fast"] = lambda s: [e.ids for e in backend.encode_batch_fast(s)]
    return paths


def batch_order(token_ids: list[list[int]], order: str) -> list[int]:
    """The sentence indices in the order their batches are cut from."""
    indices = list(range(len(token_ids)))
    if order == "corpus order":
        return indices
    return sorted(indices, key=lambda i: len(token_ids[i]), reverse=order == "longest first")


def embed(model: SentenceEncoder, token_ids: list[list[int]], order: list[int],
          batch_size: int) -> np.ndarray:
    """encode's loop with the order and batch size given: (n, d) unit vectors, input order."""
    out = torch.empty(len(token_ids), model.embedding_size)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = model.tokenizer.pad([token_ids[i] for i in rows])
            states = packed_forward(model.encoder, batch["input_ids"], batch["attention_mask"])
            out[rows] = F.normalize(model.pool(states, batch["attention_mask"]), dim=-1)
    return out.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="one sentence a line")
    parser.add_argument("--limit", type=int, default=None, help="only the first N sentences")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (median reported)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    sentences = read_corpus(args.corpus, args.limit)
    minilm_model_directory()  # exits naming the install command when MiniLM is missing
    model = load_model("minilm").eval()  # as embed.py --model minilm reads it
    cores = torch.get_num_threads()
    token_ids = model.tokenizer.tokenize(sentences)
    reference = model.encode(sentences, normalize_embeddings=True)  # also the warm-up

    # setting -> (group, a function that embeds the corpus from the token ids and returns vectors)
    settings = {}
    for order in ORDERS:
        settings[f"order: {order}"] = (
            "order",
            lambda o=order: embed(model, token_ids, batch_order(token_ids, o), DEFAULT_BATCH))
    longest = batch_order(token_ids, "longest first")
    for size in BATCH_SIZES:
        settings[f"batch {size}"] = ("batch", lambda s=size: embed(model, token_ids, longest, s))
    for threads in sorted({1, cores}):
        def run(threads=threads):
            torch.set_num_threads(threads)
            try:
                return embed(model, token_ids, longest, DEFAULT_BATCH)
            finally:
                torch.set_num_threads(cores)
        settings[f"threads {threads}"] = ("threads", run)
    tokenizers = tokenizer_paths(model)

    seconds = {name: [] for name in [*settings, *tokenizers]}
    differences = {}
    for round_number in range(args.repeats):
        names = list(settings)
        shift = round_number % len(names)  # rotate, so that no setting always runs first
        for name in names[shift:] + names[:shift]:
            took, vectors = timed(settings[name][1])
            seconds[name].append(took)
            differences.setdefault(name, float(np.abs(vectors - reference).max()))
        for name, tokenize in tokenizers.items():
            took, ids = timed(tokenize, sentences)
            seconds[name].append(took)
            differences.setdefault(name, 0.0 if ids == token_ids else float("nan"))

    default = {"order": "order: longest first", "batch": f"batch {DEFAULT_BATCH}",
               "threads": f"threads {cores}", "tokenizer": "encode_batch (encode's)"}
    rows = []
    for name in seconds:
        group = settings[name][0] if name in settings else "tokenizer"
        time_taken = median(seconds[name])
        rows.append({"group": group, "setting": name, "seconds": time_taken,
                     "rate": len(sentences) / time_taken,
                     "ratio": median(seconds[default[group]]) / time_taken,
                     "check": f"{differences[name]:.1e}" if name in settings else
                     ("same ids" if differences[name] == 0.0 else "OTHER IDS")})
    print(f"{len(sentences)} sentences, {cores} threads (OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}), median of {args.repeats}; "
          f"'x default' against encode's own choice in each group")
    print(format_table(rows, [("group", "group", "s"), ("setting", "setting", "s"),
                              ("seconds", "s", ".3f"), ("rate", "sent/s", ".0f"),
                              ("ratio", "x default", ".2f"), ("check", "max |diff| / ids", "s")]))


if __name__ == "__main__":
    main()
