"""calbench: measure and train the calibration of language models' stated confidence.

``calbench.evaluate(task, model, out, methods=[...])`` evaluates a model on a task
(:func:`calbench.evaluation.evaluate`); the command line is ``calbench`` (:mod:`calbench.cli`)."""

from __future__ import annotations

from typing import Any

from calbench.version import __version__

__all__ = ["__version__", "evaluate"]


def __getattr__(name: str) -> Any:
    """``calbench.evaluate``, imported when first used: ``import calbench`` stays light (no torch, no numpy)."""
    if name == "evaluate":
        from calbench.evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'calbench' has no attribute {name!r}")
