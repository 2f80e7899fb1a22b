"""The confidence parser over replies that models actually write, including malformed ones."""

import pytest

from calbench.parse import (
    clean_answer,
    parse_confidence,
    parse_one_stage,
    read_one_stage,
)

# (reply, scale, expected value or None for a parse failure)
CASES = [
    ("8", "0-10", 0.8),
    ("10", "0-10", 1.0),
    ("0", "0-10", 0.0),
    ("Confidence: 8", "0-10", 0.8),
    ("confidence: 7\n", "0-10", 0.7),
    ("**Confidence:** 9", "0-10", 0.9),
    ("8/10", "0-10", 0.8),
    ("8 / 10", "0-10", 0.8),
    ("8 out of 10", "0-10", 0.8),
    ("80%", "0-10", 0.8),
    ("80 %", "0-100", 0.8),
    ("I am 90% sure.", "0-10", 0.9),
    ("0.8", "0-1", 0.8),
    ("0.8", "0-10", 0.8),  # a probability written on the 0-10 scale is read as a probability
    ("0.99", "0-10", 0.99),
    ("7.5", "0-10", 0.75),
    ("85", "0-100", 0.85),
    ("100", "0-100", 1.0),
    ("eight", "0-10", 0.8),
    ("My confidence is 6.", "0-10", 0.6),
    ("6\n\nI think this is likely correct because...", "0-10", 0.6),
    ("I'm fairly sure.\nConfidence: 7", "0-10", 0.7),
    ("Answer: Paris, Confidence: 9", "0-10", 0.9),
    ("Answer: 1984, Confidence: 3", "0-10", 0.3),  # the number after the label, not the year
    ("confidence level - 4", "0-10", 0.4),
    ("Certainty: 0.35", "0-1", 0.35),
    ("Probability: 65%", "0-1", 0.65),
    ("9.", "0-10", 0.9),
    # malformed / out of range: failures, never clipped
    ("12", "0-10", None),
    ("99.9", "0-10", None),
    ("150%", "0-10", None),
    ("-3", "0-10", None),
    ("1.5", "0-1", None),
    ("11/10", "0-10", None),
    ("", "0-10", None),
    ("   \n", "0-10", None),
    ("I don't know", "0-10", None),
    ("very confident", "0-10", None),
]


@pytest.mark.parametrize("reply,scale,expected", CASES)
def test_parse_confidence(reply, scale, expected):
    got = parse_confidence(reply, scale)
    if expected is None:
        assert not got.ok and got.value is None and got.reason
    else:
        assert got.ok, got
        assert got.value == pytest.approx(expected)


def test_out_of_range_reason_is_explicit():
    got = parse_confidence("12", "0-10")
    assert got.reason == "out of range" and got.matched == "12"


def test_unknown_scale_is_an_error():
    with pytest.raises(ValueError, match="unknown confidence scale"):
        parse_confidence("8", "1-5")


@pytest.mark.parametrize(
    "reply,answer,conf",
    [
        ("Answer: Paris, Confidence: 9", "Paris", 0.9),
        ("Answer: The Beatles\nConfidence: 8/10", "The Beatles", 0.8),
        (" George Washington, Confidence: 75%", "George Washington", 0.75),
        ("Answer: B, Confidence: 6", "B", 0.6),
        ("**Answer:** Mount Everest, **Confidence:** 10", "Mount Everest", 1.0),
        ("Answer: 42 (Confidence: 4)", "42", 0.4),
    ],
)
def test_one_stage(reply, answer, conf):
    a, c = parse_one_stage(reply, "0-10")
    assert a == answer
    assert c.ok and c.value == pytest.approx(conf)


def test_one_stage_without_label_is_a_failure_not_a_guess():
    a, c = parse_one_stage("Answer: 1984", "0-10")
    assert a == "1984"
    assert not c.ok and c.reason == "no confidence label"


@pytest.mark.parametrize(
    "reply,expected",
    [
        (" Paris.", "Paris"),
        ("Answer: Sinclair Lewis\nHe won in 1930.", "Sinclair Lewis"),
        ('"The Beatles"', "The Beatles"),
        ("", ""),
    ],
)
def test_clean_answer(reply, expected):
    assert clean_answer(reply) == expected


@pytest.mark.parametrize(
    "reply,kind,answer,conf",
    [
        (" Paris, Confidence: 9", "open", "Paris", 0.9),
        (" B, Confidence: 6", "mc", "B", 0.6),
        # math: the answer is the reply up to "onfidence", untouched (working across lines included; the "C" stays,
        # as it always has: the numeric judge reads the last number)
        (" 3 + 4 = 7\nso 7, Confidence: 8", "numeric", " 3 + 4 = 7\nso 7, C", 0.8),
        (" 12", "numeric", " 12", None),
        (None, "open", "", None),
    ],
)
def test_read_one_stage(reply, kind, answer, conf):
    """The one reader of one-stage replies (the verbalized method and the lm-eval bridge)."""
    got_answer, got = read_one_stage(reply, kind, "0-10")
    assert got_answer == answer
    assert got.value == (pytest.approx(conf) if conf is not None else None)


def test_verbalized_method_and_lmeval_bridge_read_replies_alike():
    from calbench.lmeval.hooks import score_reply

    reply = " 41 + 1 = 42, Confidence: 7"
    doc = {"id": "q1", "task": "gsm8k", "question": "6 x 7?", "answers": ["42"], "choices": None}
    scored = score_reply(doc, reply)
    answer, conf = read_one_stage(reply, "numeric")
    assert (scored.answer, scored.confidence, scored.correct) == (answer, conf.value, 1)
