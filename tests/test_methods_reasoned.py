"""verbalized-cot and verbalized-topk: their parsers on hand-written replies (good, partial, garbage), the
methods on the scripted backend (prompt in the sample, cost), and the refusal of given answers."""

from __future__ import annotations

import pytest

from calbench.backends.scripted import ScriptedBackend
from calbench.elicit import cot_prompt, templates, topk_prompt
from calbench.methods import get_method
from calbench.parse import parse_cot, parse_topk
from calbench.records import Example
from tests.helpers import ctx_for

E = Example(id="q1", task="toy", question="What is the capital of France?", answers=["Paris"])


def test_topk_parser_good_partial_garbage():
    good, why = parse_topk(" Paris\nP1: 0.8\nG2: Lyon\nP2: 0.15\nG3: Nice\nP3: 5%")
    assert why is None
    assert [(g, c.value) for g, c in good] == [("Paris", 0.8), ("Lyon", 0.15), ("Nice", pytest.approx(0.05))]
    inline, why = parse_topk(" **Paris** P1: 0.9")
    assert why is None and inline[0][0] == "Paris" and inline[0][1].value == 0.9
    partial, why = parse_topk(" Paris\nG2: Lyon\nP2: 0.1")  # no P1
    assert why == "no P1" and partial[0][0] == "Paris" and partial[1][1].value == 0.1
    out_of_range, why = parse_topk(" Paris\nP1: 1.7")
    assert why == "out of range"
    garbage, why = parse_topk("", prefix="")
    assert garbage == [] and why == "no first guess"
    assert parse_topk("I think it might be Paris.", prefix="")[1] == "no first guess"


def test_topk_and_cot_parsers_refuse_the_prompts_own_placeholders():
    """A small model often copies the format lines back; the "0.0" inside the probability placeholder is the
    template's, not a stated probability (SmolLM2 on CommonsenseQA: 144 of 200 replies were such echoes)."""
    template = topk_prompt(E, 3).messages[-1]["content"].split("in this form:\n")[1].split("\n\n")[0]
    echoed = template.removeprefix("G1:")
    assert "0.0" in echoed
    guesses, why = parse_topk(echoed)
    assert why == "template placeholder" and not guesses[0][1].ok
    assert parse_topk(" <most likely, as short")[1] == "template placeholder"  # cut off by the token budget
    real_guess, why = parse_topk(" Paris\nP1: <the probability between 0.0 and 1.0 that G1 is correct>")
    assert why == "template placeholder" and real_guess[0][0] == "Paris" and real_guess[0][1].value is None
    fine, why = parse_topk(" Paris\nP1: 0.8\nG2: <guess 2, as short as possible>\nP2: <the probability")
    assert why is None and fine[0][1].value == 0.8 and not fine[1][1].ok  # later echoes do not matter
    assert parse_topk(" 5 < x\nP1: 0.3")[1] is None  # an answer with "<" in it is not a placeholder
    answer, conf = parse_cot(" ...\nAnswer: <only the answer, not a complete sentence>\nConfidence: 8", "0-10")
    assert answer == "" and conf.ok  # no answer: the method counts it unparsed ("no answer line")


def test_cot_parser_good_partial_garbage():
    reply = " France's capital is its largest city.\nAnswer: Paris\nConfidence: 90%"
    answer, conf = parse_cot(reply, "0-100")
    assert answer == "Paris" and conf.value == pytest.approx(0.9)
    answer, conf = parse_cot(" Thinking...\nAnswer: Paris.\nConfidence: 8", "0-10")
    assert answer == "Paris" and conf.value == pytest.approx(0.8)
    answer, conf = parse_cot(" It is Paris, I am fairly sure.", "0-10")  # no labels
    assert answer == "" and not conf.ok and conf.reason == "no confidence label"
    answer, conf = parse_cot(" Answer: Paris (confidence: 7)\nAnswer: Lyon\nConfidence: 3", "0-10")
    assert answer == "Lyon" and conf.value == pytest.approx(0.3)  # the last Answer/Confidence lines count


def test_topk_method_reads_the_first_guess():
    backend = ScriptedBackend(default=" Paris\nP1: 0.7\nG2: Lyon\nP2: 0.2")
    (s,) = get_method("verbalized-topk").run(ctx_for(backend, "open", topk_k=2), [E])
    assert s.answer == "Paris" and s.correct == 1 and s.confidence == pytest.approx(0.7) and s.parse_ok
    assert s.extras["guesses"] == [{"guess": "Paris", "probability": 0.7}, {"guess": "Lyon", "probability": 0.2}]
    assert "2 best guesses" in s.prompt["messages"][0]["content"] and s.prompt["assistant_prefix"] == "G1:"
    assert s.extras["cost"]["forward_passes"] == 1
    (bad,) = get_method("verbalized-topk").run(ctx_for(ScriptedBackend(default=" Paris"), "open"), [E])
    assert (
        bad.answer == "Paris" and bad.confidence is None and not bad.parse_ok and bad.extras["parse_reason"] == "no P1"
    )


def test_cot_method_and_prompt():
    backend = ScriptedBackend(default=" The capital of France is Paris.\nAnswer: Paris\nConfidence: 9")
    (s,) = get_method("verbalized-cot").run(ctx_for(backend, "open"), [E])
    assert s.answer == "Paris" and s.confidence == pytest.approx(0.9) and s.parse_ok
    assert "step by step" in s.prompt["messages"][0]["content"]
    (bad,) = get_method("verbalized-cot").run(ctx_for(ScriptedBackend(default=" Paris, I think"), "open"), [E])
    assert not bad.parse_ok and bad.confidence is None


def test_prompts_are_recorded_and_mc_guesses_are_letters():
    mc = Example(id="q", task="t", question="Pick", answers=["B"], choices=["x", "y"])
    assert "letter of an option" in topk_prompt(mc, 3).messages[0]["content"]
    assert "Options:" in cot_prompt(mc, "0-100").messages[0]["content"]
    t = templates()
    assert "{k} best guesses" in t["topk_format"] and "step by step" in t["cot_format"]


@pytest.mark.parametrize("method", ["verbalized-cot", "verbalized-topk"])
def test_given_answers_are_refused(method):
    from calbench.runner import GivenAnswersError, check_given_answers

    with pytest.raises(GivenAnswersError, match=f"{method} cannot use given answers"):
        check_given_answers([method], {"q1": "Paris"}, ["q1"])
