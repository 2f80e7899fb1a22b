"""The leaderboard at a glance: tracks of comparable columns declared in a suite file, one compact headline table
per answer set, a dot plot, and one trained-vs-baselines grid per trained system; everything else one click away
in drill-down files (every column's full table, every trained-vs-baseline pair).

A suite file (YAML) declares the tracks::

    tracks:
      - name: own-answers
        title: "Own answers: each system answers, then states its confidence"
        tables:
          - title: "400 questions per task (results/baselines)"
            columns:
              - {title: TriviaQA, task: triviaqa, questions: 2b1369de80}   # prefix of task.ids_sha256
              - {title: SciQ, task: sciq, questions: 85cfc2dd3b}
      - name: given-answers
        title: "Given answers: confidence on a fixed, named answer set"
        given_only: true    # rows: systems that rate the answers, not methods that write their own (CoT, top-k)
        rows: 10            # on the page: the 10 best by the first column and every trained system
        grids: false        # its trained-vs-baselines grids only in the drill-down
        tables:
          - title: "SmolLM2-135M greedy answers, TriviaQA eval (1,000) and unseen tasks (500 each)"
            columns: [...]

A column matches the leaderboard column (:class:`calbench.reporting.board.Column`) of that task whose
questions' sha256 starts with ``questions`` (and, with ``answers``, whose given answers' sha256 starts with it).
A table's rows are the systems that ran every one of its columns; the first column is its in-domain column,
where the trained-vs-baselines grid pairs each trained system of the table with every baseline.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from calbench.errors import DataError
from calbench.reporting.board import metric_title
from calbench.reporting.trained import TITLES, VERDICT_METRICS, is_trained, verdict

__all__ = ["SuiteTable", "Track", "load_suite", "page"]

SYMBOL = {"beats": "▲", "ties": "·", "loses": "▼"}


@dataclass
class SuiteColumn:
    title: str
    task: str
    questions: str
    answers: str | None = None


@dataclass
class SuiteTable:
    title: str
    columns: list[SuiteColumn]


@dataclass
class Track:
    name: str
    title: str
    description: str
    tables: list[SuiteTable] = field(default_factory=list)
    #: rows only for systems that rate the column's answers (a method that accepts a given answer, scaled or not);
    #: a method that writes its own answer in the confidence's reply (verbalized, CoT, top-k) is left out
    given_only: bool = False
    #: at most this many rows per table on the page (the best by the in-domain column, and every trained system);
    #: the rest are counted and one click away in the full tables
    rows: int | None = None
    #: the trained-vs-baselines grids of its tables on the page (else only in the drill-down)
    grids: bool = True


def load_suite(path: str | Path) -> list[Track]:
    """Read a suite file; :class:`DataError` names the file and the field that is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise DataError(f"{path}: cannot read the suite file: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tracks"), list) or not data["tracks"]:
        raise DataError(f"{path}: needs a non-empty list 'tracks'")
    tracks = []
    for i, t in enumerate(data["tracks"]):
        where = f"{path}: tracks[{i}]"
        if not isinstance(t, dict) or not t.get("name") or not t.get("title"):
            raise DataError(f"{where}: needs name and title")
        for flag in ("given_only", "grids"):
            if not isinstance(t.get(flag, False), bool):
                raise DataError(f"{where}.{flag} must be true or false")
        rows = t.get("rows")
        if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 1):
            raise DataError(f"{where}.rows must be a whole number >= 1 (got {rows!r})")
        track = Track(
            str(t["name"]),
            str(t["title"]),
            str(t.get("description") or ""),
            given_only=t.get("given_only", False),
            rows=rows,
            grids=t.get("grids", True),
        )
        for j, tb in enumerate(t.get("tables") or []):
            if not isinstance(tb, dict) or not tb.get("title") or not tb.get("columns"):
                raise DataError(f"{where}.tables[{j}]: needs title and columns")
            cols = []
            for k, c in enumerate(tb["columns"]):
                if not isinstance(c, dict) or not all(c.get(x) for x in ("title", "task", "questions")):
                    raise DataError(f"{where}.tables[{j}].columns[{k}]: needs title, task and questions")
                cols.append(SuiteColumn(str(c["title"]), str(c["task"]), str(c["questions"]), c.get("answers")))
            track.tables.append(SuiteTable(str(tb["title"]), cols))
        if not track.tables:
            raise DataError(f"{where}: needs at least one table")
        tracks.append(track)
    return tracks


def rates_given_answers(method: str) -> bool:
    """Whether a readout rates the shared (or given) answer rather than one it writes itself: its method, without
    a scaler's ``+label``, accepts given answers (:func:`calbench.methods.fixed_answer_methods`)."""
    from calbench.methods import fixed_answer_methods

    return method.split("+")[0] in fixed_answer_methods()


def _match(lb, spec: SuiteColumn):
    for col in lb.columns:
        key = col.key
        if col.task != spec.task or not str(key.get("questions") or "").startswith(spec.questions):
            continue
        answers = key.get("answers")
        if (spec.answers is None and answers is None) or (spec.answers and str(answers or "").startswith(spec.answers)):
            return col
    return None


def _sizes(col) -> list[int]:
    """The numbers of questions of a column's runs."""
    return sorted({e.run.manifest["n"] for e in col.entries.values()})


def _detail(col) -> str:
    """One column in a few words (the full comparable set is in the drill-down)."""
    ns = "/".join(str(n) for n in _sizes(col))
    judge = (col.key.get("judge") or {}).get("name")
    answers = f", given answers {str(col.key['answers'])[:10]}" if col.key.get("answers") else ""
    return f"{col.label}, {ns} questions (ids {str(col.key.get('questions'))[:10]}), judge {judge}{answers}"


def _anchor(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def _short(label: str, model: str) -> str:
    """A row's label without the model every row of its table shares."""
    for prefix in (model + " · ", model + " + ") if model else ():
        if label.startswith(prefix):
            return label[len(prefix) :]
    return label


def page(lb, tracks: list[Track], *, trained=None, n_resamples: int = 1000) -> dict[str, Any]:
    """The at-a-glance page's content (shared by the Markdown and HTML renderers): per track its tables (rows =
    systems with an entry in every column; cell = the ranking metric with its CI; ``best`` per column), the
    trained-vs-baselines grids, and the columns no track shows ("other"). ``trained``: the leaderboard's
    trained-vs-baselines comparisons (:func:`calbench.reporting.trained.trained_vs_baselines`), computed with
    ``n_resamples`` if not given; the grids read their verdicts from them."""
    from calbench.metrics import higher_is_better
    from calbench.reporting.trained import trained_vs_baselines

    if trained is None:
        trained = trained_vs_baselines(lb, n_resamples=n_resamples)
    pairs = {(id(t.column), id(t.trained)): dict(t.comparisons) for t in trained}
    higher = higher_is_better(lb.rank_by)
    used: set[int] = set()
    out_tracks, grids = [], []
    for track in tracks:
        tables = []
        for st in track.tables:
            cols = [_match(lb, c) for c in st.columns]
            missing = [c.title for c, col in zip(st.columns, cols) if col is None]
            if missing:
                raise DataError(f"suite table {st.title!r}: no leaderboard column matches {', '.join(missing)}")
            used.update(id(c) for c in cols)
            # the systems with a value in every column (a method that parsed nothing on a task is in the drill-down)
            rows = [
                r
                for r in lb.rows
                if all(lb.entry(r, c) is not None and lb.entry(r, c).cells[lb.rank_by].ok for c in cols)
                and (not track.given_only or rates_given_answers(r.system[4]))
            ]
            models = {lb.entry(r, cols[0]).run.manifest["model"]["id"] for r in rows}
            model = next(iter(models)) if len(models) == 1 else ""
            values = [[lb.entry(r, c).cells[lb.rank_by] for c in cols] for r in rows]
            pick = max if higher else min
            best = [pick(v[j].value for v in values) if values else None for j in range(len(cols))]
            table_rows = []
            for r, vals in zip(rows, values):
                trained = is_trained(lb.entry(r, cols[0]).run.manifest)
                cells = [
                    {
                        "text": v.text(),
                        "ci": v.ci_text(),
                        "best": v.value == best[j],
                        "value": v.value,
                        "lo": v.ci_low,
                        "hi": v.ci_high,
                    }
                    for j, v in enumerate(vals)
                ]
                table_rows.append(
                    {
                        "label": r.label,
                        "short": _short(r.label, model),
                        "trained": trained,
                        "cells": cells,
                        "system": r.system,
                    }
                )
            # the in-domain column (the first) is the one the rows are ordered by
            table_rows.sort(key=lambda x: -x["cells"][0]["value"] if higher else x["cells"][0]["value"])
            if track.grids:
                grids += _grids(cols[0], st, table_rows, pairs)
            shown = table_rows
            if track.rows is not None and len(table_rows) > track.rows:  # the best, and every trained system
                shown = [x for i, x in enumerate(table_rows) if i < track.rows or x["trained"]]
            tables.append(
                {
                    "title": st.title,
                    "anchor": _anchor(f"{track.name} {st.title}"),
                    "model": model,
                    "columns": [{"title": s.title, "detail": _detail(col)} for s, col in zip(st.columns, cols)],
                    "rows": shown,
                    "more": len(table_rows) - len(shown),
                    "more_anchor": _anchor(cols[0].label),
                }
            )
        out_tracks.append(
            {"name": track.name, "title": track.title, "description": track.description, "tables": tables}
        )
    other = []
    for col in lb.columns:
        if id(col) in used:
            continue
        ns = _sizes(col)
        n_tr = sum(is_trained(e.run.manifest) for e in col.entries.values())
        other.append(
            {
                "label": col.label,
                "anchor": _anchor(col.label),
                "task": col.task,
                "n": ns,
                "systems": len(col.entries),
                "trained": n_tr,
                "answers": "given answers" if col.key.get("answers") else "own answers",
            }
        )
    return {
        "rank_by": lb.rank_by,
        "higher": higher,
        "tracks": out_tracks,
        "grids": grids,
        "other": other,
        "skipped": len(lb.skipped),
    }


def _grids(col, st: SuiteTable, table_rows, pairs: dict) -> list[dict]:
    """One grid per trained system of the table: rows = metrics, columns = the baselines of the table's in-domain
    column that are rows of the table; each cell the verdict of the leaderboard's comparison of the pair."""
    baselines = [x for x in table_rows if not x["trained"]]
    out = []
    for tr in [x for x in table_rows if x["trained"]]:
        comps = pairs[(id(col), id(col.entries[tr["system"]]))]
        cells: dict[str, list] = {m: [] for m in VERDICT_METRICS}
        for b in baselines:
            comp = comps[b["label"]]
            for m in VERDICT_METRICS:
                v = verdict(comp, m)
                d = comp.deltas.get(m)
                tip = "n/a" if d is None else f"Δ {d.delta:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}], n={comp.n_pairs}"
                cells[m].append({"verdict": v, "symbol": SYMBOL[v], "title": tip})
        tally = {m: {v: sum(c["verdict"] == v for c in cells[m]) for v in SYMBOL} for m in VERDICT_METRICS}
        out.append(
            {
                "label": tr["label"],
                "short": tr["short"],
                "column": st.columns[0].title,
                "table": st.title,
                "baselines": [b["short"] for b in baselines],
                "rows": [{"metric": TITLES[m], "cells": cells[m], "tally": tally[m]} for m in VERDICT_METRICS],
            }
        )
    return out


def render_markdown(content: dict[str, Any], files: str) -> str:
    """The compact leaderboard.md; ``files``: the drill-down folder's name (relative links)."""

    rb = metric_title(content["rank_by"])
    better = "higher" if content["higher"] else "lower"
    out = [
        "# calbench leaderboard",
        "",
        f"Each table holds the systems that ran every one of its columns; a cell is the **{rb}** ({better} is "
        "better) with its 95 % bootstrap CI, **bold** the best of the column; ★ marks a trained model. "
        f"Everything else is one click away: [every column's full table]({files}/columns.md) (all metrics, "
        f"ranks, runs) and [every trained-vs-baseline pair]({files}/columns.md#trained-models-against-the-"
        "baselines).",
        "",
    ]
    for track in content["tracks"]:
        out += [f"## {track['title']}", ""] + ([track["description"], ""] if track["description"] else [])
        for t in track["tables"]:
            out += [
                f"### {t['title']}",
                "",
                "| system | " + " | ".join(c["title"] for c in t["columns"]) + " |",
                "|---" * (len(t["columns"]) + 1) + "|",
            ]
            for r in t["rows"]:
                cells = [
                    (f"**{c['text']}**" if c["best"] else c["text"]) + (f" {c['ci']}" if c["ci"] else "")
                    for c in r["cells"]
                ]
                out.append(f"| {'★ ' if r['trained'] else ''}{r['label']} | " + " | ".join(cells) + " |")
            if t["more"]:
                out += [
                    "",
                    f"{t['more']} more systems ran every column: [{t['columns'][0]['title']}'s full table]"
                    f"({files}/columns.md#{t['more_anchor']}).",
                ]
            out += [
                "",
                "Columns: " + "; ".join(f"{c['title']} = {c['detail']}" for c in t["columns"]) + ".",
                "",
                f"![{t['title']}]({files}/{t['anchor']}.png)",
                "",
            ]
    if content["grids"]:
        out += [
            "## Trained models against the baselines",
            "",
            "Per trained system, on the in-domain column of its table and the same answers: one row per metric, "
            "one column per baseline of that table; ▲ beats, · ties, ▼ loses (the 95 % paired-bootstrap "
            "interval of the difference wholly on the better side, across 0, wholly on the worse side; 1,000 "
            "resamples).",
            "",
        ]
        legend_done = set()
        for g in content["grids"]:
            key = (g["table"], tuple(g["baselines"]))
            if key not in legend_done:
                legend_done.add(key)
                out += [
                    f"Baselines for {g['table']}: "
                    + "; ".join(f"b{i + 1} = {b}" for i, b in enumerate(g["baselines"]))
                    + ".",
                    "",
                ]
            out += [
                f"**{g['label']}** ({g['column']})",
                "",
                "| metric | " + " | ".join(f"b{i + 1}" for i in range(len(g["baselines"]))) + " | beats / ties / "
                "loses |",
                "|---" * (len(g["baselines"]) + 2) + "|",
            ]
            for row in g["rows"]:
                t = row["tally"]
                out.append(
                    f"| {row['metric']} | "
                    + " | ".join(c["symbol"] for c in row["cells"])
                    + f" | {t['beats']} / {t['ties']} / {t['loses']} |"
                )
            out.append("")
    if content["other"]:
        out += [
            "## Other runs",
            "",
            "Columns no track shows (other question sets, answers or sizes), one line each:",
            "",
        ]
        for o in content["other"]:
            n = "/".join(str(x) for x in o["n"])
            out.append(
                f"- [{o['label']}]({files}/columns.md#{o['anchor']}): {o['task']}, {n} questions, "
                f"{o['answers']}, {o['systems']} systems ({o['trained']} trained)"
            )
        out.append("")
    if content["skipped"]:
        out += [
            f"{content['skipped']} folder(s) were skipped; the reasons are at the end of "
            f"[the full tables]({files}/columns.md#skipped-folders).",
            "",
        ]
    return "\n".join(out)


def dot_plots(content: dict[str, Any], folder: Path) -> list[Path]:
    """One figure per headline table: per column, each system's value with its CI; trained systems in orange."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from calbench.figures import quantize_png

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for track in content["tracks"]:
        for t in track["tables"]:
            rows = t["rows"]
            n_cols = len(t["columns"])
            fig, axes = plt.subplots(
                1, n_cols, figsize=(3.2 * n_cols + 2.6, 0.24 * len(rows) + 1.2), sharey=True, squeeze=False
            )
            y = list(range(len(rows)))[::-1]
            for j, ax in enumerate(axes[0]):
                for yi, r in zip(y, rows):
                    c = r["cells"][j]
                    if c["value"] is None or (isinstance(c["value"], float) and math.isnan(c["value"])):
                        continue
                    colour = "#d95f02" if r["trained"] else "#555555"
                    lo, hi = c["lo"], c["hi"]
                    if lo is not None and hi is not None:
                        ax.plot([lo, hi], [yi, yi], color=colour, lw=1.2)
                    ax.plot([c["value"]], [yi], "o", color=colour, ms=4)
                ax.set_title(t["columns"][j]["title"], fontsize=9)
                ax.set_xlabel(metric_title(content["rank_by"]), fontsize=8)
                ax.tick_params(labelsize=7)
                ax.grid(axis="x", alpha=0.3)
                ax.set_xscale("log")
            axes[0][0].set_yticks(y)
            axes[0][0].set_yticklabels([("★ " if r["trained"] else "") + r["label"] for r in rows], fontsize=7)
            fig.suptitle(t["title"], fontsize=9)
            fig.tight_layout()
            path = folder / f"{t['anchor']}.png"
            fig.savefig(path, dpi=90)
            plt.close(fig)
            path.write_bytes(quantize_png(path.read_bytes()))
            paths.append(path)
    return paths


def render_html(content: dict[str, Any], files: str) -> str:
    """The compact leaderboard.html (one page, sortable headline tables, the grids, the dot plots as files)."""
    from calbench.reporting.html import render_template

    legends = []
    for g in content["grids"]:
        if (g["table"], g["baselines"]) not in legends:
            legends.append((g["table"], g["baselines"]))
    return render_template(
        "leaderboard_compact.html.j2",
        rank_by=metric_title(content["rank_by"]),
        higher=content["higher"],
        tracks=content["tracks"],
        grids=content["grids"],
        other=content["other"],
        skipped=content["skipped"],
        files=files,
        legends=legends,
    )
