"""TruthfulQA as multiple choice: the best answer plus up to 3 of its incorrect answers, judged by letter.

Built from the original ``TruthfulQA.csv`` (817 questions, bundled here; ``truthfulqa_gen`` reads the same
file). For each question the incorrect options are a seeded choice (``sha256`` of task, id, index) of up to 3
of its ``Incorrect Answers``; 43 questions list only one and 90 only two, so they get 2 or 3 options. The
options are then shown in a fixed seeded order; ``meta`` keeps the original order, the answer lists, the
category and the type. ``--source hub`` builds the same from ``truthfulqa/truthful_qa`` (``generation``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from calbench.records import DataError, Example, open_text
from calbench.tasks import TaskSpec
from tasks._answers import mc_example, option_order
from tasks._common import data_path, hub_rows

HERE = Path(__file__).parent
NAME = "truthfulqa_mc"
CSV_FILE = "TruthfulQA.csv.xz"
COLUMNS = ("Type", "Category", "Question", "Best Answer", "Correct Answers", "Incorrect Answers")
MAX_INCORRECT = 3


def split_answers(cell: str) -> list[str]:
    """``"a; b; c"`` -> ``["a", "b", "c"]`` (the original TruthfulQA code splits on ``;`` and strips)."""
    return [a.strip() for a in cell.split(";") if a.strip()]


def read_rows(path: Path | None = None) -> Iterator[tuple[int, dict]]:
    """``(index, row)`` for each question of ``TruthfulQA.csv``, with the answer lists split and checked.

    ``row`` has ``question``, ``best_answer``, ``correct_answers``, ``incorrect_answers``, ``category``,
    ``type``, ``line``. A malformed row raises :class:`DataError` naming the file and line.
    """
    path = path or data_path(HERE, CSV_FILE)
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}:1: missing column(s) {missing} (columns present: {reader.fieldnames})")
        next_line = 2
        for i, raw in enumerate(reader):
            line, next_line = next_line, reader.line_num + 1
            for col in COLUMNS:
                if not (raw.get(col) or "").strip():
                    raise DataError(f"{path}:{line}: missing field {col!r} (question {i})")
            row = {
                "question": raw["Question"].strip(),
                "best_answer": raw["Best Answer"].strip(),
                "correct_answers": split_answers(raw["Correct Answers"]),
                "incorrect_answers": split_answers(raw["Incorrect Answers"]),
                "category": raw["Category"].strip(),
                "type": raw["Type"].strip(),
                "line": line,
            }
            if not row["incorrect_answers"] or not row["correct_answers"]:
                raise DataError(f"{path}:{line}: 'Correct Answers' and 'Incorrect Answers' must be non-empty")
            yield i, row


def build(row: dict, example_id: str, split: str, where: str = "") -> Example:
    incorrect = list(dict.fromkeys(a for a in row["incorrect_answers"] if a != row["best_answer"]))
    if not incorrect:
        raise DataError(f"{where or example_id}: no incorrect answer distinct from the best answer")

    # a seeded sample of the incorrect answers, kept in file order
    picked = sorted(option_order(NAME, example_id, len(incorrect), salt="incorrect")[:MAX_INCORRECT])
    options = [row["best_answer"], *(incorrect[j] for j in picked)]
    meta = {
        "category": row["category"],
        "type": row.get("type"),
        "best_answer": row["best_answer"],
        "correct_answers": row["correct_answers"],
        "incorrect_answers": row["incorrect_answers"],
    }
    if "line" in row:
        meta["line"] = row["line"]
    return mc_example(NAME, example_id, row["question"], options, 0, split=split, domain=row["category"], meta=meta)


def read_examples(path: Path | None = None, split: str = "validation") -> list[Example]:
    path = path or data_path(HERE, CSV_FILE)
    return [build(row, f"truthfulqa-{i}", split, f"{path}:{row['line']}") for i, row in read_rows(path)]


def load_bundled(split: str) -> list[Example]:
    return read_examples(None, split)


def hub_generation_rows(split: str) -> list[dict]:
    """``truthfulqa/truthful_qa`` (``generation``) rows in the shape :func:`read_rows` yields."""
    return [
        {
            "question": r["question"].strip(),
            "best_answer": r["best_answer"].strip(),
            "correct_answers": [a.strip() for a in r["correct_answers"] if a.strip()],
            "incorrect_answers": [a.strip() for a in r["incorrect_answers"] if a.strip()],
            "category": r["category"],
            "type": r["type"],
        }
        for r in hub_rows("truthfulqa/truthful_qa", "generation", split)
    ]


def load_hub(split: str) -> list[Example]:
    return [build(row, f"truthfulqa-{i}", split) for i, row in enumerate(hub_generation_rows(split))]


TASK = TaskSpec(
    name=NAME,
    description="TruthfulQA as multiple choice: best answer + up to 3 incorrect answers, seeded order, by letter",
    kind="mc",
    splits=("validation",),
    default_split="validation",
    train_split=None,
    group="unseen",
    source="sylinrl/TruthfulQA (Lin et al. 2022), original 7-column TruthfulQA.csv; bundled copy via "
    "benedictflorance/truthfulqa_experiments @ 6fdfd382",
    license="Apache-2.0",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="truthfulqa/truthful_qa",
    folder=HERE,
    notes="options per question: 4 for 684, 3 for 90, 2 for 43 (fewer incorrect answers listed)",
)
