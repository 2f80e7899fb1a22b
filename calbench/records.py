"""The records that pass between calbench's parts (docs/architecture.md, "Contracts").

* :class:`Example` -- what a task adapter yields.
* :class:`Sample`  -- one line of ``samples.jsonl`` (one per example x method).

JSON-lines helpers read with errors that name the file and line, and append with a flush per record so an
interrupted run keeps everything it finished.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from calbench.errors import DataError


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
    "id",
    "task",
    "model",
    "method",
    "prompt",
    "raw_output",
    "answer",
    "confidence",
    "parse_ok",
    "correct",
    "judge",
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


#: How a compressed text file is opened, by suffix (anything else is read as it is).
_DECOMPRESSORS: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".xz": lzma.open}


def open_text(path: str | Path, newline: str | None = None) -> io.TextIOBase:
    """Open a text file, transparently decompressing ``.gz`` and ``.xz`` (``newline`` as for :func:`open`;
    ``""`` for the csv module); a derived samples file reads as the samples it stands for."""
    path = Path(path)
    if path.name == DERIVED_SAMPLES_FILE:
        return io.TextIOWrapper(io.BytesIO(derived_samples_bytes(path)), encoding="utf-8", newline=newline)
    return _DECOMPRESSORS.get(path.suffix, open)(path, "rt", encoding="utf-8", newline=newline)


def open_bytes(path: str | Path) -> io.BufferedIOBase:
    """Open a file for reading bytes, transparently decompressing ``.gz`` and ``.xz``; a derived samples file
    (:data:`DERIVED_SAMPLES_FILE`) reads as the samples it stands for, byte for byte."""
    path = Path(path)
    if path.name == DERIVED_SAMPLES_FILE:
        return io.BytesIO(derived_samples_bytes(path))
    return _DECOMPRESSORS.get(path.suffix, open)(path, "rb")


#: A committed run derived from another (a post-hoc scaler's output: the same records with a new method name and
#: confidence) keeps only what differs from its source's records (``tools/compress_results.py --thin``). Its first
#: line names the source run folder (relative) and the sha256 of the source samples' content; each further line
#: is one record: ``{"i": line of the source (0-based), "set": {field: value}, "ref": {field: source field},
#: "at": [[[field, key or index, ...], value], ...], "del": [fields], "order": [fields]}`` (``at``: nested values
#: replaced, e.g. the one message of a prompt that differs; ``order`` only when the key order is not the source's
#: with new keys appended), applied in that order, or ``{"rec": record}`` for a record the source has no line for
#: (a run derived from a like run on most of the same questions, ``compress_results.py --derive``). Reading
#: rebuilds every line exactly as ``json.dumps(record, ensure_ascii=False)`` wrote it.
DERIVED_SAMPLES_FILE = "samples.derived.jsonl.xz"


def derived_samples_bytes(path: str | Path) -> bytes:
    """The samples a derived samples file stands for (module comment above), as the bytes of a samples.jsonl."""
    path = Path(path)
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    try:
        header = json.loads(lines[0])
        source = path.parent / header["source"]
    except (ValueError, KeyError, TypeError):
        raise DataError(f"{path}:1: not a derived samples header (source, source_sha256)") from None
    src_path = find_samples_file(source)
    if src_path is None:
        raise DataError(f"{path}: its source run {source} has no samples file")
    with open_bytes(src_path) as fh:
        src_bytes = fh.read()
    if hashlib.sha256(src_bytes).hexdigest() != header.get("source_sha256"):
        raise DataError(f"{path}: the samples of its source {source} changed since it was derived (sha256 differs)")
    src_lines = src_bytes.decode("utf-8").split("\n")
    out = []
    for n, line in enumerate(lines[1:], 2):
        if not line:
            continue
        try:
            patch = json.loads(line)
            if "rec" in patch:  # a record of its own, not in the source
                out.append(json.dumps(patch["rec"], ensure_ascii=False) + "\n")
                continue
            rec = json.loads(src_lines[patch["i"]])
            base = dict(rec)
            for k, v in patch.get("set", {}).items():
                rec[k] = v
            for k, f in patch.get("ref", {}).items():
                rec[k] = base[f]
            for at, value in patch.get("at", []):  # a nested leaf replaced: [[field, key or index, ...], value]
                node = rec
                for step in at[:-1]:
                    node = node[step]
                node[at[-1]] = value
            for k in patch.get("del", []):
                del rec[k]
            if "order" in patch:
                rec = {k: rec[k] for k in patch["order"]}
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise DataError(f"{path}:{n}: cannot rebuild this record from {source} ({e!r})") from None
        out.append(json.dumps(rec, ensure_ascii=False) + "\n")
    return "".join(out).encode("utf-8")


def read_text_lines(path: str | Path) -> list[str]:
    """The lines of a (possibly compressed) UTF-8 text file, each with its newline; a leading BOM is dropped and
    bytes that are not UTF-8 raise :class:`DataError` naming the line."""
    path = Path(path)
    with open_bytes(path) as fh:
        raw = fh.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 (byte 0x{raw[e.start]:02x} at column {column}); save the file as UTF-8"
        ) from None
    # split on "\n" only: str.splitlines would also split inside strings holding U+2028 and the like
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


class JsonlLineError(DataError):
    """A line of a JSON-lines file that is not a JSON object: ``line`` (1-based), ``json_error`` (the
    decoder's message; None when the line is valid JSON but not an object) and ``truncated`` (the file's last
    line, cut before its newline: an interrupted write)."""

    def __init__(
        self, path: str | Path, line: int, message: str, *, json_error: str | None = None, truncated: bool = False
    ):
        super().__init__(f"{path}:{line}: {message}")
        self.line, self.json_error, self.truncated = line, json_error, truncated


def jsonl_objects(path: str | Path, lines: list[str]) -> Iterator[tuple[int, dict]]:
    """The one JSON-lines reader: ``(line_number, object)`` for each non-empty line of ``lines`` (read from
    ``path`` by :func:`read_text_lines`); a line that is not a JSON object raises :class:`JsonlLineError`."""
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise JsonlLineError(
                path,
                i,
                f"not valid JSON ({e.msg} at column {e.colno})",
                json_error=e.msg,
                truncated=i == len(lines) and not line.endswith("\n"),
            ) from None
        if not isinstance(obj, dict):
            raise JsonlLineError(path, i, f"expected a JSON object, got {type(obj).__name__}")
        yield i, obj


def iter_jsonl(
    path: str | Path, *, tolerate_truncated_tail: bool = False, skipped: list[str] | None = None
) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-empty line; a bad line raises :class:`DataError`.

    With ``tolerate_truncated_tail`` a malformed *last* line (a write cut by an interruption) is skipped
    instead of raising, so a resumed run can continue; the skip is reported in ``skipped`` when given.
    """
    try:
        yield from jsonl_objects(path, read_text_lines(path))
    except JsonlLineError as e:
        if not (tolerate_truncated_tail and e.truncated):
            raise
        if skipped is not None:
            skipped.append(f"{path}:{e.line}: truncated last line (an interrupted write?) not read")


#: The samples file of a run being written (appended to, resumable) ...
SAMPLES_FILE = "samples.jsonl"
#: ... and of a committed run, compressed by ``tools/compress_results.py`` (read transparently). xz, not gzip:
#: a question's prompt repeats once per method, rows apart, beyond gzip's 32 KiB window (committed samples:
#: 17.1 MiB as gzip -9, 7.3 MiB as xz -9e).
COMPRESSED_SAMPLES_FILE = "samples.jsonl.xz"
#: Every compressed form read: the current one, and gzip (how earlier versions compressed).
COMPRESSED_SAMPLES_FILES = (COMPRESSED_SAMPLES_FILE, "samples.jsonl.gz")
#: Every name a run folder's samples file may have.
SAMPLES_FILES = (SAMPLES_FILE, *COMPRESSED_SAMPLES_FILES, DERIVED_SAMPLES_FILE)


def find_samples_file(folder: str | Path) -> Path | None:
    """The samples file of run folder ``folder``: ``samples.jsonl`` or a compressed form of it
    (:data:`COMPRESSED_SAMPLES_FILES`); None if none.

    A folder holding more than one is refused (:class:`DataError`): no copy can be trusted to be the newest.
    """
    folder = Path(folder)
    found = [folder / name for name in SAMPLES_FILES if (folder / name).exists()]
    if len(found) > 1:
        names = [p.name for p in found]
        held = ("both " if len(names) == 2 else "") + ", ".join(names[:-1]) + " and " + names[-1]
        raise DataError(
            f"{folder}: holds {held}; keep one (delete the stale copy, or run "
            f"tools/compress_results.py after checking the plain file is complete)"
        )
    return found[0] if found else None


def run_samples_path(folder: str | Path) -> Path:
    """:func:`find_samples_file`, raising :class:`DataError` when the folder has no samples file."""
    path = find_samples_file(folder)
    if path is None:
        raise DataError(
            f"{folder}: no {SAMPLES_FILE} (or {' / '.join(COMPRESSED_SAMPLES_FILES)}); not a calbench run folder"
        )
    return path


def read_run_samples(folder: str | Path) -> list[dict[str, Any]]:
    """The sample records of run folder ``folder``, from whichever form its samples file has."""
    return read_samples(run_samples_path(folder))


def drop_compressed_samples(folder: str | Path) -> None:
    """Remove every compressed samples file of ``folder``: a newly written plain ``samples.jsonl`` replaces a
    committed, compressed copy (:func:`find_samples_file` refuses a folder holding two)."""
    for name in (*COMPRESSED_SAMPLES_FILES, DERIVED_SAMPLES_FILE):
        (Path(folder) / name).unlink(missing_ok=True)


def expand_samples(folder: str | Path) -> Path:
    """Make ``folder``'s samples writable before a run resumes or extends it: a compressed samples file is
    replaced by the plain ``samples.jsonl`` (written atomically, then the compressed file removed). Returns the
    plain path (which need not exist yet)."""
    folder = Path(folder)
    found = find_samples_file(folder)
    plain = folder / SAMPLES_FILE
    if found is not None and found.name != SAMPLES_FILE:
        tmp = folder / (SAMPLES_FILE + ".tmp")
        with open_bytes(found) as src, open(tmp, "wb") as dst:
            dst.write(src.read())
        tmp.replace(plain)
        found.unlink()
    return plain


def read_samples_with_lines(path: str | Path, skipped: list[str] | None = None) -> list[tuple[int, dict]]:
    """``(line_number, sample)`` for each line of a ``samples.jsonl`` file, checking the core fields; a
    truncated last line is skipped and reported in ``skipped`` (when given)."""
    out = []
    for i, obj in iter_jsonl(path, tolerate_truncated_tail=True, skipped=skipped):
        missing = [k for k in SAMPLE_FIELDS if k not in obj]
        if missing:
            raise DataError(f"{path}:{i}: sample record lacks field(s) {missing}")
        out.append((i, obj))
    return out


def read_samples(path: str | Path, skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """Read a ``samples.jsonl`` file as a list of dicts, checking the core fields of each line."""
    return [obj for _, obj in read_samples_with_lines(path, skipped)]


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
