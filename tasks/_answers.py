"""Answer helpers shared by the adapters (and by :mod:`calbench.userdata`).

* :func:`shuffle_choices` -- the fixed, seeded order in which multiple-choice options are shown.
* :func:`canonical_number` -- a numeric reference answer as the plain number string the judge compares.
"""

from __future__ import annotations

import hashlib
import re
import string
from typing import Sequence

from calbench.records import DataError, Example

LETTERS = string.ascii_uppercase


def option_order(task: str, example_id: str, n: int, salt: str = "") -> list[int]:
    """A permutation of ``range(n)``: original option indices in the order they are shown.

    Each index is ranked by ``sha256("{task}\\0{example_id}\\0{salt}\\0{i}")``: a uniformly random permutation
    (so the correct letter is uniform over a split) that depends only on these strings -- the same on every run,
    machine and Python version (unlike ``hash()``, which is salted per process).
    """

    def key(i: int) -> bytes:
        return hashlib.sha256(f"{task}\0{example_id}\0{salt}\0{i}".encode()).digest()

    return sorted(range(n), key=key)


def shuffle_choices(
    task: str, example_id: str, options: Sequence[str], correct: int, salt: str = ""
) -> tuple[list[str], str, dict]:
    """Options in their shown order, the correct letter, and ``meta`` recording the original layout.

    ``meta`` has ``original_choices`` (the source order), ``original_answer`` (its correct letter),
    ``correct_text`` and ``order`` (``shown[k] == original_choices[order[k]]``).
    """
    if not 0 <= correct < len(options):
        raise ValueError(f"correct option index {correct} out of range for {len(options)} options")
    if len(options) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options are supported, got {len(options)}")
    order = option_order(task, example_id, len(options), salt)
    shown = [options[i] for i in order]
    letter = LETTERS[order.index(correct)]
    meta = {
        "original_choices": list(options),
        "original_answer": LETTERS[correct],
        "correct_text": options[correct],
        "order": order,
    }
    return shown, letter, meta


def mc_example(
    task: str,
    example_id: str,
    question: str,
    options: Sequence[str],
    correct: int,
    *,
    split: str,
    domain: str | None,
    meta: dict | None = None,
    salt: str = "",
) -> Example:
    """A multiple-choice :class:`Example` with its options in the seeded order (``answers`` = [letter])."""
    shown, letter, shuffle_meta = shuffle_choices(task, example_id, options, correct, salt)
    return Example(
        id=example_id,
        task=task,
        question=question,
        answers=[letter],
        choices=shown,
        domain=domain,
        split=split,
        meta={**(meta or {}), **shuffle_meta},
    )


_PLAIN_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")


def canonical_number(text: str) -> str | None:
    """``"1,000"`` -> ``"1000"``, ``"$18.50"`` -> ``"18.5"``, ``"-3"`` -> ``"-3"``; ``None`` if not a number.

    Thousands separators, a leading currency sign and surrounding spaces are dropped; an integral value is
    written without a decimal point.
    """
    s = str(text).strip().replace(",", "").replace(" ", "")
    s = s.lstrip("$€£")
    if not _PLAIN_NUMBER.fullmatch(s):
        return None
    if "." not in s:
        return str(int(s))
    value = float(s)
    return str(int(value)) if value.is_integer() else repr(value)


def labelled_options(choices: object, answer_key: object, where: str) -> tuple[list[str], int]:
    """Option texts and the correct index from ``[{"label", "text"}, ...]`` or ``{"label": [...], "text": [...]}``.

    The two layouts of the AI2/CommonsenseQA files and their hub versions. ``where`` (``file:line``) goes
    into the :class:`~calbench.records.DataError` for a malformed row.
    """
    if isinstance(choices, dict) and isinstance(choices.get("label"), list) and isinstance(choices.get("text"), list):
        labels, texts = choices["label"], choices["text"]
    elif isinstance(choices, list) and all(isinstance(c, dict) and "label" in c and "text" in c for c in choices):
        labels, texts = [c["label"] for c in choices], [c["text"] for c in choices]
    else:
        raise DataError(
            f"{where}: 'choices' must be a list of {{label, text}} objects or "
            f"{{label: [...], text: [...]}}, got {choices!r:.120}"
        )
    labels = [str(x).strip() for x in labels]
    texts = [str(x).strip() for x in texts]
    if len(labels) != len(texts) or len(texts) < 2 or len(set(labels)) != len(labels) or not all(texts):
        raise DataError(
            f"{where}: need at least 2 options with distinct labels and non-empty texts, got labels {labels}"
        )
    key = str(answer_key).strip()
    if key not in labels:
        raise DataError(f"{where}: answerKey {key!r} is not one of the option labels {labels}")
    return texts, labels.index(key)
