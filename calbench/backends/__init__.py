"""Model backends: turn :class:`calbench.elicit.Prompt` s into generated text.

A backend implements :class:`Backend`. ``hf`` runs transformers in process; ``scripted`` replays canned
replies (tests, demos of the pipeline without a model). Optional backends (OpenAI-compatible HTTP, vLLM)
register here too.
"""

from __future__ import annotations

from calbench.backends.base import Backend, Generation, make_backend

__all__ = ["Backend", "Generation", "make_backend"]
