"""Embed sentences with a minitransformer model and show how similar they are.

    python embed.py "A cat sleeps." "A kitten naps." "Stocks fell today."
    python embed.py --file sentences.txt --out embeddings.npy
    cat sentences.txt | python embed.py --model runs/default
    python embed.py --query "How do cats sleep?" --corpus sentences.txt --top-k 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from minitransformer.cli import (
    STANDARD_INPUT,
    CommandParser,
    add_device_flag,
    check_writable,
    main_of,
    positive_int,
)
from minitransformer.devices import pick_device
from minitransformer.errors import InputError, shown
from minitransformer.loading import load_model
from minitransformer.sentence import PRECISIONS
from minitransformer.similarity import semantic_search
from minitransformer.storage.atomic import write_npy
from minitransformer.storage.lines import split_lines
from minitransformer.storage.text import decode_utf8, read_text

SIMILARITY_TABLE_MAX = 20  # the cosine matrix is shown for at most this many sentences
PREVIEW_DIMS = 4


def parse_args(argv=None) -> argparse.Namespace:
    parser = CommandParser(
        prog="embed.py",
        description="Turn sentences into fixed-length vectors (sentence embeddings). Sentences "
                    "come from the command line, from --file, or else from standard input (one "
                    "per line; blank lines are skipped).",
        epilog="Without --out the embeddings are only previewed. Sentences longer than the "
               "model's maximum length are truncated to their first tokens. Semantic search: "
               "--query (repeatable) with --corpus FILE prints the --top-k corpus sentences "
               "closest to each query by cosine; --out then saves the corpus embeddings, and "
               "--corpus-embeddings reuses them.",
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
                        help="keep the raw pooled vectors, before the model's own scaling to unit "
                             "length")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction,
                        help="a progress bar while embedding (default: on a terminal, for 8 "
                             "batches or more; --quiet turns it off)")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing but errors (useful with --out); with --query, only "
                             "the results")
    search = parser.add_argument_group("semantic search")
    search.add_argument("--query", action="append", metavar="TEXT",
                        help="find the corpus sentences closest to this one; repeatable")
    search.add_argument("--corpus", type=Path, metavar="PATH",
                        help="the sentences to search: a UTF-8 text file, one per line")
    search.add_argument("--corpus-embeddings", type=Path, metavar="PATH.npy",
                        help="the corpus's embeddings saved earlier (embed.py --file CORPUS --out "
                             "PATH.npy, same model), instead of embedding the corpus again")
    search.add_argument("--top-k", type=positive_int, default=5, metavar="K",
                        help="how many sentences to show per query (default: %(default)s)")
    add_device_flag(parser)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="int8: the linear layers multiply in 8-bit integers (smoothed "
                             "dynamic quantisation, CPU only): faster on large inputs, "
                             "embeddings slightly different (benchmarks/README.md, "
                             "precision.py); the output is float32 either way (default: "
                             "%(default)s)")
    parser.add_argument("--reference-path", action="store_true",
                        help="run the readable reference encoder (padded batches, hand-written "
                             "attention) instead of the packed fast path of packed.py; in "
                             "float32 the same embeddings within 1e-5, slower")
    args = parser.parse_args(argv)
    if args.sentences and args.file:
        parser.error("give sentences either as arguments or with --file, not both")
    if args.query is not None:
        if args.sentences or args.file:
            parser.error("--query searches --corpus; give no other sentences or --file with it")
        if args.corpus is None:
            parser.error("--query needs --corpus FILE: the sentences to search")
        if any(not query.strip() for query in args.query):
            parser.error("argument --query: a query is empty")
        if args.corpus_embeddings is not None and args.out is not None:
            parser.error("--out saves the corpus embeddings, and --corpus-embeddings already "
                         "holds them; give one of the two")
    elif args.corpus is not None or args.corpus_embeddings is not None:
        parser.error("--corpus and --corpus-embeddings go with --query TEXT")
    if args.precision == "int8" and args.device is not None and args.device.split(":")[0] != "cpu":
        parser.error(f"argument --precision: int8 runs on the CPU only, not --device {args.device}")
    if args.out is not None and args.out.suffix != ".npy":
        parser.error(f"argument --out: must end in .npy, got {shown(str(args.out))}")
    if args.out is not None:  # refused before anything is read, so before anything is written
        reads_stdin = not args.sentences and args.file is None and args.query is None
        check_writable(args.out, "--out", reads=[
            ("--file", args.file), ("--corpus", args.corpus),
            ("--corpus-embeddings", args.corpus_embeddings),
            ("standard input", STANDARD_INPUT if reads_stdin else None)])
    return args


def read_sentences(args: argparse.Namespace) -> list[str]:
    """The sentences to embed: the arguments, --file (or --corpus), or standard input, one a
    line (storage/lines.py: a line ends at a newline only)."""
    path = args.corpus if args.query is not None else args.file
    if args.sentences:
        lines = args.sentences
    elif path is not None:
        lines = split_lines(read_text(path))
    else:
        if sys.stdin.isatty():
            print("Reading sentences from standard input, one per line; end with Ctrl-D.",
                  file=sys.stderr)
        # Bytes, decoded here: a byte that is not UTF-8 is refused with its line, whatever
        # the locale makes of sys.stdin.
        lines = split_lines(decode_utf8(sys.stdin.buffer.read(), "standard input"))
    sentences = [line.strip() for line in lines if line.strip()]
    if not sentences:
        raise InputError(f"{shown(str(path or 'input'))}: no sentences to embed (all input was "
                         f"empty)")
    return sentences


def read_corpus_embeddings(path: Path, rows: int, width: int) -> np.ndarray:
    """Saved corpus embeddings, checked to fit the corpus file and the model. The file is
    mapped, not read, until its header has been checked: a header may claim any shape."""
    name = shown(str(path))
    try:
        embeddings = np.load(path, mmap_mode="r", allow_pickle=False)  # never unpickle a file
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except EOFError:  # np.load's word for a file too short to hold even the format's mark
        raise InputError(f"{name}: empty or cut short, not a .npy array") from None
    except (ValueError, OSError) as error:
        raise InputError(f"{name}: not a .npy array ({error})") from None
    if not isinstance(embeddings, np.ndarray):  # np.load opens a .npz archive too
        raise InputError(f"{name}: a .npz archive, not a .npy array")
    real = np.issubdtype(embeddings.dtype, np.floating) or np.issubdtype(embeddings.dtype,
                                                                          np.integer)
    if embeddings.shape != (rows, width):
        raise InputError(f"{name}: holds an array of shape {embeddings.shape}, but the corpus has "
                         f"{rows} sentences and the model {width} dimensions; embed the corpus "
                         f"again with this model (embed.py --file CORPUS --out {name})")
    if not real or not np.isfinite(embeddings).all():
        raise InputError(f"{name}: holds {embeddings.dtype} values, not all finite real numbers; "
                         "embed the corpus again (embed.py --file CORPUS --out PATH.npy)")
    return np.array(embeddings)  # read into memory; the file may change once we are done


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
    """np.save, atomically: an interrupted or failed write never leaves half an array."""
    write_npy(path, embeddings.astype(np.float32))


def print_hits(queries: list[str], corpus: list[str], hits: list[list[tuple[int, float]]]) -> None:
    for query, found in zip(queries, hits):
        print(f"\nquery: {query}")
        for rank, (index, score) in enumerate(found, start=1):
            print(f"  {rank:>3}. {score:7.4f}  [{index}] {shorten(corpus[index], 90)}")


@main_of
def main(argv=None) -> int:
    args = parse_args(argv)
    # int8 runs on the CPU only, so it picks the CPU where no device was asked for.
    device = pick_device("cpu" if args.precision == "int8" and args.device is None else args.device,
                         "--device")
    sentences = read_sentences(args)  # bad input fails before the model loads
    model = load_model(args.model, device)
    if args.no_normalize:
        model.normalize = False  # the pooled vectors, before the model's own normalisation
    if not args.quiet:
        config = model.encoder.config
        precision = "" if args.precision == "float32" else f", {args.precision}"
        limit = model.tokenizer.max_length
        why = ("" if limit == config.max_length else
               f", the model's own limit below its {config.max_length} positions")
        print(f"model: {args.model} ({config.num_layers} layers, width {config.hidden_size}, "
              f"{model.pooling_name} pooling, inputs cut at {limit} tokens{why}, "
              f"{model.device.type}{precision})")
    encode = dict(batch_size=args.batch_size, fast=not args.reference_path,
                  precision=args.precision,
                  show_progress_bar=False if args.quiet else args.progress)
    if args.query is not None and args.corpus_embeddings is not None:
        embeddings = read_corpus_embeddings(args.corpus_embeddings, len(sentences),
                                            model.embedding_size)
    else:
        embeddings = model.encode(sentences, **encode)
    if args.query is not None:
        queries = model.encode(args.query, **encode)
        print_hits(args.query, sentences, semantic_search(queries, embeddings, args.top_k))
    elif not args.quiet:
        print_report(sentences, embeddings)
    if args.out is not None:
        save_embeddings(args.out, embeddings)
        if not args.quiet:
            print(f"\nsaved {embeddings.shape[0]} x {embeddings.shape[1]} float32 to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
