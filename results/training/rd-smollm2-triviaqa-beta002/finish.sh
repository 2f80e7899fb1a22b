#!/usr/bin/env bash
# Issue 14, part 2 on TriviaQA: after training (README) and eval.sh. Fits the Platt scalers on the 200 calibration
# questions (the trainer's held-out set; never trained on), copies the run folders here (samples xz-compressed,
# figures as palette PNGs), writes the comparison report and the tables against every untrained readout.
# Usage, from the repo root:  W=runs/tqaw T=runs/tqa-train bash results/training/rd-smollm2-triviaqa-beta002/finish.sh
set -euo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
W=${W:-runs/tqaw}; T=${T:-runs/tqa-train}; R=results/training/rd-smollm2-triviaqa-beta002; CB=.venv/bin/calbench
SC=results/baselines/smollm2-135m-instruct/triviaqa  # self-consistency (k = 5), the first 400 of the same questions
N2=results/training/rd-smollm2-sciq-natural-beta002   # the untrained CommonsenseQA/MedQA runs (500 each)
log() { echo "[finish $(date -u +%T) +${SECONDS}s] $*"; }
platt() {  # platt FIT APPLY OUT METHODS: Platt scalers, raw and rounded to the 0-10 levels
  [ -d "$3" ] || $CB calibrate --fit "$1" --apply "$2" --scaler platt --confidence-methods "$4" --out "$3"
  [ -d "$3-0-10" ] || $CB calibrate --fit "$1" --apply "$2" --scaler platt --stated-scale 0-10 \
      --confidence-methods "$4" --out "$3-0-10"
}
# the calibration answers are the trainer's held-out answers (same questions, same greedy answers)
.venv/bin/python - "$W/cal-triviaqa/samples.jsonl" "$T/answers.jsonl" <<'PY'
import json, sys
from calbench.records import read_samples
cal = {s["id"]: (s["answer_output"].strip(), s["correct"]) for s in read_samples(sys.argv[1]) if s["method"] == "two-stage"}
held = {a["id"]: (a["reply"].removeprefix("Answer:").strip(), a["correct"])
        for a in map(json.loads, open(sys.argv[2])) if a["id"] in cal}
assert set(held) == set(cal), f"held-out set != calibration questions ({len(held)} of {len(cal)} shared)"
differ = [i for i in cal if cal[i] != held[i]]
assert not differ, f"{len(differ)} calibration answers or labels differ from the held-out ones, e.g. {differ[0]}"
print(f"calibration questions = held-out questions ({len(cal)}), identical answers and labels")
PY
platt "$W/cal-triviaqa" "$W/before-triviaqa" "$W/before-triviaqa-platt" expected,seq-likelihood-mean,seq-likelihood-prod,ptrue
[ -f "$W/after-cal-triviaqa/run.json" ] && platt "$W/after-cal-triviaqa" "$W/after-triviaqa" "$W/after-triviaqa-platt" expected
log "copying the runs"
mkdir -p "$R/train"
for f in config.yaml train_log.jsonl training_curve.png summary.json answers.jsonl; do [ -f "$T/$f" ] && cp "$T/$f" "$R/train/"; done
bash scripts/collect_runs.sh "$R" "$W"/before-triviaqa* "$W"/after-*  # finished runs only
log "report"
SYS=("$R/after-triviaqa#two-stage" "$R/before-triviaqa#two-stage" "$R/before-triviaqa#expected"
     "$R/before-triviaqa#seq-likelihood-mean" "$R/before-triviaqa#seq-likelihood-prod" "$R/before-triviaqa#ptrue"
     "$R/before-triviaqa-platt#seq-likelihood-mean+platt" "$R/before-triviaqa-platt#ptrue+platt" "$R/after-triviaqa#expected")
[ -d "$R/after-triviaqa-platt" ] && SYS+=("$R/after-triviaqa-platt#expected+platt")
$CB report "${SYS[@]}" --out "$R/report_triviaqa.md"
rm -f "$R"/report_triviaqa_files/samples_*.html  # per-sample pages (MiBs): calbench show reads the run folders
sed -i -E 's#\[table\]\(report_triviaqa_files/samples_[0-9]+\.html\)#not kept (`calbench show` the run)#' "$R/report_triviaqa.md"
ARGS=()
for s in $R/before-triviaqa $R/before-triviaqa-platt $R/before-triviaqa-platt-0-10 $R/after-triviaqa \
         $R/after-triviaqa-platt $R/after-triviaqa-platt-0-10 $SC $R/after-triviaqa-400 \
         $N2/before-commonsenseqa-500 $N2/before-commonsenseqa-500-platt $R/after-commonsenseqa-500 \
         $N2/before-medqa-500 $N2/before-medqa-500-platt $R/after-medqa-500; do
  [ -d "$s" ] && ARGS+=("$s")
done
.venv/bin/python scripts/trained_tables.py "${ARGS[@]}" > "$R/tables.md"

# what the KL-regularised optimum would state with the Platt-scaled likelihood's information (scripts/kl_optimum.py)
.venv/bin/python scripts/kl_optimum.py "$R/before-triviaqa-platt#seq-likelihood-mean+platt" \
    "$R/before-triviaqa#expected" --beta 0 0.02 0.1 > "$R/kl_optimum.md"
log "done"
