"""How much of a stated readout's ECE is the grid under the log score, and how much is miscalibration.

A stated readout (``RUN#METHOD`` whose confidences are levels of a grid such as 0-10) groups the answers by
level. For each group this prints its size, its accuracy, the gap ``|level - accuracy|``, the level a
log-score-optimal statement gives a belief equal to that accuracy (:func:`calbench.scalers.stated_levels`, the
trainer's clipping ``eps`` = 0.001) and the nearest level (the Brier score's optimum). Then the ECE of the same
groups stated three ways: as stated, each group at its log-optimal level, each group at its nearest level.

On 0-10 the log score says "0" only below p = 0.022 and "10" only above 0.978 (a wrong "10" costs log 0.001), so a
group of answers that is right 3 % of the time is best served by "1" and adds 0.07 x its share to the ECE. If the
log-optimal relabelling keeps the ECE above a target, a model trained with the log score on that grid cannot meet
the target with these groups, however well it learns: the gap is the scoring rule's level boundaries.

Caveat: the relabellings use the same answers' outcomes (in-sample); they are a floor for these groups, not a
scaler to apply. The intervals are percentile bootstraps over answers with the groups' levels held fixed.

A study writes it as an output (``level_gaps:`` in the study file, :mod:`calbench.study`).
"""

from __future__ import annotations

import numpy as np

from calbench.errors import DataError
from calbench.metrics import bootstrap, format_value, is_parsed
from calbench.parse import SCALES
from calbench.reporting.inputs import readout
from calbench.scalers import stated_levels

EPS = 1e-3  # the trainer's reward clipping (RDConfig.clip_eps) and the log-score metric's


def groups(confidence: np.ndarray, correct: np.ndarray, k: int) -> list[tuple[int, int, float]]:
    """(level index, answers, accuracy) per stated level that occurs, in level order."""
    idx = np.rint(confidence * k).astype(int)
    off = np.abs(idx / k - confidence) > 1e-9
    if off.any():
        raise ValueError(
            f"{int(off.sum())} confidences are not levels of a 0..{k} grid (e.g. "
            f"{confidence[off][0]!r}): this is for stated readouts"
        )
    return [(int(i), int((idx == i).sum()), float(correct[idx == i].mean())) for i in np.unique(idx)]


def best_levels(accuracy: float, scale: str) -> tuple[float, float]:
    """The level (as a probability) that the log score prefers for a group of this accuracy, and the nearest."""
    k = int(SCALES[scale])
    return float(stated_levels([accuracy], scale, eps=EPS)[0]), float(np.rint(accuracy * k) / k)


def relabelled(confidence: np.ndarray, correct: np.ndarray, scale: str) -> dict[str, np.ndarray]:
    """The confidences as stated, with each group at its log-optimal level, and with each at its nearest level."""
    k = int(SCALES[scale])
    idx = np.rint(confidence * k).astype(int)
    log_opt, nearest = confidence.copy(), confidence.copy()
    for i, _, acc in groups(confidence, correct, k):
        log_opt[idx == i], nearest[idx == i] = best_levels(acc, scale)
    return {
        "as stated": confidence,
        "each group at its log-optimal level": log_opt,
        "each group at its nearest level": nearest,
    }


def report(confidence: np.ndarray, correct: np.ndarray, scale: str) -> list[str]:
    k = int(SCALES[scale])
    out = [
        "| stated level | answers | accuracy | gap | log-optimal level for that accuracy | nearest level |",
        "|---|---|---|---|---|---|",
    ]
    for i, n, acc in groups(confidence, correct, k):
        log_opt, nearest = best_levels(acc, scale)
        out.append(f"| {i} | {n} | {acc:.3f} | {abs(i / k - acc):.3f} | {round(log_opt * k)} | {round(nearest * k)} |")
    out += ["", "| the same groups, stated | ECE [95 % CI] | Brier | log score |", "|---|---|---|---|"]
    for name, conf in relabelled(confidence, correct, scale).items():
        b = bootstrap(conf, correct, n_resamples=1000, seed=0)
        out.append(
            f"| {name} | {format_value(b['ece'])} | {format_value(b['brier'])} | {format_value(b['log_score'])} |"
        )
    return out


def text(spec: str, scale: str = "0-10") -> str:
    """The level-gap analysis of the stated readout ``spec`` (``RUN#METHOD``) as Markdown; :class:`DataError`
    naming the readout when it has no parsed confidence or is not on ``scale``."""
    if scale not in SCALES or SCALES[scale] < 2:
        raise DataError(f"{spec}: scale {scale!r} is not one of {[s for s, k in SCALES.items() if k >= 2]}")
    run, method = readout(spec)
    rows = [(s["confidence"], int(s["correct"])) for s in run.samples(method) if is_parsed(s)]
    if not rows:
        raise DataError(f"{spec}: no parsed confidence")
    conf, y = (np.asarray(v, float) for v in zip(*rows))
    try:
        lines = report(conf, y.astype(int), scale)
    except ValueError as e:
        raise DataError(f"{spec}: {e}") from None
    return (
        f"{spec}: {len(y)} parsed answers, accuracy {y.mean():.3f}; scale {scale}; "
        f"log-score clipping {EPS}\n\n" + "\n".join(lines) + "\n"
    )
