"""Bootstrap and paired bootstrap, parse policies, the run.json summary, ``calbench score`` and the plots."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from calbench import metrics as M
from calbench.metrics.counts import Grouped
from calbench.metrics.scores import Settings, metrics_from_counts


def _data(n=400, seed=0, levels=True):
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 11, n) / 10 if levels else rng.uniform(size=n)
    y = (rng.uniform(size=n) < 0.2 + 0.6 * p).astype(float)
    return p, y


@pytest.mark.parametrize("levels", [True, False])
def test_resampled_counts_equal_scoring_each_resample(levels):
    p, y = _data(120, 1, levels)
    idx = np.random.default_rng(5).integers(0, p.size, size=(6, p.size))
    batch = metrics_from_counts(Grouped.from_arrays(p, y).resampled(idx), Settings())
    for r in range(6):
        direct = M.score(p[idx[r]], y[idx[r]])
        for k, v in direct.items():
            assert batch[k][r] == pytest.approx(v, abs=1e-9, nan_ok=True), k


def test_bootstrap_percentiles_match_a_naive_loop():
    p, y = _data(150, 2)
    got = M.bootstrap(p, y, n_resamples=200, seed=3)
    rng = np.random.default_rng(3)
    idx = rng.integers(0, p.size, size=(200, p.size))  # same draws as the engine (one chunk)
    naive = [M.score(p[i], y[i]) for i in idx]
    for k in ("ece", "smece", "auroc", "aurc", "sel_acc@10"):
        vals = np.array([d[k] for d in naive])
        assert got[k]["ci_low"] == pytest.approx(np.percentile(vals, 2.5))
        assert got[k]["ci_high"] == pytest.approx(np.percentile(vals, 97.5))
        assert got[k]["value"] == pytest.approx(M.score(p, y)[k])


def test_bootstrap_shape_seed_and_level():
    p, y = _data()
    a = M.bootstrap(p, y, n_resamples=100, seed=1, bins=11)
    assert a == M.bootstrap(p, y, n_resamples=100, seed=1, bins=11)
    assert set(a) == set(M.score(p, y))
    for k, e in a.items():
        assert set(e) >= {"value", "ci_low", "ci_high"}
        assert e["ci_low"] <= e["ci_high"]
    wide = M.bootstrap(p, y, n_resamples=100, seed=1, bins=11, level=0.99)
    assert (
        wide["accuracy"]["ci_high"] - wide["accuracy"]["ci_low"] >= a["accuracy"]["ci_high"] - a["accuracy"]["ci_low"]
    )
    assert a["accuracy"]["ci_low"] < a["accuracy"]["value"] < a["accuracy"]["ci_high"]
    with pytest.raises(ValueError, match="level"):
        M.bootstrap(p, y, level=95)


def test_bootstrap_accuracy_interval_has_binomial_width():
    p, y = _data(2000, 4)
    b = M.bootstrap(p, y, n_resamples=1000)
    se = math.sqrt(y.mean() * (1 - y.mean()) / y.size)
    assert b["accuracy"]["ci_high"] - b["accuracy"]["ci_low"] == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_paired_bootstrap():
    p, y = _data(300, 6)
    same = M.paired_bootstrap(p, y, p, y, n_resamples=100)
    assert same["ece"]["delta"] == 0 and same["ece"]["ci_low"] == 0 == same["ece"]["ci_high"]
    assert same["ece"]["p_value"] == 1.0
    better = np.where(y == 1, np.maximum(p, 0.9), np.minimum(p, 0.1))  # sharper and right
    d = M.paired_bootstrap(p, y, better, y, n_resamples=300)
    assert d["brier"]["delta"] == pytest.approx(M.score(better, y)["brier"] - M.score(p, y)["brier"])
    assert d["brier"]["ci_high"] < 0 and d["brier"]["p_value"] < 0.01
    assert d["auroc"]["delta"] > 0 and d["auroc"]["ci_low"] > 0
    with pytest.raises(ValueError, match="align"):
        M.paired_bootstrap(p, y, p[:10], y[:10])


def test_a_metric_subset_gives_the_same_values_and_intervals():
    rng = np.random.default_rng(3)
    ca, cb = rng.random(300), rng.random(300)
    ya, yb = rng.random(300) < ca, rng.random(300) < cb
    only = ("accuracy", "ece", "brier", "log_score", "auroc")
    full = M.paired_bootstrap(ca, ya, cb, yb, n_resamples=200, seed=4)
    part = M.paired_bootstrap(ca, ya, cb, yb, n_resamples=200, seed=4, metrics=only)
    assert set(part) == {*only, "n"} and "smece" in full
    for name in part:
        assert part[name] == pytest.approx(full[name], nan_ok=True), name
    c = Grouped.from_arrays(ca, ya).counts()
    every, some = metrics_from_counts(c, Settings()), metrics_from_counts(c, Settings(), {"mce", "brier_resolution"})
    assert set(some) == {"mce", "brier_resolution", "n"}
    assert all(np.array_equal(some[k], every[k]) for k in some)


def test_align_by_id():
    a = [{"id": i, "confidence": 0.1 * k} for k, i in enumerate(("x", "y", "z"))]
    b = [{"id": i, "confidence": 0.5} for i in ("z", "w", "x")]
    aa, bb = M.align_by_id(a, b)
    assert [s["id"] for s in aa] == ["x", "z"] == [s["id"] for s in bb]
    with pytest.raises(ValueError, match="twice"):
        M.align_by_id(a + a[:1], b)
    with pytest.raises(ValueError, match="share no id"):
        M.align_by_id(a, [{"id": "q"}])


def _records():
    recs = [
        {"id": "1", "confidence": 0.9, "parse_ok": True, "correct": 1},
        {"id": "2", "confidence": 0.3, "parse_ok": True, "correct": 0},
        {"id": "3", "confidence": None, "parse_ok": False, "correct": 1},
        {"id": "4", "confidence": 0.6, "parse_ok": True, "correct": 1},
        {"id": "5", "confidence": None, "parse_ok": False, "correct": 0},
    ]
    return recs


def test_policies():
    assert M.POLICIES == ("exclude", "impute_mean", "as_wrong_with_prior")
    c, y, info = M.apply_policy(_records(), "exclude")
    assert c.tolist() == [0.9, 0.3, 0.6] and y.tolist() == [1, 0, 1]
    assert info["n_total"] == 5 and info["n_parsed"] == 3 and info["parse_rate"] == pytest.approx(0.6)
    c, y, info = M.apply_policy(_records(), "impute_mean")
    assert c.tolist() == pytest.approx([0.9, 0.3, 0.6, 0.6, 0.6]) and y.tolist() == [1, 0, 1, 1, 0]
    c, y, _ = M.apply_policy(_records(), "as_wrong_with_prior")
    assert c.tolist() == pytest.approx([0.9, 0.3, 0.6, 0.6, 0.6]) and y.tolist() == [1, 0, 0, 1, 0]
    with pytest.raises(ValueError, match="unknown parse policy"):
        M.apply_policy(_records(), "drop")
    bad = _records() + [{"id": "9", "confidence": 7, "parse_ok": True, "correct": 1}]
    with pytest.raises(ValueError, match=r"row 5 \(id '9'\)"):
        M.apply_policy(bad, "exclude")


def test_summarize_samples():
    out = M.summarize_samples(_records() * 20, n_resamples=50)
    assert out["parse_rate"]["value"] == pytest.approx(0.6)
    assert out["n"]["value"] == 60
    assert set(out) == set(M.score([0.5], [1])) | {"parse_rate"}
    assert out["ece"]["value"] == pytest.approx(M.score([0.9, 0.3, 0.6] * 20, [1, 0, 1] * 20)["ece"])
    none = M.summarize_samples([dict(r, parse_ok=False) for r in _records()], n_resamples=10)
    assert math.isnan(none["ece"]["value"]) and "no sample parsed" in none["ece"]["note"]
    assert none["parse_rate"]["value"] == 0 and none["n"]["value"] == 0
    settings = M.metric_settings(policy="impute_mean", bins=11)
    assert settings["parse_policy"] == "impute_mean" and settings["ece_bins"] == 11
    json.dumps(settings)


def _write_samples(path, groups=(("t", "m1", "M"), ("t", "m2", "M"))):
    rng = np.random.default_rng(0)
    with open(path, "w") as fh:
        for task, method, model in groups:
            for i in range(80):
                c = float(rng.integers(0, 11) / 10)
                ok = bool(rng.uniform() < 0.9)
                fh.write(
                    json.dumps(
                        {
                            "id": str(i),
                            "task": task,
                            "model": model,
                            "method": method,
                            "prompt": "",
                            "raw_output": "",
                            "answer": "a",
                            "confidence": c if ok else None,
                            "parse_ok": ok,
                            "correct": int(rng.uniform() < c),
                            "judge": "em",
                        }
                    )
                    + "\n"
                )


def test_score_command(tmp_path, capsys):
    from calbench.cli import main

    path = tmp_path / "samples.jsonl"
    _write_samples(path)
    assert main(["score", str(path), "--resamples", "50", "--bins", "11"]) == 0
    out = capsys.readouterr().out
    assert "method m1" in out and "method m2" in out and "smece" in out and "95% CI" in out
    assert main(["score", str(path), "--json", "--resamples", "20", "--policy", "as_wrong_with_prior"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [g["method"] for g in data["groups"]] == ["m1", "m2"]
    assert data["settings"]["parse_policy"] == "as_wrong_with_prior" and data["settings"]["ece_bins"] == 10
    assert 0 < data["groups"][0]["metrics"]["parse_rate"]["value"] < 1
    assert main(["score", str(tmp_path / "missing.jsonl")]) == 2


def test_plots(tmp_path):
    from calbench.figures import confidence_histogram, plot_run, reliability_diagram

    p, y = _data(300, 8)
    paths = reliability_diagram(p, y, title="model · task", path_stem=tmp_path / "rel", n_resamples=30)
    assert [x.suffix for x in paths] == [".png"] and all(x.stat().st_size > 1000 for x in paths)
    assert len(confidence_histogram(p, y, title="t", path_stem=tmp_path / "hist")) == 1
    recs = [
        {"id": str(i), "confidence": float(c), "parse_ok": True, "correct": int(v)}
        for i, (c, v) in enumerate(zip(p, y))
    ]
    assert len(plot_run(recs, tmp_path / "run", "m · t")) == 2
    assert plot_run([dict(r, parse_ok=False) for r in recs], tmp_path / "none", "x") == []
