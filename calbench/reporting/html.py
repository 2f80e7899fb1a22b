"""Rendering helpers shared by the leaderboard and the report: the jinja2 environment and embedded images.

Pages are self-contained: CSS and JavaScript are inline in the templates and images are embedded as
base64 ``data:`` URIs, so a page works offline, attached to an e-mail or opened from a zip.
"""

from __future__ import annotations

import base64
import math
import os
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2


def fmt_number(value: Any, digits: int = 3) -> str:
    """A metric value for display: ``n/a`` when missing or NaN, integers as they are, else ``digits`` decimals
    (:func:`calbench.metrics.format_number`)."""
    from calbench.metrics.catalogue import format_number

    return format_number(value, digits, ints=True)


def rel_dir(target: str | Path, start: Path) -> str:
    """``target`` relative to ``start``, in POSIX form with a trailing slash (a link from a page in ``start``)."""
    return Path(os.path.relpath(Path(target).resolve(), start.resolve())).as_posix() + "/"


def _sortval(value: Any) -> str:
    """A ``data-sort`` attribute value: the number, or empty (sorted last) when missing."""
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return ""
    return repr(float(value))


def _env() -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(resources.files("calbench") / "templates"))
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt_number
    env.filters["sortval"] = _sortval
    return env


def render_template(name: str, **context: Any) -> str:
    return _env().get_template(name).render(**context)


def png_data_uri(path: str | Path) -> str:
    """A PNG file as a ``data:image/png;base64,...`` URI."""
    data = Path(path).read_bytes()
    if not data.startswith(b"\x89PNG"):
        raise ValueError(f"{path} is not a PNG file")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
