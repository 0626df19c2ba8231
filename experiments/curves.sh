#!/usr/bin/env bash
# The training curves of docs/experiments.md: freezing strategies and layer-wise decay on
# SST-3 + AG News (3,000 training examples per task, one epoch of 188 steps of 32, packed
# batches, MiniLM start, seed 0), each run logging every 5 steps and evaluating on the full dev
# sets (1,101 + 800) every 25, then drawn overlaid by the plot command from the copies of their
# logs in docs/img/curves_logs. Gradual unfreezing opens one of the 7 depths every 16 steps, so
# the whole encoder trains from step 113 on (steps 1-16 train the heads alone).
#     bash experiments/curves.sh            (every run, then the two pictures)
#     bash experiments/curves.sh none gradual   (only these runs, then the two pictures)
#     bash experiments/curves.sh --draw     (no training: the pictures again from the kept logs)
# Time: 124 minutes on 2026-12-05, one run at a time on the 2-core AMD EPYC, shared with another
# training job and benchmarks (which held one run stopped for a while); the last run, decay0.8,
# took 7 minutes once that work had stopped: alone on the machine all six should take at most
# about 42 minutes (the frozen runs do less work than a full one).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=experiments/runs/curves
common=(--config configs/sst3_agnews.json --max-train 3000 --epochs 1 --seed 0 --batching packed
        --log-every 5 --eval-every 25 --progress lines --overwrite)
declare -A flags=(
    [none]=""
    [backbone]="--freeze backbone"
    [layers3]="--freeze layers:3"
    [gradual]="--unfreeze-every 16steps"
    [decay0.9]="--layer-decay 0.9"
    [decay0.8]="--layer-decay 0.8"
)
order=(none backbone layers3 gradual decay0.9 decay0.8)
# The logs the pictures are drawn from are kept in docs/img/curves_logs (the log, the run's
# record and its checkpoint's description, not the weights), so that the pictures and their
# numbers can be redrawn and checked (tests/test_plot.py) on a fresh clone.
logs=docs/img/curves_logs
if [[ "${1:-}" != --draw ]]; then
    names=("$@")
    (($#)) || names=("${order[@]}")
    for name in "${names[@]}"; do
        [[ -v flags[$name] ]] || { echo "no run named $name: ${order[*]}" >&2; exit 2; }
        echo "$(date +%T) $name"
        # shellcheck disable=SC2086  # the flags are words
        python train.py "${common[@]}" --run-dir "$runs/$name" ${flags[$name]}
    done
    for name in "${order[@]}"; do
        mkdir -p "$logs/$name/last"
        cp "$runs/$name/metrics.jsonl" "$runs/$name/run.json" "$logs/$name/"
        cp "$runs/$name/last/config.json" "$logs/$name/last/"
    done
fi
echo "$(date +%T) drawing"
python -m minitransformer.plot "$logs/none" "$logs/backbone" "$logs/layers3" "$logs/gradual" \
    --label "nothing frozen" --label "backbone frozen" --label "embeddings + layers 1-3 frozen" \
    --label "gradual unfreezing, 16 steps" --out docs/img/curves_freezing.png
python -m minitransformer.plot "$logs/none" "$logs/decay0.9" "$logs/decay0.8" \
    --label "d = 1.0" --label "d = 0.9" --label "d = 0.8" --out docs/img/curves_layer_decay.png
