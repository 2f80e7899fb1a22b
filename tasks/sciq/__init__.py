"""SciQ as open-ended science QA (question -> correct answer; the bundled copy has no distractors).

``train`` drops the 28 questions that equal a ``test`` or ``validation`` question after normalisation (the
judge's answer normalisation: case, punctuation, articles; 14 each; 7 of them verbatim), so that no training
pool holds an evaluation question: 11,651 of the file's 11,679. Ids stay ``sciq-train-<row>`` (the file's row),
so they are stable when rows are dropped. Runs committed before this rule trained on the 11,679 (their seeded
order of the pool differs; their pools are recorded in their folders).

With ``--source hub`` the full dataset is read from ``allenai/sciq`` (with the same rule for ``train``).
"""

from __future__ import annotations

from pathlib import Path

from calbench.judge import normalize_answer
from calbench.records import Example
from calbench.tasks import TaskSpec
from tasks._common import data_path, hub_rows, read_blocks

HERE = Path(__file__).parent
NAME = "sciq"
SPLITS = ("train", "validation", "test")


def _without_eval_questions(train: list[Example], evaluation: list[Example]) -> list[Example]:
    """``train`` minus the questions equal to an evaluation question after normalisation."""
    held_out = {normalize_answer(e.question) for e in evaluation}
    return [e for e in train if normalize_answer(e.question) not in held_out]


def load_bundled(split: str) -> list[Example]:
    examples = _read_bundled(split)
    if split == "train":
        return _without_eval_questions(examples, _read_bundled("test") + _read_bundled("validation"))
    return examples


def _read_bundled(split: str) -> list[Example]:
    path = data_path(HERE, f"{split}.txt.xz")
    return [
        Example(
            id=f"sciq-{split}-{i}",
            task=NAME,
            question=q,
            answers=[a],
            domain="science",
            split=split,
            meta={"line": line},
        )
        for i, (line, (q, a)) in enumerate(read_blocks(path, width=2))
    ]


def load_hub(split: str) -> list[Example]:
    examples = _read_hub(split)
    if split == "train":
        return _without_eval_questions(examples, _read_hub("test") + _read_hub("validation"))
    return examples


def _read_hub(split: str) -> list[Example]:
    rows = hub_rows("allenai/sciq", None, split)
    return [
        Example(
            id=f"sciq-hub-{split}-{i}",
            task=NAME,
            question=r["question"].strip(),
            answers=[r["correct_answer"].strip()],
            domain="science",
            split=split,
        )
        for i, r in enumerate(rows)
    ]


TASK = TaskSpec(
    name=NAME,
    description="SciQ science exam questions, open-ended (no options shown)",
    kind="open",
    splits=SPLITS,
    default_split="test",
    train_split="train",
    group="in_domain",
    source="allenai/sciq (Welbl et al. 2017); bundled copy via launchnlp/LitCab @ 260366b1",
    license="CC BY-NC 3.0 (non-commercial research use)",
    notes="train = the 11,679 training questions minus the 28 equal to a test or validation question after "
    "normalisation",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="allenai/sciq",
    folder=HERE,
)
