"""SciQ as open-ended science QA (question -> correct answer; the bundled copy has no distractors).

With ``--source hub`` the full dataset is read from ``allenai/sciq``.
"""

from __future__ import annotations

from pathlib import Path

from calbench.records import Example
from calbench.tasks import TaskSpec
from tasks._common import data_path, hub_rows, read_blocks

HERE = Path(__file__).parent
NAME = "sciq"
SPLITS = ("train", "validation", "test")


def load_bundled(split: str) -> list[Example]:
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
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="allenai/sciq",
    folder=HERE,
)
