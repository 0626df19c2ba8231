#!/usr/bin/env bash
# The training curves of docs/experiments.md: freezing strategies and layer-wise decay on
# SST-3 + AG News (1,500 training examples per task, one epoch, MiniLM start, seed 0), each run
# logging every 5 steps and evaluating every 20, then drawn overlaid by the plot command.
#     bash experiments/curves.sh        (about 15 minutes on a 2-core CPU, runs one at a time)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=experiments/runs/curves
common=(--config configs/sst3_agnews.json --max-train 1500 --epochs 1 --seed 0
        --log-every 5 --eval-every 20 --progress lines)
train() { name=$1; shift; python train.py "${common[@]}" --run-dir "$runs/$name" "$@"; }

train none
train backbone --freeze backbone
train layers3 --freeze layers:3
train gradual --unfreeze-every 12steps
train decay0.9 --layer-decay 0.9
train decay0.8 --layer-decay 0.8

python -m minitransformer.plot "$runs/none" "$runs/backbone" "$runs/layers3" "$runs/gradual" \
    --label "nothing frozen" --label "backbone frozen" --label "embeddings + layers 1-3 frozen" \
    --label "gradual unfreezing, 12 steps" --out docs/img/curves_freezing.png
python -m minitransformer.plot "$runs/none" "$runs/decay0.9" "$runs/decay0.8" \
    --label "d = 1.0" --label "d = 0.9" --label "d = 0.8" --out docs/img/curves_layer_decay.png
