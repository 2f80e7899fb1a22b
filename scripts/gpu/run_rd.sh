#!/usr/bin/env bash
# The Rewarding Doubt experiment on one GPU (~6-7 min on an H200), normally started by step3.sh:
#   1. convert the packaged SmolLM2-135M-Instruct GGUF ($RD_GGUF) through calbench.models;
#   2. evaluate the untrained model (two-stage verbalized + expected confidence) on TriviaQA eval and two
#      unseen tasks (MedQA, CommonsenseQA; SciQ test if one is missing);
#   3. train confidence-only (exact estimator) on the TriviaQA training pool (trainers/rewarding_doubt/configs/...);
#   4. evaluate again with the adapter on the untrained model's answers (--answers), and write the paired
#      before/after report (both runs then judge the same answers: only the confidence differs);
#   5. pack everything into $OUT (at most 8 files come back): run_rd.log, report.md, report.json,
#      train_summary.json, results.tgz (evals, training log, config, answers), adapter.tgz.
# Sizes shrink with environment variables for a CPU dry run (see RD_* below).
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
: "${OUT:?set OUT to the folder that receives the results}"
PY=${PYTHON:-python3}
W=${RD_WORK:-$HOME/rdwork}
CONFIG=${RD_CONFIG:-trainers/rewarding_doubt/configs/smollm2_triviaqa.yaml}
N_TRIVIA=${RD_N_TRIVIA:-1000}
N_UNSEEN=${RD_N_UNSEEN:-400}
BATCH=${RD_BATCH:-256}
RESAMPLES=${RD_RESAMPLES:-1000}
TRAIN_SECONDS=${RD_TRAIN_SECONDS:-180}
LATE=${RD_LATE_SECONDS:-430}          # past this, the after-evaluation uses half the questions (a prefix of the same sample)
TRAIN_SET=${RD_TRAIN_SET:-}          # extra "--set key=value" overrides for calbench train
export CALBENCH_CACHE=${CALBENCH_CACHE:-$HOME/cbcache}
if [ -n "${RD_GGUF:-}" ]; then export CALBENCH_GGUF_SMOLLM2_135M_INSTRUCT="$RD_GGUF"; fi
mkdir -p "$W" "$OUT"
exec > >(tee -a "$W/run_rd.log") 2>&1
log() { echo "[run_rd $(date +%T) +${SECONDS}s] $*"; }

pack() {
  local rc=$?
  log "packing results into $OUT (exit status so far: $rc)"
  set +e
  cp "$W/run_rd.log" "$OUT/run_rd.log" 2>/dev/null
  cp "$W/report.md" "$W/report.json" "$OUT/" 2>/dev/null
  cp "$W/train/summary.json" "$OUT/train_summary.json" 2>/dev/null
  (cd "$W" && tar czf "$OUT/results.tgz" --exclude=adapter --exclude=checkpoints \
      $(ls -d before after train report.md report.json run_rd.log 2>/dev/null))
  [ -d "$W/train/adapter" ] && (cd "$W/train" && tar czf "$OUT/adapter.tgz" adapter)
  ls -la "$OUT"
  exit $rc
}
trap pack EXIT
trap 'exit 143' TERM   # `timeout` -> still pack what exists

log "host $(hostname); $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo 'no GPU')"

# calbench is not pip-installed on the device: register its entry points (calbench.trainers) from pyproject.toml
EP="$W/entry_points"
mkdir -p "$EP/calbench-0.1.0.dist-info"
$PY - "$EP/calbench-0.1.0.dist-info" <<'PY'
import sys, tomllib, pathlib
d = pathlib.Path(sys.argv[1]); proj = tomllib.loads(pathlib.Path("pyproject.toml").read_text())["project"]
(d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: calbench\nVersion: {proj['version']}\n")
eps = proj.get("entry-points", {})
(d / "entry_points.txt").write_text("".join(f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in m.items()) + "\n" for g, m in eps.items()))
PY
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD:$EP"
$PY -m calbench trainers

log "1. model conversion"
$PY -c "from calbench.models import resolve_model; print(resolve_model('smollm2-135m-instruct'))"

TASKS="triviaqa:eval:$N_TRIVIA medqa:test:$N_UNSEEN commonsenseqa:validation:$N_UNSEEN"
log "2. untrained evaluation: $TASKS"
$PY scripts/gpu/rd_evals.py --out "$W/before" --batch-size "$BATCH" --resamples "$RESAMPLES" --tasks $TASKS

log "3. training ($CONFIG, time limit ${TRAIN_SECONDS}s)"
$PY -m calbench train --trainer rewarding-doubt --model smollm2-135m-instruct --task triviaqa \
    --config "$CONFIG" --out "$W/train" --set time_limit_s="$TRAIN_SECONDS" $TRAIN_SET
cp "$CONFIG" "$W/train/config_input.yaml"

if [ "$SECONDS" -gt "$LATE" ]; then
  TASKS="triviaqa:eval:$((N_TRIVIA / 2)) medqa:test:$((N_UNSEEN / 2)) commonsenseqa:validation:$((N_UNSEEN / 2))"
  log "running late (${SECONDS}s > ${LATE}s): the after-evaluation uses half the questions: $TASKS"
fi
log "4. evaluation with the adapter"
$PY scripts/gpu/rd_evals.py --out "$W/after" --adapter "$W/train/adapter" --answers-dir "$W/before" --batch-size "$BATCH" \
    --resamples "$RESAMPLES" --tasks $TASKS

log "5. paired before/after report"
$PY -m trainers.rewarding_doubt.report --before "$W/before" --after "$W/after" --out "$W/report.json" \
    --md "$W/report.md" --resamples "$RESAMPLES"
log "done"
