"""calbench study: a tiny study (2 training steps on a tiny random-init model, a handful of questions, two
baselines, one scaler, one unseen task) runs end to end, is interrupted and resumed, and its plan says what is done;
a study file with a mistake names the field; a done step whose command changed is refused."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from calbench import study as st

pytest.importorskip("peft")

REPO = Path(__file__).resolve().parents[1]
SMOKE = {
    "train_size": 8,
    "heldout_size": 4,
    "max_steps": 2,
    "eval_every": 1,
    "save_every": 1,
    "logging_steps": 1,
    "answer_max_new_tokens": 6,
    "answer_batch_size": 8,
    "eval_batch_size": 8,
    "learning_rate": 1e-3,
    "warmup_steps": 0,
    "batch_size": 4,
    "epochs": 1,
    "estimator": "exact",
}


def tiny_study(folder: Path, model: str, seed: int = 0) -> Path:
    spec = {
        "study": "tiny",
        "description": "a tiny study for the tests",
        "model": model,
        "work": str(folder / "work"),
        "eval_options": {"seed": seed, "resamples": 50, "batch_size": 8, "quiet": True},
        "training": {"trainer": "rewarding-doubt", "task": "triviaqa", "settings": SMOKE},
        "answers": {
            "triviaqa": {
                "task": "triviaqa",
                "limit": 6,
                "run": "before-triviaqa",
                "methods": ["two-stage", "seq-likelihood-mean"],
            },
            # given: a run folder made outside the study (answers the user brought, half of them right)
            "calibration": {"task": "triviaqa", "split": "train", "limit": 6, "run": "before-cal"},
            "sciq": {"task": "sciq", "split": "test", "limit": 4, "run": "before-sciq", "methods": ["two-stage"]},
        },
        "evaluations": [
            {"answers": "triviaqa", "methods": ["two-stage", "expected"], "out": "after-triviaqa", "first": 3},
            {"answers": "sciq", "methods": ["two-stage"], "out": "after-sciq", "stage": "unseen"},
        ],
        "scalers": [
            {
                "fit": "before-cal",
                "apply": "before-triviaqa",
                "scaler": "platt",
                "methods": ["seq-likelihood-mean"],
                "out": "before-triviaqa-platt",
            }
        ],
        "tables": [
            {
                "out": "tables.md",
                "runs": [
                    "before-triviaqa",
                    "before-triviaqa-platt",
                    "after-triviaqa",
                    "before-sciq",
                    "after-sciq",
                    "no-such-run",
                ],
            }
        ],
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "calbench", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=kw.get("cwd", REPO),
        timeout=kw.get("timeout", 900),
    )


def _complete(folder: Path) -> bool:
    try:
        return json.loads((folder / "run.json").read_text()).get("status") == "complete"
    except (OSError, ValueError):
        return False


def given_calibration_run(folder: Path, model: str) -> None:
    """A calibration run on answers the user brings, half of them the gold answer: the tiny model itself is never
    right, and a scaler needs both outcomes."""
    from calbench.tasks import get_task, select

    examples = select(get_task("triviaqa").load("train"), 6, 0)
    given = folder / "given.jsonl"
    given.write_text(
        "".join(
            json.dumps({"id": e.id, "answer": e.answers[0] if i % 2 else "no such answer"}) + "\n"
            for i, e in enumerate(examples)
        )
    )
    made = cli(
        "eval",
        "--model",
        model,
        "--task",
        "triviaqa",
        "--split",
        "train",
        "--limit",
        "6",
        "--method",
        "two-stage,seq-likelihood-mean",
        "--answers",
        str(given),
        "--resamples",
        "50",
        "--quiet",
        "--out",
        str(folder / "before-cal"),
    )
    assert made.returncode == 0, made.stderr[-2000:]


@pytest.mark.slow
def test_a_tiny_study_runs_is_interrupted_resumes_and_reproduces_its_tables(tmp_path, tiny_model_dir):
    path = tiny_study(tmp_path, tiny_model_dir)
    given_calibration_run(tmp_path, tiny_model_dir)
    plan = cli("study", "plan", str(path))
    assert plan.returncode == 0, plan.stderr
    out = plan.stdout
    # every stage in order, nothing done, each step with its command
    assert [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("stage ")] == [
        "answers",
        "train",
        "evaluate",
        "unseen",
        "scalers",
        "tables",
    ]
    assert out.count("[to do]") == 3 and "[waiting for" in out
    assert (
        f"calbench eval --model {tiny_model_dir} --seed 0 --resamples 50 --batch-size 8 --quiet "
        "--method two-stage,seq-likelihood-mean --task triviaqa --limit 6 --out" in out
    )
    assert f"calibration: triviaqa train, 6 questions, {tmp_path / 'before-cal'} (given)" in out
    assert (
        f"triviaqa: triviaqa (default split), 6 questions, {tmp_path / 'before-triviaqa'} (made by stage "
        "answers)" in out
    )
    assert "--set max_steps=2" in out and "--set estimator=exact" in out
    assert "steps: 3 to do, 5 waiting, 1 written when the stage runs" in out

    # interrupt the study once its first run folder is complete
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "calbench", "study", "run", str(path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # a test run started in the background of a non-interactive shell inherits SIGINT ignored, and Python
        # then installs no KeyboardInterrupt handler: restore the default so that the interruption below lands
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    first = tmp_path / "before-triviaqa"
    deadline = time.time() + 600
    while not _complete(first) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    assert _complete(first), proc.communicate()[0] if proc.poll() is not None else "timed out"
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=120)
    mtime = (first / "run.json").stat().st_mtime_ns
    # a finished run is compressed at once unless a later step's command names its samples file, as this one's
    assert (first / "samples.jsonl").exists()
    mid = cli("study", "plan", str(path)).stdout
    assert f"[done] {first}" in mid
    assert not (tmp_path / "tables.md").exists()

    done = cli("study", "run", str(path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (first / "run.json").stat().st_mtime_ns == mtime  # resumed: the finished step was not run again
    assert f"calbench eval --model {tiny_model_dir}" in done.stderr
    final = cli("study", "plan", str(path)).stdout
    assert "steps: 8 done, 1 written when the stage runs" in final, final
    # the subset run and its extension, the training record, the scaler, compressed samples
    assert json.loads((tmp_path / "after-triviaqa-3/run.json").read_text())["n"] == 3
    assert json.loads((tmp_path / "after-triviaqa/run.json").read_text())["n"] == 6
    assert (tmp_path / "train/summary.json").exists() and (tmp_path / "work/train/adapter").is_dir()
    # the scaled run keeps only what differs from the run it was applied to (thinned when the study compresses)
    assert (tmp_path / "before-triviaqa-platt/samples.derived.jsonl.xz").exists()
    # so does an evaluation of the answers of an answer set's run (the trained adapter on the untrained answers)
    assert (tmp_path / "after-triviaqa/samples.derived.jsonl.xz").exists()
    assert not list((tmp_path / "after-triviaqa-3").glob("*.png"))  # a subset run keeps no figures
    tables = (tmp_path / "tables.md").read_text()
    assert "| after-triviaqa:two-stage | 6 |" in tables and "### sciq, 4 questions" in tables
    assert "Paired differences, trained minus untrained" in tables
    assert "skipped" in done.stderr and "no-such-run" in done.stderr
    state = json.loads((tmp_path / st.STATE_FILE).read_text())
    assert any("before-triviaqa" in k for k in state)

    # the tables stage alone rebuilds the same file from the run folders
    (tmp_path / "tables.md").unlink()
    again = cli("study", "run", str(path), "--stage", "tables")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "tables.md").read_text() == tables

    # a changed command is named and refused; nothing is rerun
    tiny_study(tmp_path, tiny_model_dir, seed=1)
    changed = cli("study", "plan", str(path)).stdout
    assert "[changed: command changed (was 0, now 1)]" in changed
    refused = cli("study", "run", str(path))
    assert refused.returncode == 2 and "is done but its command changed (was 0, now 1)" in refused.stderr
    assert (first / "run.json").stat().st_mtime_ns == mtime


def _write(tmp_path: Path, spec: dict) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


BASE = {
    "study": "x",
    "model": "m",
    "answers": {"a": {"task": "triviaqa", "limit": 5, "run": "before", "methods": ["two-stage"]}},
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"studdy": "x"}, "unknown field studdy"),
        ({"model": None}, "model is required"),
        ({"study": "a b"}, "study must be a plain name"),
        ({"answers": {"a": {"task": "triviaqa", "limit": "five", "run": "r"}}}, "answers.a.limit must be int"),
        (
            {"evaluations": [{"answers": "b", "methods": ["two-stage"], "out": "o", "adapter": False}]},
            "evaluations[0].answers: no answer set 'b' (answers: a)",
        ),
        (
            {"evaluations": [{"answers": "a", "methods": ["two-stage"], "out": "o"}]},
            "rates the trained model, but the study has no training section",
        ),
        (
            {"evaluations": [{"answers": "a", "methods": ["two-stage"], "out": "o", "adapter": False, "stage": "x"}]},
            "evaluations[0].stage must be answers, evaluate or unseen",
        ),
        (
            {"evaluations": [{"answers": "a", "methods": ["two-stage"], "out": "before", "adapter": False}]},
            "two steps write",
        ),
        ({"reports": [{"out": "r.md", "arms": ["before#"]}]}, "'before#' is not RUN#METHOD"),
        ({"level_gaps": [{"out": "g.md"}]}, "level_gaps[0].readout is required"),
        ({"answers": {"a": {"task": "triviaqa", "run": "r", "file": "f.jsonl"}}}, "give either run"),
        (
            {"answers": {"a": {"task": "triviaqa", "file": "f.jsonl", "methods": ["two-stage"]}}},
            "an answers file is given as it is",
        ),
        (
            {"training": [{"trainer": "t", "task": "x"}, {"trainer": "t", "task": "x"}]},
            "two trainings are named 'train'",
        ),
        (
            {"training": {"trainer": "t", "task": "x", "start_from": {"training": "other", "checkpoint": 5}}},
            "training[0].start_from.training must name an earlier training",
        ),
        (
            {
                "training": {"trainer": "t", "task": "x"},
                "evaluations": [{"answers": "a", "methods": ["two-stage"], "out": "o", "adapter": "nope/adapter_best"}],
            },
            "evaluations[0].adapter: 'nope/adapter_best' names no training",
        ),
        ({"eval_options": {"seed": "zero"}}, "eval_options.seed must be int"),
        (
            {
                "training": [
                    {"trainer": "t", "task": "x", "continue_from": "second"},
                    {"name": "second", "trainer": "t", "task": "x"},
                ]
            },
            "training[0].continue_from must name an earlier training",
        ),
        (
            {"answers": {"a": {"task": "triviaqa", "file": "f.jsonl", "ids": "ids.txt"}}},
            "answers.a.ids: an answers file's questions are its own",
        ),
    ],
)
def test_a_mistake_in_the_study_file_names_the_field(tmp_path, change, message):
    path = _write(tmp_path, {**BASE, **change})
    with pytest.raises(st.StudyError, match=None) as e:
        st.load(path)
    assert message in str(e.value) and str(path) in str(e.value)


def test_not_yaml_and_missing_file_are_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("study: [unclosed\n")
    with pytest.raises(st.StudyError, match="bad.yaml: not valid YAML"):
        st.load(bad)
    with pytest.raises(st.StudyError, match="no such study file"):
        st.load(tmp_path / "none.yaml")
    path = _write(tmp_path, BASE)
    with pytest.raises(st.StudyError, match="no stage 'nope'"):
        st.run(st.load(path), "nope")


def test_a_folder_copied_in_counts_as_done_and_later_steps_wait_for_their_inputs(tmp_path):
    spec = {
        **BASE,
        "evaluations": [{"answers": "a", "methods": ["two-stage"], "out": "again", "adapter": False}],
        "scalers": [{"fit": "cal", "apply": "before", "methods": ["two-stage"], "out": "scaled"}],
    }
    study = st.load(_write(tmp_path, spec))
    text = st.plan_text(study)
    assert "[to do]" in text and "[waiting for" in text and "cal/run.json" in text
    run = tmp_path / "before"  # a finished run made elsewhere, copied in
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"calbench_run": 1, "status": "running", "methods": ["two-stage"]}))
    (run / "samples.jsonl").write_text("")
    # a run still being written (or interrupted) is no input yet: the steps reading it wait
    text = st.plan_text(study)
    assert "status running]" in text and "[to do]" not in text
    assert "before/run.json (its run is not complete)" in text
    (run / "run.json").write_text(
        json.dumps({"calbench_run": 1, "status": "complete", "n": 5, "methods": ["two-stage"]})
    )
    text = st.plan_text(study)
    assert f"[done] {run}" in text
    assert "[to do]" in text  # the evaluation now has its answers
    calls = []
    assert st.run(study, "scalers", log=calls.append, runner=lambda argv: calls.append(argv) or 0) == 1
    assert "waiting for" in calls[-1] and "cal/run.json" in calls[-1]


def test_only_runs_the_named_steps_and_a_step_another_runner_holds_is_skipped(tmp_path):
    """study run --only: two runners of one study take disjoint steps (one per core); each step runs under a lock,
    so a step another runner holds is skipped, never run twice at once; an unknown name is refused with the list."""
    spec = {
        **BASE,
        "work": str(tmp_path / "work"),
        "answers": {
            "a": {"task": "triviaqa", "limit": 5, "run": "before", "methods": ["two-stage"]},
            "b": {"task": "sciq", "split": "test", "limit": 5, "run": "other", "methods": ["two-stage"]},
        },
    }
    study = st.load(_write(tmp_path, spec))
    ran: list[str] = []

    def runner(argv: list[str]) -> int:  # a finished run folder where the command would write one
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True)
        (out / "samples.jsonl").write_text("")
        (out / "run.json").write_text(
            json.dumps({"calbench_run": 1, "status": "complete", "n": 5, "methods": ["two-stage"]})
        )
        ran.append(out.name)
        return 0

    with pytest.raises(st.StudyError, match=r"--only: no step 'nope'.*steps: before, other"):
        st.run(study, only=["nope"], runner=runner)
    assert st.run(study, only=["other"], runner=runner, log=lambda m: None) == 0
    assert ran == ["other"]
    assert [Path(k).name for k in json.loads((tmp_path / "study_state.json").read_text())] == ["other"]
    logged: list[str] = []
    with st._locked(st._lock_path(study, st._rel(tmp_path / "before")), wait=False) as mine:
        assert mine is True  # this test holds the step, as a second runner would
        assert st.run(study, runner=runner, log=logged.append) == 0
    assert ran == ["other"] and any("another runner is running this step; skipped" in m for m in logged)
    assert st.run(study, runner=runner, log=lambda m: None) == 0  # released: now it runs
    assert ran == ["other", "before"]
    assert (tmp_path / "work" / "locks").is_dir() and not list(tmp_path.glob("*.lock"))  # locks stay in work/


@pytest.mark.parametrize("path", sorted((REPO / "results").rglob("study.yaml")), ids=lambda p: p.parent.name)
def test_each_committed_study_loads_and_its_committed_runs_are_done(path, monkeypatch):
    """The committed experiments' study files match their committed run folders: every evaluation and scaler is
    done (the tables stage rebuilds tables.md and the reports from them byte for byte; checked by hand, see
    results/training/README.md), nothing is marked changed, and every run a table or a written report reads
    exists."""
    monkeypatch.chdir(REPO)
    study = st.load(path)
    state = st._read_state(study)
    # a study marked in_progress (pre-registered, then run over several sessions): the steps it has made must be
    # done, the rest may be waiting; every other committed study is finished
    in_progress = study.spec["in_progress"]
    for step in st.plan(study):
        if step.kind in ("eval", "calibrate", "copy"):
            if in_progress and not step.out.exists():
                continue
            assert st.status(step, state) == "done", (step.label, st.status(step, state))
    for tb in study.spec["tables"] if not in_progress else []:
        assert all(study.ref(r).is_dir() for r in tb["runs"]), tb["runs"]
    for r in study.spec["reports"]:  # a report of a study in progress may wait for its runs until it is written
        if in_progress and not study.ref(r["out"]).exists():
            continue
        assert all(study.ref(a.split("#")[0]).is_dir() for a in r["arms"]), r["arms"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rd-smollm2-triviaqa-pass2", "rd-smollm2-sciq-full"])
def test_the_headline_studies_tables_stage_reproduces_the_committed_tables(name, monkeypatch):
    """The tables stage of the TriviaQA and SciQ headline studies rebuilds their committed tables.md byte for byte
    from the committed run folders (every metric, CI and paired difference recomputed)."""
    monkeypatch.chdir(REPO)
    study = st.load(REPO / "results/training" / name / "study.yaml")
    (step,) = [s for s in st.plan(study) if s.kind == "output" and s.out.name == "tables.md"]
    assert step.action() == step.out.read_text(encoding="utf-8")


def test_a_probe_is_fitted_on_an_answer_set_and_evaluated_with_its_file(tmp_path):
    """probes: `calbench probe fit` on an answer set's labelled answers (stage probes, before train); an
    evaluation names the probe file (`--probe`, an input and a need) and may add eval options (answered_only)."""
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"id": "x", "answer": "y"}\n')
    spec = {
        "study": "x",
        "model": "m",
        "eval_options": {"judge_containment": True, "seed": 0},
        "answers": {
            "pool": {"task": "sciq", "split": "train", "file": "pool.jsonl"},
            "test": {"task": "sciq", "split": "test", "limit": 5, "run": "before", "methods": ["two-stage"]},
        },
        "probes": [{"answers": "pool", "out": "probes/sciq.json"}],
        "evaluations": [
            {
                "answers": "test",
                "methods": ["probe"],
                "probe": "probes/sciq.json",
                "out": "probe-test",
                "adapter": False,
            },
            {
                "answers": "pool",
                "methods": ["expected"],
                "out": "pool-expected",
                "adapter": False,
                "options": {"answered_only": True},
            },
            {"answers": "test", "methods": ["two-stage"], "out": "verbatim", "adapter": False, "verbatim": True},
        ],
    }
    study = st.load(_write(tmp_path, spec))
    steps = {s.kind + ":" + s.out.name: s for s in st.plan(study)}
    verbatim = steps["eval:verbatim"].argv  # the answer set run's replies as generated (eval --answers-verbatim)
    assert verbatim[verbatim.index("--answers") + 2] == "--answers-verbatim"
    assert "--answers-verbatim" not in steps["eval:probe-test"].argv
    fit = steps["probe:sciq.json"]
    assert fit.stage == "probes" and fit.argv[:2] == ["probe", "fit"] and "--judge-containment" in fit.argv
    assert fit.argv[fit.argv.index("--answers") + 1].endswith("pool.jsonl") and fit.command().startswith(
        "calbench probe"
    )
    assert fit.argv[fit.argv.index("--split") + 1] == "train" and st.STAGES.index("probes") < st.STAGES.index("train")
    ev = steps["eval:probe-test"]
    assert ev.argv[ev.argv.index("--probe") + 1].endswith("probes/sciq.json")
    assert any(p.name == "sciq.json" for p in ev.needs) and any(p.name == "sciq.json" for p in ev.inputs)
    assert st.status(ev, {}).startswith("waiting for")
    pooled = steps["eval:pool-expected"]
    assert "--answered-only" in pooled.argv and "--judge-containment" in pooled.argv
    with pytest.raises(st.StudyError, match="no answer set 'nope'"):
        st.load(_write(tmp_path, {**spec, "probes": [{"answers": "nope", "out": "p.json"}]}))


def test_answered_only_evaluates_the_questions_a_pool_answers(tmp_path):
    """eval --answers FILE --answered-only: the selection keeps the questions the file answers (a trainer's pool)."""
    from calbench.backends.scripted import ScriptedBackend
    from calbench.evaluation import evaluate
    from calbench.tasks import get_task

    train = get_task("triviaqa").load("train")
    table = {e.id: e.answers[0] for e in train[5:12:2]}  # 4 answered questions, not the first ones
    result = evaluate(
        "triviaqa",
        ScriptedBackend(replies=[{"match": "Confidence:", "reply": " 8"}], default=" Paris"),
        tmp_path / "r",
        methods=["two-stage"],
        split="train",
        answers=table,
        answered_only=True,
        plots=False,
    )
    assert result.manifest["n"] == 4 and result.manifest["metrics"]["accuracy"]["value"] == 1.0
    with pytest.raises(st.UserError, match="needs given answers"):
        evaluate("triviaqa", ScriptedBackend(default=" x"), tmp_path / "s", methods=["two-stage"], answered_only=True)


CHAIN = {  # two trainings, the second continuing the first
    **BASE,
    "training": [
        {"name": "pass1", "trainer": "rewarding-doubt", "task": "sciq"},
        {"name": "pass2", "trainer": "rewarding-doubt", "task": "sciq", "continue_from": "pass1"},
    ],
}


def test_a_chain_of_trainings_continues_an_earlier_one_by_name(tmp_path):
    study = st.load(_write(tmp_path, CHAIN))
    second = [s for s in st.plan(study) if s.kind == "train"][1]
    assert f"continue_from={st._rel(study.work_of('pass1'))}" in second.argv
    assert study.work_of("pass1") / "adapter" in second.needs


def test_a_done_training_whose_work_folder_was_lost_is_named_with_the_way_out(tmp_path, monkeypatch):
    """Work folders are never committed: on a new machine a training's record says done while its adapter is gone.
    The step that needs the adapter stops naming the record to move away (not 'run the stage that makes it')."""
    monkeypatch.chdir(tmp_path)
    study = st.load(_write(tmp_path, CHAIN))
    first = [s for s in st.plan(study) if s.kind == "train"][0]
    first.out.mkdir(parents=True)
    (first.out / "summary.json").write_text("{}")  # pass 1's record: done; its work folder never existed here
    lines: list[str] = []
    ran: list[list[str]] = []
    assert st.run(study, stage="train", log=lines.append, runner=lambda argv: ran.append(argv) or 0) == 1
    assert ran == []
    assert (
        f"training pass1 is recorded done ({st._rel(first.out / 'summary.json')})" in lines[-1]
        and "has no adapter" in lines[-1]
    )
    assert f"move {st._rel(first.out)} away to train it again" in lines[-1]
    shutil.rmtree(first.out)  # moved away: pass 1 is trained again
    assert st.run(study, stage="train", log=lines.append, runner=lambda argv: ran.append(argv) or 1) == 1
    assert ran and ran[0][3:5] == ["train", "--trainer"]


def test_fresh_questions_are_checked_against_every_committed_result(tmp_path):
    """fresh: an id file naming a question that a committed run folder (or a trainer pool) holds is refused, with
    the answer set, the file and an example id; the study's own folders do not count."""
    committed = tmp_path / "results" / "old" / "run"
    committed.mkdir(parents=True)
    (committed / "run.json").write_text(json.dumps({"calbench_run": 1, "status": "complete", "task": {"name": "sciq"}}))
    (committed / "samples.jsonl").write_text(json.dumps({"id": "sciq-test-3", "method": "two-stage"}) + "\n")
    pool = tmp_path / "results" / "old" / "train"
    (pool / "answers.jsonl").parent.mkdir(parents=True, exist_ok=True)
    (pool / "answers.jsonl").write_text(json.dumps({"id": "sciq-train-9", "answer": "x"}) + "\n")
    here = tmp_path / "results" / "new" / "s"
    here.mkdir(parents=True)
    own = here / "mine"  # the study's own run, holding the same fresh questions: not a conflict
    own.mkdir()
    (own / "run.json").write_text(json.dumps({"calbench_run": 1, "status": "complete", "task": {"name": "sciq"}}))
    (own / "samples.jsonl").write_text(json.dumps({"id": "sciq-test-5", "method": "two-stage"}) + "\n")
    (here / "ids.txt").write_text("# fresh\nsciq-test-5\nsciq-test-6\n")
    spec = {
        "study": "x",
        "model": "m",
        "fresh": {"against": ["../.."]},
        "answers": {"a": {"task": "sciq", "ids": "ids.txt", "run": "mine", "methods": ["two-stage"]}},
    }
    study = st.load(_write(here, spec))
    assert st.check_fresh(study) == {"a": 2}
    assert "--ids" in [s for s in st.plan(study) if s.kind == "eval"][0].argv
    assert "fresh questions checked against every committed result: a (2, none used before)" in st.plan_text(study)
    for used in ("sciq-test-3", "sciq-train-9"):
        (here / "ids.txt").write_text(f"sciq-test-5\n{used}\n")
        with pytest.raises(
            st.StudyError,
            match=f"answers.a.ids: 1 of the 2 questions of ids.txt were used by a committed result \\(e.g. {used}\\)",
        ):
            st.run(study, runner=lambda argv: 0)


def test_a_preregistered_study_records_its_commit_and_checks_its_frozen_files(tmp_path, monkeypatch):
    """Every output of a study with ``preregistration:`` starts with the commit and whether the files it froze are
    unchanged since (git diff); plan shows the same line; a malformed commit is refused."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    (tmp_path / "recipe.yaml").write_text("lr: 0.001\n")
    git("add", "recipe.yaml")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "pre-registration")
    commit = git("rev-parse", "--short", "HEAD").strip()
    spec = {
        "study": "x",
        "model": "m",
        "preregistration": {"commit": commit, "file": "PREREG.md", "frozen": ["recipe.yaml"]},
        "tables": [{"out": "tables.md", "runs": ["no-such-run"]}],
    }
    path = _write(tmp_path, spec)
    monkeypatch.chdir(tmp_path)
    study = st.load(path.name)
    assert f"Pre-registered in PREREG.md, commit {commit}; its 1 frozen file(s)" in st.plan_text(study)
    assert st.run(study, "tables", log=lambda m: None) == 0
    first = (tmp_path / "tables.md").read_text().splitlines()[0]
    assert first.startswith(f"Pre-registered in PREREG.md, commit {commit}") and "unchanged since" in first

    (tmp_path / "recipe.yaml").write_text("lr: 0.01\n")  # the frozen recipe edited after the commit
    assert "**changed since**: recipe.yaml" in st.preregistration_line(st.load(path.name))
    spec["preregistration"]["commit"] = "0" * 40  # not a commit of this checkout
    assert "not checked (the commit is not in this checkout)" in st.preregistration_line(
        st.load(_write(tmp_path, spec).name)
    )
    spec["preregistration"]["commit"] = "HEAD~1"
    with pytest.raises(st.StudyError, match="preregistration.commit must be a git commit"):
        st.load(_write(tmp_path, spec))


def test_the_plan_counts_a_partial_run_by_the_questions_in_its_samples(tmp_path):
    from calbench.runs import new_manifest, write_manifest

    out = tmp_path / "half"
    out.mkdir()
    manifest = new_manifest(
        status="running",
        model={"name": "m"},
        task={"name": "triviaqa"},
        n=10,  # the planned count, written when the run starts
        methods=["a", "b"],
        elicitation={},
        generation={},
        judge={},
        parse_policy="strict",
        seed=0,
        versions={},
        command="calbench eval",
    )
    write_manifest(out, manifest)
    fields = ("task", "model", "prompt", "raw_output", "answer", "confidence", "parse_ok", "correct", "judge")
    rows = [{"id": f"q{i}", "method": m, **dict.fromkeys(fields)} for i in range(3) for m in ("a", "b")]
    (out / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    step = st.Step(stage="evaluate", kind="eval", out=out, expect={"n": 10, "methods": ["a", "b"]})
    assert st.status(step, {}) == "partial: 3 of 10 questions, status running"
    unknown = st.Step(stage="evaluate", kind="eval", out=out, expect={"methods": ["a"]})
    assert st.status(unknown, {}) == "partial: 3 questions, status running"
