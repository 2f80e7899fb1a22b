"""The backend interface and the factory that builds one from CLI settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from calbench.elicit import Prompt


@dataclass
class Generation:
    """One generated continuation.

    ``token_logprobs`` are the log-probabilities of the generated tokens (up to the stop) when the backend
    can give them; ``error`` is set when the request finally failed (then ``text`` is empty and the sample
    must be recorded as a failure, never as a wrong answer).
    """

    text: str
    n_tokens: int = 0
    token_logprobs: list[float] | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    #: short backend name recorded in the manifest (``hf``, ``scripted``, ...)
    kind: str

    def generate(self, prompts: Sequence[Prompt], *, max_new_tokens: int, temperature: float = 0.0,
                 stop: Sequence[str] = ("\n",), seed: int | None = None) -> list[Generation]:
        """Continue each prompt (greedy when ``temperature == 0``), cut at the first stop string."""
        ...

    def manifest(self) -> dict:
        """What identifies the model and its settings, for run.json."""
        ...


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to (not including) the earliest stop string, and whether one was found."""
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut], cut < len(text)


def make_backend(kind: str, model: str | None = None, **options: Any) -> Backend:
    """Build a backend by name. ``hf``: ``model`` is a hub id, local directory or packaged model name."""
    if kind == "hf":
        from calbench.backends.hf import HFBackend

        return HFBackend(model or "smollm2-135m-instruct", **options)
    if kind == "scripted":
        from calbench.backends.scripted import ScriptedBackend

        return ScriptedBackend.from_file(options.pop("script"), **options)
    try:  # optional backends living in their own modules (openai, vllm, ...)
        import importlib

        module = importlib.import_module(f"calbench.backends.{kind}")
    except ModuleNotFoundError as e:
        if e.name and e.name.endswith(f"backends.{kind}"):
            raise ValueError(f"unknown backend {kind!r}; available: hf, scripted, openai, vllm") from None
        raise
    return module.create(model=model, **options)
