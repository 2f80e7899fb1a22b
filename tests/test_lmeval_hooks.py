"""The lm-eval bridge's functions: the same prompt, parse and judge as calbench's `verbalized` method, and
corpus-level aggregations equal to independent computations (and to what lm-eval's own aggregation step
produces with the real task objects, so no metric silently falls back to `mean`)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from calbench.backends.scripted import ScriptedBackend
from calbench.elicit import one_stage_prompt
from calbench.judge import judge_for
from calbench.lmeval import hooks
from calbench.methods import MethodContext, get_method
from calbench.tasks import get_task, select

REPLIES = [
    " B, Confidence: 7",
    " A, Confidence: 10",
    " Paris, Confidence: 3",
    " I am not sure.",
    "",
    " C\nConfidence: 80%",
    " 42, Confidence: 0.9",
    " The answer is D, confidence 6/10",
    " D, Confidence: 12",
    " Final answer: 18, Confidence: 5",
    " **A**, **Confidence:** 4",
    " London",
    " E, Confidence: nine",
]


@pytest.mark.parametrize("task", ["triviaqa", "mmlu", "gsm8k", "truthfulqa_mc", "nq_open"])
def test_score_reply_equals_calbench_verbalized_method(task):
    spec = get_task(task)
    examples = select(spec.load(), 6, seed=3)
    judge = judge_for(spec.kind)
    for reply in REPLIES:
        backend = ScriptedBackend(default=reply)
        ctx = MethodContext(
            backend=backend, model_name="m", task_name=task, kind=spec.kind, judge=judge, judge_name=judge.name
        )
        samples = get_method("verbalized").run(ctx, examples)
        for e, s in zip(examples, samples):
            doc = hooks.doc_from_example(e)
            got = hooks.score_reply(doc, s.raw_output)
            assert (got.answer, got.confidence, got.parse_ok, got.correct) == (
                s.answer,
                s.confidence,
                s.parse_ok,
                s.correct,
            ), (task, reply)
            assert got.parse_reason == s.extras["parse_reason"]
            # the user message lm-eval sends is calbench's one-stage prompt
            assert hooks.doc_to_text(doc) == backend.calls[examples.index(e)].messages[0]["content"]
            assert hooks.doc_to_text(doc) == one_stage_prompt(e, "0-10", spec.kind).messages[0]["content"]


def test_score_reply_judges_correct_letter_and_alias():
    mmlu = select(get_task("mmlu").load(), 1, seed=0)[0]
    doc = hooks.doc_from_example(mmlu)
    right = hooks.score_reply(doc, f" {mmlu.answers[0]}, Confidence: 9")
    wrong_letter = next(x for x in "ABCD" if x != mmlu.answers[0])
    wrong = hooks.score_reply(doc, f" {wrong_letter}, Confidence: 9")
    assert (right.correct, right.confidence, right.parse_ok) == (1, 0.9, True)
    assert (wrong.correct, wrong.parse_ok) == (0, True)
    tqa = select(get_task("triviaqa").load(), 1, seed=0)[0]
    r = hooks.score_reply(hooks.doc_from_example(tqa), f" {tqa.answers[-1]}, Confidence: 2")
    assert (r.correct, r.confidence) == (1, 0.2)
    assert hooks.score_reply(hooks.doc_from_example(tqa), " no idea").parse_ok is False


def _hand_ece(conf, corr, bins=10):
    conf, corr = np.asarray(conf, float), np.asarray(corr, float)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(corr[m].mean() - conf[m].mean())
    return total / conf.size


def random_items(n, seed, p_unparsed=0.2):
    rng = random.Random(seed)
    items = []
    for _ in range(n):
        if rng.random() < p_unparsed:
            items.append((None, rng.randint(0, 1), False))
        else:
            c = rng.randint(0, 10) / 10
            items.append((c, int(rng.random() < 0.2 + 0.6 * c), True))
    return items


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_aggregations_equal_independent_references(seed):
    items = random_items(300, seed)
    kept = [(c, y) for c, y, ok in items if ok]
    conf = np.array([c for c, _ in kept])
    corr = np.array([y for _, y in kept])
    eps = hooks.EPS
    clipped = np.clip(conf, eps, 1 - eps)
    expected = {
        "accuracy": corr.mean(),
        "parse_rate": len(kept) / len(items),
        "ece": _hand_ece(conf, corr),
        "brier": np.mean((conf - corr) ** 2),
        "log_score": np.mean(corr * np.log(clipped) + (1 - corr) * np.log(1 - clipped)),
        "auroc": roc_auc_score(corr, conf),
    }
    for name in hooks.METRICS:
        assert getattr(hooks, name)(items) == pytest.approx(expected[name], abs=1e-12), name


def test_aggregations_with_nothing_parsed_or_one_class():
    none_parsed = [(None, 0, False)] * 5
    assert hooks.parse_rate(none_parsed) == 0.0
    assert all(math.isnan(getattr(hooks, m)(none_parsed)) for m in hooks.METRICS if m != "parse_rate")
    all_right = [(0.9, 1, True), (0.5, 1, True)]
    assert math.isnan(hooks.auroc(all_right))
    assert hooks.ece(all_right) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="expected"):
        hooks.ece([(0.5, 1)])


@pytest.fixture(scope="module")
def lmeval_tasks():
    from lm_eval.tasks import TaskManager

    from calbench.lmeval.pack import include_path

    tm = TaskManager(include_path=str(include_path()), include_defaults=False)
    return tm, tm.load(["calbench_mmlu"])


def test_lmeval_aggregation_step_uses_calbench_functions(lmeval_tasks):
    """Through lm-eval's own aggregation code with the task built from the YAML: every key returned by
    process_results has our aggregation (not lm-eval's `mean` fallback, issue 3314), and the aggregated
    ECE equals calbench's over the same samples."""
    from lm_eval.evaluator_utils import _compute_task_aggregations

    _, loaded = lmeval_tasks
    task = loaded["tasks"]["calbench_mmlu"]
    docs = list(task.test_docs())[:200]
    rng = random.Random(5)
    raw: dict = {}
    items = []
    for doc in docs:
        letter = doc["answers"][0] if rng.random() < 0.5 else rng.choice("ABCD")
        reply = f" {letter}, Confidence: {rng.randint(0, 10)}" if rng.random() < 0.9 else " pass"
        per = task.process_results(doc, [reply])
        assert set(per) == set(hooks.METRICS)
        assert set(per) <= set(task.aggregation())
        for k, v in per.items():
            raw.setdefault((k, "none"), []).append(v)
        items.append(per["ece"])
    for name in hooks.METRICS:
        assert task.aggregation()[name] is getattr(hooks, name)
    agg, n = _compute_task_aggregations(task, raw, bootstrap_iters=0)
    assert n == len(docs)
    kept = [(c, y) for c, y, ok in items if ok]
    assert 0 < len(kept) < len(items)
    assert agg["ece,none"] == pytest.approx(_hand_ece(*zip(*kept)), abs=1e-12)
    assert agg["ece,none"] != pytest.approx(np.mean([y for _, y, _ in items]))
    for name in hooks.METRICS:
        assert agg[f"{name},none"] == pytest.approx(hooks.aggregate(items)[name], abs=1e-12)
