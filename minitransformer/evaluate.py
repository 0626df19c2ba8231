"""Score a sentence encoder on a sentence-similarity file (STS-B format), with no training.

    python -m minitransformer.evaluate --model minilm --sts ../shared/data/stsb/dev.jsonl [--json]
        [--part select|report]     only one part of the file (tasks/dev_split.py)

Each row {"sentence1", "sentence2", "score"} is embedded on both sides; the cosine of the two
embeddings is compared with the gold score by Spearman's rank correlation (average ranks for
ties; the usual STS figure) and Pearson's linear correlation. A correlation is undefined when
all gold scores (or all cosines) are equal, a single pair included: it is then printed as
"undefined" (null in --json).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from .cli import CommandParser, add_device_flag, main_of, positive_int
from .devices import pick_device
from .errors import InputError
from .loading import load_model
from .sentence import SentenceEncoder
from .tasks.dev_split import split_parts
from .tasks.kinds import SENTENCE_SIMILARITY, read_examples
from .tasks.metrics import pearson, spearman
from .tasks.readers import PairExample


def evaluate_similarity(model: SentenceEncoder, pairs: list[PairExample], batch_size: int = 64,
                        progress: bool | None = None) -> dict[str, float | None]:
    """{'spearman', 'pearson', 'pairs'} of cosine(embedding a, embedding b) vs the gold scores;
    a correlation is None where it is undefined (all gold scores, or all cosines, equal)."""
    first = model.encode([pair.text_a for pair in pairs], batch_size=batch_size,
                         show_progress_bar=progress,
                         normalize_embeddings=True)  # (n, d), unit length
    second = model.encode([pair.text_b for pair in pairs], batch_size=batch_size,
                          show_progress_bar=progress, normalize_embeddings=True)
    cosines = np.sum(first * second, axis=1)  # unit vectors: the dot product is the cosine
    gold = [pair.score for pair in pairs]
    return {"spearman": spearman(cosines, gold), "pearson": pearson(cosines, gold),
            "pairs": len(pairs)}


class GivenOnce(argparse.Action):
    """A flag that takes one value: given twice, it is refused (argparse would keep the second
    and score one file without a word about the other)."""

    def __call__(self, parser, namespace, value, option_string=None):
        if getattr(namespace, self.dest) is not None:
            parser.error(f"argument {option_string}: given twice ({getattr(namespace, self.dest)!r}"
                         f" and {value!r}); one run scores one file")
        setattr(namespace, self.dest, value)


@main_of
def main(argv=None) -> int:
    parser = CommandParser(
        prog="python -m minitransformer.evaluate",
        description="Cosine-similarity evaluation of a sentence encoder on an STS-B style file "
                    "(JSON lines, CSV or TSV with sentence1, sentence2, score).")
    parser.add_argument("--model", default="minilm",
                        help="'minilm', a saved model or run directory, or a BERT-format "
                             "directory (default: %(default)s)")
    parser.add_argument("--sts", required=True, metavar="FILE", action=GivenOnce,
                        help="the pairs to score")
    parser.add_argument("--batch-size", type=positive_int, default=64, metavar="N")
    parser.add_argument("--part", choices=("all", "select", "report"), default="all",
                        help="score the whole file, or only its select or report part: the "
                             "rule that splits a run's dev sets (tasks/dev_split.py), so a "
                             "model chosen on the select part is reported on the other "
                             "(default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction,
                        help="progress bars while embedding (default: on a terminal, long files)")
    add_device_flag(parser)
    args = parser.parse_args(argv)
    device = pick_device(args.device, "--device")
    pairs = read_examples(args.sts, SENTENCE_SIMILARITY)  # bad data fails before the model loads
    if args.part != "all":
        pairs = split_parts(pairs)[args.part]
        if not pairs:
            raise InputError(f"{args.sts}: no pair of this file falls in its {args.part} part")
    result = evaluate_similarity(load_model(args.model, device), pairs, args.batch_size,
                                 args.progress)
    if args.json:
        print(json.dumps({"model": args.model, "file": args.sts, "part": args.part, **result},
                         indent=2))
    else:
        shown = {name: "undefined" if result[name] is None else f"{result[name]:.4f}"
                 for name in ("spearman", "pearson")}
        part = "" if args.part == "all" else f" ({args.part} part)"
        print(f"{args.sts}: {result['pairs']} pairs{part}, model {args.model}\n"
              f"  spearman {shown['spearman']}   pearson {shown['pearson']}")
        if result["spearman"] is None or result["pearson"] is None:
            print("  (undefined: a correlation needs scores that differ; here every gold score, "
                  "or every cosine, is the same)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
