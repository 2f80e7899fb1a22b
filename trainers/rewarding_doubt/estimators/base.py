"""What both estimators share: the run they train on (:class:`EstimatorRun`), the result keys and the LoRA config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calbench.training import TrainerError, TrainRequest
from trainers.rewarding_doubt.config import RDConfig

#: What :func:`train` returns from either estimator (``None`` where an estimator has no value).
RESULT_KEYS = (
    "steps",
    "max_steps",
    "planned_steps",
    "labels_seen",
    "stopped_by_time_limit",
    "resumed_from",
    "train_seconds",
    "train_cpu_seconds",
    "prefix_cache",
)


@dataclass
class EstimatorRun:
    """What an estimator trains on: the request and settings, the loaded model (``backend``), the labelled
    training answers (confidence-only) or questions (joint), the held-out evaluation and log callbacks, the run
    folder, and for a continuation its record and the pass over the pool it starts in."""

    request: TrainRequest
    cfg: RDConfig
    backend: Any
    answered_train: list
    train_examples: list
    spec: Any
    judge: Any
    eval_cb: Any
    log_cb: Any
    out: Path
    world: int = 1
    on_cuda: bool = False
    cont: Any = None
    first_epoch: int = 0


def lora_config(cfg: RDConfig, model: Any = None):
    """The peft LoRA config; with ``lora_top_layers`` (which needs ``model``) on the top K decoder layers only,
    "all-linear" spelled out as the decoder layer's linear modules (peft refuses it with ``layers_to_transform``)."""
    from peft import LoraConfig

    if not cfg.lora_top_layers:
        return LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=cfg.lora_target_modules,
            task_type="CAUSAL_LM",
        )
    from trainers.rewarding_doubt.prefix_cache import decoder_parts, top_layer_indices

    if model is None:
        raise TrainerError("lora_top_layers: the LoRA config needs the model (its layers)")
    targets = cfg.lora_target_modules
    if targets == "all-linear":
        import torch

        layer = decoder_parts(model)[0].layers[0]
        targets = sorted({n.rsplit(".", 1)[-1] for n, m in layer.named_modules() if isinstance(m, torch.nn.Linear)})
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        layers_to_transform=top_layer_indices(model, cfg.lora_top_layers),
        task_type="CAUSAL_LM",
    )
