"""MedQA (USMLE, 4 options), multiple choice, judged by letter.

Bundled: the 1,273-question US test set (MedAgentsBench copy, ``data/test.jsonl.xz``). Options are shown in a
fixed seeded order (:func:`tasks._answers.shuffle_choices`); ``meta`` keeps the original order and answer.
With ``--source hub`` the questions come from ``GBaker/MedQA-USMLE-4-options`` (its ``train`` split, 10,178
questions, is reachable only there: pass ``split="train"`` to :func:`load_hub`).
"""

from __future__ import annotations

from pathlib import Path

from calbench.records import DataError, Example
from calbench.tasks import TaskSpec
from tasks._answers import LETTERS, mc_example
from tasks._common import data_path, hub_rows, jsonl, require

HERE = Path(__file__).parent
NAME = "medqa"


def _example(row: dict, idx: object, split: str, where: str) -> Example:
    options = row["options"]
    if not isinstance(options, dict) or sorted(options) != list(LETTERS[: len(options)]) or len(options) != 4:
        raise DataError(f"{where}: field 'options' must map the letters A-D to option texts, got {options!r}")
    texts = [str(options[k]).strip() for k in sorted(options)]
    key = str(row["answer_idx"]).strip()
    if key not in options:
        raise DataError(f"{where}: answer_idx {key!r} is not one of the option letters {sorted(options)}")
    return mc_example(
        NAME,
        f"medqa-{split}-{idx}",
        str(row["question"]).strip(),
        texts,
        LETTERS.index(key),
        split=split,
        domain="medicine",
        meta={"exam_step": row.get("meta_info")},
    )


def read_examples(path: Path, split: str = "test") -> list[Example]:
    out = []
    for line, row in jsonl(path):
        for key in ("realidx", "question", "options", "answer_idx"):
            require(row, key, path, line)
        out.append(_example(row, row["realidx"], split, f"{path}:{line}"))
    return out


def load_bundled(split: str) -> list[Example]:
    return read_examples(data_path(HERE, "test.jsonl.xz"), split)


def load_hub(split: str) -> list[Example]:
    rows = hub_rows("GBaker/MedQA-USMLE-4-options", None, split)
    return [_example(r, i, split, f"GBaker/MedQA-USMLE-4-options[{split}][{i}]") for i, r in enumerate(rows)]


TASK = TaskSpec(
    name=NAME,
    description="MedQA USMLE questions, 4 options in a seeded order, judged by letter",
    kind="mc",
    splits=("test",),
    default_split="test",
    train_split=None,
    group="unseen",
    source="jind11/MedQA (Jin et al. 2021), US 4-option test; bundled copy via xk-huang/medagents-benchmark @ 56ca11eb",
    license="MIT (jind11/MedQA)",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="GBaker/MedQA-USMLE-4-options",
    folder=HERE,
)
