"""The exact estimator: the expected log-score reward over the confidence levels of each fixed answer, from one
forward pass per labelled answer (:mod:`trainers.rewarding_doubt.exact_loop`), on a fresh LoRA adapter or the
adapter of the run it continues."""

from __future__ import annotations

from typing import Any

from calbench.training import TrainerError
from trainers.rewarding_doubt.estimators.base import EstimatorRun, lora_config


def train(run: EstimatorRun) -> dict[str, Any]:
    """The exact estimator's loop (:mod:`trainers.rewarding_doubt.exact_loop`) on a fresh LoRA adapter, or on
    the adapter of the run ``cont`` continues (a resumed run then loads its own checkpoint over it).
    ``first_epoch``: the pass over the pool this run starts in (its batch shuffles are seeded by pass)."""
    from peft import get_peft_model

    request, cfg, backend, answered_train = run.request, run.cfg, run.backend, run.answered_train
    eval_cb, log_cb, out, cont, first_epoch = run.eval_cb, run.log_cb, run.out, run.cont, run.first_epoch
    kind = run.spec.kind

    from trainers.rewarding_doubt.data import confidence_rows
    from trainers.rewarding_doubt.exact_loop import ExactLoop

    if not answered_train:
        raise TrainerError("no training questions: raise train_size or check answers_file")
    model = get_peft_model(backend.model, lora_config(cfg, backend.model))
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
