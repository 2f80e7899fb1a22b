"""Discrimination and selective-prediction metrics from :class:`~calbench.metrics.counts.Counts`.

Ties in confidence are handled explicitly: AUROC gives half credit to tied (correct, wrong) pairs, AUPRC
uses one threshold per unique confidence (both as scikit-learn does), and the position-based metrics (AURC,
sel_acc@k) take the expectation over a random order of tied samples, so all are order invariant.
Groups g are the unique confidences u_g, ascending; pos_g / neg_g count correct / wrong samples at u_g.
"""

from __future__ import annotations

import numpy as np

from calbench.metrics.counts import Counts

#: Why a ranking metric is NaN (recorded in the notes of :func:`calbench.metrics.score_with_notes`).
ONE_CLASS_REASON = "undefined: needs both correct and wrong samples (all {which})"


def _two_classes(c: Counts) -> np.ndarray:
    return (c.n_pos > 0) & (c.n_neg > 0)


def auroc_from_counts(c: Counts) -> np.ndarray:
    """AUROC of confidence for separating correct (positive) from wrong samples.

    auroc = P(p_correct > p_wrong) + 0.5 P(p_correct = p_wrong) over all (correct, wrong) pairs
          = sum_g pos_g (neg_{<g} + neg_g / 2) / (n_pos n_neg).
    NaN when there are no correct or no wrong samples.
    """
    cum_neg = c.cum_cnt - c.cum_pos
    num = (c.pos * (cum_neg - 0.5 * c.neg)).sum(axis=1)
    ok = _two_classes(c)
    return np.where(ok, num / np.where(ok, c.n_pos * c.n_neg, 1.0), np.nan)


def auprc_from_counts(c: Counts) -> np.ndarray:
    """Average precision of confidence for retrieving correct samples (scikit-learn's definition).

    One threshold per unique confidence; TP_g and FP_g count correct and wrong samples with confidence
    >= u_g:  auprc = sum_g (pos_g / n_pos) * TP_g / (TP_g + FP_g).
    NaN when there are no correct or no wrong samples (a one-class ranking says nothing).
    """
    tp = c.n_pos[:, None] - c.cum_pos + c.pos  # correct at or above u_g
    above = c.n[:, None] - c.cum_cnt + c.cnt  # all at or above u_g
    prec = tp / np.maximum(above, 1.0)  # whole counts; tp = 0 where above = 0
    ok = _two_classes(c)
    return np.where(ok, (c.pos * prec).sum(axis=1) / np.where(ok, c.n_pos, 1.0), np.nan)


def _harmonic_table(n_max: int) -> np.ndarray:
    """H[k] = sum_{j=1..k} 1/j for k = 0..n_max."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n_max + 1))])


def aurc_from_counts(c: Counts) -> np.ndarray:
    """Area under the risk-coverage curve (lower is better).

    Order samples by confidence, descending; risk(k) = (wrong among the top k) / k. Then
    aurc = (1/n) sum_{k=1..n} risk(k). Tied samples are taken in random order and the expectation is used:
    a tie group g with c_g samples, e_g of them wrong, that starts after C samples with E wrong puts
    E + j e_g / c_g expected wrong samples in the top C + j, so it adds
    E (H(C + c_g) - H(C)) + (e_g / c_g) (c_g - C (H(C + c_g) - H(C))), with H the harmonic numbers.
    """
    n = c.n
    start = n[:, None] - c.cum_cnt  # C: samples more confident than u_g
    errs_before = c.n_neg[:, None] - (c.cum_cnt - c.cum_pos)  # E: wrong samples among them
    table = _harmonic_table(int(round(float(n.max()))))
    # H at every group boundary in descending order: H(n - cum_cnt) after g, H(n - cum_cnt + cnt) before it.
    bounds = np.rint(np.concatenate([n[:, None], start], axis=1)).astype(np.int64)
    hb = table[bounds]
    dh = hb[:, :-1] - hb[:, 1:]
    rate = c.neg / np.maximum(c.cnt, 1.0)  # counts are whole numbers; neg = 0 where cnt = 0
    total = errs_before * dh + rate * (c.cnt - start * dh)
    aurc: np.ndarray = total.sum(axis=1) / n
    return aurc


def sel_acc_from_counts(c: Counts, k: float) -> np.ndarray:
    """Selective accuracy: accuracy over the k % most confident samples.

    sel_acc@k = (correct among the top x) / x with x = k n / 100 positions, samples ordered by confidence
    descending, tied samples spread evenly over their positions and the sample at the cut counted fractionally.
    """
    if not 0 < k <= 100:
        raise ValueError(f"sel_acc k must be a percentage in (0, 100]; got {k}")
    n = c.n
    x = n * (k / 100.0)
    # correct in the top x = all correct - correct in the bottom n - x (ascending order).
    below = c.cumulative_at(c.cum_pos, (n - x)[:, None])[:, 0]
    sel_acc: np.ndarray = (c.n_pos - below) / x
    return sel_acc
