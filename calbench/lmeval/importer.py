"""Import lm-eval sample logs of the calbench task pack as calbench samples and run manifests.

lm-eval (``--log_samples --output_path DIR``) writes ``DIR/<model>/samples_<task>_<time>.jsonl`` (one line
per question: the doc, the rendered prompt, the reply, the per-sample metric items) beside
``results_<time>.json`` (the aggregated metrics and the run's configuration). Each reply is parsed and judged
again by calbench (the same :func:`calbench.lmeval.hooks.score_reply` lm-eval called) and checked against the
item lm-eval logged; the metrics are recomputed with percentile-bootstrap CIs (lm-eval reports "N/A" stderr
for custom aggregations) and compared with the values lm-eval reported.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from calbench.elicit import templates
from calbench.lmeval import hooks
from calbench.lmeval.pack import PREFIX, calbench_task_name
from calbench.records import DataError, Example, Sample, drop_compressed_samples, gold_answers, iter_jsonl
from calbench.runs import Run, RunManifest, command_line, new_manifest

_SAMPLES_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<stamp>\d{4}-\d{2}-\d{2}T[\d.\-]+)\.jsonl(\.gz|\.xz)?$")
#: |lm-eval's value - calbench's| above this counts as a disagreement (both compute in float64).
TOLERANCE = 1e-9


@dataclass
class SampleLog:
    """One lm-eval samples file of a calbench task, with the results file of the same run (if found)."""

    path: Path
    lmeval_task: str
    stamp: str
    results_path: Path | None = None
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return calbench_task_name(self.lmeval_task)


def find_logs(inputs: list[Path]) -> list[SampleLog]:
    """The calbench-task samples files in ``inputs`` (files, or folders searched recursively).

    Raises :class:`DataError` when nothing is found, a file is not an lm-eval samples file of a calbench task,
    or one task appears in several files (ambiguous: pass the file you mean).
    """
    files: list[Path] = []
    for p in inputs:
        if p.is_dir():
            found = sorted(f for suffix in ("", ".gz", ".xz") for f in p.rglob(f"samples_{PREFIX}*.jsonl{suffix}"))
            if not found:
                raise DataError(
                    f"{p}: no lm-eval samples files of calbench tasks (samples_{PREFIX}*.jsonl); "
                    "run lm-eval with --log_samples --output_path DIR"
                )
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    logs: list[SampleLog] = []
    for f in files:
        m = _SAMPLES_NAME.match(f.name)
        if not m or not m.group("task").startswith(PREFIX):
            raise DataError(
                f"{f}: not an lm-eval samples file of a calbench task (expected a name like "
                f"samples_{PREFIX}<task>_<time>.jsonl, written by lm-eval --log_samples)"
            )
        log = SampleLog(path=f, lmeval_task=m.group("task"), stamp=m.group("stamp"))
        results = f.parent / f"results_{log.stamp}.json"
        if results.exists():
            log.results_path = results
            try:
                log.results = json.loads(results.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise DataError(f"{results}: not valid JSON ({e.msg} at line {e.lineno})") from None
        logs.append(log)
    by_task: dict[str, list[Path]] = {}
    for log in logs:
        by_task.setdefault(log.task, []).append(log.path)
    dup = {t: ps for t, ps in by_task.items() if len(ps) > 1}
    if dup:
        t, ps = next(iter(dup.items()))
        raise DataError(f"task {t} has {len(ps)} samples files ({', '.join(map(str, ps))}); pass the one to import")
    return logs


def _model_args(results: dict[str, Any]) -> dict[str, Any]:
    args = (results.get("config") or {}).get("model_args")
    if isinstance(args, str):
        args = dict(kv.split("=", 1) for kv in args.split(",") if "=" in kv)
    return args if isinstance(args, dict) else {}


def model_id(results: dict[str, Any]) -> str:
    """The model's id as ``calbench eval`` records it: the packaged model's name when ``pretrained=`` is a
    local copy of one (identified by sha256, see :func:`calbench.models.identify_local`), else ``pretrained=``
    (a hub id or directory), else the lm-eval model type."""
    args = _model_args(results)
    if args.get("pretrained"):
        name, _ = model_weights(results)
        return name or str(args["pretrained"])
    return str((results.get("config") or {}).get("model") or "lm-eval")


def model_weights(results: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(packaged name, sha256)`` of the weights lm-eval loaded from a local path, when identifiable."""
    from calbench.models import identify_local

    args = _model_args(results)
    if not args.get("pretrained") or not Path(str(args["pretrained"])).expanduser().exists():
        return None, None
    return identify_local(str(args["pretrained"]), args.get("gguf_file"))


def read_log(log: SampleLog, model: str) -> tuple[list[dict[str, Any]], list[Example]]:
    """Sample records (``samples.jsonl`` dicts) of one samples file, re-scored by calbench and checked
    against the items lm-eval logged; and the questions they answer, as calbench examples."""
    out, examples = [], []
    for line, row in iter_jsonl(log.path):
        where = f"{log.path}:{line}"
        try:
            doc, replies = row["doc"], row["filtered_resps"]
        except KeyError as e:
            raise DataError(f"{where}: lm-eval sample lacks field {e.args[0]!r}") from None
        reply = replies[0] if isinstance(replies, list) and replies else replies
        if not isinstance(reply, str):
            raise DataError(f"{where}: expected one generated reply (a string), got {reply!r}")
        if doc.get("task") != log.task:
            raise DataError(f"{where}: doc of task {doc.get('task')!r} in the samples file of {log.lmeval_task}")
        scored = hooks.score_reply(doc, reply)
        for name in hooks.METRICS:
            if name in row and tuple(row[name]) != scored.item():
                raise DataError(
                    f"{where}: lm-eval logged {name}={row[name]!r} but calbench scores this reply as "
                    f"{list(scored.item())!r}; the log was made with another calbench version (compare the "
                    "task's metadata.calbench_prompt_version in the results file)"
                )
        try:
            prompt = row["arguments"]["gen_args_0"]["arg_0"]
        except (KeyError, TypeError):
            prompt = None
        example = hooks.example_from_doc(doc)
        sample = Sample(
            id=str(doc["id"]),
            task=log.task,
            model=model,
            method=hooks.METHOD,
            prompt=prompt,
            raw_output=reply,
            answer=scored.answer,
            confidence=scored.confidence,
            parse_ok=scored.parse_ok,
            correct=scored.correct,
            judge=scored.judge,
            extras={
                "parse_reason": scored.parse_reason,
                "parse_form": scored.parse_form,
                "gold": gold_answers(example),
                "lmeval": {
                    "task": log.lmeval_task,
                    "doc_id": row.get("doc_id"),
                    "doc_hash": row.get("doc_hash"),
                    "prompt_hash": row.get("prompt_hash"),
                },
            },
        )
        out.append(sample.to_dict())
        examples.append(example)
    if not out:
        raise DataError(f"{log.path}: no samples in the file")
    return out, examples


def reported_metrics(log: SampleLog) -> dict[str, float]:
    """The metrics lm-eval reported for the task (``results[task]["<metric>,none"]``)."""
    entry = (log.results.get("results") or {}).get(log.lmeval_task) or {}
    out = {}
    for name in hooks.METRICS:
        v = entry.get(f"{name},none")
        if isinstance(v, (int, float)):
            out[name] = float(v)
    return out


def compare(reported: dict[str, float], recomputed: dict[str, float]) -> dict[str, Any]:
    """Which reported metrics differ from calbench's values over the same samples (NaN equals NaN)."""
    diffs = {}
    for name, v in reported.items():
        mine = recomputed[name]
        same = (math.isnan(v) and math.isnan(mine)) or abs(v - mine) <= TOLERANCE
        if not same:
            diffs[name] = {"lmeval": v, "calbench": mine}
    return {"checked": sorted(reported), "agree": not diffs, "differences": diffs}


def manifest_for(
    log: SampleLog,
    samples: list[dict],
    examples: list[Example],
    model: str,
    *,
    policy: str,
    bins: int,
    eps: float,
    n_resamples: int,
    seed: int,
) -> RunManifest:
    """run.json for one imported task: calbench's manifest fields, plus what lm-eval recorded."""
    from calbench.judge import judge_for
    from calbench.metrics import metric_settings, summarize_samples
    from calbench.runner import data_sha256, ids_sha256
    from calbench.tasks import get_task
    from calbench.version import versions

    spec = get_task(log.task)
    results = log.results
    cfg = results.get("config") or {}
    task_cfg = (results.get("configs") or {}).get(log.lmeval_task) or {}
    pack_meta = task_cfg.get("metadata") or {}
    n_samples = (results.get("n-samples") or {}).get(log.lmeval_task) or {}
    judge = judge_for(spec.kind)
    items = [(s["confidence"], s["correct"], s["parse_ok"]) for s in samples]
    reported = reported_metrics(log)
    check = compare(reported, hooks.aggregate(items))
    return new_manifest(
        status="complete",
        model={
            "id": model,
            "source": "lm-eval",
            "backend": f"lm-eval:{cfg.get('model')}",
            "model_args": cfg.get("model_args"),
            "sha256": model_weights(results)[1],
            "adapter": None,
            "batch_size": cfg.get("batch_size"),
        },
        task={
            "name": spec.name,
            "split": spec.default_split,
            "source": pack_meta.get("calbench_source", "bundled"),
            "kind": spec.kind,
            "group": spec.group,
            "licence": spec.license,
            "data_source": spec.source,
            "split_size": n_samples.get("original"),
            "limit": cfg.get("limit"),
            "data_sha256": data_sha256(examples),
            "ids_sha256": ids_sha256(s["id"] for s in samples),
        },
        n=len(samples),
        methods=[hooks.METHOD],
        elicitation={
            "scale": hooks.SCALE,
            "format": "one-stage",
            "templates": templates(),
            "rendered_by": "lm-eval",
            "chat_template": bool(results.get("chat_template")),
            "chat_template_sha": results.get("chat_template_sha"),
            "system_instruction": results.get("system_instruction"),
            "pack_prompt_version": pack_meta.get("calbench_prompt_version"),
        },
        generation={**(task_cfg.get("generation_kwargs") or {}), "gen_kwargs_override": cfg.get("gen_kwargs")},
        judge={"name": judge.name, "settings": judge.settings},
        parse_policy=policy,
        seed=seed,
        versions={
            **versions(),
            "lm_eval": results.get("lm_eval_version"),
            "transformers_at_lmeval_run": results.get("transformers_version"),
        },
        timings={
            "imported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "lmeval_total_evaluation_seconds": _float(results.get("total_evaluation_time_seconds")),
        },
        metrics=summarize_samples(samples, policy=policy, bins=bins, eps=eps, n_resamples=n_resamples, seed=seed),
        metric_settings=metric_settings(policy=policy, bins=bins, eps=eps, n_resamples=n_resamples, seed=seed),
        lmeval={
            "task": log.lmeval_task,
            "samples_file": str(log.path),
            "results_file": str(log.results_path) if log.results_path else None,
            "reported_metrics": reported,
            "check_against_pack_settings": {"policy": hooks.POLICY, "bins": hooks.BINS, "eps": hooks.EPS, **check},
        },
        command=command_line(),
    )


def _float(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def import_logs(
    inputs: list[Path],
    out: Path,
    *,
    model: str | None = None,
    policy: str = hooks.POLICY,
    bins: int = hooks.BINS,
    eps: float = hooks.EPS,
    n_resamples: int = 1000,
    seed: int = 0,
    plots: bool = True,
) -> list[tuple[Path, dict]]:
    """Import every calbench-task samples file in ``inputs``; write ``samples.jsonl`` and ``run.json`` into
    ``out`` (one task) or ``out/<task>/`` (several). Returns ``(folder, manifest)`` per task."""
    from calbench.rundir import refuse_other_run, write_samples

    logs = find_logs(inputs)
    prepared = []
    for log in logs:  # read, score and check everything before a file is written
        folder = out if len(logs) == 1 else out / log.task
        name = model or model_id(log.results)
        samples, examples = read_log(log, name)
        manifest = manifest_for(
            log, samples, examples, name, policy=policy, bins=bins, eps=eps, n_resamples=n_resamples, seed=seed
        )
        refuse_other_run(folder, lambda old: _same_import(old, manifest))
        prepared.append((folder, samples, manifest))
    written: list[tuple[Path, dict]] = []
    for folder, samples, manifest in prepared:
        folder.mkdir(parents=True, exist_ok=True)
        write_samples(folder / "samples.jsonl", samples)
        drop_compressed_samples(folder)  # the new plain file replaces a committed one
        if plots:
            manifest["plots"] = _plots(folder, samples, manifest, policy, bins)
        Run(folder, manifest).write()
        written.append((folder, manifest))
    return written


def _same_import(old: dict, new: dict) -> bool:
    """Whether a run folder's manifest is an import of the same questions and model (then re-importing,
    e.g. with another parse policy, replaces it); anything else there is refused."""
    return (
        "lmeval" in old
        and old.get("model", {}).get("id") == new["model"]["id"]
        and old.get("task", {}).get("name") == new["task"]["name"]
        and old.get("task", {}).get("ids_sha256") == new["task"]["ids_sha256"]
    )


def _plots(folder: Path, samples: list[dict], manifest: dict, policy: str, bins: int) -> list[str]:
    try:
        from calbench.figures import plot_run
    except ImportError:  # plotting is optional for the library
        return []
    title = f"{manifest['model']['id']} · {manifest['task']['name']} · {hooks.METHOD} (lm-eval)"
    return [str(Path(p).relative_to(folder)) for p in plot_run(samples, folder, title, policy=policy, bins=bins)]
