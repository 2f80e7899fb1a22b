"""`calbench eval --backend openai` against a real OpenAI-compatible server (`transformers serve`, offline)
serving the packaged SmolLM2-135M-Instruct: the records match the in-process `hf` backend on the same
greedy prompts
(two-stage elicitation, so both pre-filled prefixes, ``Answer:`` and ``Confidence: ``, are exercised)."""

from __future__ import annotations

import json

import pytest
from servers.transformers_serve import TransformersServer, serving_available

from calbench.cli import main
from calbench.records import read_samples

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(not serving_available(), reason='needs pip install "transformers[serving]"'),
]

COMPARED = ("prompt", "raw_output", "answer", "confidence", "parse_ok", "correct", "parse_reason", "answer_output")


def run_eval(backend: str, model: str, out, *extra: str) -> list[dict]:
    rc = main(
        [
            "eval",
            "--backend",
            backend,
            "--model",
            model,
            "--task",
            "triviaqa",
            "--limit",
            "8",
            "--seed",
            "3",
            "--method",
            "two-stage",
            "--out",
            str(out),
            "--quiet",
            "--no-plots",
            "--resamples",
            "50",
            *extra,
        ]
    )
    assert rc == 0
    return read_samples(out / "samples.jsonl")


def test_served_model_records_match_in_process_hf(tmp_path, real_model_dir):
    with TransformersServer(real_model_dir, log=tmp_path / "serve.log") as srv:
        served = run_eval(
            "openai",
            real_model_dir,
            tmp_path / "served",
            "--base-url",
            srv.url,
            "--concurrency",
            "4",
            "--backend-option",
            "timeout=120",
        )
    local = run_eval("hf", real_model_dir, tmp_path / "local", "--device", "cpu")
    key = lambda s: (s["id"], s["method"])  # noqa: E731
    served, local = sorted(served, key=key), sorted(local, key=key)
    assert [key(s) for s in served] == [key(s) for s in local] and len(served) == 8
    for a, b in zip(served, local):
        assert "request_error" not in a
        assert {k: a.get(k) for k in COMPARED} == {k: b.get(k) for k in COMPARED}, key(a)
    # the model did answer: some parsed confidences, non-empty answers
    assert sum(s["parse_ok"] for s in served) >= 6 and all(s["answer_output"] for s in served)
    run = json.loads((tmp_path / "served" / "run.json").read_text())
    assert run["status"] == "complete" and run["model"]["prefill"] == "completions"
    assert run["model"]["tokenizer"]["sha256"] and run["request_failures"] == {"two-stage": 0}
    # transformers serve 5.x returns no log-probabilities: the likelihood readout stays empty, not invented
    assert all(s["answer_mean_logprob"] is None for s in served)
    assert all(s["answer_mean_logprob"] is not None for s in local)
