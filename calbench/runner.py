"""The evaluation loop: examples -> method(s) -> samples.jsonl (incremental, resumable) -> run.json.

Samples are appended and flushed as each generation batch finishes (at most ``chunk_size`` questions), so
an interrupted run loses at most the batch in flight. Rerunning the same command resumes: (id, method) pairs
already in ``samples.jsonl`` are skipped, none is written twice. A different run in the same folder is refused,
naming the setting that differs,
except the same run with a larger ``--limit``: it extends the folder, computing only the new questions.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from tqdm.auto import tqdm

from calbench.elicit import templates
from calbench.errors import RunFolderError, UserError
from calbench.methods import MethodContext, get_method
from calbench.records import Example, JsonlAppender, expand_samples, read_run_samples, read_samples
from calbench.rundir import write_samples
from calbench.runs import (
    MANIFEST_FILE,
    ManifestError,
    Run,
    RunManifest,
    command_line,
    has_manifest,
    new_manifest,
    scored_samples,
)
from calbench.tasks import TaskSpec
from calbench.version import versions


class RunConflictError(RunFolderError):
    """The output folder holds a run with different settings (the CLI prints it as an error, exit code 2).

    Made by :meth:`different` when an identity setting differs: ``field`` is the first one that does, and
    :meth:`message` names the option that sets it."""

    difference: tuple[Path, Any, Any] | None = None  # (folder, value there, value now)

    @classmethod
    def different(cls, folder: Path, key: str, old: Any, new: Any) -> RunConflictError:
        err = cls(conflict_message(folder, key, old, new), field=key)
        err.difference = (folder, old, new)
        return err

    def message(self, options: dict[str, str] | None = None) -> str:
        if self.difference is None or self.field is None:
            return str(self)
        folder, old, new = self.difference
        return conflict_message(folder, self.field, old, new, (options or {}).get(self.field))


class GivenAnswersError(UserError):
    """``--answers`` cannot serve this run: a method that generates its own answer, or ids without an answer."""


@dataclass
class EvalSettings:
    methods: list[str]
    split: str
    source: str = "bundled"
    limit: int | None = None
    seed: int = 0
    scale: str = "0-10"
    policy: str = "exclude"
    bins: int = 10
    eps: float = 1e-3
    n_resamples: int = 1000
    judge: dict[str, Any] = field(default_factory=dict)
    chunk_size: int = 32
    max_new_tokens: int | None = None
    plots: bool = True
    method_settings: dict[str, Any] = field(default_factory=dict)
    #: id -> given answer (``eval --answers FILE``): used instead of generating the stage-1 answers
    answers: dict[str, str] | None = None
    #: where they came from, for run.json and the run identity: {"path": ..., "sha256": ...}
    answers_file: dict[str, Any] | None = None
    #: id -> stage-1 reply (``eval --answers-verbatim``): the turn rendered verbatim; the answer judged is ``answers``'
    replies: dict[str, str] | None = None
    #: ``eval --ids FILE``: the questions are the ones this file names, in its order ({"path": ..., "sha256": ...})
    ids_file: dict[str, Any] | None = None


def check_given_answers(method_names: list[str], answers: dict[str, str], ids: Iterable[str]) -> int:
    """Refuse, before anything runs, a method that cannot use given answers or questions without an answer;
    return how many answers are for questions outside this run (they are ignored)."""
    from calbench.methods import fixed_answer_methods

    accepting = fixed_answer_methods()
    refused = [m for m in method_names if m not in accepting]
    if refused:
        raise GivenAnswersError(
            f"method(s) {', '.join(refused)} cannot use given answers (--answers): they generate their own "
            f"answer ('verbalized' writes answer and confidence in one reply). Use {', '.join(accepting)}, "
            "or drop --answers"
        )
    ids = list(ids)
    missing = [i for i in ids if i not in answers]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise GivenAnswersError(
            f"the answers file has no answer for {len(missing)} of the {len(ids)} questions "
            f"of this run (e.g. {shown}); give an answer for every id, or pick the questions "
            "it covers (--split, --limit, --seed)"
        )
    return len(set(answers) - set(ids))


def data_sha256(examples: list[Example]) -> str:
    blob = json.dumps([e.to_dict() for e in examples], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def ids_sha256(ids: Iterable[str]) -> str:
    """The hash of a run's question ids, in order (``task.ids_sha256``: which questions, not their content)."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def _identity(manifest: dict) -> dict:
    """The settings that make two runs the same run (resuming is allowed only between equal identities)."""
    model = manifest["model"]
    return {
        "model": model.get("id"),
        "model_sha256": model.get("sha256"),
        "adapter": model.get("adapter"),
        "task": manifest["task"]["name"],
        "split": manifest["task"]["split"],
        # source and limit before the data hash, so that a refusal names the setting that changed
        "source": manifest["task"].get("source", "bundled"),
        "limit": manifest["task"].get("limit"),
        "data_sha256": manifest["task"]["data_sha256"],
        "methods": manifest["methods"],
        "scale": manifest["elicitation"]["scale"],
        "prompt_version": manifest["elicitation"]["templates"]["version"],
        "judge": manifest["judge"],
        "seed": manifest["seed"],
        "method_settings": manifest["elicitation"].get("method_settings") or {},
        "answers_sha256": (manifest.get("given_answers") or {}).get("sha256"),
        "answers_verbatim": (manifest.get("given_answers") or {}).get("verbatim"),
    }


#: Identity settings that may differ when a run is extended to a larger ``--limit``: its questions are then the
#: first ones of the larger seeded selection (:func:`calbench.tasks.select`), so the data hash changes, and
#: with given answers (``--answers``) the answers file may have grown too.
EXTENSIBLE = ("limit", "data_sha256", "answers_sha256")


def identity_diff(old: dict, new: dict) -> list[str]:
    """The identity settings of ``new`` whose value differs in ``old``; a setting that no extension may change
    comes first, so that a refusal names it (a larger --limit with another --seed: the seed)."""
    return sorted((k for k in new if old.get(k) != new[k]), key=lambda k: k in EXTENSIBLE)


def is_extension(old: dict, examples: list[Example], diff: list[str]) -> bool:
    """Whether a run on ``examples`` that differs from the run of manifest ``old`` in ``diff`` extends it: only
    the limit and what follows from it differ, and there are more questions than it had, the first of which are
    exactly its questions (same ids in the same order, same content). A larger ``--limit`` with the same seed
    does this, so an extended run computes only the new questions."""
    task, n = old.get("task") or {}, old.get("n")
    if "limit" not in diff or not set(diff) <= set(EXTENSIBLE):
        return False
    if not isinstance(task.get("limit"), int) or not isinstance(n, int) or len(examples) <= n:
        return False
    return task.get("ids_sha256") in (None, ids_sha256(e.id for e in examples[:n])) and task.get(
        "data_sha256"
    ) == data_sha256(examples[:n])


def planned_identity(task: TaskSpec, examples: list[Example], settings: EvalSettings, model_name: str) -> dict:
    """The identity settings of a run that are known before its model loads (keyed as :func:`run_identity`; the
    model's sha256, the adapter and the answers' hash follow once they are read)."""
    from calbench.judge import judge_for

    judge = judge_for(task.kind, **settings.judge)
    return {
        "model": model_name,
        "task": task.name,
        "split": settings.split,
        "source": settings.source,
        "limit": settings.limit,
        "data_sha256": data_sha256(examples),
        "methods": settings.methods,
        "scale": settings.scale,
        "prompt_version": templates()["version"],
        "judge": {"name": judge.name, "settings": judge.settings},
        "seed": settings.seed,
        "method_settings": settings.method_settings,
    }


def _read_identity(path: Path) -> tuple[RunManifest, dict]:
    """The manifest at ``path`` (a run.json) and its identity; a file that is not a run manifest is refused."""
    try:
        old = Run.open(path).manifest
        return old, _identity(old)
    except ManifestError as e:
        reason = e.reason
    except (KeyError, TypeError) as e:
        reason = str(e)
    raise RunConflictError(f"{path} exists but is not a calbench run manifest ({reason}); use another --out")


def check_out_folder(out: str | Path, expected: dict, examples: list[Example]) -> None:
    """Refuse ``out`` before the model loads when its run.json differs from ``expected``
    (:func:`planned_identity`); the error's ``field`` is the first setting that differs. A run that ``examples``
    extend (a larger ``--limit``, :func:`is_extension`) is let through: :func:`evaluate` checks the rest, with
    the model's sha256, when it resumes."""
    if not has_manifest(out):
        return
    manifest, old = _read_identity(Path(out) / MANIFEST_FILE)
    diff = identity_diff(old, expected)
    if is_extension(manifest, examples, diff):
        return
    if diff:
        raise RunConflictError.different(Path(out), diff[0], old.get(diff[0]), expected[diff[0]])


def _check_answers_kept(folder: Path, answers: dict[str, str] | None, replies: dict[str, str] | None = None) -> None:
    """Refuse to extend a run whose finished samples were scored on answers (or, verbatim, stage-1 replies) other
    than the ones given now."""
    if answers is None:
        raise RunConflictError(f"{folder} was run on given answers (--answers); extend it with --answers too")
    given = replies if replies is not None else answers
    for s in read_run_samples(folder):
        if s.get("answer_given") and (s.get("answer_output") or "").strip() != (given.get(s["id"]) or "").strip():
            raise RunConflictError(
                f"{folder} cannot be extended: question {s['id']} was scored on the answer "
                f"{(s.get('answer_output') or '').strip()!r}, and the --answers file now gives "
                f"{given.get(s['id'])!r}; use another --out"
            )


def _check_resumable(
    run_path: Path,
    manifest: dict,
    examples: list[Example],
    answers: dict[str, str] | None,
    replies: dict[str, str] | None = None,
) -> dict:
    """The manifest already in ``run_path`` ({} if none), after checking that it describes the same run, or the
    same run on fewer questions (:func:`is_extension`; recorded in ``manifest["extended_from"]``)."""
    if not run_path.exists():
        return {}
    old, old_id = _read_identity(run_path)
    new_id = _identity(manifest)
    diff = identity_diff(old_id, new_id)
    earlier = list(old.get("extended_from") or [])
    if is_extension(old, examples, diff):
        if old_id["answers_sha256"] is not None:
            _check_answers_kept(run_path.parent, answers, replies)
        elif new_id["answers_sha256"] is not None:
            raise RunConflictError(
                f"{run_path.parent} generated its answers; it cannot be extended on given "
                "answers (--answers); use another --out"
            )
        earlier.append(
            {
                "limit": old_id["limit"],
                "n": old["n"],
                "data_sha256": old_id["data_sha256"],
                "answers_sha256": old_id["answers_sha256"],
            }
        )
    elif diff:
        raise RunConflictError.different(run_path.parent, diff[0], old_id.get(diff[0]), new_id[diff[0]])
    if earlier:
        manifest["extended_from"] = earlier
    return old


run_identity = _identity


def conflict_message(folder: Path, key: str, old: Any, new: Any, option: str | None = None) -> str:
    """Why ``folder`` cannot be resumed: the first identity setting that differs (with the option that sets it,
    when the caller names one)."""
    return (
        f"{folder} holds a different run ({key}{f' ({option})' if option else ''}: {old!r} there, {new!r} now); "
        "use another --out, or delete the folder to start over"
    )


def _finished_pairs(samples_path: Path) -> set[tuple[str, str]]:
    """The (id, method) pairs an earlier invocation finished. A sample whose request finally failed
    (``request_error`` set, e.g. a served model that kept timing out) is not finished: it is removed from the
    file (rewritten atomically) so that this invocation retries it and every pair keeps exactly one record."""
    if not samples_path.exists():
        return set()
    samples = read_samples(samples_path)
    kept = [s for s in samples if not s.get("request_error")]
    if len(kept) < len(samples):
        write_samples(samples_path, kept)
    return {(s["id"], s["method"]) for s in kept}


def evaluate(
    task: TaskSpec,
    examples: list[Example],
    backend,
    settings: EvalSettings,
    out_dir: str | Path,
    *,
    model_name: str | None = None,
    split_size: int | None = None,
    progress: bool = True,
) -> dict:
    """Evaluate ``examples`` with every method in ``settings.methods``; write samples and the manifest.

    Returns the final manifest (run.json's content).
    """
    from calbench.judge import judge_for

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples_path = out / "samples.jsonl"
    methods = [get_method(m) for m in settings.methods]
    from calbench.methods.capabilities import require

    n_extra = None
    if settings.answers is not None:
        n_extra = check_given_answers(settings.methods, settings.answers, (e.id for e in examples))
    for m in methods:  # refuse up front, before any sample is written, a method the backend cannot serve
        needs = set(getattr(m, "needs", ()))
        if settings.answers is not None:
            needs |= set(getattr(m, "needs_with_fixed_answer", ()))
        require(backend, needs, m.name)
    judge = judge_for(task.kind, **settings.judge)
    bmeta = backend.manifest()
    model_name = model_name or bmeta.get("id") or "model"
    manifest = new_manifest(
        status="running",
        model={**bmeta, "id": model_name},
        task={
            "name": task.name,
            "split": settings.split,
            "source": settings.source,
            "kind": task.kind,
            "group": task.group,
            "licence": task.license,
            "data_source": task.source,
            "split_size": split_size,
            "limit": settings.limit,
            **({"ids_file": settings.ids_file} if settings.ids_file else {}),
            "data_sha256": data_sha256(examples),
            "ids_sha256": ids_sha256(e.id for e in examples),
            "notes": task.notes or None,
        },
        n=len(examples),
        methods=settings.methods,
        elicitation={
            "scale": settings.scale,
            "templates": templates(),
            "method_settings": settings.method_settings,
        },
        generation={
            "temperature": 0.0,
            "answer_max_new_tokens": settings.max_new_tokens,
            "batch_size": bmeta.get("batch_size"),
        },
        judge={"name": judge.name, "settings": judge.settings},
        parse_policy=settings.policy,
        seed=settings.seed,
        versions=versions(),
        command=command_line(),
    )
    if settings.answers is not None:  # the stage-1 answers were given, not generated
        given = {"path": None, "sha256": None, **(settings.answers_file or {})}
        if not given["sha256"]:  # answers passed in from Python: identify the run by the table's content
            given["sha256"] = hashlib.sha256(json.dumps(settings.answers, sort_keys=True).encode()).hexdigest()
        manifest["given_answers"] = {
            **given,
            "n_in_file": len(settings.answers),
            "n_used": len(examples),
            "n_ignored": n_extra,
        }
        if settings.replies is not None:  # each stage-1 turn is the file's reply verbatim (only then: identity)
            manifest["given_answers"]["verbatim"] = True
    old_timings = _check_resumable(out / MANIFEST_FILE, manifest, examples, settings.answers, settings.replies).get(
        "timings", {}
    )
    expand_samples(out)  # a committed (compressed) run is resumed or extended in plain form
    done = _finished_pairs(samples_path)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest["timings"] = {"first_started": old_timings.get("first_started", started), "started": started}
    Run(out, manifest).write()

    ctx = MethodContext(
        backend=backend,
        model_name=model_name,
        task_name=task.name,
        kind=task.kind,
        judge=judge,
        judge_name=judge.name,
        scale=settings.scale,
        seed=settings.seed,
        settings={"max_new_tokens": settings.max_new_tokens, **settings.method_settings},
        fixed_answers=None if settings.answers is None else {e.id: settings.answers[e.id] for e in examples},
        fixed_replies=None if settings.replies is None else {e.id: settings.replies[e.id] for e in examples},
        methods=tuple(settings.methods),
    )
    todo = [e for e in examples if any((e.id, m.name) not in done for m in methods)]
    t0 = time.perf_counter()
    bar = tqdm(
        total=len(examples),
        initial=len(examples) - len(todo),
        unit="q",
        desc=f"{task.name}",
        disable=not progress,
        dynamic_ncols=True,
        file=sys.stderr,
    )
    # Samples are written, and counted, per generation batch (at most a chunk): an interruption loses at most
    # the batch in flight, and the progress bar moves as each batch finishes.
    step = min(settings.chunk_size, bmeta.get("batch_size") or settings.chunk_size)
    try:
        with JsonlAppender(samples_path) as sink:
            for start in range(0, len(todo), step):
                batch = todo[start : start + step]
                for m in methods:
                    need = [e for e in batch if (e.id, m.name) not in done]
                    if not need:
                        continue
                    for s in m.run(ctx, need):
                        sink.write(s.to_dict())
                        done.add((s.id, s.method))
                for e in batch:
                    ctx.answers.pop(e.id, None)
                bar.update(len(batch))
    finally:  # also on Ctrl-C, so that the bar is not redrawn after the interruption message
        bar.close()
    elapsed = time.perf_counter() - t0
    return finalize(out, manifest, settings, elapsed=elapsed, n_new_questions=len(todo))


def finalize(out: Path, manifest: dict, settings: EvalSettings, *, elapsed: float, n_new_questions: int) -> RunManifest:
    """Score the samples (metrics with bootstrap CIs), plot, and write the completed run.json."""
    from calbench.metrics import metric_settings, summarize_samples

    run = Run(out, RunManifest.of(manifest))
    manifest = run.manifest
    samples = run.samples(scored=False)
    by_method: dict[str, list[dict]] = {}
    seen = set()
    for s in samples:
        if (s["id"], s["method"]) in seen:
            continue
        seen.add((s["id"], s["method"]))
        by_method.setdefault(s["method"], []).append(s)
    # A request that finally failed produced no model output: it is counted, never scored (not even as wrong).
    failures = {m: sum(1 for s in by_method.get(m, []) if s.get("request_error")) for m in settings.methods}
    scored = {m: scored_samples(v) for m, v in by_method.items()}
    metrics_by_method = {
        m: summarize_samples(
            scored.get(m, []),
            policy=settings.policy,
            bins=settings.bins,
            eps=settings.eps,
            n_resamples=settings.n_resamples,
            seed=settings.seed,
        )
        for m in settings.methods
    }
    manifest["request_failures"] = failures  # a rerun of the same command retries them
    manifest["status"] = (
        "complete"
        if all(len(by_method.get(m, [])) == manifest["n"] for m in settings.methods) and not any(failures.values())
        else "incomplete"
    )
    manifest.set_metrics(metrics_by_method)
    manifest["metric_settings"] = metric_settings(
        policy=settings.policy,
        bins=settings.bins,
        eps=settings.eps,
        n_resamples=settings.n_resamples,
        seed=settings.seed,
    )
    manifest["timings"].update(
        finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        seconds_this_invocation=round(elapsed, 2),
        questions_this_invocation=n_new_questions,
        questions_per_s=round(n_new_questions / elapsed, 3) if elapsed > 0 and n_new_questions else None,
    )
    if settings.plots:
        manifest["plots"] = plot_methods(out, manifest, scored, policy=settings.policy, bins=settings.bins)
    run.write()
    return manifest


def plot_methods(
    out: Path,
    manifest: dict,
    by_method: dict[str, list[dict]],
    *,
    policy: str,
    bins: int,
    kinds: tuple[str, ...] = ("reliability", "histogram"),
) -> list[str]:
    """A run's figures (``kinds`` of :func:`calbench.figures.plot_run`) per method, in ``out``; returns
    their paths
        relative to ``out``. One method: ``reliability.png``; several: ``reliability_<method>.png``."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:  # plotting is optional for the library; the CLI installs it
        return []
    from calbench.figures import plot_run

    files: list[str] = []
    for m, samples in by_method.items():
        title = f"{manifest['model']['id']} · {manifest['task']['name']} ({manifest['task']['split']}) · {m}"
        suffix = "" if len(by_method) == 1 else f"_{m}"
        for p in plot_run(samples, out, title, policy=policy, bins=bins, suffix=suffix, kinds=kinds):
            files.append(str(Path(p).relative_to(out)))
    return files
