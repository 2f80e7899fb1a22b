"""The GRPO estimator: TRL's GRPOTrainer with the proper-scoring confidence reward, in confidence-only mode (the
answer fixed, only the confidence sampled) or joint mode (answer and confidence sampled, ``correctness_weight``
may reward the answer too)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from calbench.training import TrainerError
from trainers.rewarding_doubt.config import RDConfig
from trainers.rewarding_doubt.estimators.base import EstimatorRun, lora_config


def train(run: EstimatorRun) -> dict[str, Any]:
    """TRL's GRPOTrainer with the log-score reward (confidence_only or joint)."""
    import datasets
    from transformers.trainer_utils import get_last_checkpoint
    from trl import GRPOTrainer

    from trainers.rewarding_doubt.callbacks import TimeLimitCallback
    from trainers.rewarding_doubt.data import confidence_rows, joint_rows
    from trainers.rewarding_doubt.rewards import RewardSpec, make_confidence_reward

    request, cfg, backend, answered_train, train_examples = (
        run.request,
        run.cfg,
        run.backend,
        run.answered_train,
        run.train_examples,
    )
    spec, judge, eval_cb, log_cb, out, world, on_cuda = (
        run.spec,
        run.judge,
        run.eval_cb,
        run.log_cb,
        run.out,
        run.world,
        run.on_cuda,
    )

    model, tokenizer = backend.model, backend.tokenizer
    reward_spec = RewardSpec.from_config(cfg)
    if cfg.mode == "confidence_only":
        rows = confidence_rows(answered_train, tokenizer, cfg.scale, spec.kind)
        reward_fn = make_confidence_reward(reward_spec)
    else:
        check_joint_length(tokenizer, cfg.max_completion_length, cfg.scale)
        rows = joint_rows(train_examples, tokenizer, cfg.scale, spec.kind)
        reward_fn = joint_reward(reward_spec, judge, cfg.scale)
    dataset = datasets.Dataset.from_list(rows)
    completions_per_step = cfg.prompts_per_step * cfg.num_generations
    if completions_per_step % world:
        raise TrainerError(
            f"prompts_per_step*num_generations = {completions_per_step} must be divisible by the "
            f"number of processes ({world})"
        )
    args = build_grpo_args(cfg, out, on_cuda=on_cuda, bf16=on_cuda and backend.dtype == "bfloat16", world=world)
    eval_cb.labels_per_step = cfg.prompts_per_step * cfg.gradient_accumulation_steps
    callbacks = [log_cb, eval_cb]
    time_cb = TimeLimitCallback(cfg.time_limit_s) if cfg.time_limit_s else None
    if time_cb:
        callbacks.append(time_cb)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward_fn],  # type: ignore[list-item]
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(cfg, backend.model),
        callbacks=callbacks,
    )
    eval_cb.trainer = trainer
    ckpt = get_last_checkpoint(str(out / "checkpoints")) if request.resume and (out / "checkpoints").exists() else None
    if request.resume and ckpt is None:
        print("[rewarding-doubt] --resume: no checkpoint found, starting from step 0", file=sys.stderr)
    trainer.train(resume_from_checkpoint=ckpt)
    trainer.save_model(str(out / "adapter"))
    step = trainer.state.global_step
    return {
        "steps": step,
        "max_steps": cfg.max_steps,
        "labels_seen": step * eval_cb.labels_per_step,
        "stopped_by_time_limit": bool(time_cb and time_cb.stopped_at is not None),
        "resumed_from": ckpt,
    }


def check_joint_length(tokenizer: Any, max_completion_length: int, scale: str) -> None:
    """Refuse a joint-mode completion budget that cannot hold ``<short answer>, Confidence: <c>`` with this
    tokenizer (the reply would be cut before its confidence and every reward would be the format penalty)."""
    from calbench.elicit import CONFIDENCE_PREFIX

    top = {"0-10": "10", "0-100": "100%", "0-1": "0.95"}[scale]
    reply = f" Abraham Lincoln, {CONFIDENCE_PREFIX}{top}"
    need = len(tokenizer(reply, add_special_tokens=False)["input_ids"]) + 1  # + end of turn
    if max_completion_length < need:
        raise TrainerError(
            f"max_completion_length {max_completion_length} is too short for a joint-mode reply: "
            f"{reply!r} is {need} tokens with this tokenizer (end of turn included); raise it to at "
            f"least {need} plus the answers' length"
        )


def build_grpo_args(cfg: RDConfig, out: Path, *, on_cuda: bool, bf16: bool, world: int = 1):
    """TRL's ``GRPOConfig`` for a run. ``scale_rewards`` and ``loss_type`` come from the validated settings
    (never TRL's per-group default); one step = ``prompts_per_step`` prompts x ``num_generations`` samples."""
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=str(out / "checkpoints"),
        max_steps=cfg.max_steps,  # type: ignore[arg-type]
        per_device_train_batch_size=cfg.prompts_per_step * cfg.num_generations // world,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_steps,
        beta=cfg.beta,
        temperature=cfg.temperature,
        top_p=1.0,
        top_k=0,
        epsilon=cfg.epsilon,
        num_iterations=cfg.num_iterations,
        gradient_checkpointing=cfg.gradient_checkpointing,
        scale_rewards=cfg.scale_rewards,
        loss_type=cfg.loss_type,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_every or cfg.max_steps,  # type: ignore[arg-type]
        save_total_limit=2,
        report_to=cfg.report_to,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=bf16,
        use_cpu=not on_cuda,
        remove_unused_columns=False,
        disable_dropout=True,
        log_completions=False,
    )


def joint_reward(spec: Any, judge: Any, scale: str):
    from calbench.elicit import ANSWER_PREFIX, CONFIDENCE_PREFIX
    from calbench.parse import parse_one_stage
    from calbench.records import Example
    from trainers.rewarding_doubt.rewards import accepted_value, make_joint_reward

    def split(text: str):
        answer, conf = parse_one_stage(ANSWER_PREFIX + text, scale)
        # what follows the label as the prompt writes it ("Confidence:"); strict_format checks its format
        _, _, stated = text.partition(CONFIDENCE_PREFIX.strip())
        return answer, accepted_value(conf, spec, stated)

    def judge_row(answer: str, row: dict) -> bool:
        return bool(judge(answer, Example(**json.loads(row["example"]))))

    return make_joint_reward(spec, judge_row, split)
