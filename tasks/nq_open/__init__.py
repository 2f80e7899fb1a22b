"""NQ-open (Natural Questions, open-domain version), open-ended, judged against the alias list.

Bundled (the official release files): ``dev`` (3,610; the usual evaluation split, = the hub's
``validation``), ``efficientqa_dev`` (1,800) and ``efficientqa_test`` (1,769; its extra rater labels such as
``def_correct_predictions`` are kept in ``meta``). The train file (87,925) is not bundled;
``--source hub`` reads ``google-research-datasets/nq_open`` (``dev`` = its ``validation``; the
EfficientQA splits are bundled only).
"""

from __future__ import annotations

from pathlib import Path

from calbench.records import DataError, Example
from calbench.tasks import TaskError, TaskSpec
from tasks._common import data_path, hub_rows, jsonl, require

HERE = Path(__file__).parent
NAME = "nq_open"
FILES = {
    "dev": "NQ-open.dev.jsonl.xz",
    "efficientqa_dev": "NQ-open.efficientqa.dev.1.1.jsonl.xz",
    "efficientqa_test": "NQ-open.efficientqa.test.1.1.jsonl.xz",
}


def _aliases(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(a, str) and a.strip() for a in value):
        raise DataError(f"{where}: field 'answer' must be a non-empty list of answer strings, got {value!r:.120}")
    return list(dict.fromkeys(a.strip() for a in value))


def read_examples(path: Path, split: str) -> list[Example]:
    out: list[Example] = []
    for line, row in jsonl(path):
        question = require(row, "question", path, line)
        answers = _aliases(require(row, "answer", path, line), f"{path}:{line}")
        meta = {k: v for k, v in row.items() if k not in ("question", "answer")}
        meta["line"] = line
        out.append(
            Example(
                id=f"nq-{split}-{len(out)}",
                task=NAME,
                question=str(question).strip(),
                answers=answers,
                domain="open-domain",
                split=split,
                meta=meta,
            )
        )
    return out


def load_bundled(split: str) -> list[Example]:
    return read_examples(data_path(HERE, FILES[split]), split)


def load_hub(split: str) -> list[Example]:
    if split != "dev":
        raise TaskError(f"nq_open split {split!r} is bundled only; use --source bundled (the hub has 'dev')")
    rows = hub_rows("google-research-datasets/nq_open", "nq_open", "validation")
    return [
        Example(
            id=f"nq-{split}-{i}",
            task=NAME,
            question=r["question"].strip(),
            answers=_aliases(r["answer"], f"nq_open[validation][{i}]"),
            domain="open-domain",
            split=split,
        )
        for i, r in enumerate(rows)
    ]


TASK = TaskSpec(
    name=NAME,
    description="NQ-open, open-ended Google search questions, judged against all accepted answers",
    kind="open",
    splits=("dev", "efficientqa_dev", "efficientqa_test"),
    default_split="dev",
    train_split=None,
    group="unseen",
    source="google-research-datasets/natural-questions nq_open release (Kwiatkowski et al. 2019; Lee et al. "
    "2019; EfficientQA, Min et al. 2021) @ fb26a307",
    license="CC BY-SA 3.0",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="google-research-datasets/nq_open",
    folder=HERE,
)
