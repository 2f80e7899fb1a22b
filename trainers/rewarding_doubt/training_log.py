"""A training run's log and curve: ``OUT/train_log.jsonl`` (every TRL log entry and every held-out evaluation,
of either estimator) and ``OUT/training_curve.png`` drawn from it, over the whole chain of runs when a run
continues another (``continue_from``).

    python -m trainers.rewarding_doubt.training_log OUT     # redraw OUT/training_curve.png
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from transformers import TrainerCallback

from calbench.records import JsonlAppender, iter_jsonl, json_safe
from calbench.rundir import write_samples

if TYPE_CHECKING:
    from trainers.rewarding_doubt.continuation import Continuation


class JsonlLogCallback(TrainerCallback):
    """Appends every TRL log entry (reward, KL, loss, ...) as ``{"step", "kind": "train", ...}`` to a JSONL file
    and prints a short line; :meth:`write` adds other kinds (``heldout``)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._out: JsonlAppender | None = None
        self._t0 = time.time()

    def write(self, record: dict[str, Any]) -> None:
        if self._out is None:
            self._out = JsonlAppender(self.path)
        self._out.write(json_safe(record))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        # time: wall seconds since this invocation started (``started``, epoch seconds): a resumed run's log holds
        # the records of each invocation
        self.write(
            {
                "step": state.global_step,
                "kind": "train",
                "time": round(time.time() - self._t0, 1),
                "started": round(self._t0, 3),
                **logs,
            }
        )
        keys = ("reward", "reward_std", "kl", "loss", "completions/mean_length", "entropy")
        parts = [f"{k.split('/')[-1]}={float(logs[k]):.4g}" for k in keys if k in logs]
        if parts:
            print(f"[train step {state.global_step}] " + " ".join(parts), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def drop_after(self, step: int) -> int:
        """Remove the records of steps after ``step``: a run resumed from its step-``step`` checkpoint replays
        those steps, and would otherwise log them twice. The file is rewritten atomically when a record goes (a
        half-written last line goes with it; otherwise the appender drops it); returns how many were removed."""
        self.close()
        if not self.path.exists():
            return 0
        records = [r for _, r in iter_jsonl(self.path, tolerate_truncated_tail=True)]
        kept = [r for r in records if int(r.get("step", 0)) <= step]
        if len(kept) < len(records):
            write_samples(self.path, kept)
        return len(records) - len(kept)


def chain_curve_rows(cont: Continuation | None, own: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    """The held-out records to plot for a run (``own``: its log's records) that continues ``cont``: those of every
    run of the chain, oldest first, with ``labels_seen`` counted over the chain, and the labels at which each
    continuation started. A continuation's step-0 evaluation repeats the earlier run's last one and is left out."""
    from trainers.rewarding_doubt.continuation import load_continuation

    own = [r for r in own if r.get("kind") == "heldout"]
    if cont is None:
        return own, []
    rows = [dict(r, labels_seen=cont.labels_before + int(r.get("labels_seen", 0))) for r in own if r.get("step") != 0]
    starts: list[int] = []
    while cont is not None:
        starts.insert(0, cont.labels_before)
        offset = cont.labels_before - int(cont.summary.get("labels_seen", 0))
        earlier = (cont.config.get("continued_from") or {}).get("run")
        log = cont.folder / "train_log.jsonl"
        records = [r for _, r in iter_jsonl(log, tolerate_truncated_tail=True)] if log.exists() else []
        rows = [
            dict(r, labels_seen=offset + int(r.get("labels_seen", 0)))
            for r in records
            if r.get("kind") == "heldout" and not (earlier and r.get("step") == 0)
        ] + rows
        cont = load_continuation(earlier) if earlier else None
    return rows, starts


def plot_training_curve(records: Sequence[dict], path: Path, starts: Sequence[int] = ()) -> Path | None:
    """``training_curve.png``: held-out AUROC (with its 95 % band) and log score of both readouts against the
    number of labelled answers seen; ``starts``: labels at which a continuation (``continue_from``) started,
    drawn as dashed lines. Returns None when there is no held-out evaluation yet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from calbench.figures import save_png

    rows = [r for r in records if r.get("kind") == "heldout"]
    if not rows:
        return None
    x = [r.get("labels_seen", r["step"]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for readout, color in (("greedy", "tab:blue"), ("expected", "tab:orange")):
        au = [_num(r.get(f"{readout}/auroc")) for r in rows]
        lo = [_num(r.get(f"{readout}/auroc_ci_low")) for r in rows]
        hi = [_num(r.get(f"{readout}/auroc_ci_high")) for r in rows]
        axes[0].plot(x, au, "o-", color=color, label=f"{readout} (stated)" if readout == "greedy" else readout)
        axes[0].fill_between(x, lo, hi, color=color, alpha=0.2)
        axes[1].plot(x, [_num(r.get(f"{readout}/log_score")) for r in rows], "o-", color=color, label=readout)
    axes[0].axhline(0.5, color="grey", lw=0.8, ls=":")
    for i, start in enumerate(starts):
        for ax in axes:
            ax.axvline(start, color="grey", lw=0.8, ls="--", label="continued" if i == 0 else None)
    axes[0].set(xlabel="labelled answers seen", ylabel="held-out AUROC (95 % CI)", ylim=(0, 1))
    axes[1].set(xlabel="labelled answers seen", ylabel="held-out log score (higher is better)")
    for ax in axes:
        ax.legend(loc="best", fontsize=8)
        ax.grid(alpha=0.3)
    n = rows[-1].get("n")
    fig.suptitle(f"Held-out evaluation (n = {n}) during training")
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    return path


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and v is not None else math.nan


def main(argv: list[str] | None = None) -> int:
    """Redraw OUT/training_curve.png of a run (over its whole chain when it is a continuation)."""
    import argparse

    import yaml

    from calbench.records import iter_jsonl
    from trainers.rewarding_doubt.continuation import load_continuation

    ap = argparse.ArgumentParser(prog="python -m trainers.rewarding_doubt.training_log", description=main.__doc__)
    ap.add_argument("out", type=Path, help="the run's --out folder")
    args = ap.parse_args(argv)
    config = yaml.safe_load((args.out / "config.yaml").read_text(encoding="utf-8"))
    cont = load_continuation((config.get("continued_from") or {}).get("run"))
    own = [r for _, r in iter_jsonl(args.out / "train_log.jsonl", tolerate_truncated_tail=True)]
    rows, starts = chain_curve_rows(cont, own)
    print(plot_training_curve(rows, args.out / "training_curve.png", starts=starts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
