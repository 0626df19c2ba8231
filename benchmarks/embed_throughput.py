"""Sentence embedding throughput: our encoder against sentence-transformers and HF transformers.

Same model (all-MiniLM-L6-v2: the same weights loaded by each library), same corpus, same
thread count. Each contestant turns the list of sentences into normalised embeddings, text
in and numpy out, so tokenization, batching, pooling and normalisation are all timed:

    sentence-transformers  SentenceTransformer.encode, its default settings (batch size as given)
    hf-bert                BertModel: sort by token length, pad each batch, masked mean pooling,
                           L2 normalisation (what sentence-transformers does, written out)
    ours                   SentenceEncoder.encode, hand-written attention
    ours-fused             SentenceEncoder.encode, F.scaled_dot_product_attention

How it is measured:
- every contestant is loaded once and warmed up once; then, for each of --repeats rounds, each
  batch size runs every contestant in turn (the order rotates from round to round), so that a
  busy moment of the machine hits all of them alike; the median of the rounds is reported;
- peak memory is measured separately, each contestant in a fresh process (see --only);
- the embeddings of the first round are compared with sentence-transformers' at the same
  batch size (max abs difference).

Columns: see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from common import (
    DEFAULT_CORPUS,
    add_output_arguments,
    check_arguments,
    comma_separated_ints,
    current_rss_mib,
    encoder_flops,
    environment,
    format_table,
    import_reference,
    load_hf_bert,
    matmul_peak_gflops,
    median,
    minilm_model_directory,
    model_shape,
    peak_rss_mib,
    read_corpus,
    report_to_parent,
    run_child,
    set_threads,
    timed,
    write_json,
)

REFERENCE = "sentence-transformers"  # ratios and differences are taken against this one

# embed(sentences, batch_size) -> (n, d) float32 numpy array, unit-length rows, input order
EmbedFunction = Callable[[list[str], int], np.ndarray]


@dataclass
class Contestant:
    name: str
    load: Callable[[Path], EmbedFunction]  # builds the model once, returns its embed function
    sorts_by: str  # how it orders sentences before batching: "tokens" or "characters"
    # Packs real tokens for the linear layers (95 % of the FLOPs here), so none of their work
    # is padding; only the attention step still sees padded sequences.
    padding_free: bool = False


# ---- the contestants ----------------------------------------------------------------------------
def load_sentence_transformers(directory: Path) -> EmbedFunction:
    sentence_transformers = import_reference("sentence_transformers")
    model = sentence_transformers.SentenceTransformer(str(directory), device="cpu")

    def embed(sentences, batch_size):
        # The model's own Normalize module makes the rows unit length.
        return model.encode(sentences, batch_size=batch_size, show_progress_bar=False)
    return embed


def load_hf_bert_embedder(directory: Path) -> EmbedFunction:
    transformers = import_reference("transformers")
    from minitransformer.bert_format import read_sentence_settings

    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    model = load_hf_bert(directory)
    max_length = read_sentence_settings(directory)["max_length"]  # 256, as sentence-transformers

    def embed(sentences, batch_size):
        embeddings = np.empty((len(sentences), model.config.hidden_size), dtype=np.float32)
        token_ids = tokenizer(sentences, truncation=True, max_length=max_length)["input_ids"]
        order = sorted(range(len(sentences)), key=lambda i: len(token_ids[i]), reverse=True)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                batch = tokenizer.pad({"input_ids": [token_ids[i] for i in rows]},
                                      return_tensors="pt")
                states = model(**batch).last_hidden_state  # (B, T, d)
                mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)  # (B, T, 1)
                pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                embeddings[rows] = F.normalize(pooled, p=2, dim=-1).numpy()
        return embeddings
    return embed


def load_ours(fused: bool = False, packed: bool = False) -> Callable[[Path], EmbedFunction]:
    """A loader of our SentenceEncoder: the reference path with the hand-written (fused=False)
    or fused attention, or the packed fast path of minitransformer/fast/packed.py (the default of
    encode and embed.py)."""
    def load(directory: Path) -> EmbedFunction:
        from minitransformer.bert_format import read_bert_model

        model = read_bert_model(directory)
        model.encoder.set_fused_attention(fused)
        return lambda sentences, batch_size: model.encode(sentences, batch_size=batch_size,
                                                          show_progress_bar=False, fast=packed)
    return load


# To benchmark another variant of ours (a new fast path, say), add one entry here.
CONTESTANTS = [
    Contestant(REFERENCE, load_sentence_transformers, sorts_by="characters"),
    Contestant("hf-bert", load_hf_bert_embedder, sorts_by="tokens"),
    Contestant("ours", load_ours(fused=False), sorts_by="tokens"),
    Contestant("ours-fused", load_ours(fused=True), sorts_by="tokens"),
    Contestant("ours-packed", load_ours(packed=True), sorts_by="tokens", padding_free=True),
]


# ---- padding ------------------------------------------------------------------------------------
def batch_order(sentences: list[str], token_lengths: list[int], sorts_by: str) -> list[int]:
    """The order in which a contestant batches the sentences (longest first)."""
    if sorts_by == "characters":
        # sentence-transformers sorts by character count, exactly so: np.argsort(-lengths).
        return list(np.argsort([-len(sentence) for sentence in sentences]))
    return sorted(range(len(sentences)), key=lambda i: token_lengths[i], reverse=True)


def padded_token_count(order: list[int], token_lengths: list[int], batch_size: int) -> int:
    """Token positions actually computed: each batch is padded to its longest sentence."""
    total = 0
    for start in range(0, len(order), batch_size):
        lengths = [token_lengths[i] for i in order[start : start + batch_size]]
        total += len(lengths) * max(lengths)
    return total


def token_lengths_of(sentences: list[str], directory: Path) -> list[int]:
    """Tokens per sentence, [CLS] and [SEP] included, truncated as every contestant truncates."""
    from minitransformer.bert_format import read_sentence_settings
    from minitransformer.model.tokenizer import Tokenizer

    max_length = read_sentence_settings(directory)["max_length"]
    tokenizer = Tokenizer.from_file(directory / "tokenizer.json", max_length)
    return [len(ids) for ids in tokenizer.tokenize(sentences)]


# ---- measuring ----------------------------------------------------------------------------------
def measure_memory_here(contestant: Contestant, sentences: list[str], batch_size: int) -> None:
    """Child mode (--only): load one contestant, embed the corpus once, report memory."""
    embed = contestant.load(minilm_model_directory())
    rss_after_load = current_rss_mib()
    embed(sentences, batch_size)
    report_to_parent({"rss_after_load_mib": rss_after_load, "peak_rss_mib": peak_rss_mib()})


def measure_memory(contestant: Contestant, batch_size: int, args) -> dict:
    """Run this script again with --only in a fresh process and return its memory report."""
    arguments = ["--only", contestant.name, "--batch-size", str(batch_size),
                 "--corpus", str(args.corpus), "--threads", str(torch.get_num_threads())]
    if args.limit:
        arguments += ["--limit", str(args.limit)]
    return run_child(__file__, arguments)


def time_contestants(contestants, embedders, sentences, batch_sizes, repeats):
    """Seconds of every (name, batch size) run, and the embeddings of the first round."""
    seconds = {(c.name, b): [] for c in contestants for b in batch_sizes}
    first_embeddings = {}
    for round_index in range(repeats):
        shift = round_index % len(contestants)
        rotated = contestants[shift:] + contestants[:shift]  # nobody is always first
        for batch_size in batch_sizes:
            for contestant in rotated:
                elapsed, embeddings = timed(embedders[contestant.name], sentences, batch_size)
                seconds[contestant.name, batch_size].append(elapsed)
                first_embeddings.setdefault((contestant.name, batch_size), embeddings)
        print(f"round {round_index + 1}/{repeats} done", file=sys.stderr)
    return seconds, first_embeddings


def main(argv=None) -> None:
    args = parse_args(argv)
    set_threads(args.threads)
    sentences = read_corpus(args.corpus, args.limit)
    by_name = {contestant.name: contestant for contestant in CONTESTANTS}
    if args.only:
        measure_memory_here(by_name[args.only], sentences, args.batch_size)
        return

    contestants = [by_name[name] for name in args.contestants]
    directory = minilm_model_directory()
    shape = model_shape(directory)
    token_lengths = token_lengths_of(sentences, directory)
    real_tokens = sum(token_lengths)
    useful_flops = sum(encoder_flops(length, shape["hidden"], shape["ff_size"], shape["layers"])
                       for length in token_lengths)
    peak_gflops = matmul_peak_gflops()
    print(f"{len(sentences)} sentences, {real_tokens} tokens, {torch.get_num_threads()} threads, "
          f"matmul peak {peak_gflops:.1f} GFLOP/s", file=sys.stderr)

    embedders = {}
    for contestant in contestants:
        embedders[contestant.name] = contestant.load(directory)
        embedders[contestant.name](sentences[: max(args.batch_sizes)], max(args.batch_sizes))
    seconds, embeddings = time_contestants(contestants, embedders, sentences, args.batch_sizes,
                                           args.repeats)

    rows = []
    for batch_size in args.batch_sizes:
        reference_seconds = (median(seconds[REFERENCE, batch_size])
                             if (REFERENCE, batch_size) in seconds else None)
        for contestant in contestants:
            time_median = median(seconds[contestant.name, batch_size])
            order = batch_order(sentences, token_lengths, contestant.sorts_by)
            padded = (real_tokens if contestant.padding_free
                      else padded_token_count(order, token_lengths, batch_size))
            memory = {} if args.skip_memory else measure_memory(contestant, batch_size, args)
            difference = None
            if (REFERENCE, batch_size) in embeddings and contestant.name != REFERENCE:
                difference = float(np.abs(embeddings[contestant.name, batch_size]
                                          - embeddings[REFERENCE, batch_size]).max())
            useful_gflops = useful_flops / time_median / 1e9
            rows.append({
                "contestant": contestant.name, "batch_size": batch_size,
                "seconds_median": time_median, "seconds_all": seconds[contestant.name, batch_size],
                "sentences_per_s": len(sentences) / time_median,
                "tokens_per_s": real_tokens / time_median,
                "ratio_to_reference": (reference_seconds / time_median
                                       if reference_seconds else None),
                "padding_fraction": 1 - real_tokens / padded, "padded_tokens": padded,
                "useful_gflops": useful_gflops, "fraction_of_peak": useful_gflops / peak_gflops,
                "rss_after_load_mib": memory.get("rss_after_load_mib"),
                "peak_rss_mib": memory.get("peak_rss_mib"),
                "max_abs_diff_vs_reference": difference,
            })

    print(format_table(rows, COLUMNS))
    path = write_json(args.json_out, {
        "benchmark": "embed_throughput", "environment": environment(),
        "settings": {"corpus": str(args.corpus), "sentences": len(sentences),
                     "real_tokens": real_tokens, "useful_flops": useful_flops,
                     "batch_sizes": args.batch_sizes, "repeats": args.repeats,
                     "reference": REFERENCE},
        "matmul_peak_gflops": peak_gflops, "rows": rows})
    print(f"wrote {path}", file=sys.stderr)


COLUMNS = [
    ("contestant", "contestant", "s"), ("batch_size", "batch", "d"),
    ("sentences_per_s", "sent/s", ".1f"), ("tokens_per_s", "tok/s", ".0f"),
    ("ratio_to_reference", "x ST", ".2f"), ("padding_fraction", "pad %", ".1%"),
    ("useful_gflops", "GFLOP/s", ".1f"), ("fraction_of_peak", "% peak", ".1%"),
    ("peak_rss_mib", "RSS MiB", ".0f"), ("max_abs_diff_vs_reference", "max|diff|", ".1e"),
]


def parse_args(argv=None) -> argparse.Namespace:
    names = [contestant.name for contestant in CONTESTANTS]
    parser = argparse.ArgumentParser(
        description="Sentences per second of all-MiniLM-L6-v2 in sentence-transformers, HF "
                    "BertModel and our encoder, on the same corpus with the same threads.",
        epilog="Run from the repository root in an environment with the bench extras "
               "(pip install -e '.[bench]'). Columns are explained in benchmarks/README.md.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help="text file, one sentence a line (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None,
                        help="use only the first N sentences (for a quick run)")
    parser.add_argument("--batch-sizes", type=comma_separated_ints, default=[16, 32, 64, 128],
                        help="comma-separated batch sizes (default: 16,32,64,128)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed rounds; the median is reported (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's default, "
                             f"{torch.get_num_threads()} here)")
    parser.add_argument("--skip-memory", action="store_true",
                        help="do not measure peak RSS (saves one fresh process per "
                             "contestant and batch size, each embedding the corpus once)")
    add_output_arguments(parser, names, "embed_throughput.json")
    parser.add_argument("--only", choices=names, default=None,
                        help="internal: memory-measuring child mode, one contestant in this "
                             "process; prints its peak RSS as JSON")
    parser.add_argument("--batch-size", type=int, default=32, help="internal: with --only")
    args = parser.parse_args(argv)
    check_arguments(parser, args, names, "repeats")
    return args


if __name__ == "__main__":
    main()
