"""ARC-Challenge (AI2 Reasoning Challenge, grade-school science; 3-5 options), judged by letter.

Bundled: the full ``test`` split (1,172) and a 1,056-question subset of ``train`` (of 1,119). Option labels
in the source are letters or digits; either way the options are re-lettered A.. in a fixed seeded order and
``meta`` keeps the original order and answer. ``--source hub`` reads ``allenai/ai2_arc`` (``ARC-Challenge``);
a question keeps its id there, so it is shown with the same option order.
"""

from __future__ import annotations

from pathlib import Path

from calbench.records import DataError, Example
from calbench.tasks import TaskSpec
from tasks._answers import labelled_options, mc_example
from tasks._common import data_path, hub_rows, jsonl, require

HERE = Path(__file__).parent
NAME = "arc_challenge"


def _example(row: dict, split: str, where: str) -> Example:
    texts, correct = labelled_options(row["choices"], row["answerKey"], where)
    return mc_example(
        NAME, f"arc-{row['id']}", str(row["question"]).strip(), texts, correct, split=split, domain="science"
    )


def read_examples(path: Path, split: str) -> list[Example]:
    out = []
    for line, row in jsonl(path):
        for key in ("id", "question", "choices", "answerKey"):
            require(row, key, path, line)
        if not isinstance(row["question"], str):
            raise DataError(f"{path}:{line}: field 'question' must be a string")
        out.append(_example(row, split, f"{path}:{line}"))
    return out


def load_bundled(split: str) -> list[Example]:
    return read_examples(data_path(HERE, f"{split}.jsonl.xz"), split)


def load_hub(split: str) -> list[Example]:
    rows = hub_rows("allenai/ai2_arc", "ARC-Challenge", split)
    return [_example(r, split, f"allenai/ai2_arc[ARC-Challenge][{split}][{i}]") for i, r in enumerate(rows)]


TASK = TaskSpec(
    name=NAME,
    description="ARC-Challenge science questions, 3-5 options in a seeded order, judged by letter",
    kind="mc",
    splits=("test", "train"),
    default_split="test",
    train_split="train",
    group="unseen",
    source="allenai/ai2_arc ARC-Challenge (Clark et al. 2018); bundled copy via LzyFischer/icml_kd @ 30f6ce59",
    license="CC BY-SA 4.0",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="allenai/ai2_arc",
    folder=HERE,
    notes="bundled train is a 1,056-question subset of the 1,119 in the hub's train split",
)
