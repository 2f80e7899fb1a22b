"""Multiple-comparison corrections and a sample-size (power) estimate for paired comparisons.

* :func:`holm` -- Holm-Bonferroni step-down adjusted p-values (controls the family-wise error rate).
* :func:`benjamini_hochberg` -- Benjamini-Hochberg step-up adjusted p-values (controls the false discovery rate).
* :func:`adjust` -- either, by name (:data:`CORRECTIONS`).
* :func:`questions_needed` -- questions needed to detect a paired difference with a two-sided test.

Pure Python + numpy; the normal quantiles come from :class:`statistics.NormalDist`.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Sequence

import numpy as np

CORRECTIONS = ("holm", "bh", "none")
#: Display names of the corrections.
CORRECTION_NAMES = {"holm": "Holm-Bonferroni", "bh": "Benjamini-Hochberg", "none": "no correction"}


def _as_array(pvalues: Sequence[float]) -> np.ndarray:
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p-values must be a flat sequence; got shape {p.shape}")
    bad = ~np.isnan(p) & ((p < 0) | (p > 1))
    if bad.any():
        raise ValueError(f"p-values must lie in [0, 1]; got {p[bad].tolist()}")
    return p


def _ascending(pvalues: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The p-values, an all-NaN array for the adjusted ones, and the indices of the non-NaN p-values in
    ascending order (ties in input order)."""
    p = _as_array(pvalues)
    ok = np.flatnonzero(~np.isnan(p))
    return p, np.full(p.shape, np.nan), ok[np.argsort(p[ok], kind="stable")]


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values.

    With the m non-NaN p-values sorted ascending, p_(1) <= ... <= p_(m):
    adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).  Reject H_(i) at level alpha iff adj_(i) <= alpha.
    NaN p-values (comparisons that could not be made) stay NaN and do not count in m.
    """
    p, out, order = _ascending(pvalues)
    m = order.size
    if m == 0:
        return out
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def benjamini_hochberg(pvalues: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values).

    With the m non-NaN p-values sorted ascending: adj_(i) = min_{j >= i} min(1, m p_(j) / j).
    Reject H_(i) at FDR level alpha iff adj_(i) <= alpha. NaN p-values stay NaN and do not count in m.
    """
    p, out, order = _ascending(pvalues)
    m = order.size
    if m == 0:
        return out
    scaled = np.minimum(1.0, m * p[order] / np.arange(1, m + 1))
    out[order] = np.minimum.accumulate(scaled[::-1])[::-1]
    return out


def adjust(pvalues: Sequence[float], method: str = "holm") -> np.ndarray:
    """Adjusted p-values under ``method``: ``holm`` (default), ``bh`` (Benjamini-Hochberg) or ``none``."""
    if method == "holm":
        return holm(pvalues)
    if method == "bh":
        return benjamini_hochberg(pvalues)
    if method == "none":
        return _as_array(pvalues).copy()
    raise ValueError(f"unknown correction {method!r}; choose one of {', '.join(CORRECTIONS)}")


def _z_sum(alpha: float, power: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1); got {power!r}")
    nd = NormalDist()
    return nd.inv_cdf(1 - alpha / 2) + nd.inv_cdf(power)


def questions_needed(delta: float, se: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Questions needed for a two-sided level-``alpha`` test to detect a paired difference ``delta`` with
    probability ``power``, given its standard error ``se`` measured on ``n`` questions.

    Normal approximation with the standard error shrinking as 1/sqrt(n):
    n_needed = n (z_{1-alpha/2} + z_{power})^2 se^2 / delta^2  (= ((z_a + z_b) sd / delta)^2 with sd = se sqrt(n),
    the textbook formula for a paired z-test). Returns ``inf`` when ``delta`` is 0 (nothing to detect) and NaN
    when an input is NaN or ``se`` is not positive. Rounded up to a whole question.
    """
    if any(math.isnan(x) for x in (delta, se)) or n <= 0:
        return math.nan
    if delta == 0:
        return math.inf
    if se <= 0:
        return math.nan
    return float(math.ceil(n * (_z_sum(alpha, power) * se / abs(delta)) ** 2))


def paired_questions_needed(
    differences: Sequence[float] | np.ndarray, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """:func:`questions_needed` from per-question paired differences d_i (e.g. Brier term of b minus that of a):
    delta = mean(d), se = sd(d, ddof=1) / sqrt(n)."""
    d = np.asarray(differences, dtype=float)
    if d.size < 2:
        return math.nan
    se = float(d.std(ddof=1) / math.sqrt(d.size))
    return questions_needed(float(d.mean()), se, d.size, alpha=alpha, power=power)


def se_from_ci(ci_low: float, ci_high: float, level: float = 0.95) -> float:
    """Standard error implied by a (roughly normal) two-sided interval: (high - low) / (2 z_{(1+level)/2})."""
    return (ci_high - ci_low) / (2 * NormalDist().inv_cdf((1 + level) / 2))
