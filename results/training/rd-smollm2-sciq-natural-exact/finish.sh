#!/usr/bin/env bash
# Issue 14, part 2: after before.sh and after.sh. Post-hoc Platt scalers fitted on the calibration split (300 SciQ
# validation questions) applied to the untrained readouts of every test set; the trained model on the 200 SciQ test
# questions of the self-consistency run; the run folders copied into the results folder (samples gzipped, figures
# as palette PNGs); comparison reports and tables.
# Usage, from the repo root:  W=runs/nat T=runs/natural bash results/training/rd-smollm2-sciq-natural-exact/finish.sh
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
W=${W:-runs/nat}; T=${T:-runs/natural}; R=results/training/rd-smollm2-sciq-natural-exact; CB=.venv/bin/calbench
log() { echo "[finish $(date -u +%T) +${SECONDS}s] $*"; }
SCALED=expected,seq-likelihood-mean,seq-likelihood-prod,ptrue
for t in sciq medqa commonsenseqa; do
  [ -d "$W/before-$t-platt" ] || $CB calibrate --fit "$W/cal-sciq" --apply "$W/before-$t" --scaler platt \
      --confidence-methods $SCALED --out "$W/before-$t-platt"
  # the same scalers, each probability then rounded to the 0-10 level with the best expected log score: the best
  # a model stating 0-10 could say with each baseline's information (added in a later session)
  [ -d "$W/before-$t-platt-0-10" ] || $CB calibrate --fit "$W/cal-sciq" --apply "$W/before-$t" --scaler platt \
      --stated-scale 0-10 --confidence-methods $SCALED --out "$W/before-$t-platt-0-10"
done
if [ -d "$W/before-sciq-sc" ] && [ ! -f "$W/after-sciq-200/run.json" ]; then
  log "trained model on the 200 questions of the self-consistency run"
  $CB eval --model smollm2-135m-instruct --adapter "$T/adapter" --judge-containment --seed 0 --resamples 1000 \
      --batch-size 50 --quiet --task sciq --split test --limit 200 --method two-stage,expected \
      --answers "$W/before-sciq/samples.jsonl" --out "$W/after-sciq-200"
fi
log "copying the runs"
for d in "$W"/before-* "$W"/after-* "$W"/cal-sciq; do [ -d "$d" ] && rm -rf "$R/$(basename "$d")" && cp -r "$d" "$R/"; done
mkdir -p "$R/train"
for f in config.yaml train_log.jsonl training_curve.png summary.json; do [ -f "$T/$f" ] && cp "$T/$f" "$R/train/"; done
gzip -c "$T/answers.jsonl" > "$R/train/answers.jsonl.gz"
.venv/bin/python scripts/compress_results.py "$R" --png --min-bytes 0
log "reports"
for t in sciq medqa commonsenseqa; do
  [ -d "$R/after-$t" ] || continue
  $CB report "$R/after-$t#two-stage" "$R/before-$t" "$R/before-$t-platt" "$R/after-$t#expected" \
      --out "$R/report_$t.md"
done
ARGS=()
for t in sciq medqa commonsenseqa; do for s in before-$t before-$t-platt before-$t-platt-0-10 after-$t; do [ -d "$R/$s" ] && ARGS+=("$R/$s"); done; done
for s in before-sciq-sc after-sciq-200; do [ -d "$R/$s" ] && ARGS+=("$R/$s"); done
.venv/bin/python scripts/trained_tables.py "${ARGS[@]}" > "$R/tables.md"
log "done"
