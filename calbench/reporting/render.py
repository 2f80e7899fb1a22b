"""Rendering of a :class:`calbench.reporting.report.Report`: figures, a self-contained HTML page and Markdown.

HTML embeds every figure as a base64 PNG. Markdown cannot embed images portably (GitHub does not render
``data:`` URIs), so it writes them beside the file, in ``<name>_files/``, and links them relatively.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

from calbench.metrics import apply_policy, format_interval, format_number
from calbench.metrics.catalogue import titles
from calbench.reporting.compare import REPORT_METRICS
from calbench.reporting.html import fmt_number as _num
from calbench.reporting.html import png_data_uri, render_template
from calbench.reporting.html import rel_dir as _rel
from calbench.reporting.report import Report
from calbench.reporting.stats import CORRECTION_NAMES

#: The metrics of the per-run table (the compared ones, then parse rate and n) and every metric's title.
SHOWN = (*REPORT_METRICS, "parse_rate", "n")
TITLES = titles()


def _p(v: float) -> str:
    if v is None or math.isnan(v):
        return "n/a"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def _need(v: float | None) -> str:
    if v is None:
        return ""
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "∞ (no difference)"
    return f"≈{int(v):,}"


def _metric_cell(metrics: dict, name: str) -> dict[str, Any]:
    m = metrics.get(name)
    if m is None:
        return {"text": "missing", "ci": "", "sort": None, "note": f"run.json has no {name!r}"}
    v = m.get("value")
    ok = v is not None and not (isinstance(v, float) and math.isnan(v))
    lo, hi = m.get("ci_low"), m.get("ci_high")
    ci = format_interval(lo, hi) if ok and name != "n" else ""
    return {
        "text": (str(int(v)) if name == "n" else _num(float(v))) if ok else "n/a",
        "ci": ci,
        "sort": float(v) if ok else None,
        "note": m.get("note") or ("" if ok else "undefined"),
    }


def figures(report: Report, folder: Path) -> dict[tuple[str, tuple], dict[str, Path]]:
    """Reliability diagram and confidence histogram of every (task, system), as PNG files in ``folder``."""
    from calbench.figures import confidence_histogram, headline_text, reliability_diagram

    out: dict[tuple[str, tuple], dict[str, Path]] = {}
    folder.mkdir(parents=True, exist_ok=True)
    for ti, task in enumerate(report.tasks):
        for si, system in enumerate(report.systems):
            arm = report.arm(task, system)
            if arm is None:
                continue
            conf, corr, info = apply_policy(arm.samples(), arm.policy)
            if conf.size == 0:
                continue
            bins = arm.run.settings.bins
            title = f"{report.labels[system]}\n{task} (parse rate {info['parse_rate']:.0%}, policy {arm.policy})"
            stem = folder / f"t{ti}_s{si}"
            head = headline_text(conf, corr)
            rel = reliability_diagram(
                conf,
                corr,
                title=title,
                path_stem=stem.with_name(stem.name + "_reliability"),
                bins=bins,
                n_resamples=200,
                headline=head,
            )
            hist = confidence_histogram(
                conf, corr, title=title, path_stem=stem.with_name(stem.name + "_hist"), bins=bins, headline=head
            )
            out[(task, system)] = {"reliability": rel[0], "histogram": hist[0]}
    return out


def sample_pages(report: Report, folder: Path) -> dict[tuple[str, tuple], Path]:
    """A sortable sample table (``calbench show``'s HTML) of every (task, system), written into ``folder``."""
    from calbench.show import sample_rows, samples_html, task_examples

    folder.mkdir(parents=True, exist_ok=True)
    pages, examples = {}, {}
    for i, ((task, system), arm) in enumerate(report.arms.items()):
        t = arm.run.manifest.get("task") or {}
        key = (t.get("name"), t.get("split"), t.get("source"))
        if key not in examples:
            examples[key] = task_examples(arm.run.manifest)
        path = folder / f"samples_{i}.html"
        path.write_text(
            samples_html(sample_rows(arm.samples(), examples[key]), f"{report.labels[system]} · {task} · {arm.method}"),
            encoding="utf-8",
        )
        pages[(task, system)] = path
    return pages


def fresh_sample_pages(report: Report, folder: Path) -> dict[tuple[str, tuple], Path]:
    """:func:`sample_pages` into ``folder`` after removing what an earlier report left there."""
    if folder.exists():
        shutil.rmtree(folder)
    return sample_pages(report, folder)


def _settings_rows(report: Report, base: Path, pages: dict | None = None) -> list[dict[str, str]]:
    rows = []
    for (task, system), arm in report.arms.items():
        m = arm.run.manifest
        model, t = m.get("model") or {}, m.get("task") or {}
        judge = m.get("judge") or {}
        settings = ", ".join(f"{k}={v}" for k, v in sorted((judge.get("settings") or {}).items()))
        rows.append(
            {
                "system": report.labels[system],
                "task": task,
                "run": _rel(arm.run.path, base),
                "run_name": arm.run.path.name,
                "model": f"{model.get('id')} (sha256 {str(model.get('sha256'))[:12]})",
                "adapter": str(model.get("adapter") or "—"),
                "data": f"{t.get('split')} · n={m.get('n')} · limit {t.get('limit') or '—'} · {t.get('source')} · "
                f"questions {str(t.get('ids_sha256'))[:10]}",
                "method": f"{arm.method} · scale {(m.get('elicitation') or {}).get('scale')}",
                "judge": f"{judge.get('name')}({settings})",
                "policy": arm.policy,
                "seed": str(m.get("seed")),
                "versions": ", ".join(
                    f"{k} {v}"
                    for k, v in (m.get("versions") or {}).items()
                    if k in ("calbench", "torch", "transformers")
                ),
                "finished": str((m.get("timings") or {}).get("finished")),
                "samples": _rel(pages[(task, system)], base)[:-1] if pages and (task, system) in pages else "",
            }
        )
    return rows


def _context(report: Report, base: Path, pages: dict | None = None) -> dict[str, Any]:
    tasks = []
    for task in report.tasks:
        systems = []
        for s in report.systems:
            arm = report.arm(task, s)
            if arm is None:
                continue
            metrics = arm.metrics()
            systems.append(
                {
                    "label": report.labels[s],
                    "reference": s == report.reference,
                    "run": _rel(arm.run.path, base),
                    "method": arm.method,
                    "cells": [_metric_cell(metrics, n) for n in SHOWN],
                }
            )
        deltas, problems = [], []
        for c in report.comparisons:
            if c.task != task:
                continue
            if c.problem:
                problems.append({"label": report.labels[c.other.system], "problem": c.problem})
                continue
            for name in REPORT_METRICS:
                d = c.deltas[name]
                deltas.append(
                    {
                        "label": report.labels[c.other.system],
                        "metric": TITLES[name],
                        "a": _num(d.a),
                        "b": _num(d.b),
                        "delta": format_number(d.delta, sign=True),
                        "ci": format_interval(d.ci_low, d.ci_high, sign=True),
                        "p": _p(d.p_value),
                        "p_adj": _p(d.p_adjusted),
                        "p_sort": d.p_value,
                        "p_adj_sort": d.p_adjusted,
                        "significant": d.significant,
                        "too_few": d.too_few,
                        "better": d.better,
                        "need": _need(d.questions_needed),
                        "n_pairs": c.n_pairs,
                    }
                )
        tasks.append({"name": task, "systems": systems, "deltas": deltas, "problems": problems})
    bd_systems = [s for s in report.systems]
    breakdown = [
        {"task": r["task"], "domain": r["domain"], "cells": [r["systems"].get(s) for s in bd_systems]}
        for r in report.breakdown
    ]
    return {
        "report": report,
        "tasks": tasks,
        "labels": [report.labels[s] for s in report.systems],
        "reference": report.labels[report.reference],
        "metric_titles": [TITLES[n] for n in SHOWN],
        "correction": CORRECTION_NAMES.get(report.correction, report.correction),
        "breakdown": breakdown,
        "bd_labels": [report.labels[s] for s in bd_systems],
        "settings": _settings_rows(report, base, pages),
        "num": _num,
        "skipped": [{"path": _rel(s.path, base), "reason": s.reason} for s in report.skipped],
    }


def render_html(report: Report, base: Path, figs: dict, pages: dict | None = None) -> str:
    ctx = _context(report, base, pages)
    for t in ctx["tasks"]:
        t["figures"] = []
        for s in report.systems:
            f = figs.get((t["name"], s))
            if f:
                t["figures"].append(
                    {
                        "label": report.labels[s],
                        "reliability": png_data_uri(f["reliability"]),
                        "histogram": png_data_uri(f["histogram"]),
                    }
                )
    return render_template("report.html.j2", **ctx)


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    esc = [[str(c).replace("|", "\\|") for c in r] for r in rows]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in esc]


def render_markdown(report: Report, base: Path, figs: dict, pages: dict | None = None) -> str:
    ctx = _context(report, base, pages)
    out = [
        "# calbench comparison report",
        "",
        f"Reference: **{ctx['reference']}**. Differences are paired (same questions), system − reference, with "
        f"{report.n_resamples} paired bootstrap resamples; significance at alpha {report.alpha} after "
        f'{ctx["correction"]} correction within each metric. "questions needed": about how many questions a '
        "difference of that size needs to be detected with 80 % power (not significant differences only).",
        "",
    ]
    out += [f"- {n}" for n in report.notes]
    for t in ctx["tasks"]:
        out += ["", f"## {t['name']}", ""]
        rows = [
            [s["label"] + (" (reference)" if s["reference"] else ""), f"[{s['method']}]({s['run']})"]
            + [c["text"] + (f" {c['ci']}" if c["ci"] else "") for c in s["cells"]]
            for s in t["systems"]
        ]
        out += _md_table(["system", "run", *ctx["metric_titles"]], rows)
        if t["deltas"]:
            out += ["", "Differences against the reference:", ""]
            rows = [
                [
                    d["label"],
                    d["metric"],
                    d["a"],
                    d["b"],
                    f"{d['delta']} {d['ci']}",
                    d["p"],
                    d["p_adj"],
                    ("**yes**" if d["significant"] else "too few" if d["too_few"] else "no"),
                    d["need"],
                    str(d["n_pairs"]),
                ]
                for d in t["deltas"]
            ]
            out += _md_table(
                [
                    "system",
                    "metric",
                    "reference",
                    "system",
                    "Δ [CI]",
                    "p",
                    "p adj.",
                    "significant",
                    "questions needed",
                    "pairs",
                ],
                rows,
            )
        for p in t["problems"]:
            out += ["", f"**Not compared:** {p['label']}: {p['problem']}"]
        # the systems' reliability diagrams on one line (side by side where Markdown is rendered), then their
        # histograms
        shown = [(s, f) for s in report.systems if (f := figs.get((t["name"], s)))]
        for kind, title in (("reliability", "reliability"), ("histogram", "confidence histogram")):
            if shown:
                out += ["", " ".join(f"![{title}: {report.labels[s]}]({_rel(f[kind], base)[:-1]})" for s, f in shown)]
    out += ["", "## Breakdown by domain", ""]
    head = ["task", "domain"] + [f"{lab}: n / acc / ECE / Brier" for lab in ctx["bd_labels"]]
    rows = [
        [r["task"], r["domain"]]
        + [
            "—" if c is None else f"{c['n']} / {_num(c['accuracy'])} / {_num(c['ece'])} / {_num(c['brier'])}"
            for c in r["cells"]
        ]
        for r in ctx["breakdown"]
    ]
    out += _md_table(head, rows)
    out += ["", "## Run settings", ""]
    keys = ["system", "task", "model", "adapter", "data", "method", "judge", "policy", "seed", "versions", "finished"]
    out += _md_table(
        keys + ["run", "samples"],
        [
            [s[k] for k in keys]
            + [f"[{s['run_name']}]({s['run']})", f"[table]({s['samples']})" if s["samples"] else "—"]
            for s in ctx["settings"]
        ],
    )
    out += ["", "## Skipped", ""]
    out += [f"- `{s['path']}`: {s['reason']}" for s in ctx["skipped"]] or ["None."]
    return "\n".join(out) + "\n"


def write_report(report: Report, out: str | Path, *, pages: dict[tuple[str, tuple], Path] | None = None) -> Path:
    """Write ``out`` (``.html``: self-contained; ``.md``: figures in ``<name>_files/``); returns its path.
    The per-run sample tables are written beside it (``<name>_samples/`` or ``<name>_files/``) unless ``pages``
    gives those of another format's report of the same runs (:func:`sample_pages`), which are then linked."""
    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".html", ".htm", ".md"):
        raise ValueError(f"--out must end in .html or .md; got {out.name!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    base = out.parent
    if kind == ".md":
        fig_dir = out.with_name(out.stem + "_files")
        if fig_dir.exists():
            shutil.rmtree(fig_dir)
        figs = figures(report, fig_dir)
        out.write_text(
            render_markdown(report, base, figs, sample_pages(report, fig_dir) if pages is None else pages),
            encoding="utf-8",
        )
        return out
    # figures are embedded; the per-run sample tables (too large to embed) go beside the page, linked
    if pages is None:
        pages = fresh_sample_pages(report, out.with_name(out.stem + "_samples"))
    with tempfile.TemporaryDirectory(prefix="calbench-report-") as tmp:
        figs = figures(report, Path(tmp))
        out.write_text(render_html(report, base, figs, pages), encoding="utf-8")
    return out
