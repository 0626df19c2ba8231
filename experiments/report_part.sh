#!/usr/bin/env bash
# Issue 47: one model for every task against one model per task, on the report part of every dev
# set (minitransformer/tasks/dev_split.py). For the seed given:
#   all        configs/all_tasks.json, every task at once
#   single_T   the same config and recipe with --tasks T: the same training examples of T
#   all_teachers_ema   (mode `teachers`, after the singles of that seed) every task's batches
#              held near its own single_T run's embeddings (--distill-teacher T=single_T), with
#              an average of the weights (--ema-decay 0.999): its "final" weights are the
#              teachers alone (the average changes no step), "averaged" and RUN/best add the EMA
# Both choose RUN/best on the select part only; train.py prints and run.json stores the select
# and report parts, best and final weights. Runs one after another (2 cores).
# Usage: bash experiments/report_part.sh SEED [all|singles|teachers]    (default: all, singles)
# Table: python experiments/report_part_table.py
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:?usage: bash experiments/report_part.sh SEED [all|singles|teachers]}
which=${2:-both}
out=runs/p47
mkdir -p "$out"
common=(--config configs/all_tasks.json --seed "$seed" --progress lines)
source experiments/run_row.sh
tasks=(stsb sst2 sst3 agnews ner wnut domain sentiment)
if [ "$which" = teachers ]; then
    flags=(--distill-weight 1 --ema-decay 0.999)
    for task in "${tasks[@]}"; do
        flags+=(--distill-teacher "$task=$out/single_${task}_s$seed")
    done
    run all_teachers_ema "${flags[@]}"
    echo "$(date +%T) done"
    exit 0
fi
if [ "$which" != singles ]; then
    run all
fi
if [ "$which" != all ]; then
    for task in "${tasks[@]}"; do
        run "single_$task" --tasks "$task"
    done
fi
echo "$(date +%T) done"
