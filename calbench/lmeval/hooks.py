"""The functions lm-evaluation-harness calls for calbench's task pack (the YAMLs name them with
``!function calbench.lmeval.hooks.<name>``; lm-eval 0.4.13 imports them from the installed package).

The pack asks for the one-stage verbalized format (``Answer: <a>, Confidence: <c>``, the Rewarding Doubt
format): lm-eval's ``generate_until`` makes one request per question, so the two-stage format cannot be
expressed. Everything here delegates to calbench's single definitions:

* docs come from the task adapters (:func:`load_docs`, lm-eval's ``custom_dataset``), in calbench's seeded
  order, so ``--limit N`` in lm-eval selects the same questions as ``calbench eval --limit N --seed 0``;
* the prompt is :func:`calbench.elicit.one_stage_prompt` (:func:`doc_to_text` plus ``gen_prefix``);
* a reply is parsed by :func:`calbench.parse.read_one_stage` and judged by :func:`calbench.judge.judge_for`
  exactly as calbench's ``verbalized`` method does (:func:`score_reply`);
* each metric is aggregated over the whole corpus by :mod:`calbench.metrics` from per-sample
  ``(confidence, correct, parse_ok)`` items, under the parse-failure policy :data:`POLICY`.

lm-eval looks up a metric's aggregation by the key :func:`process_results` returns and silently falls back to
``mean`` for a key it does not know (its issue 3314); so every key of :data:`METRICS` is both a returned key
and a ``metric:`` name in the YAML, and the aggregation functions below carry the same names.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Sequence

from calbench.elicit import ANSWER_PREFIX, one_stage_prompt
from calbench.metrics import DEFAULT_BINS, DEFAULT_EPS, apply_policy, higher_is_better, metric_table, score
from calbench.parse import read_one_stage
from calbench.records import DataError, Example

#: The aggregated metrics, in report order: the catalogue's ``lmeval`` table (calbench.metrics.catalogue); each
#: has an aggregation function of its name below.
METRICS = metric_table("lmeval")
#: Which direction is better, for lm-eval's ``higher_is_better``.
HIGHER_IS_BETTER = {m: higher_is_better(m) for m in METRICS}
#: Fixed settings of the pack; written into every YAML's ``metadata`` and into imported run manifests.
SCALE = "0-10"
POLICY = "exclude"
BINS = DEFAULT_BINS
EPS = DEFAULT_EPS
SEED = 0
METHOD = "verbalized"  # calbench's name for the one-stage method

#: Fields of a doc row (a plain, arrow-friendly form of :class:`~calbench.records.Example`).
DOC_FIELDS = ("id", "task", "question", "answers", "choices", "domain", "split")


# -- docs ---------------------------------------------------------------------------------------------------
def doc_from_example(example: Example) -> dict[str, Any]:
    """A plain row for lm-eval: the example's fields, options already in calbench's seeded order."""
    return {
        "id": example.id,
        "task": example.task,
        "question": example.question,
        "answers": list(example.answers),
        "choices": list(example.choices) if example.choices else None,
        "domain": example.domain,
        "split": example.split,
    }


def example_from_doc(doc: dict[str, Any]) -> Example:
    missing = [k for k in ("id", "task", "question", "answers") if k not in doc]
    if missing:
        raise DataError(
            f"lm-eval doc lacks field(s) {missing}; it is not a calbench task-pack doc (fields present: {sorted(doc)})"
        )
    return Example(
        id=str(doc["id"]),
        task=str(doc["task"]),
        question=str(doc["question"]),
        answers=[str(a) for a in doc["answers"]],
        choices=list(doc["choices"]) if doc.get("choices") else None,
        domain=doc.get("domain"),
        split=doc.get("split"),
    )


def load_docs(calbench_task: str, calbench_source: str = "bundled", calbench_seed: int = SEED, **_: Any):
    """lm-eval's ``custom_dataset``: the task's split as a ``datasets.DatasetDict`` of plain rows.

    Called with the YAML's ``dataset_kwargs`` and lm-eval's ``--metadata`` (JSON), so
    ``--metadata '{"calbench_source": "hub"}'`` reads the full dataset from the Hugging Face hub through the adapter
    (network needed); the default is the data bundled in the task folder (offline). The split is the task's
    evaluation split; rows are in the order of :func:`calbench.tasks.select` with ``calbench_seed``. Other
    keyword arguments (lm-eval also passes the model arguments as metadata) are ignored.
    """
    import datasets

    from calbench.tasks import get_task, select

    spec = get_task(calbench_task)
    split = spec.default_split
    examples = select(spec.load(split, source=calbench_source), None, int(calbench_seed))
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "task": datasets.Value("string"),
            "question": datasets.Value("string"),
            "answers": datasets.Sequence(datasets.Value("string")),
            "choices": datasets.Sequence(datasets.Value("string")),
            "domain": datasets.Value("string"),
            "split": datasets.Value("string"),
        }
    )
    rows = [doc_from_example(e) for e in examples]
    return datasets.DatasetDict({split: datasets.Dataset.from_list(rows, features=features)})


def _kind(doc: dict[str, Any]) -> str:
    from calbench.tasks import get_task

    return get_task(str(doc["task"])).kind


def doc_to_text(doc: dict[str, Any]) -> str:
    """The user message of :func:`calbench.elicit.one_stage_prompt` (the YAML's ``gen_prefix`` is the
    assistant prefix ``Answer:``)."""
    prompt = one_stage_prompt(example_from_doc(doc), SCALE, _kind(doc))
    if len(prompt.messages) != 1 or prompt.assistant_prefix != ANSWER_PREFIX:
        raise RuntimeError(
            "the one-stage prompt is no longer one user message + 'Answer:'; regenerate the "
            "lm-eval pack (python -m calbench.lmeval.pack --write) and update calbench.lmeval"
        )
    return prompt.messages[0]["content"]


def doc_to_target(doc: dict[str, Any]) -> str:
    """The first accepted answer (the letter for multiple choice); lm-eval logs it as ``target``."""
    return str(doc["answers"][0])


# -- per-sample scoring ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoredReply:
    """A reply parsed and judged as calbench's ``verbalized`` method does."""

    answer: str
    confidence: float | None
    parse_ok: bool
    parse_reason: str | None
    parse_form: str | None
    correct: int
    judge: str
    judge_settings: dict

    def item(self) -> tuple[float | None, int, bool]:
        """What lm-eval stores per sample and hands to the aggregations."""
        return (self.confidence, self.correct, self.parse_ok)


def score_reply(doc: dict[str, Any], reply: str) -> ScoredReply:
    """Parse and judge one generated ``reply`` (the text after the ``Answer:`` prefix) for ``doc``.

    The same steps as :class:`calbench.methods.verbalized.OneStage`: :func:`~calbench.parse.read_one_stage`
    (for numeric tasks the answer is the reply up to "Confidence"); judged by the task kind's default judge.
    """
    from calbench.judge import judge_for

    kind = _kind(doc)
    reply = reply or ""
    answer, conf = read_one_stage(reply, kind, SCALE, prefix=ANSWER_PREFIX)
    judge = judge_for(kind)
    correct = int(bool(judge(answer, example_from_doc(doc))))
    return ScoredReply(
        answer=answer,
        confidence=conf.value,
        parse_ok=conf.ok,
        parse_reason=conf.reason,
        parse_form=conf.form,
        correct=correct,
        judge=judge.name,
        judge_settings=judge.settings,
    )


def process_results(doc: dict[str, Any], results: Sequence[str]) -> dict[str, tuple]:
    """Per-sample values: the same ``(confidence, correct, parse_ok)`` item under every metric name."""
    item = score_reply(doc, results[0] if results else "").item()
    return {name: item for name in METRICS}


# -- corpus-level aggregations (names = metric names) --------------------------------------------------------
def _records(items: Sequence[Sequence]) -> list[dict]:
    out = []
    for i, it in enumerate(items):
        if len(it) != 3:
            raise ValueError(f"lm-eval item {i} is {it!r}; expected (confidence, correct, parse_ok)")
        conf, correct, ok = it
        out.append({"id": i, "confidence": conf, "correct": correct, "parse_ok": bool(ok)})
    return out


def aggregate(items: Sequence[Sequence]) -> dict[str, float]:
    """Every metric of :data:`METRICS` over the items, under :data:`POLICY` (NaN when undefined, e.g. no
    parsed reply, or AUROC with one class).

    lm-eval calls each of the six aggregations below with the same items; the metrics are computed once for
    them (cached on the items' values)."""
    records = _records(items)
    key = tuple((r["confidence"], r["correct"], r["parse_ok"]) for r in records)
    return dict(_aggregate(key))


@functools.lru_cache(maxsize=4)
def _aggregate(key: tuple[tuple, ...]) -> dict[str, float]:
    records = [{"id": i, "confidence": c, "correct": y, "parse_ok": ok} for i, (c, y, ok) in enumerate(key)]
    conf, corr, info = apply_policy(records, POLICY)
    out = {name: math.nan for name in METRICS}
    out["parse_rate"] = float(info["parse_rate"])
    if conf.size:
        values = score(conf, corr, bins=BINS, eps=EPS)
        for name in METRICS:
            if name != "parse_rate":
                out[name] = float(values[name])
    return out


def accuracy(items: Sequence[Sequence]) -> float:
    """Fraction correct among the samples kept by the policy."""
    return aggregate(items)["accuracy"]


def parse_rate(items: Sequence[Sequence]) -> float:
    """Fraction of replies whose confidence parsed (over all samples)."""
    return aggregate(items)["parse_rate"]


def ece(items: Sequence[Sequence]) -> float:
    """Expected calibration error, equal-width bins (:data:`BINS`)."""
    return aggregate(items)["ece"]


def brier(items: Sequence[Sequence]) -> float:
    """Mean (p - y)^2."""
    return aggregate(items)["brier"]


def log_score(items: Sequence[Sequence]) -> float:
    """Mean log-likelihood of the outcome, p clipped to [eps, 1 - eps] (:data:`EPS`)."""
    return aggregate(items)["log_score"]


def auroc(items: Sequence[Sequence]) -> float:
    """AUROC of confidence for separating correct from wrong answers."""
    return aggregate(items)["auroc"]
