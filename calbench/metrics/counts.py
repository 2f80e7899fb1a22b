"""Sufficient statistics: every metric is a function of the sorted unique confidences ``u`` and, for each
unique value, how many samples at it were correct (``pos``) and wrong (``neg``).

Working on these counts makes every metric invariant to sample order by construction, makes ties explicit,
and turns a bootstrap resample into a new pair of count rows over the same ``u`` -- so one vectorised code
path computes the point estimate (one row) and all resamples (one row each).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from calbench.metrics.terms import validate


@dataclass(frozen=True)
class Counts:
    """Counts of correct (``pos``) and wrong (``neg``) samples at each unique confidence ``u`` (ascending).

    ``pos`` and ``neg`` have shape ``(rows, len(u))``: row 0 is the data itself, or one row per resample.
    Derived arrays (totals, cumulative sums) are computed once and shared by all metrics.
    """

    u: np.ndarray
    pos: np.ndarray
    neg: np.ndarray

    @cached_property
    def cnt(self) -> np.ndarray:
        cnt: np.ndarray = self.pos + self.neg
        return cnt

    @cached_property
    def n(self) -> np.ndarray:
        """Samples per row, shape ``(rows,)``."""
        n: np.ndarray = self.cum_cnt[:, -1].copy()
        return n

    @cached_property
    def n_pos(self) -> np.ndarray:
        n_pos: np.ndarray = self.cum_pos[:, -1].copy()
        return n_pos

    @property
    def n_neg(self) -> np.ndarray:
        n_neg: np.ndarray = self.n - self.n_pos
        return n_neg

    @property
    def rows(self) -> int:
        rows: int = self.pos.shape[0]
        return rows

    @cached_property
    def cum_cnt(self) -> np.ndarray:
        """Samples with confidence <= u_g (inclusive cumulative count), ``(rows, m)``."""
        return np.cumsum(self.cnt, axis=1)

    @cached_property
    def cum_pos(self) -> np.ndarray:
        return np.cumsum(self.pos, axis=1)

    @cached_property
    def cum_conf(self) -> np.ndarray:
        return np.cumsum(self.cnt * self.u[None, :], axis=1)

    @cached_property
    def _flat_positions(self) -> tuple[np.ndarray, np.ndarray]:
        # Rows laid end to end with a gap, so one searchsorted serves every row.
        rows = self.rows
        p0 = np.concatenate([np.zeros((rows, 1)), self.cum_cnt], axis=1)
        off = np.arange(rows)[:, None] * (float(self.n.max()) + 1.0)
        return p0, (p0 + off).ravel()

    def cumulative_at(self, cum_values: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Per row, the cumulative sum of a per-sample quantity along the ascending order, at position ``x``.

        ``cum_values`` is :attr:`cum_pos` or :attr:`cum_conf`; ``x``: ``(rows, q)`` positions in ``[0, n]``.
        Samples that share a confidence are spread evenly over their positions (the expectation over a
        random order of the ties), so the cumulative is linear inside a tie group and a position may cut a
        group (or a single sample) fractionally. Returns ``(rows, q)``.
        """
        rows, width = self.rows, self.u.size + 1
        p0, flat = self._flat_positions
        off = np.arange(rows)[:, None] * (float(self.n.max()) + 1.0)
        j = np.searchsorted(flat, (x + off).ravel(), side="left").reshape(x.shape) - np.arange(rows)[:, None] * width
        j = np.clip(j, 1, width - 1)  # x = 0 gives j = 0; use the first segment, where the value is 0 at 0
        v0 = np.concatenate([np.zeros((rows, 1)), cum_values], axis=1)
        lo_p, hi_p = np.take_along_axis(p0, j - 1, 1), np.take_along_axis(p0, j, 1)
        lo_v, hi_v = np.take_along_axis(v0, j - 1, 1), np.take_along_axis(v0, j, 1)
        length = hi_p - lo_p
        frac = np.divide(x - lo_p, length, out=np.zeros_like(length), where=length > 0)
        at: np.ndarray = lo_v + frac * (hi_v - lo_v)
        return at


@dataclass(frozen=True)
class Grouped:
    """Samples indexed by unique confidence, ready to produce :class:`Counts` for the data or a resample."""

    u: np.ndarray  # unique confidences, ascending
    code: np.ndarray  # per sample: 2 * group + correct
    n: int

    @classmethod
    def from_arrays(cls, confidence: ArrayLike, correct: ArrayLike) -> "Grouped":
        c, y = validate(confidence, correct)
        u, inv = np.unique(c, return_inverse=True)
        return cls(u=u, code=inv.astype(np.int64) * 2 + y.astype(np.int64), n=c.size)

    def counts(self) -> Counts:
        m = self.u.size
        both = np.bincount(self.code, minlength=2 * m).reshape(1, m, 2).astype(float)
        return Counts(self.u, np.ascontiguousarray(both[:, :, 1]), np.ascontiguousarray(both[:, :, 0]))

    def resampled(self, idx: np.ndarray) -> Counts:
        """Counts of the resamples given by row-wise sample indices ``idx`` (shape ``(rows, k)``)."""
        m = self.u.size
        rows = idx.shape[0]
        key = self.code[idx] + (np.arange(rows, dtype=np.int64) * (2 * m))[:, None]
        both = np.bincount(key.ravel(), minlength=rows * 2 * m).reshape(rows, m, 2).astype(float)
        return Counts(self.u, np.ascontiguousarray(both[:, :, 1]), np.ascontiguousarray(both[:, :, 0]))
