"""`calbench eval` end to end with the scripted backend: records, manifest, resume, bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from calbench.cli import main
from calbench.records import read_samples
from calbench.runs import Run
from calbench.tasks import get_task

SCRIPT = {
    "replies": [
        {"match": "How confident", "reply": "8"},
        {"match": "Nobel Prize for Literature in 1930", "reply": " Sinclair Lewis"},
    ],
    "default": " I do not know",
}


@pytest.fixture()
def script(tmp_path) -> Path:
    p = tmp_path / "script.json"
    p.write_text(json.dumps(SCRIPT))
    return p


def run_cli(*args: str) -> int:
    return main(list(args))


def test_eval_scripted_records_and_manifest(tmp_path, script, capsys):
    out = tmp_path / "run"
    rc = run_cli(
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
        "30",
        "--seed",
        "1",
        "--out",
        str(out),
        "--quiet",
        "--resamples",
        "200",
        "--no-plots",
    )
    assert rc == 0
    samples = read_samples(out / "samples.jsonl")
    assert len(samples) == 30 and len({s["id"] for s in samples}) == 30
    for s in samples:
        assert s["method"] == "two-stage" and s["task"] == "triviaqa" and s["judge"] == "alias_match"
        assert s["confidence"] == pytest.approx(0.8) and s["parse_ok"] is True
        assert s["correct"] == int(s["answer"] == "Sinclair Lewis")
        assert s["prompt"]["assistant_prefix"] == "Confidence: "
    by_id = {e.id: e for e in get_task("triviaqa").load("eval")}
    assert all(s["gold"] == by_id[s["id"]].answers and len(s["gold"]) >= 1 for s in samples)  # auditable judge
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and run["n"] == 30
    for key in ("accuracy", "parse_rate", "ece", "brier", "log_score", "auroc"):
        assert {"value", "ci_low", "ci_high"} <= set(run["metrics"][key])
    assert run["metrics"]["parse_rate"]["value"] == 1.0
    acc = sum(s["correct"] for s in samples) / 30
    assert run["metrics"]["accuracy"]["value"] == pytest.approx(acc)
    # Brier of a constant 0.8 against the outcomes, by hand
    assert run["metrics"]["brier"]["value"] == pytest.approx(sum((0.8 - s["correct"]) ** 2 for s in samples) / 30)
    assert run["judge"]["settings"]["containment"] is False
    assert run["task"]["data_sha256"] and run["seed"] == 1 and run["versions"]["calbench"]
    assert "accuracy" in capsys.readouterr().out


def test_same_seed_same_questions_and_limit_extends(tmp_path, script):
    from calbench.tasks import get_task, select

    exs = get_task("sciq").load("test")
    a, b = select(exs, 10, 3), select(exs, 20, 3)
    assert [e.id for e in a] == [e.id for e in b[:10]]
    assert [e.id for e in select(exs, 10, 4)] != [e.id for e in a]


def test_rerun_resumes_without_duplicates(tmp_path, script):
    out = tmp_path / "run"
    args = [
        "eval",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--task",
        "sciq",
        "--limit",
        "12",
        "--out",
        str(out),
        "--quiet",
        "--resamples",
        "50",
        "--no-plots",
    ]
    assert run_cli(*args) == 0
    lines = (out / "samples.jsonl").read_text().splitlines()
    # drop the last 5 finished samples and leave half a line, as a crash would
    (out / "samples.jsonl").write_text("\n".join(lines[:7]) + "\n" + lines[7][: len(lines[7]) // 2])
    assert run_cli(*args) == 0
    ids = [s["id"] for s in read_samples(out / "samples.jsonl")]
    assert len(ids) == 12 and len(set(ids)) == 12


def test_kill_midway_then_rerun_yields_exactly_n(tmp_path):
    slow = dict(SCRIPT, delay=0.05)
    script = tmp_path / "slow.json"
    script.write_text(json.dumps(slow))
    out = tmp_path / "run"
    n = 40
    cmd = [
        sys.executable,
        "-m",
        "calbench",
        "eval",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--task",
        "triviaqa",
        "--limit",
        str(n),
        "--out",
        str(out),
        "--chunk-size",
        "4",
        "--quiet",
        "--resamples",
        "50",
        "--no-plots",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = out / "samples.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if samples.exists() and len(samples.read_text().splitlines()) >= 8:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(read_samples(samples))
    assert 8 <= partial < n, "the run was not interrupted midway"
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ids = [s["id"] for s in read_samples(samples)]
    assert len(ids) == n and len(set(ids)) == n
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


def test_different_run_in_same_folder_is_refused(tmp_path, script, capsys):
    out = tmp_path / "run"
    base = [
        "eval",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--limit",
        "3",
        "--out",
        str(out),
        "--quiet",
        "--resamples",
        "20",
        "--no-plots",
    ]
    assert run_cli(*base, "--task", "sciq") == 0
    assert run_cli(*base, "--task", "triviaqa") == 2
    err = capsys.readouterr().err
    assert "different run" in err and "task" in err


def test_unknown_task_lists_tasks(capsys):
    assert run_cli("eval", "--task", "nope", "--out", "/tmp/x") == 2
    err = capsys.readouterr().err
    assert "unknown task 'nope'" in err and "triviaqa" in err and "sciq" in err


def test_unknown_split_lists_splits(capsys, tmp_path):
    assert run_cli("eval", "--task", "sciq", "--split", "dev", "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "no split 'dev'" in err and "train, validation, test" in err


def test_unknown_method_lists_methods(capsys, tmp_path):
    assert run_cli("eval", "--task", "sciq", "--method", "magic", "--out", str(tmp_path)) == 2
    assert "two-stage" in capsys.readouterr().err


def test_model_not_found_says_where_it_looked(capsys, tmp_path):
    rc = run_cli(
        "eval",
        "--task",
        "sciq",
        "--limit",
        "1",
        "--model",
        str(tmp_path / "missing-model"),
        "--out",
        str(tmp_path / "o"),
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "missing-model" in err and "not a local directory" in err and "packaged model" in err


def test_tasks_command_lists_sizes_source_licence(capsys):
    assert run_cli("tasks") == 0
    out = capsys.readouterr().out
    assert "triviaqa" in out and "eval=11,313*" in out and "train=8,829" in out
    tqa = out[out.index("triviaqa  [") :].split("\n")[:4]
    assert "anserini-tools" in tqa[2] and "Apache-2.0" in tqa[3] and "CC BY-NC 4.0" in tqa[3]
    assert "sciq" in out and "CC BY-NC" in out and "test=1,000" in out


def test_method_needing_logits_is_refused_before_any_sample(tmp_path, script, capsys):
    out = tmp_path / "run"
    rc = run_cli(
        "eval",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--task",
        "sciq",
        "--limit",
        "3",
        "--method",
        "two-stage,expected",
        "--out",
        str(out),
        "--quiet",
        "--no-plots",
    )
    assert rc == 2
    assert "needs confidence_distribution" in capsys.readouterr().err
    assert not (out / "samples.jsonl").exists()


def test_eval_ids_file_picks_those_questions_in_order(tmp_path, script):
    ids = tmp_path / "ids.txt"
    ids.write_text("# fresh questions\ntqa-dpr-test-7\ntqa-dpr-test-3\n\ntqa-dpr-test-11\n")
    common = ["eval", "--backend", "scripted", "--script", str(script), "--task", "triviaqa", "--quiet"]
    common += ["--resamples", "50", "--no-plots", "--ids", str(ids)]
    out = tmp_path / "run"
    assert run_cli(*common, "--out", str(out)) == 0
    assert [s["id"] for s in read_samples(out / "samples.jsonl")] == [
        "tqa-dpr-test-7",
        "tqa-dpr-test-3",
        "tqa-dpr-test-11",
    ]
    task = Run.open(out).manifest.task
    assert task["ids_file"]["path"] == str(ids) and len(task["ids_file"]["sha256"]) == 64
    # --limit takes the file's first N; a larger limit extends the run
    first = tmp_path / "first"
    assert run_cli(*common, "--limit", "2", "--out", str(first)) == 0
    assert [s["id"] for s in read_samples(first / "samples.jsonl")] == ["tqa-dpr-test-7", "tqa-dpr-test-3"]


def test_eval_ids_file_errors_name_the_line(tmp_path, script, capsys):
    ids = tmp_path / "ids.txt"
    ids.write_text("tqa-dpr-test-7\nno-such-question\n")
    common = ["eval", "--backend", "scripted", "--script", str(script), "--task", "triviaqa", "--quiet"]
    assert run_cli(*common, "--ids", str(ids), "--out", str(tmp_path / "a")) == 2
    err = capsys.readouterr().err
    assert f"{ids}, line 2: no question 'no-such-question'" in err and "--ids" in err
    ids.write_text("tqa-dpr-test-7\ntqa-dpr-test-7\n")
    assert run_cli(*common, "--ids", str(ids), "--out", str(tmp_path / "b")) == 2
    assert "line 2: id 'tqa-dpr-test-7' already given on line 1" in capsys.readouterr().err
    assert run_cli(*common, "--ids", str(tmp_path / "none.txt"), "--out", str(tmp_path / "c")) == 2
    assert "none.txt: no such id file" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").glob("samples*"))
