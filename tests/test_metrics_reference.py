"""Every metric against an independent implementation (scikit-learn, netcal, torchmetrics, relplot) or a
hand computation, on random and hand-made inputs."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from calbench import metrics as M


def _data(kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        p = rng.uniform(size=n)
    elif kind == "levels11":  # the paper's 0-10 verbalized scale, with p = 1.0 present
        p = rng.integers(0, 11, n) / 10
    elif kind == "percent":
        p = rng.integers(0, 101, n) / 100
    else:  # overconfident, clustered near 1
        p = 1 - rng.beta(0.5, 4, n) * 0.5
    y = (rng.uniform(size=n) < np.clip(p * 0.8 + 0.05, 0, 1)).astype(float)
    return p, y


def _nudge_onto_decimal_bins(p: np.ndarray) -> np.ndarray:
    """Confidence levels such as 0.3 sit exactly on a bin edge, where the reference libraries compare with
    float edges from ``linspace`` (0.30000000000000004) and put 0.3 in the bin below; calbench bins by
    floor(p K), the bin the decimal level starts. Nudging the reference's input up by 1e-12 selects the same
    bin without changing any value beyond the tolerance."""
    return np.minimum(p + 1e-12, 1.0)


CASES = [(k, n, s) for k in ("continuous", "levels11", "percent", "clustered") for n, s in ((37, 1), (1000, 2))]


@pytest.mark.parametrize("kind,n,seed", CASES)
def test_against_sklearn(kind, n, seed):
    p, y = _data(kind, n, seed)
    m = M.score(p, y, eps=1e-3)
    assert m["accuracy"] == pytest.approx(y.mean())
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["auprc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    clipped = np.clip(p, 1e-3, 1 - 1e-3)
    assert m["log_score"] == pytest.approx(-log_loss(y, clipped, labels=[0, 1]), abs=1e-12)
    assert m["n"] == n


@pytest.mark.parametrize("kind,n,seed", CASES)
@pytest.mark.parametrize("bins", [10, 11, 15])
def test_equal_width_against_netcal(kind, n, seed, bins):
    from netcal.metrics import ECE, MCE

    p, y = _data(kind, n, seed)
    m = M.score(p, y, bins=bins)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p_ref = _nudge_onto_decimal_bins(p)
        assert m["ece"] == pytest.approx(ECE(bins=bins, detection=True).measure(p_ref, y), abs=1e-9)
        assert m["mce"] == pytest.approx(MCE(bins=bins, detection=True).measure(p_ref, y), abs=1e-9)


@pytest.mark.parametrize("kind,n,seed", CASES)
def test_equal_width_against_torchmetrics(kind, n, seed):
    torch = pytest.importorskip("torch")
    from torchmetrics.functional.classification import binary_calibration_error

    p, y = _data(kind, n, seed)
    # torchmetrics puts p = 1.0 in a bin of its own; ours closes the last bin. Move those samples to just
    # below 1 for torchmetrics, which puts them in the same last bin as ours does.
    p_tm = np.where(p == 1.0, np.nextafter(1.0, 0.0), _nudge_onto_decimal_bins(p))
    tp, ty = torch.tensor(p_tm, dtype=torch.float64), torch.tensor(y).long()
    m = M.score(p, y, bins=10)
    for key, norm in (("ece", "l1"), ("mce", "max"), ("rms_ce", "l2")):
        ref = binary_calibration_error(tp, ty, n_bins=10, norm=norm).item()
        assert m[key] == pytest.approx(ref, abs=1e-9), key


@pytest.mark.parametrize("kind,n,seed", CASES + [("continuous", 1, 3), ("levels11", 5, 4), ("clustered", 20000, 5)])
def test_smece_against_relplot(kind, n, seed):
    import relplot

    from calbench.metrics.counts import Grouped
    from calbench.metrics.smooth import smece_from_counts, smece_sigma_from_counts

    p, y = _data(kind, n, seed)
    c = Grouped.from_arrays(p, y).counts()
    value, sigma = smece_from_counts(c, return_sigma=True)
    ref_value, ref_sigma = relplot.smECE(p, y, return_width=True)
    assert sigma[0] == ref_sigma
    assert value[0] == pytest.approx(ref_value, abs=1e-9)
    assert M.score(p, y)["smece"] == pytest.approx(ref_value, abs=1e-9)
    for s in (0.3, 0.05, 0.012, 0.004):  # 0.004 takes the FFT path
        assert smece_sigma_from_counts(c, s)[0] == pytest.approx(relplot.smECE_sigma(p, y, s), abs=1e-9)


def test_smece_small_sigma_fixed_point_matches_relplot():
    import relplot

    rng = np.random.default_rng(7)
    p = rng.uniform(size=30000)
    y = (rng.uniform(size=30000) < p).astype(float)  # calibrated: smECE below 0.01, finer grids
    assert M.score(p, y)["smece"] == pytest.approx(relplot.smECE(p, y), abs=1e-9)


def test_ece_hand_made():
    # Bins of width 0.5: [0, 0.5) holds 0.1, 0.2 (acc 1/2, conf 0.15); [0.5, 1] holds 0.5, 1.0 (acc 1, conf 0.75).
    p, y = [0.1, 0.2, 0.5, 1.0], [0, 1, 1, 1]
    m = M.score(p, y, bins=2)
    assert m["ece"] == pytest.approx(0.5 * 0.35 + 0.5 * 0.25)
    assert m["mce"] == pytest.approx(0.35)
    assert m["rms_ce"] == pytest.approx(np.sqrt(0.5 * 0.35**2 + 0.5 * 0.25**2))
    # Bin edges: 0.3 belongs to [0.3, 0.4) with 10 bins, and 1.0 to the last bin.
    assert M.score([0.3, 0.3], [1, 0], bins=10)["ece"] == pytest.approx(0.2)
    from calbench.metrics.calibration import equal_width_bin

    assert list(equal_width_bin(np.arange(11) / 10, 10)) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]
    assert list(equal_width_bin(np.arange(11) / 10, 11)) == list(range(11))


def _ece_em_by_hand(p, y, k):
    order = np.argsort(p)
    parts = np.split(order, k)  # n divisible by k, no ties: the textbook definition
    return sum(len(b) / len(p) * abs(y[b].mean() - p[b].mean()) for b in parts)


@pytest.mark.parametrize("seed", range(5))
def test_ece_em_hand_computation(seed):
    rng = np.random.default_rng(seed)
    p = rng.permutation(np.linspace(0.01, 0.99, 60))
    y = (rng.uniform(size=60) < p).astype(float)
    for k in (3, 5, 10):
        assert M.score(p, y, em_bins=k)["ece_em"] == pytest.approx(_ece_em_by_hand(p, y, k), abs=1e-12)


def test_ece_em_ties_and_fractional_cuts():
    # Two bins over 3 samples: bin 1 = sample 0.2 and half of 0.6; bin 2 = the other half of 0.6 and 0.9.
    m = M.score([0.2, 0.6, 0.9], [0, 1, 1], em_bins=2)
    bin1 = abs((0 + 0.5) - (0.2 + 0.3))
    bin2 = abs((0.5 + 1) - (0.3 + 0.9))
    assert m["ece_em"] == pytest.approx((bin1 + bin2) / 3)
    # Four tied samples (2 right) and two bins: each bin gets the group's accuracy 1/2.
    assert M.score([0.7] * 4, [1, 1, 0, 0], em_bins=2)["ece_em"] == pytest.approx(0.2)


def _aurc_one_order(p_sorted_desc_y):
    y = np.asarray(p_sorted_desc_y)
    errs = np.cumsum(1 - y)
    return float(np.mean(errs / np.arange(1, len(y) + 1)))


def _expected_over_tie_orders(p, y, fn):
    """Average fn(y in descending-confidence order) over every order of tied samples."""
    p, y = np.asarray(p), np.asarray(y)
    levels = sorted(set(p.tolist()), reverse=True)
    groups = [list(itertools.permutations(y[p == v].tolist())) for v in levels]
    vals = [fn([x for g in combo for x in g]) for combo in itertools.product(*groups)]
    return float(np.mean(vals))


def test_aurc_hand_computation():
    # No ties: descending confidences 0.9 (right), 0.8 (wrong), 0.3 (right), 0.1 (wrong).
    m = M.score([0.3, 0.9, 0.1, 0.8], [1, 1, 0, 0])
    assert m["aurc"] == pytest.approx((0 / 1 + 1 / 2 + 1 / 3 + 2 / 4) / 4)
    # With ties: the expectation over the orders of tied samples.
    p = [0.9, 0.9, 0.9, 0.5, 0.5, 0.2, 0.2, 0.2]
    y = [1, 0, 0, 1, 0, 1, 1, 0]
    assert M.score(p, y)["aurc"] == pytest.approx(_expected_over_tie_orders(p, y, _aurc_one_order))


@pytest.mark.parametrize("seed", range(3))
def test_aurc_random_without_ties(seed):
    p, y = _data("continuous", 200, seed)
    assert M.score(p, y)["aurc"] == pytest.approx(_aurc_one_order(y[np.argsort(-p)]), abs=1e-12)


def test_sel_acc_hand_computation():
    p, y = _data("continuous", 100, 9)
    top = y[np.argsort(-p)]
    m = M.score(p, y, sel_ks=(10, 20, 50, 100))
    for k in (10, 20, 50, 100):
        assert m[f"sel_acc@{k}"] == pytest.approx(top[:k].mean())
    # Ties at the cut: the expectation over tie orders.
    p = [0.9, 0.8, 0.8, 0.8, 0.1]
    y = [1, 1, 0, 0, 1]
    got = M.score(p, y, sel_ks=(40,))["sel_acc@40"]
    assert got == pytest.approx(_expected_over_tie_orders(p, y, lambda ys: np.mean(ys[:2])))


def test_log_score_terms_and_brier_terms():
    t = M.log_score_terms([0.0, 0.5, 1.0, 1.0], [1, 1, 1, 0], eps=1e-3)
    assert t == pytest.approx([np.log(1e-3), np.log(0.5), np.log(1 - 1e-3), np.log(1e-3)])
    assert M.brier_terms([0.2, 0.9], [1, 0]) == pytest.approx([0.64, 0.81])
    p, y = _data("levels11", 300, 1)
    m = M.score(p, y, eps=0.01)
    assert m["log_score"] == pytest.approx(M.log_score_terms(p, y, eps=0.01).mean())
    assert m["brier"] == pytest.approx(M.brier_terms(p, y).mean())


def test_brier_decomposition_hand_computation():
    # Levels 0.2 (2 samples, 1 right) and 0.8 (3 samples, 3 right); ybar = 4/5.
    m = M.score([0.2, 0.2, 0.8, 0.8, 0.8], [1, 0, 1, 1, 1])
    assert m["brier_reliability"] == pytest.approx((2 * 0.3**2 + 3 * 0.2**2) / 5)
    assert m["brier_resolution"] == pytest.approx((2 * 0.3**2 + 3 * 0.2**2) / 5)
    assert m["brier_uncertainty"] == pytest.approx(0.8 * 0.2)
