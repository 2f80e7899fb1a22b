"""The ``openai`` backend against a local OpenAI-compatible server with scripted replies and injected faults
(429, 500, slow replies beyond the timeout, dropped and truncated connections): request bodies, ordering,
log-probabilities, retries, honest failures, and `calbench eval` resuming exactly the failed samples."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

pytest.importorskip("httpx")

from servers.fault_server import FaultPlan, FaultServer, prompt_text  # noqa: E402

from calbench.backends import make_backend  # noqa: E402
from calbench.backends.openai import EndpointError  # noqa: E402
from calbench.cli import main  # noqa: E402
from calbench.elicit import Prompt  # noqa: E402
from calbench.records import read_samples  # noqa: E402

FAST = dict(timeout=0.5, max_retries=3, backoff=0.01, max_backoff=0.05)


def arithmetic_reply(body: dict) -> str:
    """Replies of a pretend model to "What is K plus K?": right for even K, wrong for odd K; confidence K % 11.
    Ends with a newline and more text, so the stop string matters."""
    text = prompt_text(body)
    k = int(re.search(r"What is (\d+) plus", text).group(1))
    answer = 2 * k if k % 2 == 0 else 2 * k + 1
    if "How confident" in text:
        return f"{k % 11}\nbecause reasons"
    if "Respond in exactly this form" in text:
        return f" {answer}, Confidence: {k % 11}\n\nmore"
    return f" {answer}\nExplanation follows"


def expected(k: int) -> tuple[str, float, int]:
    """(answer, confidence, correct) that the records must hold for question K."""
    return (str(2 * k if k % 2 == 0 else 2 * k + 1), (k % 11) / 10, int(k % 2 == 0))


def prompts_for(ks) -> list[Prompt]:
    return [Prompt([{"role": "user", "content": f"What is {k} plus {k}?"}], "Answer:") for k in ks]


def test_generate_keeps_order_cuts_at_stop_and_reads_logprobs():
    with FaultServer(arithmetic_reply) as srv:
        be = make_backend("openai", "scripted-model", base_url=srv.url, concurrency=8, prefill="continue", **FAST)
        gens = be.generate(prompts_for(range(20)), max_new_tokens=16, stop=("\n",))
    assert [g.text for g in gens] == [f" {expected(k)[0]}" for k in range(20)]
    for g in gens:
        assert g.error is None and g.n_tokens == 1 and g.token_logprobs == [-0.25]
    # continue mode: the prefix is the final assistant message, with vLLM's flags
    body = srv.bodies[0]
    assert body["messages"][-1] == {"role": "assistant", "content": "Answer:"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["logprobs"] is True and body["temperature"] == 0.0 and body["stop"] == ["\n"]


def test_logprobs_are_truncated_to_the_kept_text():
    with FaultServer(lambda body: "Marie Curie won\nmore") as srv:
        be = make_backend("openai", "scripted-model", base_url=srv.url, prefill="continue", **FAST)
        # the server cuts at its own stop ("\n"); the client also cuts at " won", mid-reply
        [g] = be.generate(prompts_for([1]), max_new_tokens=16, stop=(" won", "\n"))
    assert g.text == "Marie Curie"
    assert g.token_logprobs == [-0.25, -0.5] and g.n_tokens == 2  # "Marie", " Curie"; " won" dropped


def test_prefill_none_sends_no_prefix_and_strips_an_echoed_one():
    with FaultServer(lambda body: "Answer: Paris") as srv:
        be = make_backend("openai", "scripted-model", base_url=srv.url, prefill="none", **FAST)
        [g] = be.generate(prompts_for([1]), max_new_tokens=8)
    assert g.text == " Paris"
    assert srv.bodies[0]["messages"] == [{"role": "user", "content": "What is 1 plus 1?"}]
    assert "continue_final_message" not in srv.bodies[0]


def test_prefill_completions_renders_the_chat_template_like_hf(real_model_dir):
    from transformers import AutoTokenizer

    from calbench.elicit import render

    with FaultServer(lambda body: " 2", models=(real_model_dir,)) as srv:
        be = make_backend("openai", real_model_dir, base_url=srv.url, **FAST)  # auto: a local model dir
        [g] = be.generate(prompts_for([1]), max_new_tokens=8)
    assert be.prefill == "completions" and g.text == " 2" and g.token_logprobs == [-0.25]
    tok = AutoTokenizer.from_pretrained(real_model_dir)
    body = srv.bodies[0]
    assert body["prompt"] == render(tok, prompts_for([1])[0]) and body["prompt"].endswith("assistant\nAnswer:")
    assert body["logprobs"] == 1 and "messages" not in body


def test_transient_faults_are_retried_and_each_request_succeeds_once():
    plan = FaultPlan(rate=1.0, fails_per_request=2, slow_s=1.0)  # every request fails twice, then works
    with FaultServer(arithmetic_reply, plan) as srv:
        be = make_backend("openai", "scripted-model", base_url=srv.url, concurrency=6, prefill="continue", **FAST)
        gens = be.generate(prompts_for(range(12)), max_new_tokens=16)
    assert [g.text for g in gens] == [f" {expected(k)[0]}" for k in range(12)]
    assert all(g.error is None and g.extra["attempts"] == 3 for g in gens)
    per_key = Counter(k for k, _ in srv.log)
    assert len(per_key) == 12 and set(per_key.values()) == {3}
    kinds = Counter(outcome for _, outcome in srv.log)
    assert kinds["ok"] == 12 and set(kinds) - {"ok"} <= {"429", "500", "slow", "drop", "truncate"}
    assert len(set(kinds) - {"ok"}) >= 4  # the seeded plan exercises (nearly) every kind of fault
    assert be.stats == {"requests": 36, "retries": 24, "failures": 0}


def test_a_request_that_keeps_failing_is_an_error_not_an_answer():
    plan = FaultPlan(always_fail={"What is 3 plus"}, slow_s=1.0)
    with FaultServer(arithmetic_reply, plan) as srv:
        be = make_backend(
            "openai",
            "scripted-model",
            base_url=srv.url,
            concurrency=4,
            prefill="continue",
            **{**FAST, "max_retries": 2},
        )
        gens = be.generate(prompts_for(range(5)), max_new_tokens=16)
    assert gens[3].text == "" and gens[3].token_logprobs is None
    assert "gave up after 3 attempts" in gens[3].error
    assert [g.error for i, g in enumerate(gens) if i != 3] == [None] * 4
    assert be.stats["failures"] == 1


def test_configuration_errors_stop_at_once():
    with FaultServer(arithmetic_reply) as srv:
        be = make_backend(
            "openai", "scripted-model", base_url=srv.url.replace("/v1", "/nowhere/v1"), prefill="continue", **FAST
        )
        with pytest.raises(EndpointError, match="HTTP 404"):
            be.generate(prompts_for([1]), max_new_tokens=4)
    with pytest.raises(ValueError, match="needs --base-url"):
        make_backend("openai", "m")


def test_api_key_comes_from_the_environment_and_never_reaches_the_manifest(monkeypatch):
    monkeypatch.setenv("CALBENCH_TEST_KEY", "sk-secret-123")
    with FaultServer(arithmetic_reply) as srv:
        be = make_backend(
            "openai", "scripted-model", base_url=srv.url, api_key_env="CALBENCH_TEST_KEY", prefill="continue", **FAST
        )
        be.generate(prompts_for([1]), max_new_tokens=4)
    assert srv.headers_seen[-1]["Authorization"] == "Bearer sk-secret-123"
    m = json.dumps(be.manifest())
    assert "sk-secret-123" not in m and be.manifest()["api_key_env"] == "CALBENCH_TEST_KEY"
    monkeypatch.delenv("CALBENCH_TEST_KEY")
    with pytest.raises(ValueError, match="CALBENCH_TEST_KEY"):
        make_backend("openai", "scripted-model", base_url="http://127.0.0.1:9/v1", api_key_env="CALBENCH_TEST_KEY")


# -- calbench eval end to end ---------------------------------------------------------------------------

N = 24


@pytest.fixture()
def dataset(tmp_path):
    p = tmp_path / "arith.jsonl"
    p.write_text(
        "".join(
            json.dumps({"id": f"q{k:02d}", "q": f"What is {k} plus {k}?", "a": str(2 * k)}) + "\n" for k in range(N)
        )
    )
    return p


def eval_cli(url: str, data, out, *extra: str) -> int:
    return main(
        [
            "eval",
            "--backend",
            "openai",
            "--model",
            "scripted-model",
            "--base-url",
            url,
            "--data",
            str(data),
            "--question-field",
            "q",
            "--answer-field",
            "a",
            "--id-field",
            "id",
            "--method",
            "two-stage,verbalized",
            "--concurrency",
            "8",
            "--out",
            str(out),
            "--quiet",
            "--no-plots",
            "--resamples",
            "50",
            "--backend-option",
            "prefill=continue",
            *[x for k, v in FAST.items() for x in ("--backend-option", f"{k}={v}")],
            *extra,
        ]
    )


def check_records(samples: list[dict], ks) -> None:
    by = {(s["id"], s["method"]): s for s in samples}
    assert len(by) == len(samples), "duplicate (id, method) records"
    assert set(by) == {(f"q{k:02d}", m) for k in ks for m in ("two-stage", "verbalized")}
    for k in ks:
        answer, conf, correct = expected(k)
        for m in ("two-stage", "verbalized"):
            s = by[(f"q{k:02d}", m)]
            assert "request_error" not in s and s["parse_ok"] is True
            assert (s["answer"], s["confidence"], s["correct"]) == (answer, pytest.approx(conf), correct), (k, m)


def test_eval_survives_faults_counts_failures_and_a_rerun_completes(tmp_path, dataset, capsys):
    failing = {3, 10, 17}
    plan = FaultPlan(rate=0.4, fails_per_request=1, slow_s=1.0, always_fail={f"What is {k} plus" for k in failing})
    out = tmp_path / "run"
    with FaultServer(arithmetic_reply, plan) as srv:
        assert eval_cli(srv.url, dataset, out) == 0
        samples = read_samples(out / "samples.jsonl")
        assert len(samples) == 2 * N and len({(s["id"], s["method"]) for s in samples}) == 2 * N
        failed = [s for s in samples if s.get("request_error")]
        assert {s["id"] for s in failed} == {f"q{k:02d}" for k in failing} and len(failed) == 2 * len(failing)
        for s in failed:  # recorded as failed requests, not as wrong answers
            assert s["parse_ok"] is False and s["answer"] is None and s["confidence"] is None
        check_records([s for s in samples if not s.get("request_error")], set(range(N)) - failing)
        run = json.loads((out / "run.json").read_text())
        assert run["status"] == "incomplete"
        assert run["request_failures"] == {"two-stage": 3, "verbalized": 3}
        # metrics are over the answered questions only: parse rate 1, accuracy of the 21 answered ones
        answered = [k for k in range(N) if k not in failing]
        assert run["metrics"]["parse_rate"]["value"] == 1.0
        assert run["metrics"]["accuracy"]["value"] == pytest.approx(
            sum(expected(k)[2] for k in answered) / len(answered)
        )
        assert run["model"]["backend"] == "openai" and run["model"]["prefill"] == "continue"
        assert Counter(o for _, o in srv.log)["ok"] > 0 and len(set(o for _, o in srv.log)) >= 4
        first_lines = {(s["id"], s["method"]): s for s in samples if not s.get("request_error")}

        # the endpoint recovers; the same command retries exactly the failed samples
        plan.always_fail.clear()
        n_before = len(srv.bodies)
        assert eval_cli(srv.url, dataset, out) == 0
        retried = srv.bodies[n_before:]
        asked = {re.search(r"What is (\d+) plus", prompt_text(b)).group(1) for b in retried}
        assert asked == {str(k) for k in failing}
    samples = read_samples(out / "samples.jsonl")
    check_records(samples, range(N))
    for s in samples:  # finished records were kept as they were
        if (s["id"], s["method"]) in first_lines:
            assert s == first_lines[(s["id"], s["method"])]
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and run["request_failures"] == {"two-stage": 0, "verbalized": 0}
    assert run["metrics"]["accuracy"]["value"] == pytest.approx(sum(expected(k)[2] for k in range(N)) / N)


def test_eval_with_faults_matches_a_fault_free_run(tmp_path, dataset):
    """Retried requests leave no trace in the records: the same records as a run without faults."""
    with FaultServer(arithmetic_reply) as clean:
        assert eval_cli(clean.url, dataset, tmp_path / "clean") == 0
    with FaultServer(arithmetic_reply, FaultPlan(rate=0.5, fails_per_request=2, slow_s=1.0)) as faulty:
        assert eval_cli(faulty.url, dataset, tmp_path / "faulty") == 0
    key = lambda s: (s["id"], s["method"])  # noqa: E731
    a = sorted(read_samples(tmp_path / "clean" / "samples.jsonl"), key=key)
    b = sorted(read_samples(tmp_path / "faulty" / "samples.jsonl"), key=key)
    assert a == b and len(a) == 2 * N
    check_records(a, range(N))


def test_eval_prefill_none_from_the_command_line(tmp_path, dataset):
    """``--backend-option prefill=none`` (a bare word, not JSON) reaches the backend; hosted-API style requests."""
    with FaultServer(arithmetic_reply) as srv:
        assert eval_cli(srv.url, dataset, tmp_path / "run", "--backend-option", "prefill=none") == 0
        assert all(b["messages"][-1]["role"] == "user" and "continue_final_message" not in b for b in srv.bodies)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["model"]["prefill"] == "none" and run["status"] == "complete"
    check_records(read_samples(tmp_path / "run" / "samples.jsonl"), range(N))
