"""Post-hoc scalers: fitted only on calibration data, checked against scikit-learn / scipy / hand cases, and
the ``calbench calibrate`` command end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import log_loss

from calbench.scalers import (
    SCALERS,
    CalibrationLeakError,
    HistogramBinningScaler,
    IsotonicScaler,
    PlattScaler,
    TemperatureScaler,
    fit_on_calibration,
    make_scaler,
)


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True probability p ~ U(0, 1); the stated confidence is p ** 0.25 (overconfident); y ~ Bernoulli(p)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.99, n)
    return p**0.25, (rng.uniform(size=n) < p).astype(float)


def samples(conf, correct, prefix: str, task: str = "toy") -> list[dict]:
    return [
        {"id": f"{prefix}{i}", "task": task, "method": "m", "confidence": float(c), "correct": int(y), "parse_ok": True}
        for i, (c, y) in enumerate(zip(conf, correct))
    ]


def test_platt_improves_log_loss_on_held_out_data():
    c_cal, y_cal = overconfident(2000, 0)
    c_test, y_test = overconfident(2000, 1)
    pred = PlattScaler().fit(c_cal, y_cal).predict(c_test)
    assert ((pred >= 0) & (pred <= 1)).all()
    assert log_loss(y_test, pred) < log_loss(y_test, c_test) - 0.05  # identity is badly calibrated


def test_platt_matches_direct_likelihood_maximisation():
    c, y = overconfident(500, 2)
    z = np.log(c) - np.log1p(-c)

    def nll(ab):
        s = ab[0] * z + ab[1]
        return float(np.sum(np.logaddexp(0, s) - y * s))

    a, b = minimize(nll, x0=[1.0, 0.0], method="BFGS").x
    pl = PlattScaler().fit(c, y)
    assert pl.coef_ == pytest.approx(a, abs=1e-3) and pl.intercept_ == pytest.approx(b, abs=1e-3)


def test_temperature_recovers_known_temperature():
    rng = np.random.default_rng(3)
    z = rng.normal(0, 3, 20000)
    y = (rng.uniform(size=z.size) < 1 / (1 + np.exp(-z / 2.0))).astype(float)  # truth: T = 2
    c = 1 / (1 + np.exp(-z))
    t = TemperatureScaler().fit(c, y)
    assert t.temperature_ == pytest.approx(2.0, rel=0.08)
    assert t.predict([0.5])[0] == pytest.approx(0.5)  # T only rescales the logit


def test_isotonic_is_monotone_and_matches_sklearn():
    c, y = overconfident(800, 4)
    iso = IsotonicScaler().fit(c, y)
    grid = np.linspace(0, 1, 1001)
    out = iso.predict(grid)
    assert (np.diff(out) >= -1e-12).all() and out.min() >= 0 and out.max() <= 1
    ref = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(c, y)
    assert out == pytest.approx(ref.predict(grid), abs=1e-12)


def test_histogram_binning_hand_case():
    h = HistogramBinningScaler(n_bins=10).fit([0.05, 0.07, 0.55, 0.95, 1.0], [0, 1, 1, 1, 0])
    # bin 0 holds 0.05, 0.07 -> 1/2; bin 5 -> 1; bin 9 holds 0.95 and 1.0 (last bin closed) -> 1/2
    assert h.predict([0.0, 0.099, 0.5, 0.99, 1.0]).tolist() == [0.5, 0.5, 1.0, 0.5, 0.5]
    assert h.predict([0.35])[0] == pytest.approx(0.35)  # empty bin keeps its centre
    assert h.bin_counts_.tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]


@pytest.mark.parametrize("name", sorted(SCALERS))
def test_every_scaler_is_fitted_only_on_calibration_samples(name, monkeypatch):
    c_cal, y_cal = overconfident(300, 5)
    c_test, y_test = overconfident(200, 6)
    scaler = make_scaler(name)
    seen = []
    real_fit = scaler.fit

    def spy(conf, correct):
        seen.append((list(conf), list(correct)))
        return real_fit(conf, correct)

    monkeypatch.setattr(scaler, "fit", spy)
    test = samples(c_test, y_test, "test-")
    test.append(
        {"id": "test-unparsed", "task": "toy", "method": "m", "confidence": None, "correct": 0, "parse_ok": False}
    )
    out = fit_on_calibration(scaler, samples(c_cal, y_cal, "cal-"), test)
    assert len(seen) == 1
    assert seen[0][0] == pytest.approx(c_cal.tolist()) and seen[0][1] == y_cal.tolist()
    assert [s["id"] for s in out] == [s["id"] for s in test]
    assert out[-1]["confidence"] is None  # unparsed stays unparsed
    got = np.array([s["confidence"] for s in out[:-1]])
    assert ((got >= 0) & (got <= 1)).all()
    assert [s["raw_confidence"] for s in out[:-1]] == pytest.approx(c_test.tolist())
    assert got == pytest.approx(make_scaler(name).fit(c_cal, y_cal).predict(c_test))


def test_overlapping_ids_raise():
    c, y = overconfident(50, 7)
    cal = samples(c, y, "q")
    test = samples(c[:10], y[:10], "q")  # the same ids
    with pytest.raises(CalibrationLeakError, match="share 10 example"):
        fit_on_calibration(PlattScaler(), cal, test)
    # the same ids in another task are different examples
    fit_on_calibration(PlattScaler(), cal, samples(c[:10], y[:10], "q", task="other"))


def test_input_validation():
    with pytest.raises(RuntimeError, match="not fitted"):
        PlattScaler().predict([0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        PlattScaler().fit([0.5, 1.5], [0, 1])
    with pytest.raises(ValueError, match="only 0 and 1"):
        IsotonicScaler().fit([0.2, 0.4], [0, 2])
    with pytest.raises(ValueError, match="unknown scaler"):
        make_scaler("beta")


def _write_run(folder, ids, conf, correct, split):
    from calbench.calibrate import _load_run  # noqa: F401  (module imports cleanly)

    folder.mkdir(parents=True)
    rows = [
        {
            "id": i,
            "task": "toy",
            "model": "m0",
            "method": "two-stage",
            "prompt": "",
            "raw_output": "",
            "answer": "a",
            "confidence": float(c),
            "parse_ok": True,
            "correct": int(y),
            "judge": "j",
        }
        for i, c, y in zip(ids, conf, correct)
    ]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    manifest = {
        "calbench_run": 1,
        "status": "complete",
        "model": {"id": "m0"},
        "n": len(rows),
        "task": {"name": "toy", "split": split, "ids_sha256": split},
        "methods": ["two-stage"],
        "method": "two-stage",
        "parse_policy": "exclude",
        "seed": 0,
        "metric_settings": {"ece_bins": 10, "log_score_eps": 0.001, "bootstrap": {"n_resamples": 50}},
    }
    (folder / "run.json").write_text(json.dumps(manifest))


def test_calibrate_command_end_to_end(tmp_path, capsys):
    from calbench.cli import main

    c_cal, y_cal = overconfident(400, 8)
    c_test, y_test = overconfident(300, 9)
    _write_run(tmp_path / "cal", [f"c{i}" for i in range(400)], c_cal, y_cal, "train")
    _write_run(tmp_path / "test", [f"t{i}" for i in range(300)], c_test, y_test, "test")
    rc = main(
        [
            "calibrate",
            "--fit",
            str(tmp_path / "cal"),
            "--apply",
            str(tmp_path / "test"),
            "--scaler",
            "platt",
            "--no-plots",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert rc == 0
    man = json.loads((tmp_path / "out" / "run.json").read_text())
    assert man["methods"] == ["two-stage+platt"] and man["status"] == "complete"
    cal = man["calibration"]
    assert cal["scaler"] == "platt" and cal["fitted_on"]["split"] == "train"
    ref = PlattScaler().fit(c_cal, y_cal)
    assert cal["by_method"]["two-stage+platt"]["params"]["coef_"] == pytest.approx(ref.coef_)
    assert cal["by_method"]["two-stage+platt"]["n_fit"] == 400
    want_brier = float(np.mean((ref.predict(c_test) - y_test) ** 2))
    assert man["metrics"]["brier"]["value"] == pytest.approx(want_brier)
    assert man["metrics"]["brier"]["value"] < float(np.mean((c_test - y_test) ** 2))
    # the same run on both sides, or overlapping examples, is refused
    rc = main(
        [
            "calibrate",
            "--fit",
            str(tmp_path / "test"),
            "--apply",
            str(tmp_path / "test"),
            "--out",
            str(tmp_path / "out2"),
        ]
    )
    assert rc == 2
    _write_run(tmp_path / "leak", [f"t{i}" for i in range(50)], c_test[:50], y_test[:50], "train")
    rc = main(
        [
            "calibrate",
            "--fit",
            str(tmp_path / "leak"),
            "--apply",
            str(tmp_path / "test"),
            "--out",
            str(tmp_path / "out3"),
        ]
    )
    assert rc == 2
    assert "share 50 example" in capsys.readouterr().err


def test_eval_calibrate_flag_fits_on_the_calibration_split(tmp_path):
    """`calbench eval --calibrate histogram --calibration-split train`: a scripted model that always says 9/10
    answers 3 of the 12 train questions right and every eval question wrong; the fitted scaler must come
    from the train split (calibrated confidence 3/12, not 0)."""
    from calbench.cli import main
    from calbench.records import read_samples
    from calbench.tasks import get_task, select

    train = select(get_task("triviaqa").load("train"), 12, 0)
    rules = [{"match": "How confident", "reply": "9"}]
    rules += [{"match": e.question.strip(), "reply": " " + e.answers[0]} for e in train[:3]]
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"replies": rules, "default": " Paris"}))
    out = tmp_path / "run"
    rc = main(
        [
            "eval",
            "--backend",
            "scripted",
            "--script",
            str(script),
            "--task",
            "triviaqa",
            "--split",
            "eval",
            "--limit",
            "12",
            "--calibrate",
            "histogram",
            "--calibration-split",
            "train",
            "--no-plots",
            "--quiet",
            "--resamples",
            "20",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    man = json.loads((out / "calibrated-histogram" / "run.json").read_text())
    assert man["calibration"]["fitted_on"]["split"] == "train" and man["task"]["split"] == "eval"
    cal = read_samples(out / "calibration" / "train" / "samples.jsonl")
    test = read_samples(out / "samples.jsonl")
    assert {s["id"] for s in cal}.isdisjoint({s["id"] for s in test})
    assert sum(s["correct"] for s in cal) == 3 and sum(s["correct"] for s in test) == 0
    # one bin holds every train confidence (0.9): its value is the train accuracy
    got = [s["confidence"] for s in read_samples(out / "calibrated-histogram" / "samples.jsonl")]
    assert got == pytest.approx([3 / 12] * 12)
    assert (
        main(
            [
                "eval",
                "--backend",
                "scripted",
                "--script",
                str(script),
                "--task",
                "triviaqa",
                "--limit",
                "2",
                "--calibrate",
                "platt",
                "--out",
                str(tmp_path / "bad"),
            ]
        )
        == 2
    )


def test_calibrate_refuses_one_class_fits_and_records_tiny_and_cross_task_warnings(tmp_path, capsys):
    """Issue 16: a scaler fitted on 7 samples of one class reported ECE 0 and Brier 0."""
    from calbench.cli import main

    _write_run(tmp_path / "cal1", [f"c{i}" for i in range(7)], [0.9] * 7, [0] * 7, "train")
    _write_run(tmp_path / "test", [f"t{i}" for i in range(7)], [0.9] * 7, [0] * 7, "test")
    capsys.readouterr()
    assert (
        main(
            [
                "calibrate",
                "--fit",
                str(tmp_path / "cal1"),
                "--apply",
                str(tmp_path / "test"),
                "--scaler",
                "histogram",
                "--no-plots",
                "--out",
                str(tmp_path / "o1"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "all wrong" in err and "one class" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o1").exists()
    # 10 samples of both classes, from another task: fitted, with both warnings printed and recorded
    _write_run(tmp_path / "cal2", [f"c{i}" for i in range(10)], [0.2, 0.8] * 5, [0, 1] * 5, "train")
    man = json.loads((tmp_path / "cal2" / "run.json").read_text())
    man["task"]["name"] = "other"
    (tmp_path / "cal2" / "run.json").write_text(json.dumps(man))
    assert (
        main(
            [
                "calibrate",
                "--fit",
                str(tmp_path / "cal2"),
                "--apply",
                str(tmp_path / "test"),
                "--scaler",
                "platt",
                "--no-plots",
                "--out",
                str(tmp_path / "o2"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    warnings = json.loads((tmp_path / "o2" / "run.json").read_text())["calibration"]["warnings"]
    assert len(warnings) == 2
    assert any("task 'other'" in w and "'toy'" in w for w in warnings)
    assert any("only 10 parsed calibration samples" in w for w in warnings)
    assert err.count("warning:") == 2


def test_stated_levels_switch_at_the_log_score_boundaries():
    """Levels k/10 and (k+1)/10 have equal expected log score at p* = A / (A + B), A = log((1-q_k)/(1-q_k+1)),
    B = log(q_k+1/q_k) (closed form, derived by hand): just below p* the lower level is stated, just above the
    higher one, on the trainer's clipped levels."""
    from calbench.scalers import stated_levels

    q = np.clip(np.arange(11) / 10, 1e-3, 1 - 1e-3)
    for k in range(10):
        a, b = np.log((1 - q[k]) / (1 - q[k + 1])), np.log(q[k + 1] / q[k])
        p_star = a / (a + b)
        assert q[k] < p_star < q[k + 1]
        got = stated_levels([p_star - 1e-9, p_star + 1e-9], "0-10")
        assert got.tolist() == pytest.approx([k / 10, (k + 1) / 10])
    # the boundaries are not the midpoints: 0.145 -> "1", 0.15 -> "2", 0.247 -> "2", 0.25 -> "3"
    assert stated_levels([0.0, 0.145, 0.15, 0.247, 0.25, 0.5, 1.0]).tolist() == pytest.approx(
        [0.0, 0.1, 0.2, 0.2, 0.3, 0.5, 1.0]
    )
    fine = stated_levels(np.linspace(0, 1, 2001), "0-100")
    assert np.all(np.diff(fine) >= 0) and set(np.round(fine * 100, 6)) <= set(range(101))
    with pytest.raises(ValueError, match="integer scale"):
        stated_levels([0.5], "0-1")


def test_calibrate_stated_scale_rounds_the_calibrated_probabilities(tmp_path, capsys):
    from calbench.cli import main
    from calbench.records import read_samples
    from calbench.scalers import stated_levels

    c_cal, y_cal = overconfident(400, 8)
    c_test, y_test = overconfident(300, 9)
    _write_run(tmp_path / "cal", [f"c{i}" for i in range(400)], c_cal, y_cal, "train")
    _write_run(tmp_path / "test", [f"t{i}" for i in range(300)], c_test, y_test, "test")
    rc = main(
        [
            "calibrate",
            "--fit",
            str(tmp_path / "cal"),
            "--apply",
            str(tmp_path / "test"),
            "--scaler",
            "platt",
            "--stated-scale",
            "0-10",
            "--no-plots",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert rc == 0
    man = json.loads((tmp_path / "out" / "run.json").read_text())
    assert man["methods"] == ["two-stage+platt@0-10"]
    assert man["calibration"]["stated_scale"]["scale"] == "0-10"
    rows = read_samples(tmp_path / "out" / "samples.jsonl")
    scaled = PlattScaler().fit(c_cal, y_cal).predict(c_test)
    assert [r["scaled_confidence"] for r in rows] == pytest.approx(scaled.tolist())
    assert [r["confidence"] for r in rows] == pytest.approx(stated_levels(scaled).tolist())
    assert [r["raw_confidence"] for r in rows] == pytest.approx(c_test.tolist())
    want_brier = float(np.mean((stated_levels(scaled) - y_test) ** 2))
    assert man["metrics"]["brier"]["value"] == pytest.approx(want_brier)
    with pytest.raises(SystemExit):  # argparse refuses a scale without integer levels
        main(
            [
                "calibrate",
                "--fit",
                str(tmp_path / "cal"),
                "--apply",
                str(tmp_path / "test"),
                "--stated-scale",
                "0-1",
                "--out",
                str(tmp_path / "out2"),
            ]
        )
    assert "invalid choice: '0-1'" in capsys.readouterr().err


def test_calibrate_label_names_the_methods(tmp_path, capsys):
    """--label platt-4800: a second Platt scaler (e.g. fitted on many more labels) is a system of its own."""
    from calbench.cli import main

    c_cal, y_cal = overconfident(400, 8)
    c_test, y_test = overconfident(300, 9)
    _write_run(tmp_path / "cal", [f"c{i}" for i in range(400)], c_cal, y_cal, "train")
    _write_run(tmp_path / "test", [f"t{i}" for i in range(300)], c_test, y_test, "test")
    args = ["calibrate", "--fit", str(tmp_path / "cal"), "--apply", str(tmp_path / "test"), "--scaler", "platt"]
    assert main([*args, "--label", "platt-400", "--no-plots", "--out", str(tmp_path / "out")]) == 0
    man = json.loads((tmp_path / "out" / "run.json").read_text())
    assert man["methods"] == ["two-stage+platt-400"]
    assert (man["calibration"]["scaler"], man["calibration"]["label"]) == ("platt", "platt-400")
