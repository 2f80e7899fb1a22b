"""Add a committed trainer record's stage-1 answers to the shared answer cache, so that a new training over the
same pool does not generate them again (``trainers/rewarding_doubt/data.py``: ``$CALBENCH_CACHE/answers/``).

    python tools/import_trainer_answers.py --task triviaqa --split train \\
        results/training/rd-smollm2-triviaqa-beta002/train/answers.jsonl.xz [--model smollm2-135m-instruct]

The cache is only used when an answer would be the same as a newly generated one: greedy decoding, the same
model file, dtype, device, answer budget and prompt (each cached line carries its prompt's sha256). An imported
answer is written with the prompt calbench builds *today* for its question, so the tool first checks the claim on
every question the cache already holds: an imported answer that differs from a cached (newly generated) one
stops it before anything is written. Run it after a training has generated a few hundred answers of the same
pool, so that there is something to check against, or give ``--check N``: the first N answers of the files are
generated anew here first (greedy, as a training would, and added to the cache), so that a cold cache (a fresh
machine) is checked too. It refuses when there is no overlap (``--no-overlap-ok`` to import anyway).

    python tools/import_trainer_answers.py --task triviaqa --split train --check 50 \\
        results/studies/confirmation/triviaqa-s0/pass2/answers.jsonl.xz
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from calbench.records import JsonlAppender, iter_jsonl


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="trainer answers files (id, reply, answer, correct)")
    ap.add_argument("--task", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--no-overlap-ok", action="store_true")
    ap.add_argument("--check", type=int, default=0, metavar="N", help="generate the first N imported answers anew")
    ap.add_argument("--batch-size", type=int, default=50)
    args = ap.parse_args(argv)

    from calbench.backends.hf import HFBackend
    from calbench.elicit import answer_prompt
    from calbench.judge import judge_for
    from calbench.tasks import get_task
    from trainers.rewarding_doubt.data import _prompt_sha256, answer_examples, shared_answers_path

    spec = get_task(args.task)
    backend = HFBackend(args.model, device="cpu", dtype=args.dtype, batch_size=args.batch_size)
    shared = shared_answers_path(backend, kind=spec.kind, max_new_tokens=None)
    if shared is None:
        print("this model has no sha256: nothing is shared", file=sys.stderr)
        return 2
    examples = {e.id: e for e in spec.load(args.split)}
    if args.check > 0:
        first = [examples[r["id"]] for path in args.files for _, r in iter_jsonl(path) if r["id"] in examples]
        with tempfile.TemporaryDirectory() as tmp:  # generated into the shared cache, checked below like any other
            answer_examples(
                first[: args.check],
                backend,
                judge_for(spec.kind),
                kind=spec.kind,
                max_new_tokens=None,
                cache=Path(tmp) / "answers.jsonl",
                progress=False,
                shared=shared,
            )
    cached: dict[tuple[str, str], dict] = {}
    if shared.exists():
        cached = {(r["id"], r["prompt_sha256"]): r for _, r in iter_jsonl(shared, tolerate_truncated_tail=True)}
    generated = set(cached)  # the answers a training generated: what an import is checked against
    new: list[dict] = []
    checked = 0
    for path in args.files:
        for n, rec in iter_jsonl(path):
            ex = examples.get(rec["id"])
            if ex is None:
                continue  # e.g. a held-out question of another split, or a question the loader now drops
            key = (ex.id, _prompt_sha256(answer_prompt(ex, spec.kind)))
            if key in cached:
                old = cached[key]
                if key not in generated:
                    continue  # given twice among the imported files: kept once
                if (old["reply"], old["answer"]) != (rec["reply"], rec["answer"]):
                    print(
                        f"{path}:{n}: {ex.id}: the imported answer differs from the cached one; nothing written",
                        file=sys.stderr,
                    )
                    return 1
                checked += 1
            else:
                cached[key] = {"id": ex.id, "prompt_sha256": key[1], "reply": rec["reply"], "answer": rec["answer"]}
                new.append(cached[key])
    if not checked and not args.no_overlap_ok:
        print("no imported answer overlaps the cache, so none could be checked; nothing written", file=sys.stderr)
        return 1
    with JsonlAppender(shared) as out:
        for rec in new:
            out.write(rec)
    print(f"{shared}: {checked} answers checked equal to the cached ones, {len(new)} added")
    return 0


if __name__ == "__main__":
    sys.exit(main())
