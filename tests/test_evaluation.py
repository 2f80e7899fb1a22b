"""``calbench.evaluation.evaluate_task``: the one library entry point of eval and demo,
on the scripted backend (no model)."""

from __future__ import annotations

import json

import pytest

from calbench.backends.scripted import ScriptedBackend
from calbench.evaluation import evaluate_task, evaluation_settings
from calbench.runner import EvalSettings, evaluate
from calbench.tasks import get_task, select

SCRIPT = {"replies": [{"match": "Confidence:", "reply": " 8"}], "default": " Paris"}
VOLATILE = ("timings", "versions", "command", "plots")


def backend() -> ScriptedBackend:
    return ScriptedBackend(**SCRIPT)


def stable(manifest: dict) -> str:
    """The manifest without timings and environment, as JSON (so that NaN metrics compare equal)."""
    return json.dumps({k: v for k, v in manifest.items() if k not in VOLATILE}, sort_keys=True)


@pytest.mark.parametrize("task_name", ["triviaqa", "commonsenseqa"])
def test_evaluate_task_writes_the_run_the_callers_wrote_before(tmp_path, task_name):
    """What demo and baselines built by hand (split, selection, containment judge for open questions)."""
    task = get_task(task_name)
    examples = task.load(task.default_split)
    settings = EvalSettings(
        methods=["two-stage"],
        split=task.default_split,
        limit=4,
        seed=3,
        plots=False,
        judge={"containment": True, "f1_threshold": None} if task.kind == "open" else {},
    )
    old = evaluate(
        task,
        select(examples, 4, 3),
        backend(),
        settings,
        tmp_path / "old",
        model_name="m",
        split_size=len(examples),
        progress=False,
    )
    new = evaluate_task(
        task_name,
        backend(),
        tmp_path / "new",
        methods=["two-stage"],
        limit=4,
        seed=3,
        judge_containment=True,
        plots=False,
        model_name="m",
        progress=False,
    )
    assert stable(new) == stable(old)
    assert new["judge"]["settings"].get("containment") is (True if task.kind == "open" else None)
    # rerunning resumes: nothing is evaluated again
    again = evaluate_task(
        task_name,
        backend(),
        tmp_path / "new",
        methods=["two-stage"],
        limit=4,
        seed=3,
        judge_containment=True,
        plots=False,
        model_name="m",
        progress=False,
    )
    assert again["timings"]["questions_this_invocation"] == 0 and stable(again) == stable(new)


def test_settings_and_split_examples(tmp_path):
    task = get_task("triviaqa")
    s = evaluation_settings(task, ["two-stage"], limit=2, judge_f1=0.5)
    assert s.split == task.default_split and s.judge == {"containment": False, "f1_threshold": 0.5}
    assert evaluation_settings(get_task("commonsenseqa"), ["two-stage"], judge_containment=True).judge == {}
    loaded = task.load(s.split)
    man = evaluate_task(
        task, backend(), tmp_path / "r", settings=s, examples=(loaded, select(loaded, 2, s.seed)), progress=False
    )
    assert man["n"] == 2 and man["task"]["split_size"] == len(loaded)
    with pytest.raises(ValueError, match="not both"):
        evaluate_task(task, backend(), tmp_path / "r", settings=s, methods=["two-stage"])


def test_demo_goes_through_evaluate_task(tmp_path, monkeypatch, capsys):
    from calbench.cli import main

    monkeypatch.setattr("calbench.backends.make_backend", lambda *a, **k: backend())
    monkeypatch.setattr("calbench.commands.demo.demo_outputs", lambda *a, **k: None)
    assert (
        main(
            [
                "demo",
                "--model",
                "m",
                "--tasks",
                "triviaqa,commonsenseqa",
                "--limit",
                "2",
                "--out",
                str(tmp_path),
                "--quiet",
            ]
        )
        == 0
    )
    open_run = json.loads((tmp_path / "m__triviaqa__two-stage" / "run.json").read_text())
    mc_run = json.loads((tmp_path / "m__commonsenseqa__two-stage" / "run.json").read_text())
    assert open_run["n"] == mc_run["n"] == 2 and open_run["judge"]["settings"]["containment"] is True
    assert mc_run["judge"]["name"] == "choice_letter"
