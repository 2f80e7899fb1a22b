"""Commands that write a run folder refuse one that holds a different run, and leave it byte for byte as it
was; re-importing the same lm-eval log replaces its own import."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from calbench.cli import main
from calbench.lmeval import hooks
from calbench.tasks import get_task, select

SCRIPT = {"replies": [{"match": "How confident", "reply": "8"}], "default": " Paris"}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fake_lmeval_log(folder: Path, task: str = "sciq", n: int = 10) -> Path:
    """An lm-eval --log_samples file of the calbench pack, written by hand (no lm-eval run needed)."""
    folder.mkdir(parents=True)
    docs = [hooks.doc_from_example(e) for e in select(get_task(task).load(get_task(task).default_split), n, 0)]
    path = folder / f"samples_calbench_{task}_2025-01-01T00-00-00.000000.jsonl"
    with open(path, "w") as fh:
        for i, doc in enumerate(docs):
            fh.write(
                json.dumps({"doc_id": i, "doc": doc, "filtered_resps": [f" {doc['answers'][0]}, Confidence: 7"]}) + "\n"
            )
    return path


@pytest.fixture()
def eval_run(tmp_path) -> Path:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    out = tmp_path / "evalrun"
    assert (
        main(
            [
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
                "20",
                "--no-plots",
            ]
        )
        == 0
    )
    (out / "reliability.png").write_bytes(b"old figure")
    return out


def test_import_lmeval_refuses_a_folder_holding_an_eval_run(tmp_path, eval_run, capsys):
    log = fake_lmeval_log(tmp_path / "lmeval_out")
    before = snapshot(eval_run)
    capsys.readouterr()
    assert main(["import-lmeval", str(log), "--out", str(eval_run), "--no-plots", "--resamples", "20"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(eval_run) in err and "different run" in err
    assert snapshot(eval_run) == before


def test_import_lmeval_into_a_fresh_folder_and_again_replaces_its_own_import(tmp_path, capsys):
    log = fake_lmeval_log(tmp_path / "lmeval_out")
    out = tmp_path / "imported"
    args = ["import-lmeval", str(log), "--out", str(out), "--no-plots", "--resamples", "20"]
    assert main(args) == 0
    assert len((out / "samples.jsonl").read_text().splitlines()) == 10
    assert main([*args, "--policy", "as_wrong_with_prior"]) == 0
    assert json.loads((out / "run.json").read_text())["parse_policy"] == "as_wrong_with_prior"
    assert not list(out.glob("*.tmp"))
    # another task's log into the same folder is a different run
    other = fake_lmeval_log(tmp_path / "other", task="triviaqa")
    before = snapshot(out)
    assert main(["import-lmeval", str(other), "--out", str(out), "--no-plots", "--resamples", "20"]) == 2
    assert snapshot(out) == before


def test_calibrate_refuses_a_folder_holding_a_run(tmp_path, eval_run, capsys):
    script = tmp_path / "script.json"
    cal = tmp_path / "cal"
    assert (
        main(
            [
                "eval",
                "--backend",
                "scripted",
                "--script",
                str(script),
                "--task",
                "sciq",
                "--split",
                "train",
                "--limit",
                "12",
                "--out",
                str(cal),
                "--quiet",
                "--resamples",
                "20",
                "--no-plots",
            ]
        )
        == 0
    )
    before = snapshot(eval_run)
    capsys.readouterr()
    assert (
        main(
            [
                "calibrate",
                "--fit",
                str(cal),
                "--apply",
                str(eval_run),
                "--scaler",
                "histogram",
                "--no-plots",
                "--out",
                str(eval_run),
            ]
        )
        == 2
    )
    assert "already holds a run" in capsys.readouterr().err
    assert snapshot(eval_run) == before


def test_import_of_a_local_copy_of_a_packaged_model_records_its_name_and_sha256(tmp_path, capsys):
    """lm-eval run on calbench's converted cache of SmolLM2 (pretrained=<dir>): the import lines up with
    `calbench eval --model smollm2-135m-instruct` runs (same id and sha256)."""
    from calbench.models import PACKAGED

    smol = PACKAGED["smollm2-135m-instruct"]
    weights = tmp_path / "cache" / "smollm2"
    weights.mkdir(parents=True)
    (weights / "config.json").write_text("{}")
    (weights / "calbench_source.json").write_text(json.dumps({"gguf": smol.gguf_name, "sha256": smol.sha256}))
    log = fake_lmeval_log(tmp_path / "lmeval_out")
    (log.parent / "results_2025-01-01T00-00-00.000000.json").write_text(
        json.dumps({"config": {"model": "hf", "model_args": f"pretrained={weights},dtype=float32"}})
    )
    assert main(["import-lmeval", str(log), "--out", str(tmp_path / "imp"), "--no-plots", "--resamples", "20"]) == 0
    model = json.loads((tmp_path / "imp" / "run.json").read_text())["model"]
    assert model["id"] == "smollm2-135m-instruct" and model["sha256"] == smol.sha256
    # a GGUF file given to lm-eval is hashed; unknown weights keep their path as id, with the hash recorded
    other = tmp_path / "other"
    other.mkdir()
    (other / "m.gguf").write_bytes(b"not a published model")
    (log.parent / "results_2025-01-01T00-00-00.000000.json").write_text(
        json.dumps({"config": {"model": "hf", "model_args": f"pretrained={other},gguf_file=m.gguf"}})
    )
    assert main(["import-lmeval", str(log), "--out", str(tmp_path / "imp2"), "--no-plots", "--resamples", "20"]) == 0
    model = json.loads((tmp_path / "imp2" / "run.json").read_text())["model"]
    assert model["id"] == str(other) and model["sha256"] == hashlib.sha256(b"not a published model").hexdigest()


def test_eval_and_demo_refusals_reach_the_cli_as_errors():
    """`demo` calls the runner directly: its refusal of a folder holding another run must print as a one-line
    error (exit 2), not a traceback."""
    from calbench.rundir import RunFolderError
    from calbench.runner import RunConflictError

    assert issubclass(RunConflictError, RunFolderError)
