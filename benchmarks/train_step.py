"""One training step at all-MiniLM-L6-v2's shapes: our encoder against HF's BertModel.

Both start from the same MiniLM weights and run in training mode (dropout on). One step is

    forward   states = model(input_ids, attention_mask)        (B, T, 384)
              loss = mean(states ** 2)                          a simple scalar to differentiate
    backward  loss.backward()
    optimizer AdamW.step() and zero_grad()                      the same AdamW for both:
                                                                fused kernel (--optimizer fused,
                                                                the default of our trainer and
                                                                of HF's Trainer on torch 2.8+)
                                                                or torch's for-each default

on random token ids with a full attention mask (no padding), timed part by part with
time.perf_counter. After --warmup steps, --steps steps are timed; each step runs every
contestant in turn (the order rotates), so that machine noise hits all alike, and the median
of each part is reported.

Peak memory: each contestant runs again in a fresh process (--only) for two steps (the first
step creates AdamW's state). Reported are the process's peak resident set size (VmHWM) and
its growth over the resident size after loading the model: the weights' gradients, AdamW's
two moments and the activations kept for backward. RSS, not torch's allocator: it is what
the machine sees, and it works the same for both libraries on a CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from common import (
    ENCODER_CONTESTANTS,
    add_output_arguments,
    check_arguments,
    current_rss_mib,
    encoder_flops,
    environment,
    format_table,
    median,
    minilm_model_directory,
    model_shape,
    peak_rss_mib,
    random_batch,
    report_to_parent,
    run_child,
    set_threads,
    write_json,
)

REFERENCE = "hf-sdpa"  # HF's default attention; the "time / HF" column divides by it
LEARNING_RATE = 2e-5  # small, so the weights stay near MiniLM's; it does not change the cost


def train_step(model, forward, optimizer, input_ids, attention_mask) -> dict:
    """One step; returns the seconds of its forward, backward and optimizer parts."""
    start = time.perf_counter()
    loss = forward(input_ids, attention_mask).pow(2).mean()
    after_forward = time.perf_counter()
    loss.backward()
    after_backward = time.perf_counter()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    end = time.perf_counter()
    return {"forward": after_forward - start, "backward": after_backward - after_forward,
            "optimizer": end - after_backward}


def build_for_training(contestant, directory: Path, optimizer_kind: str):
    """(model, forward, optimizer) of a contestant, in training mode."""
    model, forward = contestant.build(directory)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE,
                                  fused=optimizer_kind == "fused")
    return model, forward, optimizer


def measure_memory_here(contestant, batch_size: int, length: int, optimizer_kind: str) -> None:
    """Child mode (--only): two steps of one contestant in this fresh process, report memory."""
    directory = minilm_model_directory()
    model, forward, optimizer = build_for_training(contestant, directory, optimizer_kind)
    vocab_size = model_shape(directory)["vocab_size"]
    input_ids, attention_mask = random_batch(batch_size, length, vocab_size)
    rss_after_load = current_rss_mib()
    for _ in range(2):
        train_step(model, forward, optimizer, input_ids, attention_mask)
    peak = peak_rss_mib()
    report_to_parent({"rss_after_load_mib": rss_after_load, "peak_rss_mib": peak,
                      "step_rss_growth_mib": peak - rss_after_load})


def time_shape(contestants, models, batch_size, length, vocab_size, warmup, steps) -> dict:
    """Per contestant, the list of timed steps (dicts of part -> seconds) at one shape."""
    input_ids, attention_mask = random_batch(batch_size, length, vocab_size)
    timings = {contestant.name: [] for contestant in contestants}
    for step in range(warmup + steps):
        shift = step % len(contestants)
        for contestant in contestants[shift:] + contestants[:shift]:  # nobody is always first
            parts = train_step(*models[contestant.name], input_ids, attention_mask)
            if step >= warmup:
                timings[contestant.name].append(parts)
    return timings


def main(argv=None) -> None:
    args = parse_args(argv)
    set_threads(args.threads)
    by_name = {contestant.name: contestant for contestant in ENCODER_CONTESTANTS}
    if args.only:
        batch_size, length = args.shapes[0]
        measure_memory_here(by_name[args.only], batch_size, length, args.optimizer)
        return

    contestants = [by_name[name] for name in args.contestants]
    directory = minilm_model_directory()
    shape = model_shape(directory)
    models = {c.name: build_for_training(c, directory, args.optimizer) for c in contestants}
    rows = []
    for batch_size, length in args.shapes:
        print(f"timing B={batch_size} T={length} ...", file=sys.stderr)
        timings = time_shape(contestants, models, batch_size, length, shape["vocab_size"],
                             args.warmup, args.steps)
        # Training costs about 3x the forward FLOPs (backward: 2x, gradients of inputs and weights).
        step_flops = 3 * batch_size * encoder_flops(length, shape["hidden"], shape["ff_size"],
                                                    shape["layers"])
        shape_rows = []
        for contestant in contestants:
            steps = timings[contestant.name]
            row = {"contestant": contestant.name, "batch_size": batch_size, "length": length,
                   "shape": f"{batch_size}x{length}"}
            for part in ("forward", "backward", "optimizer"):
                row[f"{part}_ms"] = 1000 * median([step[part] for step in steps])
            row["total_ms"] = 1000 * median([sum(step.values()) for step in steps])
            row["tokens_per_s"] = batch_size * length / (row["total_ms"] / 1000)
            row["gflops"] = step_flops / (row["total_ms"] / 1000) / 1e9
            if not args.skip_memory:
                row.update(run_child(__file__, [
                    "--only", contestant.name, "--shapes", f"{batch_size}x{length}",
                    "--threads", str(torch.get_num_threads()), "--optimizer", args.optimizer]))
            shape_rows.append(row)
        reference = next((row for row in shape_rows if row["contestant"] == REFERENCE), None)
        for row in shape_rows:
            row["time_vs_reference"] = (row["total_ms"] / reference["total_ms"]
                                        if reference else None)
        rows += shape_rows

    print(format_table(rows, COLUMNS))
    path = write_json(args.json_out, {
        "benchmark": "train_step", "environment": environment(),
        "settings": {"shapes": args.shapes, "warmup": args.warmup, "steps": args.steps,
                     "optimizer": f"torch.optim.AdamW(lr={LEARNING_RATE}, "
                                  f"fused={args.optimizer == 'fused'})",
                     "loss": "mean(states ** 2)", "mode": "train (dropout on)",
                     "reference": REFERENCE, "memory": "VmHWM of a fresh process, 2 steps"},
        "rows": rows})
    print(f"wrote {path}", file=sys.stderr)


COLUMNS = [
    ("contestant", "contestant", "s"), ("shape", "BxT", "s"),
    ("forward_ms", "fwd ms", ".1f"), ("backward_ms", "bwd ms", ".1f"),
    ("optimizer_ms", "opt ms", ".1f"), ("total_ms", "step ms", ".1f"),
    ("time_vs_reference", "time/HF", ".2f"), ("tokens_per_s", "tok/s", ".0f"),
    ("gflops", "GFLOP/s", ".1f"), ("peak_rss_mib", "RSS MiB", ".0f"),
    ("step_rss_growth_mib", "+RSS MiB", ".0f"),
]


def parse_shape(text: str) -> tuple[int, int]:
    batch_size, length = text.lower().split("x")
    return int(batch_size), int(length)


def parse_args(argv=None) -> argparse.Namespace:
    names = [contestant.name for contestant in ENCODER_CONTESTANTS]
    parser = argparse.ArgumentParser(
        description="Milliseconds per training step (forward, backward, AdamW) of our encoder "
                    "and HF's BertModel, both holding the all-MiniLM-L6-v2 weights.",
        epilog="Columns are explained in benchmarks/README.md. 'time/HF' is this row's step "
               f"time divided by {REFERENCE}'s at the same shape (below 1: faster than HF).")
    parser.add_argument("--shapes", type=lambda text: [parse_shape(s) for s in text.split(",")],
                        default=[(32, 64), (16, 128)],
                        help="comma-separated BATCHxLENGTH shapes (default: 32x64,16x128)")
    parser.add_argument("--steps", type=int, default=10,
                        help="timed steps per shape; medians are reported (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed steps first, per shape (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's default, "
                             f"{torch.get_num_threads()} here)")
    parser.add_argument("--skip-memory", action="store_true",
                        help="do not measure peak RSS (saves a fresh process per row)")
    parser.add_argument("--optimizer", choices=("fused", "foreach"), default="fused",
                        help="AdamW implementation, the same for every contestant (default: "
                             "%(default)s, as our trainer and HF's Trainer use)")
    add_output_arguments(parser, names, "train_step.json")
    parser.add_argument("--only", choices=names, default=None,
                        help="internal: memory-measuring child mode, one contestant and the "
                             "first of --shapes in this process")
    args = parser.parse_args(argv)
    check_arguments(parser, args, names, "steps")
    return args


if __name__ == "__main__":
    main()
