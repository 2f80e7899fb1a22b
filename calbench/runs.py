"""The run folder and its manifest, ``run.json``: the one module that reads and writes it.

A run folder holds ``run.json`` (the manifest: what was run, with which settings, and the metrics with their
95 % intervals) and the samples, ``samples.jsonl``, ``samples.jsonl.xz`` or ``samples.jsonl.gz``
(:func:`find_samples_file`, :func:`read_run_samples`, re-exported from :mod:`calbench.records`). Every writer of
a manifest (``runner``, ``calibrate``, ``lmeval.importer``) goes through :func:`write_manifest`, every reader through
:func:`read_manifest`; no other module opens ``run.json`` (``tests/test_architecture.py`` checks it).

:class:`RunManifest` is the manifest's dict with typed accessors for the fields readers use. It stays a dict,
in the key order it was read or built in, so that unknown or newer fields survive a read and a write, and a
committed ``run.json`` is written back byte for byte. The fields are listed in docs/architecture.md ("Run
manifest"). ``calbench_run`` is the format version, :data:`FORMAT_VERSION`; a manifest of a newer version is
refused with a message that names the folder. A manifest without it (hand-written) is read as version 1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from calbench.errors import RunFolderError
from calbench.records import find_samples_file, read_run_samples

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "VERSION_KEY",
    "ManifestError",
    "RunManifest",
    "find_samples_file",
    "has_manifest",
    "manifest_path",
    "read_manifest",
    "read_run_samples",
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


class RunManifest(dict):
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

    def metrics_for(self, method: str) -> dict[str, dict]:
        """The metrics of ``method``: ``metrics_by_method[method]``, else (the first or only method)
        ``metrics``; ``{}`` for a method the run has no metrics of."""
        by = self.get("metrics_by_method")
        if by and method in by:
            return by[method] or {}
        methods = self.methods
        if methods and method == methods[0]:
            return self.get("metrics") or {}
        return {}

    def metrics_per_method(self) -> dict[str, dict[str, dict]]:
        """``{method: metrics}`` for every method of the run, in its order."""
        by = self.get("metrics_by_method")
        if by:
            return dict(by)
        methods = self.methods
        return {methods[0]: self.get("metrics") or {}} if methods else {}

    def set_metrics(self, per_method: Mapping[str, dict]) -> None:
        """Record the metrics of each method: ``metrics`` (the first method's) and, for several methods,
        ``metrics_by_method``."""
        per_method = dict(per_method)
        self["metrics"] = next(iter(per_method.values()))
        if len(per_method) > 1:
            self["metrics_by_method"] = per_method
        else:
            self.pop("metrics_by_method", None)


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
