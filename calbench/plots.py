"""Reliability diagrams and confidence histograms (matplotlib, Agg backend, seaborn styling; PNG only: committed
results keep one raster copy of each figure, so no SVG twins)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from calbench.metrics import apply_policy, score  # noqa: E402
from calbench.metrics.calibration import equal_width_bin  # noqa: E402
from calbench.metrics.counts import Grouped  # noqa: E402
from calbench.metrics.smooth import smece_from_counts, smooth_curve  # noqa: E402
from calbench.metrics.terms import validate  # noqa: E402

_CORRECT, _WRONG, _CURVE = "#2a9d8f", "#e76f51", "#264653"


def headline_text(conf: np.ndarray, corr: np.ndarray) -> str:
    """n and the headline metrics on one line (a plot's subtitle)."""
    m = score(conf, corr)
    auroc = "n/a" if np.isnan(m["auroc"]) else f"{m['auroc']:.3f}"
    return (f"n={m['n']}  acc={m['accuracy']:.3f}  ECE={m['ece']:.3f}  smECE={m['smece']:.3f}  "
            f"Brier={m['brier']:.3f}  AUROC={auroc}")


def _suptitle(fig: plt.Figure, title: str, headline: bool | str, conf: np.ndarray, corr: np.ndarray) -> None:
    if headline:
        title += "\n" + (headline if isinstance(headline, str) else headline_text(conf, corr))
    fig.suptitle(title, fontsize=10)


def _save(fig: plt.Figure, path_stem: str | Path) -> list[Path]:
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    path = stem.with_name(stem.name + ".png")
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return [path]


def reliability_diagram(confidence, correct, *, title: str, path_stem: str | Path, bins: int = 10,
                        n_resamples: int = 200, seed: int = 0, headline: bool | str = True) -> list[Path]:
    """Binned accuracy against mean confidence (bars, with per-bin counts below), the diagonal, and the smooth
    reliability curve of smECE with a percentile-bootstrap band. Writes ``<path_stem>.png``.

    ``title`` names what is plotted (model, task, method); with ``headline`` a second line adds n and the
    headline metrics (pass the text of :func:`headline_text` when it is already computed).
    """
    conf, corr = validate(confidence, correct)
    grouped = Grouped.from_arrays(conf, corr)
    counts = grouped.counts()
    _, sigma = smece_from_counts(counts, return_sigma=True)
    sigma = float(sigma[0])
    t, acc, dens = smooth_curve(counts, sigma)
    idx = np.random.default_rng(seed).integers(0, conf.size, size=(n_resamples, conf.size))
    _, acc_r, _ = smooth_curve(grouped.resampled(idx), sigma)
    band_lo, band_hi = np.percentile(acc_r, [2.5, 97.5], axis=0)

    b = equal_width_bin(conf, bins)
    n_b = np.bincount(b, minlength=bins)
    acc_b = np.divide(np.bincount(b, corr, bins), n_b, out=np.full(bins, np.nan), where=n_b > 0)
    conf_b = np.divide(np.bincount(b, conf, bins), n_b, out=np.full(bins, np.nan), where=n_b > 0)
    left = np.arange(bins) / bins

    with sns.axes_style("whitegrid"):
        fig, (ax, axc) = plt.subplots(2, 1, figsize=(6, 6.6), sharex=True,
                                      gridspec_kw={"height_ratios": [4, 1], "hspace": 0.08})
        ax.bar(left, np.nan_to_num(acc_b), width=1 / bins, align="edge", color=_CORRECT, alpha=0.35,
               edgecolor=_CORRECT, label="binned accuracy")
        ax.scatter(conf_b, acc_b, color=_CORRECT, s=22, zorder=3, label="bin: (mean confidence, accuracy)")
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
        ax.fill_between(t, np.clip(band_lo, 0, 1), np.clip(band_hi, 0, 1), color=_CURVE, alpha=0.18,
                        label=f"95% bootstrap band ({n_resamples} resamples)")
        ax.plot(t, np.clip(acc[0], 0, 1), color=_CURVE, lw=2, label=f"smooth curve (sigma={sigma:.3f})")
        ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
        ax.legend(loc="upper left", fontsize=7.5, frameon=True)
        axc.bar(left, n_b, width=1 / bins, align="edge", color="#8d99ae", edgecolor="white")
        for x, k in zip(left, n_b):
            if k:
                axc.annotate(str(k), (x + 0.5 / bins, k), ha="center", va="bottom", fontsize=7)
        axc.set(xlabel="stated confidence", ylabel="count", ylim=(0, max(1, n_b.max()) * 1.3))
        _suptitle(fig, title, headline, conf, corr)
        return _save(fig, path_stem)


def confidence_histogram(confidence, correct, *, title: str, path_stem: str | Path, bins: int = 10,
                         headline: bool | str = True) -> list[Path]:
    """Histogram of stated confidence (equal-width bins), stacked by correct / wrong answers."""
    conf, corr = validate(confidence, correct)
    b = equal_width_bin(conf, bins)
    right = np.bincount(b, corr, bins)
    wrong = np.bincount(b, 1 - corr, bins)
    left = np.arange(bins) / bins
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar(left, right, width=1 / bins, align="edge", color=_CORRECT, edgecolor="white", label="correct")
        ax.bar(left, wrong, width=1 / bins, bottom=right, align="edge", color=_WRONG, edgecolor="white",
               label="wrong")
        ax.set(xlim=(0, 1), xlabel="stated confidence", ylabel="count")
        ax.legend(loc="upper left", fontsize=8)
        _suptitle(fig, title, headline, conf, corr)
        return _save(fig, path_stem)


def plot_run(samples: Sequence[dict], out_dir: str | Path, title: str, *, policy: str = "exclude",
             bins: int = 10, n_resamples: int = 200, seed: int = 0, suffix: str = "") -> list[Path]:
    """Both plots for a list of sample records (scored under ``policy``) in ``out_dir``; returns the paths.
    Writes nothing and returns [] if no sample is left to plot."""
    conf, corr, info = apply_policy(samples, policy)
    if conf.size == 0:
        return []
    title = f"{title}  (parse rate {info['parse_rate']:.0%}, policy {policy})"
    out = Path(out_dir)
    head = headline_text(conf, corr)  # the same subtitle on both plots, computed once
    return (reliability_diagram(conf, corr, title=title, path_stem=out / f"reliability{suffix}", bins=bins,
                                n_resamples=n_resamples, seed=seed, headline=head)
            + confidence_histogram(conf, corr, title=title, path_stem=out / f"confidence_hist{suffix}", bins=bins,
                                   headline=head))
