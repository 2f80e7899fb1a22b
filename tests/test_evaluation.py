"""``calbench.evaluate`` (plan, preflight, load, run, calibrate) and ``calbench.evaluation.evaluate_task``: the
library entry point of eval and demo, on the scripted backend (no model)."""

from __future__ import annotations

import json

import pytest

from calbench.backends.scripted import ScriptedBackend
from calbench.errors import UserError
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


def test_demo_goes_through_evaluate(tmp_path, monkeypatch, capsys):
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


def test_calbench_evaluate_plans_checks_loads_and_runs(tmp_path, monkeypatch):
    import calbench
    from calbench.evaluation import Evaluation, ModelSpec

    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    model = ModelSpec(backend="scripted", options={"script": str(script)})
    result = calbench.evaluate("triviaqa", model, tmp_path / "r", methods=["two-stage"], limit=3, plots=False)
    assert isinstance(result, Evaluation) and result.manifests == [result.manifest]
    assert result.manifest["n"] == 3 and result.manifest["model"]["id"] == f"scripted:{script}"
    # the same call again resumes (nothing new to do); another seed is refused before the model loads
    again = calbench.evaluate("triviaqa", model, tmp_path / "r", methods=["two-stage"], limit=3, plots=False)
    assert stable(again.manifest) == stable(result.manifest)
    monkeypatch.setattr(ModelSpec, "load", lambda self: pytest.fail("the model loaded before the checks"))
    with pytest.raises(UserError) as refused:
        calbench.evaluate("triviaqa", model, tmp_path / "r", methods=["two-stage"], limit=3, seed=1)
    assert refused.value.field == "seed" and "(--seed)" in refused.value.message({"seed": "--seed"})


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"methods": ["nope"]}, "methods"),
        ({"methods": ["two-stage"], "calibrate": "platt", "calibration_split": "eval"}, "calibration_split"),
        ({"methods": ["two-stage"], "calibrate": "platt"}, "calibration_split"),
        ({"methods": ["two-stage"], "calibration_split": "train"}, "calibrate"),
    ],
)
def test_calbench_evaluate_names_the_setting_of_a_refusal(tmp_path, monkeypatch, kwargs, field):
    import calbench
    from calbench.evaluation import ModelSpec

    monkeypatch.setattr(ModelSpec, "load", lambda self: pytest.fail("the model loaded before the checks"))
    with pytest.raises(UserError) as refused:
        calbench.evaluate("triviaqa", ModelSpec("m"), tmp_path / "r", limit=2, **kwargs)
    assert refused.value.field == field and not (tmp_path / "r").exists()
    assert refused.value.message({field: "--flag"}).startswith("--flag: ")


def test_calbench_evaluate_calibrates_on_the_calibration_split(tmp_path):
    import calbench

    task = get_task("triviaqa")
    chosen = [e for split in ("eval", "train") for e in select(task.load(split), 4, 0)]
    answers = {e.id: e.answers[0] if i % 2 else "nope" for i, e in enumerate(chosen)}  # right and wrong ones
    result = calbench.evaluate(
        "triviaqa",
        backend(),
        tmp_path / "r",
        methods=["two-stage"],
        limit=4,
        plots=False,
        answers=answers,
        calibrate="histogram",
        calibration_split="train",
    )
    assert result.calibrated is not None and result.calibrated["methods"] == ["two-stage+histogram"]
    assert (tmp_path / "r" / "calibration" / "train" / "run.json").is_file()
    assert result.calibrated["calibration"]["fitted_on"]["split"] == "train"


def test_the_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    """README.md's `calbench.evaluate` example, as written, on the scripted backend instead of the model."""
    import re
    from pathlib import Path

    from calbench.evaluation import ModelSpec

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    monkeypatch.setattr(ModelSpec, "load", lambda self: backend())
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert "'value'" in capsys.readouterr().out
    assert json.loads((tmp_path / "runs" / "tqa" / "run.json").read_text())["n"] == 200


def test_the_before_after_table(tmp_path):
    from calbench.commands.demo import before_after_table
    from calbench.reporting.compare import compare, load_arms
    from tests.helpers import make_run

    ids = [f"q{i}" for i in range(40)]
    y = [i % 4 == 0 for i in range(40)]
    make_run(tmp_path / "a", ids=ids, conf=[0.5] * 40, correct=y, methods=("two-stage",))
    make_run(tmp_path / "b", ids=ids, conf=[0.9 if v else 0.1 for v in y], correct=y, methods=("two-stage",), model="t")
    a, b = load_arms([f"{tmp_path / 'a'}#two-stage", f"{tmp_path / 'b'}#two-stage"])[0]
    text = before_after_table([("triviaqa", compare(a, b))])
    auroc = next(line for line in text.splitlines() if "AUROC" in line)
    assert auroc.split()[2:4] == ["0.500", "1.000"] and auroc.endswith("better")
    assert "(40 answers scored by both)" in text
