#!/usr/bin/env bash
# Device call 1 -- carry: .dev/whl .dev/p0
# Installs the wheels the GPU image lacks (trl, datasets, dill, multiprocess, gguf) into $HOME/site, stashes
# part 0 of the SmolLM2 GGUF in $HOME/m, and checks that the training stack imports on the GPU.
set -euo pipefail
mkdir -p "$HOME/m"
cp .dev/p0 "$HOME/m/p0"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$HOME/site" .dev/whl/*.whl
PYTHONPATH="$HOME/site:$PWD" python3 - <<'PY'
import importlib.metadata as md, torch
import datasets, peft, transformers, trl, gguf, pyarrow  # noqa: F401
from trl import GRPOConfig, GRPOTrainer  # noqa: F401
print({d: md.version(d) for d in ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "pyarrow", "gguf")})
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
PY
ls -la "$HOME/m"
echo "step1 ok"
