"""The leaderboard's records: a :class:`Leaderboard` of :class:`Row` (systems) x :class:`Column` (comparable runs
of one task), each :class:`Entry` a run's :class:`Cell` per metric, and the tie-aware rank of cells. Built by
:func:`calbench.reporting.leaderboard.build`; read by the trained-vs-baselines verdicts
(:mod:`calbench.reporting.trained`) and the at-a-glance pages (:mod:`calbench.reporting.suite`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from calbench.metrics import format_interval, format_number, metric_table
from calbench.metrics.catalogue import titles
from calbench.reporting.inputs import RunFolder, Skipped

#: The metrics each task column shows, in order, with their display names (the catalogue's ``leaderboard``
#: table and short titles).
COLUMNS = tuple(titles(metric_table("leaderboard"), short=True).items())
DEFAULT_RANK_BY = "brier"


@dataclass
class Cell:
    """One metric of one system on one task column."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    note: str | None = None  # why the value is missing / undefined

    @property
    def ok(self) -> bool:
        return self.value is not None and not (isinstance(self.value, float) and math.isnan(self.value))

    def text(self, digits: int = 3) -> str:
        if not self.ok:
            return "missing" if self.note and self.note.startswith("missing") else "n/a"
        return format_number(self.value, digits, ints=True)

    def ci_text(self, digits: int = 3) -> str:
        """The interval, empty when there is none or it is the point itself."""
        if not self.ok:
            return ""
        return format_interval(self.ci_low, self.ci_high, digits, value=self.value)


@dataclass
class Entry:
    """One system's run on one task column."""

    run: RunFolder
    method: str
    cells: dict[str, Cell]
    rank: int | None = None
    tied: bool = False


@dataclass
class Column:
    """A task column: the runs of one task that are comparable with each other."""

    task: str
    group: str
    key: dict[str, Any]
    label: str = ""
    primary: bool = True  # the first comparable set of its task

    @property
    def in_overall(self) -> bool:
        """Whether the overall score averages this column: the first comparable set of a built-in task (a
        user's dataset is not a benchmark task; averaging it in would make overall scores incomparable)."""
        return self.primary and self.group != "user"

    flag: str | None = None  # why this task has several columns
    entries: dict[tuple, Entry] = field(default_factory=dict)


@dataclass
class Row:
    system: tuple
    label: str
    overall: Cell = field(default_factory=lambda: Cell(None))
    rank: int | None = None
    tied: bool = False
    coverage: int = 0
    mean_rank: float = math.inf


@dataclass
class Leaderboard:
    rows: list[Row]
    columns: list[Column]
    rank_by: str
    skipped: list[Skipped]
    notes: list[str]

    def entry(self, row: Row, col: Column) -> Entry | None:
        return col.entries.get(row.system)


def metric_cell(metrics: dict, name: str, n_questions: int) -> Cell:
    if name == "n":
        return Cell(n_questions, note=None)
    m = metrics.get(name)
    if m is None:
        return Cell(None, note=f"missing: run.json has no {name!r}")
    v = m.get("value")
    v = None if v is None else float(v)
    lo, hi = m.get("ci_low"), m.get("ci_high")
    note = m.get("note") or (None if v is not None and v == v else "undefined (NaN) in run.json")
    return Cell(v, None if lo is None else float(lo), None if hi is None else float(hi), note)


def rank_with_ties(cells: list[Cell], higher_is_better: bool) -> list[int | None]:
    """Rank cells: 1 + the number of cells significantly better (95 % CIs do not overlap), so overlapping
    intervals share a rank. A cell without an interval is compared by its value alone. Missing -> None."""
    out: list[int | None] = []
    for c in cells:
        if not c.ok:
            out.append(None)
            continue
        assert c.value is not None  # c.ok
        lo = c.ci_low if c.ci_low is not None and c.ci_low == c.ci_low else c.value
        hi = c.ci_high if c.ci_high is not None and c.ci_high == c.ci_high else c.value
        better = 0
        for d in cells:
            if d is c or not d.ok:
                continue
            assert d.value is not None  # d.ok
            dlo = d.ci_low if d.ci_low is not None and d.ci_low == d.ci_low else d.value
            dhi = d.ci_high if d.ci_high is not None and d.ci_high == d.ci_high else d.value
            better += (dlo > hi) if higher_is_better else (dhi < lo)
        out.append(1 + better)
    return out


def metric_title(name: str) -> str:
    """The short display name of a leaderboard metric."""
    return dict(COLUMNS).get(name, name)
