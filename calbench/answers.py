"""Fixed answers: the id -> answer table read by ``calbench eval --answers FILE`` (and by trainers).

A confidence method that conditions on an answer (two-stage, expected, P(True), sequence likelihood,
self-consistency) can be given the answers instead of generating them, so that two models (e.g. before and
after training) are compared on the same answers, or a controlled experiment hands a model known-right and
known-wrong answers. :func:`load_answers` reads three layouts:

* JSON lines (``.jsonl``, ``.json``): one object per line with ``id`` and ``answer``;
* CSV (``.csv``): a header row naming the columns ``id`` and ``answer`` (other columns are ignored);
* a previous run's ``samples.jsonl`` (recognised by its sample fields): the answer each question was given.
  The answer-conditioned methods of one run share one answer per question, which is taken; a file holding
  only one-stage ``verbalized`` samples gives those answers. Samples without an answer (a failed request,
  an unparsed one-stage reply) are skipped.

Any of them may be compressed (gzip ``.gz`` or xz ``.xz``) and may start with a UTF-8 byte-order mark. Answers are
used verbatim (an empty answer is an answer, judged wrong). Errors name the file and line.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import lzma
from pathlib import Path

from calbench.records import SAMPLE_FIELDS, DataError

#: The one-stage method generates its own answer; its samples are used only when nothing else is there.
ONE_STAGE = "verbalized"


def file_sha256(path: str | Path) -> str:
    """sha256 of the file's bytes (as stored: a gzipped file hashes its compressed bytes)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_text(path: Path) -> str:
    from calbench.records import DERIVED_SAMPLES_FILE, derived_samples_bytes

    if path.name == DERIVED_SAMPLES_FILE:  # a scaled run's samples, kept as what differs from its source
        return derived_samples_bytes(path).decode("utf-8")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read answers file {path}: {e.strerror or e}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: not a valid gzip file ({e})") from None
    elif raw[:6] == b"\xfd7zXZ\x00":
        try:
            raw = lzma.decompress(raw)
        except lzma.LZMAError as e:
            raise DataError(f"{path}: not a valid xz file ({e})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def _is_csv(path: Path, text: str) -> bool:
    name = path.name.lower().removesuffix(".gz").removesuffix(".xz")
    if name.endswith(".csv"):
        return True
    if name.endswith((".jsonl", ".json")):
        return False
    return not text.lstrip().startswith("{")


def _text_answer(value: object, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # a numeric answer written as a number
        return str(value)
    raise DataError(f"{where}: 'answer' must be a string, got {value!r:.80}")


def _add(table: dict[str, tuple[str, int]], qid: object, answer: str, path: Path, line: int) -> None:
    if qid is None or (isinstance(qid, str) and not qid.strip()) or isinstance(qid, (dict, list, bool)):
        raise DataError(f"{path}:{line}: missing or empty 'id'")
    key = str(qid).strip()
    if key in table and table[key][0] != answer:
        first_answer, first_line = table[key]
        raise DataError(
            f"{path}:{line}: id {key!r} has answer {answer!r} here but {first_answer!r} on line "
            f"{first_line}; give each id one answer"
        )
    table.setdefault(key, (answer, line))


def _from_csv(path: Path, text: str) -> dict[str, tuple[str, int]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "id" not in header or "answer" not in header:
        raise DataError(f"{path}:1: a CSV answers file needs a header with columns 'id' and 'answer' (found: {header})")
    reader.fieldnames = header
    table: dict[str, tuple[str, int]] = {}
    for row in reader:
        line = reader.line_num
        if row.get("answer") is None:
            raise DataError(f"{path}:{line}: row has no 'answer' column value")
        _add(table, row.get("id"), row["answer"], path, line)
    return table


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    rows = []
    # split on "\n" only: str.splitlines would also split inside strings holding U+0085, U+2028 and the like (a
    # model's answer may hold them; JSON lines written with ensure_ascii=False keep them raw)
    for line, raw in enumerate(text.split("\n"), start=1):
        raw = raw.removesuffix("\r")
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{line}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{line}: expected a JSON object, got {type(obj).__name__}")
        rows.append((line, obj))
    return rows


def _is_samples(rows: list[tuple[int, dict]]) -> bool:
    return bool(rows) and all(k in rows[0][1] for k in SAMPLE_FIELDS)


def _from_jsonl(path: Path, text: str) -> dict[str, tuple[str, int]]:
    rows = _jsonl_rows(path, text)
    if _is_samples(rows):
        return _from_samples(path, rows)
    table: dict[str, tuple[str, int]] = {}
    for line, obj in rows:
        if "answer" not in obj or obj["answer"] is None:
            raise DataError(f"{path}:{line}: missing field 'answer' (fields present: {sorted(obj)})")
        _add(table, obj.get("id"), _text_answer(obj["answer"], f"{path}:{line}"), path, line)
    return table


def _from_samples(path: Path, rows: list[tuple[int, dict]], field: str = "answer") -> dict[str, tuple[str, int]]:
    """The chosen sample of each question's ``field``: its ``answer``, or (``answer_output``) its stage-1 reply."""
    usable = [(line, s) for line, s in rows if not s.get("request_error") and s.get("answer") is not None]
    conditioned = [(line, s) for line, s in usable if s.get("method") != ONE_STAGE]
    has_conditioned = {str(s.get("id")) for _, s in conditioned}
    table: dict[str, tuple[str, int]] = {}
    for line, s in usable:
        if s.get("method") == ONE_STAGE and str(s.get("id")) in has_conditioned:
            continue  # the one-stage reply's own answer; the shared stage-1 answer is taken instead
        if s.get(field) is None:
            continue  # a method that records no stage-1 reply (sequence likelihood scores the answer alone)
        _add(table, s.get("id"), _text_answer(s[field], f"{path}:{line}"), path, line)
    if field != "answer":
        missing = sorted({str(s.get("id")) for _, s in usable} - set(table))
        if missing:
            raise DataError(
                f"{path}: {len(missing)} question(s) have an answer but no recorded {field!r} in any sample "
                f"(first: {missing[0]!r}), so their stage-1 reply cannot be given verbatim"
            )
    return table


def samples_answers(samples: list[dict], where: str = "samples") -> dict[str, str]:
    """The id -> answer table of a run's samples, read as :func:`load_answers` reads a ``samples.jsonl``
    (the shared stage-1 answer of the answer-conditioned methods; a one-stage reply's only where no other)."""
    table = _from_samples(Path(where), list(enumerate(samples, 1)))
    return {qid: answer for qid, (answer, _) in table.items()}


def answers_fingerprint(table: dict[str, str]) -> str:
    """sha256 of an id -> answer table's content (order-independent): two runs on the same answers share it,
    whether one generated them and the other was given them (``eval --answers``)."""
    blob = json.dumps(sorted(table.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def load_answers(path: str | Path) -> dict[str, str]:
    """Read an answers file (JSONL or CSV with ``id`` and ``answer``, or a ``samples.jsonl``): id -> answer.

    Raises :class:`~calbench.records.DataError` naming the file and line of a bad row (missing field, invalid
    JSON, an id given two different answers) or when the file holds no answer at all.
    """
    p = Path(path)
    text = _read_text(p)
    table = _from_csv(p, text) if _is_csv(p, text) else _from_jsonl(p, text)
    if not table:
        raise DataError(f"{p}: no answers in the file (expected rows with 'id' and 'answer')")
    return {qid: answer for qid, (answer, _) in table.items()}


def load_replies(path: str | Path) -> dict[str, str]:
    """Read the stage-1 replies of a previous run's ``samples.jsonl``: id -> the reply as the model generated it
    (``answer_output``), of the same sample :func:`load_answers` takes the answer from.

    With these, ``calbench eval --answers FILE --answers-verbatim`` continues each conversation with the
    exact stage-1 turn of that run (its trailing full stop and all), as that run's own answer-conditioned
    methods and the trainers do, while the answer judged stays the parsed one. Raises
    :class:`~calbench.records.DataError` for a file that is not a run's samples or a sample without a reply.
    """
    p = Path(path)
    text = _read_text(p)
    rows = [] if _is_csv(p, text) else _jsonl_rows(p, text)
    if not _is_samples(rows):
        raise DataError(
            f"{p}: --answers-verbatim needs a run's samples (samples.jsonl), which record each stage-1 reply; "
            "an answers table holds only the answers"
        )
    return {qid: reply for qid, (reply, _) in _from_samples(p, rows, "answer_output").items()}
