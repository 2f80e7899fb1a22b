"""OpenBookQA (main, 4 options; elementary science needing an extra fact), judged by letter.

Bundled: the 500-question ``test`` split. Options are shown in a fixed seeded order; ``meta`` keeps the
original order and answer. ``--source hub`` reads ``allenai/openbookqa`` (``main``); a question keeps its id
there, so it is shown with the same option order.
"""

from __future__ import annotations

from pathlib import Path

from calbench.records import DataError, Example
from calbench.tasks import TaskSpec
from tasks._answers import labelled_options, mc_example
from tasks._common import data_path, hub_rows, jsonl, require

HERE = Path(__file__).parent
NAME = "openbookqa"


def read_examples(path: Path, split: str = "test") -> list[Example]:
    out = []
    for line, row in jsonl(path):
        qid = require(row, "id", path, line)
        q = require(row, "question", path, line)
        key = require(row, "answerKey", path, line)
        if not isinstance(q, dict):
            raise DataError(f"{path}:{line}: field 'question' must be an object with 'stem' and 'choices'")
        stem = require(q, "stem", path, line)
        texts, correct = labelled_options(require(q, "choices", path, line), key, f"{path}:{line}")
        out.append(mc_example(NAME, f"obqa-{qid}", stem.strip(), texts, correct, split=split, domain="science"))
    return out


def load_bundled(split: str) -> list[Example]:
    return read_examples(data_path(HERE, "test.jsonl.xz"), split)


def load_hub(split: str) -> list[Example]:
    rows = hub_rows("allenai/openbookqa", "main", split)
    out = []
    for i, r in enumerate(rows):
        texts, correct = labelled_options(r["choices"], r["answerKey"], f"allenai/openbookqa[main][{split}][{i}]")
        out.append(
            mc_example(
                NAME, f"obqa-{r['id']}", r["question_stem"].strip(), texts, correct, split=split, domain="science"
            )
        )
    return out


TASK = TaskSpec(
    name=NAME,
    description="OpenBookQA (main), 4 options in a seeded order, judged by letter",
    kind="mc",
    splits=("test",),
    default_split="test",
    train_split=None,
    group="unseen",
    source="allenai/openbookqa main (Mihaylov et al. 2018); bundled copy via "
    "benedictflorance/truthfulqa_experiments @ 6fdfd382",
    license="Apache-2.0",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="allenai/openbookqa",
    folder=HERE,
)
