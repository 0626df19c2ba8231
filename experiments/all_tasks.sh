#!/usr/bin/env bash
# Issue 18, steps 2-3: one model for every task against one model per task. For the seed given:
#   all        configs/all_tasks.json, every task at once
#   single_T   the same config and recipe with --tasks T: the same training examples of T, so as
#              many steps on T as inside `all` on average (there the sampler draws each step's task
#              at random: a few % more or fewer)
#   mtdnn_T    MT-DNN: T alone for one epoch from the `all` run's best checkpoint, encoder and T's
#              trained head (--init it), to set against single_T, which starts from MiniLM
# Runs one after another (2 cores): `all` 49-50 min, the singles 45-48, MT-DNN 23-24 on this 2-core
# CPU (seeds 0 and 1; 2 hours per seed with loading). Table: python experiments/all_tasks_table.py
# Usage: bash experiments/all_tasks.sh [SEED]
#        bash experiments/all_tasks.sh SEED levers    (issue 30: `all` with the chosen levers,
#                                                       then MT-DNN's second stage from it)
#        bash experiments/all_tasks.sh SEED leave_one_out   (issue 30: `all` less one teaching task)
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-0}
out=runs/all_tasks
mkdir -p "$out"
common=(--config configs/all_tasks.json --seed "$seed" --progress lines)
source experiments/run_row.sh
tasks=(stsb sst2 sst3 agnews ner wnut domain sentiment)
if [ "${2:-}" = levers ]; then
    # Issue 30: the all-tasks run with the levers the pair rows (stsb_gap.sh SEED levers) chose.
    # The teacher of --distill-from is STS-B alone with this config's recipe.
    run single_stsb --tasks stsb
    run all_distill_from_single_stsb_1 --distill-weight 1 --distill-from "$out/single_stsb_s$seed"
    # ... with the taggers' batches left free: with the term on every batch CoNLL and WNUT-17
    # lost 0.007 and 0.022 against the plain all-tasks row (docs/experiments.md)
    run all_distill_from_single_stsb_1_not_taggers --distill-weight 1 \
        --distill-from "$out/single_stsb_s$seed" --distill-task-weight ner=0 --distill-task-weight wnut=0
    # MT-DNN's second stage from the first, the start a candidate for RUN/best (--eval-start: a
    # task whose epoch alone ends below the multi-task model keeps it). Table:
    # all_tasks_table.py 'mtdnn_distill_from_single_stsb_1_eval_start_{task}'; seed 1's rows
    # without the option ('mtdnn_distill_from_single_stsb_1_{task}') came from this loop before.
    for task in "${tasks[@]}"; do
        run "mtdnn_distill_from_single_stsb_1_eval_start_$task" --tasks "$task" --eval-start \
            --init "$out/all_distill_from_single_stsb_1_s$seed" --epochs 1
    done
    echo "$(date +%T) done"
    exit 0
fi
if [ "${2:-}" = leave_one_out ]; then
    # Issue 30, item 3: which task teaches which. WNUT-17, the largest gain inside `all`, and
    # FDU sentiment, a large one whose suspected teachers can be left out, each without them:
    # WNUT-17 without CoNLL-2003 (both entity tagging), FDU sentiment without SST-2 and SST-3
    # (all sentiment). Set against `all`.
    run all_without_ner --tasks stsb,sst2,sst3,agnews,wnut,domain,sentiment
    run all_without_sst --tasks stsb,agnews,ner,wnut,domain,sentiment
    echo "$(date +%T) done"
    exit 0
fi
run all
for task in "${tasks[@]}"; do
    run "single_$task" --tasks "$task"
done
for task in "${tasks[@]}"; do
    run "mtdnn_$task" --tasks "$task" --init "$out/all_s$seed" --epochs 1
done
echo "$(date +%T) done"
