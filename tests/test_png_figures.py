"""Figures are written as palette PNGs: same size and look, fewer bytes, idempotent re-encoding."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from calbench.figures import quantize_png, save_png  # noqa: E402


def _figure():
    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.linspace(0, 1, 50)
    ax.plot(x, x, "--", color="grey")
    ax.fill_between(x, x - 0.1, x + 0.1, alpha=0.3)
    ax.bar([0.1, 0.5, 0.9], [0.2, 0.5, 0.8], width=0.1)
    return fig


def test_save_png_writes_a_smaller_palette_png_of_the_same_size(tmp_path):
    fig = _figure()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    path = save_png(fig, tmp_path / "f.png", dpi=100)
    with Image.open(path) as q, Image.open(io.BytesIO(buf.getvalue())) as rgba:
        assert q.mode == "P" and q.size == rgba.size
        diff = np.abs(np.asarray(q.convert("RGB"), dtype=int) - np.asarray(rgba.convert("RGB"), dtype=int))
        assert diff.mean() < 2.0  # visually the same picture
    assert path.stat().st_size < len(buf.getvalue())


def test_quantize_is_idempotent(tmp_path):
    data = save_png(_figure(), tmp_path / "f.png").read_bytes()
    assert quantize_png(data) == data


def test_a_256_colour_palette_png_is_reduced_to_the_house_palette_and_looks_the_same(tmp_path):
    from calbench.figures import PNG_COLORS

    buf = io.BytesIO()
    _figure().savefig(buf, format="png", dpi=100)
    with Image.open(io.BytesIO(buf.getvalue())) as rgba:
        wide = rgba.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        reference = np.asarray(rgba.convert("RGB"), dtype=int)
    old = io.BytesIO()
    wide.save(old, format="PNG", optimize=True)
    assert wide.getcolors(PNG_COLORS) is None  # the old encoding uses more colours than the house palette
    new = quantize_png(old.getvalue())
    with Image.open(io.BytesIO(new)) as q:
        assert q.mode == "P" and q.getcolors(PNG_COLORS) is not None and q.size == wide.size
        assert np.abs(np.asarray(q.convert("RGB"), dtype=int) - reference).mean() < 2.0
    assert len(new) < len(old.getvalue())
    assert quantize_png(new) == new
