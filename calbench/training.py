"""The trainer plugin interface: how ``calbench train`` finds and drives a training method.

A trainer is a class registered under the entry-point group ``calbench.trainers`` in the package that provides
it (``pyproject.toml``)::

    [project.entry-points."calbench.trainers"]
    my-method = "my_package.plugin:MyTrainer"

The class needs a ``name``, a one-line ``description`` and a ``train(request) -> TrainResult`` method (subclass
:class:`Trainer`, or provide the same attributes: :func:`discover_trainers` checks the shape, not the type).
``calbench train --trainer NAME`` builds a :class:`TrainRequest` from the command line and the YAML config and
calls ``train``; the trainer writes everything it produces under ``request.out_dir`` and returns where the
adapter is, so that ``calbench eval --adapter DIR`` evaluates the trained model like any other.

Loading a trainer class must stay cheap (no torch/TRL import at module level): ``calbench trainers`` imports
every registered class to list it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

from calbench.errors import TrainerError

#: The entry-point group that trainer plugins register under.
ENTRY_POINT_GROUP = "calbench.trainers"


@dataclass
class TrainRequest:
    """What ``calbench train`` asks a trainer to do.

    ``config`` is the parsed YAML mapping with command-line overrides applied; the trainer validates it.
    With ``resume`` the trainer continues from the last checkpoint under ``out_dir`` instead of starting over.
    """

    model: str
    task: str
    out_dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    resume: bool = False


@dataclass
class TrainResult:
    """Where a finished training run put its outputs, and its final held-out metrics (``{name: value}``)."""

    adapter_dir: Path
    log_path: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)


class Trainer(abc.ABC):
    """Base class for trainer plugins (optional: any class with the same attributes works)."""

    #: The name users pass to ``--trainer`` (the entry point's name should be the same).
    name: ClassVar[str]
    #: One line for ``calbench trainers``.
    description: ClassVar[str]

    @abc.abstractmethod
    def train(self, request: TrainRequest) -> TrainResult:
        """Train, writing checkpoints, logs and the final adapter under ``request.out_dir``."""

    def default_config(self) -> dict[str, Any]:
        """The settings used when the config file leaves them out (shown by ``calbench trainers -v``)."""
        return {}

    def export_checkpoint(self, run_out: Path, step: int, out: Path) -> Path:
        """Write checkpoint ``step`` of the training run in ``run_out`` as an adapter folder ``out`` that
        ``calbench eval --adapter`` loads (``calbench checkpoint``); returns ``out``. A trainer that keeps no
        checkpoints it can export refuses."""
        raise TrainerError(f"trainer {self.name!r} does not export checkpoints")


@dataclass(frozen=True)
class TrainerEntry:
    """A registered trainer: the entry point, loaded on demand."""

    name: str
    target: str
    distribution: str | None
    entry_point: Any = field(repr=False, compare=False)

    def load(self) -> type[Trainer]:
        try:
            cls = self.entry_point.load()
        except Exception as e:  # an import error inside a plugin must not hide which plugin it was
            raise TrainerError(
                f"trainer {self.name!r} ({self.target}, from {self.distribution or 'unknown package'}) "
                f"failed to load: {type(e).__name__}: {e}"
            ) from e
        missing = [a for a in ("name", "description", "train") if not hasattr(cls, a)]
        if missing:
            raise TrainerError(
                f"trainer {self.name!r} ({self.target}) is not a calbench trainer: it lacks {missing}; "
                "see calbench.training.Trainer"
            )
        return cls


def discover_trainers() -> dict[str, TrainerEntry]:
    """Every trainer registered under the ``calbench.trainers`` entry-point group, by name (not yet loaded)."""
    found: dict[str, TrainerEntry] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None)
        found.setdefault(ep.name, TrainerEntry(ep.name, ep.value, dist, ep))
    return dict(sorted(found.items()))


def get_trainer(name: str) -> Trainer:
    """An instance of the trainer registered as ``name``."""
    entries = discover_trainers()
    if name not in entries:
        known = ", ".join(entries) or "none (is calbench installed with `pip install -e .`?)"
        raise TrainerError(f"unknown trainer {name!r}; registered trainers: {known}")
    return entries[name].load()()


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Read a trainer's YAML config (an empty mapping when ``path`` is None)."""
    if path is None:
        return {}
    import yaml

    path = Path(path)
    if not path.exists():
        raise TrainerError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise TrainerError(f"{path}: not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TrainerError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` overrides (values parsed as YAML scalars, so ``3``, ``1e-4``, ``true`` work)."""
    import yaml

    out = dict(config)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TrainerError(f"override {item!r} is not of the form key=value")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out
