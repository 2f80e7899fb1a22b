"""The real packaged default model (SmolLM2-135M-Instruct) evaluated end to end on 10 bundled questions."""

import json

import pytest

from calbench.cli import main
from calbench.records import read_samples

pytestmark = pytest.mark.real_model


def test_default_model_end_to_end(tmp_path, real_model_dir):
    out = tmp_path / "run"
    rc = main(
        [
            "eval",
            "--task",
            "triviaqa",
            "--limit",
            "10",
            "--out",
            str(out),
            "--quiet",
            "--resamples",
            "100",
            "--judge-containment",
        ]
    )
    assert rc == 0
    samples = read_samples(out / "samples.jsonl")
    assert len(samples) == 10 and len({s["id"] for s in samples}) == 10
    for s in samples:
        assert s["model"] == "smollm2-135m-instruct" and s["method"] == "two-stage"
        assert isinstance(s["answer_output"], str) and s["cost"]["generated_tokens"] > 0
        assert s["parse_ok"] == (s["confidence"] is not None)
        if s["parse_ok"]:
            assert 0.0 <= s["confidence"] <= 1.0
        assert s["correct"] in (0, 1)
        assert s["answer_mean_logprob"] is None or s["answer_mean_logprob"] <= 0
    # SmolLM2 follows the two-stage format most of the time (parse_rate in results/baselines/baselines.md)
    assert sum(s["parse_ok"] for s in samples) >= 7
    run = json.loads((out / "run.json").read_text())
    assert run["model"]["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert run["model"]["device"] == "cpu" and run["model"]["dtype"] == "float32"
    assert run["judge"]["settings"]["containment"] is True
    assert any(p.endswith(".png") for p in run["plots"])
    assert (out / run["plots"][0]).stat().st_size > 1000
