"""Writing run folders safely: a folder that holds a different run is refused, and files are written
atomically (a temporary file, then a rename), so an interrupted or refused write never leaves a run folder
half old and half new.

Every command that writes a run folder (``eval``, ``calibrate``, ``import-lmeval``, ``demo``) goes through
:func:`refuse_other_run` before it writes anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable

from calbench.errors import RunFolderError
from calbench.records import SAMPLES_FILES
from calbench.runs import MANIFEST_FILE, ManifestError, Run

#: The files that make a folder a run folder (samples may be stored compressed).
RUN_FILES = (MANIFEST_FILE, *SAMPLES_FILES)


def existing_run(folder: str | Path) -> dict | None:
    """The manifest of the run in ``folder``: ``None`` when the folder holds no run, ``{}`` when it holds
    samples without a readable run.json (or one of a newer format)."""
    folder = Path(folder)
    if not any((folder / f).exists() for f in RUN_FILES):
        return None
    try:
        return Run.open(folder).manifest
    except ManifestError:
        return {}


def describe(manifest: dict | None) -> str:
    """A short description of a run (task, model, methods, where it came from) for error messages."""
    if not manifest:
        return "samples without a readable run.json"
    task = (manifest.get("task") or {}).get("name")
    model = (manifest.get("model") or {}).get("id")
    origin = (
        "an lm-eval import"
        if "lmeval" in manifest
        else "a calibrated run"
        if "calibration" in manifest
        else "a calbench eval run"
    )
    return f"{origin} of task {task!r}, model {model!r}, method {manifest.get('method')!r}"


def refuse_other_run(folder: str | Path, same_run: Callable[[dict], bool]) -> bool:
    """Raise :class:`RunFolderError` when ``folder`` holds a run for which ``same_run(manifest)`` is false.

    Returns whether the folder already holds the same run (which the caller may then replace or resume).
    """
    old = existing_run(folder)
    if old is None:
        return False
    if old and same_run(old):
        return True
    raise RunFolderError(
        f"{folder} already holds a different run ({describe(old)}); choose another --out, "
        "or delete the folder to start over"
    )


def write_samples(path: str | Path, samples: Iterable[dict]) -> None:
    """Write a samples file atomically: readers see the old file or the complete new one, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for s in samples:
            fh.write(json.dumps(s, ensure_ascii=False) + "\n")
    tmp.replace(path)
