"""``continue_from`` bookkeeping without a model: which folders are accepted, what is refused and why, and the
training curve of a chain of runs (labels counted over the chain, each continuation's repeated step-0 evaluation
left out). The end-to-end continuation (adapter loaded, questions skipped) is in test_trainer_smoke.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from calbench.training import TrainerError
from trainers.rewarding_doubt.config import RDConfig
from trainers.rewarding_doubt.continuation import (
    check_continuation,
    check_continuation_model,
    load_continuation,
)
from trainers.rewarding_doubt.exact_loop import batch_plan
from trainers.rewarding_doubt.training_log import chain_curve_rows

SETTINGS = RDConfig(estimator="exact").to_dict()
JUDGE = {"name": "alias_match", "containment": True}
MODEL = {"id": "m", "sha256": "a" * 64}


def fake_run(
    folder: Path,
    *,
    train_questions: int,
    labels: int,
    heldout_labels: list[int],
    continued_from: Path | None = None,
    skipped: int = 0,
    labels_before: int = 0,
    pass_index: int = 0,
) -> Path:
    """A finished run folder as the trainer writes it: config.yaml, summary.json, train_log.jsonl, adapter/."""
    (folder / "adapter").mkdir(parents=True)
    (folder / "adapter" / "adapter_model.safetensors").write_bytes(b"weights")
    cfg = {
        "task": "triviaqa",
        "train_questions": train_questions,
        "settings": SETTINGS,
        "model": MODEL,
        "judge": JUDGE,
        "continued_from": None
        if continued_from is None
        else {
            "run": str(continued_from),
            "skipped_train_questions": skipped,
            "labels_seen_before": labels_before,
            "pass": pass_index,
        },
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    summary = {
        "labels_seen": labels,
        **({"labels_seen_with_continued": labels_before + labels} if continued_from else {}),
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    records = [
        {"step": i, "kind": "heldout", "labels_seen": n, "greedy/auroc": 0.5} for i, n in enumerate(heldout_labels)
    ]
    records.insert(1, {"step": 1, "kind": "train", "labels_seen": 4})
    (folder / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_a_chain_of_runs_skips_every_question_trained_on_and_plots_over_the_chain(tmp_path):
    a = fake_run(tmp_path / "a", train_questions=16, labels=16, heldout_labels=[0, 8, 16])
    b = fake_run(
        tmp_path / "b",
        train_questions=24,
        labels=24,
        heldout_labels=[0, 12, 24],
        continued_from=a,
        skipped=16,
        labels_before=16,
    )
    cont = load_continuation(b)
    assert cont.skip == 16 + 24 and cont.labels_before == 40
    assert load_continuation(a).skip == 16 and load_continuation(a).labels_before == 16
    own = [{"step": 0, "kind": "heldout", "labels_seen": 0}, {"step": 1, "kind": "heldout", "labels_seen": 8}]
    rows, starts = chain_curve_rows(cont, own)
    # a: 0, 8, 16; b (its step 0 = a's last left out): 16+12, 16+24; this run: 40+8
    assert [r["labels_seen"] for r in rows] == [0, 8, 16, 28, 40, 48]
    assert starts == [16, 40]
    assert chain_curve_rows(None, own) == (own, [])


def test_a_new_pass_starts_the_pool_again_and_the_chain_counts_passes(tmp_path):
    """``continue_with: new_pass`` skips nothing and starts the next pass; a continuation of that run goes on in
    the new pass, after the questions it trained on (not after the first pass's)."""
    a = fake_run(tmp_path / "a", train_questions=16, labels=16, heldout_labels=[0, 16])
    b = fake_run(
        tmp_path / "b",
        train_questions=24,
        labels=24,
        heldout_labels=[0, 24],
        continued_from=a,
        skipped=16,
        labels_before=16,
    )  # the rest of pass 1: the pool has 40 questions
    assert load_continuation(b).start("rest") == (40, 0)  # nothing left in pass 1 (the trainer then refuses)
    assert load_continuation(b).start("new_pass") == (0, 1)
    c = fake_run(
        tmp_path / "c",
        train_questions=10,
        labels=10,
        heldout_labels=[0, 10],
        continued_from=b,
        skipped=0,
        labels_before=40,
        pass_index=1,
    )
    cont = load_continuation(c)
    assert cont.pass_index == 1 and cont.labels_before == 50
    assert cont.start("rest") == (10, 1) and cont.start("new_pass") == (0, 2)
    record = cont.record("new_pass")
    assert (record["pass"], record["skipped_train_questions"], record["continue_with"]) == (2, 0, "new_pass")
    rows, starts = chain_curve_rows(cont, [{"step": 0, "kind": "heldout", "labels_seen": 0}])
    assert [r["labels_seen"] for r in rows] == [0, 16, 40, 50] and starts == [16, 40, 50]
    with pytest.raises(ValueError, match="continue_with must be one of"):
        RDConfig(estimator="exact", continue_with="again")


def test_a_pass_index_gives_the_batch_order_of_that_epoch():
    """The batch shuffle of pass k is the same whether it is the k-th epoch of one run or the first of a
    continuation that starts pass k (``first_epoch``); every example once per pass."""
    lengths = [(7 * i) % 24 for i in range(24)]  # 12 batches of 2
    two = batch_plan(lengths, 2, epochs=2, seed=0)
    second = batch_plan(lengths, 2, epochs=1, seed=0, first_epoch=1)
    assert two[12:] == second and two[:12] != second
    assert sorted(i for b in second for i in b) == list(range(24))


def test_a_continuation_that_is_another_experiment_is_refused_naming_the_field(tmp_path):
    cont = load_continuation(fake_run(tmp_path / "a", train_questions=8, labels=8, heldout_labels=[0, 8]))
    ok = dict(task="triviaqa", settings=SETTINGS, judge=JUDGE)
    check_continuation(cont, **ok)  # the same experiment (checked before the model is loaded)
    check_continuation_model(cont, MODEL)  # and the same model, once it has loaded
    with pytest.raises(TrainerError, match="sha256"):
        check_continuation_model(cont, {**MODEL, "sha256": "b" * 64})
    with pytest.raises(TrainerError, match="seed"):
        check_continuation(cont, task="triviaqa", settings={**SETTINGS, "seed": 1}, judge=JUDGE)
    for change, field in (
        (dict(task="sciq"), "task"),
        (dict(settings={**SETTINGS, "heldout_size": 50}), "heldout_size"),
        (dict(settings={**SETTINGS, "lora_r": 16}), "lora_r"),
        (dict(judge={**JUDGE, "containment": False}), "judge"),
    ):
        with pytest.raises(TrainerError, match=field):
            check_continuation(cont, **{**ok, **change})


def test_a_folder_that_is_not_a_finished_run_is_refused(tmp_path):
    assert load_continuation(None) is None
    run = fake_run(tmp_path / "a", train_questions=8, labels=8, heldout_labels=[0, 8])
    (run / "adapter" / "adapter_model.safetensors").unlink()
    with pytest.raises(TrainerError, match="adapter_model.safetensors not found"):
        load_continuation(run)
    with pytest.raises(TrainerError, match="continue_from needs estimator exact"):
        RDConfig(estimator="grpo", continue_from=str(run))


def test_exclude_ids_keeps_questions_out_of_the_pool_and_the_held_out_set(tmp_path):
    """exclude_ids (a confirmation study's test questions carved out of the training split): none of them is
    trained on or held out, with a held-out split and without; a continuation must keep the same file."""
    from calbench.tasks import get_task
    from trainers.rewarding_doubt.continuation import SHARED_SETTINGS
    from trainers.rewarding_doubt.plugin import _load_data

    spec = get_task("sciq")
    plain_held, plain_train = _load_data(spec, RDConfig(estimator="exact", train_size=300, heldout_size=50))
    excluded = [e.id for e in plain_held[:20]] + [e.id for e in plain_train[:100]]
    ids = tmp_path / "ex.txt"
    ids.write_text("# carved out\n" + "\n".join(excluded) + "\n")
    for extra in ({}, {"heldout_split": "validation"}):
        cfg = RDConfig(estimator="exact", train_size=300, heldout_size=50, exclude_ids=str(ids), **extra)
        held, train = _load_data(spec, cfg)
        assert len(train) == 300 and len(held) == 50
        assert not {e.id for e in held + train} & set(excluded)
    assert "exclude_ids" in SHARED_SETTINGS
