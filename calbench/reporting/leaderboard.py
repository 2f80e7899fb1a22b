"""The leaderboard: every complete run under some results folders, as one table of systems x tasks.

Rows are systems (model x adapter x method); columns are tasks, grouped into in-domain and unseen. Runs of a
task that are not comparable (different questions, judge, parse policy or metric settings; see
:func:`calbench.reporting.inputs.comparability_key`) are never mixed: each comparable set gets its own column,
flagged, with what differs.

Ranking, per column, by a proper score (Brier by default): rank_i = 1 + #{j : j is better than i with
non-overlapping 95 % CIs}, so systems whose intervals overlap share a rank (shown as a tie). The overall rank
uses the mean of the score over the built-in task columns (first comparable set of each task; user datasets
are ranked in their own columns but never averaged in) for systems that have all of them, with a
normal-approximation interval: se = sqrt(sum_k se_k^2) / K, se_k = CI width / 3.92.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Iterable, cast

from calbench.metrics import higher_is_better
from calbench.records import DataError
from calbench.reporting import suite as at_a_glance
from calbench.reporting.board import (
    COLUMNS,
    DEFAULT_RANK_BY,
    Cell,
    Column,
    Entry,
    Leaderboard,
    Row,
    metric_cell,
    metric_title,
    rank_with_ties,
)
from calbench.reporting.html import rel_dir as _rel
from calbench.reporting.inputs import (
    GROUP_ORDER,
    GROUP_TITLES,
    RunFolder,
    Skipped,
    comparability_key,
    describe_key,
    discover,
    key_differences,
    run_differences,
    system_key,
    system_label,
    unique_labels,
)
from calbench.reporting.names import adapter_names
from calbench.reporting.stats import se_from_ci
from calbench.reporting.trained import TITLES as VERDICT_TITLES
from calbench.reporting.trained import VERDICT_METRICS, TrainedVsBaselines, html_items, trained_vs_baselines
from calbench.reporting.trained import render_markdown as render_trained


def _label_columns(columns: list[Column]) -> list[str]:
    notes = []
    by_task: dict[str, list[Column]] = {}
    for c in columns:
        by_task.setdefault(c.task, []).append(c)
    for task, cols in by_task.items():
        cols.sort(key=lambda c: -len(c.entries))
        for i, c in enumerate(cols):
            c.primary = i == 0
            c.label = task if len(cols) == 1 else f"{task} [{chr(65 + i)}]"
        if len(cols) > 1:
            first = cols[0]
            for c in cols[1:]:
                diff = "; ".join(key_differences(first.key, c.key))
                c.flag = f"not comparable with {first.label}: {diff}"
                first.flag = (first.flag + " / " if first.flag else "") + f"not comparable with {c.label}"
            notes.append(
                f"{task}: runs fall into {len(cols)} incomparable sets, shown as separate columns "
                "and never ranked together: " + " | ".join(f"{c.label}: {describe_key(c.key)}" for c in cols)
            )
    return notes


def _on_own_answers(runs: list[RunFolder]) -> set[Path]:
    """Runs scored on given answers (``eval --answers``) that are exactly the answers another run of the same
    comparable set generated itself, e.g. a trained model scored on the untrained model's greedy answers: they
    belong in that run's column, next to the baselines on those answers (the rule of
    :func:`calbench.reporting.inputs.run_differences`, which ``compare`` pairs them by)."""
    given = [r for r in runs if comparability_key(r.manifest)["answers"]]
    generated = [r for r in runs if not comparability_key(r.manifest)["answers"]]
    return {run.path for run in given if any(not run_differences(run, g) for g in generated)}


def build(paths: Iterable[str | Path], *, rank_by: str = DEFAULT_RANK_BY, names: bool = True) -> Leaderboard:
    """Read every run under ``paths`` and build the leaderboard ranked by ``rank_by``; with ``names``, a trained
    system made by a study is named by it (:mod:`calbench.reporting.names`) instead of by its adapter's path.

    Raises :class:`~calbench.records.DataError` if no complete run is found (naming every skipped folder).
    """
    runs, skipped = discover(paths)
    if not runs:
        listing = "\n".join(f"  - {s}" for s in skipped)
        raise DataError(f"no complete run to put on a leaderboard; skipped {len(skipped)} folder(s):\n{listing}")
    columns: dict[str, Column] = {}
    labels: dict[tuple, str] = {}
    own_answers = _on_own_answers(runs)
    human = adapter_names([r.path for r in runs if (r.manifest.get("model") or {}).get("adapter")]) if names else {}
    if names:  # the name the trainer gave the adapter (run.json model.adapter_name) comes first
        human.update(
            {r.path: str(r.manifest.model["adapter_name"]) for r in runs if r.manifest.model.get("adapter_name")}
        )
    for run in sorted(runs, key=lambda r: (r.finished, str(r.path)), reverse=True):  # newest first
        key = comparability_key(run.manifest)
        if run.path in own_answers:
            key["answers"] = None
        ck = json.dumps(key, sort_keys=True, default=str)
        col = columns.setdefault(ck, Column(run.task, run.group, key))
        for method in run.methods:
            sk = system_key(run.manifest, method)
            labels.setdefault(sk, system_label(run.manifest, method, human.get(run.path)))
            if sk in col.entries:
                kept = col.entries[sk].run.path
                skipped.append(
                    Skipped(
                        run.path,
                        f"method {method}: duplicate of {kept} (same system and same "
                        "questions; the run that finished later is shown)",
                    )
                )
                continue
            metrics = run.metrics(method)
            if not metrics:
                skipped.append(Skipped(run.path, f"method {method}: run.json has no metrics for it"))
                continue
            cells = {name: metric_cell(metrics, name, int(run.manifest["n"])) for name, _ in COLUMNS}
            if rank_by not in cells:
                cells[rank_by] = metric_cell(metrics, rank_by, int(run.manifest["n"]))
            col.entries[sk] = Entry(run, method, cells)
    if not any(rank_by in e.run.metrics(e.method) for c in columns.values() for e in c.entries.values()):
        raise DataError(f"no run has a metric named {rank_by!r} to rank by (try brier or log_score)")
    cols = list(columns.values())
    notes = _label_columns(cols)
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    cols.sort(key=lambda c: (order.get(c.group, len(order)), c.task, c.label))
    higher = higher_is_better(rank_by)
    for col in cols:
        entries = list(col.entries.values())
        ranks = rank_with_ties([e.cells[rank_by] for e in entries], higher)
        for e, r in zip(entries, ranks):
            e.rank = r
            e.tied = r is not None and ranks.count(r) > 1
    rows = [Row(sk, lab) for sk, lab in labels.items()]
    _label_rows(rows)
    _overall(rows, [c for c in cols if c.in_overall], rank_by, cols)
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.mean_rank, r.label))
    skipped.sort(key=lambda s: str(s.path))
    return Leaderboard(rows, cols, rank_by, skipped, notes)


def _label_rows(rows: list[Row]) -> None:
    """Make labels unique where two systems share one (:func:`~calbench.reporting.inputs.unique_labels`)."""
    labels = unique_labels({r.system: r.label for r in rows})
    for r in rows:
        r.label = labels[r.system]


def _overall(rows: list[Row], primary: list[Column], rank_by: str, every: list[Column]) -> None:
    for r in rows:
        cells = [c.entries[r.system].cells[rank_by] for c in primary if r.system in c.entries]
        ranks = [c.entries[r.system].rank for c in primary if r.system in c.entries]
        r.coverage = sum(c.ok for c in cells)
        good = [x for x in ranks if x is not None]
        r.mean_rank = sum(good) / len(good) if good else math.inf
        if r.coverage < len(primary) or not primary:
            shown = sum(r.system in c.entries for c in every)
            missing = [
                c.label for c in primary if not (r.system in c.entries and c.entries[r.system].cells[rank_by].ok)
            ]
            r.overall = Cell(
                None,
                note=(
                    f"no overall score: scored on {r.coverage} of the {len(primary)} column(s) the overall averages "
                    f"(missing: {', '.join(missing) or 'none'}); shown in {shown} column(s) in all"
                )
                if primary
                else "no overall score: no built-in task column to average",
            )
            continue
        k = len(cells)
        mean = sum(cast(float, c.value) for c in cells) / k  # every cell ok: coverage is complete
        ses = [
            se_from_ci(c.ci_low, cast(float, c.ci_high)) if c.ci_low is not None and c.ci_low == c.ci_low else 0.0
            for c in cells
        ]
        se = math.sqrt(sum(s * s for s in ses)) / k
        r.overall = Cell(mean, mean - 1.959964 * se, mean + 1.959964 * se)
    ranked = [r for r in rows if r.overall.ok]
    for r, rank in zip(ranked, rank_with_ties([r.overall for r in ranked], higher_is_better(rank_by))):
        r.rank = rank
    for r in ranked:
        r.tied = sum(x.rank == r.rank for x in ranked) > 1


# ---------------------------------------------------------------------------------------------- writers


def _rank_text(rank: int | None, tied: bool) -> str:
    return "—" if rank is None else (f"={rank}" if tied else str(rank))


def _csv_num(v: float | None) -> Any:
    return "" if v is None or v != v else v


def write_csv(lb: Leaderboard, path: Path) -> None:
    """Long format: one line per system x task column, every shown metric with its CI."""
    base = path.parent
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        head = [
            "system",
            "overall_rank",
            "overall_tied",
            f"overall_{lb.rank_by}",
            "task_column",
            "task",
            "group",
            "comparable_set",
            "ids_sha256",
            "rank",
            "tied",
        ]
        names = [n for n, _ in COLUMNS] + ([lb.rank_by] if lb.rank_by not in dict(COLUMNS) else [])
        for n in names:
            head += [n, f"{n}_ci_low", f"{n}_ci_high"]
        w.writerow(head + ["note", "run"])
        for r in lb.rows:
            for c in lb.columns:
                e = lb.entry(r, c)
                if e is None:
                    continue
                line = [
                    r.label,
                    r.rank or "",
                    r.tied,
                    "" if not r.overall.ok else f"{r.overall.value:.6g}",
                    c.label,
                    c.task,
                    c.group,
                    describe_key(c.key),
                    c.key.get("questions") or "",
                    e.rank or "",
                    e.tied,
                ]
                notes = []
                for n in names:
                    cell = e.cells[n]
                    line += [
                        cell.value if cell.ok else "",
                        _csv_num(cell.ci_low) if cell.ok else "",
                        _csv_num(cell.ci_high) if cell.ok else "",
                    ]
                    if cell.note:
                        notes.append(f"{n}: {cell.note}")
                w.writerow(line + ["; ".join(notes), _rel(e.run.path, base)])


def _md_cell(cell: Cell) -> str:
    ci = cell.ci_text()
    return cell.text() + (f" {ci}" if ci else "")


def render_markdown(lb: Leaderboard, base: Path, trained: list[TrainedVsBaselines] | None = None) -> str:
    """The leaderboard as markdown; ``trained``: the trained-vs-baselines comparisons, computed if not given."""
    rb = metric_title(lb.rank_by)
    direction = "higher" if higher_is_better(lb.rank_by) else "lower"
    out = [
        "# calbench leaderboard",
        "",
        f"Ranked by **{rb}** ({direction} is better). Values: point [95 % bootstrap CI]. Rank `=k`: tied — the "
        "95 % CIs overlap with another system of that rank. Systems are ranked within each task column; the "
        "overall rank uses the mean over the built-in task columns (first comparable set of each task; user "
        "datasets are not averaged in) for systems that have all of them.",
        "",
    ]
    out += ["## Overall", "", f"| rank | system | mean {rb} | tasks | mean task rank |", "|---|---|---|---|---|"]
    n_primary = sum(c.in_overall for c in lb.columns)
    for r in lb.rows:
        mr = "—" if r.mean_rank == math.inf else f"{r.mean_rank:.2f}"
        val = _md_cell(r.overall) if r.overall.ok else f"n/a ({r.overall.note})"
        out.append(f"| {_rank_text(r.rank, r.tied)} | {r.label} | {val} | {r.coverage}/{n_primary} | {mr} |")
    trained = trained_vs_baselines(lb) if trained is None else trained
    if trained:
        out += [""] + render_trained(trained)[:-1]
    for group in list(GROUP_ORDER) + sorted({c.group for c in lb.columns} - set(GROUP_ORDER)):
        cols = [c for c in lb.columns if c.group == group]
        if not cols:
            continue
        out += ["", f"## {GROUP_TITLES.get(group, group)}"]
        for c in cols:
            out += ["", f"### {c.label}", "", f"Comparable set: {describe_key(c.key)}."]
            if c.flag:
                out += ["", f"**Flag:** {c.flag}."]
            out += [
                "",
                "| rank | system | " + " | ".join(t for _, t in COLUMNS) + " | run |",
                "|---" * (len(COLUMNS) + 3) + "|",
            ]
            notes = []
            ranked = [r for r in lb.rows if lb.entry(r, c) is not None]
            ranked.sort(key=lambda r: (cast(Entry, lb.entry(r, c)).rank is None, cast(Entry, lb.entry(r, c)).rank or 0))
            for r in ranked:
                e = lb.entry(r, c)
                assert e is not None  # ranked: the rows with an entry
                cells = " | ".join(_md_cell(e.cells[n]) for n, _ in COLUMNS)
                link = _rel(e.run.path, base)
                out.append(f"| {_rank_text(e.rank, e.tied)} | {r.label} | {cells} | [{e.run.path.name}]({link}) |")
                notes += [
                    f"{r.label}, {metric_title(n)}: {e.cells[n].note}"
                    for n, _ in COLUMNS
                    if not e.cells[n].ok and e.cells[n].note
                ]
            missing = [r.label for r in lb.rows if lb.entry(r, c) is None]
            if missing:
                notes.append("not run on this task column: " + ", ".join(missing))
            if notes:
                out += [""] + [f"- {x}" for x in notes]
    if lb.notes:
        out += ["", "## Comparability flags", ""] + [f"- {x}" for x in lb.notes]
    out += ["", "## Skipped folders", ""]
    out += [f"- `{_rel(s.path, base)}`: {s.reason}" for s in lb.skipped] or ["None."]
    return "\n".join(out) + "\n"


def render_html(lb: Leaderboard, base: Path, trained: list[TrainedVsBaselines] | None = None) -> str:
    """The leaderboard as one sortable HTML page; ``trained`` as for :func:`render_markdown`."""
    from calbench.reporting.html import render_template

    trained = trained_vs_baselines(lb) if trained is None else trained

    groups: list[dict[str, Any]] = []
    for g in list(GROUP_ORDER) + sorted({c.group for c in lb.columns} - set(GROUP_ORDER)):
        cols = [c for c in lb.columns if c.group == g]
        if cols:
            groups.append({"title": GROUP_TITLES.get(g, g), "columns": cols})
    rows = []
    for r in lb.rows:
        cells: list[dict[str, Any]] = []
        for grp in groups:
            for c in grp["columns"]:
                e = lb.entry(r, c)
                href = _rel(e.run.path, base) if e else None
                cells.append(
                    {
                        "sort": None if e is None or e.rank is None else e.rank,
                        "text": "—" if e is None else _rank_text(e.rank, e.tied),
                        "ci": "",
                        "href": href,
                        "tied": bool(e and e.tied),
                        "title": "not run" if e is None else f"{c.label} · {e.run.path.name}",
                    }
                )
                for n, _ in COLUMNS:
                    cell = None if e is None else e.cells[n]
                    cells.append(
                        {
                            "sort": cell.value if cell is not None and cell.ok else None,
                            "text": "not run" if cell is None else cell.text(),
                            "ci": "" if cell is None else cell.ci_text(),
                            "href": href,
                            "tied": False,
                            "title": ("not run on this task" if cell is None else (cell.note or "")),
                        }
                    )
        rows.append(
            {
                "label": r.label,
                "rank": _rank_text(r.rank, r.tied),
                "rank_sort": r.rank,
                "overall": r.overall,
                "mean_rank": None if r.mean_rank == math.inf else r.mean_rank,
                "coverage": r.coverage,
                "cells": cells,
            }
        )
    skipped = [{"path": _rel(s.path, base), "reason": s.reason} for s in lb.skipped]
    return render_template(
        "leaderboard.html.j2",
        groups=groups,
        rows=rows,
        metrics=COLUMNS,
        lb=lb,
        rank_by=metric_title(lb.rank_by),
        higher=higher_is_better(lb.rank_by),
        n_primary=sum(c.in_overall for c in lb.columns),
        skipped=skipped,
        describe_key=describe_key,
        trained=html_items(trained),
        trained_metrics=[VERDICT_TITLES[m] for m in VERDICT_METRICS],
    )


def output_paths(out: str | Path) -> dict[str, Path]:
    """``--out`` as a folder (``leaderboard.{md,csv,html}`` in it) or a file path whose stem names all three."""
    out = Path(out)
    if out.suffix.lower() in (".md", ".csv", ".html", ".htm"):
        stem = out.with_suffix("")
    else:
        stem = out / "leaderboard"
    return {ext: stem.with_name(stem.name + f".{ext}") for ext in ("md", "csv", "html")}


def write(lb: Leaderboard, out: str | Path, suite: str | Path | None = None) -> dict[str, Any]:
    """Write the Markdown, CSV and HTML leaderboards; returns their paths. With a ``suite`` file
    (:mod:`calbench.reporting.suite`) the Markdown and HTML pages are the compact, at-a-glance ones (tracks,
    headline tables, dot plots, trained-vs-baselines grids) and the full tables go to drill-down files in
    ``<stem>_files/`` (``columns.md``, ``full.html``)."""
    paths: dict[str, Any] = output_paths(out)
    base = paths["md"].parent
    base.mkdir(parents=True, exist_ok=True)
    trained = trained_vs_baselines(lb)  # paired bootstraps: computed once for both pages
    write_csv(lb, paths["csv"])
    if suite is None:
        paths["md"].write_text(render_markdown(lb, base, trained), encoding="utf-8")
        paths["html"].write_text(render_html(lb, base, trained), encoding="utf-8")
        return paths
    files = paths["md"].with_name(paths["md"].stem + "_files")
    files.mkdir(exist_ok=True)
    content = at_a_glance.page(lb, at_a_glance.load_suite(suite), trained=trained)
    paths["md"].write_text(at_a_glance.render_markdown(content, files.name), encoding="utf-8")
    paths["html"].write_text(at_a_glance.render_html(content, files.name), encoding="utf-8")
    paths["figures"] = at_a_glance.dot_plots(content, files)
    paths["columns"] = files / "columns.md"
    paths["columns"].write_text(render_markdown(lb, files, trained), encoding="utf-8")
    paths["full"] = files / "full.html"
    paths["full"].write_text(render_html(lb, files, trained), encoding="utf-8")
    return paths
