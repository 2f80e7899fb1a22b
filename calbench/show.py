"""The sample viewer: what a run's model was asked, what it answered, how sure it said it was, and the verdict.

:func:`sample_rows` turns sample records into :class:`SampleRow` s (question and gold answers from the sample
when it carries them, else from the task's data by id), :func:`select_rows` filters them (``wrong``,
``correct``, ``unparsed``, ``confident-wrong``: wrong answers, most confident first), and
:func:`format_table` / :func:`samples_html` draw them for a terminal or a web page.
"""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass
from typing import Sequence, cast

from calbench.metrics.policy import is_parsed

#: The filters of ``calbench show``.
FILTERS = ("all", "wrong", "correct", "unparsed", "confident-wrong")


@dataclass
class SampleRow:
    id: str
    method: str
    question: str
    answer: str
    gold: str
    confidence: float | None
    raw_output: str  # the reply the confidence was read from
    answer_output: str | None  # the answer reply, when a separate one came first (two-stage)
    verdict: str  # right | wrong (+ ", no confidence" when unparsed) | failed (the request failed)
    correct: int
    parsed: bool


def _verdict(s: dict) -> str:
    if s.get("request_error"):
        return "failed"
    verdict = "right" if s.get("correct") else "wrong"
    return verdict if is_parsed(s) else verdict + ", no confidence"


def _question_from_prompt(prompt) -> str:
    """The question text of a rendered prompt (the first user message, after ``Question:`` when present)."""
    if isinstance(prompt, dict):
        msgs = [m.get("content", "") for m in prompt.get("messages", []) if m.get("role") == "user"]
        text = msgs[0] if msgs else ""
    else:
        text = str(prompt or "")
    m = re.search(r"Question:\s*(.*)", text, flags=re.S)
    return (m.group(1) if m else text).strip()


def task_examples(manifest: dict) -> dict[str, object]:
    """The run's questions by id, from its task's data ({} when the task cannot be loaded here)."""
    from calbench.tasks import TaskError, get_task

    t = manifest.get("task") or {}
    try:
        spec = get_task(str(t.get("name")))
        return {e.id: e for e in spec.load(t.get("split"), source=t.get("source") or "bundled")}
    except (TaskError, ValueError, OSError, ImportError):
        return {}


def sample_rows(samples: Sequence[dict], examples: dict | None = None) -> list[SampleRow]:
    examples = examples or {}
    rows = []
    for s in samples:
        ex = examples.get(s["id"])
        gold = s.get("gold")
        if gold is None and ex is not None:
            gold = ex.answers
        if isinstance(gold, (list, tuple)):
            gold = " | ".join(map(str, gold))
        question = ex.question if ex is not None else _question_from_prompt(s.get("prompt"))
        if ex is not None and ex.choices:
            question += "  " + "  ".join(f"{chr(65 + i)}) {c}" for i, c in enumerate(ex.choices))
        rows.append(
            SampleRow(
                id=str(s["id"]),
                method=str(s.get("method")),
                question=question,
                answer="" if s.get("answer") is None else str(s["answer"]),
                gold="?" if gold is None else str(gold),
                confidence=s.get("confidence"),
                raw_output=str(s.get("raw_output") or ""),
                answer_output=s.get("answer_output"),
                verdict=_verdict(s),
                correct=int(s.get("correct") or 0),
                parsed=is_parsed(s),
            )
        )
    return rows


def select_rows(rows: list[SampleRow], which: str = "all", n: int | None = None) -> list[SampleRow]:
    """Rows of one kind (see :data:`FILTERS`); ``confident-wrong`` sorts by stated confidence, highest first."""
    if which == "wrong":
        rows = [r for r in rows if r.verdict.startswith("wrong")]
    elif which == "correct":
        rows = [r for r in rows if r.verdict.startswith("right")]
    elif which == "unparsed":
        rows = [r for r in rows if not r.parsed and r.verdict != "failed"]
    elif which == "confident-wrong":
        rows = sorted(
            (r for r in rows if r.verdict == "wrong" and r.confidence is not None),
            key=lambda r: -cast(float, r.confidence),
        )
    elif which != "all":
        raise ValueError(f"unknown filter {which!r}; use one of {', '.join(FILTERS)}")
    return rows if n is None else rows[:n]


def _conf(c: float | None) -> str:
    return "—" if c is None else f"{c:.2f}"


def _reply(r: SampleRow) -> str:
    """The raw reply (two-stage: the answer reply, then the confidence reply)."""
    return repr(r.raw_output) if r.answer_output is None else f"{r.answer_output!r} -> {r.raw_output!r}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def format_table(rows: list[SampleRow], width: int = 120) -> str:
    """One block per sample: a header line (id, verdict, confidence) and the question, answer, gold and raw
    reply wrapped to ``width`` -- long texts stay readable instead of being cut to a column."""
    out = []
    wrap = max(40, width - 12)
    for i, r in enumerate(rows, 1):
        out.append(f"[{i}] {r.id}  {r.verdict.upper()}  confidence {_conf(r.confidence)}  ({r.method})")
        for label, text in (("question", r.question), ("answer", r.answer), ("gold", r.gold), ("reply", _reply(r))):
            lines = textwrap.wrap(_one_line(text) or "—", wrap) or ["—"]
            out.append(f"  {label + ':':<10}{lines[0]}")
            out += [f"  {'':<10}{line}" for line in lines[1:6]]
            if len(lines) > 6:
                out.append(f"  {'':<10}... ({len(text)} characters)")
        out.append("")
    return "\n".join(out).rstrip()


def samples_html(rows: list[SampleRow], title: str) -> str:
    """A self-contained page with one table row per sample (sortable by clicking a column head)."""
    esc = html.escape
    head = ["#", "id", "verdict", "confidence", "question", "answer", "gold", "raw reply"]
    body = []
    for i, r in enumerate(rows, 1):
        cls = "odd" if "," in r.verdict or r.verdict == "failed" else {"right": "ok", "wrong": "bad"}[r.verdict]
        body.append(
            f'<tr class="{cls}"><td>{i}</td><td>{esc(r.id)}</td><td>{esc(r.verdict)}</td>'
            f"<td>{_conf(r.confidence)}</td><td>{esc(r.question)}</td><td>{esc(r.answer)}</td>"
            f"<td>{esc(r.gold)}</td><td><code>{esc(_reply(r))}</code></td></tr>"
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>" + esc(title) + "</title><style>"
        "body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}"
        "th{background:#f3f3f3;cursor:pointer}tr.ok td:nth-child(3){color:#1a7f37}"
        "tr.bad td:nth-child(3){color:#cf222e}tr.odd td:nth-child(3){color:#9a6700}"
        "code{white-space:pre-wrap}</style></head><body><h1>" + esc(title) + "</h1>"
        f"<p>{len(rows)} samples. Click a column head to sort.</p><table><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table><script>document.querySelectorAll('th').forEach((th,i)=>th.onclick=()=>{"
        "const tb=th.closest('table').tBodies[0];const rs=[...tb.rows];const num=i==0||i==3;"
        "const v=r=>{const t=r.cells[i].innerText;return num?(parseFloat(t)||-1):t};"
        "const dir=th.dataset.dir=th.dataset.dir==='1'?'-1':'1';"
        "rs.sort((a,b)=>(v(a)>v(b)?1:v(a)<v(b)?-1:0)*dir);rs.forEach(r=>tb.appendChild(r))});"
        "</script></body></html>\n"
    )
