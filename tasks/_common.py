"""Helpers shared by the task adapters: reading bundled files with line-accurate errors, hub loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from calbench.records import DataError, iter_jsonl, open_text


def data_path(task_dir: str | Path, name: str) -> Path:
    p = Path(task_dir) / "data" / name
    if not p.exists():
        raise DataError(f"bundled data file missing: {p}")
    return p


def read_blocks(path: str | Path, width: int = 2) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first_line_number, lines)`` for blank-line separated blocks of exactly ``width`` lines."""
    with open_text(path) as fh:
        block: list[str] = []
        start = 0
        for i, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n")
            if line.strip():
                if not block:
                    start = i
                block.append(line.strip())
                continue
            if block:
                if len(block) != width:
                    raise DataError(f"{path}:{start}: expected a block of {width} lines, got {len(block)}")
                yield start, block
                block = []
        if block:
            if len(block) != width:
                raise DataError(f"{path}:{start}: expected a block of {width} lines, got {len(block)}")
            yield start, block


def require(obj: dict[str, Any], key: str, path: str | Path, line: int) -> Any:
    """``obj[key]``, or a :class:`DataError` naming the file, line and missing field."""
    if key not in obj or obj[key] in (None, ""):
        raise DataError(f"{path}:{line}: missing field {key!r} (fields present: {sorted(obj)})")
    return obj[key]


def jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    return iter_jsonl(path)


def hub_rows(dataset_id: str, config: str | None, split: str) -> list[dict]:
    """Rows of a Hugging Face hub dataset (needs network and ``pip install calbench[hub]``)."""
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RuntimeError("--source hub needs the 'datasets' package: pip install 'calbench[hub]'") from e
    ds = datasets.load_dataset(dataset_id, config, split=split)
    return [dict(r) for r in ds]
