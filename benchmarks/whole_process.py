"""embed.py as a user runs it: a whole process, imports and model loading included, against
sentence-transformers' whole process doing the same job.

    ours          python embed.py --model minilm --file CORPUS --out X.npy --quiet
    ours-int8     the same with --precision int8
    sentence-transformers
                  python -c "...": import sentence_transformers, load the same model directory,
                  encode the same non-empty lines (normalised), np.save
    st-onnx       the same program with backend="onnx" (ONNX Runtime, float32)
    st-onnx-qint8 backend="onnx" on the dynamic int8 model of export_dynamic_quantized_onnx_model
                  (the ONNX files are exported once, before the rounds, untimed; common.py)

Two jobs: the whole corpus, and one sentence (start-up: time to the first embedding). Every
run is a fresh interpreter with the same OMP_NUM_THREADS; rounds interleave the contestants
in an order that rotates; the median of --repeats rounds is reported, with the ratio to
sentence-transformers. Fidelity: each sentence's cosine to sentence-transformers' float32 (torch)
vector, as mean, 1st percentile and minimum over the corpus (common.cosine_statistics).

    python benchmarks/whole_process.py
    python benchmarks/whole_process.py --repeats 1 --limit 200     # a quick check
    python -X importtime embed.py --model minilm "a sentence" 2> imports.txt   # what loads
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import (
    DEFAULT_CORPUS,
    ONNX_FLOAT32_FILE,
    ONNX_QINT8_FILE,
    REPO_ROOT,
    add_output_arguments,
    check_arguments,
    cosine_statistics,
    environment,
    format_table,
    median,
    minilm_model_directory,
    onnx_model_directory,
    read_corpus,
    write_json,
)

CONTESTANTS = ["ours", "ours-int8", "sentence-transformers", "st-onnx", "st-onnx-qint8"]
REFERENCE = "sentence-transformers"
ONNX_FILES = {"st-onnx": ONNX_FLOAT32_FILE, "st-onnx-qint8": ONNX_QINT8_FILE}
ST_PROGRAM = """
import sys
import numpy as np
from sentence_transformers import SentenceTransformer
model_directory, corpus, out, onnx_file = sys.argv[1:]
with open(corpus, encoding="utf-8") as handle:
    sentences = [line.strip() for line in handle if line.strip()]
if onnx_file:
    model = SentenceTransformer(model_directory, device="cpu", backend="onnx",
                                model_kwargs={"file_name": onnx_file})
else:
    model = SentenceTransformer(model_directory, device="cpu")
np.save(out, model.encode(sentences, batch_size=32, normalize_embeddings=True))
"""


def command_line(name: str, corpus: Path, out: Path, model_directory: Path,
                 onnx_directory: Path | None) -> list[str]:
    if name == "sentence-transformers":
        return [sys.executable, "-c", ST_PROGRAM, str(model_directory), str(corpus), str(out), ""]
    if name in ONNX_FILES:
        return [sys.executable, "-c", ST_PROGRAM, str(onnx_directory), str(corpus), str(out),
                ONNX_FILES[name]]
    command = [sys.executable, str(REPO_ROOT / "embed.py"), "--model", "minilm", "--file",
               str(corpus), "--out", str(out), "--quiet", "--device", "cpu"]
    return command + (["--precision", "int8"] if name == "ours-int8" else [])


def run_once(command: list[str], threads: int) -> float:
    """Wall seconds of one whole process."""
    environment_variables = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, env=environment_variables)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} ... failed:\n{finished.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help="one sentence per line (default: %(default)s)")
    parser.add_argument("--limit", type=int, help="only the first N sentences")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="OMP_NUM_THREADS of every process (default: the cores this process "
                             "may use, %(default)s)")
    add_output_arguments(parser, CONTESTANTS, "whole_process.json")
    args = parser.parse_args()
    check_arguments(parser, args, CONTESTANTS, "repeats")
    model_directory = minilm_model_directory()
    sentences = read_corpus(args.corpus, args.limit)

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        onnx_directory = (onnx_model_directory(folder) if set(ONNX_FILES) & set(args.contestants)
                          else None)
        jobs = {"corpus": folder / "corpus.txt", "one sentence": folder / "one.txt"}
        jobs["corpus"].write_text("\n".join(sentences) + "\n", encoding="utf-8")
        jobs["one sentence"].write_text(sentences[0] + "\n", encoding="utf-8")
        seconds = {(job, name): [] for job in jobs for name in args.contestants}
        for round_index in range(args.repeats):
            shift = round_index % len(args.contestants)
            for name in args.contestants[shift:] + args.contestants[:shift]:
                for job, corpus in jobs.items():
                    out = folder / f"{name}-{job.replace(' ', '_')}.npy"
                    command = command_line(name, corpus, out, model_directory, onnx_directory)
                    elapsed = run_once(command, args.threads)
                    seconds[job, name].append(elapsed)
                    print(f"round {round_index + 1}: {name:22s} {job:12s} {elapsed:6.2f} s",
                          file=sys.stderr, flush=True)
        outputs = {name: np.load(folder / f"{name}-corpus.npy") for name in args.contestants}

    rows = []
    for name in args.contestants:
        row = {"contestant": name, "corpus_s": median(seconds["corpus", name]),
               "start_s": median(seconds["one sentence", name])}
        row["sent_per_s"] = len(sentences) / row["corpus_s"]
        if REFERENCE in outputs:
            row["max_diff"] = float(np.abs(outputs[name] - outputs[REFERENCE]).max())
            row.update(cosine_statistics(outputs[name], outputs[REFERENCE]))
        rows.append(row)
    reference = next((row for row in rows if row["contestant"] == REFERENCE), None)
    for row in rows:
        if reference is not None:
            row["x_st"] = reference["corpus_s"] / row["corpus_s"]
            row["start_x_st"] = reference["start_s"] / row["start_s"]
    print(f"{len(sentences)} sentences, {args.threads} threads, median of {args.repeats}")
    print(format_table(rows, [("contestant", "contestant", "s"), ("corpus_s", "corpus s", ".2f"),
                              ("sent_per_s", "sent/s", ".1f"), ("x_st", "x ST", ".2f"),
                              ("start_s", "1 sentence s", ".2f"), ("start_x_st", "x ST", ".2f"),
                              ("max_diff", "max |diff| vs ST", ".1e"),
                              ("cos_mean", "cos mean", ".4f"),
                              ("cos_p1", "cos 1st pct", ".4f"), ("cos_min", "cos min", ".4f")]))
    path = write_json(args.json_out, {"environment": environment(), "rows": rows,
                                      "settings": {"sentences": len(sentences),
                                                   "threads": args.threads,
                                                   "repeats": args.repeats}})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
