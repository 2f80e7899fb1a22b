#!/usr/bin/env bash
# Device call 3 of 3 -- carry: .dev/p3
# Joins the GGUF, then runs the whole Rewarding Doubt experiment (scripts/gpu/run_rd.sh); results land in $OUT.
set -euo pipefail
for f in "$HOME/m/p1" "$HOME/m/p2" "$HOME/site/trl"; do
  test -e "$f" || { echo "step3: $f is missing: the machine is not the one of calls 1-2; start again with step1"; exit 3; }
done
cat "$HOME/m/p1" "$HOME/m/p2" .dev/p3 > "$HOME/m/SmolLM2-135M-Instruct.Q4_1.gguf"
echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $HOME/m/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c -
export PYTHONPATH="$HOME/site:$PWD"
export RD_GGUF="$HOME/m/SmolLM2-135M-Instruct.Q4_1.gguf"
exec bash scripts/gpu/run_rd.sh
