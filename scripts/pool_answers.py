"""Write the labelled training answers of a Rewarding Doubt pool: the questions a run with ``heldout_size`` H and
``seed`` S trained on (the pool's seeded order without its first H), taken from a trainer's answers file (id,
reply, answer, correct: the untrained model's greedy stage-1 answers), as an xz answers file that `calbench probe
fit --answers` and `calbench eval --answers` read.

    python scripts/pool_answers.py --task triviaqa --heldout 200 --seed 0 \\
        --answers runs/studies/confirmation-triviaqa-s0/pass1/answers.jsonl \\
        --check results/training/rd-smollm2-triviaqa-beta002/train/answers.jsonl.xz \\
        --out results/baselines/equal-labels-triviaqa/pool-answers.jsonl.xz

``--check FILE``: every answer that FILE also holds must be the same (e.g. a committed run's record of the same
pool), or nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys

from calbench.records import iter_jsonl
from calbench.reporting.files import xz_bytes
from calbench.tasks import get_task, select


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", required=True)
    ap.add_argument("--answers", required=True)
    ap.add_argument("--heldout", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", action="append", default=[])
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    task = get_task(args.task)
    order = select(task.load(task.train_split), None, args.seed)[args.heldout :]
    given = {r["id"]: r for _, r in iter_jsonl(args.answers)}
    missing = [e.id for e in order if e.id not in given]
    if missing:
        print(f"{args.answers} lacks {len(missing)} of the {len(order)} training questions (e.g. {missing[:3]})")
        return 1
    for path in args.check:
        for n, r in iter_jsonl(path):
            g = given.get(r["id"])
            if g is not None and (g["reply"], g["answer"]) != (r["reply"], r["answer"]):
                print(f"{path}:{n}: {r['id']}: a different answer than in {args.answers}; nothing written")
                return 1
    keys = ("id", "reply", "answer", "correct")
    text = "".join(json.dumps({k: given[e.id][k] for k in keys}, ensure_ascii=False) + "\n" for e in order)
    with open(args.out, "wb") as fh:
        fh.write(xz_bytes(text.encode("utf-8")))
    right = sum(int(given[e.id]["correct"]) for e in order)
    print(f"{args.out}: {len(order)} labelled answers ({right} right)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
