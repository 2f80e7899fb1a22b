"""`calbench score` never changes a metric silently: duplicated lines are dropped loudly (or refused when
they differ), a truncated last line is reported, the bins are printed; a run folder is accepted."""

from __future__ import annotations

import json
from pathlib import Path

from calbench.cli import main


def sample(i: int, conf: float, correct: int) -> dict:
    return {
        "id": f"q{i}",
        "task": "t",
        "model": "m",
        "method": "two-stage",
        "prompt": None,
        "raw_output": "x",
        "answer": "a",
        "confidence": conf,
        "parse_ok": True,
        "correct": correct,
        "judge": "alias_match",
    }


def rows(n: int = 22) -> list[dict]:
    return [sample(i, (i % 11) / 10, int(i % 3 == 0)) for i in range(n)]


def write(path: Path, records: list[dict], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return path


def score_json(capsys, *args) -> tuple[int, dict | None, str]:
    capsys.readouterr()
    rc = main(["score", *map(str, args), "--json", "--resamples", "20"])
    out = capsys.readouterr()
    return rc, (json.loads(out.out) if rc == 0 else None), out.err


def test_duplicated_lines_are_counted_once_and_reported(tmp_path, capsys):
    recs = rows()
    path = write(tmp_path / "s.jsonl", recs + recs[:4])
    rc, res, err = score_json(capsys, path)
    assert rc == 0
    assert res["groups"][0]["metrics"]["n"]["value"] == 22
    assert len(res["dropped_lines"]) == 4 and "s.jsonl:23: duplicate of line 1" in err
    # the same metrics as the file without the duplicates
    _, ref, _ = score_json(capsys, write(tmp_path / "ref.jsonl", recs))
    assert res["groups"][0]["metrics"] == ref["groups"][0]["metrics"]


def test_conflicting_duplicate_is_refused_naming_both_lines(tmp_path, capsys):
    recs = rows()
    path = write(tmp_path / "s.jsonl", recs + [dict(recs[2], correct=1 - recs[2]["correct"])])
    rc, _, err = score_json(capsys, path)
    assert rc == 2 and "s.jsonl:23" in err and "line 3" in err and len(err.strip().splitlines()) == 1


def test_truncated_last_line_is_reported(tmp_path, capsys):
    recs = rows()
    path = write(tmp_path / "s.jsonl", recs, tail=json.dumps(sample(99, 0.5, 1))[:30])
    rc, res, err = score_json(capsys, path)
    assert rc == 0 and res["groups"][0]["metrics"]["n"]["value"] == 22
    assert "s.jsonl:23: truncated last line" in err


def test_table_names_bins_and_judge_and_a_run_folder_is_accepted(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    write(tmp_path / "run" / "samples.jsonl", rows())
    capsys.readouterr()
    assert main(["score", str(tmp_path / "run"), "--bins", "5", "--resamples", "20"]) == 0
    out = capsys.readouterr().out
    assert "ECE 5 equal-width bins" in out and "judge alias_match" in out
    capsys.readouterr()
    (tmp_path / "empty").mkdir()
    assert main(["score", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "empty" in err and "samples.jsonl" in err and "Traceback" not in err


def test_non_utf8_samples_name_file_and_line(tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in rows(3)) + b'{"id": "caf\xe9"}\n')
    rc, _, err = score_json(capsys, path)
    assert rc == 2 and "s.jsonl:4: not UTF-8" in err


def test_eval_summary_states_the_bins_used(tmp_path, capsys):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"replies": [{"match": "How confident", "reply": "8"}], "default": " x"}))
    assert (
        main(
            [
                "eval",
                "--backend",
                "scripted",
                "--script",
                str(script),
                "--task",
                "sciq",
                "--limit",
                "6",
                "--bins",
                "5",
                "--out",
                str(tmp_path / "o"),
                "--quiet",
                "--no-plots",
                "--resamples",
                "20",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "5 bins" in out and "10 bins" not in out


def test_summary_names_the_judge_and_warns_when_exact_match_gives_zero(tmp_path, capsys):
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps({"replies": [{"match": "How confident", "reply": "8"}], "default": " it is probably something"})
    )
    base = [
        "eval",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--task",
        "sciq",
        "--limit",
        "6",
        "--quiet",
        "--no-plots",
        "--resamples",
        "20",
    ]
    capsys.readouterr()
    assert main([*base, "--out", str(tmp_path / "exact")]) == 0
    out = capsys.readouterr().out
    assert "judge" in out.splitlines()[0] and "alias_match " in out
    assert "warning: accuracy is 0 on sciq" in out and "--judge-containment" in out
    assert main([*base, "--judge-containment", "--out", str(tmp_path / "cont")]) == 0
    out = capsys.readouterr().out
    assert "alias_match+containment" in out and "warning" not in out
    assert main(["score", str(tmp_path / "exact"), "--resamples", "20"]) == 0
    assert "warning: accuracy is 0 under judge alias_match" in capsys.readouterr().out
