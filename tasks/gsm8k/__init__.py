"""GSM8K (grade-school math word problems), judged by numeric equality with the final number.

Bundled: the official 1,319-question ``test`` file. Each source answer is a worked rationale ending in
``#### <number>``; ``answers`` = [that number in canonical form] (``"1,000"`` -> ``"1000"``, see
:func:`tasks._answers.canonical_number`), and ``meta`` keeps the rationale and the number as written.
``--source hub`` reads ``openai/gsm8k`` (``main``; it also has ``train``, 7,473, reachable via
:func:`load_hub`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calbench.records import DataError, Example
from calbench.tasks import TaskSpec
from tasks._answers import canonical_number
from tasks._common import data_path, hub_rows, jsonl, require

HERE = Path(__file__).parent
NAME = "gsm8k"


def final_answer(solution: str, where: str) -> tuple[str, str, str]:
    """``(number, as_written, rationale)`` from a GSM8K solution ending ``#### <number>``."""
    if solution.count("####") != 1:
        raise DataError(f"{where}: answer must contain exactly one '#### <number>' marker")
    rationale, written = (part.strip() for part in solution.split("####"))
    number = canonical_number(written)
    if number is None:
        raise DataError(f"{where}: the text after '####' is not a number: {written!r}")
    return number, written, rationale


def _example(question: str, solution: str, example_id: str, split: str, where: str, line: int | None) -> Example:
    number, written, rationale = final_answer(solution, where)
    meta: dict[str, Any] = {"rationale": rationale, "answer_as_written": written}
    if line is not None:
        meta["line"] = line
    return Example(
        id=example_id, task=NAME, question=question.strip(), answers=[number], domain="math", split=split, meta=meta
    )


def read_examples(path: Path, split: str = "test") -> list[Example]:
    out: list[Example] = []
    for line, row in jsonl(path):
        question = require(row, "question", path, line)
        solution = require(row, "answer", path, line)
        if not isinstance(question, str) or not isinstance(solution, str):
            raise DataError(f"{path}:{line}: fields 'question' and 'answer' must be strings")
        out.append(_example(question, solution, f"gsm8k-{split}-{len(out)}", split, f"{path}:{line}", line))
    return out


def load_bundled(split: str) -> list[Example]:
    return read_examples(data_path(HERE, "test.jsonl.xz"), split)


def load_hub(split: str) -> list[Example]:
    rows = hub_rows("openai/gsm8k", "main", split)
    return [
        _example(r["question"], r["answer"], f"gsm8k-{split}-{i}", split, f"openai/gsm8k[{split}][{i}]", None)
        for i, r in enumerate(rows)
    ]


TASK = TaskSpec(
    name=NAME,
    description="GSM8K math word problems, judged by numeric equality with the final number",
    kind="numeric",
    splits=("test",),
    default_split="test",
    train_split=None,
    group="unseen",
    source="openai/grade-school-math (Cobbe et al. 2021) @ 3101c7d5",
    license="MIT",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="openai/gsm8k",
    folder=HERE,
)
