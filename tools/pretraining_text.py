"""Collect the unlabelled text of ../shared/data's *training* splits for masked-LM pretraining.

    python tools/pretraining_text.py            # -> runs/pretrain_text/train.txt, dev.txt

Reads only train files (never dev: those score the fine-tuned tasks later, and text the
encoder has seen would flatter them): AG News, SST-5 (SST-2 and SST-3 hold the same sentences),
FDU-MTL reviews, both sentences of STS-B pairs, and the sentences of CoNLL-2003 and WNUT-17.
Labels are dropped; duplicates are removed; the lines are shuffled with a fixed seed, and 1 %
(at least 500 lines) is held out as the masked-LM dev text. The output lies under runs/, which
git ignores: the data is never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from minitransformer.tasks.readers import read_conll, read_records  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SOURCES = [  # (training file, its text fields; none for CoNLL, whose words are joined)
    ("ag_news/train.jsonl", ["text"]),
    ("sst5/train.jsonl", ["text"]),
    ("fdu_mtl/train.jsonl", ["text"]),
    ("stsb/train.jsonl", ["sentence1", "sentence2"]),
    ("conll2003/train.conll", []),
    ("wnut17/train.conll", []),
]


def texts_of(path: Path, fields: list[str]) -> list[str]:
    if path.suffix == ".conll":
        return [" ".join(example.tokens) for example in read_conll(path)]
    return [str(record[field]) for _, record in read_records(path) for field in fields]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "pretrain_text")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    lines, seen = [], set()
    for name, fields in SOURCES:
        path = args.data / name
        if not path.is_file():
            print(f"error: {path}: no such file (the shared data is expected beside the "
                  "repository)", file=sys.stderr)
            return 2
        new = [t for t in (" ".join(text.split()) for text in texts_of(path, fields))
               if t and t not in seen and not seen.add(t)]
        lines += new
        print(f"{name:<24} {len(new):>7,} texts")
    random.Random(args.seed).shuffle(lines)
    held_out = max(500, len(lines) // 100)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dev.txt").write_text("\n".join(lines[:held_out]) + "\n", encoding="utf-8")
    (args.out / "train.txt").write_text("\n".join(lines[held_out:]) + "\n", encoding="utf-8")
    words = sum(len(line.split()) for line in lines)
    print(f"{len(lines) - held_out:,} training and {held_out:,} dev texts ({words:,} words) in "
          f"{args.out}")
    print(json.dumps({"train": len(lines) - held_out, "dev": held_out, "words": words}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
