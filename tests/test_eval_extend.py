"""`calbench eval` with a larger --limit on a finished folder extends it: the earlier questions are kept as they
were (not recomputed), only the new ones are evaluated, and the manifest records what it was extended from.
Anything else that differs is still refused, with the folder left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calbench.cli import main
from calbench.records import read_samples
from calbench.tasks import get_task, select

SCRIPT = {"replies": [{"match": "How confident", "reply": "8"}], "default": " Paris"}


@pytest.fixture()
def base(tmp_path) -> list[str]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    return [
        "eval",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--task",
        "sciq",
        "--out",
        str(tmp_path / "run"),
        "--quiet",
        "--resamples",
        "20",
        "--no-plots",
    ]


def answers_file(path: Path, n: int, change: str | None = None) -> Path:
    """Given answers for the first ``n`` of seed 0's selection; ``change`` replaces the answer of that id."""
    ids = [e.id for e in select(get_task("sciq").load("test"), n, 0)]
    path.write_text(
        "".join(
            json.dumps({"id": i, "answer": "water" if i == change else f"answer {k}"}) + "\n" for k, i in enumerate(ids)
        )
    )
    return path


def test_a_larger_limit_extends_the_run_without_recomputing_it(tmp_path, base):
    out = tmp_path / "run"
    assert main([*base, "--limit", "6"]) == 0
    first = (out / "samples.jsonl").read_text().splitlines()
    old = json.loads((out / "run.json").read_text())
    assert main([*base, "--limit", "10"]) == 0
    lines = (out / "samples.jsonl").read_text().splitlines()
    assert lines[:6] == first  # the earlier samples stand as they were written
    ids = [s["id"] for s in read_samples(out / "samples.jsonl")]
    assert ids == [e.id for e in select(get_task("sciq").load("test"), 10, 0)]
    run = json.loads((out / "run.json").read_text())
    assert run["n"] == 10 and run["task"]["limit"] == 10 and run["status"] == "complete"
    assert run["extended_from"] == [
        {"limit": 6, "n": 6, "data_sha256": old["task"]["data_sha256"], "answers_sha256": None}
    ]
    assert run["timings"]["first_started"] == old["timings"]["first_started"]
    # resuming the extended run is an ordinary resume, and the record of the extension stays
    assert main([*base, "--limit", "10"]) == 0
    assert len((out / "samples.jsonl").read_text().splitlines()) == 10
    assert json.loads((out / "run.json").read_text())["extended_from"] == run["extended_from"]


@pytest.mark.parametrize("args, says", [(["--limit", "4"], "limit"), (["--limit", "10", "--seed", "1"], "seed")])
def test_a_smaller_limit_or_another_selection_is_refused(tmp_path, base, capsys, args, says):
    out = tmp_path / "run"
    assert main([*base, "--limit", "6"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main([*base, *args]) == 2
    err = capsys.readouterr().err
    assert "different run" in err and says in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_given_answers_extend_only_when_the_earlier_answers_are_unchanged(tmp_path, base, capsys):
    out = tmp_path / "run"
    assert main([*base, "--limit", "6", "--answers", str(answers_file(tmp_path / "a6.jsonl", 6))]) == 0
    before = (out / "samples.jsonl").read_bytes()
    ids = [e.id for e in select(get_task("sciq").load("test"), 10, 0)]
    # a grown file whose first six answers differ in one: refused, naming the question
    changed = answers_file(tmp_path / "bad.jsonl", 10, change=ids[2])
    capsys.readouterr()
    assert main([*base, "--limit", "10", "--answers", str(changed)]) == 2
    err = capsys.readouterr().err
    assert ids[2] in err and "cannot be extended" in err
    assert (out / "samples.jsonl").read_bytes() == before
    # generated answers cannot extend a run on given answers
    assert main([*base, "--limit", "10"]) == 2
    assert "--answers" in capsys.readouterr().err
    # the grown file with the same first six answers extends it
    grown = answers_file(tmp_path / "a10.jsonl", 10)
    assert main([*base, "--limit", "10", "--answers", str(grown)]) == 0
    samples = read_samples(out / "samples.jsonl")
    assert [s["id"] for s in samples] == ids and all(s["answer_given"] for s in samples)
    assert [s["answer_output"].strip() for s in samples] == [f"answer {k}" for k in range(10)]
    run = json.loads((out / "run.json").read_text())
    assert run["extended_from"][0]["limit"] == 6 and run["extended_from"][0]["answers_sha256"]
    assert run["given_answers"]["n_used"] == 10


def test_a_generated_run_is_not_extended_on_given_answers(tmp_path, base, capsys):
    assert main([*base, "--limit", "6"]) == 0
    capsys.readouterr()
    assert main([*base, "--limit", "10", "--answers", str(answers_file(tmp_path / "a.jsonl", 10))]) == 2
    assert "generated its answers" in capsys.readouterr().err
