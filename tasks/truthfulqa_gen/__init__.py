"""TruthfulQA open-ended: the question alone; accepted answers = its ``Correct Answers`` list.

Reads the ``TruthfulQA.csv`` bundled with ``truthfulqa_mc`` (one copy of the data for both variants). The
alias judge matches against the correct answers only, which is lenient towards wrong but similar wording;
``meta`` keeps the best answer and the ``Incorrect Answers`` for judges that also check those.
``--source hub`` reads ``truthfulqa/truthful_qa`` (``generation``).
"""

from __future__ import annotations

from pathlib import Path

from calbench.records import Example
from calbench.tasks import TaskSpec
from tasks.truthfulqa_mc import hub_generation_rows, read_rows

HERE = Path(__file__).parent
NAME = "truthfulqa_gen"


def build(row: dict, example_id: str, split: str) -> Example:
    meta = {"best_answer": row["best_answer"], "incorrect_answers": row["incorrect_answers"], "type": row.get("type")}
    if "line" in row:
        meta["line"] = row["line"]
    return Example(
        id=example_id,
        task=NAME,
        question=row["question"],
        answers=list(row["correct_answers"]),
        domain=row["category"],
        split=split,
        meta=meta,
    )


def read_examples(path: Path | None = None, split: str = "validation") -> list[Example]:
    return [build(row, f"truthfulqa-{i}", split) for i, row in read_rows(path)]


def load_bundled(split: str) -> list[Example]:
    return read_examples(None, split)


def load_hub(split: str) -> list[Example]:
    return [build(row, f"truthfulqa-{i}", split) for i, row in enumerate(hub_generation_rows(split))]


TASK = TaskSpec(
    name=NAME,
    description="TruthfulQA open-ended, judged against its list of correct answers",
    kind="open",
    splits=("validation",),
    default_split="validation",
    train_split=None,
    group="unseen",
    source="sylinrl/TruthfulQA (Lin et al. 2022), original 7-column TruthfulQA.csv; bundled copy (in "
    "tasks/truthfulqa_mc/data) via benedictflorance/truthfulqa_experiments @ 6fdfd382",
    license="Apache-2.0",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="truthfulqa/truthful_qa",
    folder=HERE,
)
