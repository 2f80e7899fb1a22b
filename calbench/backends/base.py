"""The backend interface, the backend registry and the factory that builds one from CLI settings.

Each backend is a module of this package that declares ``BACKEND = BackendSpec(...)`` (its name, description
and the model options it takes) beside ``create(model=None, **options)``; :func:`backends` finds them, and the
``--backend`` help and choices, the messages and :func:`make_backend` derive from it.
"""

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

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] = ("\n",),
        seed: int | None = None,
    ) -> list[Generation]:
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


@dataclass(frozen=True)
class BackendSpec:
    """A backend as ``calbench eval --backend NAME`` knows it, declared by its module as ``BACKEND``.

    ``options`` are the model options of ``eval`` it takes (``adapter``, ``device``, ``dtype``, ``batch_size``
    and the ones of its own ``flags``); :func:`make_backend` passes it those and drops the ones that only
    other backends declare. ``flags`` are the ``eval`` options it introduces: option name (``base_url``
    for ``--base-url``) -> the keyword arguments of ``argparse.add_argument`` (``help``, ``type`` ...; a
    ``type`` given as a string names a value type of the CLI, ``calbench.argcheck.VALUE_TYPES``: the library
    never imports the CLI).
    ``--backend-option KEY=VALUE`` options are always passed on. ``extra``: the pip extra of its
    dependencies (``pip install 'calbench[EXTRA]'``), None when the base install has them.
    """

    name: str
    description: str
    options: tuple[str, ...] = ()
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: str | None = None
    #: the module under ``calbench.backends`` that declares it (filled in by :func:`backends`)
    module: str = ""


#: the backend of ``eval`` without ``--backend``
DEFAULT_BACKEND = "hf"
_BACKENDS: dict[str, BackendSpec] | None = None


def backends() -> dict[str, BackendSpec]:
    """Every backend, by name (sorted): the modules of ``calbench.backends`` that declare ``BACKEND``.
    Backend modules import their heavy dependencies (torch, httpx, vllm) inside functions, so this is cheap."""
    global _BACKENDS
    if _BACKENDS is None:
        import importlib
        import pkgutil
        from dataclasses import replace
        from pathlib import Path

        found = {}
        for info in pkgutil.iter_modules([str(Path(__file__).parent)]):  # this package's modules
            if info.name == "base" or info.name.startswith("_"):
                continue
            spec = getattr(importlib.import_module(f"calbench.backends.{info.name}"), "BACKEND", None)
            if isinstance(spec, BackendSpec):
                found[spec.name] = replace(spec, module=info.name)
        _BACKENDS = dict(sorted(found.items()))
    return _BACKENDS


def backend_spec(name: str) -> BackendSpec:
    """The registered backend ``name``; ``ValueError`` naming the available ones otherwise."""
    if name not in backends():
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(backends())}")
    return backends()[name]


def model_options() -> tuple[str, ...]:
    """Every model option some backend declares (``eval`` collects these from its arguments), in order."""
    return tuple(dict.fromkeys(o for spec in backends().values() for o in spec.options))


def make_backend(kind: str, model: str | None = None, **options: Any) -> Backend:
    """Build a backend by name (:func:`backends`). ``hf``: ``model`` is a hub id, local directory or packaged
    model name. The backend gets the options it declares and any option no backend declares (``eval
    --backend-option``); the options only other backends declare are dropped."""
    import importlib

    spec = backend_spec(kind)
    shared = set(model_options())
    kept = {k: v for k, v in options.items() if k in spec.options or k not in shared}
    return importlib.import_module(f"calbench.backends.{spec.module}").create(model=model, **kept)
