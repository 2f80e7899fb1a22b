"""The point-metric suite: :func:`score` computes every metric of docs/metrics.md ("Point metrics") from one
confidence/correct pair of arrays, via the shared counts (so the bootstrap and the point estimate are the same
code)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from calbench.metrics.calibration import (
    accuracy_from_counts,
    binned_from_counts,
    brier_decomposition_from_counts,
    ece_em_from_counts,
    scores_from_counts,
)
from calbench.metrics.catalogue import CATALOGUE
from calbench.metrics.counts import Counts, Grouped
from calbench.metrics.ranking import (
    ONE_CLASS_REASON,
    auprc_from_counts,
    aurc_from_counts,
    auroc_from_counts,
    sel_acc_from_counts,
)
from calbench.metrics.smooth import smece_from_counts
from calbench.metrics.terms import DEFAULT_EPS

DEFAULT_BINS = 10
DEFAULT_SEL_KS = (10, 20, 50)

#: Metric names in the order reports print them (``sel_acc@k`` keys follow ``sel_ks``; ``n`` comes last):
#: derived from :data:`calbench.metrics.catalogue.CATALOGUE`, the metrics computed from the counts.
BASE_METRICS = tuple(m.name for m in CATALOGUE if m.source == "counts" and not m.family and m.name != "n")
#: Which direction is better, for reports and comparisons: derived from the catalogue (every metric whose
#: direction is "higher"; a family such as ``sel_acc@k``: :func:`calbench.metrics.catalogue.higher_is_better`).
HIGHER_IS_BETTER = {m.name: True for m in CATALOGUE if m.higher_is_better and not m.family}


def sel_key(k: float) -> str:
    return f"sel_acc@{int(k) if float(k).is_integer() else k}"


@dataclass(frozen=True)
class Settings:
    """Metric settings; every one is recorded with the results (see :func:`calbench.metrics.metric_settings`)."""

    bins: int = DEFAULT_BINS
    eps: float = DEFAULT_EPS
    sel_ks: Sequence[float] = DEFAULT_SEL_KS
    em_bins: int | None = None

    def __post_init__(self) -> None:
        if int(self.bins) != self.bins or self.bins < 1:
            raise ValueError(f"bins must be a positive integer; got {self.bins!r}")
        if self.em_bins is not None and (int(self.em_bins) != self.em_bins or self.em_bins < 1):
            raise ValueError(f"em_bins must be a positive integer or None; got {self.em_bins!r}")
        if not 0.0 <= self.eps < 0.5:
            raise ValueError(f"eps must be in [0, 0.5); got {self.eps!r}")
        object.__setattr__(self, "sel_ks", tuple(self.sel_ks))
        for k in self.sel_ks:
            if not 0 < k <= 100:
                raise ValueError(f"sel_ks must be percentages in (0, 100]; got {k!r}")

    @property
    def equal_mass_bins(self) -> int:
        return int(self.em_bins if self.em_bins is not None else self.bins)

    def names(self) -> tuple[str, ...]:
        return BASE_METRICS + tuple(sel_key(k) for k in self.sel_ks) + ("n",)


def metrics_from_counts(c: Counts, s: Settings, only: Collection[str] | None = None) -> dict[str, np.ndarray]:
    """Every metric, one value per row of ``c``; with ``only``, just those (and ``n``): a bootstrap that reports
    five metrics need not pay for the smooth ECE on every resample."""

    def want(*names: str) -> bool:
        return only is None or any(n in only for n in names)

    out: dict[str, np.ndarray] = {}
    if want("accuracy"):
        out["accuracy"] = accuracy_from_counts(c)
    binned = binned_from_counts(c, int(s.bins)) if want("ece", "mce", "rms_ce") else {}
    if want("ece"):
        out["ece"] = binned["ece"]
    if want("ece_em"):
        out["ece_em"] = ece_em_from_counts(c, s.equal_mass_bins)
    for name in ("mce", "rms_ce"):
        if want(name):
            out[name] = binned[name]
    if want("smece"):
        out["smece"] = smece_from_counts(c)
    proper = scores_from_counts(c, s.eps) if want("brier", "log_score") else {}
    if want("brier"):
        out["brier"] = proper["brier"]
    decomposition = ("brier_reliability", "brier_resolution", "brier_uncertainty")
    if want(*decomposition):
        out.update({k: v for k, v in brier_decomposition_from_counts(c).items() if want(k)})
    if want("log_score"):
        out["log_score"] = proper["log_score"]
    for ranked, fn in (("auroc", auroc_from_counts), ("auprc", auprc_from_counts), ("aurc", aurc_from_counts)):
        if want(ranked):
            out[ranked] = fn(c)
    for k in s.sel_ks:
        if want(sel_key(k)):
            out[sel_key(k)] = sel_acc_from_counts(c, float(k))
    out["n"] = c.n.astype(float)
    return out


def notes_for(c: Counts) -> dict[str, str]:
    """Why metrics of the data (row 0 of ``c``) are NaN."""
    n_pos, n_neg = float(c.pos[0].sum()), float(c.neg[0].sum())
    if n_pos > 0 and n_neg > 0:
        return {}
    reason = ONE_CLASS_REASON.format(which="correct" if n_neg == 0 else "wrong")
    return {"auroc": reason, "auprc": reason}


def score_with_notes(
    confidence: ArrayLike,
    correct: ArrayLike,
    *,
    bins: int = DEFAULT_BINS,
    eps: float = DEFAULT_EPS,
    sel_ks: Sequence[float] = DEFAULT_SEL_KS,
    em_bins: int | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """Like :func:`score`, and also ``{metric: reason}`` for every metric that came out NaN."""
    s = Settings(bins=bins, eps=eps, sel_ks=sel_ks, em_bins=em_bins)
    c = Grouped.from_arrays(confidence, correct).counts()
    values = {k: float(v[0]) for k, v in metrics_from_counts(c, s).items()}
    values["n"] = int(values["n"])
    return values, notes_for(c)


def score(
    confidence: ArrayLike,
    correct: ArrayLike,
    *,
    bins: int = DEFAULT_BINS,
    eps: float = DEFAULT_EPS,
    sel_ks: Sequence[float] = DEFAULT_SEL_KS,
    em_bins: int | None = None,
) -> dict[str, float]:
    """Every calibration metric of ``confidence`` (floats in [0, 1]) against ``correct`` (0/1).

    Keys: accuracy, ece, ece_em, mce, rms_ce, smece, brier, brier_reliability, brier_resolution,
    brier_uncertainty, log_score, auroc, auprc, aurc, ``sel_acc@k`` for each k in ``sel_ks``, and n.
    Settings: ``bins`` equal-width bins for ece/mce/rms_ce; ``em_bins`` equal-mass bins for ece_em (default:
    ``bins``); ``eps`` the log-score clipping. Formulas: ``docs/metrics.md`` and each ``*_from_counts``.

    AUROC and AUPRC are NaN when all samples are correct or all wrong (the reason:
    :func:`score_with_notes`). Raises ``ValueError`` on empty input or a confidence outside [0, 1] / NaN,
    naming the row.
    """
    return score_with_notes(confidence, correct, bins=bins, eps=eps, sel_ks=sel_ks, em_bins=em_bins)[0]
