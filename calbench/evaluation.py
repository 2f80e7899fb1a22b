"""The library's entry point for "evaluate this model on this task": :func:`evaluate` (``calbench.evaluate``,
like lm-eval's ``simple_evaluate`` or Inspect's ``eval``).

``calbench eval`` and ``calbench demo`` (and so every study step that evaluates, the baseline runs included) go
through it, in this order:

1. **plan**: the task (by name or a :class:`TaskSpec`), the split (the task's evaluation split by default), the
   seeded selection of ``limit`` questions (:func:`calbench.tasks.select`), the judge options (open questions
   only), the calibration split;
2. **preflight**, before the model loads: given answers cover every question (the calibration split's too), and
   ``out`` holds no other run (:func:`calbench.runner.check_out_folder`);
3. **load** the model (:class:`ModelSpec`, loaded only now; or a backend already loaded);
4. **run**: :func:`calbench.runner.evaluate` (resumable; writes samples.jsonl and run.json);
5. **calibrate** (``calibrate="platt"`` ...): the same evaluation on the calibration split, then the scaler fitted
   there and applied to the run (:func:`calbench.calibrate.calibrate_runs`).

Errors are :class:`~calbench.errors.UserError` s whose ``field`` names the setting (``limit``,
``calibration_split``, ``answers`` ...); the CLI maps fields to its flags. :func:`evaluate_task` is steps 1 and 4
on a loaded backend.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from calbench.errors import TaskError, UserError
from calbench.records import Example
from calbench.runner import EvalSettings, check_given_answers, check_out_folder, planned_identity
from calbench.runner import evaluate as run_examples
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
    ids: str | Path | None = None,
    **options: Any,
) -> EvalSettings:
    """The :class:`EvalSettings` of evaluating ``task`` with ``methods``: ``split`` (default: the task's
    evaluation split), the alias judge's ``judge_containment`` / ``judge_f1`` for open questions (other kinds
    have one judge without options), ``ids`` (a file of question ids: evaluate those, in its order; ``limit``
    then takes its first N), and any other field of :class:`EvalSettings` in ``options`` (``source``,
    ``limit``, ``seed``, ``scale``, ``policy``, ``bins``, ``n_resamples``, ``chunk_size``, ``answers`` ...)."""
    judge = {"containment": judge_containment, "f1_threshold": judge_f1} if task.kind == "open" else {}
    if ids is not None:
        import hashlib

        if not Path(ids).is_file():
            raise UserError(f"{ids}: no such id file", field="ids")
        options["ids_file"] = {"path": str(ids), "sha256": hashlib.sha256(Path(ids).read_bytes()).hexdigest()}
    return EvalSettings(methods=list(methods), split=split or task.default_split, judge=judge, **options)


def task_examples(task: TaskSpec, settings: EvalSettings) -> tuple[list[Example], list[Example]]:
    """(every example of the settings' split, the ones evaluated: a seeded selection of ``limit``, or the
    questions of the id file, the first ``limit`` of them)."""
    from calbench.tasks import select, select_ids

    examples = task.load(settings.split, source=settings.source)
    if settings.ids_file:
        try:
            return examples, select_ids(examples, settings.ids_file["path"], settings.limit)
        except TaskError as e:
            raise UserError(str(e), field="ids") from None
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
    return run_examples(
        spec,
        chosen,
        backend,
        settings,
        out_dir,
        model_name=model_name,
        split_size=len(split_examples),
        progress=progress,
    )


@dataclass(frozen=True)
class ModelSpec:
    """A model to evaluate, not yet loaded: ``model`` (a hub id, local folder or packaged name) on ``backend``
    (``hf``, ``scripted``, ``openai``, ``vllm``) with its ``options`` (``adapter``, ``device``, ``dtype``,
    ``batch_size``, ``script`` ...). :func:`evaluate` loads it after every check that needs no model passed."""

    model: str | None = None
    backend: str = "hf"
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The model's name in run.json: ``model``; a scripted backend is named by its script."""
        if self.backend == "scripted":
            return f"scripted:{self.options.get('script')}"
        return str(self.model)

    def load(self):
        from calbench.backends import make_backend

        return make_backend(self.backend, self.model, **self.options)


@dataclass
class Evaluation:
    """What :func:`evaluate` wrote: the run's manifest, and with ``calibrate`` the calibrated run's (its folder
    ``OUT/calibrated-<scaler>``, fitted on ``OUT/calibration/<split>``)."""

    manifest: dict
    calibrated: dict | None = None
    backend: Any = None

    @property
    def manifests(self) -> list[dict]:
        return [self.manifest] + ([self.calibrated] if self.calibrated is not None else [])


def _given_replies(answers: str | Path | dict | None, verbatim: bool, table: dict[str, str]) -> dict[str, str] | None:
    """With ``answers_verbatim``: the stage-1 reply of each answered question (:func:`~calbench.answers.load_replies`,
    the same samples the answers come from); None without."""
    if not verbatim:
        return None
    if answers is None or isinstance(answers, dict):
        raise UserError("answers_verbatim needs given answers as a run's samples file", field="answers_verbatim")
    from calbench.answers import load_replies

    replies = load_replies(answers)
    assert set(replies) == set(table)  # load_replies refuses an answered question without a recorded reply
    return replies


def _given_answers(
    answers: str | Path | dict | None, methods: list[str], ids: list[str]
) -> tuple[dict | None, dict | None]:
    """The given answers' table and their record for run.json, checked against every question ``ids`` before
    a model is loaded; ``(None, None)`` without answers."""
    if answers is None:
        return None, None
    if isinstance(answers, dict):
        check_given_answers(methods, answers, ids)
        return answers, None
    from calbench.answers import file_sha256, load_answers

    table = load_answers(answers)
    n_extra = check_given_answers(methods, table, ids)
    print(
        f"answers: {len(set(ids))} given answers from {answers} used; {n_extra} for other questions ignored",
        file=sys.stderr,
    )
    return table, {"path": str(answers), "sha256": file_sha256(answers)}


def evaluate(
    task: str | TaskSpec,
    model: ModelSpec | Any,
    out: str | Path,
    *,
    methods: list[str],
    calibrate: str | None = None,
    calibration_split: str | None = None,
    answers: str | Path | dict | None = None,
    answered_only: bool = False,
    answers_verbatim: bool = False,
    loaded: Any = None,
    progress: bool = True,
    **options: Any,
) -> Evaluation:
    """Evaluate ``model`` (a :class:`ModelSpec`, loaded after the checks; or a loaded backend) on ``task`` with
    ``methods``; write ``out``/samples.jsonl and run.json (rerunning the same call resumes; another run in
    ``out`` is refused before the model loads). ``options``: the fields of :class:`EvalSettings` (``split``,
    ``limit``, ``seed``, ``scale``, ``policy``, ``bins``, ``n_resamples``, ``method_settings`` ...) and the
    judge's ``judge_containment`` / ``judge_f1``. ``answers``: given stage-1 answers (a file or ``{id:
    answer}``); with ``answered_only`` the selection keeps only the questions they answer (e.g. a trainer's
    pool of labelled answers, a part of the training split); with ``answers_verbatim`` (answers from a run's
    samples) each stage-1 turn is that run's reply as generated, not the parsed answer. ``calibrate``: also fit
    this scaler on ``calibration_split`` and apply it. ``loaded``: the backend an earlier call loaded from the
    same ``model`` (:attr:`Evaluation.backend`), so that several tasks load the model once."""
    from calbench.methods import METHODS

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserError(f"unknown method(s) {unknown}; available: {', '.join(sorted(METHODS))}", field="methods")
    spec = resolve_task(task)
    settings = evaluation_settings(spec, methods, **options)
    if calibrate and (
        not calibration_split or calibration_split == settings.split or calibration_split not in spec.splits
    ):
        raise UserError(
            f"calibration needs a calibration split other than the evaluated {settings.split!r} "
            f"(task {spec.name!r} has: {', '.join(spec.splits)})",
            field="calibration_split",
        )
    if calibration_split and not calibrate:
        raise UserError(f"the calibration split {calibration_split!r} needs a scaler to fit on it", field="calibrate")
    if calibrate and settings.ids_file:
        raise UserError(
            "an id file's questions are not calibrated in the same call (fit a scaler with calibrate)", field="ids"
        )
    selection = task_examples(spec, settings)
    chosen = selection[1]
    if answered_only:
        if answers is None:
            raise UserError("evaluating only the answered questions needs given answers", field="answered_only")
        if calibrate:
            raise UserError("answered-only runs are not calibrated in the same call", field="answered_only")
        from calbench.answers import load_answers

        table = answers if isinstance(answers, dict) else load_answers(answers)
        chosen = [e for e in chosen if e.id in table]
        selection = (selection[0], chosen)
    if not chosen:
        raise UserError(f"task {spec.name!r} split {settings.split!r} has no examples", field="split")
    ids = [e.id for e in chosen]
    if calibrate:
        from calbench.tasks import select

        calibration_examples = spec.load(calibration_split, source=settings.source)
        ids += [e.id for e in select(calibration_examples, settings.limit, settings.seed)]
    settings.answers, settings.answers_file = _given_answers(answers, methods, ids)
    settings.replies = _given_replies(answers, answers_verbatim, settings.answers or {})
    spec_of_model = model if isinstance(model, ModelSpec) else None
    model_name = spec_of_model.name if spec_of_model else None
    if model_name is not None:
        check_out_folder(out, planned_identity(spec, chosen, settings, model_name), chosen)
    backend = loaded if loaded is not None else spec_of_model.load() if spec_of_model else model
    manifest = evaluate_task(
        spec, backend, out, settings=settings, examples=selection, model_name=model_name, progress=progress
    )
    result = Evaluation(manifest, backend=backend)
    if calibrate:
        from calbench.calibrate import calibrate_runs

        assert calibration_split is not None  # checked above
        cal_dir = Path(out) / "calibration" / str(calibration_split)
        evaluate_task(
            spec,
            backend,
            cal_dir,
            settings=replace(settings, split=calibration_split),
            model_name=model_name,
            progress=progress,
        )
        result.calibrated = calibrate_runs(
            str(cal_dir),
            str(out),
            calibrate,
            str(Path(out) / f"calibrated-{calibrate}"),
            bins=settings.bins,
            plots=settings.plots,
            replace=True,
        )
    return result
