#!/usr/bin/env bash
# Issue 14, part 2, natural answers with beta 0.1: the evaluations of the trained adapter (these commands ran
# split over two or three processes, one CPU thread each). Train first (README), then move runs/natb/train to $T so that reports label the
# adapter natural-beta/adapter. $W/before-<task> and $W/cal-sciq are the untrained runs of
# ../rd-smollm2-sciq-natural-exact/ with samples.jsonl decompressed (xz -dk samples.jsonl.xz); the trained model reads the untrained model's answers.
# Usage, from the repo root:  W=runs/natbw T=runs/natural-beta bash results/training/rd-smollm2-sciq-natural-beta/eval.sh
# then finish.sh.
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 OMP_NUM_THREADS=1
W=${W:-runs/natbw}; T=${T:-runs/natural-beta}; B=results/training/rd-smollm2-sciq-natural-exact
for t in sciq medqa commonsenseqa; do [ -f "$W/before-$t/samples.jsonl" ] || { echo "no $W/before-$t/samples.jsonl" >&2; exit 1; }; done
# SciQ test (1,000), MedQA and CommonsenseQA (300 each): stated (two-stage) and expected readouts
W=$W T=$T TASKS=sciq bash $B/after.sh
W=$W T=$T TASKS="medqa commonsenseqa" bash $B/after.sh
# the expected readout on the calibration split (300 SciQ validation questions, the untrained model's answers),
# for the post-hoc scaler that finish.sh fits on the trained readout
.venv/bin/calbench eval --model smollm2-135m-instruct --adapter "$T/adapter" --judge-containment --seed 0 \
  --resamples 1000 --batch-size 50 --chunk-size 200 --quiet --method expected \
  --task sciq --split validation --limit 300 --answers "$W/cal-sciq/samples.jsonl" --out "$W/after-cal-sciq"
