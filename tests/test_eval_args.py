"""Bad arguments stop `calbench eval` (and the other commands) at once: exit code 2, one line naming the
option, before any model loads and without touching an existing run folder."""

from __future__ import annotations

import json

import pytest

from calbench.cli import main


def cli(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    try:
        rc = main(list(args))
    except SystemExit as e:  # argparse
        rc = e.code
    return rc, capsys.readouterr().err.strip()


@pytest.fixture(autouse=True)
def no_model(monkeypatch):
    """Any attempt to build a backend (load a model) fails the test."""

    def boom(*a, **k):
        raise AssertionError("a model was loaded before the arguments were checked")

    monkeypatch.setattr("calbench.backends.make_backend", boom)


@pytest.mark.parametrize(
    "args, named",
    [
        (["--limit", "-5"], "--limit"),
        (["--limit", "0"], "--limit"),
        (["--bins", "-3"], "--bins"),
        (["--bins", "0"], "--bins"),
        (["--resamples", "0"], "--resamples"),
        (["--chunk-size", "0"], "--chunk-size"),
        (["--batch-size", "-1"], "--batch-size"),
        (["--max-new-tokens", "0"], "--max-new-tokens"),
        (["--sc-k", "0"], "--sc-k"),
        (["--sc-temperature", "-1"], "--sc-temperature"),
        (["--judge-f1", "1.5"], "--judge-f1"),
        (["--limit", "ten"], "--limit"),
        (["--data", "x.csv"], "--data"),  # --task and --data together
        (["--question-field", "q"], "--question-field"),  # a --data option without --data
        (["--backend", "nope"], "--backend"),
        (["--calibrate", "platt", "--calibration-split", "nope"], "--calibration-split"),
        (["--calibration-split", "train"], "--calibrate"),
    ],
)
def test_bad_eval_arguments_exit_2_with_one_line(capsys, tmp_path, args, named):
    rc, err = cli(capsys, "eval", "--task", "sciq", "--out", str(tmp_path / "out"), *args)
    assert rc == 2
    assert len(err.splitlines()) == 1 and named in err, err
    assert not (tmp_path / "out").exists()


def test_scripted_backend_needs_an_existing_script(capsys, tmp_path):
    rc, err = cli(
        capsys,
        "eval",
        "--task",
        "sciq",
        "--backend",
        "scripted",
        "--script",
        str(tmp_path / "no.json"),
        "--out",
        str(tmp_path / "out"),
    )
    assert rc == 2 and "no.json" in err


def test_other_commands_check_numbers(capsys, tmp_path):
    for args in (
        ["score", "x.jsonl", "--bins", "0"],
        ["score", "x.jsonl", "--resamples", "-1"],
        ["import-lmeval", "x", "--out", "y", "--bins", "-2"],
        ["demo", "--limit", "-5"],
        ["calibrate", "--fit", "a", "--apply", "b", "--out", "c", "--bins", "0"],
        ["report", "a", "--out", "r.md", "--resamples", "0"],
    ):
        rc, err = cli(capsys, *args)
        assert rc == 2 and len(err.splitlines()) == 1, (args, err)


def test_reused_folder_names_the_setting_that_differs_before_the_model_loads(capsys, tmp_path, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    from calbench.elicit import templates
    from calbench.judge import judge_for
    from calbench.runner import data_sha256
    from calbench.tasks import get_task, select

    # a smaller --limit than the folder's (a larger one would extend the run): refused, naming --limit, not
    # the data hash that follows from it
    exs = select(get_task("sciq").load("test"), 20, 0)
    manifest = {
        "model": {"id": "smollm2-135m-instruct", "sha256": "x", "adapter": None},
        "task": {"name": "sciq", "split": "test", "source": "bundled", "limit": 20, "data_sha256": data_sha256(exs)},
        "n": 20,
        "methods": ["two-stage"],
        "elicitation": {"scale": "0-10", "templates": templates()},
        "judge": {"name": judge_for(get_task("sciq").kind).name, "settings": judge_for(get_task("sciq").kind).settings},
        "seed": 0,
    }
    (out / "run.json").write_text(json.dumps(manifest))
    before = (out / "run.json").read_bytes()
    rc, err = cli(capsys, "eval", "--task", "sciq", "--limit", "5", "--out", str(out))
    assert rc == 2 and "--limit" in err and "20 there, 5 now" in err and "data_sha256" not in err
    assert (out / "run.json").read_bytes() == before
