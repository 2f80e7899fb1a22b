"""Confidence methods: how a confidence is obtained for an answer.

A method is a class implementing :class:`calbench.methods.base.Method`: a ``name``, a ``needs`` set
(capabilities the backend must offer), ``accepts_fixed_answer`` and ``run(ctx, examples) -> list[Sample]``,
registered with ``@register``. Methods that share work (the generated answer) take it from
``ctx.answers``, a cache filled by :func:`calbench.methods.base.answers_for`, so several methods in one run
generate each answer once.
"""

from __future__ import annotations

from calbench.methods.base import METHODS, Method, MethodContext, fixed_answer_methods, get_method, register

# Built-in methods register themselves on import.
from calbench.methods import verbalized as _verbalized  # noqa: F401,E402
from calbench.methods import consistency as _consistency  # noqa: F401,E402
from calbench.methods import expected as _expected  # noqa: F401,E402
from calbench.methods import likelihood as _likelihood  # noqa: F401,E402
from calbench.methods import ptrue as _ptrue  # noqa: F401,E402

__all__ = ["METHODS", "Method", "MethodContext", "fixed_answer_methods", "get_method", "register"]
