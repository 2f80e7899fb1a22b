#!/usr/bin/env bash
# Last device call -- carry: the last part, .dev/pN; run as `bash scripts/gpu/step3.sh pN`
# Joins the GGUF (the parts stashed by the earlier calls, in order, then this one), then runs the whole Rewarding Doubt experiment (scripts/gpu/run_rd.sh); results land in $OUT.
set -euo pipefail
last=${1:?usage: step3.sh PART (the last part, e.g. p9)}
n=${last#p}
parts=()
for ((k = 0; k < n; k++)); do parts+=("$HOME/m/p$k"); done
for f in "${parts[@]}" "$HOME/site/trl"; do
  test -e "$f" || { echo "step3: $f is missing: the machine is not the one of the earlier calls (or a part was skipped); start again with step1"; exit 3; }
done
cat "${parts[@]}" ".dev/$last" > "$HOME/m/SmolLM2-135M-Instruct.Q4_1.gguf"
echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $HOME/m/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c -
export PYTHONPATH="$HOME/site:$PWD"
export RD_GGUF="$HOME/m/SmolLM2-135M-Instruct.Q4_1.gguf"
exec bash scripts/gpu/run_rd.sh
