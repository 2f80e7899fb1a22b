"""Files of the committed results: report figures that repeat one committed elsewhere."""

from __future__ import annotations

import hashlib
import lzma
import os
import sys
from pathlib import Path

from calbench.errors import DataError

__all__ = [
    "LEGACY_SAMPLES",
    "compress_file",
    "dedupe_report_figures",
    "keep_identical_figures",
    "snapshot_figures",
    "xz_bytes",
]

#: the earlier compressed form of a run's samples, recompressed as xz
LEGACY_SAMPLES = "samples.jsonl.gz"


def xz_bytes(data: bytes) -> bytes:
    """``data`` as an xz stream (``xz -9e``, CRC64; no file name or timestamp in the format, so the same content
    always gives the same bytes with a given liblzma)."""
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=9 | lzma.PRESET_EXTREME)


def compress_file(path: Path, *, dry_run: bool = False) -> Path:
    """Write ``<name>.xz`` for ``path`` (``samples.jsonl.gz``: ``samples.jsonl.xz``), atomically and verified by
    decompressing it, and remove ``path``; :class:`DataError` when the compressed twin already exists or the copy
    does not decompress to the original (nothing is removed then)."""
    from calbench.records import open_bytes

    legacy = path.name == LEGACY_SAMPLES
    target = path.with_name(path.name.removesuffix(".gz") + ".xz") if legacy else path.with_name(path.name + ".xz")
    if target.exists():
        raise DataError(f"{path}: {target.name} exists beside it; keep one copy (delete the stale one) and rerun")
    if dry_run:
        return target
    with open_bytes(path) as fh:  # a legacy .gz is decompressed by its suffix
        data = fh.read()
    packed = xz_bytes(data)
    if lzma.decompress(packed) != data:  # never remove the source on a bad write
        raise DataError(f"{path}: the compressed copy does not decompress to the original; nothing removed")
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(packed)
    tmp.replace(target)
    path.unlink()
    return target


def dedupe_report_figures(roots: list[Path], *, dry_run: bool = False) -> None:
    """A report's figure (``<report>_files/*.png`` beside ``<report>.md``) byte-identical to another figure under
    ``roots`` is removed, and the report's link points at the copy that is kept: a run folder's own figure if
    there is one, else the first report's (in path order). Reports that compare the same runs otherwise carry the
    same PNGs several times."""
    figures = sorted(p for root in roots for p in root.rglob("*.png"))
    groups: dict[str, list[Path]] = {}
    for path in figures:
        groups.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), []).append(path)

    def report_of(fig: Path) -> Path | None:
        parent = fig.parent
        if not parent.name.endswith("_files"):
            return None
        md = parent.with_name(parent.name.removesuffix("_files") + ".md")
        return md if md.is_file() else None

    saved = 0
    for paths in groups.values():
        if len(paths) < 2:
            continue
        keep = min(paths, key=lambda f: (report_of(f) is not None, str(f)))
        for fig in paths:
            md = report_of(fig)
            if fig == keep or md is None:
                continue
            text = md.read_text(encoding="utf-8")
            old = f"{fig.parent.name}/{fig.name}"
            if f"({old})" not in text:
                continue
            new = os.path.relpath(keep, md.parent)
            saved += fig.stat().st_size
            print(f"{'would link' if dry_run else 'linked'} {md}: {old} -> {new}", file=sys.stderr)
            if not dry_run:
                md.write_text(text.replace(f"({old})", f"({new})"), encoding="utf-8")
                fig.unlink()
    print(f"{saved / 2**20:.2f} MiB of duplicate report figures {'found' if dry_run else 'removed'}", file=sys.stderr)


def snapshot_figures(folder: Path) -> dict[Path, bytes]:
    """The PNG files under ``folder`` (a report's ``_files``), to hand to :func:`keep_identical_figures`."""
    return {p: p.read_bytes() for p in folder.glob("*.png")} if folder.is_dir() else {}


def keep_identical_figures(before: dict[Path, bytes]) -> int:
    """A figure rewritten with the same pixels gets its earlier bytes back (committed figures are recompressed
    losslessly, so a regenerated report would otherwise change every PNG without changing what it shows).
    Returns how many were kept."""
    from PIL import Image, ImageChops

    kept = 0
    for path, old in before.items():
        if not path.exists() or path.read_bytes() == old:
            continue
        import io

        with Image.open(io.BytesIO(old)) as a, Image.open(path) as b:
            same = a.size == b.size and ImageChops.difference(a.convert("RGBA"), b.convert("RGBA")).getbbox() is None
        if same:
            path.write_bytes(old)
            kept += 1
    return kept
