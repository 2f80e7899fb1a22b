"""Read a run's stored replies again with today's parser: a parser fix without generating anything again.

    python tools/reparse_run.py RUN_FOLDER [RUN_FOLDER ...] [--dry-run]

For the methods whose sample is one generated reply to its stored prompt (``verbalized``, ``verbalized-cot``,
``verbalized-topk``), each reply is handed back to the method's own code: a replay backend answers every prompt
with the reply the model gave to it, so the answer, the confidence, the parse verdict and the judge's verdict are
computed exactly as a new run of this calbench would compute them. The samples of the other methods are kept as
they are. The run's metrics and figures are then recomputed (:func:`calbench.runner.finalize`, same policy, bins
and bootstrap seed), its timings kept, and ``run.json`` records the re-reading (``reparsed``: when, the calbench
version, how many samples of each method changed). A prompt that calbench builds differently today, a judge that
differs from the run's, or a question the task no longer has stops it before anything is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from calbench.backends.base import Generation
from calbench.errors import DataError

#: methods whose sample is one reply generated for ``sample["prompt"]`` (nothing else generated or read)
REPLAYABLE = ("verbalized", "verbalized-cot", "verbalized-topk")
#: the sample fields a re-reading may change
READ_FIELDS = ("answer", "confidence", "parse_ok", "parse_reason", "parse_form", "correct", "guesses")


def _key(prompt: Any) -> str:
    return json.dumps(prompt.to_dict() if hasattr(prompt, "to_dict") else prompt, sort_keys=True, ensure_ascii=False)


class ReplayBackend:
    """Answers each prompt with the stored reply to it (no model)."""

    kind = "replay"

    def __init__(self, replies: dict[str, tuple[str, int]], where: str):
        self.replies, self.where, self.batch_size = replies, where, 64

    def manifest(self) -> dict:
        return {"backend": self.kind}

    def generate(self, prompts: Sequence[Any], **_: Any) -> list[Generation]:
        out = []
        for p in prompts:
            got = self.replies.get(_key(p))
            if got is None:
                raise DataError(
                    f"{self.where}: calbench builds a prompt today that no stored sample has (the template changed "
                    "since the run?); a re-reading needs the prompts the replies answered: evaluate again instead"
                )
            out.append(Generation(text=got[0], n_tokens=got[1], token_logprobs=[]))
        return out


def reread(folder: Path, *, dry_run: bool = False) -> dict[str, int]:
    """Re-read the replayable methods of the run in ``folder``; returns ``{method: samples changed}``."""
    from calbench.judge import judge_for
    from calbench.methods import MethodContext, get_method
    from calbench.runs import Run
    from calbench.tasks import get_task

    run = Run.open(folder)
    m = run.manifest
    methods = [x for x in run.methods if x in REPLAYABLE]
    if not methods:
        raise DataError(f"{folder}: no method of {run.methods} is re-read from its replies ({', '.join(REPLAYABLE)})")
    task = get_task(m["task"]["name"])
    examples = {e.id: e for e in task.load(m["task"]["split"], source=m["task"].get("source", "bundled"))}
    recorded = m["judge"]
    settings = recorded.get("settings") or {}
    judge = judge_for(
        task.kind, containment=bool(settings.get("containment")), f1_threshold=settings.get("f1_threshold")
    )
    if {"name": judge.name, "settings": judge.settings} != {"name": recorded["name"], "settings": settings}:
        raise DataError(f"{folder}/run.json: judge {recorded} is not the one calbench builds for it ({judge.name})")
    rows = run.rows()
    changed: dict[str, int] = {}
    for method in methods:
        mine = [s for s in rows if s["method"] == method]
        missing = sorted({s["id"] for s in mine} - set(examples))
        if missing:
            raise DataError(
                f"{folder}: task {task.name} has no question {missing[0]} any more ({len(missing)} missing)"
            )
        replies = {
            _key(s["prompt"]): (s["raw_output"], int((s.get("cost") or {}).get("generated_tokens", 0))) for s in mine
        }
        ctx = MethodContext(
            backend=ReplayBackend(replies, f"{folder} ({method})"),
            model_name=mine[0]["model"],
            task_name=task.name,
            kind=task.kind,
            judge=judge,
            judge_name=judge.name,
            scale=m["elicitation"]["scale"],
            seed=m["seed"],
            settings={
                "max_new_tokens": (m.get("generation") or {}).get("answer_max_new_tokens"),
                **(m["elicitation"].get("method_settings") or {}),
            },
            methods=(method,),
        )
        fresh = {s.id: s.to_dict() for s in get_method(method).run(ctx, [examples[s["id"]] for s in mine])}
        n = 0
        for s in mine:
            new = fresh[s["id"]]
            if any(s.get(k) != new.get(k) for k in READ_FIELDS):
                n += 1
                for k in READ_FIELDS:
                    if k in new:
                        s[k] = new[k]
                    else:
                        s.pop(k, None)
        changed[method] = n
    if dry_run or not any(changed.values()):
        return changed
    _rewrite(run, rows, changed)
    return changed


def _rewrite(run: Any, rows: list[dict], changed: dict[str, int]) -> None:
    """Write the samples back (compressed as they were), rescore and redraw, keep the timings, record it."""
    from calbench import __version__
    from calbench.reporting.files import compress_file
    from calbench.rundir import write_samples
    from calbench.runner import EvalSettings, finalize
    from calbench.runs import Run

    folder, old = run.path, run.samples_path
    plain = folder / "samples.jsonl"
    if old != plain:
        write_samples(plain.with_name("samples.reread.jsonl"), rows)
        old.unlink()
        plain.with_name("samples.reread.jsonl").replace(plain)
        compress_file(plain)
    else:
        write_samples(plain, rows)
    m, scoring = run.manifest, run.settings  # the policy, bins, eps and bootstrap the run was scored with
    settings = EvalSettings(
        methods=list(run.methods),
        split=m["task"]["split"],
        policy=scoring.policy,
        bins=scoring.bins,
        eps=scoring.eps,
        n_resamples=scoring.n_resamples,
        seed=scoring.seed,
        plots=bool(m.get("plots")),
    )
    timings = dict(m["timings"])
    finalize(folder, dict(m), settings, elapsed=0.0, n_new_questions=0)
    again = Run.open(folder)
    again.manifest["timings"] = timings
    again.manifest["reparsed"] = {
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "calbench": __version__,
        "changed": changed,
        "by": "tools/reparse_run.py",
    }
    again.write()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--dry-run", action="store_true", help="count what would change; write nothing")
    args = ap.parse_args(argv)
    for folder in args.runs:
        try:
            changed = reread(folder, dry_run=args.dry_run)
        except DataError as e:
            print(f"reparse_run: {e}", file=sys.stderr)
            return 1
        verb = "would change" if args.dry_run else "changed"
        print(f"{folder}: {verb} " + ", ".join(f"{n} {m} samples" for m, n in changed.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
