"""The Rewarding Doubt trainer plugin: GRPO (TRL) + LoRA (peft) with a proper-scoring confidence reward.

Registered as ``rewarding-doubt`` under the ``calbench.trainers`` entry points. A run::

    calbench train --trainer rewarding-doubt --model smollm2-135m-instruct --task triviaqa \\
        --config trainers/rewarding_doubt/configs/smollm2_triviaqa.yaml --out runs/rd

writes under ``--out``: ``config.yaml`` (resolved settings), ``answers.jsonl`` (the fixed stage-1 answers),
``train_log.jsonl`` (TRL's training logs and the held-out evaluations), ``checkpoints/`` (resumable with
``--resume``), ``adapter/`` (the LoRA adapter for ``calbench eval --adapter``) and ``summary.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from calbench.records import json_safe
from calbench.training import Trainer, TrainerError, TrainRequest, TrainResult
from trainers.rewarding_doubt.config import RDConfig


class RewardingDoubtTrainer(Trainer):
    name = "rewarding-doubt"
    description = (
        "RL (TRL GRPO + LoRA) with the log-score reward of the stated confidence "
        "(Rewarding Doubt, arXiv 2503.02623); confidence-only or joint"
    )

    def default_config(self) -> dict[str, Any]:
        return RDConfig().to_dict()

    def train(self, request: TrainRequest) -> TrainResult:
        cfg = RDConfig.from_mapping(request.config)
        return run_training(request, cfg)


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for dist in ("calbench", "torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            import importlib

            mod = importlib.import_module(dist) if dist != "calbench" else None
            out[dist] = getattr(mod, "__version__", "unknown") if mod else "unknown"
    return out


def _check_out_dir(out: Path, resume: bool) -> None:
    ckpts = out / "checkpoints"
    if not resume and ckpts.exists() and (any(ckpts.glob("checkpoint-*")) or any(ckpts.glob("step-*"))):
        raise TrainerError(
            f"{out} already holds checkpoints of a run; pass --resume to continue it or choose another --out"
        )


def _load_data(spec: Any, cfg: RDConfig, skip: int = 0) -> tuple[list, list]:
    """(held-out, training) examples: the held-out set from ``heldout_split`` or carved out of the pool; the
    training questions follow it in the pool's seeded order, after the first ``skip`` (``continue_from``)."""
    from calbench.tasks import select

    pool = spec.load(spec.train_split, source=cfg.source)
    end = None if cfg.train_size is None else skip + cfg.train_size
    if cfg.heldout_split:
        heldout = select(spec.load(cfg.heldout_split, source=cfg.source), cfg.heldout_size, cfg.seed)
        held_ids = {e.id for e in heldout}
        train = [e for e in select(pool, None, cfg.seed) if e.id not in held_ids][skip:end]
    else:
        chosen = select(pool, None if end is None else end + cfg.heldout_size, cfg.seed)
        heldout, train = chosen[: cfg.heldout_size], chosen[cfg.heldout_size + skip :]
    if not train:
        raise TrainerError(
            f"task {spec.name!r} split {spec.train_split!r} has {len(pool)} questions, too few for "
            f"heldout_size={cfg.heldout_size}"
            + (f" and the {skip} already trained on" if skip else "")
            + " plus training questions"
        )
    return heldout, train


def _pool_accuracy(answered: list, what: str) -> float:
    acc = sum(a.correct for a in answered) / max(1, len(answered))
    print(f"[rewarding-doubt] {what}: {len(answered)} fixed answers, accuracy {acc:.3f}", file=sys.stderr)
    if answered and not 0.02 <= acc <= 0.98:
        print(
            f"[rewarding-doubt] WARNING: the {what}'s accuracy is {acc:.3f}: with (almost) one outcome there is "
            "nothing to discriminate; the log score's optimum is a constant",
            file=sys.stderr,
        )
    return acc


def run_training(request: TrainRequest, cfg: RDConfig) -> TrainResult:
    """The whole run: data, training (exact or GRPO) with periodic held-out evaluation, adapter, summary."""
    import torch
    import yaml
    from transformers import set_seed

    from calbench.backends.hf import HFBackend
    from calbench.judge import judge_for
    from calbench.tasks import get_task
    from trainers.rewarding_doubt.callbacks import HeldOutCallback, JsonlLogCallback
    from trainers.rewarding_doubt.continuation import (
        check_continuation,
        check_continuation_model,
        load_continuation,
        seed_answer_cache,
    )
    from trainers.rewarding_doubt.data import answer_examples, fixed_answer_examples, shared_answers_path
    from trainers.rewarding_doubt.evaluation import HeldOutEvaluator, OneStageEvaluator

    t_start = time.time()
    out = Path(request.out_dir)
    _check_out_dir(out, request.resume)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)
    for w in cfg.warnings():
        print(f"[rewarding-doubt] WARNING: {w}", file=sys.stderr)

    # -- data: calbench's task, split and judge ---------------------------------------------------------------
    spec = get_task(request.task)
    if not spec.train_split:
        raise TrainerError(
            f"task {spec.name!r} has no training split; train on a task that has one (e.g. triviaqa, sciq)"
        )
    cont = load_continuation(cfg.continue_from)
    skip, pass_index = cont.start(cfg.continue_with) if cont else (0, 0)
    heldout, train_examples = _load_data(spec, cfg, skip=skip)
    judge = judge_for(spec.kind, **{**(spec.judge_settings or {}), **cfg.judge})
    judge_record = {"name": judge.name, **judge.settings}  # what config.yaml records, and a continuation checks
    if cont:  # before the model loads (minutes for a large one); its sha256 is checked once it has
        check_continuation(cont, task=spec.name, settings=cfg.to_dict(), judge=judge_record)

    # -- model: the same loader as `calbench eval`; its model object is the policy --------------------------------
    # Under `accelerate launch` each process owns one GPU (LOCAL_RANK) and only rank 0 writes the run's files.
    world = max(1, int(os.environ.get("WORLD_SIZE", "1")))
    rank, local_rank = int(os.environ.get("RANK", "0")), os.environ.get("LOCAL_RANK")
    device = f"cuda:{local_rank}" if local_rank is not None and torch.cuda.is_available() else None
    backend = HFBackend(
        request.model, device=device, dtype=None if cfg.dtype == "auto" else cfg.dtype, batch_size=cfg.answer_batch_size
    )
    on_cuda = backend.device.startswith("cuda")
    estimator = cfg.estimator_used
    if cont:
        check_continuation_model(cont, backend.resolved.manifest())
    print(
        f"[rewarding-doubt] model {backend.resolved.name} on {backend.device} ({backend.dtype}); task "
        f"{spec.name}/{spec.train_split}: {len(train_examples)} training + {len(heldout)} held-out questions"
        f"{f' (from {cfg.heldout_split})' if cfg.heldout_split else ''}; estimator {estimator}",
        file=sys.stderr,
    )

    t_data = time.time()
    # confidence_only: the held-out and training questions get fixed answers; joint: none (the held-out
    # evaluation answers in the one-stage format it trains)
    to_answer = list(heldout) + list(train_examples) if cfg.mode == "confidence_only" else []
    if cfg.answers_file:
        answered, answers_record = fixed_answer_examples(to_answer, cfg.answers_file, judge, kind=spec.kind)
    else:
        if cont and rank == 0:
            seed_answer_cache(cont, out / "answers.jsonl")
        shared = (
            shared_answers_path(backend, kind=spec.kind, max_new_tokens=cfg.answer_max_new_tokens)
            if cfg.shared_answer_cache and rank == 0
            else None
        )
        answered = answer_examples(
            to_answer,
            backend,
            judge,
            kind=spec.kind,
            max_new_tokens=cfg.answer_max_new_tokens,
            cache=out / ("answers.jsonl" if rank == 0 else f"answers.rank{rank}.jsonl"),
            seed=cfg.seed,
            progress=rank == 0,
            shared=shared,
        )
        answers_record = (
            {"generated": "greedy stage-1 answers of the untrained model", "file": "answers.jsonl"}
            if to_answer
            else None
        )
    answered_heldout, answered_train = answered[: len(heldout)], answered[len(heldout) :]
    heldout_acc = _pool_accuracy(answered_heldout, "held-out set") if answered_heldout else float("nan")
    train_acc = _pool_accuracy(answered_train, "training pool") if cfg.mode == "confidence_only" else float("nan")
    data_seconds = time.time() - t_data

    resolved = {
        "trainer": RewardingDoubtTrainer.name,
        "estimator": estimator,
        "model": backend.resolved.manifest(),
        "task": spec.name,
        "split": spec.train_split,
        "heldout_split": cfg.heldout_split or spec.train_split,
        "train_questions": len(train_examples),
        "heldout_questions": len(heldout),
        "train_accuracy_of_fixed_answers": train_acc,
        "heldout_accuracy_of_fixed_answers": heldout_acc,
        "answers": answers_record,
        "judge": judge_record,
        "continued_from": cont.record(cfg.continue_with) if cont else None,
        "settings": cfg.to_dict(),
        "versions": _versions(),
        "world_size": world,
    }
    if rank == 0:
        (out / "config.yaml").write_text(yaml.safe_dump(json_safe(resolved), sort_keys=False), encoding="utf-8")

    if cfg.mode == "confidence_only":
        evaluator = HeldOutEvaluator(answered_heldout, cfg.scale, kind=spec.kind, batch_size=cfg.eval_batch_size)
    else:
        evaluator = OneStageEvaluator(
            heldout,
            judge,
            cfg.scale,
            kind=spec.kind,
            batch_size=cfg.eval_batch_size,
            max_new_tokens=cfg.max_completion_length,
        )
    log_path = out / "train_log.jsonl"
    log_cb = JsonlLogCallback(log_path)
    eval_cb = HeldOutCallback(
        evaluator,
        cfg.eval_every,
        log_cb,
        best_metric=cfg.save_best_on,
        best_dir=out / "adapter_best",
        resume=request.resume,
        curve=out / "training_curve.png",
        continuation=cont,
    )
    t_train = time.time()
    if estimator == "exact":
        result = _train_exact(
            request,
            cfg,
            backend,
            answered_train,
            eval_cb,
            log_cb,
            out,
            kind=spec.kind,
            cont=cont,
            first_epoch=pass_index,
        )
    else:
        result = _train_grpo(
            request,
            cfg,
            backend,
            answered_train,
            train_examples,
            spec,
            judge,
            eval_cb,
            log_cb,
            out,
            world=world,
            on_cuda=on_cuda,
        )
    train_seconds = time.time() - t_train
    eval_cb.plot()

    final = eval_cb.last or {}
    seconds = {
        "data": round(data_seconds, 1),
        "train": round(train_seconds, 1),
        "total": round(time.time() - t_start, 1),
    }
    sessions = _sessions(out / "summary.json", request.resume, _session({**result, "seconds": seconds}))
    summary = {
        "adapter": str(out / "adapter"),
        "estimator": estimator,
        **result,
        "seconds": seconds,
        # every invocation of this run folder that finished (a resumed run adds one): the run's whole cost
        "sessions": sessions,
        "train_seconds_all_sessions": round(sum(x.get("train") or 0.0 for x in sessions), 1),
        # with continue_from: the labels of the whole chain of runs
        **({"labels_seen_with_continued": cont.labels_before + int(result.get("labels_seen") or 0)} if cont else {}),
        "final_heldout": final,
        "best_heldout": ({**eval_cb.best, "adapter": str(out / "adapter_best")} if eval_cb.best else None),
        "device": backend.device,
        "gpu": torch.cuda.get_device_name(0) if on_cuda else None,
    }
    if rank == 0:
        (out / "summary.json").write_text(json.dumps(json_safe(summary), indent=2), encoding="utf-8")
    log_cb.close()
    metrics = {k: float(v) for k, v in final.items() if isinstance(v, (int, float))}
    return TrainResult(adapter_dir=out / "adapter", log_path=log_path, metrics=metrics)


def _session(summary: dict[str, Any]) -> dict[str, Any]:
    """One invocation's entry in ``sessions``, from its summary (``steps``, ``resumed_from``, ``seconds``)."""
    return {"steps": summary.get("steps"), "resumed_from": summary.get("resumed_from"), **summary["seconds"]}


def _sessions(summary_path: Path, resume: bool, this: dict[str, Any]) -> list[dict[str, Any]]:
    """The finished invocations of a run folder: those recorded in the previous ``summary.json`` (a resumed run
    only; a summary written before this record existed counts as one session) followed by ``this``."""
    previous: list[dict[str, Any]] = []
    if resume and summary_path.exists():
        try:
            old = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = {}
        previous = old.get("sessions") or ([_session(old)] if old.get("seconds") else [])
    return [*previous, this]


def _lora_config(cfg: RDConfig, model: Any = None):
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


def _train_exact(
    request: TrainRequest,
    cfg: RDConfig,
    backend: Any,
    answered_train: list,
    eval_cb: Any,
    log_cb: Any,
    out: Path,
    *,
    kind: str | None = None,
    cont: Any = None,
    first_epoch: int = 0,
) -> dict[str, Any]:
    """The exact estimator's loop (:mod:`trainers.rewarding_doubt.exact_loop`) on a fresh LoRA adapter, or on
    the adapter of the run ``cont`` continues (a resumed run then loads its own checkpoint over it).
    ``first_epoch``: the pass over the pool this run starts in (its batch shuffles are seeded by pass)."""
    from peft import get_peft_model

    from trainers.rewarding_doubt.data import confidence_rows
    from trainers.rewarding_doubt.exact_loop import ExactLoop

    if not answered_train:
        raise TrainerError("no training questions: raise train_size or check answers_file")
    model = get_peft_model(backend.model, _lora_config(cfg, backend.model))
    if cont:
        from trainers.rewarding_doubt.continuation import load_adapter_weights

        load_adapter_weights(model, cont, cfg.continue_with)
    tokenizer = backend.tokenizer
    rows = confidence_rows(answered_train, tokenizer, cfg.scale, kind)

    def evaluate(step: int, labels_seen: int):
        return eval_cb.record(model, tokenizer, step, labels_seen)

    loop = ExactLoop(
        model,
        tokenizer,
        [r["prompt"] for r in rows],
        [r["correct"] for r in rows],
        cfg,
        out,
        evaluate=evaluate,
        log=log_cb,
        first_epoch=first_epoch,
        model_sha256=backend.resolved.manifest().get("sha256"),
    )
    result = loop.train(resume=request.resume)
    model.save_pretrained(str(out / "adapter"))
    result.pop("final_heldout", None)
    return {**result, "max_steps": cfg.max_steps}


def _train_grpo(
    request: TrainRequest,
    cfg: RDConfig,
    backend: Any,
    answered_train: list,
    train_examples: list,
    spec: Any,
    judge: Any,
    eval_cb: Any,
    log_cb: Any,
    out: Path,
    *,
    world: int,
    on_cuda: bool,
) -> dict[str, Any]:
    """TRL's GRPOTrainer with the log-score reward (confidence_only or joint)."""
    import datasets
    from transformers.trainer_utils import get_last_checkpoint
    from trl import GRPOTrainer

    from trainers.rewarding_doubt.callbacks import TimeLimitCallback
    from trainers.rewarding_doubt.data import confidence_rows, joint_rows
    from trainers.rewarding_doubt.rewards import RewardSpec, make_confidence_reward

    model, tokenizer = backend.model, backend.tokenizer
    reward_spec = RewardSpec.from_config(cfg)
    if cfg.mode == "confidence_only":
        rows = confidence_rows(answered_train, tokenizer, cfg.scale, spec.kind)
        reward_fn = make_confidence_reward(reward_spec)
    else:
        check_joint_length(tokenizer, cfg.max_completion_length, cfg.scale)
        rows = joint_rows(train_examples, tokenizer, cfg.scale, spec.kind)
        reward_fn = _joint_reward(reward_spec, judge, cfg.scale)
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
        reward_funcs=[reward_fn],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=_lora_config(cfg, backend.model),
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
        max_steps=cfg.max_steps,
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
        save_steps=cfg.save_every or cfg.max_steps,
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


def _joint_reward(spec: Any, judge: Any, scale: str):
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
