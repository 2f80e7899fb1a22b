"""Write a checkpoint of either estimator as a LoRA adapter folder that ``calbench eval --adapter`` loads. The exact
estimator's (``--out/checkpoints/step-N/state.pt``): its ``lora`` weights as ``adapter_model.safetensors`` beside
the run's ``adapter_config.json``; GRPO's (TRL's ``--out/checkpoints/checkpoint-N/``, which holds the adapter
files already): those files, copied. The trainer keeps the last two checkpoints (every ``save_every`` steps) but writes
only the final adapter; this scores an earlier step on the test set, e.g. to see whether a result holds a few
steps before the end.

    calbench checkpoint --trainer rewarding-doubt RUN_OUT STEP OUT_ADAPTER_DIR

RUN_OUT is the trainer's ``--out`` folder (its ``adapter/adapter_config.json`` gives the adapter's shape). The
checkpoint's step and sha256 go into ``checkpoint.json`` in the new folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from calbench.training import TrainerError


def export(run_out: Path, step: int, out: Path) -> Path:
    """Write step ``step`` of the exact trainer's run ``run_out`` as an adapter folder ``out``; returns ``out``.
    A missing or mislabelled checkpoint is refused (:class:`~calbench.training.TrainerError`)."""
    import torch
    from safetensors.torch import save_file

    from calbench.answers import file_sha256

    state_path = run_out / "checkpoints" / f"step-{step}" / "state.pt"
    trl_dir = run_out / "checkpoints" / f"checkpoint-{step}"
    if not state_path.exists() and (trl_dir / "adapter_config.json").exists():
        return _copy_trl_checkpoint(run_out, trl_dir, step, out)
    config = run_out / "adapter" / "adapter_config.json"
    for need in (state_path, config):
        if not need.exists():
            raise TrainerError(f"{need} not found (the run keeps its last two checkpoints, under checkpoints/)")
    state = torch.load(state_path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "lora" not in state:
        raise TrainerError(f"{state_path} has no 'lora' weights; is it an exact-trainer checkpoint?")
    if state.get("step") != step:
        raise TrainerError(f"{state_path} records step {state.get('step')}, not {step}")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config, out / "adapter_config.json")
    save_file(
        {k: v.contiguous() for k, v in state["lora"].items()},
        str(out / "adapter_model.safetensors"),
        metadata={"format": "pt"},
    )
    sha = file_sha256(state_path)
    (out / "checkpoint.json").write_text(
        json.dumps({"run": str(run_out), "step": step, "state_sha256": sha}, indent=2) + "\n"
    )
    return out


def _copy_trl_checkpoint(run_out: Path, folder: Path, step: int, out: Path) -> Path:
    """A GRPO (TRL) checkpoint folder's adapter files as an adapter folder, with the same ``checkpoint.json``."""
    from calbench.answers import file_sha256

    weights = sorted(folder.glob("adapter_model.*"))
    if not weights:
        raise TrainerError(f"{folder} has no adapter_model.* (not a LoRA checkpoint)")
    out.mkdir(parents=True, exist_ok=True)
    for f in [folder / "adapter_config.json", *weights]:
        shutil.copyfile(f, out / f.name)
    (out / "checkpoint.json").write_text(
        json.dumps({"run": str(run_out), "step": step, "state_sha256": file_sha256(weights[0])}, indent=2) + "\n"
    )
    return out
