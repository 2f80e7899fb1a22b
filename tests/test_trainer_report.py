"""The before/after report pairs questions by id and reports paired differences with the metrics engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calbench.metrics import summarize_samples
from trainers.rewarding_doubt.report import compare_task, main, markdown


def _write_run(folder, confidences, correct, method="two-stage"):
    folder.mkdir(parents=True)
    samples = [
        {
            "id": f"q{i}",
            "task": "toy",
            "model": "m",
            "method": method,
            "prompt": "",
            "raw_output": "",
            "answer": "a",
            "confidence": c,
            "parse_ok": c is not None,
            "correct": y,
            "judge": "j",
        }
        for i, (c, y) in enumerate(zip(confidences, correct))
    ]
    (folder / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    run = {
        "status": "complete",
        "model": {"id": "m"},
        "task": {"name": "toy", "split": "test"},
        "n": len(samples),
        "methods": [method],
        "method": method,
        "metrics": summarize_samples(samples, n_resamples=100),
    }
    (folder / "run.json").write_text(json.dumps(run))


def test_paired_report_shows_the_improvement(tmp_path):
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.2).astype(int).tolist()
    _write_run(tmp_path / "before" / "toy", [0.9] * 299 + [None], y)  # overconfident, one unparsed
    _write_run(tmp_path / "after" / "toy", [0.2] * 300, y)  # calibrated on average
    res = compare_task(tmp_path / "before" / "toy", tmp_path / "after" / "toy", n_resamples=200)
    e = res["methods"]["two-stage"]
    assert e["paired"]["n"] == 299  # only questions both runs parsed
    brier = e["paired"]["brier"]
    want = np.mean((0.2 - np.array(y[:299])) ** 2) - np.mean((0.9 - np.array(y[:299])) ** 2)
    assert brier["delta"] == pytest.approx(want)
    assert brier["ci_high"] < 0  # a clear improvement: the interval excludes zero
    assert e["histogram_before"][9] == 299 and e["histogram_after"][2] == 300
    assert "| toy | two-stage | brier |" in markdown([res])


def test_report_cli_writes_json_and_markdown(tmp_path, capsys):
    _write_run(tmp_path / "before" / "toy", [0.7, 0.2, 0.9, 0.4], [1, 0, 1, 0])
    _write_run(tmp_path / "after" / "toy", [0.8, 0.1, 0.6, 0.5], [1, 0, 1, 0])
    assert (
        main(
            [
                "--before",
                str(tmp_path / "before"),
                "--after",
                str(tmp_path / "after"),
                "--out",
                str(tmp_path / "r.json"),
                "--md",
                str(tmp_path / "r.md"),
                "--resamples",
                "50",
            ]
        )
        == 0
    )
    data = json.loads((tmp_path / "r.json").read_text())
    assert data[0]["task"] == "toy" and "auroc" in data[0]["methods"]["two-stage"]["paired"]
    assert (tmp_path / "r.md").read_text().startswith("| task |")


def test_an_incomplete_run_is_left_out_and_said_so(tmp_path, capsys):
    _write_run(tmp_path / "before" / "toy", [0.7, 0.2, 0.9, 0.4], [1, 0, 1, 0])
    _write_run(tmp_path / "after" / "toy", [0.8, 0.1, 0.6, 0.5], [1, 0, 1, 0])
    run_json = tmp_path / "after" / "toy" / "run.json"
    run_json.write_text(run_json.read_text().replace('"complete"', '"incomplete"'))
    assert (
        main(
            [
                "--before",
                str(tmp_path / "before"),
                "--after",
                str(tmp_path / "after"),
                "--out",
                str(tmp_path / "r.json"),
                "--resamples",
                "50",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "r.json").read_text()) == []
    err = capsys.readouterr().err
    assert "skipped toy:" in err and "not 'complete'" in err


def test_runs_that_are_not_comparable_have_no_paired_difference(tmp_path):
    _write_run(tmp_path / "before" / "toy", [0.7, 0.2, 0.9, 0.4], [1, 0, 1, 0])
    _write_run(tmp_path / "after" / "toy", [0.8, 0.1, 0.6, 0.5], [1, 0, 1, 0])
    run_json = tmp_path / "after" / "toy" / "run.json"
    run = json.loads(run_json.read_text())
    run["judge"] = {"name": "f1", "settings": {}}
    run_json.write_text(json.dumps(run))
    e = compare_task(tmp_path / "before" / "toy", tmp_path / "after" / "toy", n_resamples=50)["methods"]["two-stage"]
    assert "paired" not in e and e["paired_problem"].startswith("not comparable: judge")
