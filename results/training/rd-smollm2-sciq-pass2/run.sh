#!/usr/bin/env bash
# Issue 14, part 2: the TriviaQA second-pass recipe (kl_reference: uniform; ../rd-smollm2-triviaqa-pass2/) on
# SciQ. The beta-0.02 natural-answers run (../rd-smollm2-sciq-natural-beta002/, runs/natural-beta002: 500 steps
# over its 4,800-answer pool) is continued from its adapter over the pool again (continue_with: new_pass), then
# scored on the same untrained answers as the earlier SciQ runs (scripts/train_chain.sh: the 1,000 SciQ test
# answers, the 300 calibration answers for the Platt scalers, CommonsenseQA and MedQA, 500 each). `finish` also
# writes kl_optimum.md: both policies against the KL optimum of the likelihood's belief.
# Usage, from the repo root:  bash results/training/rd-smollm2-sciq-pass2/run.sh train|after|csqa|medqa|finish|step575
# (runs/natural-beta002 must hold the first run: ../rd-smollm2-sciq-natural-beta002/README.md's command, with the
# trainer's --out folder moved there)
set -euo pipefail
B=results/training/rd-smollm2-sciq-natural-exact
export TASK=sciq R=results/training/rd-smollm2-sciq-pass2 P=pass2 T=${T:-runs/sciq-pass2} W=${W:-runs/sciqp2} \
       CONFIG=trainers/rewarding_doubt/configs/smollm2_sciq_natural_pass2.yaml \
       PREV=results/training/rd-smollm2-sciq-natural-beta002/after-sciq PLATT=expected,two-stage \
       KL_POSTERIOR="$B/before-sciq-platt#seq-likelihood-mean+platt"
if [ "${1:-}" = step575 ]; then  # does the result hold 25 steps before the end? the step-575 checkpoint, SciQ test
  .venv/bin/python scripts/checkpoint_adapter.py "$T" 575 "$T-575/adapter"
  HF_HUB_OFFLINE=1 .venv/bin/calbench eval --model smollm2-135m-instruct --adapter "$T-575/adapter" --judge-containment \
      --seed 0 --resamples 1000 --batch-size 50 --chunk-size 200 --quiet --method two-stage --task sciq --split test \
      --limit 1000 --answers "$B/before-sciq/samples.jsonl.xz" --out "$W/step575-sciq"
  bash scripts/collect_runs.sh "$R" "$W/step575-sciq" && rm -f "$R/step575-sciq"/*.png
  exit
fi
exec bash scripts/train_chain.sh "$@"
