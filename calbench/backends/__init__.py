"""Model backends: turn :class:`calbench.elicit.Prompt` s into generated text.

A backend implements :class:`Backend`, in a module of this package that declares ``BACKEND``
(:class:`BackendSpec`: name, description, the model options it takes) and ``create(model=None, **options)``;
:func:`backends` lists them. ``hf`` runs transformers in process; ``scripted`` replays canned replies (tests,
demos of the pipeline without a model); ``openai`` (an OpenAI-compatible HTTP endpoint) and ``vllm`` need
their extras.
"""

from __future__ import annotations

from calbench.backends.base import (
    Backend,
    BackendSpec,
    Generation,
    backend_spec,
    backends,
    make_backend,
)

__all__ = ["Backend", "BackendSpec", "Generation", "backend_spec", "backends", "make_backend"]
