"""Build the "answer swap" experiment's answers files: a controlled test of confidence training.

Each SciQ question gets a fixed answer: its own gold answer (right) or another question's gold answer that the
judge rejects (wrong), half and half (a seeded coin per question), so the base rate is 0.5 and every label is
known. The model is then asked only for its confidence in the given answer (``calbench eval --answers`` and the
trainer's ``answers_file``). Every right answer is checked to be accepted and every swapped one to be rejected
by the judge the evaluations use (alias match with containment).

    python scripts/answer_swap.py --out results/training/answer-swap [--seed 0] [--marker]

writes ``sciq_{train,validation,test}.jsonl.gz`` (``id``, ``answer``, ``swapped``) and ``manifest.json``
(counts, base rates, seed, judge, sha256 of each file as stored). ``--marker`` appends a meaningless " [A]" to right and
" [B]" to wrong answers: a sanity variant any working pipeline must learn quickly.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
from pathlib import Path

from calbench.judge import judge_for
from calbench.tasks import get_task

SPLITS = ("train", "validation", "test")


def swap_answers(examples: list, judge, seed: int, marker: bool = False) -> list[dict]:
    """One record per example: its gold answer (p = 0.5) or a judge-rejected gold answer of another example."""
    rng = random.Random(seed)
    golds = [ex.answers[0] for ex in examples]
    out = []
    for ex in examples:
        right = rng.random() < 0.5
        if right:
            answer = ex.answers[0]
        else:
            for _ in range(1000):
                answer = golds[rng.randrange(len(golds))]
                if not judge(answer, ex):
                    break
            else:  # pragma: no cover - a split whose every answer is accepted for this question
                raise RuntimeError(f"{ex.id}: no other answer is rejected by the judge")
        if marker:
            answer = f"{answer} [{'A' if right else 'B'}]"
        accepted = bool(judge(answer, ex))
        if accepted != right:
            raise RuntimeError(
                f"{ex.id}: the judge {'rejects' if right else 'accepts'} the "
                f"{'gold' if right else 'swapped'} answer {answer!r} (gold {ex.answers})"
            )
        out.append({"id": ex.id, "answer": answer, "swapped": not right})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--marker", action="store_true", help="append ' [A]' to right and ' [B]' to wrong answers")
    args = ap.parse_args(argv)
    spec = get_task("sciq")
    judge = judge_for(spec.kind, containment=True)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "task": "sciq",
        "seed": args.seed,
        "marker": args.marker,
        "judge": {"name": judge.name, **judge.settings},
        "splits": {},
    }
    suffix = "_marker" if args.marker else ""
    for i, split in enumerate(SPLITS):
        rows = swap_answers(spec.load(split), judge, seed=args.seed * 1000 + i, marker=args.marker)
        path = args.out / f"sciq_{split}{suffix}.jsonl.gz"
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        data = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)  # deterministic bytes
        path.write_bytes(data)
        right = sum(not r["swapped"] for r in rows)
        manifest["splits"][split] = {
            "file": path.name,
            "n": len(rows),
            "right": right,
            "base_rate": round(right / len(rows), 4),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        print(f"{split}: {len(rows)} answers, {right} right ({right / len(rows):.3f}) -> {path}", file=sys.stderr)
    (args.out / f"manifest{suffix}.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
