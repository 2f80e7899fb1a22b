"""TriviaQA, open-ended without context, judged against the full alias list -- as the paper ran it.

Bundled here (see PROVENANCE.md in this folder): DPR's open-domain TriviaQA splits, every question with all
of its accepted aliases.

* ``eval``  -- ``topics.dpr.trivia.test.txt``: the 11,313 questions of TriviaQA's *unfiltered* validation
  set, the Rewarding Doubt paper's evaluation set. Ids ``tqa-dpr-test-<row>``.
* ``train`` -- ``topics.dpr.trivia.dev.txt``: 8,837 questions held out of TriviaQA's unfiltered train set,
  minus the 8 that equal an evaluation question after TriviaQA's normalisation (the training pool).
  Ids ``tqa-dpr-dev-<row>``.

``<row>`` is the 0-based row of the source file, so ids stay stable when rows are dropped.
The question text is kept exactly as the file has it (after one level of CSV unquoting): TriviaQA's own
question strings carry doubled quotes (``"Who wrote the poem ""Daffodils""?"``) and DPR keeps them.
With ``--source hub`` the full dataset is read from ``mandarjoshi/trivia_qa`` (``unfiltered.nocontext``):
``eval`` = validation (11,313), ``train`` = train.
"""

from __future__ import annotations

import ast
import csv
import functools
from pathlib import Path

from calbench.judge import normalize_answer
from calbench.records import DataError, Example, open_text
from calbench.tasks import TaskSpec
from tasks._common import data_path, hub_rows

HERE = Path(__file__).parent
NAME = "triviaqa"
FILES = {"eval": "topics.dpr.trivia.test.txt.xz", "train": "topics.dpr.trivia.dev.txt.xz"}
ID_PREFIX = {"eval": "tqa-dpr-test", "train": "tqa-dpr-dev"}


def read_dpr(path: str | Path) -> list[tuple[int, str, list[str]]]:
    """``(row, question, aliases)`` for each row of a DPR QA file (``row`` counts from 0).

    The format: tab-separated, no header, CRLF line ends; column 1 the question (CSV quoting, ``""`` for a
    quote), column 2 the alias list written as a Python list literal (``['a', "b's"]``).
    """
    out = []
    with open_text(path, newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        for row, fields in enumerate(reader):
            line = reader.line_num
            if len(fields) != 2:
                raise DataError(
                    f"{path}:{line}: expected 2 tab-separated fields (question, aliases), got {len(fields)}"
                )
            question, literal = fields[0].strip(), fields[1]
            try:
                aliases = ast.literal_eval(literal)
            except (ValueError, SyntaxError):
                raise DataError(f"{path}:{line}: the aliases are not a Python list literal: {literal!r:.80}") from None
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise DataError(f"{path}:{line}: the aliases must be a list of strings, got {literal!r:.80}")
            aliases = [a.strip() for a in aliases if a.strip()]
            if not question or not aliases:
                raise DataError(f"{path}:{line}: empty question or no alias")
            out.append((row, question, aliases))
    return out


@functools.lru_cache(maxsize=4)
def _rows(folder: Path, split: str) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    # parsed once per process (20k list literals take a second or two); Examples are built fresh per call
    return tuple((row, q, tuple(a)) for row, q, a in read_dpr(data_path(folder, FILES[split])))


def _examples(split: str) -> list[Example]:
    return [
        Example(
            id=f"{ID_PREFIX[split]}-{row}",
            task=NAME,
            question=q,
            answers=list(aliases),
            domain="trivia",
            split=split,
            meta={"row": row},
        )
        for row, q, aliases in _rows(HERE, split)
    ]


def load_bundled(split: str) -> list[Example]:
    if split == "eval":
        return _examples("eval")
    # The training pool must not hold an evaluation question, even with other case or punctuation.
    held_out = {normalize_answer(e.question) for e in _examples("eval")}
    return [e for e in _examples("train") if normalize_answer(e.question) not in held_out]


def load_hub(split: str) -> list[Example]:
    hf_split = "validation" if split == "eval" else "train"
    rows = hub_rows("mandarjoshi/trivia_qa", "unfiltered.nocontext", hf_split)
    return [
        Example(
            id=f"tqa-hub-{hf_split}-{r['question_id']}",
            task=NAME,
            question=r["question"].strip(),
            answers=list(dict.fromkeys([r["answer"]["value"], *r["answer"]["aliases"]])),
            domain="trivia",
            split=split,
        )
        for r in rows
    ]


TASK = TaskSpec(
    name=NAME,
    description="TriviaQA (unfiltered, no context), open-ended trivia, judged against all aliases",
    kind="open",
    splits=("eval", "train"),
    default_split="eval",
    train_split="train",
    group="in_domain",
    source="mandarjoshi/trivia_qa (Joshi et al. 2017); bundled: DPR's open-domain splits via "
    "castorini/anserini-tools @ 5b819c1a (eval = unfiltered validation, train = DPR dev, a held-out "
    "part of unfiltered train)",
    license="Apache-2.0 (TriviaQA); DPR's split packaging CC BY-NC 4.0: research use",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="mandarjoshi/trivia_qa",
    folder=HERE,
    notes="train = DPR dev minus the 8 questions equal to an eval question after normalisation",
)
