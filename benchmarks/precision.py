"""Lower precision for inference: float32 against int8 and bfloat16, speed and quality.

One model (all-MiniLM-L6-v2), loaded once; SentenceEncoder.encode on the bench corpus with

    float32    the default
    int8       encode(precision="int8"): smoothed dynamic int8 quantisation of the linear
               layers (minitransformer/fast/quantize.py)
    bfloat16   the same float32 model under torch.autocast("cpu", dtype=torch.bfloat16): the
               matrix products in bfloat16 where the CPU has the instructions (AVX512-BF16 or
               AMX), emulated (slowly) where it has not
    st-onnx    sentence-transformers with backend="onnx": ONNX Runtime in float32
    st-onnx-qint8
               the same on the dynamic int8 model of export_dynamic_quantized_onnx_model, the
               int8 a user of sentence-transformers picks (exported once, untimed; common.py)

Throughput: every variant is warmed up once (int8 builds its copy then), then --repeats rounds
run each in turn, in an order that rotates; the median is reported. Quality: STS-B dev
Spearman of the cosine similarities (the STS-B file of ../shared/data), and the cosine of
each corpus embedding to its float32 counterpart (ours, which equals sentence-transformers'
float32 within 1e-6): mean, 1st percentile and minimum, since a quantised embedder is judged
per sentence.

    python benchmarks/precision.py
    python benchmarks/precision.py --limit 200 --repeats 1      # a quick check
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
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
    import_reference,
    median,
    minilm_model_directory,
    onnx_model_directory,
    read_corpus,
    set_threads,
    timed,
    write_json,
)

VARIANTS = ["float32", "int8", "bfloat16", "st-onnx", "st-onnx-qint8"]
ONNX_FILES = {"st-onnx": ONNX_FLOAT32_FILE, "st-onnx-qint8": ONNX_QINT8_FILE}
STSB_DEV = REPO_ROOT.parent / "shared" / "data" / "stsb" / "dev.jsonl"


def encode(model, sentences: list[str], variant: str, batch_size: int) -> np.ndarray:
    """Unit vectors (n, d): `model` is ours for float32/int8/bfloat16, else a
    SentenceTransformer."""
    if variant in ONNX_FILES:
        return model.encode(sentences, batch_size=batch_size, normalize_embeddings=True)
    precision = "int8" if variant == "int8" else "float32"
    context = (torch.autocast("cpu", dtype=torch.bfloat16) if variant == "bfloat16"
               else contextlib.nullcontext())
    with context:
        return model.encode(sentences, batch_size=batch_size, precision=precision)


def stsb_spearman(model, variant: str, batch_size: int) -> float | None:
    from minitransformer.tasks.metrics import spearman

    if not STSB_DEV.is_file():
        return None
    rows = [json.loads(line) for line in STSB_DEV.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    first = encode(model, [row["sentence1"] for row in rows], variant, batch_size)
    second = encode(model, [row["sentence2"] for row in rows], variant, batch_size)
    cosines = (first * second).sum(axis=1)  # the model's vectors have unit length
    return spearman(cosines.tolist(), [row["score"] for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=DEFAULT_CORPUS,
                        help="one sentence per line (default: %(default)s)")
    parser.add_argument("--limit", type=int, help="only the first N sentences")
    parser.add_argument("--batch-size", type=int, default=32, help="(default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default: %(default)s)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--smoothing", default=None, metavar="A|none",
                        help="the int8 copy's SmoothQuant a, or none for no smoothing (default: "
                             "quantize.SMOOTHING, what encode uses)")
    add_output_arguments(parser, VARIANTS, "precision.json")
    args = parser.parse_args()
    check_arguments(parser, args, VARIANTS, "repeats")
    threads = set_threads(args.threads)
    from minitransformer.loading import load_model

    minilm_model_directory()  # exits with how to install it
    ours = load_model("minilm", "cpu")
    models = {variant: ours for variant in args.contestants if variant not in ONNX_FILES}
    if set(ONNX_FILES) & set(args.contestants):
        sentence_transformers = import_reference("sentence_transformers")
        folder = tempfile.TemporaryDirectory()  # removed at exit
        directory = onnx_model_directory(Path(folder.name))
        for variant in set(ONNX_FILES) & set(args.contestants):
            models[variant] = sentence_transformers.SentenceTransformer(
                str(directory), device="cpu", backend="onnx",
                model_kwargs={"file_name": ONNX_FILES[variant]})
    if args.smoothing is not None:  # replace the int8 copy that encode would make
        from minitransformer.fast.quantize import WeightsVersion, int8_copy

        smoothing = None if args.smoothing == "none" else float(args.smoothing)
        ours.int8_cache = (WeightsVersion(ours.encoder),
                           int8_copy(ours.encoder, ours.calibration_batches(), smoothing))
    sentences = read_corpus(args.corpus, args.limit)
    outputs = {variant: encode(models[variant], sentences, variant, args.batch_size)  # warm-up
               for variant in args.contestants}
    seconds = {variant: [] for variant in args.contestants}
    for round_index in range(args.repeats):
        shift = round_index % len(args.contestants)
        for variant in args.contestants[shift:] + args.contestants[:shift]:
            elapsed, _ = timed(encode, models[variant], sentences, variant, args.batch_size)
            seconds[variant].append(elapsed)

    rows = []
    reference = outputs.get("float32")
    for variant in args.contestants:
        row = {"variant": variant, "sent_per_s": len(sentences) / median(seconds[variant]),
               "spearman": stsb_spearman(models[variant], variant, args.batch_size)}
        if reference is not None:
            row.update(cosine_statistics(outputs[variant], reference))
        rows.append(row)
    base = next((row for row in rows if row["variant"] == "float32"), None)
    for row in rows:
        if base is not None:
            row["x_fp32"] = row["sent_per_s"] / base["sent_per_s"]
            if row["spearman"] is not None and base["spearman"] is not None:
                row["d_spearman"] = row["spearman"] - base["spearman"]
    from minitransformer.fast.quantize import SMOOTHING, full_range_activations

    smoothing = SMOOTHING if args.smoothing is None else args.smoothing
    bits = 8 if full_range_activations() else 7
    print(f"{len(sentences)} sentences, batch {args.batch_size}, {threads} threads, median of "
          f"{args.repeats}; int8 smoothing a = {smoothing}, activations rounded to {bits} bits; "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(format_table(rows, [("variant", "precision", "s"), ("sent_per_s", "sent/s", ".1f"),
                              ("x_fp32", "x fp32", ".2f"),
                              ("spearman", "STS-B dev Spearman", ".4f"),
                              ("d_spearman", "vs fp32", "+.4f"), ("cos_mean", "cos mean", ".4f"),
                              ("cos_p1", "cos 1st pct", ".4f"), ("cos_min", "cos min", ".4f")]))
    path = write_json(args.json_out, {"environment": environment(), "rows": rows,
                                      "settings": {"sentences": len(sentences),
                                                   "batch_size": args.batch_size,
                                                   "repeats": args.repeats, "smoothing": smoothing,
                                                   "int8_activation_bits": bits}})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    sys.exit(main())
