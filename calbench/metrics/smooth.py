"""Smooth ECE (Blasiok & Nakkiran, "Smooth ECE: Principled Reliability Diagrams via Kernel Smoothing", 2023).

Definition (with the discretisation of the authors' package ``relplot``, so the numbers agree with it):

* smECE_sigma: smooth the residuals r_i = p_i - y_i and the sample density over confidence with a Gaussian
  kernel of width sigma, reflected at 0 and 1:  R(t) = sum_i K_sigma(t, p_i) r_i,  D(t) = sum_i K_sigma(t, p_i);
  smECE_sigma = integral |R(t)| dt / integral (D(t) + 1e-4) dt.
  The samples are first spread linearly onto a grid of E = max(2000, round(20/sigma)) // 2 + 1 points, the
  kernel is applied on that grid (truncated at half the unit interval), and the integrals are sums over
  T = max(round(10/sigma), 200) evenly spaced points, linearly interpolated from the grid.
* smECE = smECE_sigma* at the fixed point sigma* = smECE_sigma*, found by 10 steps of bisection on [0, 1]
  (predicate: sigma < 1e-3 or sigma < smECE_sigma), taking the upper end of the final bracket.

Both pieces are linear in the per-sample weights, so a bootstrap resample only changes two grid histograms;
the bisection runs for all resamples at once, grouping those that probe the same sigma.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal, overload

import numpy as np
from scipy import sparse
from scipy.signal import fftconvolve

from calbench.metrics.counts import Counts

_DENSITY_EPS = 1e-4
_MIN_EVAL_POINTS = 200
_BISECTION_STEPS = 10
_SIGMA_FLOOR = 1e-3
#: Above this many entries of the (grid x eval points) matrix, convolve with an FFT instead.
_MATRIX_LIMIT = 4_500_000


def grid_size(sigma: float) -> int:
    return max(2000, round(20 / sigma)) // 2 + 1


def eval_points(sigma: float) -> int:
    return max(round(10 / sigma), _MIN_EVAL_POINTS)


def _kernel_table(sigma: float, e: int) -> np.ndarray:
    """kappa[d] for grid distances d = 0 .. 2(e-1): Gaussian density, zero beyond half the interval."""
    h = 1.0 / (e - 1)
    d = np.arange(2 * e - 1)
    kap: np.ndarray = np.exp(-((d * h) ** 2) / (2 * sigma**2)) / (math.sqrt(2 * math.pi) * sigma)
    kap[d > e // 2] = 0.0
    return kap


def _interp_weights(e: int, t_count: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0, 1, t_count)
    h = 1.0 / (e - 1)
    ind = (t * (e - 1)).astype(int).clip(0, e - 2)
    frac = (t - ind * h) / h
    return ind, frac


@lru_cache(maxsize=256)
def _eval_matrix(sigma: float, e: int, t_count: int) -> np.ndarray:
    """L (e x T): grid values -> reflected-kernel smoothing -> values at the T evaluation points.

    Row k of the grid smoothing matrix is kappa(|k - g|) + kappa(k + g) [g >= 1, mirror at 0]
    + kappa(2(e-1) - k - g) [g <= e-2, mirror at 1]; each term is a window of a kernel table, so the rows
    needed for the interpolation are gathered from sliding-window views instead of computed.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    kap = _kernel_table(sigma, e)  # d = 0 .. 2(e-1)
    direct = sliding_window_view(np.concatenate([kap[:0:-1], kap]), e)  # row 2e-2-k: kappa(|k - g|)
    mirror0 = sliding_window_view(kap, e)  # row k: kappa(k + g)
    mirror1 = sliding_window_view(kap[::-1].copy(), e)  # row k: kappa(2(e-1) - k - g)
    ind, frac = _interp_weights(e, t_count)

    def rows(k: np.ndarray) -> np.ndarray:
        m0, m1 = mirror0[k], mirror1[k]
        m0[:, 0] = 0.0  # g = 0 has no mirror image at 0
        m1[:, -1] = 0.0  # g = e-1 has none at 1
        out: np.ndarray = direct[2 * e - 2 - k] + m0 + m1
        return out

    lm = (1 - frac)[:, None] * rows(ind) + frac[:, None] * rows(ind + 1)
    return np.ascontiguousarray(lm.T)


def _smooth_fft(h: np.ndarray, sigma: float, e: int, t_count: int) -> np.ndarray:
    """Same map as ``h @ _eval_matrix(...)``, by FFT convolution (for small sigma, where the matrix is big)."""
    x = np.linspace(0, 1, e)
    ker = np.exp(-((x - 0.5) ** 2) / (2 * sigma**2)) / (math.sqrt(2 * math.pi) * sigma)
    ext = np.concatenate([h[:, :0:-1], h, h[:, -2::-1]], axis=1)
    conv = fftconvolve(ext, ker[None, :], mode="valid", axes=1)[:, e // 2 : e // 2 + e]
    ind, frac = _interp_weights(e, t_count)
    out: np.ndarray = conv[:, ind] * (1 - frac) + conv[:, ind + 1] * frac
    return out


class _Grids:
    """Grid histograms, per row, of the residual weight ``p - y`` (``res``), the sample count (``den``) and the
    correct count (``pos``), each spread linearly onto the grid as relplot's ``smooth_round_to_grid`` does;
    cached per grid size."""

    def __init__(self, c: Counts):
        self.u = c.u
        self._weights = {
            "res": c.cnt * c.u[None, :] - c.pos,  # sum of (p_i - y_i) at each unique confidence
            "den": c.cnt,
            "pos": c.pos,
        }
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def grid(self, name: str, e: int) -> np.ndarray:
        if (name, e) not in self._cache:
            w = self._weights[name]
            m = self.u.size
            b = (self.u * (e - 1)).astype(int).clip(0, e - 2)
            frac = self.u * (e - 1) - b
            if w.shape[0] <= 4:  # the point estimate: bincount is cheapest
                h = np.stack([np.bincount(b, r * (1 - frac), e) + np.bincount(b + 1, r * frac, e) for r in w])
            else:  # many resamples: one sparse product
                rows = np.concatenate([np.arange(m), np.arange(m)])
                s = sparse.csr_matrix(
                    (np.concatenate([1 - frac, frac]), (np.concatenate([b, b + 1]), rows)), shape=(e, m)
                )
                h = np.asarray(s @ w.T).T
            self._cache[(name, e)] = h
        return self._cache[(name, e)]

    def get(self, e: int) -> tuple[np.ndarray, np.ndarray]:
        return self.grid("res", e), self.grid("den", e)


def _smooth_rows(h: np.ndarray, sigma: float, e: int, t_count: int) -> np.ndarray:
    """Grid histograms (rows) -> reflected-kernel smoothing -> values at ``t_count`` evaluation points."""
    if e * t_count <= _MATRIX_LIMIT:
        out: np.ndarray = h @ _eval_matrix(sigma, e, t_count)
        return out
    return _smooth_fft(h, sigma, e, t_count)


def _smece_sigma_rows(grids: _Grids, rows: np.ndarray, sigma: float) -> np.ndarray:
    e, t_count = grid_size(sigma), eval_points(sigma)
    hres, hden = grids.get(e)
    r, d = _smooth_rows(hres[rows], sigma, e, t_count), _smooth_rows(hden[rows], sigma, e, t_count)
    out: np.ndarray = np.abs(r).sum(axis=1) / (d + _DENSITY_EPS).sum(axis=1)
    return out


def smece_sigma_from_counts(c: Counts, sigma: float) -> np.ndarray:
    """smECE at a fixed kernel width ``sigma`` (see the module docstring), one value per row."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive; got {sigma}")
    return _smece_sigma_rows(_Grids(c), np.arange(c.rows), float(sigma))


@overload
def smece_from_counts(c: Counts, return_sigma: Literal[False] = False) -> np.ndarray: ...
@overload
def smece_from_counts(c: Counts, return_sigma: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def smece_from_counts(c: Counts, return_sigma: bool) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...


def smece_from_counts(c: Counts, return_sigma: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """smECE with its bandwidth chosen as the fixed point sigma = smECE_sigma (see the module docstring)."""
    grids = _Grids(c)
    rows = c.rows
    lo = np.zeros(rows)  # relplot's "end": predicate true
    hi = np.ones(rows)  # relplot's "start": predicate false; the answer is smECE at hi
    value_at_hi = np.full(rows, np.nan)
    for _ in range(_BISECTION_STEPS):
        mid = (lo + hi) / 2
        vals = np.full(rows, np.inf)
        for sigma in np.unique(mid):
            sel = np.flatnonzero(mid == sigma)
            if sigma >= _SIGMA_FLOOR:
                vals[sel] = _smece_sigma_rows(grids, sel, float(sigma))
        true = (mid < _SIGMA_FLOOR) | (mid < vals)
        lo = np.where(true, mid, lo)
        hi = np.where(true, hi, mid)
        value_at_hi = np.where(true, value_at_hi, vals)
    # smECE_1 is at most max |p - y| <= 1 (strictly below, with the density epsilon), so the predicate is false
    # at sigma = 1 and the bracket's upper end may still be 1: evaluate it there.
    still = np.flatnonzero(np.isnan(value_at_hi))
    if still.size:
        value_at_hi[still] = _smece_sigma_rows(grids, still, 1.0)
    return (value_at_hi, hi) if return_sigma else value_at_hi


def reliability_curve(c: Counts, sigma: float, t_count: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The smoothed reliability curve relplot draws, for plots: ``(t, accuracy(t), density(t))``, one row of
    accuracy and density per row of ``c``, at ``t_count`` evenly spaced points of [0, 1].

    accuracy(t) = Y(t) / (D(t) + 1e-4): the Nadaraya-Watson estimate of P(correct | confidence = t) with the
    reflected Gaussian kernel of width sigma, Y(t) = sum_i K_sigma(t, p_i) y_i and D(t) as in the module
    docstring, discretised the same way. density(t) = D(t) / n, the kernel density of the confidences.
    With sigma = smECE's width these are relplot's ``prepare_rel_diagram`` "mu" (without bootstrap bagging) and
    "density". Where no sample is near t, D(t) ~ 0 and accuracy(t) falls to 0: the curve means nothing there,
    and plots must not draw it (see :func:`calbench.figures.prepare_reliability_diagram`).
    """
    sigma = float(sigma)
    if not sigma > 0:
        raise ValueError(f"sigma must be positive; got {sigma}")
    grids = _Grids(c)
    e = grid_size(sigma)
    y = _smooth_rows(grids.grid("pos", e), sigma, e, int(t_count))
    d = _smooth_rows(grids.grid("den", e), sigma, e, int(t_count))
    t = np.linspace(0, 1, int(t_count))
    return t, y / (d + _DENSITY_EPS), d / c.n[:, None]
