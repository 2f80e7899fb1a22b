"""Binned calibration errors and proper scores, computed from :class:`~calbench.metrics.counts.Counts`.

Each ``*_from_counts`` function returns one value per row of the counts (the data, or each resample).
Notation: ``p_i`` stated confidence, ``y_i`` in {0, 1} correctness, ``n`` samples.
"""

from __future__ import annotations

import numpy as np

from calbench.metrics.counts import Counts
from calbench.metrics.terms import brier_terms, log_score_terms


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    q: np.ndarray = np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)
    return q


def equal_width_bin(confidence: np.ndarray, bins: int) -> np.ndarray:
    """Bin index of each confidence: ``min(floor(p * K), K - 1)``, i.e. bins [k/K, (k+1)/K), the last closed.

    ``floor(p * K)`` puts every decimal level c/10 and c/100 in the bin it starts (checked for K = 1..20).
    """
    if bins < 1:
        raise ValueError(f"bins must be a positive integer; got {bins}")
    index: np.ndarray = np.minimum(np.floor(np.asarray(confidence) * bins).astype(np.int64), bins - 1)
    return index


def accuracy_from_counts(c: Counts) -> np.ndarray:
    """accuracy = (1/n) sum_i y_i."""
    accuracy: np.ndarray = c.n_pos / c.n
    return accuracy


def binned_from_counts(c: Counts, bins: int) -> dict[str, np.ndarray]:
    """Equal-width binned calibration errors.

    With bins B_k = {i: p_i in [k/K, (k+1)/K)} (the last bin closed), n_k = |B_k|,
    acc_k = mean y over B_k, conf_k = mean p over B_k, and sums over non-empty bins only:

    * ece    = sum_k (n_k / n) |acc_k - conf_k|
    * mce    = max_k |acc_k - conf_k|
    * rms_ce = sqrt( sum_k (n_k / n) (acc_k - conf_k)^2 )
    """
    b = equal_width_bin(c.u, bins)
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])  # u is sorted, so each bin is a contiguous run
    cnt = np.add.reduceat(c.cnt, starts, axis=1)
    pos = np.add.reduceat(c.pos, starts, axis=1)
    conf = np.add.reduceat(c.cnt * c.u, starts, axis=1)
    n = c.n
    gap = pos - conf  # n_k (acc_k - conf_k)
    ece = np.abs(gap).sum(axis=1) / n
    per_bin = np.where(cnt > 0, np.abs(_safe_div(gap, cnt)), -np.inf)
    mce = per_bin.max(axis=1)
    rms = np.sqrt(_safe_div(gap**2, cnt).sum(axis=1) / n)
    return {"ece": ece, "mce": mce, "rms_ce": rms}


def ece_em_from_counts(c: Counts, bins: int) -> np.ndarray:
    """Equal-mass ECE: ece_em = sum_k (n_k / n) |acc_k - conf_k| over K bins of exactly n/K samples each.

    Samples are ordered by confidence; bin k holds sorted positions [k n/K, (k+1) n/K). Samples that share a
    confidence are spread evenly over their positions and a bin edge may cut one fractionally, so the bins
    have equal mass even with ties and the result does not depend on the order of tied samples. Without ties
    and with n divisible by K this is the usual "sort and split into K equal groups".
    """
    if bins < 1:
        raise ValueError(f"em_bins must be a positive integer; got {bins}")
    n = c.n
    edges = n[:, None] * (np.arange(bins + 1) / bins)[None, :]
    cum_pos = c.cumulative_at(c.cum_pos, edges)
    cum_conf = c.cumulative_at(c.cum_conf, edges)
    gap = np.diff(cum_pos, axis=1) - np.diff(cum_conf, axis=1)
    ece_em: np.ndarray = np.abs(gap).sum(axis=1) / n
    return ece_em


def scores_from_counts(c: Counts, eps: float) -> dict[str, np.ndarray]:
    """Proper scores as means of the shared elementwise terms.

    * brier     = (1/n) sum_i (p_i - y_i)^2                       (:func:`~calbench.metrics.brier_terms`)
    * log_score = (1/n) sum_i [y_i log p'_i + (1 - y_i) log(1 - p'_i)],  p'_i = clip(p_i, eps, 1 - eps)
                                                                     (:func:`~calbench.metrics.log_score_terms`)
    """
    n = c.n
    brier = (c.pos @ brier_terms(c.u, 1.0) + c.neg @ brier_terms(c.u, 0.0)) / n
    log_score = (c.pos @ log_score_terms(c.u, 1.0, eps) + c.neg @ log_score_terms(c.u, 0.0, eps)) / n
    return {"brier": brier, "log_score": log_score}


def brier_decomposition_from_counts(c: Counts) -> dict[str, np.ndarray]:
    """Murphy's decomposition of the Brier score, grouping samples by each *unique* confidence value u_g.

    With n_g samples at u_g, ybar_g their accuracy and ybar the overall accuracy:

    * brier_reliability = (1/n) sum_g n_g (u_g - ybar_g)^2
    * brier_resolution  = (1/n) sum_g n_g (ybar_g - ybar)^2
    * brier_uncertainty = ybar (1 - ybar)

    Grouping by unique value (not by bins) makes brier = reliability - resolution + uncertainty exact. With
    all-distinct confidences every group is one sample, so reliability = brier and resolution = uncertainty;
    the decomposition is informative for discrete confidence scales (e.g. the 0-10 verbalized levels).
    """
    n = c.n
    cnt = c.cnt
    ybar_g = c.pos / np.maximum(cnt, 1.0)  # whole counts; pos = 0 where cnt = 0
    ybar = c.n_pos / n
    rel = (cnt * (c.u[None, :] - ybar_g) ** 2).sum(axis=1) / n
    res = (cnt * (ybar_g - ybar[:, None]) ** 2).sum(axis=1) / n
    return {"brier_reliability": rel, "brier_resolution": res, "brier_uncertainty": ybar * (1.0 - ybar)}
