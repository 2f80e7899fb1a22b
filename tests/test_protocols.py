"""The extension-point interfaces: every registered method and judge implements its protocol, and the
failed-request handling every method shares (``methods.base.for_live`` / ``request_error``)."""

from __future__ import annotations

import pytest

from calbench.backends.base import Generation
from calbench.backends.scripted import ScriptedBackend
from calbench.elicit import Prompt
from calbench.judge import JUDGES, Judge, judge_for
from calbench.methods import (
    METHODS,
    Method,
    MethodContext,
    fixed_answer_methods,
    get_method,
)
from calbench.methods.base import for_live, request_error
from calbench.records import Example


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_registered_method_implements_the_protocol(name):
    cls = METHODS[name]
    method = get_method(name)
    assert isinstance(method, Method)
    assert cls.name == name
    assert isinstance(cls.needs, (set, frozenset)) and all(isinstance(n, str) for n in cls.needs)
    assert isinstance(cls.accepts_fixed_answer, bool)
    assert isinstance(getattr(cls, "needs_with_fixed_answer", set()), (set, frozenset))
    assert callable(method.run)
    assert (cls.__doc__ or "").strip(), "the first paragraph of the docstring is its --list-methods line"


@pytest.mark.parametrize("kind", sorted(JUDGES))
def test_every_judge_implements_the_protocol(kind):
    judge = judge_for(kind)
    assert isinstance(judge, Judge) and isinstance(judge, JUDGES[kind])
    assert isinstance(judge.name, str) and judge.name
    assert isinstance(judge.settings, dict)
    assert judge(None, Example(id="1", task="t", question="q", answers=["A"], choices=["x", "y"])) is False


def test_a_class_without_run_is_not_a_method():
    class Incomplete:
        name = "incomplete"
        needs: set[str] = set()
        accepts_fixed_answer = False

    assert not isinstance(Incomplete(), Method)


def test_fixed_answer_methods_are_derived_from_the_registry():
    assert "two-stage" in fixed_answer_methods() and "verbalized" not in fixed_answer_methods()


# -- failed requests -------------------------------------------------------------------------------------------
def test_request_error():
    ok, bad = Generation("a"), Generation("", error="timeout")
    assert request_error(ok) is None and request_error(bad) == "timeout"
    assert request_error(ok, ok) is None and request_error(ok, bad) == "timeout"
    assert request_error(ok, [ok, bad]) == "timeout" and request_error(ok, [ok, ok]) is None
    assert request_error(bad, None) == "timeout" and request_error(ok, None) == ""
    assert request_error(ok, {"probs": [0.5]}) is None  # a non-generation result carries no error


def test_for_live_calls_only_the_live_questions():
    p = Prompt([{"role": "user", "content": "q"}])
    firsts = [(p, Generation("a")), (p, Generation("", error="x")), (p, Generation("c"))]
    seen = []

    def call(live):
        seen.append(live)
        return [f"r{i}" for i in live]

    assert for_live(firsts, call) == {0: "r0", 2: "r2"} and seen == [[0, 2]]
    assert for_live([firsts[1]], call) == {} and seen == [[0, 2]]  # nothing live: no call


class FailingScript(ScriptedBackend):
    """Replies ``reply`` to every prompt, except that a prompt mentioning ``fail_on`` fails."""

    def __init__(self, reply: str, fail_on: str):
        super().__init__(default=reply)
        self.fail_on = fail_on

    def generate(self, prompts, *, max_new_tokens, temperature=0.0, stop=("\n",), seed=None):
        gens = super().generate(prompts, max_new_tokens=max_new_tokens, stop=stop, seed=seed)
        return [
            Generation("", error="HTTP 503") if self.fail_on in p.messages[-1]["content"] else g
            for p, g in zip(prompts, gens)
        ]


@pytest.mark.parametrize("method", ["verbalized", "two-stage", "self-consistency"])
def test_a_failed_request_is_recorded_not_scored(method):
    examples = [
        Example(id="1", task="toy", question="Capital of France?", answers=["Paris"]),
        Example(id="2", task="toy", question="FAIL here", answers=["x"]),
    ]
    judge = judge_for("open")
    ctx = MethodContext(
        backend=FailingScript(" Paris, Confidence: 8", "FAIL"),
        model_name="s",
        task_name="toy",
        kind="open",
        judge=judge,
        judge_name=judge.name,
        settings={"sc_k": 2},
    )
    ok, failed = get_method(method).run(ctx, examples)
    assert ok.extras.get("request_error") is None and ok.answer
    assert failed.extras["request_error"] == "HTTP 503" and failed.confidence is None and not failed.parse_ok
    assert failed.extras["parse_reason"] == "request failed"


# -- the backend registry --------------------------------------------------------------------------------------
def test_every_backend_module_declares_itself():
    import importlib

    from calbench.backends import backends

    assert {"hf", "openai", "scripted", "vllm"} <= set(backends())
    for name, spec in backends().items():
        module = importlib.import_module(f"calbench.backends.{spec.module}")
        assert spec.name == name and spec.description and callable(module.create)
        assert set(spec.flags) <= set(spec.options), "a backend takes the options of its own flags"


def test_make_backend_passes_each_backend_only_its_options(tmp_path):
    from calbench.backends import make_backend

    script = tmp_path / "s.json"
    script.write_text('{"default": " Paris"}')
    # other backends' options are dropped; an option no backend declares (--backend-option) is passed on
    be = make_backend(
        "scripted",
        "m",
        script=str(script),
        device="cpu",
        base_url="http://x",
        concurrency=3,
        adapter="a",
        batch_size=4,
        name="renamed",
    )
    assert be.batch_size == 4 and be.name == "renamed"
    with pytest.raises(ValueError, match="needs --script"):
        make_backend("scripted", "m")
    with pytest.raises(ValueError, match="cannot be applied to a served model"):  # openai takes --adapter, refuses
        make_backend("openai", "m", base_url="http://127.0.0.1:9/v1", adapter="dir", device="cpu")
    with pytest.raises(ValueError, match=r"unknown backend 'nope'; available: hf, openai, scripted, vllm"):
        make_backend("nope")


def test_eval_offers_every_backend_and_its_flags(capsys):
    from calbench.backends import backends
    from calbench.cli import main

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = capsys.readouterr().out
    for spec in backends().values():
        assert f"{spec.name}:" in out
        for flag in spec.flags:
            assert "--" + flag.replace("_", "-") in out
