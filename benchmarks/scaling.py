"""How inference time grows with sequence length and with batch size: ours against HF BertModel.

Two sweeps of the encoder's forward pass alone (no tokenizer, no pooling), in eval mode under
torch.inference_mode(), on random token ids with a full attention mask:

    length sweep   T = 16, 32, 64, 128, 256, 512 tokens at a fixed batch (default 8)
    batch sweep    B = 1, 4, 16, 64 sentences at a fixed length (default 64)

Per token, the linear layers cost the same at every length, but attention compares each token
with all T others, so its share of the work grows with T (see common.encoder_flops). The
"attn FLOP %" column gives that share from the formula; "x first" shows how the measured cost
per token grows against the first point of the same sweep: where it leaves 1.0, the
quadratic term (or memory traffic of the T x T scores) starts to matter. The batch sweep
shows how well small batches use the machine.

Each point: one untimed warm-up call, then --repeats rounds in which every contestant runs
once (the order rotates); the median is reported.
"""

from __future__ import annotations

import argparse
import sys

import torch
from common import (
    ENCODER_CONTESTANTS,
    add_output_arguments,
    attention_flop_share,
    check_arguments,
    comma_separated_ints,
    encoder_flops,
    environment,
    format_table,
    median,
    minilm_model_directory,
    model_shape,
    random_batch,
    set_threads,
    timed,
    write_json,
)

REFERENCE = "hf-sdpa"  # HF's default attention; the "time/HF" column divides by it


def time_point(contestants, forwards, batch_size, length, vocab_size, repeats) -> dict:
    """Median seconds of one forward pass at (B, T), per contestant."""
    input_ids, attention_mask = random_batch(batch_size, length, vocab_size)
    seconds = {contestant.name: [] for contestant in contestants}
    with torch.inference_mode():
        for contestant in contestants:
            forwards[contestant.name](input_ids, attention_mask)  # warm-up
        for round_index in range(repeats):
            shift = round_index % len(contestants)
            for contestant in contestants[shift:] + contestants[:shift]:
                elapsed, _ = timed(forwards[contestant.name], input_ids, attention_mask)
                seconds[contestant.name].append(elapsed)
    return {name: median(values) for name, values in seconds.items()}


def sweep(name, points, contestants, forwards, shape, repeats) -> list[dict]:
    """Rows of one sweep; points is a list of (batch_size, length)."""
    rows = []
    first_cost = {}  # contestant -> seconds per token at the sweep's first point
    for batch_size, length in points:
        print(f"{name} sweep: B={batch_size} T={length} ...", file=sys.stderr)
        medians = time_point(contestants, forwards, batch_size, length, shape["vocab_size"],
                             repeats)
        flops = batch_size * encoder_flops(length, shape["hidden"], shape["ff_size"],
                                           shape["layers"])
        for contestant in contestants:
            seconds = medians[contestant.name]
            per_token = seconds / (batch_size * length)
            first_cost.setdefault(contestant.name, per_token)
            rows.append({
                "sweep": name, "contestant": contestant.name, "batch_size": batch_size,
                "length": length, "seconds": seconds,
                "ms_per_sentence": 1000 * seconds / batch_size,
                "us_per_token": 1e6 * per_token,
                "token_cost_vs_first": per_token / first_cost[contestant.name],
                "gflops": flops / seconds / 1e9,
                "attention_flop_share": attention_flop_share(length, shape["hidden"],
                                                             shape["ff_size"]),
                "time_vs_reference": (seconds / medians[REFERENCE]
                                      if REFERENCE in medians else None),
            })
    return rows


def main(argv=None) -> None:
    args = parse_args(argv)
    set_threads(args.threads)
    by_name = {contestant.name: contestant for contestant in ENCODER_CONTESTANTS}
    contestants = [by_name[name] for name in args.contestants]
    directory = minilm_model_directory()
    shape = model_shape(directory)
    forwards = {}
    for contestant in contestants:
        model, forward = contestant.build(directory)
        model.eval()
        forwards[contestant.name] = forward

    rows = sweep("length", [(args.batch, length) for length in args.lengths],
                 contestants, forwards, shape, args.repeats)
    rows += sweep("batch", [(batch, args.length) for batch in args.batches],
                  contestants, forwards, shape, args.repeats)

    print(format_table(rows, COLUMNS))
    path = write_json(args.json_out, {
        "benchmark": "scaling", "environment": environment(),
        "settings": {"lengths": args.lengths, "batch_for_lengths": args.batch,
                     "batches": args.batches, "length_for_batches": args.length,
                     "repeats": args.repeats, "reference": REFERENCE,
                     "inputs": "random ids, full attention mask, forward only, inference_mode"},
        "rows": rows})
    print(f"wrote {path}", file=sys.stderr)


COLUMNS = [
    ("sweep", "sweep", "s"), ("contestant", "contestant", "s"), ("batch_size", "B", "d"),
    ("length", "T", "d"), ("ms_per_sentence", "ms/sent", ".2f"),
    ("us_per_token", "us/tok", ".1f"), ("token_cost_vs_first", "x first", ".2f"),
    ("gflops", "GFLOP/s", ".1f"), ("attention_flop_share", "attn FLOP %", ".1%"),
    ("time_vs_reference", "time/HF", ".2f"),
]


def parse_args(argv=None) -> argparse.Namespace:
    names = [contestant.name for contestant in ENCODER_CONTESTANTS]
    parser = argparse.ArgumentParser(
        description="Encoder forward time per sentence as the sequence length and the batch "
                    "size grow: our encoder (hand-written and fused attention) and HF's "
                    "BertModel (eager and sdpa attention), all with the MiniLM weights.",
        epilog="Columns are explained in benchmarks/README.md. 'time/HF' is this row's time "
               f"divided by {REFERENCE}'s at the same point (below 1: faster than HF).")
    parser.add_argument("--lengths", type=comma_separated_ints,
                        default=[16, 32, 64, 128, 256, 512],
                        help="sequence lengths of the length sweep (default: 16,...,512)")
    parser.add_argument("--batch", type=int, default=8,
                        help="batch size of the length sweep (default: %(default)s)")
    parser.add_argument("--batches", type=comma_separated_ints, default=[1, 4, 16, 64],
                        help="batch sizes of the batch sweep (default: 1,4,16,64)")
    parser.add_argument("--length", type=int, default=64,
                        help="sequence length of the batch sweep (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed rounds per point; the median is reported "
                             "(default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's default, "
                             f"{torch.get_num_threads()} here)")
    add_output_arguments(parser, names, "scaling.json")
    args = parser.parse_args(argv)
    check_arguments(parser, args, names, "repeats")
    if max(args.lengths + [args.length]) > 512:
        parser.error("MiniLM has 512 positions: lengths must be at most 512")
    return args


if __name__ == "__main__":
    main()
