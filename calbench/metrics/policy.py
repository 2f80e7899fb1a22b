"""From sample records to the metrics of ``run.json``: parse-failure policies and the summary with CIs.

Parse failures are never silent: every summary reports ``parse_rate``, and how unparsed replies enter the
metrics is a named policy recorded with the results.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from calbench.metrics.bootstrap import _percentiles, bootstrap
from calbench.metrics.scores import DEFAULT_BINS, DEFAULT_SEL_KS, Settings
from calbench.metrics.terms import DEFAULT_EPS

#: exclude: drop unparsed replies (what the Rewarding Doubt paper did).
#: impute_mean: unparsed replies get the mean parsed confidence; correctness as judged.
#: as_wrong_with_prior: unparsed replies count as wrong, with the mean parsed confidence.
POLICIES = ("exclude", "impute_mean", "as_wrong_with_prior")
DEFAULT_POLICY = "exclude"


def is_parsed(sample: dict[str, Any]) -> bool:
    """Whether a sample record counts as parsed: ``parse_ok`` is true and ``confidence`` is not null."""
    return bool(sample.get("parse_ok")) and sample.get("confidence") is not None


def apply_policy(
    samples: Sequence[dict[str, Any]], policy: str = DEFAULT_POLICY
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Confidence and correctness arrays for the metrics under a parse-failure ``policy``.

    ``samples`` are sample-record dicts (fields ``confidence``, ``parse_ok``, ``correct``). A sample counts as
    parsed when ``parse_ok`` is true and ``confidence`` is not null. Returns ``(confidence, correct, info)``
    with info ``{"policy", "n_total", "n_parsed", "parse_rate", "imputed_confidence"}``. With no parsed sample,
    ``exclude`` returns empty arrays and the other policies have no prior to impute, so they do too.
    Raises ``ValueError`` for an unknown policy or a parsed confidence outside [0, 1], naming the row and id.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown parse policy {policy!r}; choose one of {', '.join(POLICIES)}")
    conf, corr, parsed = [], [], []
    for i, s in enumerate(samples):
        ok = is_parsed(s)
        try:
            y = float(s["correct"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"sample row {i} (id {s.get('id')!r}): correct is {s.get('correct')!r}; it must be 0 or 1"
            ) from None
        if y not in (0.0, 1.0):
            raise ValueError(f"sample row {i} (id {s.get('id')!r}): correct is {s['correct']!r}; it must be 0 or 1")
        c = float(s["confidence"]) if ok else math.nan
        if ok and not 0.0 <= c <= 1.0:
            raise ValueError(
                f"sample row {i} (id {s.get('id')!r}): confidence {s['confidence']!r} is outside "
                "[0, 1]; fix the parser or mark the reply parse_ok=false"
            )
        conf.append(c)
        corr.append(y)
        parsed.append(ok)
    conf_a, corr_a, mask = np.array(conf, dtype=float), np.array(corr, dtype=float), np.array(parsed, dtype=bool)
    n_total, n_parsed = mask.size, int(mask.sum())
    info: dict[str, Any] = {
        "policy": policy,
        "n_total": n_total,
        "n_parsed": n_parsed,
        "parse_rate": n_parsed / n_total if n_total else math.nan,
        "imputed_confidence": None,
    }
    if policy == "exclude" or n_parsed == 0:
        return conf_a[mask], corr_a[mask], info
    prior = float(conf_a[mask].mean())
    info["imputed_confidence"] = prior
    conf_a[~mask] = prior
    if policy == "as_wrong_with_prior":
        corr_a[~mask] = 0.0
    return conf_a, corr_a, info


def metric_settings(
    *,
    policy: str = DEFAULT_POLICY,
    bins: int = DEFAULT_BINS,
    eps: float = DEFAULT_EPS,
    sel_ks: Sequence[float] = DEFAULT_SEL_KS,
    em_bins: int | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """The settings behind a metrics dict, for the run manifest."""
    s = Settings(bins=bins, eps=eps, sel_ks=sel_ks, em_bins=em_bins)
    return {
        "parse_policy": policy,
        "ece_bins": int(s.bins),
        "ece_binning": "equal-width [k/K, (k+1)/K), last bin closed",
        "ece_em_bins": s.equal_mass_bins,
        "log_score_eps": float(s.eps),
        "sel_ks": list(s.sel_ks),
        "brier_decomposition": "grouped by unique confidence value (exact)",
        "smece": "Blasiok & Nakkiran, reflected Gaussian kernel, fixed-point bandwidth (relplot discretisation)",
        "bootstrap": {
            "method": "percentile",
            "n_resamples": int(n_resamples),
            "seed": int(seed),
            "level": float(level),
        },
    }


def _parse_rate_entry(info: dict[str, Any], n_resamples: int, seed: int, level: float) -> dict[str, Any]:
    n, rate = info["n_total"], info["parse_rate"]
    if n == 0:
        return {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "note": "no samples"}
    # The bootstrap distribution of a mean of 0/1 values is exactly Binomial(n, rate) / n.
    draws = np.random.default_rng(seed).binomial(n, rate, size=n_resamples) / n
    lo, hi = _percentiles(draws, level)
    return {"value": float(rate), "ci_low": lo, "ci_high": hi}


def summarize_samples(
    samples: Sequence[dict[str, Any]],
    *,
    policy: str = DEFAULT_POLICY,
    bins: int = DEFAULT_BINS,
    eps: float = DEFAULT_EPS,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    sel_ks: Sequence[float] = DEFAULT_SEL_KS,
    em_bins: int | None = None,
) -> dict[str, dict[str, Any]]:
    """The ``metrics`` dict of ``run.json``: ``{name: {"value", "ci_low", "ci_high"}}`` for every metric of
    :func:`calbench.metrics.score`, plus ``parse_rate`` (over all samples) and ``n`` (samples scored under
    ``policy``). NaN entries carry a ``"note"`` with the reason; if no sample parsed, every metric is NaN
    with that note instead of an error. Record :func:`metric_settings` with the same arguments beside it.
    """
    conf, corr, info = apply_policy(samples, policy)
    settings: dict[str, Any] = dict(bins=bins, eps=eps, sel_ks=sel_ks, em_bins=em_bins)
    names = Settings(**settings).names()
    parse_rate = _parse_rate_entry(info, n_resamples, seed, level)
    if conf.size == 0:
        note = "no samples" if info["n_total"] == 0 else f"no sample parsed (0 of {info['n_total']})"
        out = {k: {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "note": note} for k in names}
        out["n"] = {"value": 0, "ci_low": 0, "ci_high": 0}
    else:
        out = bootstrap(conf, corr, n_resamples=n_resamples, seed=seed, level=level, **settings)  # with "n"
    out["parse_rate"] = parse_rate
    return out
