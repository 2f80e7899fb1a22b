"""Confidence methods: how a confidence is obtained for an answer.

A method is a class implementing :class:`calbench.methods.base.Method`: a ``name``, a ``needs`` set
(capabilities the backend must offer), ``accepts_fixed_answer`` and ``run(ctx, examples) -> list[Sample]``,
registered with ``@register``. Methods that share work (the generated answer) take it from
``ctx.answers``, a cache filled by :func:`calbench.methods.base.answers_for`, so several methods in one run
generate each answer once. Every module of this package except ``base`` and ``capabilities`` is imported
here, so a new method is one file, ``calbench/methods/<name>.py``.
"""

from __future__ import annotations

import importlib
import pkgutil

from calbench.methods.base import (
    METHODS,
    Method,
    MethodContext,
    fixed_answer_methods,
    get_method,
    register,
)

#: modules of this package that hold no method
_NOT_METHODS = {"base", "capabilities"}

# Every module of this package registers its methods (``@register``) when imported: a new method is one file.
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name not in _NOT_METHODS and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["METHODS", "Method", "MethodContext", "fixed_answer_methods", "get_method", "register"]
