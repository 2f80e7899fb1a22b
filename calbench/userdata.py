"""Bring your own dataset: a ``.jsonl``, ``.json`` or ``.csv`` file (optionally ``.gz``) as a task, no code.

:func:`load_user_dataset` maps the file's fields onto :class:`~calbench.records.Example` and returns a
:class:`~calbench.tasks.TaskSpec` with one split, ``"all"``. The whole file is read and checked up front, so
a bad field name or a malformed row fails at once, with the file, line (or JSON item) and the fields that
do exist.

File layouts
    ``.jsonl``  one JSON object per line.
    ``.json``   a list of objects, or an object whose ``"data"`` is that list.
    ``.csv``    a header row naming the columns (any names; map them with the ``*_field`` arguments).

Answers
    * multiple choice (``choices_field`` given): the choices are a JSON list, or a string split on ``|``
      (or on ``;`` when it has no ``|``; ``choices_sep`` overrides), or several fields given as a list of
      names (e.g. MMLU-style columns ``["A", "B", "C", "D"]``; empty ones are skipped). The answer may be
      the option's letter (``"B"``), its 0-based index (``1`` or ``"1"``) or its text; with the default
      ``answer_format="auto"`` an answer that reads as two different options (e.g. ``"1"`` among the options
      ``"1", "2"``) is an error -- name the format then. Options are shown in a fixed seeded order (the same
      :func:`tasks._answers.shuffle_choices` as the built-in tasks; ``seed`` varies it, ``shuffle=False``
      keeps the file's order) and ``answers`` = [the correct letter after that shuffle].
    * ``kind="numeric"``: the answer must be a number; it is stored canonically (``"1,000"`` -> ``"1000"``).
    * otherwise open-ended: accepted answers = a JSON list, or the string split on ``alias_sep``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator, Sequence

from calbench.records import DataError, Example, iter_jsonl, read_text_lines
from calbench.tasks import KINDS, TaskError, TaskSpec
from tasks._answers import LETTERS, canonical_number, shuffle_choices

SPLIT = "all"
NAME_PREFIX = "user:"
ANSWER_FORMATS = ("auto", "letter", "index", "text")
FORMATS = (".jsonl", ".json", ".csv")


def _file_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = suffixes[-1] if suffixes else ""
    if fmt not in FORMATS:
        raise DataError(
            f"{path}: unsupported file type {fmt or '(none)'!r}; use one of {', '.join(FORMATS)} "
            "(optionally gzip-compressed, ending .gz)"
        )
    return fmt


def _rows(path: Path, fmt: str, needed: dict[str, str]) -> Iterator[tuple[str, int | None, dict]]:
    """``(where, line, row)`` per record; ``needed`` maps field name -> role, checked against a CSV header."""
    if fmt == ".jsonl":
        for line, row in iter_jsonl(path):
            yield f"{path}:{line}", line, row
        return
    lines = read_text_lines(path)  # UTF-8 (a leading BOM, as Excel writes, dropped); bad bytes name the line
    if fmt == ".json":
        try:
            data = json.loads("".join(lines))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            data = data["data"]
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON list of objects, or an object with a 'data' list")
        for i, row in enumerate(data):
            if not isinstance(row, dict):
                raise DataError(f"{path}: item {i}: expected a JSON object, got {type(row).__name__}")
            yield f"{path}: item {i}", None, row
        return
    # strict: a quote left open raises at the end of the file instead of swallowing every line after it
    reader = csv.DictReader(lines, strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as e:
        raise DataError(f"{path}:1: the header row is not valid CSV ({e})") from None
    if not header:
        raise DataError(f"{path}: empty CSV file (the first row must name the columns)")
    for field_name, role in needed.items():
        if field_name not in header:
            raise DataError(
                f"{path}: {role} {field_name!r} is not a column of this file; "
                f"its columns are: {', '.join(repr(h) for h in header)}"
            )
    next_line = 2
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            what = (
                "a quoted field opened here is never closed (unmatched '\"')"
                if "end of data" in str(e)
                else f"not valid CSV ({e})"
            )
            raise DataError(f"{path}:{next_line}: {what}") from None
        line, next_line = next_line, reader.line_num + 1  # a quoted field may span lines
        if None in row:
            raise DataError(f"{path}:{line}: more values than the {len(header)} columns of the header")
        short = [k for k, v in row.items() if v is None]
        if short:
            n = len(header) - len(short)
            span = (
                f" (the record spans lines {line}-{reader.line_num}: is a quote left open?)"
                if reader.line_num > line
                else ""
            )
            raise DataError(
                f"{path}:{line}: {n} value(s) for the {len(header)} columns of the header; "
                f"no value for {', '.join(map(repr, short))}{span}"
            )
        yield f"{path}:{line}", line, row


def _field(row: dict, key: str, role: str, where: str) -> Any:
    if key not in row:
        raise DataError(f"{where}: missing {role} {key!r}; fields present: {', '.join(map(str, row))}")
    value = row[key]
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError(f"{where}: {role} {key!r} is empty")
    return value


def _split_choices(value: Any, sep: str | None, where: str) -> list[str]:
    if isinstance(value, list):
        options = [str(v).strip() for v in value]
    elif isinstance(value, str):
        sep = sep or ("|" if "|" in value else ";")
        options = [v.strip() for v in value.split(sep)]
    else:
        raise DataError(f"{where}: choices must be a list or a string, got {type(value).__name__}")
    options = [o for o in options if o]
    if len(options) < 2:
        raise DataError(f"{where}: need at least 2 choices, got {options!r}")
    return options


def resolve_choice(answer: Any, options: Sequence[str], where: str, answer_format: str = "auto") -> int:
    """The 0-based index of the correct option given as a letter, a 0-based index or the option's text."""
    n = len(options)
    readings: dict[str, int] = {}
    if isinstance(answer, bool):
        raise DataError(f"{where}: answer {answer!r} is not a letter, index or option text")
    if isinstance(answer, int):
        if 0 <= answer < n:
            readings["index"] = answer
    else:
        s = str(answer).strip()
        exact = [i for i, o in enumerate(options) if o == s]
        folded = exact or [i for i, o in enumerate(options) if o.casefold() == s.casefold()]
        if len(folded) == 1:
            readings["text"] = folded[0]
        if len(s) == 1 and s.upper() in LETTERS[:n]:
            readings["letter"] = LETTERS.index(s.upper())
        if s.isdigit() and int(s) < n:
            readings["index"] = int(s)
    if answer_format != "auto":
        if answer_format not in readings:
            raise DataError(
                f"{where}: answer {answer!r} is not a valid {answer_format} for the {n} choices {list(options)}"
            )
        return readings[answer_format]
    if not readings:
        raise DataError(
            f"{where}: answer {answer!r} is neither a letter A-{LETTERS[n - 1]}, a 0-based index "
            f"below {n}, nor the text of one of the choices {list(options)}"
        )
    if len(set(readings.values())) > 1:
        detail = ", ".join(f"as {k}: option {v} ({options[v]!r})" for k, v in readings.items())
        raise DataError(
            f"{where}: answer {answer!r} is ambiguous ({detail}); set answer_format to one of "
            f"{', '.join(ANSWER_FORMATS[1:])}"
        )
    return next(iter(readings.values()))


def load_user_dataset(
    path: str | Path,
    *,
    question_field: str,
    answer_field: str,
    choices_field: str | Sequence[str] | None = None,
    alias_sep: str | None = None,
    id_field: str | None = None,
    name: str | None = None,
    kind: str | None = None,
    seed: int = 0,
    choices_sep: str | None = None,
    answer_format: str = "auto",
    shuffle: bool = True,
) -> TaskSpec:
    """A task (one split, ``"all"``) from a user's ``.jsonl`` / ``.json`` / ``.csv`` file; see the module doc.

    ``name`` defaults to ``"user:<file stem>"``; ``kind`` to ``"mc"`` with ``choices_field``, else ``"open"``
    (``"numeric"`` must be asked for). Example ids are ``<id_field value>`` (must be unique) or
    ``<stem>-<row index>``. Raises :class:`DataError` for bad data, :class:`TaskError` for bad arguments.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    fmt = _file_format(path)
    stem = path.name.split(".")[0]
    name = name or f"{NAME_PREFIX}{stem}"
    choice_fields = [choices_field] if isinstance(choices_field, str) else list(choices_field or [])
    kind = kind or ("mc" if choice_fields else "open")
    if kind not in KINDS:
        raise TaskError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if (kind == "mc") != bool(choice_fields):
        raise TaskError(
            "multiple choice needs choices_field, and choices_field means kind 'mc'"
            f" (got kind={kind!r}, choices_field={choices_field!r})"
        )
    if answer_format not in ANSWER_FORMATS:
        raise TaskError(f"answer_format must be one of {', '.join(ANSWER_FORMATS)}, got {answer_format!r}")

    needed = {question_field: "question field", answer_field: "answer field"}
    needed.update({c: "choices field" for c in choice_fields})
    if id_field:
        needed[id_field] = "id field"
    examples: list[Example] = []
    seen_ids: dict[str, str] = {}
    for i, (where, line, row) in enumerate(_rows(path, fmt, needed)):
        question = str(_field(row, question_field, "question field", where)).strip()
        answer = _field(row, answer_field, "answer field", where)
        ex_id = str(_field(row, id_field, "id field", where)).strip() if id_field else f"{stem}-{i}"
        if ex_id in seen_ids:
            raise DataError(f"{where}: id {ex_id!r} repeats (first at {seen_ids[ex_id]}); ids must be unique")
        seen_ids[ex_id] = where
        meta: dict[str, Any] = {"row": i, "source_answer": answer}
        if line is not None:
            meta["line"] = line
        choices = None
        if kind == "mc":
            if len(choice_fields) == 1:
                options = _split_choices(_field(row, choice_fields[0], "choices field", where), choices_sep, where)
            else:
                options = _split_choices(
                    [row.get(c) for c in choice_fields if row.get(c) not in (None, "")], None, where
                )
            correct = resolve_choice(answer, options, where, answer_format)
            if shuffle:
                choices, letter, shuffle_meta = shuffle_choices(name, ex_id, options, correct, salt=str(seed))
                meta.update(shuffle_meta)
            else:
                choices, letter = options, LETTERS[correct]
            answers = [letter]
        elif kind == "numeric":
            number = canonical_number(str(answer))
            if number is None:
                raise DataError(f"{where}: answer {answer!r} is not a number (kind 'numeric')")
            answers = [number]
        else:
            raw = answer if isinstance(answer, list) else (str(answer).split(alias_sep) if alias_sep else [answer])
            answers = list(dict.fromkeys(str(a).strip() for a in raw if str(a).strip()))
            if not answers:
                raise DataError(f"{where}: answer field {answer_field!r} has no non-empty answer")
        examples.append(
            Example(
                id=ex_id,
                task=name,
                question=question,
                answers=answers,
                choices=choices,
                domain=None,
                split=SPLIT,
                meta=meta,
            )
        )
    if not examples:
        raise DataError(f"{path}: no rows")

    settings = {
        "question_field": question_field,
        "answer_field": answer_field,
        "choices_field": choices_field,
        "alias_sep": alias_sep,
        "id_field": id_field,
        "choices_sep": choices_sep,
        "answer_format": answer_format,
        "shuffle": shuffle,
        "seed": seed,
    }
    return TaskSpec(
        name=name,
        description=f"user dataset {path.name} ({len(examples)} questions, {kind})",
        kind=kind,
        splits=(SPLIT,),
        default_split=SPLIT,
        source=str(path.resolve()),
        license="as given by the dataset's owner",
        load_bundled=lambda split: list(examples),
        group="user",
        folder=path.resolve().parent,
        notes=json.dumps(settings),
    )
