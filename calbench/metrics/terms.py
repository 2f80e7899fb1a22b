"""Input validation and the per-sample scoring terms shared with the RL trainer's rewards.

One source of truth: :func:`log_score_terms` and :func:`brier_terms` define the elementwise scores; the corpus
metrics ``log_score`` and ``brier`` are their means, and the trainer's rewards call the same functions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

#: Default clipping of the log score: p in [eps, 1 - eps] (the Rewarding Doubt paper used 0.001).
DEFAULT_EPS = 1e-3


def validate(confidence: ArrayLike, correct: ArrayLike, *, allow_empty: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(confidence, correct)`` as float arrays, checking shape, range and labels.

    Raises ``ValueError`` for empty input, mismatched lengths, a confidence outside [0, 1] or NaN, or a
    ``correct`` value other than 0/1; the message names the first offending row (0-based).
    """
    c = np.asarray(confidence, dtype=float)
    y = np.asarray(correct, dtype=float)
    if c.ndim == 0 or y.ndim == 0:
        c, y = np.atleast_1d(c), np.atleast_1d(y)
    if c.ndim != 1 or y.ndim != 1:
        raise ValueError(f"confidence and correct must be 1-D; got shapes {c.shape} and {y.shape}")
    if c.shape != y.shape:
        raise ValueError(f"confidence has {c.size} rows but correct has {y.size}; they must pair up one to one")
    if c.size == 0 and not allow_empty:
        raise ValueError(
            "no samples: the metrics need at least one (confidence, correct) pair "
            "(if every reply failed to parse, check the parse policy and parse_rate)"
        )
    bad = ~((c >= 0.0) & (c <= 1.0))  # NaN fails both comparisons
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"confidence at row {i} is {c[i]!r}; it must be a number in [0, 1] "
            "(fix the parser, or drop unparsed rows with a parse policy)"
        )
    bad = (y != 0.0) & (y != 1.0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"correct at row {i} is {y[i]!r}; it must be 0 or 1")
    return c, y


def log_score_terms(confidence: ArrayLike, correct: ArrayLike, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Per-sample logarithmic score (higher is better).

    ``s_i = log(p_i)`` if sample i is correct else ``log(1 - p_i)``, with ``p_i = clip(confidence_i, eps, 1-eps)``.
    """
    if not 0.0 <= eps < 0.5:
        raise ValueError(f"eps must be in [0, 0.5); got {eps}")
    p = np.clip(np.asarray(confidence, dtype=float), eps, 1.0 - eps)
    y = np.asarray(correct, dtype=float)
    with np.errstate(divide="ignore"):  # eps = 0 allows log(0) = -inf, which is the honest score
        terms: np.ndarray = np.where(y == 1.0, np.log(p), np.log1p(-p))
        return terms


def brier_terms(confidence: ArrayLike, correct: ArrayLike) -> np.ndarray:
    """Per-sample squared error ``(p_i - y_i)^2`` (lower is better)."""
    terms: np.ndarray = (np.asarray(confidence, dtype=float) - np.asarray(correct, dtype=float)) ** 2
    return terms
