"""TriviaQA (rc.nocontext), open-ended, judged against the full alias list.

Bundled here (see PROVENANCE.md in this folder):
* ``eval``  -- the first 2,000 questions of the HF ``rc`` train split, with their full alias lists: the
  held-out evaluation split.
* ``train`` -- the HF ``rc.nocontext`` validation questions, de-duplicated on question text (9,961), with a
  single answer each: the RL training pool.
(The paper trained on train and evaluated on validation; only these files carry what each role needs here.)

Caveat, measured: the single answer of the bundled ``train`` pool is LitCab's ``answer.value``, which is
often an obscure alias ("Kamal kahn" for Octopussy, "Internal exile" for the band Exile). SmolLM2 scored 0/64
on it (with containment) against 13 % on ``eval``, so correctness labels on ``train`` are mostly false
negatives. Train on SciQ (clean answers) or on the hub's TriviaQA train split (full aliases) instead.
With ``--source hub`` the full dataset is read from ``mandarjoshi/trivia_qa`` (``rc.nocontext``): ``eval`` =
validation (with aliases), ``train`` = train.
"""

from __future__ import annotations

from pathlib import Path

from calbench.records import DataError, Example
from calbench.tasks import TaskSpec
from tasks._common import data_path, hub_rows, jsonl, read_blocks, require

HERE = Path(__file__).parent
NAME = "triviaqa"


def _load_eval() -> list[Example]:
    path = data_path(HERE, "rc_train_first2000_aliases.jsonl.gz")
    out = []
    for line, row in jsonl(path):
        turns = require(row, "turns", path, line)
        aliases = require(row, "answer", path, line)
        if not isinstance(turns, list) or not turns or not isinstance(turns[0], str):
            raise DataError(f"{path}:{line}: field 'turns' must be a list whose first item is the question")
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise DataError(f"{path}:{line}: field 'answer' must be a list of alias strings")
        qid = require(row, "question_id", path, line)
        out.append(Example(id=f"tqa-eval-{qid}", task=NAME, question=turns[0].strip(), answers=aliases,
                           domain="trivia", split="eval"))
    return out


def _load_train() -> list[Example]:
    path = data_path(HERE, "rc.nocontext_validation.txt.gz")
    seen: set[str] = set()
    out = []
    for line, (question, answer) in read_blocks(path, width=2):
        if question in seen:  # HF rc merges the web and wikipedia domains: questions repeat
            continue
        seen.add(question)
        out.append(Example(id=f"tqa-train-{len(out)}", task=NAME, question=question, answers=[answer],
                           domain="trivia", split="train", meta={"line": line}))
    return out


def load_bundled(split: str) -> list[Example]:
    return _load_eval() if split == "eval" else _load_train()


def load_hub(split: str) -> list[Example]:
    hf_split = "validation" if split == "eval" else "train"
    rows = hub_rows("mandarjoshi/trivia_qa", "rc.nocontext", hf_split)
    return [
        Example(id=f"tqa-hub-{hf_split}-{r['question_id']}", task=NAME, question=r["question"].strip(),
                answers=list(dict.fromkeys([r["answer"]["value"], *r["answer"]["aliases"]])),
                domain="trivia", split=split)
        for r in rows
    ]


TASK = TaskSpec(
    name=NAME,
    description="TriviaQA rc.nocontext, open-ended trivia, judged against all aliases",
    kind="open",
    splits=("eval", "train"),
    default_split="eval",
    train_split="train",
    group="in_domain",
    source="mandarjoshi/trivia_qa (Joshi et al. 2017); bundled copies via launchnlp/LitCab @ 260366b1 and "
           "Hanpx20/SafeSwitch @ 96a2c86c",
    license="Apache-2.0",
    load_bundled=load_bundled,
    load_hub=load_hub,
    hub_id="mandarjoshi/trivia_qa",
    folder=HERE,
    notes="bundled train pool: one answer per question, often an obscure alias -> labels mostly false "
          "negatives; train on sciq or --source hub",
)
