"""Self-consistency on the scripted backend: agreement of k sampled answers with the greedy answer."""

from __future__ import annotations

import pytest

from calbench.judge import judge_for
from calbench.methods import MethodContext, get_method
from calbench.records import Example
from tests.helpers import SamplingScript, ctx_for


def test_open_agreement_is_normalised_match_fraction():
    e = Example(id="q1", task="toy", question="What is the capital of France?", answers=["Paris"])
    # normalised (lower case, punctuation and articles removed): paris, paris, lyon, paris, marseille
    backend = SamplingScript(" Paris", [" paris.", " The Paris", " Lyon", " PARIS", " Marseille"])
    (s,) = get_method("self-consistency").run(ctx_for(backend, "open"), [e])
    assert s.confidence == pytest.approx(3 / 5)
    assert s.answer == "Paris" and s.correct == 1 and s.parse_ok
    assert s.extras["sampled_answers"] == ["paris", "The Paris", "Lyon", "PARIS", "Marseille"]
    assert s.extras["sc_k"] == 5 and s.extras["sc_temperature"] == 1.0
    assert s.extras["cost"] == {"forward_passes": 6, "generated_tokens": 1 + 5 * 2, "shared_answer": 1}
    assert backend.temperatures == [0.0, 1.0]  # greedy once, then one batched sampling call


def test_containment_judge_widens_agreement():
    e = Example(id="q1", task="toy", question="What is the capital of France?", answers=["Paris"])
    backend = SamplingScript(" Paris", [" It is Paris", " Lyon"])
    judge = judge_for("open", containment=True)
    ctx = MethodContext(
        backend=backend,
        model_name="s",
        task_name="toy",
        kind="open",
        judge=judge,
        judge_name=judge.name,
        settings={"sc_k": 4},
    )
    (s,) = get_method("self-consistency").run(ctx, [e])
    assert s.confidence == pytest.approx(2 / 4)  # "It is Paris" contains the greedy answer; "Lyon" does not


def test_multiple_choice_agreement_by_letter():
    e = Example(id="m1", task="toy", question="2 + 2 = ?", answers=["B"], choices=["3", "4", "5"])
    backend = SamplingScript(" B", [" B", " (B) 4", " C", " The answer is B", " A", " 4"])
    (s,) = get_method("self-consistency").run(ctx_for(backend, "mc", sc_k=6, sc_temperature=0.7), [e])
    # letters: B, B, C, B, A, and "4" is option B's text -> 4 of 6 agree with the greedy B
    assert s.confidence == pytest.approx(4 / 6)
    assert s.correct == 1
    assert backend.temperatures == [0.0, 0.7]


def test_no_greedy_answer_means_zero_confidence_and_probabilities():
    ex = [Example(id=f"q{i}", task="toy", question=f"q{i}?", answers=["x"]) for i in range(4)]
    backend = SamplingScript("", ["x", "y"])
    samples = get_method("self-consistency").run(ctx_for(backend, "open", sc_k=3), ex)
    assert [s.confidence for s in samples] == [0.0] * 4
    assert all(0.0 <= s.confidence <= 1.0 for s in samples)


def test_bad_settings_are_refused():
    e = Example(id="q1", task="toy", question="q?", answers=["x"])
    with pytest.raises(ValueError, match="temperature > 0"):
        get_method("self-consistency").run(ctx_for(SamplingScript("x", ["x"]), "open", sc_temperature=-1), [e])
