"""Choose the confirmation study's fresh questions (issue 35) and write them as id files.

Every question any committed result has touched (``calbench.runs.question_ids_used`` over ``results/``: the
questions of every run folder and every trainer record's labelled pool) is left out; the rest of each split is
shuffled with ``--seed`` and the first N of it are taken, in that order:

* ``triviaqa-test.txt``: 2,000 of TriviaQA ``eval`` (the test questions), ``triviaqa-cal.txt``: the next 300 (the
  calibration set every post-hoc scaler is fitted on);
* ``sciq-test.txt``: 1,500 of SciQ ``train`` (its test and validation splits are spent), ``sciq-cal.txt``: the next
  300; ``sciq-excluded.txt``: both, which the SciQ trainings leave out of their pool (``exclude_ids``);
* 500 of each unseen task (MedQA, CommonsenseQA, MMLU, TruthfulQA-MC, ARC-Challenge, OpenBookQA), or all of its
  fresh questions when it has fewer.

    python scripts/confirmation_questions.py --out results/studies/confirmation/questions [--seed 35]

Also writes ``selection.json``: per file its task, split, size of the split, questions already used, fresh
questions, how many were taken, and the file's sha256. Rerunning it on the same commit writes the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

from calbench.runs import question_ids_used
from calbench.tasks import get_task

# (file stem, task, split, how many); files with the same (task, split) take consecutive slices of one order
PLAN = [
    ("triviaqa-test", "triviaqa", "eval", 2000),
    ("triviaqa-cal", "triviaqa", "eval", 300),
    ("sciq-test", "sciq", "train", 1500),
    ("sciq-cal", "sciq", "train", 300),
    ("medqa", "medqa", "test", 500),
    ("commonsenseqa", "commonsenseqa", "validation", 500),
    ("mmlu", "mmlu", "test", 500),
    ("truthfulqa_mc", "truthfulqa_mc", "validation", 500),
    ("arc_challenge", "arc_challenge", "test", 500),
    ("openbookqa", "openbookqa", "test", 500),
]


def choose(roots: list[str], seed: int) -> dict[str, dict]:
    used = question_ids_used(roots)
    orders: dict[tuple[str, str], list[str]] = {}
    taken: dict[tuple[str, str], int] = {}
    out: dict[str, dict] = {}
    for stem, task, split, n in PLAN:
        key = (task, split)
        examples = get_task(task).load(split)
        if key not in orders:
            fresh = [e.id for e in examples if e.id not in used]
            random.Random(f"{seed}:{task}:{split}").shuffle(fresh)
            orders[key], taken[key] = fresh, 0
        start = taken[key]
        ids = orders[key][start : start + n]
        taken[key] = start + len(ids)
        out[stem] = {
            "task": task,
            "split": split,
            "split_size": len(examples),
            "used_before": sum(e.id in used for e in examples),
            "fresh": len(orders[key]),
            "asked": n,
            "taken": len(ids),
            "ids": ids,
        }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=35)
    ap.add_argument("--roots", default="results", help="comma-separated folders of committed results")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = choose(args.roots.split(","), args.seed)
    record: dict = {"seed": args.seed, "roots": args.roots.split(","), "files": {}}
    for stem, c in chosen.items():
        text = f"# {c['task']} {c['split']}: {c['taken']} fresh questions (scripts/confirmation_questions.py)\n"
        text += "\n".join(c.pop("ids")) + "\n"
        (out / f"{stem}.txt").write_text(text, encoding="utf-8")
        record["files"][f"{stem}.txt"] = {**c, "sha256": hashlib.sha256(text.encode()).hexdigest()}
    sciq = [line for s in ("sciq-test", "sciq-cal") for line in (out / f"{s}.txt").read_text().splitlines()[1:]]
    excluded = "# SciQ train questions the confirmation trainings leave out: sciq-test.txt + sciq-cal.txt\n"
    excluded += "\n".join(sciq) + "\n"
    (out / "sciq-excluded.txt").write_text(excluded, encoding="utf-8")
    record["files"]["sciq-excluded.txt"] = {"sha256": hashlib.sha256(excluded.encode()).hexdigest(), "n": len(sciq)}
    (out / "selection.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    for name, c in record["files"].items():
        print(name, {k: v for k, v in c.items() if k != "sha256"})


if __name__ == "__main__":
    main()
