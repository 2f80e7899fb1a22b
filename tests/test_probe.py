"""The hidden-state probe (``calbench probe fit`` / ``--method probe``): a planted linear signal is recovered,
the layer is chosen by cross-validation on the training labels, a probe of another model is refused, and bad
files get clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calbench.probe import Probe, ProbeError, fit_probe


def test_fit_recovers_a_planted_signal_in_one_layer():
    rng = np.random.default_rng(0)
    n, layers, d = 400, 4, 16
    x = rng.normal(size=(n, layers, d))
    y = rng.integers(0, 2, n)
    x[:, 2, 3] += 1.5 * (2 * y - 1)  # the signal lives in layer 2 only
    probe = fit_probe(x, y, folds=4, model_sha256="a" * 64)
    assert probe.layer == 2
    assert probe.cv["2"]["auroc"] > 0.8 and probe.cv["1"]["auroc"] < 0.65  # chosen on held-out folds
    fresh = rng.normal(size=(200, layers, d))
    y2 = rng.integers(0, 2, 200)
    fresh[:, 2, 3] += 1.5 * (2 * y2 - 1)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y2, probe.predict(fresh)) > 0.8
    assert np.allclose(probe.predict(fresh), probe.predict(fresh[:, 2, :]))


def test_probe_file_round_trip_and_refusals(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 2, 4)), np.array([0, 1] * 20)
    probe = fit_probe(x, y, model_sha256="b" * 64, labels_record={"answers_sha256": "c" * 64})
    path = probe.save(tmp_path / "p.json")
    again = Probe.load(path)
    assert again == probe
    again.check_model("b" * 64, "here")
    with pytest.raises(ProbeError, match="fitted on the hidden states of model sha256 bbbbbbbbbbbb"):
        again.check_model("d" * 64, "here")
    (tmp_path / "bad.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ProbeError, match="not a calbench probe"):
        Probe.load(tmp_path / "bad.json")
    with pytest.raises(ProbeError, match="at least 2 right and 2 wrong"):
        fit_probe(x, np.r_[np.ones(39), 0])


def test_probe_end_to_end_on_a_tiny_model(tiny_model_dir, tmp_path, capsys):
    """Fit on given TriviaQA train answers where every wrong answer ends in the same word (a planted signal in the
    hidden state at the answer's last token), then `eval --method probe` on other questions: AUROC far above
    chance; the same probe marked as another model's is refused."""
    from calbench.cli import main
    from calbench.runs import read_manifest
    from calbench.tasks import get_task, select

    task = get_task("triviaqa")

    def answers_for(split, n, path):
        rows = []
        for i, e in enumerate(select(task.load(split), n, 0)):
            rows.append({"id": e.id, "answer": e.answers[0] if i % 2 else "zebra crossing"})
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path

    train = answers_for("train", 60, tmp_path / "train.jsonl")
    probe_path = tmp_path / "probe.json"
    assert (
        main(
            [
                "probe",
                "fit",
                "--model",
                tiny_model_dir,
                "--task",
                "triviaqa",
                "--split",
                "train",
                "--answers",
                str(train),
                "--folds",
                "3",
                "--out",
                str(probe_path),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    probe = json.loads(probe_path.read_text())
    assert probe["n_train"] == 60 and probe["positives"] == 30 and set(probe["cv"]) == {"1", "2"}
    test = answers_for(task.default_split, 40, tmp_path / "test.jsonl")
    out = tmp_path / "run"
    assert (
        main(
            [
                "eval",
                "--model",
                tiny_model_dir,
                "--task",
                "triviaqa",
                "--limit",
                "40",
                "--method",
                "probe",
                "--probe",
                str(probe_path),
                "--answers",
                str(test),
                "--out",
                str(out),
                "--device",
                "cpu",
                "--no-plots",
                "--quiet",
            ]
        )
        == 0
    )
    run = read_manifest(out)
    assert run.metrics_for("probe")["auroc"]["value"] > 0.9
    assert run.elicitation["method_settings"]["probe_sha256"]
    probe["model_sha256"] = "e" * 64
    probe_path.write_text(json.dumps(probe))
    assert (
        main(
            [
                "eval",
                "--model",
                tiny_model_dir,
                "--task",
                "triviaqa",
                "--limit",
                "4",
                "--method",
                "probe",
                "--probe",
                str(probe_path),
                "--answers",
                str(test),
                "--out",
                str(tmp_path / "run2"),
                "--device",
                "cpu",
                "--no-plots",
                "--quiet",
            ]
        )
        != 0
    )
    assert "the probe was fitted on the hidden states of model sha256 eeeeeeeeeeee" in capsys.readouterr().err


def test_probe_flag_needs_the_method(capsys):
    from calbench.cli import main

    assert main(["eval", "--task", "triviaqa", "--method", "two-stage", "--probe", "x.json", "--out", "o"]) != 0
    assert "--probe is the fitted probe of method 'probe'" in capsys.readouterr().err


def test_probe_fit_ids_restricts_the_labelled_answers_to_an_id_file(tiny_model_dir, tmp_path, capsys):
    """`probe fit --ids` (what a study passes for an answer set chosen by an id file) fits on the answers of the
    questions the file names, in its order, records the file, and names a line whose id the split lacks."""
    from calbench.cli import main
    from calbench.tasks import get_task, select

    chosen = select(get_task("triviaqa").load("train"), 40, 0)
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        "".join(
            json.dumps({"id": e.id, "answer": e.answers[0] if i % 2 else "zebra"}) + "\n" for i, e in enumerate(chosen)
        )
    )
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(e.id + "\n" for e in chosen[:24]))
    argv = ["probe", "fit", "--model", tiny_model_dir, "--task", "triviaqa", "--split", "train"]
    argv += ["--answers", str(answers), "--folds", "3", "--device", "cpu", "--ids", str(ids)]
    assert main([*argv, "--out", str(tmp_path / "p.json")]) == 0
    probe = json.loads((tmp_path / "p.json").read_text())
    assert probe["n_train"] == 24 and probe["positives"] == 12
    assert probe["labels"]["ids"] == str(ids) and len(probe["labels"]["ids_sha256"]) == 64
    ids.write_text(chosen[0].id + "\nno-such-question\n")
    assert main([*argv, "--out", str(tmp_path / "q.json")]) != 0
    assert f"{ids}, line 2: no question 'no-such-question'" in capsys.readouterr().err
    assert not (tmp_path / "q.json").exists()
