"""Given answers: ``calbench.answers.load_answers`` and ``calbench eval --answers FILE``."""

from __future__ import annotations

import gzip
import json
import lzma
import math
import shutil
from pathlib import Path

import pytest

from calbench.answers import load_answers
from calbench.cli import main
from calbench.records import DataError, read_samples
from calbench.tasks import get_task, select

SCRIPT = {"replies": [{"match": "How confident", "reply": "7"}], "default": " generated answer"}


# -- load_answers ---------------------------------------------------------------------------------------


def test_jsonl_and_csv_with_bom_crlf_quoting(tmp_path):
    j = tmp_path / "a.jsonl"
    j.write_text('{"id": "q1", "answer": "Paris"}\n\n{"id": 2, "answer": 42, "note": "x"}\n', encoding="utf-8")
    assert load_answers(j) == {"q1": "Paris", "2": "42"}
    c = tmp_path / "a.csv"
    c.write_bytes('\ufeffid,answer,extra\r\nq1,"Paris, France",x\r\nq2,"say ""hi""",\r\nq3,,\r\n'.encode("utf-8"))
    assert load_answers(c) == {"q1": "Paris, France", "q2": 'say "hi"', "q3": ""}
    g = tmp_path / "b.csv.gz"
    g.write_bytes(gzip.compress(c.read_bytes()))
    assert load_answers(g) == load_answers(c)
    x = tmp_path / "b.csv.xz"
    x.write_bytes(lzma.compress(c.read_bytes()))
    assert load_answers(x) == load_answers(c)
    x.write_bytes(lzma.compress(c.read_bytes())[:-8])  # truncated
    with pytest.raises(DataError, match=r"b\.csv\.xz: not a valid xz file"):
        load_answers(x)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("a.jsonl", '{"id": "q1", "answer": "x"}\n{"id": "q2"}\n', r"a\.jsonl:2: missing field 'answer'"),
        (
            "a.jsonl",
            '{"id": "q1", "answer": "x"}\n{"id": "q1", "answer": "y"}\n',
            r"a\.jsonl:2: id 'q1' has answer 'y' here but 'x' on line 1",
        ),
        ("a.jsonl", '{"id": "q1", "answer": "x"}\nnot json\n', r"a\.jsonl:2: not valid JSON"),
        ("a.jsonl", '{"answer": "x"}\n', r"a\.jsonl:1: missing or empty 'id'"),
        ("a.jsonl", '{"id": "q1", "answer": ["x"]}\n', r"a\.jsonl:1: 'answer' must be a string"),
        ("a.csv", "question,reply\nq,x\n", r"a\.csv:1: .*needs a header with columns 'id' and 'answer'"),
        ("a.csv", "id,answer\nq1,x\nq1,z\n", r"a\.csv:3: id 'q1' has answer 'z'"),
        ("a.jsonl", "\n", r"no answers in the file"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, name, text, message):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_answers(p)


def test_samples_file_gives_the_shared_stage1_answer(tmp_path):
    def rec(i, method, answer, **kw):
        return {
            "id": i,
            "task": "t",
            "model": "m",
            "method": method,
            "prompt": None,
            "raw_output": "",
            "answer": answer,
            "confidence": 0.5,
            "parse_ok": True,
            "correct": 0,
            "judge": "j",
            **kw,
        }

    rows = [
        rec("q1", "verbalized", "own one-stage answer"),
        rec("q1", "two-stage", "Paris"),
        rec("q1", "ptrue", "Paris"),
        rec("q2", "verbalized", "Rome"),
        rec("q3", "two-stage", None),
        rec("q4", "two-stage", "", request_error="timeout"),
    ]
    p = tmp_path / "samples.jsonl.gz"
    p.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    assert load_answers(p) == {"q1": "Paris", "q2": "Rome"}


# -- eval --answers -------------------------------------------------------------------------------------


@pytest.fixture()
def script(tmp_path) -> Path:
    p = tmp_path / "script.json"
    p.write_text(json.dumps(SCRIPT))
    return p


def examples(n: int = 6):
    return select(get_task("triviaqa").load("eval"), n, 0)


def write_answers(path: Path, exs, extra: int = 0) -> dict[str, str]:
    # right answers (an alias) for even rows, a wrong one for odd rows; verbatim, odd spacing kept
    answers = {e.id: (e.answers[0] if i % 2 == 0 else "  not it ") for i, e in enumerate(exs)}
    rows = [{"id": k, "answer": v} for k, v in answers.items()]
    rows += [{"id": f"other-{i}", "answer": "x"} for i in range(extra)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return answers


def eval_args(script: Path, out: Path, *more: str) -> list[str]:
    return [
        "eval",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--task",
        "triviaqa",
        "--limit",
        "6",
        "--seed",
        "0",
        "--out",
        str(out),
        "--quiet",
        "--resamples",
        "20",
        "--no-plots",
        *more,
    ]


@pytest.fixture()
def generate_calls(monkeypatch):
    """Every (prompt, temperature) the scripted backend is asked to continue."""
    from calbench.backends.scripted import ScriptedBackend

    calls = []
    real = ScriptedBackend.generate

    def spy(self, prompts, **kw):
        calls.extend((p, kw.get("temperature", 0.0)) for p in prompts)
        return real(self, prompts, **kw)

    monkeypatch.setattr(ScriptedBackend, "generate", spy)
    return calls


def test_answers_used_verbatim_and_never_generated(tmp_path, script, generate_calls, capsys):
    exs = examples()
    answers = write_answers(tmp_path / "answers.jsonl", exs, extra=3)
    out = tmp_path / "run"
    rc = main(
        eval_args(
            script,
            out,
            "--method",
            "two-stage,self-consistency",
            "--sc-k",
            "2",
            "--answers",
            str(tmp_path / "answers.jsonl"),
        )
    )
    assert rc == 0
    assert "3 for other questions ignored" in capsys.readouterr().err
    samples = read_samples(out / "samples.jsonl")
    assert len(samples) == 12
    tqa = {e.id: e for e in exs}
    for s in samples:
        assert s["answer"] == answers[s["id"]] and s["answer_given"] is True
        assert s["gold"] == tqa[s["id"]].answers
        assert s["correct"] == int(not s["answer"].startswith(" "))  # the alias is right, "  not it " wrong
        if s["method"] == "two-stage":
            assert s["prompt"]["messages"][1] == {"role": "assistant", "content": f"Answer: {answers[s['id']].strip()}"}
            assert s["confidence"] == pytest.approx(0.7) and s["cost"]["forward_passes"] == 1
        else:  # agreement of the sampled answers with the given one ("generated answer" never agrees)
            assert s["confidence"] == 0.0 and s["sampled_answers"] == ["generated answer"] * 2
    # no greedy stage-1 answer was generated: every answer-prompt call is a temperature>0 consistency sample
    stage1 = [t for p, t in generate_calls if p.assistant_prefix == "Answer:"]
    assert len(stage1) == 6 * 2 and all(t > 0 for t in stage1)
    run = json.loads((out / "run.json").read_text())
    assert run["given_answers"]["path"] == str(tmp_path / "answers.jsonl")
    assert (
        run["given_answers"]["sha256"]
        == __import__("hashlib").sha256((tmp_path / "answers.jsonl").read_bytes()).hexdigest()
    )
    assert (run["given_answers"]["n_used"], run["given_answers"]["n_ignored"]) == (6, 3)


def test_two_stage_with_answers_calls_only_for_confidences(tmp_path, script, generate_calls):
    write_answers(tmp_path / "a.jsonl", examples())
    assert main(eval_args(script, tmp_path / "run", "--answers", str(tmp_path / "a.jsonl"))) == 0
    assert len(generate_calls) == 6 and all(p.assistant_prefix == "Confidence: " for p, _ in generate_calls)


def test_previous_samples_file_as_answers_gz(tmp_path, script):
    first = tmp_path / "first"
    assert main(eval_args(script, first, "--method", "verbalized,two-stage")) == 0
    gz = tmp_path / "samples.jsonl.gz"
    gz.write_bytes(gzip.compress((first / "samples.jsonl").read_bytes()))
    assert main(eval_args(script, tmp_path / "second", "--answers", str(gz))) == 0
    before = {s["id"]: s["answer"] for s in read_samples(first / "samples.jsonl") if s["method"] == "two-stage"}
    after = {s["id"]: s["answer"] for s in read_samples(tmp_path / "second" / "samples.jsonl")}
    assert after == before == {k: "generated answer" for k in before}


def test_missing_ids_exit_2_naming_them(tmp_path, script, capsys):
    exs = examples()
    write_answers(tmp_path / "a.jsonl", exs[:1])
    out = tmp_path / "run"
    assert main(eval_args(script, out, "--answers", str(tmp_path / "a.jsonl"))) == 2
    err = capsys.readouterr().err
    assert "no answer for 5 of the 6 questions" in err
    assert all(e.id in err for e in exs[1:]) and not (out / "samples.jsonl").exists()


def test_verbalized_refused_before_anything_runs(tmp_path, script, capsys, generate_calls):
    write_answers(tmp_path / "a.jsonl", examples())
    out = tmp_path / "run"
    assert main(eval_args(script, out, "--method", "two-stage,verbalized", "--answers", str(tmp_path / "a.jsonl"))) == 2
    assert "verbalized" in capsys.readouterr().err and not out.exists() and not generate_calls


def test_identity_changes_with_the_answers_file(tmp_path, script, capsys):
    exs = examples()
    write_answers(tmp_path / "a.jsonl", exs)
    b = tmp_path / "b.jsonl"
    b.write_text("".join(json.dumps({"id": e.id, "answer": "something else"}) + "\n" for e in exs))
    out = tmp_path / "run"
    assert main(eval_args(script, out, "--answers", str(tmp_path / "a.jsonl"))) == 0
    shutil.copy(tmp_path / "a.jsonl", tmp_path / "a_copy.jsonl")  # same content, other path: the same run
    assert main(eval_args(script, out, "--answers", str(tmp_path / "a_copy.jsonl"))) == 0
    capsys.readouterr()
    assert main(eval_args(script, out, "--answers", str(b))) == 2
    err = capsys.readouterr().err
    assert "different run" in err and "answers_sha256" in err
    assert main(eval_args(script, out)) == 2  # nor without answers
    assert main(eval_args(script, tmp_path / "plain")) == 0
    assert main(eval_args(script, tmp_path / "plain", "--answers", str(b))) == 2


def test_old_samples_without_gold_still_score(tmp_path, script):
    out = tmp_path / "run"
    assert main(eval_args(script, out)) == 0
    old = tmp_path / "old.jsonl"
    old.write_text(
        "".join(
            json.dumps({k: v for k, v in s.items() if k not in ("gold", "answer_given")}) + "\n"
            for s in read_samples(out / "samples.jsonl")
        )
    )
    assert main(["score", str(old), "--resamples", "10"]) == 0
    assert load_answers(old)  # and serves as an answers file


# -- logit methods with given answers (tiny random-init model) ---------------------------------------------


def test_seq_likelihood_of_given_answer_is_one_forward_pass(tiny_model_dir, tmp_path):
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from calbench.backends.hf import HFBackend
    from calbench.elicit import answer_prompt, render
    from calbench.runner import EvalSettings, evaluate

    torch.set_num_threads(1)
    backend = HFBackend(tiny_model_dir, device="cpu", batch_size=2)
    calls = []
    real = backend.generate
    backend.generate = lambda prompts, **kw: calls.extend(prompts) or real(prompts, **kw)
    task = get_task("triviaqa")
    exs = examples(3)
    given = {exs[0].id: "Octopussy", exs[1].id: exs[1].answers[0], exs[2].id: ""}
    man = evaluate(
        task,
        exs,
        backend,
        EvalSettings(
            methods=["seq-likelihood-mean", "seq-likelihood-prod", "two-stage", "expected", "ptrue"],
            split="eval",
            n_resamples=10,
            plots=False,
            answers=given,
            answers_file={"path": "x", "sha256": "0"},
        ),
        tmp_path,
        model_name="tiny",
        progress=False,
    )
    assert man["given_answers"]["n_used"] == 3
    assert all(p.assistant_prefix == "Confidence: " for p in calls)  # only two-stage's confidences
    samples = read_samples(tmp_path / "samples.jsonl")
    assert {s["answer"] for s in samples} == set(given.values())
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    for e in exs[:2]:
        prompt_ids = tok(render(tok, answer_prompt(e, "open")), add_special_tokens=False)["input_ids"]
        ans_ids = tok(" " + given[e.id], add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            lp = model(torch.tensor([prompt_ids + ans_ids])).logits[0].double().log_softmax(-1)
        want = [float(lp[len(prompt_ids) - 1 + k, t]) for k, t in enumerate(ans_ids)]
        mean = next(s for s in samples if s["id"] == e.id and s["method"] == "seq-likelihood-mean")
        prod = next(s for s in samples if s["id"] == e.id and s["method"] == "seq-likelihood-prod")
        assert mean["n_answer_tokens"] == len(ans_ids) and mean["cost"]["forward_passes"] == 1
        assert mean["confidence"] == pytest.approx(math.exp(sum(want) / len(want)), rel=1e-4)
        assert prod["confidence"] == pytest.approx(math.exp(sum(want)), rel=1e-4)
    empty = next(s for s in samples if s["id"] == exs[2].id and s["method"] == "seq-likelihood-mean")
    assert not empty["parse_ok"] and empty["confidence"] is None
    ptrue = next(s for s in samples if s["id"] == exs[0].id and s["method"] == "ptrue")
    assert "Proposed answer: Octopussy" in ptrue["prompt"]["messages"][0]["content"]


def test_an_answer_holding_a_unicode_line_separator_stays_one_line(tmp_path):
    """JSON lines written with ensure_ascii=False keep U+0085 / U+2028 raw inside strings; only "\\n" ends a line."""
    p = tmp_path / "a.jsonl"
    p.write_text(
        json.dumps({"id": "q1", "answer": "A short history of\u0085 in Ukrainian"}, ensure_ascii=False)
        + "\n"
        + json.dumps({"id": "q2", "answer": "two\u2028lines"}, ensure_ascii=False)
        + "\r\n",
        encoding="utf-8",
    )
    assert load_answers(p) == {"q1": "A short history of\u0085 in Ukrainian", "q2": "two\u2028lines"}


def test_a_thinned_scaled_runs_samples_are_read_as_answers(tmp_path):
    from calbench.cli import main
    from calbench.records import DERIVED_SAMPLES_FILE, read_run_samples
    from calbench.reporting.files import thin_derived_runs
    from tests.helpers import make_run

    y = [i % 3 == 0 for i in range(30)]
    make_run(tmp_path / "cal", ids=[f"c{i}" for i in range(30)], correct=y, conf=[0.8 if v else 0.2 for v in y])
    test = make_run(tmp_path / "test", ids=[f"q{i}" for i in range(30)], correct=y, conf=[0.8 if v else 0.2 for v in y])
    out = tmp_path / "scaled"
    assert main(["calibrate", "--fit", str(tmp_path / "cal"), "--apply", str(test), "--out", str(out)]) == 0
    assert thin_derived_runs([tmp_path])
    table = load_answers(out / DERIVED_SAMPLES_FILE)
    assert table == {s["id"]: s["answer"] for s in read_run_samples(test)}


# -- eval --answers --answers-verbatim --------------------------------------------------------------------

#: a model whose stage-1 reply the parse changes: the trailing full stop is dropped from the answer
PERIOD_SCRIPT = {"replies": [{"match": "How confident", "reply": "7"}], "default": " The answer is Paris."}


def test_load_replies_gives_the_reply_of_the_sample_the_answer_comes_from(tmp_path):
    from calbench.answers import load_replies

    first = tmp_path / "script.json"
    first.write_text(json.dumps(PERIOD_SCRIPT))
    assert main(eval_args(first, tmp_path / "first", "--method", "verbalized,two-stage")) == 0
    answers = load_answers(tmp_path / "first" / "samples.jsonl")
    replies = load_replies(tmp_path / "first" / "samples.jsonl")
    assert set(replies) == set(answers) and len(replies) == 6
    # the parsed answer lost the full stop; the reply is what the model generated, leading space and all
    assert set(answers.values()) == {"The answer is Paris"} and set(replies.values()) == {" The answer is Paris."}


def test_load_replies_refuses_an_answers_table_and_a_sample_without_a_reply(tmp_path):
    from calbench.answers import load_replies

    table = tmp_path / "a.jsonl"
    write_answers(table, examples())
    with pytest.raises(DataError, match=r"a\.jsonl: --answers-verbatim needs a run's samples"):
        load_replies(table)
    row = {
        "id": "q1",
        "task": "t",
        "model": "m",
        "method": "seq-likelihood-mean",
        "prompt": None,
        "raw_output": "",
        "answer": "Paris",
        "confidence": 0.5,
        "parse_ok": True,
        "correct": 0,
        "judge": "j",
    }
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"samples\.jsonl: 1 question\(s\) have an answer but no recorded 'answer_out"):
        load_replies(samples)


def test_verbatim_continues_the_conversation_of_the_source_run(tmp_path):
    period = tmp_path / "script.json"
    period.write_text(json.dumps(PERIOD_SCRIPT))
    first = tmp_path / "first"
    assert main(eval_args(period, first, "--method", "two-stage")) == 0
    source = {s["id"]: s for s in read_samples(first / "samples.jsonl")}
    given = str(first / "samples.jsonl")
    assert main(eval_args(period, tmp_path / "parsed", "--answers", given)) == 0
    assert main(eval_args(period, tmp_path / "verbatim", "--answers", given, "--answers-verbatim")) == 0
    parsed = {s["id"]: s for s in read_samples(tmp_path / "parsed" / "samples.jsonl")}
    verbatim = {s["id"]: s for s in read_samples(tmp_path / "verbatim" / "samples.jsonl")}
    assert set(parsed) == set(verbatim) == set(source)
    for i, s in source.items():
        # the parsed answer drops the full stop, so its conversation is not the source run's; verbatim's is
        assert parsed[i]["prompt"] != s["prompt"]
        assert parsed[i]["prompt"]["messages"][1]["content"] == "Answer: The answer is Paris"
        assert verbatim[i]["prompt"] == s["prompt"]
        # the answer judged, and so the label, is the same in all three
        assert verbatim[i]["answer"] == parsed[i]["answer"] == s["answer"] == "The answer is Paris"
        assert verbatim[i]["correct"] == parsed[i]["correct"] == s["correct"]
    run = json.loads((tmp_path / "verbatim" / "run.json").read_text())
    assert run["given_answers"]["verbatim"] is True
    assert "verbatim" not in json.loads((tmp_path / "parsed" / "run.json").read_text())["given_answers"]


def test_verbatim_is_part_of_the_runs_identity_and_needs_answers(tmp_path, capsys):
    period = tmp_path / "script.json"
    period.write_text(json.dumps(PERIOD_SCRIPT))
    assert main(eval_args(period, tmp_path / "first", "--method", "two-stage")) == 0
    given = str(tmp_path / "first" / "samples.jsonl")
    out = tmp_path / "run"
    assert main(eval_args(period, out, "--answers", given)) == 0
    capsys.readouterr()
    assert main(eval_args(period, out, "--answers", given, "--answers-verbatim")) == 2
    err = capsys.readouterr().err
    assert "different run" in err and "answers_verbatim" in err
    assert main(eval_args(period, tmp_path / "none", "--answers-verbatim")) == 2
    assert "--answers-verbatim applies with --answers FILE" in capsys.readouterr().err
