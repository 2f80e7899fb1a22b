"""Post-hoc scalers: map a method's confidence to a calibrated probability, fitted on a calibration split.

scikit-learn style: parameters in ``__init__``, ``fit(confidence, correct)`` returns the scaler, learned
state ends in ``_``, ``predict(confidence)`` returns calibrated probabilities in [0, 1].

* :class:`PlattScaler` -- logistic regression on the logit: p = sigmoid(a * logit(c) + b) (Platt, 1999).
* :class:`TemperatureScaler` -- one parameter: p = sigmoid(logit(c) / T), T > 0 minimising the log loss
  (Guo et al., 2017, for a binary "is correct" probability).
* :class:`IsotonicScaler` -- the non-decreasing step function of c minimising squared error (PAV;
  Zadrozny & Elkan, 2002); monotone by construction.
* :class:`HistogramBinningScaler` -- K equal-width bins of c; p = the fraction correct among the
  calibration samples in c's bin (Zadrozny & Elkan, 2001); an empty bin keeps its centre.

:func:`stated_levels` rounds probabilities to the levels of a stated confidence scale ("0-10": 0, 0.1, ..., 1),
each to the level with the best expected log score: what a model that states its confidence on that scale
could at best say with the scaled method's information (``calbench calibrate --stated-scale``).

logit(c) = log(c / (1 - c)) with c clipped to [eps, 1 - eps] (eps = 1e-6 by default), so that stated
confidences of exactly 0 or 1 stay finite.

A scaler must never see the test data: :func:`fit_on_calibration` fits on the calibration samples and
applies to the test samples, and raises :class:`CalibrationLeakError` if the two share an example id.
"""

from __future__ import annotations

from typing import Any, Sequence, overload

import numpy as np
from numpy.typing import ArrayLike

from calbench.metrics import is_parsed
from calbench.metrics.calibration import equal_width_bin

DEFAULT_EPS = 1e-6


class CalibrationLeakError(ValueError):
    """The calibration data and the test data overlap."""


@overload
def _validate(confidence: ArrayLike, correct: None = None) -> tuple[np.ndarray, None]: ...
@overload
def _validate(confidence: ArrayLike, correct: ArrayLike) -> tuple[np.ndarray, np.ndarray]: ...


def _validate(confidence: ArrayLike, correct: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    c = np.asarray(confidence, dtype=float).ravel()
    if c.size == 0:
        raise ValueError("no confidences given (nothing to fit or calibrate)")
    if np.isnan(c).any():
        raise ValueError(f"{int(np.isnan(c).sum())} confidence(s) are NaN; drop unparsed samples first")
    if (c < 0).any() or (c > 1).any():
        bad = c[(c < 0) | (c > 1)][0]
        raise ValueError(f"confidences must lie in [0, 1]; found {bad!r}")
    if correct is None:
        return c, None
    y = np.asarray(correct, dtype=float).ravel()
    if y.shape != c.shape:
        raise ValueError(f"confidence has {c.size} values but correct has {y.size}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("correct must hold only 0 and 1")
    return c, y


def logit(c: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    c = np.clip(c, eps, 1 - eps)
    return np.log(c) - np.log1p(-c)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * z))  # numerically stable for large |z|


class _Scaler:
    name = ""

    def _check_fitted(self) -> None:
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(confidence, correct) first")

    def fit(self, confidence: ArrayLike, correct: ArrayLike) -> "_Scaler":  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, confidence: ArrayLike) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit_predict(self, confidence: ArrayLike, correct: ArrayLike) -> np.ndarray:
        return self.fit(confidence, correct).predict(confidence)

    def params(self) -> dict[str, Any]:
        """The learned state (JSON-serialisable), for the run manifest."""
        self._check_fitted()
        out = {}
        for k, v in vars(self).items():
            if k.endswith("_") and not k.startswith("_"):
                out[k] = v.tolist() if isinstance(v, np.ndarray) else (float(v) if np.isscalar(v) else repr(v))  # type: ignore[arg-type]
        return out


class PlattScaler(_Scaler):
    """p = sigmoid(a * logit(c) + b), (a, b) by unregularised logistic regression (scikit-learn)."""

    name = "platt"

    def __init__(self, eps: float = DEFAULT_EPS):
        self.eps = eps

    def fit(self, confidence: ArrayLike, correct: ArrayLike) -> "PlattScaler":
        from sklearn.linear_model import LogisticRegression

        c, y = _validate(confidence, correct)
        if np.unique(y).size < 2:  # logistic regression needs both classes: the MLE is the constant rate
            self.coef_, self.intercept_ = 0.0, float(logit(np.array([y.mean()]), self.eps)[0])
            return self
        lr = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000)
        lr.fit(logit(c, self.eps).reshape(-1, 1), y.astype(int))
        self.coef_, self.intercept_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        return self

    def predict(self, confidence: ArrayLike) -> np.ndarray:
        self._check_fitted()
        c, _ = _validate(confidence)
        return sigmoid(self.coef_ * logit(c, self.eps) + self.intercept_)


class TemperatureScaler(_Scaler):
    """p = sigmoid(logit(c) / T); T minimises the binary log loss on the calibration data (searched over
    log T in [log 0.01, log 100])."""

    name = "temperature"

    def __init__(self, eps: float = DEFAULT_EPS):
        self.eps = eps

    def fit(self, confidence: ArrayLike, correct: ArrayLike) -> "TemperatureScaler":
        from scipy.optimize import minimize_scalar

        c, y = _validate(confidence, correct)
        z = logit(c, self.eps)

        def nll(log_t: float) -> float:
            p = np.clip(sigmoid(z / np.exp(log_t)), 1e-12, 1 - 1e-12)
            return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))

        res = minimize_scalar(nll, bounds=(np.log(0.01), np.log(100.0)), method="bounded", options={"xatol": 1e-6})
        self.temperature_ = float(np.exp(res.x))
        return self

    def predict(self, confidence: ArrayLike) -> np.ndarray:
        self._check_fitted()
        c, _ = _validate(confidence)
        return sigmoid(logit(c, self.eps) / self.temperature_)


class IsotonicScaler(_Scaler):
    """The non-decreasing fit of correctness on c (scikit-learn ``IsotonicRegression``, outputs in [0, 1],
    clipped outside the calibration range)."""

    name = "isotonic"

    def fit(self, confidence: ArrayLike, correct: ArrayLike) -> "IsotonicScaler":
        from sklearn.isotonic import IsotonicRegression

        c, y = _validate(confidence, correct)
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        iso.fit(c, y)
        self.x_thresholds_ = np.asarray(iso.X_thresholds_, dtype=float)
        self.y_thresholds_ = np.asarray(iso.y_thresholds_, dtype=float)
        return self

    def predict(self, confidence: ArrayLike) -> np.ndarray:
        self._check_fitted()
        c, _ = _validate(confidence)
        # IsotonicRegression's prediction: linear interpolation between thresholds, constant outside.
        return np.clip(np.interp(c, self.x_thresholds_, self.y_thresholds_), 0.0, 1.0)


class HistogramBinningScaler(_Scaler):
    """K equal-width bins [k/K, (k+1)/K) (the last closed); p = mean correctness of the bin's calibration
    samples; a bin without calibration samples keeps its centre (k + 0.5) / K."""

    name = "histogram"

    def __init__(self, n_bins: int = 10):
        if int(n_bins) != n_bins or n_bins < 1:
            raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}")
        self.n_bins = int(n_bins)

    def _bin(self, c: np.ndarray) -> np.ndarray:
        return equal_width_bin(c, self.n_bins)

    def fit(self, confidence: ArrayLike, correct: ArrayLike) -> "HistogramBinningScaler":
        c, y = _validate(confidence, correct)
        b = self._bin(c)
        counts = np.bincount(b, minlength=self.n_bins)
        hits = np.bincount(b, weights=y, minlength=self.n_bins)
        centres = (np.arange(self.n_bins) + 0.5) / self.n_bins
        self.bin_counts_ = counts
        self.bin_values_ = np.where(counts > 0, hits / np.maximum(counts, 1), centres)
        return self

    def predict(self, confidence: ArrayLike) -> np.ndarray:
        self._check_fitted()
        c, _ = _validate(confidence)
        return self.bin_values_[self._bin(c)]


def stated_levels(p: ArrayLike, scale: str = "0-10", eps: float = 1e-3) -> np.ndarray:
    """Each probability ``p`` rounded to the level of ``scale`` (integers 0..K, read as k/K) that maximises the
    expected log score ``p log q + (1 - p) log(1 - q)``, with q = k/K clipped to ``[eps, 1 - eps]`` (the
    clipping of the log score metric and of the trainer's reward). For a model that states its confidence on
    the scale and is scored by the log score, this is the best statement given belief ``p``; the level
    boundaries are not the midpoints (on "0-10": "1" below p = 0.1452, "2" up to 0.2477).
    Ties go to the lower level."""
    from calbench.parse import SCALES

    if scale not in SCALES or SCALES[scale] < 2:
        raise ValueError(
            f"stated levels need an integer scale; got {scale!r} (use one of "
            f"{', '.join(s for s, k in SCALES.items() if k >= 2)})"
        )
    c, _ = _validate(p)
    k = int(SCALES[scale])
    q = np.clip(np.arange(k + 1) / k, eps, 1 - eps)
    expected = c[:, None] * np.log(q)[None, :] + (1 - c[:, None]) * np.log1p(-q)[None, :]
    return np.argmax(expected, axis=1) / k


SCALERS: dict[str, type] = {
    cls.name: cls for cls in (PlattScaler, TemperatureScaler, IsotonicScaler, HistogramBinningScaler)
}


def make_scaler(name: str, **params: Any) -> _Scaler:
    if name not in SCALERS:
        raise ValueError(f"unknown scaler {name!r}; available: {', '.join(SCALERS)}")
    return SCALERS[name](**params)


def _scored(samples: Sequence[dict]) -> list[dict]:
    return [s for s in samples if is_parsed(s)]


def check_disjoint(calibration: Sequence[dict], test: Sequence[dict]) -> None:
    """Raise :class:`CalibrationLeakError` if a (task, id) pair occurs in both sample lists."""
    cal_ids = {(s.get("task"), s["id"]) for s in calibration}
    shared = sorted(k for k in {(s.get("task"), s["id"]) for s in test} if k in cal_ids)
    if shared:
        ex = ", ".join(f"{t}/{i}" for t, i in shared[:3])
        raise CalibrationLeakError(
            f"the calibration and test samples share {len(shared)} example(s) (e.g. {ex}); a scaler must be "
            "fitted on a split disjoint from the one it is evaluated on"
        )


def fit_on_calibration(scaler: _Scaler, calibration: Sequence[dict], test: Sequence[dict]) -> list[dict]:
    """Fit ``scaler`` on the parsed calibration samples only, then return the test samples recalibrated.

    Each returned record is a copy with ``confidence`` replaced by the scaler's prediction and the original
    kept in ``raw_confidence``; unparsed test samples keep ``confidence = None``. Raises
    :class:`CalibrationLeakError` when the two lists share an example, ``ValueError`` when the calibration
    list has no parsed sample.
    """
    check_disjoint(calibration, test)
    fit_rows = _scored(calibration)
    if not fit_rows:
        raise ValueError(
            f"no parsed calibration sample to fit the {scaler.name} scaler on "
            f"({len(calibration)} samples, none with a confidence)"
        )
    scaler.fit([s["confidence"] for s in fit_rows], [s["correct"] for s in fit_rows])
    rows = _scored(test)
    pred = iter(scaler.predict([s["confidence"] for s in rows]).tolist()) if rows else iter(())
    out = []
    for s in test:
        new = dict(s)
        new["raw_confidence"] = s.get("confidence")
        if is_parsed(s):
            new["confidence"] = float(next(pred))
        out.append(new)
    return out
