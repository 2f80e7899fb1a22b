"""Judges: decide whether an answer is correct. One definition per kind of task (:data:`JUDGES`), each a
:class:`Judge`.

* :class:`AliasJudge` (open questions): TriviaQA's official answer normalisation (lower-case, punctuation to
  spaces, articles removed, white space folded), exact match against every alias; optionally containment (an
  alias appears as a whole-word span of the answer) and token-F1 >= a threshold (the paper's evaluation used
  F1 > 0.5).
* :class:`ChoiceJudge` (multiple choice): the letter the answer names (or the option text it repeats).
* :class:`NumericJudge` (math): the last number of the answer equals the reference number.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from calbench.records import Example


@runtime_checkable
class Judge(Protocol):
    """What every judge implements (``tests/test_protocols.py`` checks each one of :data:`JUDGES`)."""

    #: recorded in each sample (``judge``) and in run.json (``judge.name``)
    name: str

    @property
    def settings(self) -> dict:
        """What decides its verdicts, recorded in run.json (``judge.settings``; part of the run identity)."""
        ...

    def __call__(self, answer: str | None, example: Example) -> bool:
        """Whether ``answer`` is correct for ``example`` (None or empty: never)."""
        ...


_PUNCT = set(string.punctuation + "‘’´`")


def normalize_answer(text: str) -> str:
    """TriviaQA's official normalisation (triviaqa_evaluation.py ``normalize_answer``)."""
    text = text.replace("_", " ").lower()
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split()).strip()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 between normalised strings."""
    p, r = normalize_answer(prediction).split(), normalize_answer(reference).split()
    common = Counter(p) & Counter(r)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(r)
    return 2 * precision * recall / (precision + recall)


@dataclass
class AliasJudge:
    containment: bool = False
    f1_threshold: float | None = None
    name: str = "alias_match"

    @property
    def settings(self) -> dict:
        return {"normalization": "triviaqa", "containment": self.containment, "f1_threshold": self.f1_threshold}

    def __call__(self, answer: str | None, example: Example) -> bool:
        if not answer:
            return False
        pred = normalize_answer(answer)
        if not pred:
            return False
        for alias in example.answers:
            ref = normalize_answer(alias)
            if not ref:
                continue
            if pred == ref:
                return True
            if self.containment and re.search(rf"(?:^| ){re.escape(ref)}(?: |$)", pred):
                return True
            if self.f1_threshold is not None and token_f1(pred, ref) >= self.f1_threshold:
                return True
        return False


_LETTER_PATTERNS = [
    re.compile(r"^\s*\(?([A-Z])\)?\s*(?:[.:)\-]|$|\s)"),  # "B", "B.", "(B) text", "B: text"
    re.compile(r"\b(?:answer|option)\s*(?:is|:)?\s*\(?([A-Z])\)?\b", re.IGNORECASE),
]


def extract_letter(answer: str, n_choices: int) -> str | None:
    valid = string.ascii_uppercase[:n_choices]
    for pat in _LETTER_PATTERNS:
        m = pat.search(answer)
        if m and m.group(1).upper() in valid:
            return m.group(1).upper()
    return None


@dataclass
class ChoiceJudge:
    name: str = "choice_letter"
    settings: dict = field(default_factory=lambda: {"accept_option_text": True})

    def extract(self, answer: str | None, example: Example) -> str | None:
        if not answer or not example.choices:
            return None
        letter = extract_letter(answer, len(example.choices))
        if letter is None and self.settings.get("accept_option_text"):
            norm = normalize_answer(answer)
            hits = [i for i, c in enumerate(example.choices) if normalize_answer(c) == norm]
            if len(hits) == 1:
                letter = string.ascii_uppercase[hits[0]]
        return letter

    def __call__(self, answer: str | None, example: Example) -> bool:
        letter = self.extract(answer, example)
        return letter is not None and letter == example.answers[0].strip().upper()


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def last_number(text: str) -> float | None:
    nums = _NUMBER.findall(text or "")
    if not nums:
        return None
    try:
        return float(nums[-1].replace(",", ""))
    except ValueError:
        return None


@dataclass
class NumericJudge:
    tolerance: float = 1e-9  # relative; integers up to ~1e9 must match exactly
    name: str = "numeric"

    @property
    def settings(self) -> dict:
        return {"rule": "last number in the answer equals the reference", "tolerance": self.tolerance}

    def __call__(self, answer: str | None, example: Example) -> bool:
        got = last_number(answer or "")
        ref = last_number(example.answers[0])
        return got is not None and ref is not None and abs(got - ref) <= self.tolerance * max(1.0, abs(ref))


#: task kind -> its judge class (``calbench.tasks.KINDS``)
JUDGES: dict[str, type[Judge]] = {"open": AliasJudge, "mc": ChoiceJudge, "numeric": NumericJudge}


def judge_for(kind: str, *, containment: bool = False, f1_threshold: float | None = None) -> Judge:
    """The judge for a task kind (``open``, ``mc`` or ``numeric``); ``containment`` and ``f1_threshold``
    apply to open questions only."""
    if kind not in JUDGES:
        raise ValueError(f"no judge for task kind {kind!r}")
    if kind == "open":
        return AliasJudge(containment=containment, f1_threshold=f1_threshold)
    return JUDGES[kind]()
