#!/usr/bin/env bash
# Issue 16, step 4: what does pretraining buy? The same fine-tuning recipe (1,500 training
# examples per task, 3 epochs, batch 32, warm-up 10 %, clipping 1.0, max length 128) from three
# starts: from scratch (small preset, its own WordPiece vocabulary, lr 1e-3), from our own MLM
# pretraining (runs/pretrain_mlm, made by configs/pretrain_mlm.json; lr 1e-4) and from
# all-MiniLM-L6-v2 (lr 1e-4); then MiniLM with the AG News text as a masked-LM task beside AG News
# (domain-adaptive, multi-task). Runs one after another (2 cores).
# Results: docs/experiments.md ("What pretraining buys"); table: python experiments/pretraining_table.py
# Usage: bash experiments/pretraining.sh [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-0}
out=runs/transfer
mkdir -p "$out"
if ! grep -qs '"finished"' runs/pretrain_mlm/run.json; then
    echo "runs/pretrain_mlm is missing or unfinished: python tools/pretraining_text.py && python train.py --config configs/pretrain_mlm.json" >&2
    exit 2
fi
common=(--config configs/pretrain_transfer.json --max-train 1500 --epochs 3 --batch-size 32 --seed "$seed" --progress lines)
source experiments/run_row.sh
for task in agnews sst2; do
    run "scratch_$task" --tasks "$task" --init scratch --lr 1e-3
    run "own_mlm_$task" --tasks "$task" --init runs/pretrain_mlm --lr 1e-4
    run "minilm_$task" --tasks "$task" --init minilm --lr 1e-4
done
run minilm_agnews_with_mlm --tasks agnews,agnews_text --init minilm --lr 1e-4
# Is 1e-4 too low for the small model? Its own rows again at 3e-4 and at the scratch rows' 1e-3.
for task in agnews sst2; do
    run "own_mlm_${task}_lr3e-4" --tasks "$task" --init runs/pretrain_mlm --lr 3e-4
    run "own_mlm_${task}_lr1e-3" --tasks "$task" --init runs/pretrain_mlm --lr 1e-3
done
echo "$(date +%T) done"
