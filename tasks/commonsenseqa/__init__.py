"""CommonsenseQA 1.11 (5 options), multiple choice, judged by letter.

Bundled: the original random-split files, ``validation`` = ``dev_rand_split`` (1,221) and ``train`` =
``train_rand_split`` (9,741). (The official test split has no answers.) Options are shown in a fixed seeded
order; ``meta`` keeps the original order, answer and the question concept. ``--source hub`` reads
``tau/commonsense_qa``; a question keeps its id there, so it is shown with the same option order.
"""

from __future__ import annotations

from pathlib import Path

from calbench.records import DataError, Example
from calbench.tasks import TaskSpec
from tasks._answers import labelled_options, mc_example
from tasks._common import data_path, hub_rows, jsonl, require

HERE = Path(__file__).parent
NAME = "commonsenseqa"
FILES = {"validation": "dev_rand_split.jsonl.xz", "train": "train_rand_split.jsonl.xz"}


def read_examples(path: Path, split: str) -> list[Example]:
    out = []
    for line, row in jsonl(path):
        qid = require(row, "id", path, line)
        q = require(row, "question", path, line)
        key = require(row, "answerKey", path, line)
        if not isinstance(q, dict):
            raise DataError(f"{path}:{line}: field 'question' must be an object with 'stem' and 'choices'")
        stem = require(q, "stem", path, line)
        texts, correct = labelled_options(require(q, "choices", path, line), key, f"{path}:{line}")
        out.append(
            mc_example(
                NAME,
                f"csqa-{qid}",
                stem.strip(),
                texts,
                correct,
                split=split,
                domain="commonsense",
                meta={"concept": q.get("question_concept")},
            )
        )
    return out


def load_bundled(split: str) -> list[Example]:
    return read_examples(data_path(HERE, FILES[split]), split)


def load_hub(split: str) -> list[Example]:
    rows = hub_rows("tau/commonsense_qa", None, split)
    out = []
    for i, r in enumerate(rows):
        texts, correct = labelled_options(r["choices"], r["answerKey"], f"tau/commonsense_qa[{split}][{i}]")
        out.append(
            mc_example(
                NAME,
                f"csqa-{r['id']}",
                r["question"].strip(),
                texts,
                correct,
                split=split,
                domain="commonsense",
                meta={"concept": r.get("question_concept")},
            )
        )
    return out


TASK = TaskSpec(
    name=NAME,
    description="CommonsenseQA, 5 options in a seeded order, judged by letter",
    kind="mc",
    splits=("validation", "train"),
    default_split="validation",
    train_split="train",
    group="unseen",
    source="tau/commonsense_qa (Talmor et al. 2019), v1.11 random split; bundled copy via "
    "kojima-takeshi188/zero_shot_cot @ 5ef330fc",
    license="MIT",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="tau/commonsense_qa",
    folder=HERE,
)
