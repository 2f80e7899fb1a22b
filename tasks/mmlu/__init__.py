"""MMLU (Hendrycks et al. 2021; 57 subjects, 4 options), judged by letter; ``Example.domain`` = subject.

Bundled (``data/*.tar.xz``, each holding the original per-subject CSV files, no header, rows
``question, A, B, C, D, answer``):

* ``test``       -- a stratified subset: the first 50 questions of every subject's test file (2,850 of 14,042;
  each bundled file is a byte-for-byte prefix of the original, see PROVENANCE.md);
* ``validation`` -- all 1,531 validation questions (the ``val`` files);
* ``dev``        -- the 285 five-shot examples (5 per subject).

``--source hub`` reads ``cais/mmlu`` (``all``), where ``test`` is the full 14,042. Ids count questions within
a subject and split, so a bundled question and the same question from the hub (same file order) share an id
and its option order.
"""

from __future__ import annotations

import csv
import io
import tarfile
from pathlib import Path

from calbench.records import DataError, Example
from calbench.tasks import TaskSpec
from tasks._answers import LETTERS, mc_example
from tasks._common import data_path, hub_rows

HERE = Path(__file__).parent
NAME = "mmlu"
ARCHIVES = {"test": "test_first50.tar.xz", "validation": "val.tar.xz", "dev": "dev.tar.xz"}
PER_SUBJECT_TEST = 50
N_SUBJECTS = 57


def _subject(member: str) -> str:
    stem = Path(member).stem  # e.g. "college_biology_test"
    return stem.rsplit("_", 1)[0]


def read_archive(path: Path, split: str) -> list[Example]:
    """Every question in a tar archive (.tar.xz, or .tar.gz) of MMLU CSV files; a malformed row raises naming
    ``archive:member:line``."""
    out = []
    with tarfile.open(path, "r:*") as tf:
        members = sorted((m for m in tf.getmembers() if m.isfile() and m.name.endswith(".csv")), key=lambda m: m.name)
        if not members:
            raise DataError(f"{path}: no .csv files in the archive")
        for member in members:
            subject = _subject(member.name)
            extracted = tf.extractfile(member)
            assert extracted is not None  # a regular file (members above)
            text = extracted.read().decode("utf-8")
            reader = csv.reader(io.StringIO(text, newline=""))
            next_line = 1
            for i, row in enumerate(reader):
                line, next_line = next_line, reader.line_num + 1  # a quoted field may span lines
                where = f"{path}:{member.name}:{line}"
                if len(row) != 6:
                    raise DataError(f"{where}: expected 6 columns (question, A, B, C, D, answer), got {len(row)}")
                question, *options, key = (c.strip() for c in row)
                if not question or not all(options):
                    raise DataError(f"{where}: empty question or option")
                if key not in LETTERS[:4]:
                    raise DataError(f"{where}: answer must be one of A-D, got {key!r}")
                out.append(
                    mc_example(
                        NAME,
                        f"mmlu-{split}-{subject}-{i}",
                        question,
                        options,
                        LETTERS.index(key),
                        split=split,
                        domain=subject,
                        meta={"file": member.name, "line": line},
                    )
                )
    return out


def load_bundled(split: str) -> list[Example]:
    return read_archive(data_path(HERE, ARCHIVES[split]), split)


def load_hub(split: str) -> list[Example]:
    rows = hub_rows("cais/mmlu", "all", split)
    out: list[Example] = []
    seen: dict[str, int] = {}
    for r in rows:
        subject = r["subject"]
        i = seen[subject] = seen.get(subject, -1) + 1
        out.append(
            mc_example(
                NAME,
                f"mmlu-{split}-{subject}-{i}",
                r["question"].strip(),
                [str(c).strip() for c in r["choices"]],
                int(r["answer"]),
                split=split,
                domain=subject,
            )
        )
    return out


TASK = TaskSpec(
    name=NAME,
    description="MMLU, 57 subjects, 4 options in a seeded order, judged by letter (bundled test: 50 per subject)",
    kind="mc",
    splits=("test", "validation", "dev"),
    default_split="test",
    train_split="validation",
    group="unseen",
    source="hendrycks/test (Hendrycks et al. 2021), cais/mmlu on the hub; bundled CSVs via "
    "Brian-Ckwu/stanford-cs336-assignment5-alignment @ e1418539",
    license="MIT",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="cais/mmlu",
    folder=HERE,
    notes="bundled test = first 50 questions of each of the 57 subjects (2,850); the full 14,042 via --source hub",
)
