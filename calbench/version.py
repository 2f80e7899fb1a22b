"""calbench's version (one place; ``pyproject.toml`` states the same) and the versions a result records."""

from __future__ import annotations

import platform
import sys

__version__ = "0.1.0"

#: The libraries whose versions every run records (run.json ``versions``, a training run's config.yaml).
RECORDED = ("torch", "transformers", "peft", "numpy", "scipy", "sklearn", "trl")


def versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """calbench's, Python's and the platform's versions, and those of :data:`RECORDED` and ``extra`` libraries
    that are installed (an absent one is left out)."""
    out = {"calbench": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for mod in (*RECORDED, *extra):
        m = sys.modules.get(mod)
        if m is None:
            try:
                m = __import__(mod)
            except ImportError:
                continue
        out[mod] = str(getattr(m, "__version__", "?"))
    return out
