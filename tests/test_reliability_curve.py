"""The reliability diagram's smooth curve is relplot's, and is not drawn where there is no data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from calbench.figures import ReliabilityDiagram, plot_reliability_diagram, prepare_reliability_diagram
from calbench.metrics.counts import Grouped
from calbench.metrics.smooth import reliability_curve, smece_from_counts


def _cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    levels = rng.choice([0.0, 0.5, 0.9, 1.0], size=200, p=[0.2, 0.05, 0.25, 0.5])
    uniform = rng.random(1000)
    # the demo's TriviaQA run in shape: 44 samples at 0, one at 0.5, 153 near 1
    demo = np.r_[np.zeros(44), [0.5], 0.9 + 0.1 * rng.integers(0, 2, 153)]
    beta = rng.beta(5, 1, 3000)
    three = np.repeat([0.1, 0.5, 0.9], 300)
    return {
        "five_at_1_all_wrong": (np.ones(5), np.zeros(5)),
        "four_levels": (levels, (rng.random(200) < 0.7 * levels).astype(float)),
        "three_levels_calibrated": (three, (rng.random(three.size) < three).astype(float)),
        "uniform": (uniform, (rng.random(1000) < uniform**2).astype(float)),
        "demo_like": (demo, (rng.random(demo.size) < 0.1).astype(float)),
        "overconfident_beta": (beta, (rng.random(3000) < 0.8 * beta).astype(float)),
        "one_sample": (np.array([0.3]), np.array([1.0])),
    }


CASES = _cases()


def _relplot(f: np.ndarray, y: np.ndarray) -> dict:
    import relplot

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # without the bootstrap band relplot's "mu" is the kernel smoother itself (with it, a random bag mean)
        return relplot.prepare_rel_diagram(f, y, plot_confidence_band=False, report_CE_std=False)


@pytest.mark.parametrize("name", list(CASES))
def test_curve_agrees_with_relplot_prepare_rel_diagram(name):
    f, y = CASES[name]
    ref = _relplot(f, y)
    d = prepare_reliability_diagram(f, y, n_resamples=20)
    assert d.sigma == ref["sigma"]
    assert d.smece == pytest.approx(ref["ce"], abs=1e-9)
    np.testing.assert_allclose(d.t, ref["mesh"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(d.accuracy, ref["mu"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(d.density, ref["density"], rtol=0, atol=1e-9)


def test_five_wrong_samples_at_one_show_no_calibration_anywhere():
    """The old curve (t - R/D) drew perfect calibration over [0, 0.5] for this run."""
    d = prepare_reliability_diagram(np.ones(5), np.zeros(5), n_resamples=20)
    assert d.supported.any() and np.all(d.accuracy[d.supported] < 1e-9)
    assert not d.supported[d.t < 0.5 - 1e-9].any()  # beyond the kernel's reach: not drawn
    assert np.all(d.band_high[d.supported] < 1e-9)


def test_curve_is_not_drawn_far_from_the_data():
    f, y = CASES["three_levels_calibrated"]
    d = prepare_reliability_diagram(f, y, n_resamples=20)
    assert d.reach == pytest.approx(min(2 * d.sigma, 0.5)) and d.reach < 0.1
    gap = np.min(np.abs(d.t[:, None] - np.array([0.1, 0.5, 0.9])[None, :]), axis=1)
    np.testing.assert_array_equal(d.supported, gap <= d.reach + 1e-12)
    for level in (0.1, 0.5, 0.9):  # near each level the curve is that level's accuracy
        near = d.supported & (np.abs(d.t - level) < 0.5 * d.sigma)
        acc = y[f == level].mean()
        assert near.any() and np.all(np.abs(d.accuracy[near] - acc) < 0.02)


def test_band_brackets_the_curve_where_data_is_dense():
    f, y = CASES["uniform"]
    d = prepare_reliability_diagram(f, y, n_resamples=200)
    inner = d.supported & (d.t > 0.1) & (d.t < 0.9)
    assert np.all(d.band_low[inner] <= d.accuracy[inner] + 1e-9)
    assert np.all(d.accuracy[inner] <= d.band_high[inner] + 1e-9)
    assert d.supported.all() and isinstance(d, ReliabilityDiagram)


def test_reliability_curve_rows_are_resamples():
    f, y = CASES["four_levels"]
    g = Grouped.from_arrays(f, y)
    _, sigma = smece_from_counts(g.counts(), return_sigma=True)
    idx = np.vstack([np.arange(f.size), np.random.default_rng(0).integers(0, f.size, (3, f.size))])
    _, acc, dens = reliability_curve(g.resampled(idx), float(sigma[0]))
    _, acc0, dens0 = reliability_curve(g.counts(), float(sigma[0]))
    np.testing.assert_allclose(acc[0], acc0[0], atol=1e-12)
    np.testing.assert_allclose(dens[0], dens0[0], atol=1e-12)
    with pytest.raises(ValueError, match="sigma must be positive"):
        reliability_curve(g.counts(), 0.0)


def test_plot_draws_the_curve_only_where_supported(tmp_path):
    f, y = CASES["three_levels_calibrated"]
    d = prepare_reliability_diagram(f, y, n_resamples=20)
    fig = plot_reliability_diagram(d, title="t", headline="h")
    from matplotlib.collections import LineCollection

    ax = fig.axes[0]
    (curve,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    xs = np.concatenate([seg[:, 0] for seg in curve.get_segments()])
    assert xs.size and all(np.min(np.abs(x - np.array([0.1, 0.5, 0.9]))) <= d.reach + 1e-9 for x in xs)
    widths = curve.get_linewidths()
    assert len(set(np.round(widths, 6))) > 1  # the width follows the density
    fig.savefig(tmp_path / "x.png")


def test_plot_run_draws_only_the_kinds_asked(tmp_path):
    from calbench.figures import plot_run

    f, y = CASES["uniform"]
    recs = [
        {"id": str(i), "confidence": float(c), "parse_ok": True, "correct": int(v)}
        for i, (c, v) in enumerate(zip(f[:100], y[:100]))
    ]
    assert [p.name for p in plot_run(recs, tmp_path, "m", kinds=("reliability",), n_resamples=10)] == [
        "reliability.png"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reliability.png"]
    with pytest.raises(ValueError, match="unknown plot kind"):
        plot_run(recs, tmp_path, "m", kinds=("svg",))


def test_a_diagram_whose_data_supports_no_curve_segment_still_draws():
    """Confidences only at 0 and 1 (e.g. a model that states 0 % or 100 %): the curve is near data only at two
    isolated points, so no segment is drawn; the figure (bars, diagonal, legend) is still made."""
    import numpy as np

    from calbench.figures import plot_reliability_diagram, prepare_reliability_diagram

    d = prepare_reliability_diagram(np.array([0.0, 1.0]), np.array([0, 1]))
    fig = plot_reliability_diagram(d, title="two levels")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "binned accuracy" in labels and not any(lab.startswith("smooth curve") for lab in labels)
