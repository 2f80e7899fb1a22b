"""Reliability diagrams and confidence histograms (matplotlib, Agg backend, seaborn styling; PNG only: committed
results keep one raster copy of each figure, so no SVG twins)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from calbench.metrics import apply_policy, score  # noqa: E402
from calbench.metrics.calibration import equal_width_bin  # noqa: E402
from calbench.metrics.counts import Grouped  # noqa: E402
from calbench.metrics.smooth import reliability_curve, smece_from_counts  # noqa: E402
from calbench.metrics.terms import validate  # noqa: E402

_CORRECT, _WRONG, _CURVE = "#2a9d8f", "#e76f51", "#264653"


def headline_text(conf: np.ndarray, corr: np.ndarray) -> str:
    """n and the headline metrics on one line (a plot's subtitle)."""
    m = score(conf, corr)
    auroc = "n/a" if np.isnan(m["auroc"]) else f"{m['auroc']:.3f}"
    return (
        f"n={m['n']}  acc={m['accuracy']:.3f}  ECE={m['ece']:.3f}  smECE={m['smece']:.3f}  "
        f"Brier={m['brier']:.3f}  AUROC={auroc}"
    )


def _suptitle(fig: plt.Figure, title: str, headline: bool | str, conf: np.ndarray, corr: np.ndarray) -> None:
    if headline:
        title += "\n" + (headline if isinstance(headline, str) else headline_text(conf, corr))
    # Above the figure's top edge, growing upwards: however many lines the title has, it never covers the
    # axes (bbox_inches="tight" at saving takes it into the image).
    fig.suptitle(title, fontsize=10, y=1.0, va="bottom")


#: palette size of committed figures: line plots in a handful of colours plus anti-aliasing look the same with
#: 32 colours as with 256, and take about a quarter fewer bytes (results/: 12.6 -> 9.6 MiB)
PNG_COLORS = 32


def quantize_png(data: bytes, colors: int = PNG_COLORS) -> bytes:
    """A PNG re-encoded with a ``colors``-colour palette (median cut, optimized): line plots look the same and
    take about a third of the bytes of the RGBA original. Committed figures travel with every GPU call and count
    against the tree size. A palette PNG that already uses at most ``colors`` colours is returned as it is."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        if im.mode == "P" and im.getcolors(colors) is not None:
            return data
        q = im.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    q.save(out, format="PNG", optimize=True)
    return out.getvalue()


def save_png(fig: plt.Figure, path: str | Path, **savefig_kwargs) -> Path:
    """``fig.savefig`` to ``path`` as a palette PNG (:func:`quantize_png`); closes the figure."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", **savefig_kwargs)
    plt.close(fig)
    Path(path).write_bytes(quantize_png(buf.getvalue()))
    return Path(path)


#: resolution of a run's figures: ~600 px wide, legible in a report or on GitHub, and about 60 % of the bytes of
#: 150 dpi (a reliability diagram: 16 vs 27 KB); committed figures count against the tree's size limit
FIGURE_DPI = 100


def _save(fig: plt.Figure, path_stem: str | Path) -> list[Path]:
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    return [save_png(fig, stem.with_name(stem.name + ".png"), dpi=FIGURE_DPI, bbox_inches="tight")]


#: The curve is drawn only within this many kernel widths of some sample (and never beyond the kernel's
#: support, half the unit interval): farther away the smoother has no data and its value means nothing.
REACH_SIGMAS = 2.0


@dataclass(frozen=True)
class ReliabilityDiagram:
    """What a reliability diagram shows, prepared apart from drawing it (relplot's ``prepare_rel_diagram``).

    Bins are equal-width, [a, b) with the last closed (``bin_*`` arrays; NaN where a bin is empty). The smooth
    curve is relplot's (:func:`calbench.metrics.smooth.reliability_curve` at smECE's width ``sigma``), given at
    every point ``t``; ``supported`` marks the points with a sample within ``reach`` = min(2 sigma, 0.5), the
    only ones drawn. ``band_low``/``band_high``: 95 % percentile-bootstrap band of the curve (same sigma).
    """

    n: int
    bins: int
    bin_count: np.ndarray
    bin_accuracy: np.ndarray
    bin_confidence: np.ndarray
    smece: float
    sigma: float
    t: np.ndarray
    accuracy: np.ndarray
    density: np.ndarray
    supported: np.ndarray
    reach: float
    band_low: np.ndarray
    band_high: np.ndarray
    n_resamples: int


def _near_a_sample(t: np.ndarray, u: np.ndarray, reach: float) -> np.ndarray:
    """For each t: is some sorted unique confidence u within ``reach``?"""
    i = np.searchsorted(u, t)
    left = np.abs(t - u[np.maximum(i - 1, 0)])
    right = np.abs(t - u[np.minimum(i, u.size - 1)])
    return np.minimum(left, right) <= reach + 1e-12


def prepare_reliability_diagram(
    confidence, correct, *, bins: int = 10, n_resamples: int = 200, seed: int = 0, t_count: int = 200
) -> ReliabilityDiagram:
    """The data of a reliability diagram (see :class:`ReliabilityDiagram`); no drawing."""
    conf, corr = validate(confidence, correct)
    grouped = Grouped.from_arrays(conf, corr)
    counts = grouped.counts()
    smece, sigmas = smece_from_counts(counts, return_sigma=True)
    sigma = float(sigmas[0])
    t, acc, dens = reliability_curve(counts, sigma, t_count)
    idx = np.random.default_rng(seed).integers(0, conf.size, size=(n_resamples, conf.size))
    _, acc_r, _ = reliability_curve(grouped.resampled(idx), sigma, t_count)
    band_lo, band_hi = np.percentile(acc_r, [2.5, 97.5], axis=0)
    reach = min(REACH_SIGMAS * sigma, 0.5)

    b = equal_width_bin(conf, bins)
    n_b = np.bincount(b, minlength=bins)
    acc_b = np.divide(np.bincount(b, corr, bins), n_b, out=np.full(bins, np.nan), where=n_b > 0)
    conf_b = np.divide(np.bincount(b, conf, bins), n_b, out=np.full(bins, np.nan), where=n_b > 0)
    return ReliabilityDiagram(
        n=int(conf.size),
        bins=bins,
        bin_count=n_b,
        bin_accuracy=acc_b,
        bin_confidence=conf_b,
        smece=float(smece[0]),
        sigma=sigma,
        t=t,
        accuracy=acc[0],
        density=dens[0],
        supported=_near_a_sample(t, grouped.u, reach),
        reach=reach,
        band_low=band_lo,
        band_high=band_hi,
        n_resamples=n_resamples,
    )


def plot_reliability_diagram(d: ReliabilityDiagram, *, title: str, headline: str = "") -> plt.Figure:
    """Draw a prepared diagram: binned accuracy (bars, with per-bin counts below), the diagonal, and the smooth
    curve with its bootstrap band, both only where data is near (``d.supported``); the curve's width and
    opacity follow the density of the confidences, so thin data shows as a faint, thin line."""
    left = np.arange(d.bins) / d.bins
    with sns.axes_style("whitegrid"):
        fig, (ax, axc) = plt.subplots(
            2, 1, figsize=(6, 6.6), sharex=True, gridspec_kw={"height_ratios": [4, 1], "hspace": 0.08}
        )
        ax.bar(
            left,
            np.nan_to_num(d.bin_accuracy),
            width=1 / d.bins,
            align="edge",
            color=_CORRECT,
            alpha=0.35,
            edgecolor=_CORRECT,
            label="binned accuracy",
        )
        ax.scatter(
            d.bin_confidence, d.bin_accuracy, color=_CORRECT, s=22, zorder=3, label="bin: (mean confidence, accuracy)"
        )
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
        ax.fill_between(
            d.t,
            d.band_low,
            d.band_high,
            where=d.supported,
            color=_CURVE,
            alpha=0.18,
            lw=0,
            label=f"95% bootstrap band ({d.n_resamples} resamples)",
        )
        seg = d.supported[:-1] & d.supported[1:]
        points = np.column_stack([d.t, d.accuracy])
        weight = np.sqrt(d.density / max(float(d.density[d.supported].max(initial=0.0)), 1e-300)).clip(0, 1)
        w = (weight[:-1] + weight[1:])[seg] / 2
        colour = np.tile(matplotlib.colors.to_rgba(_CURVE), (w.size, 1))
        colour[:, 3] = 0.2 + 0.8 * w
        if w.size:  # no segment is near data when every confidence is one value: no curve (an empty one breaks
            # the legend)
            ax.add_collection(
                LineCollection(
                    np.stack([points[:-1], points[1:]], axis=1)[seg],
                    colors=colour,
                    linewidths=0.6 + 2.4 * w,
                    capstyle="round",
                    label=f"smooth curve (sigma={d.sigma:.3f}; width ~ density; none > {d.reach:.2f} from data)",
                )
            )
        ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
        ax.legend(loc="upper left", fontsize=7.5, frameon=True)
        axc.bar(left, d.bin_count, width=1 / d.bins, align="edge", color="#8d99ae", edgecolor="white")
        for x, k in zip(left, d.bin_count):
            if k:
                axc.annotate(str(k), (x + 0.5 / d.bins, k), ha="center", va="bottom", fontsize=7)
        axc.set(xlabel="stated confidence", ylabel="count", ylim=(0, max(1, d.bin_count.max()) * 1.3))
        fig.suptitle(title + (f"\n{headline}" if headline else ""), fontsize=10)
    return fig


def reliability_diagram(
    confidence,
    correct,
    *,
    title: str,
    path_stem: str | Path,
    bins: int = 10,
    n_resamples: int = 200,
    seed: int = 0,
    headline: bool | str = True,
) -> list[Path]:
    """Prepare and draw a reliability diagram (:func:`prepare_reliability_diagram`,
    :func:`plot_reliability_diagram`); writes ``<path_stem>.png`` and returns its path in a list.

    ``title`` names what is plotted (model, task, method); with ``headline`` a second line adds n and the
    headline metrics (pass the text of :func:`headline_text` when it is already computed).
    """
    conf, corr = validate(confidence, correct)
    diagram = prepare_reliability_diagram(conf, corr, bins=bins, n_resamples=n_resamples, seed=seed)
    head = (headline if isinstance(headline, str) else headline_text(conf, corr)) if headline else ""
    return _save(plot_reliability_diagram(diagram, title=title, headline=head), path_stem)


def confidence_histogram(
    confidence, correct, *, title: str, path_stem: str | Path, bins: int = 10, headline: bool | str = True
) -> list[Path]:
    """Histogram of stated confidence (equal-width bins), stacked by correct / wrong answers."""
    conf, corr = validate(confidence, correct)
    b = equal_width_bin(conf, bins)
    right = np.bincount(b, corr, bins)
    wrong = np.bincount(b, 1 - corr, bins)
    left = np.arange(bins) / bins
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar(left, right, width=1 / bins, align="edge", color=_CORRECT, edgecolor="white", label="correct")
        ax.bar(left, wrong, width=1 / bins, bottom=right, align="edge", color=_WRONG, edgecolor="white", label="wrong")
        ax.set(xlim=(0, 1), xlabel="stated confidence", ylabel="count")
        ax.legend(loc="upper left", fontsize=8)
        _suptitle(fig, title, headline, conf, corr)
        return _save(fig, path_stem)


#: file-name stem of each kind of run figure (``<stem><suffix>.png``)
FIGURE_STEMS = {"reliability": "reliability", "histogram": "confidence_hist"}


def plot_run(
    samples: Sequence[dict],
    out_dir: str | Path,
    title: str,
    *,
    policy: str = "exclude",
    bins: int = 10,
    n_resamples: int = 200,
    seed: int = 0,
    suffix: str = "",
    kinds: Sequence[str] = ("reliability", "histogram"),
) -> list[Path]:
    """The plots named in ``kinds`` (both by default) for a list of sample records (scored under ``policy``) in
    ``out_dir``: ``reliability<suffix>.png``, ``confidence_hist<suffix>.png``; returns the paths. Writes nothing
    and returns [] if no sample is left to plot."""
    unknown = set(kinds) - set(FIGURE_STEMS)
    if unknown:
        raise ValueError(f"unknown plot kind(s) {sorted(unknown)}; known: reliability, histogram")
    conf, corr, info = apply_policy(samples, policy)
    if conf.size == 0:
        return []
    title = f"{title}  (parse rate {info['parse_rate']:.0%}, policy {policy})"
    out = Path(out_dir)
    head = headline_text(conf, corr)  # the same subtitle on both plots, computed once
    paths = []
    if "reliability" in kinds:
        paths += reliability_diagram(
            conf,
            corr,
            title=title,
            path_stem=out / f"{FIGURE_STEMS['reliability']}{suffix}",
            bins=bins,
            n_resamples=n_resamples,
            seed=seed,
            headline=head,
        )
    if "histogram" in kinds:
        paths += confidence_histogram(
            conf, corr, title=title, path_stem=out / f"{FIGURE_STEMS['histogram']}{suffix}", bins=bins, headline=head
        )
    return paths
