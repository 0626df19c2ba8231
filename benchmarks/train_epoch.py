"""One training epoch on real data: our trainer's three batchings against a plain HF loop.

The work: SST-2 (sentence classification) and CoNLL-2003 (NER, a token head), --examples
training examples of each (the same random subsample for every contestant: our data.py's with
seed 0), from all-MiniLM-L6-v2, one epoch, batch 32, one task per step in proportion to the
tasks' sizes, AdamW (lr 5e-5, heads 5e-4, weight decay 0.01 on matrices), 10 % linear warm-up
then linear decay, gradient clipping 1.0, max length 128, dropout 0.1.

    ours-random   train.py --batching random: padded batches drawn at random (the reference)
    ours-length   train.py --batching length: batches of similar lengths, in random order
    ours-packed   train.py --batching packed: random batches, real tokens only through the
                  linear layers (packed.py); train.py's default
    ours-packed-default-malloc   ours-packed with MINITRANSFORMER_DEFAULT_MALLOC=1: glibc's
                  free heap pages never given back, as before the trainer's fix
                  (training/memory.py). Against ours-packed it shows what the fix costs in
                  time (each trim, and the pages it gave back faulted in again by the next
                  step) and what it saves in memory (packed steps change shape, their
                  activations fragment the heap: the growth column)
    ours-packed-trim-every-step   ours-packed with MINITRANSFORMER_TRIM_MARGIN_MIB=0: the free
                  pages given back after every step (the trainer's fix until 2026-12-06),
                  not only once they have piled up past 512 MiB
    hf-random     a plain PyTorch loop around transformers' BertModel with the same heads, random
                  batches (what HF's Trainer makes by default)
    hf-length     the same loop, batches grouped by length as HF's Trainer does with
                  group_by_length: a random permutation cut into mega-batches of
                  min(n / (4 x batch), 50) batches, each sorted longest first, and the longest
                  example of all moved to the front (so a too-large batch fails first)

Both loops run the same sequence of tasks (our proportional sampler, same seed) for the same
number of steps, and start the pass over a task's examples again when it runs out. Attention:
ours-random and ours-length train with the hand-written attention (encoder.py's reference
path), ours-packed and HF with F.scaled_dot_product_attention. Memory: our trainer gives
glibc's free heap pages back once they pile up (except in ours-packed-default-malloc); the HF
loop leaves malloc as it is, as a user's script would.

Each run is a fresh process (train.py for ours, this script with --only for HF), with the same
thread count (OMP_NUM_THREADS); the rounds interleave the contestants, in an order that
rotates, and the median of --repeats rounds is reported. Columns:

    ex/s       2 x --examples over the seconds of the training steps (batch assembly, forward,
               backward, clipping, optimizer); loading and evaluation excluded
    x HF       ex/s over hf-random's
    padding    share of the batches' token positions that are padding (packed computes the
               linear layers on real tokens only, but its batches are random ones)
    peak MiB   the training process's peak resident size (VmHWM) at its last training step:
               Python, libraries, weights, optimizer state and the steps' activations; the
               dev evaluation after the epoch excluded
    MiB/1k steps   how fast the resident size (VmRSS) grows once the run is under way: the
               least-squares slope of it over the step, through the readings from 20 % of the
               steps on (memory.resident_summary), times 1,000. Read after every step: ours
               from the run's metrics.jsonl training records (--log-every 1; written outside
               the timed steps), HF's loop in its process, also outside the timed steps.
               Both memory columns are medians of the rounds, "n/a" where the system does
               not report resident memory (it is read from /proc/self/status, Linux)
    sst2 acc, ner F1   dev scores after the epoch (first round; the runs are seeded)
    process s  the whole process, as a user waits for it: the wall time of the fresh process
               (ours: train.py from start to exit: imports, reading and tokenising, the steps,
               evaluation, checkpoints, example predictions; HF: the same loop's process)
    x HF steps  hf-random's training steps alone (the s / epoch column) over this process s:
               how our whole run compares with the reference loop's steps alone

    python benchmarks/train_epoch.py                       # 2 x 2,000 examples, 3 rounds
    python benchmarks/train_epoch.py --examples 200 --repeats 1   # a quick check
    python benchmarks/train_epoch.py --repeats 1 --seed 1 --contestants ours-random,ours-length \
        --json-out benchmarks/results/train_epoch_seed1.json   # the dev scores of another seed
    python benchmarks/train_epoch.py --contestants ours-packed,ours-packed-default-malloc \
        --json-out benchmarks/results/train_epoch_malloc.json   # the mmap threshold's cost
    python benchmarks/train_epoch.py --tasks sst2 --examples 3200 --batch-size 16 \
        --dev-sentences 32 --contestants ours-packed,hf-random \
        --json-out benchmarks/results/train_epoch_small.json   # a small job, whole process
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from common import (
    CHILD_RESULT_MARKER,
    REPO_ROOT,
    add_output_arguments,
    check_arguments,
    environment,
    format_table,
    import_reference,
    load_hf_bert,
    median,
    minilm_model_directory,
    report_to_parent,
    write_json,
)
from torch import nn

from minitransformer.training.memory import (
    DEFAULT_MALLOC_VARIABLE,
    GROWTH_FROM,
    TRIM_MARGIN_VARIABLE,
    resident_mib,
    resident_summary,
)

OURS = {  # contestant: (train.py's --batching, what its environment adds)
    "ours-random": ("random", {}),
    "ours-length": ("length", {}),
    "ours-packed": ("packed", {}),
    "ours-packed-default-malloc": ("packed", {DEFAULT_MALLOC_VARIABLE: "1"}),
    "ours-packed-trim-every-step": ("packed", {TRIM_MARGIN_VARIABLE: "0"}),
}
CONTESTANTS = [*OURS, "hf-random", "hf-length"]
REFERENCE = "hf-random"
DATA = REPO_ROOT.parent / "shared" / "data"
TASKS = {  # name: (kind, train file, dev file), as in configs/conll_sst2.json
    "ner": ("token_classification", DATA / "conll2003" / "train.conll",
            DATA / "conll2003" / "dev.conll"),
    "sst2": ("sentence_classification", DATA / "sst2" / "train.jsonl", DATA / "sst2" / "dev.jsonl"),
}
BATCH_SIZE, LR, HEAD_LR, WEIGHT_DECAY, WARMUP, MAX_GRAD_NORM, MAX_LENGTH = (
    32, 5e-5, 5e-4, 0.01, 0.1, 1.0, 128)
SEED = 0  # the default --seed, which fixes the subsample, heads, data order and dropout masks
MAX_MEGABATCH = 50  # at most this many batches per length-sorted mega-batch, as HF's
IGNORE = -100
LOG_EVERY = 1  # a training record, with the resident size, after every step of ours


@dataclass(frozen=True)
class Job:
    """What every contestant trains: these tasks (of TASKS), `examples` training examples of
    each, batches of `batch_size`, and the first `dev_sentences` lines of the JSONL dev sets
    (None: all of them; CoNLL dev sets are always whole)."""
    tasks: tuple[str, ...]
    examples: int
    batch_size: int
    dev_sentences: int | None
    seed: int


def dev_file(job: Job, name: str, folder: Path) -> Path:
    """The dev file of task `name` for this job: the whole file, or its first lines, in folder."""
    kind, _, dev = TASKS[name]
    if job.dev_sentences is None or kind == "token_classification":
        return dev
    lines = [line for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    cut = folder / f"{name}_dev.jsonl"
    cut.write_text("\n".join(lines[: job.dev_sentences]) + "\n", encoding="utf-8")
    return cut


# ---- ours: train.py, timed by the trainer itself -----------------------------------------------
def run_ours(name: str, job: Job, threads: int) -> dict:
    """One epoch through train.py; its run.json has the step time, padding and dev scores, its
    metrics.jsonl the resident size after every step."""
    from minitransformer.training.progress import METRICS_FILE, read_metrics

    batching, variables = OURS[name]
    with tempfile.TemporaryDirectory() as folder:
        run_dir, config = Path(folder) / "run", Path(folder) / "config.json"
        tasks = [{"name": task, "kind": TASKS[task][0], "train": str(TASKS[task][1]),
                  "dev": str(dev_file(job, task, Path(folder)))} for task in job.tasks]
        config.write_text(json.dumps({"tasks": tasks}), encoding="utf-8")
        command = [sys.executable, str(REPO_ROOT / "train.py"), "--config", str(config),
                   "--init", "minilm", "--max-train", str(job.examples), "--epochs", "1",
                   "--batch-size", str(job.batch_size),
                   "--lr", str(LR), "--head-lr", str(HEAD_LR), "--weight-decay", str(WEIGHT_DECAY),
                   "--warmup", str(WARMUP), "--max-grad-norm", str(MAX_GRAD_NORM),
                   "--max-length", str(MAX_LENGTH), "--seed", str(job.seed), "--batching",
                   batching, "--progress", "off", "--log-every", str(LOG_EVERY), "--device", "cpu",
                   "--run-dir", str(run_dir)]
        environment_variables = {**os.environ, "OMP_NUM_THREADS": str(threads), **variables}
        started = time.perf_counter()
        finished = subprocess.run(command, capture_output=True, text=True,
                                  env=environment_variables)
        process_seconds = time.perf_counter() - started
        if finished.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{finished.stderr[-2000:]}")
        record = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
        steps = [r for r in read_metrics(Path(run_dir) / METRICS_FILE) if r["type"] == "train"]
    metrics = record["best"]["metrics"]
    return {"train_seconds": record["train_seconds"], "process_seconds": process_seconds,
            "padding": record["padding_fraction"],
            "sst2": metrics["sst2"]["accuracy"] if "sst2" in metrics else None,
            "ner": metrics["ner"]["entity_f1"] if "ner" in metrics else None,
            **resident_summary(steps)}


# ---- HF: a plain loop, as a user of transformers would write it ----------------------------------
def read_task(name: str, split: str, examples: int | None, seed: int):
    from minitransformer.tasks.kinds import read_examples

    kind, train, dev = TASKS[name]
    rows = read_examples(train if split == "train" else dev, kind)
    if examples is not None and len(rows) > examples:  # the same subsample as data.py's
        rows = random.Random(seed).sample(rows, examples)
    return rows


def encode_task(name: str, rows, tokenizer, label_ids: dict[str, int]) -> list[dict]:
    """Token ids and labels of each example: the sentence label, or the first piece of each
    word labelled (the others IGNORE), as our token kind does."""
    if name == "sst2":
        encoded = tokenizer([row.text for row in rows], truncation=True, max_length=MAX_LENGTH)
        return [{"ids": ids, "label": label_ids[row.label]}
                for ids, row in zip(encoded["input_ids"], rows)]
    encoded = tokenizer([row.tokens for row in rows], is_split_into_words=True, truncation=True,
                        max_length=MAX_LENGTH)
    items = []
    for index, row in enumerate(rows):
        labels, words, previous = [], [], None
        for word in encoded.word_ids(index):
            first = word is not None and word != previous
            # A dev tag unseen in training gets id 0: on dev the ids only mark the first
            # pieces, and the F1 compares with the file's own tags of those words.
            labels.append(label_ids.get(row.tags[word], 0) if first else IGNORE)
            if first:
                words.append(word)
            previous = word
        items.append({"ids": encoded["input_ids"][index], "labels": labels, "words": words})
    return items


def batch_indices(items: list[dict], grouped: bool, generator: random.Random,
                  batch_size: int) -> list[list[int]]:
    """One pass over a task's examples, as batches of indices: a random permutation cut into
    batches, or (grouped) HF's length grouping of that permutation (see the top)."""
    order = list(range(len(items)))
    generator.shuffle(order)
    if grouped:
        length = lambda i: len(items[i]["ids"])  # noqa: E731
        per_megabatch = max(1, min(len(order) // (4 * batch_size), MAX_MEGABATCH)) * batch_size
        megabatches = [sorted(order[start : start + per_megabatch], key=length, reverse=True)
                       for start in range(0, len(order), per_megabatch)]
        longest = max(range(len(megabatches)), key=lambda m: length(megabatches[m][0]))
        megabatches[0][0], megabatches[longest][0] = megabatches[longest][0], megabatches[0][0]
        order = [index for megabatch in megabatches for index in megabatch]
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def endless(items: list[dict], grouped: bool, generator: random.Random, batch_size: int):
    """Batches of one task, pass after pass (each pass a new permutation)."""
    while True:
        yield from batch_indices(items, grouped, generator, batch_size)


def collate(items: list[dict], pad_id: int) -> dict:
    length = max(len(item["ids"]) for item in items)
    ids = torch.full((len(items), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), length), dtype=torch.long)
    for row, item in enumerate(items):
        ids[row, : len(item["ids"])] = torch.tensor(item["ids"])
        mask[row, : len(item["ids"])] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if "label" in items[0]:
        batch["labels"] = torch.tensor([item["label"] for item in items])
    else:
        batch["labels"] = torch.full((len(items), length), IGNORE, dtype=torch.long)
        for row, item in enumerate(items):
            batch["labels"][row, : len(item["labels"])] = torch.tensor(item["labels"])
    return batch


class HFMultiTask(nn.Module):
    """BertModel + a mean-pooled sentence head for SST-2 + a token head for NER."""

    def __init__(self, bert, label_counts: dict[str, int]):
        super().__init__()
        self.bert = bert
        self.dropout = nn.Dropout(0.1)
        hidden = bert.config.hidden_size
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, count)
                                    for name, count in label_counts.items()})

    def forward(self, name: str, input_ids, attention_mask):
        states = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if name == "sst2":
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            states = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, d)
        return self.heads[name](self.dropout(states))


def run_hf(grouped: bool, job: Job) -> dict:
    """One epoch of the plain HF loop in this process; the numbers run_ours returns."""
    from minitransformer.tasks.metrics import accuracy, entity_f1
    from minitransformer.tasks.samplers import make_sampler
    from minitransformer.training.optimizer import make_adamw, warmup_linear_factor
    from minitransformer.training.seeds import derive_seed

    transformers = import_reference("transformers")
    directory = minilm_model_directory()
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    seed = job.seed
    torch.manual_seed(seed)
    labels, train, dev = {}, {}, {}
    for name in job.tasks:
        rows = read_task(name, "train", job.examples, seed)
        names = sorted({row.label for row in rows} if name == "sst2"
                       else {t for row in rows for t in row.tags})
        labels[name] = names
        label_ids = {label: index for index, label in enumerate(names)}
        train[name] = encode_task(name, rows, tokenizer, label_ids)
        dev_rows = read_task(name, "dev", None, seed)
        if job.dev_sentences is not None and TASKS[name][0] != "token_classification":
            dev_rows = dev_rows[: job.dev_sentences]  # as dev_file cuts it for ours
        dev[name] = (dev_rows, encode_task(name, dev_rows, tokenizer, label_ids))
    model = HFMultiTask(load_hf_bert(directory, pooler=False),
                        {n: len(v) for n, v in labels.items()})
    model.train()
    # As our optimizer.py: weight decay on matrices only, the heads at their own rate, AdamW's
    # fused kernel where there is one, warm-up then linear decay.
    groups = []
    for part, lr in ((model.bert, LR), (model.heads, HEAD_LR)):
        matrices = [p for p in part.parameters() if p.ndim >= 2]
        others = [p for p in part.parameters() if p.ndim < 2]
        groups += [{"params": matrices, "weight_decay": WEIGHT_DECAY, "lr": lr},
                   {"params": others, "weight_decay": 0.0, "lr": lr}]
    optimizer = make_adamw(groups, LR)
    steps = sum(math.ceil(len(items) / job.batch_size) for items in train.values())
    warmup = int(WARMUP * steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_linear_factor(step, warmup, steps))
    # The task of each step: our trainer's proportional sampler with its seed for epoch 0,
    # so that both loops train the same tasks in the same order.
    sampler = make_sampler("proportional", {name: len(items) for name, items in train.items()},
                           seed=derive_seed(seed, "epoch", 0, "tasks"))
    generator = random.Random(seed)
    streams = {name: endless(items, grouped, generator, job.batch_size)
               for name, items in train.items()}
    loss_function = nn.CrossEntropyLoss(ignore_index=IGNORE)
    real = positions = 0
    seconds = 0.0
    readings = []  # the resident size after every step, as our trainer logs it
    for step in range(1, steps + 1):
        started = time.perf_counter()
        name = next(sampler)
        batch = collate([train[name][i] for i in next(streams[name])], tokenizer.pad_token_id)
        logits = model(name, batch["input_ids"], batch["attention_mask"])
        loss = loss_function(logits.flatten(0, -2), batch["labels"].flatten())
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        seconds += time.perf_counter() - started
        real += int(batch["attention_mask"].sum())
        positions += batch["attention_mask"].numel()
        readings.append({"step": step, **resident_mib()})

    model.eval()
    scores = {}
    with torch.inference_mode():
        for name, (rows, items) in dev.items():
            predicted, gold = [], []
            for start in range(0, len(items), 64):
                chunk = items[start : start + 64]
                batch = collate(chunk, tokenizer.pad_token_id)
                guess = model(name, batch["input_ids"], batch["attention_mask"]).argmax(-1)
                if name == "sst2":
                    predicted += guess.tolist()
                    gold += batch["labels"].tolist()
                    continue
                for row, item in enumerate(chunk):  # back to one tag per word (first pieces)
                    keep = torch.tensor(item["labels"]) != IGNORE
                    predicted.append([labels[name][i]
                                      for i in guess[row, : len(item["labels"])][keep].tolist()])
                    gold.append([rows[start + row].tags[word] for word in item["words"]])
            # As our token kind: words cut off by truncation (or with no piece) are not scored.
            scores[name] = (accuracy(predicted, gold) if name == "sst2"
                            else entity_f1(predicted, gold))
    return {"train_seconds": seconds, "padding": 1 - real / positions, **scores,
            **resident_summary(readings)}


def run_child_hf(name: str, job: Job, threads: int) -> dict:
    command = [sys.executable, __file__, "--only", name, *job_arguments(job)]
    environment_variables = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, env=environment_variables)
    process_seconds = time.perf_counter() - started
    for line in reversed(finished.stdout.splitlines()):
        if line.startswith(CHILD_RESULT_MARKER):
            return {**json.loads(line[len(CHILD_RESULT_MARKER):]),
                    "process_seconds": process_seconds}
    raise RuntimeError(f"{' '.join(command)} reported nothing (exit {finished.returncode}):\n"
                       f"{finished.stderr[-2000:]}")


def median_of_reported(values: list) -> float | None:
    """The median of the values a system reported; None if none did."""
    reported = [value for value in values if value is not None]
    return median(reported) if reported else None


def job_arguments(job: Job) -> list[str]:
    """The job as this script's flags, for a child process."""
    dev = [] if job.dev_sentences is None else ["--dev-sentences", str(job.dev_sentences)]
    return ["--tasks", ",".join(job.tasks), "--examples", str(job.examples), "--batch-size",
            str(job.batch_size), "--seed", str(job.seed), *dev]


def run_contestant(name: str, job: Job, threads: int) -> dict:
    if name in OURS:
        return run_ours(name, job, threads)
    return run_child_hf(name, job, threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=2000,
                        help="training examples of each task (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="OMP_NUM_THREADS of every run (default: the cores this process may "
                             "use, %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of every run (default: "
                        "%(default)s)")
    parser.add_argument("--tasks", type=lambda text: tuple(text.split(",")), default=tuple(TASKS),
                        help=f"comma-separated tasks of {','.join(TASKS)} (default: both)")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                        help="examples per step (default: %(default)s)")
    parser.add_argument("--dev-sentences", type=int, default=None,
                        help="score only the first N sentences of the SST-2 dev set (default: all)")
    parser.add_argument("--only", choices=["hf-random", "hf-length"], help=argparse.SUPPRESS)
    add_output_arguments(parser, CONTESTANTS, "train_epoch.json")
    args = parser.parse_args()
    job = Job(args.tasks, args.examples, args.batch_size, args.dev_sentences, args.seed)
    if args.only:  # child mode: one HF epoch in this fresh process
        report_to_parent(run_hf(args.only == "hf-length", job))
        return
    check_arguments(parser, args, CONTESTANTS, "repeats")
    if not args.tasks or set(args.tasks) - set(TASKS) or len(set(args.tasks)) < len(args.tasks):
        parser.error(f"--tasks: choose one or both of {', '.join(TASKS)}")
    for flag in ("examples", "batch_size", "dev_sentences"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    missing = [str(path) for name in args.tasks for path in TASKS[name][1:] if not path.is_file()]
    if missing:
        sys.exit(f"the benchmark data is missing: {', '.join(missing)} (see ../shared/data)")
    minilm_model_directory()  # exits with how to install it

    results: dict[str, list[dict]] = {name: [] for name in args.contestants}
    for round_index in range(args.repeats):
        shift = round_index % len(args.contestants)
        for name in args.contestants[shift:] + args.contestants[:shift]:
            result = run_contestant(name, job, args.threads)
            results[name].append(result)
            peak = "n/a" if result["peak_rss_mib"] is None else f"{result['peak_rss_mib']:.0f} MiB"
            scores = "  ".join(f"{task} {result[task]:.4f}" for task in args.tasks)
            print(f"round {round_index + 1}: {name:26s} {result['train_seconds']:7.1f} s  "
                  f"process {result['process_seconds']:6.1f} s  {scores}  peak {peak}",
                  file=sys.stderr, flush=True)

    examples = len(args.tasks) * args.examples
    rows = []
    for name, runs in results.items():
        seconds = median([run["train_seconds"] for run in runs])
        rows.append({"contestant": name, "seconds": seconds, "ex_per_s": examples / seconds,
                     "process_seconds": median([run["process_seconds"] for run in runs]),
                     "padding": runs[0]["padding"], "sst2": runs[0].get("sst2"),
                     "ner": runs[0].get("ner"),
                     **{key: median_of_reported([run[key] for run in runs])
                        for key in ("peak_rss_mib", "rss_growth_mib_per_1000_steps")}})
    reference = next((row for row in rows if row["contestant"] == REFERENCE), None)
    for row in rows:
        row["x_hf"] = row["ex_per_s"] / reference["ex_per_s"] if reference else None
        row["x_hf_steps"] = reference["seconds"] / row["process_seconds"] if reference else None
    print(format_table(rows, [("contestant", "contestant", "s"), ("seconds", "s / epoch", ".1f"),
                              ("ex_per_s", "ex/s", ".1f"), ("x_hf", "x HF", ".2f"),
                              ("padding", "padding", ".1%"), ("peak_rss_mib", "peak MiB", ".0f"),
                              ("rss_growth_mib_per_1000_steps", "MiB/1k steps", "+.1f"),
                              ("sst2", "sst2 acc", ".4f"), ("ner", "ner F1", ".4f"),
                              ("process_seconds", "process s", ".1f"),
                              ("x_hf_steps", "x HF steps", ".2f")],
                       missing="n/a"))
    settings = {"tasks": list(args.tasks), "examples_per_task": args.examples,
                "dev_sentences": args.dev_sentences, "repeats": args.repeats,
                "batch_size": args.batch_size,
                "threads": args.threads, "seed": args.seed, "log_every": LOG_EVERY,
                "growth_from": GROWTH_FROM}
    path = write_json(args.json_out, {"environment": environment(), "settings": settings,
                                      "rows": rows, "runs": results})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
