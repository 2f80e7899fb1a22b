"""Parsing what models write: verbalized confidences and answers.

One definition, used by evaluation, training rewards and the lm-eval bridge.

A confidence is accepted in the forms models actually write -- ``Confidence: 8``, ``8/10``, ``80%``,
``0.8``, ``8 out of 10``, ``**Confidence:** 7``, number words ("eight") -- with extra text and line breaks
around it. Explicit forms (``x/10``, ``x/100``, ``x%``) are read as written whatever scale was asked for; a
bare number is read on the requested scale. A value outside its scale is a parse *failure* (``ok=False``,
``reason="out of range"``), never clipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Supported verbalized-confidence scales: name -> maximum value of the scale.
SCALES: dict[str, float] = {"0-10": 10.0, "0-100": 100.0, "0-1": 1.0}

_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_NUM = r"(\d+(?:\.\d+)?|\.\d+)"
_FRACTION = re.compile(_NUM + r"\s*(?:/|out\s+of|of)\s*(10|100|1)\b(?!\.\d)", re.IGNORECASE)
_PERCENT = re.compile(_NUM + r"\s*(?:%|percent\b)", re.IGNORECASE)
_BARE = re.compile(r"(?<![\w.])(-?)" + _NUM + r"(?![\w%])")
_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_KEYWORD = re.compile(r"confiden(?:ce|t)|certainty|probability", re.IGNORECASE)
_MARKUP = re.compile(r"[*_`#]+")


@dataclass(frozen=True)
class ConfidenceParse:
    """Result of parsing a confidence: ``value`` in [0, 1] when ``ok``; ``reason`` says why not."""

    value: float | None
    ok: bool
    reason: str | None = None
    matched: str | None = None
    form: str | None = None  # fraction | percent | bare | probability | word: how the number was read


def _fail(reason: str, matched: str | None = None) -> ConfidenceParse:
    return ConfidenceParse(None, False, reason, matched)


def _read(segment: str, scale_max: float) -> ConfidenceParse | None:
    """Read the first confidence expression in ``segment``; None if it holds no number at all."""
    candidates = []
    for pattern, kind in ((_FRACTION, "fraction"), (_PERCENT, "percent"), (_BARE, "bare"), (_WORD, "word")):
        m = pattern.search(segment)
        if m:
            candidates.append((m.start(), kind, m))
    if not candidates:
        return None
    # The earliest expression wins; at the same position the more explicit form wins (list order above).
    start, kind, m = min(candidates, key=lambda c: c[0])
    text = m.group(0)
    value: float | None
    if kind == "fraction":
        num, den = float(m.group(1)), float(m.group(2))
        value = num / den
    elif kind == "percent":
        value = float(m.group(1)) / 100.0
    elif kind == "word":
        value = _NUMBER_WORDS[m.group(1).lower()] / scale_max if scale_max >= 10 else None
        if value is None:
            return _fail("number word on a 0-1 scale", text)
    else:
        number = float(m.group(2))
        if m.group(1):
            return _fail("out of range", text)
        if scale_max > 1 and 0 < number < 1 and "." in text:
            # "0.8" on a 0-10 or 0-100 scale: the model switched to a probability; read it as one.
            kind, value = "probability", number
        else:
            value = number / scale_max
    if not 0.0 <= value <= 1.0:
        return _fail("out of range", text)
    return ConfidenceParse(value, True, None, text, kind)


def parse_confidence(text: str | None, scale: str = "0-10") -> ConfidenceParse:
    """Parse a verbalized confidence from ``text`` on ``scale`` (one of :data:`SCALES`).

    The number right after a confidence keyword ("Confidence", "confident", "certainty", "probability") is
    preferred; without a keyword, the first number expression in the text is read (the two-stage prompt
    ends with ``Confidence: `` so the reply starts with the number).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown confidence scale {scale!r}; use one of {list(SCALES)}")
    if text is None or not text.strip():
        return _fail("empty")
    clean = _MARKUP.sub("", text)
    scale_max = SCALES[scale]
    keywords = list(_KEYWORD.finditer(clean))
    for kw in reversed(keywords):  # the last "Confidence:" label is the one that carries the value
        got = _read(clean[kw.end() : kw.end() + 60], scale_max)
        if got is not None:
            return got
    got = _read(clean, scale_max)
    return got if got is not None else _fail("no number")


_ANSWER_LABEL = re.compile(r"^\s*(?:final\s+)?answer\s*[:\-]\s*", re.IGNORECASE)
_CONF_LABEL = re.compile(r"[,;.\s]*\(?\s*(?:confidence|confident|certainty)\b.*$", re.IGNORECASE | re.DOTALL)


def clean_answer(text: str | None) -> str:
    """The answer part of a free-text reply: first non-empty line, without an ``Answer:`` label, a trailing
    confidence clause or surrounding markup/quotes/final period."""
    if not text:
        return ""
    lines = [ln for ln in _MARKUP.sub("", text).strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    ans = _ANSWER_LABEL.sub("", lines[0])
    ans = _CONF_LABEL.sub("", ans).strip()
    return ans.strip(" \t\"'").rstrip(".").strip()


def parse_one_stage(text: str | None, scale: str = "0-10") -> tuple[str, ConfidenceParse]:
    """Split a one-stage reply ``Answer: <a>, Confidence: <c>`` into (answer, confidence).

    The answer is what precedes the confidence label (also across a line break); the confidence is parsed
    by :func:`parse_confidence` from the text after the answer. A reply without a confidence label gets
    ``reason="no confidence label"``: a bare number inside an answer is not taken as a confidence.
    """
    if not text:
        return "", _fail("empty")
    clean = _MARKUP.sub("", text)
    label = re.search(r"(?:confidence|confident|certainty)\b", clean, re.IGNORECASE)
    if label is None:
        return clean_answer(clean), _fail("no confidence label")
    answer_part = clean[: label.start()]
    answer = _ANSWER_LABEL.sub("", answer_part.strip()).strip().rstrip(",;(").strip()
    answer = answer.strip(" \t\"'").rstrip(".").strip()
    return answer, parse_confidence(clean[label.start() :], scale)


def read_one_stage(
    reply: str | None, kind: str, scale: str = "0-10", prefix: str = "Answer:"
) -> tuple[str, ConfidenceParse]:
    """The answer and confidence of a one-stage reply: ``reply`` is the text generated after the pre-filled
    ``prefix`` (``elicit.ANSWER_PREFIX``), the whole reply reads ``Answer: <a>, Confidence: <c>``.

    :func:`parse_one_stage` on ``prefix + reply``; for math (``kind == "numeric"``) the answer is the reply
    up to the confidence label, untouched (the working may span lines; the judge takes its last number).
    The one reader shared by the ``verbalized`` method and the lm-eval bridge (``lmeval.hooks.score_reply``).
    """
    reply = reply or ""
    answer, conf = parse_one_stage(prefix + reply, scale)
    if kind == "numeric":
        answer = reply.split("onfidence")[0]
    return answer, conf


_GUESS = re.compile(r"^\s*G(\d+)\s*[:.)\-]\s*(.*)$", re.IGNORECASE)
_PROB = re.compile(r"^\s*P(\d+)\s*[:.)\-]\s*(.*)$", re.IGNORECASE)
#: a value that is the prompt's own placeholder echoed back (``<most likely, as short as possible>``, ``<the
#: probability between 0.0 and 1.0 that G1 is correct>``, ``<only the answer, not a complete sentence>``), possibly cut
#: off: not a guess or an answer, and not a probability (the "0.0" inside it is the template's)
_PLACEHOLDER = re.compile(r"^\s*<[^<>]*>?\s*$")


def is_placeholder(value: str | None) -> bool:
    """Whether ``value`` is a template placeholder echoed back (``<...>``) rather than the model's own value."""
    return bool(value and _PLACEHOLDER.match(value))


def parse_topk(text: str | None, prefix: str = "G1:") -> tuple[list[tuple[str, ConfidenceParse]], str | None]:
    """The guesses of a top-k reply (``G1: <guess>`` / ``P1: <probability>`` lines; ``text`` follows the
    pre-filled ``prefix``), in order: ``[(guess, probability parse), ...]``, and why it failed (None if G1 and
    a parsed P1 are there). A guess without its probability line gets a failed parse ("no P<i>"); a probability
    reads as on the 0-1 scale ("0.8"), or as written ("80%")."""
    lines = _MARKUP.sub("", (prefix or "") + (text or "")).splitlines()
    guesses: dict[int, str] = {}
    probs: dict[int, str] = {}
    for line in lines:
        g, p = _GUESS.match(line), _PROB.match(line)
        if g and int(g.group(1)) not in guesses:
            inline = re.split(r"\s+P\d+\s*[:.)\-]", g.group(2), maxsplit=1, flags=re.IGNORECASE)
            guesses[int(g.group(1))] = inline[0].strip().strip(" \t\"'").rstrip(",;.").strip()
            if len(inline) > 1:  # "G1: Paris P1: 0.8" on one line
                probs.setdefault(int(g.group(1)), inline[1])
        elif p and int(p.group(1)) not in probs:
            probs[int(p.group(1))] = p.group(2)

    def read(i: int) -> ConfidenceParse:
        if i not in probs:
            return _fail(f"no P{i}")
        return _fail("template placeholder") if is_placeholder(probs[i]) else parse_confidence(probs[i], "0-1")

    out = [(guesses[i], read(i)) for i in sorted(guesses)]
    if not out or 1 not in guesses or not guesses[1]:
        return out, "no first guess"
    if is_placeholder(guesses[1]):
        return out, "template placeholder"
    if not out[0][1].ok:
        return out, out[0][1].reason
    return out, None


def parse_cot(text: str | None, scale: str = "0-10") -> tuple[str, ConfidenceParse]:
    """The answer and confidence of a chain-of-thought reply (``Explanation: ...``, then ``Answer: <a>`` and
    ``Confidence: <c>`` lines): the answer of the last ``Answer:`` line, the confidence after the last
    confidence label (:func:`parse_confidence`). Without an ``Answer:`` line the answer is empty."""
    clean = _MARKUP.sub("", text or "")
    answers = [m for m in re.finditer(r"^\s*(?:final\s+)?answer\s*[:\-]\s*(.*)$", clean, re.IGNORECASE | re.MULTILINE)]
    answer = ""
    if answers:
        answer = _CONF_LABEL.sub("", answers[-1].group(1)).strip().strip(" \t\"'").rstrip(".").strip()
        if is_placeholder(answer):  # "Answer: <only the answer, not a complete sentence>" echoed: no answer
            answer = ""
    label = list(re.finditer(r"(?:confidence|confident|certainty)\b", clean, re.IGNORECASE))
    if not label:
        return answer, _fail("no confidence label")
    return answer, parse_confidence(clean[label[-1].start() :], scale)
