"""The run folder and its manifest, ``run.json``: the one module that reads and writes it.

A run folder holds ``run.json`` (the manifest: what was run, with which settings, and the metrics with their
95 % intervals) and the samples, ``samples.jsonl``, ``samples.jsonl.xz`` or ``samples.jsonl.gz``
(:func:`find_samples_file`, :func:`read_run_samples`, re-exported from :mod:`calbench.records`).

:class:`Run` is the folder as one object, in the spirit of Inspect's ``EvalLog``: ``Run.open(path)``, its
``.manifest``, ``.settings`` (the metric settings, each default stated once, :class:`RunSettings`),
``.methods``, ``.samples(method, scored=True)`` (the one rule of which samples count,
:func:`scored_samples`) and ``.write()``. A manifest is built only here: :func:`new_manifest` for a fresh run
(``runner``, ``lmeval.importer``) and :meth:`RunManifest.derive` for a run made from another (``calibrate``).
``RUN#METHOD`` is parsed by :func:`parse_ref`. No other module reads, builds or writes a manifest
(``tests/test_architecture.py`` checks it).

:class:`RunManifest` is the manifest's dict with typed accessors for the fields readers use. It stays a dict,
in the key order it was read or built in, so that unknown or newer fields survive a read and a write, and a
committed ``run.json`` is written back byte for byte. The fields are listed in docs/architecture.md ("Run
manifest"). ``calbench_run`` is the format version, :data:`FORMAT_VERSION`; a manifest of a newer version is
refused with a message that names the folder. A manifest without it (hand-written) is read as version 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calbench.errors import DataError, RunFolderError
from calbench.records import find_samples_file, read_run_samples, read_samples

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "VERSION_KEY",
    "ManifestError",
    "Run",
    "RunManifest",
    "RunSettings",
    "find_samples_file",
    "has_manifest",
    "manifest_path",
    "new_manifest",
    "parse_ref",
    "read_manifest",
    "read_run_samples",
    "samples_file",
    "scored_samples",
    "unique_samples",
    "write_manifest",
]

#: The manifest's file name inside a run folder.
MANIFEST_FILE = "run.json"
#: The key that holds the manifest's format version.
VERSION_KEY = "calbench_run"
#: The format version this calbench writes and the newest it reads.
FORMAT_VERSION = 1


class ManifestError(RunFolderError):
    """A run folder's ``run.json`` is missing, unreadable or of a newer format. ``str()`` names the folder;
    ``reason`` is the message without it (for lists that name the folder themselves)."""

    def __init__(self, folder: Path, reason: str):
        self.folder = folder
        self.reason = reason
        super().__init__(f"{folder}: {reason}")


class RunManifest(dict[str, Any]):
    """``run.json``'s content: a dict (every field, known or not, in its order) with typed accessors.

    Indexing works as on the plain dict (``manifest["task"]["name"]``); the accessors give a field's value with
    the fallbacks old runs need (``methods`` from ``method``, ``metrics_for`` from ``metrics``)."""

    @classmethod
    def of(cls, manifest: Mapping[str, Any]) -> RunManifest:
        """``manifest`` itself when it is a :class:`RunManifest`, else a :class:`RunManifest` of its items."""
        return manifest if isinstance(manifest, RunManifest) else cls(manifest)

    # -- identity and status -------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The format version (``calbench_run``); 1 when absent."""
        return int(self.get(VERSION_KEY, 1))

    @property
    def status(self) -> str | None:
        """``running``, ``complete`` or ``incomplete`` (None in a hand-written manifest)."""
        return self.get("status")

    @property
    def model(self) -> dict[str, Any]:
        """``id``, and from the backend ``sha256`` or revision, ``adapter``, ``device``, ``dtype``, ..."""
        return self.get("model") or {}

    @property
    def model_id(self) -> str | None:
        return self.model.get("id")

    @property
    def task(self) -> dict[str, Any]:
        """``name``, ``split``, ``source``, ``kind``, ``group``, ``data_sha256``, ``ids_sha256``, ..."""
        return self.get("task") or {}

    @property
    def task_name(self) -> str | None:
        return self.task.get("name")

    @property
    def n(self) -> int | None:
        """The number of questions."""
        return self.get("n")

    @property
    def methods(self) -> list[str]:
        """The confidence methods, in the order they ran (``methods``, else the single ``method``)."""
        if self.get("methods"):
            return list(self["methods"])
        return [self["method"]] if self.get("method") else []

    # -- settings ------------------------------------------------------------------------------------------

    @property
    def judge(self) -> dict[str, Any]:
        """``{"name", "settings"}`` of the judge that scored the answers."""
        return self.get("judge") or {}

    @property
    def parse_policy(self) -> str | None:
        return self.get("parse_policy", (self.get("metric_settings") or {}).get("parse_policy"))

    @property
    def metric_settings(self) -> dict[str, Any]:
        return self.get("metric_settings") or {}

    @property
    def elicitation(self) -> dict[str, Any]:
        return self.get("elicitation") or {}

    @property
    def given_answers(self) -> dict[str, Any] | None:
        """Where the stage-1 answers came from (``eval --answers``), or None when the model answered."""
        return self.get("given_answers")

    @property
    def calibration(self) -> dict[str, Any] | None:
        """A calibrated run's scaler, parameters and the runs it was fitted on and applied to; else None."""
        return self.get("calibration")

    @property
    def lmeval(self) -> dict[str, Any] | None:
        """An imported lm-eval run's origin and check against lm-eval's own metrics; else None."""
        return self.get("lmeval")

    @property
    def timings(self) -> dict[str, Any]:
        return self.get("timings") or {}

    @property
    def plots(self) -> list[str]:
        return list(self.get("plots") or [])

    # -- metrics -------------------------------------------------------------------------------------------

    def metrics_for(self, method: str) -> dict[str, dict[str, Any]]:
        """The metrics of ``method``: ``metrics_by_method[method]``, else (the first or only method)
        ``metrics``; ``{}`` for a method the run has no metrics of."""
        by = self.get("metrics_by_method")
        if by and method in by:
            return by[method] or {}
        methods = self.methods
        if methods and method == methods[0]:
            return self.get("metrics") or {}
        return {}

    def metrics_per_method(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{method: metrics}`` for every method of the run, in its order."""
        by = self.get("metrics_by_method")
        if by:
            return dict(by)
        methods = self.methods
        return {methods[0]: self.get("metrics") or {}} if methods else {}

    def derive(self, methods: list[str], **updates: Any) -> RunManifest:
        """A manifest for a run made from this one (a calibrated run): every field but the metrics and plots,
        with ``methods`` (and ``method``) replaced and ``updates`` set, in this order."""
        out = RunManifest({k: v for k, v in self.items() if k not in ("metrics", "metrics_by_method", "plots")})
        out.update(methods=list(methods), method=_method_field(methods), **updates)
        return out

    def set_metrics(self, per_method: Mapping[str, dict[str, Any]]) -> None:
        """Record the metrics of each method: ``metrics`` (the first method's) and, for several methods,
        ``metrics_by_method``."""
        per_method = dict(per_method)
        self["metrics"] = next(iter(per_method.values()))
        if len(per_method) > 1:
            self["metrics_by_method"] = per_method
        else:
            self.pop("metrics_by_method", None)


def display_path(p: str | Path) -> str:
    """A path as commands, messages and run records show it: relative to the working folder when inside it, else
    absolute (a run made in a clone then names ``adapters/rd-sciq``, not the clone's absolute path)."""
    full, here = os.path.abspath(p), os.getcwd()
    return os.path.relpath(full, here) if full == here or full.startswith(here.rstrip(os.sep) + os.sep) else full


def command_line(argv: list[str] | None = None) -> str:
    """The command that made a run, as its record shows it (``sys.argv`` by default): ``python -m calbench ...``
    rather than the absolute path of the package's ``__main__.py`` that ``-m`` puts in ``argv[0]``."""
    words = list(sys.argv if argv is None else argv)
    if words and Path(words[0]).name == "__main__.py" and Path(words[0]).parent.name == "calbench":
        words[0] = "python -m calbench"
    return " ".join(words)


def manifest_path(run_dir: str | Path) -> Path:
    """The manifest file of a run folder; ``run_dir`` may also be the manifest file itself, or another file of
    the folder (its samples file)."""
    p = Path(run_dir)
    if p.is_dir():
        return p / MANIFEST_FILE
    if p.suffix == ".json":
        return p
    return p.parent / MANIFEST_FILE if p.exists() else p / MANIFEST_FILE


def has_manifest(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a ``run.json``."""
    return manifest_path(run_dir).is_file()


def read_manifest(run_dir: str | Path) -> RunManifest:
    """The manifest of a run folder (or of the ``run.json`` named).

    Raises :class:`ManifestError` (a :class:`~calbench.errors.RunFolderError`) naming the folder when the file is
    missing, not valid JSON, not a JSON object, or of a format newer than :data:`FORMAT_VERSION`.
    """
    path = manifest_path(run_dir)
    folder, name = path.parent, path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(folder, f"no {name} (the run never started, or its manifest was deleted)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(folder, f"cannot read {name}: {e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ManifestError(
            folder, f"{name} is not valid JSON ({e.msg} at line {e.lineno}); partially written?"
        ) from None
    if not isinstance(data, dict):
        raise ManifestError(folder, f"{name} is not a JSON object")
    version = data.get(VERSION_KEY, 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ManifestError(folder, f"{name} has format version {VERSION_KEY}={version!r}; not a calbench run manifest")
    if version > FORMAT_VERSION:
        raise ManifestError(
            folder,
            f"{name} is of format version {version} ({VERSION_KEY}), newer than this "
            f"calbench reads ({FORMAT_VERSION}); upgrade calbench to read it",
        )
    return RunManifest(data)


def write_manifest(run_dir: str | Path, manifest: Mapping[str, Any]) -> Path:
    """Write ``manifest`` as ``run_dir/run.json``, atomically (a temporary file, then a rename: a reader never
    sees half a file); returns its path. Formatting: 2-space indent, UTF-8, one newline at the end. A manifest
    without a format version gets :data:`FORMAT_VERSION` first."""
    path = Path(run_dir) / MANIFEST_FILE
    if VERSION_KEY not in manifest:
        manifest = {VERSION_KEY: FORMAT_VERSION, **manifest}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _method_field(methods: list[str]) -> str:
    """The ``method`` field: the one method, or the methods joined by commas."""
    return ",".join(methods)


def new_manifest(
    *,
    status: str,
    model: dict[str, Any],
    task: dict[str, Any],
    n: int,
    methods: list[str],
    elicitation: dict[str, Any],
    generation: dict[str, Any],
    judge: dict[str, Any],
    parse_policy: str,
    seed: int,
    versions: dict[str, Any],
    command: str,
    **more: Any,
) -> RunManifest:
    """The manifest of a new run, its fields in the order every run.json has them (docs/architecture.md, "Run
    manifest"): ``more`` (timings, metrics, an importer's own record ...) go between ``versions`` and
    ``command``."""
    return RunManifest(
        {
            VERSION_KEY: FORMAT_VERSION,
            "status": status,
            "model": model,
            "task": task,
            "n": n,
            "methods": list(methods),
            "method": _method_field(methods),
            "elicitation": elicitation,
            "generation": generation,
            "judge": judge,
            "parse_policy": parse_policy,
            "seed": seed,
            "versions": versions,
            **more,
            "command": command,
        }
    )


def parse_ref(spec: str | Path) -> tuple[Path, str | None]:
    """``RUN#METHOD`` (one method of a run; also a samples file) as ``(path, method)``; ``(path, None)``
    without ``#METHOD``. The one parser of the notation."""
    path, sep, method = str(spec).partition("#")
    return Path(path), (method or None) if sep else None


@dataclass(frozen=True)
class RunSettings:
    """How a run's samples are scored: the parse policy and the metric settings recorded in run.json
    (``parse_policy``, ``metric_settings``). A setting a run does not record takes the metrics engine's default
    (:data:`calbench.metrics.DEFAULT_BINS` ...): :meth:`of` states that rule once."""

    policy: str
    bins: int
    eps: float
    n_resamples: int
    seed: int

    @classmethod
    def of(cls, manifest: Mapping[str, Any]) -> RunSettings:
        from calbench.metrics import DEFAULT_BINS, DEFAULT_EPS
        from calbench.metrics.policy import DEFAULT_POLICY

        ms = manifest.get("metric_settings") or {}
        boot = ms.get("bootstrap") or {}
        return cls(
            policy=str(manifest.get("parse_policy", ms.get("parse_policy")) or DEFAULT_POLICY),
            bins=int(ms.get("ece_bins", DEFAULT_BINS)),
            eps=float(ms.get("log_score_eps", DEFAULT_EPS)),
            n_resamples=int(boot.get("n_resamples", 1000)),
            seed=int(manifest.get("seed", boot.get("seed", 0))),
        )

    def scoring(self) -> dict[str, Any]:
        """As the keyword arguments of :func:`calbench.metrics.summarize_samples` and ``metric_settings``."""
        return {
            "policy": self.policy,
            "bins": self.bins,
            "eps": self.eps,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
        }


def scored_samples(rows: Iterable[dict[str, Any]], method: str | None = None) -> list[dict[str, Any]]:
    """The samples that count, in file order: the first record of each (id, method), leaving out requests that
    finally failed (``request_error``: no model output; the runner counts them, never scores them); of one
    ``method`` when given. The one rule, for the runner, the reports and the trainer's evaluation."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for s in rows:
        if s.get("request_error"):
            continue
        key = (s["id"], s["method"])
        if key in seen:
            continue
        seen.add(key)
        if method is None or s["method"] == method:
            out.append(s)
    return out


def unique_samples(path: Path, rows: Iterable[tuple[int, dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The samples of a samples file (``(line, record)`` pairs) with repeated (id, task, method, model) lines
    dropped, and a note per dropped line. A repeat that differs from the first line is refused
    (:class:`DataError` naming both lines): which of the two counts would be a guess."""
    first: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
    kept, notes = [], []
    for line, s in rows:
        key = (s.get("id"), s.get("task"), s.get("method"), s.get("model"))
        if key in first:
            line0, s0 = first[key]
            if s != s0:
                raise DataError(
                    f"{path}:{line}: repeats sample id {key[0]!r} (method {key[2]}) of line {line0} "
                    "with different content; remove one of the two lines"
                )
            notes.append(f"{path}:{line}: duplicate of line {line0} (id {key[0]!r}, method {key[2]}) dropped")
            continue
        first[key] = (line, s)
        kept.append(s)
    return kept, notes


def samples_file(path: str | Path) -> Path:
    """The samples file that ``path`` names: ``path`` itself, or the samples file inside a run folder."""
    path = Path(path)
    if not path.is_dir():
        return path
    found = find_samples_file(path)
    if found is None:
        raise DataError(f"{path} is a folder without samples.jsonl; give a samples file or a run folder")
    return found


@dataclass
class Run:
    """A run folder: its manifest and samples. ``Run.open(path)`` reads the manifest (refusing a missing,
    unreadable or newer one, :class:`ManifestError`); the samples are read once, when first asked for."""

    path: Path
    manifest: RunManifest
    _samples_path: Path | None = field(default=None, repr=False, compare=False)
    _rows: list[dict[str, Any]] | None = field(default=None, repr=False, compare=False)
    _scored: list[dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.manifest = RunManifest.of(self.manifest)

    @classmethod
    def open(cls, path: str | Path) -> Run:
        """The run of folder ``path`` (or of the run.json or samples file named)."""
        found = manifest_path(path)
        return cls(found.parent, read_manifest(found))

    @property
    def methods(self) -> list[str]:
        return self.manifest.methods

    @property
    def settings(self) -> RunSettings:
        return RunSettings.of(self.manifest)

    @property
    def samples_path(self) -> Path:
        """The folder's samples file (plain or compressed); :class:`DataError` when there is none."""
        if self._samples_path is None:
            found = find_samples_file(self.path)
            if found is None:
                raise DataError(f"{self.path}: no samples.jsonl (nor a compressed samples.jsonl.xz or .gz)")
            self._samples_path = found
        return self._samples_path

    def rows(self) -> list[dict[str, Any]]:
        """Every sample record of the file, as written (failed requests and repeats included)."""
        if self._rows is None:
            self._rows = read_samples(self.samples_path)
        return self._rows

    def samples(self, method: str | None = None, *, scored: bool = True) -> list[dict[str, Any]]:
        """The samples of ``method`` (every method when None): those that count (:func:`scored_samples`), or
        with ``scored=False`` every record of the file."""
        if scored:
            if self._scored is None:  # the rule applied once; a method's samples are then a filter of them
                self._scored = scored_samples(self.rows())
            rows = self._scored
        else:
            rows = self.rows()
        return [s for s in rows if method is None or s["method"] == method]

    def metrics(self, method: str) -> dict[str, dict[str, Any]]:
        """The metrics of ``method`` (:meth:`RunManifest.metrics_for`)."""
        return self.manifest.metrics_for(method)

    def write(self) -> Path:
        """Write the manifest to the folder's run.json (:func:`write_manifest`); returns its path."""
        self.path.mkdir(parents=True, exist_ok=True)
        return write_manifest(self.path, self.manifest)


def question_ids_used(roots: Iterable[str | Path], *, skip: Iterable[str | Path] = ()) -> set[str]:
    """Every question id a committed result has touched under ``roots`` (ids carry their task and split, e.g.
    ``tqa-dpr-test-17``, ``sciq-train-3``): the questions of each run folder (its samples, or its given answers
    when it keeps no samples of its own) and of each trainer record's labelled pool (``train/answers.jsonl*``).
    Folders under a path in ``skip`` are left out (a study's own runs). What fresh questions must avoid."""
    skipped = [Path(s).resolve() for s in skip]

    def wanted(p: Path) -> bool:
        r = p.resolve()
        return not any(r == s or s in r.parents for s in skipped)

    memo: dict[Path, list[str]] = {}
    shas: dict[Path, str] = {}

    def ids_in(path: str | Path) -> set[str]:
        return set(_record_ids(Path(path), memo, shas))

    used: set[str] = set()
    for root in map(Path, roots):
        for manifest in sorted(root.rglob(MANIFEST_FILE)):
            if not wanted(manifest.parent):
                continue
            run = Run.open(manifest.parent)
            samples = find_samples_file(run.path)
            if samples is not None:
                used |= ids_in(samples)
            else:  # a folder that keeps no samples of its own (e.g. a scaled histogram run): its given answers
                given = run.manifest.given_answers
                if given and Path(given["path"]).exists():
                    used |= ids_in(given["path"])
        for pool in sorted(root.rglob("train/answers.jsonl*")):
            if wanted(pool):
                used |= ids_in(pool)
    return used


def _record_ids(path: Path, memo: dict[Path, list[str]], shas: dict[Path, str]) -> list[str]:
    """The ``id`` of each record of a samples or answers file, in line order (memoised by resolved path). A derived
    samples file (:data:`calbench.records.DERIVED_SAMPLES_FILE`) is read as its source's ids at the lines it
    patches, without rebuilding the records (many scaled runs share one source), after the same check as
    :func:`calbench.records.derived_samples_bytes`: its source's samples still hash to the header's
    ``source_sha256`` (each source hashed once, memoised in ``shas``), else :class:`DataError`; a patch that
    touches ``id`` rebuilds it in full."""
    import hashlib
    import lzma

    from calbench.records import DERIVED_SAMPLES_FILE, iter_jsonl, open_bytes

    key = path.resolve()
    if key in memo:
        return memo[key]
    ids: list[str] | None = None
    if path.name == DERIVED_SAMPLES_FILE:
        with lzma.open(path, "rt", encoding="utf-8") as fh:
            header, *patches = (json.loads(line) for line in fh if line.strip())
        src = find_samples_file(path.parent / header["source"]) if isinstance(header, dict) else None
        if src is not None and not any(
            "id" in pt.get("ref", {}) or "id" in pt.get("del", []) or "id" not in pt.get("order", ["id"])
            for pt in patches
        ):
            src_key = src.resolve()
            if src_key not in shas:
                digest = hashlib.sha256()
                with open_bytes(src) as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
                shas[src_key] = digest.hexdigest()
            if shas[src_key] != header.get("source_sha256"):
                raise DataError(
                    f"{path}: the samples of its source {header['source']} changed since it was derived "
                    "(sha256 differs)"
                )
            src_ids = _record_ids(src, memo, shas)
            ids = [pt.get("set", {}).get("id", src_ids[pt["i"]]) for pt in patches]
    if ids is None:
        ids = [r["id"] for _, r in iter_jsonl(path, tolerate_truncated_tail=True)]
    memo[key] = ids
    return ids
