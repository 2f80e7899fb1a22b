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

from calbench.errors import DataError
from calbench.models import write_adapter_card
from calbench.records import iter_jsonl, json_safe
from calbench.training import Trainer, TrainerError, TrainRequest, TrainResult
from calbench.version import versions
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

    def export_checkpoint(self, run_out: Path, step: int, out: Path) -> Path:
        """An exact-trainer checkpoint (``checkpoints/step-N/state.pt``) as an adapter folder
        (:func:`trainers.rewarding_doubt.export.export`)."""
        from calbench.models import read_adapter_card, write_adapter_card
        from trainers.rewarding_doubt.export import export

        written = export(Path(run_out), step, Path(out))
        card = read_adapter_card(Path(run_out) / "adapter")
        if card:  # the final adapter's name, at this step
            record = {k: v for k, v in card.items() if k not in ("name", "description")}
            record["steps"] = step
            write_adapter_card(written, f"{card['name']} (step {step})", str(card.get("description") or ""), **record)
        return written


def _check_out_dir(out: Path, resume: bool) -> None:
    ckpts = out / "checkpoints"
    if not resume and ckpts.exists() and (any(ckpts.glob("checkpoint-*")) or any(ckpts.glob("step-*"))):
        raise TrainerError(
            f"{out} already holds checkpoints of a run; pass --resume to continue it or choose another --out"
        )


def _load_data(spec: Any, cfg: RDConfig, skip: int = 0) -> tuple[list, list]:
    """(held-out, training) examples: the held-out set from ``heldout_split`` or carved out of the pool; the
    training questions follow it in the pool's seeded order, after the first ``skip`` (``continue_from``)."""
    from calbench.tasks import read_id_file, select

    pool = spec.load(spec.train_split, source=cfg.source)
    excluded = set(read_id_file(cfg.exclude_ids)) if cfg.exclude_ids else set()
    if excluded:
        pool = [e for e in pool if e.id not in excluded]
    end = None if cfg.train_size is None else skip + cfg.train_size
    if cfg.heldout_split:
        held_pool = [e for e in spec.load(cfg.heldout_split, source=cfg.source) if e.id not in excluded]
        heldout = select(held_pool, cfg.heldout_size, cfg.seed)
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
    from calbench.tasks import get_task, read_id_file
    from trainers.rewarding_doubt import estimators
    from trainers.rewarding_doubt.callbacks import HeldOutCallback
    from trainers.rewarding_doubt.continuation import (
        check_continuation,
        check_continuation_model,
        load_continuation,
    )
    from trainers.rewarding_doubt.mix import MIX_TASK, MixedTask
    from trainers.rewarding_doubt.training_log import JsonlLogCallback

    t_start = time.time()
    out = Path(request.out_dir)
    _check_out_dir(out, request.resume)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)
    for w in cfg.warnings():
        print(f"[rewarding-doubt] WARNING: {w}", file=sys.stderr)

    # -- data: calbench's task, split and judge ---------------------------------------------------------------
    spec: Any
    if cfg.mix or request.task == MIX_TASK:
        if not (cfg.mix and request.task == MIX_TASK):
            raise TrainerError(f"a mixed pool is trained with --task {MIX_TASK} and the setting mix (both, or neither)")
        if cfg.mode != "confidence_only":
            raise TrainerError("a mixed pool trains in confidence_only mode")
        spec = MixedTask(cfg.mix, cfg.seed, set(read_id_file(cfg.exclude_ids)) if cfg.exclude_ids else set())
    else:
        spec = get_task(request.task)
    if not spec.train_split:
        raise TrainerError(
            f"task {spec.name!r} has no training split; train on a task that has one (e.g. triviaqa, sciq)"
        )
    cont = load_continuation(cfg.continue_from)
    skip, pass_index = cont.start(cfg.continue_with) if cont else (0, 0)
    heldout, train_examples = _load_data(spec, cfg, skip=skip)
    judge = (
        spec.judge(cfg.judge)
        if isinstance(spec, MixedTask)
        else judge_for(spec.kind, **{**(spec.judge_settings or {}), **cfg.judge})
    )
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
    answered, answers_record = _fixed_answers(cfg, spec, judge, backend, heldout, train_examples, out, rank, cont)
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
        **(
            {"mix_questions": {"train": spec.counts(train_examples), "heldout": spec.counts(heldout)}}
            if isinstance(spec, MixedTask)
            else {}
        ),
        "train_accuracy_of_fixed_answers": train_acc,
        "heldout_accuracy_of_fixed_answers": heldout_acc,
        "answers": answers_record,
        "judge": judge_record,
        "continued_from": cont.record(cfg.continue_with) if cont else None,
        "settings": cfg.to_dict(),
        "versions": versions(("accelerate", "datasets")),
        "world_size": world,
    }
    if rank == 0:
        (out / "config.yaml").write_text(yaml.safe_dump(json_safe(resolved), sort_keys=False), encoding="utf-8")

    evaluator = _evaluator(cfg, spec, judge, heldout, answered_heldout)
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
    result = estimators.train(
        estimators.EstimatorRun(
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
            cont=cont,
            first_epoch=pass_index,
        )
    )
    train_seconds = time.time() - t_train
    eval_cb.plot()
    if rank == 0:
        card = adapter_card(cfg, spec.name, request.model, estimator, result, cont)
        for folder in (out / "adapter", out / "adapter_best"):
            if folder.is_dir():
                write_adapter_card(folder, **card)

    final = eval_cb.last or {}
    seconds = {
        "data": round(data_seconds, 1),
        "train": round(train_seconds, 1),
        "total": round(time.time() - t_start, 1),
    }
    summary = _summary(out, request.resume, estimator, result, seconds, eval_cb, cont, backend.device, on_cuda)
    if rank == 0:
        (out / "summary.json").write_text(json.dumps(json_safe(summary), indent=2), encoding="utf-8")
    log_cb.close()
    metrics = {k: float(v) for k, v in final.items() if isinstance(v, (int, float))}
    return TrainResult(adapter_dir=out / "adapter", log_path=log_path, metrics=metrics)


def _fixed_answers(
    cfg: RDConfig,
    spec: Any,
    judge: Any,
    backend: Any,
    heldout: list,
    train_examples: list,
    out: Path,
    rank: int,
    cont: Any,
) -> tuple[list, dict[str, Any] | None]:
    """The held-out and training questions with their fixed stage-1 answers, and the record of where the answers
    came from (a file, or the untrained model's greedy answers, cached). In joint mode nothing is answered."""
    from trainers.rewarding_doubt.continuation import seed_answer_cache
    from trainers.rewarding_doubt.data import answer_examples, fixed_answer_examples, shared_answers_path
    from trainers.rewarding_doubt.mix import example_kind

    # confidence_only: the held-out and training questions get fixed answers; joint: none (the held-out
    # evaluation answers in the one-stage format it trains)
    to_answer = list(heldout) + list(train_examples) if cfg.mode == "confidence_only" else []
    answers_record: dict[str, Any] | None
    if cfg.answers_file:
        answered, answers_record = fixed_answer_examples(to_answer, cfg.answers_file, judge, kind=spec.kind)
    else:
        if cont and rank == 0:
            seed_answer_cache(cont, out / "answers.jsonl")
        # a mixed pool (kind None) is answered one kind at a time, each with its own budget and shared cache
        kinds = [spec.kind] if spec.kind else sorted({example_kind(e) for e in to_answer})
        by_id: dict[str, Any] = {}
        for kind in kinds:
            group = to_answer if spec.kind else [e for e in to_answer if example_kind(e) == kind]
            shared = (
                shared_answers_path(backend, kind=kind, max_new_tokens=cfg.answer_max_new_tokens)
                if cfg.shared_answer_cache and rank == 0
                else None
            )
            for a in answer_examples(
                group,
                backend,
                judge,
                kind=kind,
                max_new_tokens=cfg.answer_max_new_tokens,
                cache=out / ("answers.jsonl" if rank == 0 else f"answers.rank{rank}.jsonl"),
                seed=cfg.seed,
                progress=rank == 0,
                shared=shared,
            ):
                by_id[a.example.id] = a
        answered = [by_id[e.id] for e in to_answer]
        answers_record = (
            {"generated": "greedy stage-1 answers of the untrained model", "file": "answers.jsonl"}
            if to_answer
            else None
        )
    return answered, answers_record


def _evaluator(cfg: RDConfig, spec: Any, judge: Any, heldout: list, answered_heldout: list) -> Any:
    """The held-out evaluation: the confidence of fixed answers, or in joint mode the one-stage replies."""
    from trainers.rewarding_doubt.evaluation import HeldOutEvaluator, OneStageEvaluator

    evaluator: HeldOutEvaluator | OneStageEvaluator
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
    return evaluator


def _summary(
    out: Path,
    resume: bool,
    estimator: str,
    result: dict[str, Any],
    seconds: dict[str, float],
    eval_cb: Any,
    cont: Any,
    device: str,
    on_cuda: bool,
) -> dict[str, Any]:
    """summary.json: the estimator's result, the held-out evaluations, the cost of every session of the run."""
    import torch

    sessions = _sessions(out / "summary.json", resume, _session({**result, "seconds": seconds}))
    summary = {
        "adapter": str(out / "adapter"),
        "estimator": estimator,
        **result,
        "seconds": seconds,
        # every invocation of this run folder that finished (a resumed run adds one): the run's whole cost
        "sessions": sessions,
        "train_seconds_all_sessions": round(sum(x.get("train") or 0.0 for x in sessions), 1),
        # ... and every invocation the training log shows, the interrupted ones included
        **_logged_invocations(out / "train_log.jsonl"),
        # with continue_from: the labels of the whole chain of runs
        **({"labels_seen_with_continued": cont.labels_before + int(result.get("labels_seen") or 0)} if cont else {}),
        "final_heldout": eval_cb.last or {},
        "best_heldout": ({**eval_cb.best, "adapter": str(out / "adapter_best")} if eval_cb.best else None),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if on_cuda else None,
    }
    return summary


def adapter_card(
    cfg: RDConfig, task: str, model: str, estimator: str, result: dict[str, Any], cont: Any = None
) -> dict[str, Any]:
    """The adapter's human name and one-line description (``adapter_name`` / ``adapter_description``, else made
    from the task and the settings), with what it was trained on."""
    kl = (
        f"KL to {'uniform' if cfg.kl_reference == 'uniform' else 'the model'} (beta {cfg.beta:g})"
        if cfg.beta
        else "no KL"
    )
    labels = result.get("labels_seen")
    total = (cont.labels_before + int(labels or 0)) if cont else labels
    name = cfg.adapter_name or f"RD {task} ({estimator}, {cfg.reward} score, {kl})"
    description = cfg.adapter_description or (
        f"Rewarding Doubt on {task}: {cfg.mode.replace('_', '-')} mode, {estimator} estimator, {cfg.reward} score, "
        f"{kl}, LoRA r{cfg.lora_r}{f' on the top {cfg.lora_top_layers} layers' if cfg.lora_top_layers else ''}, "
        f"{total} labelled answers" + (" (continuing an earlier run)" if cont else "")
    )
    return {
        "name": name,
        "description": description,
        "trainer": RewardingDoubtTrainer.name,
        "model": model,
        "task": task,
        "labels_seen": total,
        "steps": result.get("steps"),
    }


def _logged_invocations(log_path: Path) -> dict[str, Any]:
    """Every invocation of a run folder as its training log shows it, the interrupted ones included (a session
    killed before it finished writes no summary, so ``sessions`` misses it): the log's wall-clock ``time`` restarts
    at each invocation (each record names its invocation's start, ``started``; an older log without it is split
    where the time goes back). Each entry: the first and last step it logged and its last logged time (a lower
    bound: what an interrupted invocation did after its last checkpoint is dropped from the log when the run
    resumes)."""
    segments: list[dict[str, Any]] = []
    last_time = last_start = None
    try:
        records = [rec for _, rec in iter_jsonl(log_path, tolerate_truncated_tail=True)]
    except (DataError, OSError):
        return {}  # an unreadable log: no invocation list rather than a partial one
    for rec in records:
        if rec.get("kind") != "train" or not isinstance(rec.get("time"), (int, float)):
            continue
        start = rec.get("started")
        if last_time is None or (start != last_start if start is not None else rec["time"] < last_time):
            segments.append({"first_step": rec["step"], "last_step": rec["step"], "seconds": rec["time"]})
        segments[-1].update(last_step=rec["step"], seconds=round(rec["time"], 1))
        last_time, last_start = rec["time"], start
    if not segments:
        return {}
    return {
        "logged_invocations": segments,
        "logged_seconds_all_invocations": round(sum(x["seconds"] for x in segments), 1),
    }


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
