"""A training pool mixed from several tasks (``mix:``, trained with ``--task mix``): does training on several
domains make the stated confidence transfer to the ones left out? (the confirmation study's mixed arm).

``mix: {triviaqa: 4400, sciq: 4400, arc_challenge: null}`` takes a seeded sample of that many questions of each
task's training split (``null``: all of them), after ``exclude_ids``, and shuffles them together with the run's
seed: the pool of a run whose held-out set is carved out of it (``heldout_split`` does not apply). Each question
keeps its task: its prompt follows its kind (open questions, or multiple choice with the options shown), its
answer is generated with its kind's budget and judged by its task's judge (the ``judge`` settings apply to the
open tasks). Numeric tasks are not mixed (their answer format differs); joint mode is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from calbench.judge import judge_for
from calbench.records import Example
from calbench.training import TrainerError

MIX_TASK = "mix"


def example_kind(ex: Example) -> str:
    """The kind of a mixed pool's question: multiple choice when it shows options, else open."""
    return "mc" if ex.choices else "open"


@dataclass
class MixedJudge:
    """Each question judged by its own task's judge."""

    judges: dict[str, Any]
    name: str = "mixed"

    @property
    def settings(self) -> dict:
        return {task: {"name": j.name, **j.settings} for task, j in sorted(self.judges.items())}

    def __call__(self, answer: str | None, example: Example) -> bool:
        return bool(self.judges[example.task](answer, example))


@dataclass
class MixedTask:
    """The pool of a mixed training run, shaped like a :class:`calbench.tasks.TaskSpec` where the trainer reads
    one (``kind`` is None: each question's kind is :func:`example_kind`)."""

    sizes: dict[str, int | None]
    seed: int = 0
    excluded: set[str] = field(default_factory=set)
    kind: None = None
    train_split: str = "train"
    judge_settings: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from calbench.tasks import get_task

        if len(self.sizes) < 2:
            raise TrainerError(f"mix needs at least two tasks, got {sorted(self.sizes)}")
        self.specs = {}
        for name, n in self.sizes.items():
            spec = get_task(name)
            if not spec.train_split:
                raise TrainerError(f"mix: task {name!r} has no training split")
            if spec.kind not in ("open", "mc"):
                raise TrainerError(f"mix: task {name!r} is {spec.kind}; only open and multiple-choice tasks mix")
            if n is not None and n < 1:
                raise TrainerError(f"mix: {name} must be a positive number of questions or null, got {n}")
            self.specs[name] = spec

    @property
    def name(self) -> str:
        return "mix(" + "+".join(self.sizes) + ")"

    def load(self, split: str, source: str = "bundled") -> list[Example]:
        """The mixed pool: each task's seeded sample, one task after the other (``split`` must be the training
        split)."""
        from calbench.tasks import select

        if split != self.train_split:
            raise TrainerError(f"a mixed pool has no split {split!r}; its held-out set is carved out of the pool")
        pool: list[Example] = []
        for name, n in self.sizes.items():
            spec = self.specs[name]
            examples = [e for e in spec.load(spec.train_split, source=source) if e.id not in self.excluded]
            if n is not None and n > len(examples):
                raise TrainerError(f"mix: {name} has {len(examples)} training questions, fewer than {n}")
            pool += select(examples, n, self.seed)
        return pool  # the trainer's seeded selection shuffles the tasks together

    def judge(self, settings: dict[str, Any]) -> MixedJudge:
        return MixedJudge(
            {
                name: judge_for(
                    spec.kind, **({**(spec.judge_settings or {}), **settings} if spec.kind == "open" else {})
                )
                for name, spec in self.specs.items()
            }
        )

    def counts(self, examples: list[Example]) -> dict[str, int]:
        out = {name: 0 for name in self.sizes}
        for e in examples:
            out[e.task] += 1
        return out
