"""`calbench show`: a run's samples as question, answer, gold, confidence, reply and verdict, filtered; the
comparison report links one sample table per run."""

from __future__ import annotations

import json
import re

import pytest

from calbench.cli import main
from calbench.tasks import get_task, select


def sample(e, *, answer: str, correct: int, conf, method: str = "two-stage") -> dict:
    return {
        "id": e.id,
        "task": "sciq",
        "model": "m",
        "method": method,
        "prompt": None,
        "raw_output": str(conf),
        "answer": answer,
        "confidence": conf if isinstance(conf, float) else None,
        "parse_ok": isinstance(conf, float),
        "correct": correct,
        "judge": "alias_match",
        "answer_output": " " + answer,
    }


@pytest.fixture()
def run_dir(tmp_path):
    """SciQ, 8 questions: 0-2 right (0.9), 3-5 wrong at 0.6/1.0/0.8, 6 wrong and unparsed, 7 right and unparsed."""
    exs = select(get_task("sciq").load("test"), 8, 0)
    rows = [sample(e, answer=e.answers[0], correct=1, conf=0.9) for e in exs[:3]]
    rows += [
        sample(e, answer=f"wrong {i}", correct=0, conf=c) for i, (e, c) in enumerate(zip(exs[3:6], (0.6, 1.0, 0.8)))
    ]
    rows += [
        sample(exs[6], answer="nope", correct=0, conf="maybe"),
        sample(exs[7], answer=exs[7].answers[0], correct=1, conf="sure"),
    ]
    d = tmp_path / "run"
    d.mkdir()
    (d / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "run.json").write_text(
        json.dumps(
            {
                "task": {"name": "sciq", "split": "test", "source": "bundled"},
                "judge": {"name": "alias_match", "settings": {"containment": False}},
            }
        )
    )
    return d, exs


def show(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["show", *map(str, args)])
    return rc, capsys.readouterr().out


def test_confident_wrong_lists_wrong_answers_most_confident_first_with_question_and_gold(run_dir, capsys):
    d, exs = run_dir
    rc, out = show(capsys, d, "--confident-wrong")
    assert rc == 0
    assert re.findall(r"confidence (\S+)", out) == ["1.00", "0.80", "0.60"]
    assert exs[4].question.split()[0] in out and f"gold:     {exs[4].answers[0]}" in out
    assert "answer:   wrong 1" in out and "judge alias_match(containment=False)" in out


def test_filters_and_limit(run_dir, capsys):
    d, exs = run_dir
    _, out = show(capsys, d, "--wrong")
    assert "4 match 'wrong'" in out and out.count("WRONG") == 4
    _, out = show(capsys, d, "--correct", "-n", "2")
    assert "4 match 'correct', showing 2" in out
    _, out = show(capsys, d, "--unparsed")
    assert "2 match 'unparsed'" in out and "WRONG, NO CONFIDENCE" in out and "RIGHT, NO CONFIDENCE" in out
    assert "'maybe'" in out
    with pytest.raises(SystemExit) as e:  # argparse refuses two filters
        show(capsys, d, "--wrong", "--correct")
    assert e.value.code == 2


def test_html_table_and_bad_run(run_dir, capsys, tmp_path):
    d, exs = run_dir
    rc, _ = show(capsys, d, "--html", tmp_path / "s.html")
    page = (tmp_path / "s.html").read_text()
    assert rc == 0 and page.count("<tr class=") == 8 and exs[0].answers[0] in page
    capsys.readouterr()
    assert main(["show", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err


def test_report_links_a_sample_table_per_run(tmp_path):
    from tests.helpers import make_run

    ids = [f"q{i}" for i in range(30)]
    a = make_run(tmp_path / "a", model="a", ids=ids, conf=[0.9] * 30, correct=[i % 2 for i in range(30)])
    b = make_run(tmp_path / "b", model="b", ids=ids, conf=[0.5] * 30, correct=[i % 3 == 0 for i in range(30)])
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "rep.html"), "--resamples", "50"]) == 0
    page = (tmp_path / "rep.html").read_text()
    links = re.findall(r'href="(rep_samples/samples_\d+\.html)"', page)
    assert len(links) == 2
    for link in links:
        assert (tmp_path / link).read_text().count("<tr class=") == 30
