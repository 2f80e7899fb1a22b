"""The task registry: finds the adapters in the top-level ``tasks`` package.

Each folder ``tasks/<name>/`` is a Python package whose ``__init__.py`` defines ``TASK``, a :class:`TaskSpec`.
The spec says how to turn raw rows (bundled files, or the Hugging Face hub) into :class:`Example` records.
"""

from __future__ import annotations

import pkgutil
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from calbench.errors import TaskError
from calbench.records import Example

#: Answer kinds decide the judge and the elicitation wording.
KINDS = ("open", "mc", "numeric")


@dataclass(frozen=True)
class TaskSpec:
    """A task: its data sources and how its answers are judged.

    ``load_bundled(split)`` reads the compressed files shipped in the task folder; ``load_hub(split)`` (optional)
    reads the full dataset from the Hugging Face hub (needs network and the ``datasets`` package).
    ``group`` is ``"in_domain"`` for the training domains (TriviaQA, SciQ) and ``"unseen"`` otherwise.
    """

    name: str
    description: str
    kind: str
    splits: tuple[str, ...]
    default_split: str
    source: str
    license: str
    load_bundled: Callable[[str], list[Example]]
    load_hub: Callable[[str], list[Example]] | None = None
    hub_id: str | None = None
    train_split: str | None = None
    group: str = "unseen"
    folder: Path | None = None
    notes: str = ""
    judge_settings: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.default_split not in self.splits:
            raise ValueError(f"task {self.name}: default split {self.default_split!r} not in {self.splits}")

    def load(self, split: str | None = None, source: str = "bundled") -> list[Example]:
        split = split or self.default_split
        if split not in self.splits:
            raise TaskError(f"task {self.name!r} has no split {split!r}; it has: {', '.join(self.splits)}")
        if source == "bundled":
            return self.load_bundled(split)
        if source == "hub":
            if self.load_hub is None:
                raise TaskError(f"task {self.name!r} has no hub loader; use --source bundled")
            return self.load_hub(split)
        raise TaskError(f"unknown data source {source!r}; use 'bundled' or 'hub'")


_REGISTRY: dict[str, TaskSpec] | None = None
#: The package whose sub-packages are the task adapters (each defines ``TASK``).
ADAPTERS = "tasks"


def _discover() -> dict[str, TaskSpec]:
    import importlib.util

    # the top-level package of adapters, found by name (registry discovery: its modules import this one)
    package = importlib.util.find_spec(ADAPTERS)
    found: dict[str, TaskSpec] = {}
    if package is None or not package.submodule_search_locations:
        return found
    for info in sorted(pkgutil.iter_modules(package.submodule_search_locations), key=lambda m: m.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{ADAPTERS}.{info.name}")
        spec = getattr(module, "TASK", None)
        if isinstance(spec, TaskSpec):
            found[spec.name] = spec
    return found


def all_tasks() -> dict[str, TaskSpec]:
    """Every registered task, by name (discovered once per process)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _discover()
    return _REGISTRY


def get_task(name: str) -> TaskSpec:
    tasks = all_tasks()
    if name not in tasks:
        raise TaskError(f"unknown task {name!r}; available tasks: {', '.join(sorted(tasks))}")
    return tasks[name]


def select(examples: list[Example], limit: int | None, seed: int) -> list[Example]:
    """The first ``limit`` examples of a seeded shuffle (all of them, shuffled, when ``limit`` is None).

    A seeded shuffle, not the file's head, so that a small ``--limit`` is a random sample of the split; the
    same seed always gives the same questions, and a larger limit extends a smaller one.
    """
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    if limit is not None:
        order = order[:limit]
    return [examples[i] for i in order]


def _id_lines(path: str | Path) -> list[tuple[int, str]]:
    """(line number, id) for each id line of an id file (blank lines and lines starting with ``#`` skipped); an
    id given twice is an error naming its lines."""
    p = Path(path)
    if not p.is_file():
        raise TaskError(f"{p}: no such id file")
    out: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text in seen:
            raise TaskError(f"{p}, line {n}: id {text!r} already given on line {seen[text]}")
        seen[text] = n
        out.append((n, text))
    if not out:
        raise TaskError(f"{p}: no ids (one question id per line)")
    return out


def read_id_file(path: str | Path) -> list[str]:
    """The question ids of an id file, one per line, in order (blank lines and lines starting with ``#`` skipped);
    an id given twice is an error naming its lines."""
    return [i for _, i in _id_lines(path)]


def select_ids(examples: list[Example], path: str | Path, limit: int | None = None) -> list[Example]:
    """The examples an id file names, in the file's order (the first ``limit`` of them); an id the split does not
    have is an error naming the file and line."""
    by_id = {e.id: e for e in examples}
    lines = _id_lines(path)
    for n, i in lines:
        if i not in by_id:
            raise TaskError(f"{path}, line {n}: no question {i!r} in this split ({len(examples)} questions)")
    chosen = [by_id[i] for _, i in lines]
    return chosen if limit is None else chosen[:limit]
