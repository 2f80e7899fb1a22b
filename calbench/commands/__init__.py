"""Sub-commands of the ``calbench`` CLI, one module each (see :mod:`calbench.cli`)."""

from __future__ import annotations

import re


def help_text(text: str | None) -> str | None:
    """A docstring as people read it in --help: no Sphinx roles or RST double backticks, and no leading
    "``calbench eval``:" (the help already names the command)."""
    if not text:
        return text
    stripped = re.sub(r"^\s*``calbench [\w-]+``:\s*", "", text)
    if stripped != text:  # the sentence now starts after the command's name
        text = stripped[:1].upper() + stripped[1:]
    text = re.sub(r":\w+:`~?([^`]+)`", lambda m: "`" + m.group(1).split(".")[-1] + "`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)
