#!/usr/bin/env bash
# Issue 18, step 1: where do STS-B points go when SST-2 joins? One change at a time, seed 0,
# all from all-MiniLM-L6-v2 with the single-task recipe (batch 32, lr 5e-5, 2 epochs, warm-up
# 10 %, weight decay 0.01, clipping 1.0, max length 128). Runs one after another (2 cores).
# Results: docs/experiments.md ("The STS-B gap"). Usage: bash experiments/stsb_gap.sh [SEED]
# Issue 30's levers alone (with the two rows they are compared with):
#   bash experiments/stsb_gap.sh SEED levers      (to run: seeds 0 and 1)
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-0}
out=runs/ablation
mkdir -p "$out"
common=(--config configs/stsb_sst2.json --epochs 2 --batch-size 32 --lr 5e-5 --seed "$seed" --progress lines)
source experiments/run_row.sh
run stsb_alone --tasks stsb
run pair                                  # + SST-2: proportional sampler, weights 1:1, head lr 10x
if [ "${2:-}" = levers ]; then
    # Issue 30: levers that act under clipping, each against `pair` (linear heads, weights 1:1).
    # Results: docs/experiments.md, "Levers under clipping" (seed 0: the first four rows).
    # Ordered by what the measurements so far point to first (a session may stop the list early).
    run pair_step_scale_sst2_0.5 --step-scale sst2=0.5   # SST-2 steps move the encoder half as far
    run pair_distill_1 --distill-weight 1                # hold the embeddings near MiniLM's
    # ... or near those of STS-B alone, the model STS-B is measured against (Born-Again
    # Multi-Task Networks' single-task teachers, Clark et al. 2019)
    run pair_distill_from_stsb_alone_1 --distill-weight 1 --distill-from "$out/stsb_alone_s$seed"
    run pair_distill_from_stsb_alone_10 --distill-weight 10 --distill-from "$out/stsb_alone_s$seed"
    run pair_distill_10 --distill-weight 10
    # STS-B's gradient is ~50x SST-2's at the start (63-94 against 1.2-1.3): weight 0.02 brings
    # the two to about the same norm inside the mixed step, before the sum is clipped.
    run pair_mixed_stsb_weight_0.02 --tasks-per-step 2 --loss-weight stsb=0.02
    run pair_step_scale_stsb_2 --step-scale stsb=2       # STS-B steps twice as far (lr 1e-4 for them)
    run pair_mixed_pcgrad_stsb_weight_0.02 --tasks-per-step 2 --gradient-surgery pcgrad --loss-weight stsb=0.02
    run pair_mixed --tasks-per-step 2                    # a batch of each task every step, summed
    run pair_mixed_pcgrad --tasks-per-step 2 --gradient-surgery pcgrad
    echo "$(date +%T) done"
    exit 0
fi
run pair_head_lr_1x --head-lr 5e-5        # the SST-2 head at the encoder's rate
run pair_sst2_weight_0.2 --loss-weight sst2=0.2
run pair_round_robin --sampler round_robin
run pair_uncertainty --loss-weighting uncertainty
run pair_mlp_head --head-hidden 128             # MLP heads: d -> 128 -> ReLU -> classes
run pair_sst2_weight_0.1 --loss-weight sst2=0.1
run pair_sst2_weight_0.05 --loss-weight sst2=0.05
run pair_mlp_head_sst2_weight_0.2 --head-hidden 128 --loss-weight sst2=0.2
run pair_mlp_head_hidden_lr_3x --head-hidden 128 --head-hidden-lr-factor 3
run pair_mlp_head_hidden_lr_3x_sst2_weight_0.2 --head-hidden 128 --head-hidden-lr-factor 3 --loss-weight sst2=0.2
# layer-wise rates (issue 18, item 5) on the best setting above: d = 1 is the row above;
# d > 1 makes the lower layers learn faster than the upper ones, d < 1 slower
run pair_mlp_head_hidden_lr_3x_layer_decay_1.1 --head-hidden 128 --head-hidden-lr-factor 3 --layer-decay 1.1
run pair_mlp_head_hidden_lr_3x_layer_decay_0.95 --head-hidden 128 --head-hidden-lr-factor 3 --layer-decay 0.95
echo "$(date +%T) done"
