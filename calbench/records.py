"""The records that pass between calbench's parts (DESIGN.md, "Contracts").

* :class:`Example` -- what a task adapter yields.
* :class:`Sample`  -- one line of ``samples.jsonl`` (one per example x method).

JSON-lines helpers read with errors that name the file and line, and append with a flush per record so an
interrupted run keeps everything it finished.
"""

from __future__ import annotations

import gzip
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator


class DataError(ValueError):
    """Bad input data; the message names the file, line and field."""


@dataclass
class Example:
    """One question of a task.

    ``answers`` holds every accepted alias (open questions), the correct letter (multiple choice) or the
    correct number as a string (math). ``choices`` is the list of option texts for multiple choice, in the
    order shown to the model (letters A, B, ... in that order), else ``None``.
    """

    id: str
    task: str
    question: str
    answers: list[str]
    choices: list[str] | None = None
    domain: str | None = None
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SAMPLE_FIELDS = (
    "id", "task", "model", "method", "prompt", "raw_output", "answer", "confidence", "parse_ok",
    "correct", "judge",
)


@dataclass
class Sample:
    """One evaluated (example, method) pair: a line of ``samples.jsonl``.

    ``confidence`` is a float in [0, 1] or ``None`` when it could not be parsed (then ``parse_ok`` is
    false). ``extras`` holds method-specific fields (``confidence_dist``, costs, ...) and is flattened into
    the JSON line; every sample written by calbench has ``gold`` (:func:`gold_answers`).
    """

    id: str
    task: str
    model: str
    method: str
    prompt: Any
    raw_output: str
    answer: str | None
    confidence: float | None
    parse_ok: bool
    correct: int
    judge: str
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in SAMPLE_FIELDS}
        for k, v in self.extras.items():
            if k in d:
                raise ValueError(f"extra field {k!r} would overwrite a core sample field")
            d[k] = v
        return d


def gold_answers(example: Example) -> list[str]:
    """The ``gold`` field of a sample: what the judge accepts, so that a reader can audit it -- the aliases of
    an open question, ``[letter]`` for multiple choice, ``[number]`` for math. Samples written before the
    field existed lack it; every reader treats it as optional."""
    return list(example.answers)


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinities as None (strict JSON has neither) and numpy scalars as Python numbers,
    through nested dicts, lists and tuples."""
    if hasattr(obj, "item") and not isinstance(obj, (dict, list, tuple, str)):
        obj = obj.item()
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a text file, transparently decompressing ``.gz``."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_jsonl(path: str | Path, *, tolerate_truncated_tail: bool = False) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-empty line; a bad line raises :class:`DataError`.

    With ``tolerate_truncated_tail`` a malformed *last* line (a write cut by an interruption) is skipped
    instead of raising, so a resumed run can continue.
    """
    with open_text(path) as fh:
        lines = fh.readlines()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            if tolerate_truncated_tail and i == len(lines) and not line.endswith("\n"):
                return
            raise DataError(f"{path}:{i}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{i}: expected a JSON object, got {type(obj).__name__}")
        yield i, obj


def read_samples(path: str | Path) -> list[dict[str, Any]]:
    """Read a ``samples.jsonl`` file as a list of dicts, checking the core fields of each line."""
    out = []
    for i, obj in iter_jsonl(path, tolerate_truncated_tail=True):
        missing = [k for k in SAMPLE_FIELDS if k not in obj]
        if missing:
            raise DataError(f"{path}:{i}: sample record lacks field(s) {missing}")
        out.append(obj)
    return out


class JsonlAppender:
    """Append records to a JSON-lines file, one flushed line per record (safe to interrupt)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_tail()
        self._fh = open(self.path, "a", encoding="utf-8")

    def _repair_tail(self) -> None:
        # An interrupted write can leave a partial last line; drop it so the file stays valid JSONL.
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            self.path.write_bytes(data[:cut])

    def write(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
