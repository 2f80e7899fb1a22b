"""The comparison report on hand-made runs: paired deltas, corrections, power estimate, breakdown, output."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from calbench.cli import main
from calbench.commands.demo import demo_outputs
from calbench.records import DataError
from calbench.reporting.render import write_report
from calbench.reporting.report import build_report
from calbench.reporting.stats import benjamini_hochberg, holm
from tests.helpers import make_run

N = 200
IDS = [f"q{i}" for i in range(N)]


def _outcomes(seed: int, acc: float) -> list[int]:
    return [int(x) for x in np.random.default_rng(seed).random(N) < acc]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Base: overconfident (0.9 everywhere, 40 % right). Trained: calibrated-ish (0.4). Same outcomes, two tasks,
    plus a trained run with a small (non-significant) change on a third task."""
    root = tmp_path_factory.mktemp("runs")
    y1, y2 = _outcomes(1, 0.4), _outcomes(2, 0.4)
    rng = np.random.default_rng(3)
    y3 = _outcomes(3, 0.5)
    c3 = list(np.clip(rng.normal(0.5, 0.1, N), 0, 1))
    c3b = list(np.clip(np.array(c3) + rng.normal(0, 0.01, N), 0, 1))
    base = [
        make_run(root / "base_tqa", model="base", ids=IDS, conf=[0.9] * N, correct=y1),
        make_run(root / "base_med", model="base", ids=IDS, conf=[0.9] * N, correct=y2, task="medqa", group="unseen"),
        make_run(root / "base_sciq", model="base", ids=IDS, conf=c3, correct=y3, task="sciq"),
    ]
    trained = [
        make_run(root / "tr_tqa", model="base", adapter="/a/tr", ids=IDS, conf=[0.4] * N, correct=y1),
        make_run(
            root / "tr_med",
            model="base",
            adapter="/a/tr",
            ids=IDS,
            conf=[0.4] * N,
            correct=y2,
            task="medqa",
            group="unseen",
        ),
        make_run(root / "tr_sciq", model="base", adapter="/a/tr", ids=IDS, conf=c3b, correct=y3, task="sciq"),
    ]
    return root, base, trained, (y1, y2, y3), (c3, c3b)


def test_paired_deltas_and_significance(runs):
    root, base, trained, (y1, y2, y3), (c3, c3b) = runs
    rep = build_report([*base, *trained], n_resamples=400)
    assert rep.labels[rep.reference] == "base · verbalized"
    assert rep.tasks == ["triviaqa", "medqa", "sciq"]
    assert len(rep.comparisons) == 3
    by_task = {c.task: c for c in rep.comparisons}
    tqa = by_task["triviaqa"]
    y = np.array(y1)
    want = np.mean((0.4 - y) ** 2) - np.mean((0.9 - y) ** 2)  # hand-computed Brier difference
    assert tqa.deltas["brier"].delta == pytest.approx(want)
    assert tqa.deltas["accuracy"].delta == 0.0  # same answers
    assert tqa.n_pairs == N
    assert tqa.deltas["brier"].significant and tqa.deltas["brier"].better is True
    assert tqa.deltas["brier"].questions_needed is None
    # A tiny change on sciq: not significant, with an estimate of the questions needed larger than N.
    d = by_task["sciq"].deltas["brier"]
    assert not d.significant and d.questions_needed > N
    yb, ca, cb = np.array(y3), np.array(c3), np.array(c3b)
    diffs = (cb - yb) ** 2 - (ca - yb) ** 2
    z = 1.959964 + 0.841621
    assert d.questions_needed == pytest.approx(math.ceil((z * diffs.std(ddof=1) / abs(diffs.mean())) ** 2), abs=1)


@pytest.mark.parametrize("method,fn", [("holm", holm), ("bh", benjamini_hochberg)])
def test_multiple_comparison_correction_over_tasks(runs, method, fn):
    root, base, trained, *_ = runs
    rep = build_report([*base, *trained], correction=method, n_resamples=300)
    for name in ("brier", "ece", "accuracy"):
        raw = [c.deltas[name].p_value for c in rep.comparisons]
        adj = [c.deltas[name].p_adjusted for c in rep.comparisons]
        np.testing.assert_allclose(adj, fn(raw))
        assert [c.deltas[name].significant for c in rep.comparisons] == [p <= 0.05 for p in fn(raw)]
    assert any("adjusted for 3 comparisons" in n for n in rep.notes)


def test_exclude_policy_pairs_only_questions_both_parsed(tmp_path):
    ok_a = [i % 10 != 0 for i in range(N)]  # a fails to parse every 10th question
    ok_b = [i % 10 != 5 for i in range(N)]  # b every 10th, offset
    y = _outcomes(5, 0.5)
    a = make_run(tmp_path / "a", model="a", ids=IDS, conf=[0.6] * N, correct=y, parse_ok=ok_a)
    b = make_run(tmp_path / "b", model="b", ids=IDS, conf=[0.5] * N, correct=y, parse_ok=ok_b)
    (c,) = build_report([a, b], n_resamples=200).comparisons
    assert c.n_pairs == N - 40
    keep = np.array(ok_a) & np.array(ok_b)
    yy = np.array(y)[keep]
    assert c.deltas["brier"].delta == pytest.approx(np.mean((0.5 - yy) ** 2) - np.mean((0.6 - yy) ** 2))


def test_incomparable_runs_are_not_compared(tmp_path):
    a = make_run(tmp_path / "a", model="a")
    b = make_run(tmp_path / "b", model="b", judge={"name": "token_f1", "settings": {"threshold": 0.5}})
    rep = build_report([a, b], n_resamples=100)
    (c,) = rep.comparisons
    assert not c.deltas and c.problem.startswith("not comparable: judge")
    assert any("no paired comparison" in n for n in rep.notes)


def test_multi_method_run_and_method_selector(tmp_path):
    run = make_run(tmp_path / "r", model="m", methods=("two-stage", "verbalized"))
    rep = build_report([run], n_resamples=100)
    assert [rep.labels[s] for s in rep.systems] == ["m · two-stage", "m · verbalized"]
    rep = build_report([f"{run}#verbalized"], n_resamples=100)
    assert [rep.labels[s] for s in rep.systems] == ["m · verbalized"]
    with pytest.raises(DataError, match="no method 'nope'"):
        build_report([f"{run}#nope"])


def test_breakdown_by_domain(tmp_path):
    run = make_run(
        tmp_path / "mmlu", model="m", task="mmlu", group="unseen", conf=[0.8] * 40, correct=[1] * 20 + [0] * 20
    )
    lines = (run / "samples.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    for i, r in enumerate(recs):
        r["domain"] = "physics" if i < 20 else "law"
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    plain = make_run(tmp_path / "tqa", model="m")
    rep = build_report([run, plain], n_resamples=100)
    rows = {(r["task"], r["domain"]): next(iter(r["systems"].values())) for r in rep.breakdown}
    assert set(rows) == {("mmlu", "(all)"), ("mmlu", "law"), ("mmlu", "physics"), ("triviaqa", "(all)")}
    assert rows[("mmlu", "physics")]["accuracy"] == 1.0 and rows[("mmlu", "law")]["accuracy"] == 0.0
    assert rows[("mmlu", "physics")]["brier"] == pytest.approx(0.04)
    assert rows[("mmlu", "law")]["brier"] == pytest.approx(0.64)
    assert rows[("mmlu", "(all)")]["n"] == 40


def test_html_is_self_contained_and_md_links_figures(runs, tmp_path):
    root, base, trained, *_ = runs
    rep = build_report([base[0], trained[0]], n_resamples=200)
    html = write_report(rep, tmp_path / "rep.html").read_text()
    imgs = re.findall(r'<img src="([^"]+)"', html)
    assert len(imgs) == 4 and all(s.startswith("data:image/png;base64,") for s in imgs)
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from the network
    assert "Differences against the reference" in html and "Run settings" in html
    assert "Breakdown by domain" in html
    md_path = write_report(rep, tmp_path / "rep.md")
    md = md_path.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == 4 and all((tmp_path / p).is_file() for p in links)
    # the two systems' reliability diagrams share one line (side by side), their histograms the next
    figure_lines = [line for line in md.splitlines() if line.startswith("![")]
    assert [line.count("![reliability") for line in figure_lines] == [2, 0]
    assert [line.count("![confidence histogram") for line in figure_lines] == [0, 2]
    with pytest.raises(ValueError, match=".html or .md"):
        write_report(rep, tmp_path / "rep.pdf")


def test_bad_input_messages(tmp_path, capsys):
    running = make_run(tmp_path / "running", model="m", status="running")
    assert main(["report", str(running), "--out", str(tmp_path / "x.html")]) == 2
    assert "cannot report on" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.html")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    good = make_run(tmp_path / "r" / "good", model="m")
    make_run(tmp_path / "r" / "bad", model="n", status="incomplete")
    assert main(["report", str(tmp_path / "r"), "--out", str(tmp_path / "x.md"), "--resamples", "100"]) == 0
    assert "bad" in capsys.readouterr().err
    assert "status is 'incomplete'" in (tmp_path / "x.md").read_text()
    assert main(["report", str(good), "--out", str(tmp_path / "x.txt")]) == 2


def test_demo_outputs(runs, tmp_path, capsys):
    root, base, trained, *_ = runs
    paths = demo_outputs([base[0], trained[0]], tmp_path / "demo")
    assert all(p.is_file() for p in paths.values())
    out = capsys.readouterr().out
    assert str(paths["leaderboard_html"]) in out and str(paths["report_html"]) in out
    # one set of per-run sample tables, linked from both reports (not a second copy in report_files/)
    pages = sorted(p.name for p in (tmp_path / "demo" / "report_samples").glob("samples_*.html"))
    assert pages == ["samples_0.html", "samples_1.html"]
    assert not list((tmp_path / "demo").glob("report_files/samples_*.html"))
    for report in (paths["report_html"], paths["report_md"]):
        assert "report_samples/samples_1.html" in report.read_text()
