"""One library entry point for "evaluate this task": :func:`evaluate_task`.

``calbench eval`` and ``calbench demo`` (and so every study step that evaluates) go through it: task lookup, the split
(the task's evaluation split by default), the seeded selection of ``limit`` questions
(:func:`calbench.tasks.select`), the judge options (open questions only), given answers, then
:func:`calbench.runner.evaluate` (resumable; a different run in ``out_dir`` is refused).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calbench.records import Example
from calbench.runner import EvalSettings, evaluate
from calbench.tasks import TaskSpec


def resolve_task(task: str | TaskSpec) -> TaskSpec:
    """A task by name (``calbench tasks``), or the :class:`TaskSpec` itself (e.g. ``eval --data``)."""
    if isinstance(task, TaskSpec):
        return task
    from calbench.tasks import get_task

    return get_task(task)


def evaluation_settings(
    task: TaskSpec,
    methods: list[str],
    *,
    split: str | None = None,
    judge_containment: bool = False,
    judge_f1: float | None = None,
    **options: Any,
) -> EvalSettings:
    """The :class:`EvalSettings` of evaluating ``task`` with ``methods``: ``split`` (default: the task's
    evaluation split), the alias judge's ``judge_containment`` / ``judge_f1`` for open questions (other kinds
    have one judge without options), and any other field of :class:`EvalSettings` in ``options`` (``source``,
    ``limit``, ``seed``, ``scale``, ``policy``, ``bins``, ``n_resamples``, ``chunk_size``, ``answers`` ...)."""
    judge = {"containment": judge_containment, "f1_threshold": judge_f1} if task.kind == "open" else {}
    return EvalSettings(methods=list(methods), split=split or task.default_split, judge=judge, **options)


def task_examples(task: TaskSpec, settings: EvalSettings) -> tuple[list[Example], list[Example]]:
    """(every example of the settings' split, the ones evaluated: a seeded selection of ``limit``)."""
    from calbench.tasks import select

    examples = task.load(settings.split, source=settings.source)
    return examples, select(examples, settings.limit, settings.seed)


def evaluate_task(
    task: str | TaskSpec,
    backend,
    out_dir: str | Path,
    *,
    settings: EvalSettings | None = None,
    methods: list[str] | None = None,
    examples: tuple[list[Example], list[Example]] | None = None,
    model_name: str | None = None,
    progress: bool = True,
    **options: Any,
) -> dict:
    """Evaluate ``task`` (a name or a :class:`TaskSpec`) on ``backend``; write ``out_dir``/samples.jsonl and
    run.json; return the manifest.

    The settings are ``settings``, or :func:`evaluation_settings` of ``methods`` and ``options`` (``split``,
    ``limit``, ``seed``, ``judge_containment``, ``judge_f1``, ``answers``, ``answers_file``, ...).
    ``examples``: the :func:`task_examples` of these settings when the caller already has them (every example
    of the split, the selection), so that they are neither loaded nor selected twice. Rerunning the same call
    resumes.
    """
    spec = resolve_task(task)
    if settings is None:
        if not methods:
            raise ValueError("evaluate_task needs methods (or settings)")
        settings = evaluation_settings(spec, methods, **options)
    elif methods or options:
        raise ValueError("give settings, or methods and options, not both")
    split_examples, chosen = task_examples(spec, settings) if examples is None else examples
    return evaluate(
        spec,
        chosen,
        backend,
        settings,
        out_dir,
        model_name=model_name,
        split_size=len(split_examples),
        progress=progress,
    )
