"""Post-hoc calibration of a run: fit a scaler (:mod:`calbench.scalers`) per confidence method on a
calibration run's samples, apply it to a test run's samples, and write the result as a new, scored run folder.
``calbench calibrate`` and ``calbench eval --calibrate`` call :func:`calibrate_runs`.

The new run's methods are named ``<method>+<scaler>``; each sample keeps its original confidence in
``raw_confidence``. With ``stated_scale`` (``--stated-scale 0-10``) each calibrated probability is then rounded
to the level of that scale with the best expected log score (:func:`calbench.scalers.stated_levels`), the
method is named ``<method>+<scaler>@<scale>`` and the unrounded probability kept in ``scaled_confidence``: the
best a model could *state* on that scale with the method's information; run.json records the scaler, its learned
parameters and the calibration run it came from.
Refused (a :class:`~calbench.errors.UserError`): runs of different models (unless ``allow_other_model``), the
same run twice, runs that share an example, a calibration method whose parsed samples are all of one class.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from calbench.errors import UserError
from calbench.records import drop_compressed_samples
from calbench.runs import Run, command_line, has_manifest

#: Fewer parsed calibration samples than this draw a warning (recorded in run.json): a scaler fitted on a few
#: dozen labels is mostly noise.
TINY_FIT = 30


def _load_run(path: str) -> Run:
    from calbench.records import find_samples_file

    d = Path(path)
    if not has_manifest(d) or find_samples_file(d) is None:
        raise UserError(
            f"{d} is not a calbench run folder (needs run.json and samples.jsonl, or a compressed samples.jsonl.xz "
            f"or .gz)"
        )
    return Run.open(d)


def calibrate_runs(
    fit_dir: str,
    apply_dir: str,
    scaler_name: str,
    out_dir: str,
    *,
    methods: list[str] | None = None,
    bins: int = 10,
    allow_other_model: bool = False,
    plots: bool = True,
    replace: bool = False,
    stated_scale: str | None = None,
    label: str | None = None,
) -> dict:
    """Fit ``scaler_name`` per method on ``fit_dir``'s samples, apply to ``apply_dir``'s, score, write
    ``out_dir`` (an existing calibrated run there is refused, or recomputed with ``replace``); return the new
    manifest."""
    from calbench.metrics import is_parsed
    from calbench.rundir import write_samples
    from calbench.runner import EvalSettings, finalize
    from calbench.scalers import SCALERS, CalibrationLeakError, fit_on_calibration, make_scaler, stated_levels

    if scaler_name not in SCALERS:
        raise UserError(f"unknown scaler {scaler_name!r}; available: {', '.join(SCALERS)}")
    if stated_scale is not None:
        try:
            stated_levels([0.5], stated_scale)
        except ValueError as e:
            raise UserError(f"--stated-scale: {e}") from None
    cal_run, test_run = _load_run(fit_dir), _load_run(apply_dir)
    cal_man, test_man = cal_run.manifest, test_run.manifest
    if cal_man["model"].get("id") != test_man["model"].get("id") and not allow_other_model:
        raise UserError(
            f"the calibration run is of model {cal_man['model'].get('id')!r} and the test run of "
            f"{test_man['model'].get('id')!r}; a scaler fitted on one model's confidences does not "
            "transfer (pass --allow-other-model to do it anyway)"
        )
    if Path(fit_dir).resolve() == Path(apply_dir).resolve():
        raise UserError("--fit and --apply name the same run; fit on a calibration split, apply to a test split")
    explicit = methods is not None
    methods = methods or test_man.methods
    missing = [m for m in methods if m not in cal_man.methods]
    if missing and explicit:
        raise UserError(f"the calibration run {fit_dir} has no samples of method(s) {missing}")
    out = Path(out_dir)
    from calbench.rundir import describe, existing_run, refuse_other_run

    if replace:  # eval --calibrate recomputes its own calibrated run, never another one
        refuse_other_run(out, lambda old: old.get("calibration", {}).get("scaler") == scaler_name)
    elif existing_run(out) is not None:
        raise UserError(f"{out} already holds a run ({describe(existing_run(out))}); choose another --out")
    t0 = time.perf_counter()
    scoring = test_run.settings
    eps = scoring.eps
    warnings: list[str] = []
    if cal_man["task"]["name"] != test_man["task"]["name"]:
        warnings.append(
            f"fitted on task {cal_man['task']['name']!r} and applied to task "
            f"{test_man['task']['name']!r}: a scaler learned on one task's confidences may not "
            "transfer to another"
        )
    params, recalibrated = {}, {}
    skipped = {m: "not in the calibration run" for m in missing}
    methods = [m for m in methods if m not in missing]
    for m in methods:  # fit everything first, so that a refusal leaves no half-written run
        scaler = make_scaler(scaler_name, **({"n_bins": bins} if scaler_name == "histogram" else {}))
        cal = cal_run.samples(m, scored=False)  # every record: a failed request stays one in the new run
        test = test_run.samples(m, scored=False)
        n_fit = sum(1 for s in cal if is_parsed(s))
        if n_fit == 0 and not explicit:  # e.g. a one-stage format the model never followed
            skipped[m] = f"no parsed calibration sample (0 of {len(cal)})"
            print(f"calbench calibrate: skipping method {m}: {skipped[m]}", file=sys.stderr)
            continue
        classes = {s["correct"] for s in cal if is_parsed(s)}
        if n_fit and len(classes) == 1:  # a scaler fitted on one class maps everything to ~0 or ~1
            raise UserError(
                f"method {m}: the {n_fit} parsed calibration samples of {fit_dir} are all "
                f"{'right' if classes == {1} else 'wrong'}; a scaler fitted on one class predicts a "
                "constant (and scores a perfect ECE on a test run of the same class); fit on a "
                "calibration run with right and wrong answers"
            )
        if n_fit < TINY_FIT:
            warnings.append(
                f"method {m}: fitted on only {n_fit} parsed calibration samples (fewer than "
                f"{TINY_FIT}): the scaler is mostly noise"
            )
        try:
            recal = fit_on_calibration(scaler, cal, test)
        except CalibrationLeakError as e:
            raise UserError(str(e)) from None
        except ValueError as e:
            raise UserError(f"method {m}: {e}") from None
        name = f"{m}+{label or scaler_name}" + (f"@{stated_scale}" if stated_scale else "")
        if stated_scale:
            parsed = [s for s in recal if is_parsed(s)]
            levels: Iterable[float] = (
                stated_levels([s["confidence"] for s in parsed], stated_scale, eps=eps) if parsed else []
            )
            for s, level in zip(parsed, levels):
                s["scaled_confidence"], s["confidence"] = s["confidence"], float(level)
        for s in recal:
            s["method"] = name
        recalibrated[name] = recal
        params[name] = {"params": scaler.params(), "n_fit": n_fit}
    if not recalibrated:
        raise UserError(f"nothing to calibrate: {skipped}")
    new_methods = list(recalibrated)
    write_samples(out / "samples.jsonl", (s for rows in recalibrated.values() for s in rows))
    drop_compressed_samples(out)  # a committed, compressed copy is replaced
    settings = EvalSettings(
        methods=new_methods,
        split=test_man["task"]["split"],
        policy=scoring.policy,
        bins=scoring.bins,
        eps=scoring.eps,
        n_resamples=scoring.n_resamples,
        seed=scoring.seed,
        plots=plots,
    )
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest = test_man.derive(
        new_methods,
        command=command_line(),
        timings={"first_started": now, "started": now},
        calibration={
            "scaler": scaler_name,
            **({"label": label} if label else {}),
            "settings": {"n_bins": bins} if scaler_name == "histogram" else {},
            "stated_scale": stated_scale
            and {"scale": stated_scale, "rule": f"the level with the best expected log score (eps {eps})"},
            "fitted_on": {
                "run": str(Path(fit_dir)),
                "task": cal_man["task"]["name"],
                "split": cal_man["task"]["split"],
                "n": cal_man.get("n"),
                "ids_sha256": cal_man["task"].get("ids_sha256"),
            },
            "applied_to": {
                "run": str(Path(apply_dir)),
                "task": test_man["task"]["name"],
                "split": test_man["task"]["split"],
            },
            "by_method": params,
            "skipped_methods": skipped,
            "warnings": warnings,
        },
    )
    for w in warnings:
        print(f"calbench calibrate: warning: {w}", file=sys.stderr)
    return finalize(out, manifest, settings, elapsed=time.perf_counter() - t0, n_new_questions=0)
