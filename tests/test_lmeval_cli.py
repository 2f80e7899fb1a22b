"""The real `lm-eval` CLI (subprocess, offline) on the pack, then `calbench import-lmeval` and `calbench
score`: the calibration metrics lm-eval reports equal calbench's over the same samples and an independent
hand computation.

Scripted replies reach lm-eval through its own response cache (`--use_cache`): a first `--model dummy` run
fills the cache (every reply "lol"); the test rewrites the cached replies, keyed by lm-eval's own
`hash_args`, and a second run reads them. Everything after the model -- prompts, process_results,
aggregation, results and sample logs -- is lm-eval's real pipeline.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from calbench.cli import main
from calbench.elicit import one_stage_prompt, render
from calbench.lmeval import hooks
from calbench.lmeval.pack import include_path
from calbench.records import read_samples

LMEVAL = Path(sys.executable).with_name("lm-eval")
ENV = {
    **os.environ,
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
TASKS = ("mmlu", "triviaqa")
LIMIT = 40


def lm_eval(cwd: Path, *args: str) -> None:
    cmd = [str(LMEVAL), "run", "--include_path", str(include_path()), "--log_samples", *args]
    res = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


def results_and_samples(out: Path) -> tuple[dict, dict[str, list[dict]]]:
    (results_file,) = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    samples = {}
    for f in out.rglob("samples_calbench_*.jsonl"):
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        samples[rows[0]["doc"]["task"]] = rows
    return results, samples


def script_reply(doc: dict) -> tuple[str, tuple]:
    """A reply for a doc, and the (confidence, correct, parse_ok) it must score as."""
    rng = random.Random(doc["id"])
    if rng.random() < 0.15:
        return " I would rather not say.", (None, 0, False)
    level = rng.randint(0, 10)
    correct = rng.random() < 0.15 + 0.7 * level / 10
    if doc["choices"]:
        letters = "ABCDEFGHIJ"[: len(doc["choices"])]
        answer = doc["answers"][0] if correct else next(x for x in letters if x != doc["answers"][0])
    else:
        answer = doc["answers"][0] if correct else "Zzyzx Qwv"
    conf = f"{level * 10}%" if rng.random() < 0.3 else str(level)
    return f" {answer}, Confidence: {conf}", (level / 10, int(correct), True)


def hand_metrics(items: list[tuple]) -> dict[str, float]:
    kept = [(c, y) for c, y, ok in items if ok]
    conf, corr = np.array([c for c, _ in kept]), np.array([y for _, y in kept], float)
    idx = np.minimum(np.floor(conf * 10).astype(int), 9)
    ece = sum(
        (idx == b).sum() * abs(corr[idx == b].mean() - conf[idx == b].mean()) for b in range(10) if (idx == b).any()
    ) / len(conf)
    p = np.clip(conf, 1e-3, 1 - 1e-3)
    return {
        "accuracy": corr.mean(),
        "parse_rate": len(kept) / len(items),
        "ece": ece,
        "brier": np.mean((conf - corr) ** 2),
        "log_score": np.mean(corr * np.log(p) + (1 - corr) * np.log(1 - p)),
        "auroc": roc_auc_score(corr, conf),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from lm_eval.api.model import hash_args
    from sqlitedict import SqliteDict

    work = tmp_path_factory.mktemp("lmeval")
    common = [
        "--tasks",
        ",".join(f"calbench_{t}" for t in TASKS),
        "--model",
        "dummy",
        "--limit",
        str(LIMIT),
        "--use_cache",
        str(work / "cache" / "lm"),
    ]
    lm_eval(work, *common, "--output_path", str(work / "dummy"))
    _, logged = results_and_samples(work / "dummy")
    (db_file,) = (work / "cache").glob("lm*.db")
    expected: dict[str, list[tuple]] = {}
    with SqliteDict(str(db_file), autocommit=False) as db:
        assert len(db) == LIMIT * len(TASKS)
        for task, rows in logged.items():
            for row in rows:
                args = row["arguments"]["gen_args_0"]
                key = hash_args("generate_until", (args["arg_0"], args["arg_1"]))
                assert db[key] == "lol"
                reply, item = script_reply(row["doc"])
                db[key] = reply
                expected.setdefault(task, []).append(item)
        db.commit()
    lm_eval(work, *common, "--output_path", str(work / "scripted"))
    return work, expected


def calbench_score(path: Path, capsys) -> dict:
    capsys.readouterr()
    assert main(["score", str(path), "--json", "--resamples", "50"]) == 0
    (group,) = json.loads(capsys.readouterr().out)["groups"]
    return group["metrics"]


def same(a, b) -> bool:
    a = math.nan if a is None else a
    b = math.nan if b is None else b
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


def test_scripted_replies_through_real_cli_match_calbench_and_hand_computation(runs, tmp_path, capsys):
    work, expected = runs
    results, logged = results_and_samples(work / "scripted")
    assert (
        main(
            ["import-lmeval", str(work / "scripted"), "--out", str(tmp_path / "imp"), "--no-plots", "--resamples", "50"]
        )
        == 0
    )
    for task in TASKS:
        reported = results["results"][f"calbench_{task}"]
        assert results["n-samples"][f"calbench_{task}"]["effective"] == LIMIT
        assert [tuple(r["ece"]) for r in logged[task]] == expected[task]
        hand = hand_metrics(expected[task])
        assert 0.5 < hand["parse_rate"] < 1 and 0 < hand["accuracy"] < 1 and hand["ece"] > 0
        mine = calbench_score(tmp_path / "imp" / task / "samples.jsonl", capsys)
        run = json.loads((tmp_path / "imp" / task / "run.json").read_text())
        for name in hooks.METRICS:
            assert reported[f"{name},none"] == pytest.approx(hand[name], abs=1e-12), (task, name)
            assert same(reported[f"{name},none"], mine[name]["value"]), (task, name)
            assert same(run["metrics"][name]["value"], mine[name]["value"])
            assert reported[f"{name}_stderr,none"] == "N/A"  # why calbench adds its own CIs
        # bootstrap CIs (a percentile interval of ECE need not contain the point value: ECE is biased upward)
        assert 0 <= run["metrics"]["ece"]["ci_low"] < run["metrics"]["ece"]["ci_high"] <= 1
        assert run["metric_settings"]["bootstrap"]["n_resamples"] == 50
        check = run["lmeval"]["check_against_pack_settings"]
        assert check["agree"] and check["checked"] == sorted(hooks.METRICS)
        assert run["task"]["name"] == task and run["n"] == LIMIT and run["method"] == "verbalized"
        assert run["model"]["id"] == "dummy" and run["versions"]["lm_eval"]
        # lm-eval's --limit N takes the first N docs: the questions of `calbench eval --limit N --seed 0`
        from calbench.tasks import get_task, select

        ids = [s["id"] for s in read_samples(tmp_path / "imp" / task / "samples.jsonl")]
        assert ids == [e.id for e in select(get_task(task).load(), LIMIT, seed=0)]


def test_dummy_run_all_unparsed_matches_calbench(runs, tmp_path, capsys):
    work, _ = runs
    results, _ = results_and_samples(work / "dummy")
    sample_file = next((work / "dummy").rglob("samples_calbench_mmlu_*.jsonl"))
    assert (
        main(["import-lmeval", str(sample_file), "--out", str(tmp_path / "one"), "--no-plots", "--resamples", "20"])
        == 0
    )
    mine = calbench_score(tmp_path / "one" / "samples.jsonl", capsys)  # one file: written into --out itself
    reported = results["results"]["calbench_mmlu"]
    assert reported["parse_rate,none"] == 0.0 and mine["parse_rate"]["value"] == 0.0
    for name in hooks.METRICS:
        assert same(reported[f"{name},none"], mine[name]["value"]), name


def test_import_refuses_foreign_or_inconsistent_logs(runs, tmp_path, capsys):
    work, _ = runs
    src = next((work / "scripted").rglob("samples_calbench_triviaqa_*.jsonl"))
    foreign = tmp_path / "samples_gsm8k_2026-01-01T00-00-00.000000.jsonl"
    foreign.write_text(src.read_text())
    assert main(["import-lmeval", str(foreign), "--out", str(tmp_path / "x")]) == 2
    assert "not an lm-eval samples file of a calbench task" in capsys.readouterr().err
    rows = [json.loads(line) for line in src.read_text().splitlines()]
    row = next(r for r in rows if r["ece"][2])
    row["ece"] = [row["ece"][0], 1 - row["ece"][1], True]  # what a mean-fallback or other version would log
    tampered = tmp_path / src.name
    tampered.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert main(["import-lmeval", str(tampered), "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert f"{tampered}:{rows.index(row) + 1}" in err and "calbench scores this reply" in err


def test_tiny_hf_model_through_real_cli(tiny_model_dir, tmp_path, capsys):
    """lm-eval's hf backend with --apply_chat_template renders exactly calbench's prompt, and generates the
    same greedy reply as `calbench eval --method verbalized` on the same questions."""
    from transformers import AutoTokenizer

    from calbench.tasks import get_task, select

    lm_eval(
        tmp_path,
        "--tasks",
        "calbench_sciq",
        "--model",
        "hf",
        "--model_args",
        f"pretrained={tiny_model_dir},dtype=float32",
        "--device",
        "cpu",
        "--batch_size",
        "3",
        "--limit",
        "3",
        "--apply_chat_template",
        "--output_path",
        str(tmp_path / "out"),
    )
    results, logged = results_and_samples(tmp_path / "out")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = select(get_task("sciq").load(), 3, seed=0)
    rows = logged["sciq"]
    assert [r["doc"]["id"] for r in rows] == [e.id for e in examples]
    for row, e in zip(rows, examples):
        assert row["arguments"]["gen_args_0"]["arg_0"] == render(tok, one_stage_prompt(e, "0-10", "open"))
    assert (
        main(
            ["import-lmeval", str(tmp_path / "out"), "--out", str(tmp_path / "imp"), "--no-plots", "--resamples", "20"]
        )
        == 0
    )
    mine = calbench_score(tmp_path / "imp" / "samples.jsonl", capsys)
    for name in hooks.METRICS:
        assert same(results["results"]["calbench_sciq"][f"{name},none"], mine[name]["value"]), name
    run = json.loads((tmp_path / "imp" / "run.json").read_text())
    assert run["model"]["id"] == tiny_model_dir and run["elicitation"]["chat_template"]
    assert (
        main(
            [
                "eval",
                "--model",
                tiny_model_dir,
                "--task",
                "sciq",
                "--limit",
                "3",
                "--method",
                "verbalized",
                "--batch-size",
                "3",
                "--device",
                "cpu",
                "--out",
                str(tmp_path / "cb"),
                "--quiet",
                "--no-plots",
                "--resamples",
                "20",
            ]
        )
        == 0
    )
    ours = {s["id"]: s["raw_output"] for s in read_samples(tmp_path / "cb" / "samples.jsonl")}
    theirs = {s["id"]: s["raw_output"] for s in read_samples(tmp_path / "imp" / "samples.jsonl")}
    assert ours == theirs
