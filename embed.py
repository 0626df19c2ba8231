"""Embed sentences with a minitransformer model and show how similar they are.

    python embed.py "A cat sleeps." "A kitten naps." "Stocks fell today."
    python embed.py --file sentences.txt --out embeddings.npy
    cat sentences.txt | python embed.py --model runs/default
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from minitransformer.cli import CommandParser, check_writable, main_of, positive_int
from minitransformer.errors import InputError
from minitransformer.loading import load_sentence_encoder

SIMILARITY_TABLE_MAX = 20  # the cosine matrix is shown for at most this many sentences
PREVIEW_DIMS = 4


def parse_args(argv=None) -> argparse.Namespace:
    parser = CommandParser(
        prog="embed.py",
        description="Turn sentences into fixed-length vectors (sentence embeddings). Sentences "
                    "come from the command line, from --file, or else from standard input (one "
                    "per line; blank lines are skipped).",
        epilog="Without --out the embeddings are only previewed. Sentences longer than the "
               "model's maximum length are truncated to their first tokens.",
    )
    parser.add_argument("sentences", nargs="*", help="sentences to embed (quote each one)")
    parser.add_argument("--model", default="minilm",
                        help="a directory saved by this project (e.g. a train.py run), a "
                             "BERT-format directory, or 'minilm' for the pretrained "
                             "all-MiniLM-L6-v2 package (default: %(default)s)")
    parser.add_argument("--file", type=Path, metavar="PATH",
                        help="read sentences from this UTF-8 text file, one per line")
    parser.add_argument("--out", type=Path, metavar="PATH.npy",
                        help="save the embeddings as a float32 .npy array of shape (n, d), "
                             "rows in input order")
    parser.add_argument("--batch-size", type=positive_int, default=32, metavar="N",
                        help="sentences per forward pass (default: %(default)s)")
    parser.add_argument("--no-normalize", action="store_true",
                        help="keep the raw pooled vectors instead of scaling each to unit length")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction,
                        help="a progress bar while embedding (default: on a terminal, for 8 "
                             "batches or more; --quiet turns it off)")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing but errors (useful with --out)")
    parser.add_argument("--reference-path", action="store_true",
                        help="run the readable reference encoder (padded batches, hand-written "
                             "attention) instead of the packed fast path of packed.py; same "
                             "embeddings within 1e-5, slower")
    args = parser.parse_args(argv)
    if args.sentences and args.file:
        parser.error("give sentences either as arguments or with --file, not both")
    if args.out is not None and args.out.suffix != ".npy":
        parser.error(f"argument --out: must end in .npy, got {args.out}")
    if args.out is not None:
        check_writable(args.out, "--out")
    return args


def read_sentences(args: argparse.Namespace) -> list[str]:
    if args.sentences:
        lines = args.sentences
    elif args.file is not None:
        try:
            lines = args.file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise InputError(f"{args.file}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{args.file}: is a directory, not a text file") from None
        except UnicodeDecodeError as error:
            raise InputError(f"{args.file}: not UTF-8 text ({error.reason} at byte "
                             f"{error.start})") from None
        except OSError as error:
            raise InputError(f"{args.file}: cannot be read ({error.strerror})") from None
    else:
        if sys.stdin.isatty():
            print("Reading sentences from standard input, one per line; end with Ctrl-D.",
                  file=sys.stderr)
        lines = sys.stdin.read().splitlines()
    sentences = [line.strip() for line in lines if line.strip()]
    if not sentences:
        raise InputError(f"{args.file or 'input'}: no sentences to embed (all input was empty)")
    return sentences


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def print_report(sentences: list[str], embeddings: np.ndarray) -> None:
    print(f"embeddings: shape {embeddings.shape}, dtype {embeddings.dtype}")
    for index, (sentence, vector) in enumerate(zip(sentences, embeddings)):
        preview = ", ".join(f"{value:+.4f}" for value in vector[:PREVIEW_DIMS])
        print(f"  [{index}] [{preview}, ...]  {shorten(sentence, 60)}")
    if len(sentences) > SIMILARITY_TABLE_MAX:
        print(f"(cosine-similarity table skipped: more than {SIMILARITY_TABLE_MAX} sentences)")
        return
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = embeddings / np.maximum(norms, 1e-12)
    similarity = unit @ unit.T
    print("\ncosine similarity:")
    print("       " + "".join(f"{f'[{j}]':>7}" for j in range(len(sentences))))
    for i, row in enumerate(similarity):
        print(f"{f'[{i}]':>6} " + "".join(f"{value:7.3f}" for value in row))


def save_embeddings(path: Path, embeddings: np.ndarray) -> None:
    """np.save through a temporary file: an interrupted write never leaves half an array."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.npy")
    try:
        np.save(temporary, embeddings.astype(np.float32))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)  # only still there if the save failed


@main_of
def main(argv=None) -> int:
    args = parse_args(argv)
    sentences = read_sentences(args)
    model = load_sentence_encoder(args.model)
    if not args.quiet:
        config = model.encoder.config
        print(f"model: {args.model} ({config.num_layers} layers, width {config.hidden_size}, "
              f"{model.pooling_name} pooling, max {model.tokenizer.max_length} tokens)")
    embeddings = model.encode(sentences, batch_size=args.batch_size,
                              normalize=not args.no_normalize, fast=not args.reference_path,
                              show_progress=False if args.quiet else args.progress)
    if not args.quiet:
        print_report(sentences, embeddings)
    if args.out is not None:
        save_embeddings(args.out, embeddings)
        if not args.quiet:
            print(f"\nsaved {embeddings.shape[0]} x {embeddings.shape[1]} float32 to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
