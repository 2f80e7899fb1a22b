"""Human names of trained systems, for leaderboards: a run folder made by a study (``study.yaml`` beside it) is
named by the study's ``name`` and which of its trainings (or checkpoints) it rates, e.g. ``RD TriviaQA, pass 2``,
``RD SciQ answer swap, strict (brier)``, ``RD TriviaQA, pass 2 (step 975)``; a training whose settings give an
``adapter_name`` (the name its adapter card carries) is named by it. Folder paths and hashes stay in
the drill-down. The study file is read as YAML here (not through :mod:`calbench.study`, which sits above the
reporting layer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["adapter_name", "adapter_names"]


def _study(folder: Path, cache: dict[Path, dict | None]) -> dict | None:
    if folder not in cache:
        path = folder / "study.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        except (OSError, yaml.YAMLError):
            data = None
        cache[folder] = data if isinstance(data, dict) else None
    return cache[folder]


def _trainings(spec: dict) -> dict[str, str | None]:
    """``{training name: the adapter name its settings give, or None}`` in the study's order."""
    t = spec.get("training") or []
    t = [t] if isinstance(t, dict) else t
    out: dict[str, str | None] = {}
    for x in t:
        if isinstance(x, dict):
            given = (x.get("settings") or {}).get("adapter_name") if isinstance(x.get("settings"), dict) else None
            out[str(x.get("name") or "train")] = str(given) if given else None
    return out


def adapter_name(run: Path, cache: dict[Path, dict | None] | None = None) -> str | None:
    """The human name of the trained system a run folder rates, or None when no study names it."""
    cache = {} if cache is None else cache
    spec = _study(run.parent, cache)
    if spec is None:
        return None
    name = str(spec.get("name") or spec.get("study") or run.parent.name)
    trainings = _trainings(spec)
    for c in spec.get("checkpoints") or []:
        if isinstance(c, dict) and c.get("out") == run.name:
            return f"{name} (step {c.get('step')})"
    for s in spec.get("scalers") or []:  # a scaled run rates what the run it was applied to rates
        if isinstance(s, dict) and s.get("out") == run.name and s.get("apply"):
            applied = Path(str(s["apply"]))
            return adapter_name(run.parent / applied, cache) if applied.parent == Path(".") else None
    for e in spec.get("evaluations") or []:
        if not isinstance(e, dict):
            continue
        outs = {e.get("out")} | ({f"{e.get('out')}-{e.get('first')}"} if e.get("first") else set())
        if run.name not in outs:
            continue
        which: Any = e.get("adapter", True)
        if which is False or not trainings:
            return None
        training = next(iter(trainings)) if which is True else str(which).split("/")[0]
        if trainings.get(training) and "/" not in str(which):  # the training names its adapter
            return str(trainings[training])
        return name if training == "train" else f"{name} ({training})"
    return None


def adapter_names(runs: list[Path]) -> dict[Path, str]:
    """``{run folder: name}`` for the runs a study names."""
    cache: dict[Path, dict | None] = {}
    out = {}
    for run in runs:
        name = adapter_name(Path(run), cache)
        if name:
            out[Path(run)] = name
    return out
