"""tools/reparse_run.py: a run's stored replies read again with today's parser, through the method's own code."""

from __future__ import annotations

import json
import lzma
import sys
from pathlib import Path

from calbench.cli import main as cli
from calbench.records import find_samples_file, read_samples
from calbench.runs import Run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import reparse_run  # noqa: E402

ECHO = "<most likely, as short as possible>\nP1: <the probability between 0.0 and 1.0 that G1 is correct>"


def _topk_run(tmp_path: Path) -> Path:
    """Six TriviaQA questions, top-k replies: three a real guess, three the format echoed back, the echoes stored
    as an older parser read them (a first guess with probability 0.0); samples compressed."""
    argv = ["eval", "--backend", "scripted", "--task", "triviaqa", "--limit", "6", "--method", "verbalized-topk"]
    argv += ["--resamples", "50", "--quiet"]
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"default": ECHO}))
    assert cli([*argv, "--script", str(script), "--out", str(tmp_path / "probe")]) == 0
    questions = [
        s["prompt"]["messages"][-1]["content"].split("\n\n")[-1]
        for s in read_samples(tmp_path / "probe" / "samples.jsonl")
    ]
    rules = [{"match": q, "reply": " Paris\nP1: 0.6"} for q in questions[1::2]]
    script.write_text(json.dumps({"replies": rules, "default": ECHO}))
    out = tmp_path / "run"
    assert cli([*argv, "--script", str(script), "--out", str(out)]) == 0
    rows = read_samples(out / "samples.jsonl")
    assert sum(s["raw_output"] == ECHO for s in rows) == 3
    for s in rows:
        if s["raw_output"] == ECHO:
            s.update(answer=ECHO.split("\n")[0], confidence=0.0, parse_ok=True, parse_reason=None)
    (out / "samples.jsonl").unlink()
    with lzma.open(out / "samples.jsonl.xz", "wt") as f:
        f.writelines(json.dumps(s) + "\n" for s in rows)
    run = Run.open(out)  # and the metrics that older parse gave: every answer parsed
    run.manifest["metrics"]["n"] = {"value": 6, "ci_low": 6, "ci_high": 6}
    run.manifest["metrics"]["parse_rate"] = {"value": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    run.write()
    return out


def test_reread_fixes_old_parses_rescores_and_keeps_the_rest(tmp_path, capsys):
    out = _topk_run(tmp_path)
    before = Run.open(out).manifest
    assert reparse_run.main(["--dry-run", str(out)]) == 0
    assert "would change 3 verbalized-topk samples" in capsys.readouterr().out
    assert find_samples_file(out).name == "samples.jsonl.xz"
    assert reparse_run.main([str(out)]) == 0
    rows = read_samples(find_samples_file(out))
    assert find_samples_file(out).name == "samples.jsonl.xz"  # compressed as it was
    echoes = [s for s in rows if s["raw_output"] == ECHO]
    assert len(echoes) == 3 and all(not s["parse_ok"] and s["confidence"] is None for s in echoes)
    assert {s["parse_reason"] for s in echoes} == {"template placeholder"}
    assert all(s["parse_ok"] and s["confidence"] == 0.6 for s in rows if s not in echoes)
    after = Run.open(out).manifest
    metrics = after.metrics_for("verbalized-topk")
    assert metrics["parse_rate"]["value"] == 0.5 and metrics["n"]["value"] == 3  # was 6 parsed answers
    assert before.metrics_for("verbalized-topk")["n"]["value"] == 6
    assert after["timings"] == before["timings"] and after["reparsed"]["changed"] == {"verbalized-topk": 3}
    assert reparse_run.main([str(out)]) == 0  # a second reading changes nothing
    assert "changed 0 verbalized-topk samples" in capsys.readouterr().out


def test_a_prompt_calbench_no_longer_builds_stops_it_before_writing(tmp_path, capsys):
    out = _topk_run(tmp_path)
    rows = read_samples(find_samples_file(out))
    rows[0]["prompt"]["messages"][-1]["content"] += " (an older template)"
    (out / "samples.jsonl.xz").write_bytes(lzma.compress("".join(json.dumps(s) + "\n" for s in rows).encode()))
    written = (out / "samples.jsonl.xz").read_bytes()
    assert reparse_run.main([str(out)]) == 1
    assert "no stored sample has" in capsys.readouterr().err
    assert (out / "samples.jsonl.xz").read_bytes() == written and "reparsed" not in Run.open(out).manifest
