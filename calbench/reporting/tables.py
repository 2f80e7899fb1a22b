"""The tables of a training experiment (a study's ``tables.md``) from its run folders: every readout's metrics
with 95 % CIs, and the paired bootstrap differences of every trained readout (a run evaluated with an adapter)
against every untrained one on the same questions and answers (:func:`calbench.reporting.compare.compare`; a
trained model scored on the untrained model's own answers with ``eval --answers`` pairs with the untrained run),
per task and question set.

Folder names label the readouts (``before-sciq:two-stage``; with the parent folder where two share a name).
``calbench study run STUDY.yaml --stage tables`` writes them (:mod:`calbench.study`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calbench.errors import DataError
from calbench.metrics import format_value, is_parsed
from calbench.reporting.compare import Arm, compare
from calbench.reporting.inputs import RunFolder, check_run_folder
from calbench.reporting.trained import is_trained

METRICS = ("auroc", "ece", "brier", "log_score")


def question_set(run: RunFolder) -> tuple[str, str]:
    return run.task, str(run.manifest["task"].get("ids_sha256"))


def level_profile(samples: list[dict]) -> tuple[np.ndarray, np.ndarray] | None:
    """The mean of the recorded ``confidence_dist`` (P(level) over the 0..10 levels) and how often each level is
    the mode; None when no sample records one."""
    dists = [s["confidence_dist"] for s in samples if s.get("confidence_dist")]
    if not dists:
        return None
    d = np.asarray(dists, dtype=float)
    return d.mean(axis=0), np.bincount(d.argmax(axis=1), minlength=d.shape[1])


def level_table(arms: list[tuple[str, RunFolder, str]]) -> list[str]:
    rows = []
    for label, run, m in arms:
        if "+" in m:  # a post-hoc scaled readout keeps its source's confidence_dist: listed once, under the source
            continue
        prof = level_profile(run.samples(m))
        if prof is None:
            continue
        mean, modes = prof
        rows.append(
            f"| {label} | {int(modes.sum())} | "
            + " ".join(f"{v:.3f}" for v in mean)
            + " | "
            + ", ".join(f"{k}: {c}" for k, c in enumerate(modes) if c)
            + " |"
        )
    if not rows:
        return []
    return [
        "",
        "The model's distribution over the stated levels 0..10 (recorded by the expected readout): its mean "
        "over the questions, and how often each level is the most probable one. It reads the first digit of the "
        "reply: for a model that replies with a bare level (the strict-format trained ones) the mode is its "
        'greedy statement, up to "1" and "10" sharing a first token; an untrained reply such as '
        '"0.999" counts as "0".',
        "",
        "| readout | n | mean P(level 0), ..., P(level 10) | modal level: questions |",
        "|---|---|---|---|",
        *rows,
    ]


def tables(runs: dict[str, RunFolder]) -> list[str]:
    out: list[str] = []
    sets = list(dict.fromkeys(question_set(r) for r in runs.values()))  # in the order given
    for qs in sets:
        arms = [(f"{name}:{m}", run, m) for name, run in runs.items() if question_set(run) == qs for m in run.methods]
        out += [
            f"### {qs[0]}, {arms[0][1].manifest['n']} questions",
            "",
            "| readout | n | accuracy | mean confidence | " + " | ".join(METRICS) + " |",
            "|---|---|---|---|" + "---|" * len(METRICS),
        ]
        for label, run, m in arms:
            metrics = run.metrics(m)
            conf = [s["confidence"] for s in run.samples(m) if is_parsed(s)]
            out.append(
                f"| {label} | {len(run.samples(m))} | {metrics['accuracy']['value']:.3f} | "
                f"{np.mean(conf) if conf else float('nan'):.3f} | "
                + " | ".join(format_value(metrics.get(k)) for k in METRICS)
                + " |"
            )
        trained = [a for a in arms if is_trained(a[1].manifest)]
        untrained = [a for a in arms if not is_trained(a[1].manifest)]
        if trained and untrained:
            out += [
                "",
                "Paired differences, trained minus untrained (same questions and answers; 1,000 resamples; "
                "AUROC/log score: higher is better, ECE/Brier: lower):",
                "",
                "| trained | untrained | " + " | ".join(f"Δ {k}" for k in METRICS) + " |",
                "|---|---|" + "---|" * len(METRICS),
            ]
            for tl, trun, tm in trained:
                for ul, urun, um in untrained:
                    comp = compare(Arm.of(urun, um), Arm.of(trun, tm))
                    if comp.problem:
                        out.append(f"| {tl} | {ul} | " + " | ".join(["n/a"] * len(METRICS)) + f" ({comp.problem}) |")
                        continue
                    d = comp.deltas
                    cells = [
                        format_value({"value": d[k].delta, "ci_low": d[k].ci_low, "ci_high": d[k].ci_high}, sign=True)
                        for k in METRICS
                    ]
                    out.append(f"| {tl} | {ul} (n={comp.n_pairs}) | " + " | ".join(cells) + " |")
        out += level_table(arms)
        out.append("")
    return out


def load_runs(paths: list[Path], *, note=None, skip_unfinished: bool = False) -> dict[str, RunFolder]:
    """The run folders of ``paths`` by label, in the order given; a missing folder is skipped (``note`` is
    called with a line saying so), and with ``skip_unfinished`` a run still running or interrupted (a study in
    progress); any other folder that is not a finished run is an error naming it. A run's label is its folder name,
    or, where two listed folders share a name (``rd-a/pass2-medqa`` and ``rd-b/pass2-medqa``), its parent folder
    and name; a folder listed twice counts once."""
    from calbench.reporting.files import run_in_progress

    found: dict[Path, tuple[Path, RunFolder]] = {}  # resolved path -> (the path as listed, its run)
    for d in map(Path, paths):
        if d.resolve() in found:
            continue
        if not d.is_dir() or (skip_unfinished and run_in_progress(d)):
            if note:
                note(f"skipped {d}: {'no such folder' if not d.is_dir() else 'not finished'}")
            continue
        result = check_run_folder(d)
        if not isinstance(result, RunFolder):
            raise DataError(f"{d}: {result.reason}")
        found[d.resolve()] = (d, result)
    names = [d.name for d, _ in found.values()]
    runs: dict[str, RunFolder] = {}
    for where, (d, result) in found.items():
        label = d.name if names.count(d.name) == 1 else f"{where.parent.name}/{d.name}"
        if label in runs:
            raise DataError(f"{d}: two listed run folders would both be labelled {label!r}; list one of them")
        runs[label] = result
    return runs
