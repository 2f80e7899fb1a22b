"""Bring-your-own-dataset: CSV / JSON lines / JSON files with arbitrary field names become tasks."""

from __future__ import annotations

import collections
import csv
import gzip
import json
import re

import pytest
from scipy.stats import chisquare

from calbench.judge import judge_for
from calbench.records import DataError
from calbench.tasks import TaskError, all_tasks
from calbench.userdata import load_user_dataset

LETTERS = "ABCDEFGHIJ"


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_csv_with_unusual_column_names_multiple_choice(tmp_path):
    header = ["Prompt Text", "Opts", "Key", "Ref#"]
    builtin_fields = {
        "question",
        "answer",
        "choices",
        "answerKey",
        "options",
        "answer_idx",
        "id",
        "Question",
        "Best Answer",
        "correct_answer",
        "turns",
        "question_id",
        "realidx",
    }
    assert not builtin_fields & set(header)
    path = write_csv(
        tmp_path / "my quiz.csv",
        header,
        [
            ["Capital of France?", "Paris|Rome|Berlin|Madrid", "A", "q1"],  # letter
            ["2 + 2 = ?", "3;4;5", "1", "q2"],  # 0-based index, ';' separated
            ["Largest planet?", "Mars | Jupiter | Venus", "jupiter", "q3"],  # option text, case-insensitive
        ],
    )
    spec = load_user_dataset(
        path, question_field="Prompt Text", answer_field="Key", choices_field="Opts", id_field="Ref#"
    )
    assert spec.name == "user:my quiz" and spec.kind == "mc"
    assert spec.splits == ("all",) and spec.default_split == "all"
    assert spec.name not in all_tasks()
    examples = spec.load()
    assert [e.id for e in examples] == ["q1", "q2", "q3"]
    truth = ["Paris", "4", "Jupiter"]
    for e, t in zip(examples, truth):
        assert e.task == spec.name and e.split == "all"
        assert e.choices[LETTERS.index(e.answers[0])] == t
    assert sorted(examples[0].choices) == sorted(["Paris", "Rome", "Berlin", "Madrid"])
    assert examples[1].meta["line"] == 3
    judge = judge_for("mc")
    assert judge(f"Answer: {examples[0].answers[0]}", examples[0])


def test_csv_options_in_separate_columns_and_seeded_order(tmp_path):
    rows = [[f"Question {i}?", f"w{i}", f"x{i}", f"y{i}", f"z{i}", "C"] for i in range(400)]
    path = write_csv(tmp_path / "mmlu_like.csv", ["Stem", "O1", "O2", "O3", "O4", "Gold"], rows)
    kwargs = dict(question_field="Stem", answer_field="Gold", choices_field=["O1", "O2", "O3", "O4"])
    examples = load_user_dataset(path, **kwargs).load()
    assert all(e.choices[LETTERS.index(e.answers[0])] == f"y{i}" for i, e in enumerate(examples))
    letters = collections.Counter(e.answers[0] for e in examples)
    assert chisquare([letters[x] for x in "ABCD"]).pvalue > 1e-3  # source answers all "C"; shown balanced
    again = load_user_dataset(path, **kwargs).load()
    assert [e.choices for e in again] == [e.choices for e in examples]
    other_seed = load_user_dataset(path, **kwargs, seed=1).load()
    assert [e.choices for e in other_seed] != [e.choices for e in examples]
    unshuffled = load_user_dataset(path, **kwargs, shuffle=False).load()
    assert {e.answers[0] for e in unshuffled} == {"C"} and unshuffled[0].choices == ["w0", "x0", "y0", "z0"]


def test_missing_csv_column_lists_the_columns(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["Prompt Text", "Gold Label", "Notes"], [["q", "a", "n"]])
    with pytest.raises(DataError) as err:
        load_user_dataset(path, question_field="question", answer_field="Gold Label")
    msg = str(err.value)
    assert str(path) in msg and "'question'" in msg and "question field" in msg
    assert "'Prompt Text', 'Gold Label', 'Notes'" in msg  # quoted: stray spaces or BOMs show
    with pytest.raises(DataError, match=r"choices field 'opts' is not a column .*'Prompt Text', 'Gold Label', 'Notes'"):
        load_user_dataset(path, question_field="Prompt Text", answer_field="Gold Label", choices_field="opts")


def test_jsonl_open_ended_with_aliases(tmp_path):
    path = tmp_path / "trivia.jsonl"
    path.write_text(
        json.dumps({"q": "Who wrote Hamlet?", "gold": "Shakespeare | William Shakespeare"})
        + "\n\n"
        + json.dumps({"q": "Largest ocean?", "gold": ["Pacific", "Pacific Ocean"]})
        + "\n",
        encoding="utf-8",
    )
    spec = load_user_dataset(path, question_field="q", answer_field="gold", alias_sep="|", name="mytrivia")
    assert spec.name == "mytrivia" and spec.kind == "open"
    a, b = spec.load()
    assert a.answers == ["Shakespeare", "William Shakespeare"] and a.choices is None
    assert b.answers == ["Pacific", "Pacific Ocean"] and b.meta["line"] == 3
    assert [a.id, b.id] == ["trivia-0", "trivia-1"]
    judge = judge_for("open")
    assert judge("william shakespeare", a) and not judge("Marlowe", a)


def test_jsonl_missing_field_names_file_line_and_fields(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"q": "a?", "gold": "x"}\n{"q": "b?", "answer": "y"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(f"{path}:2: missing answer field 'gold'; fields present: q, answer")):
        load_user_dataset(path, question_field="q", answer_field="gold")


def test_json_list_and_data_wrapper_numeric(tmp_path):
    rows = [
        {"problem": "3 * 4?", "solution": "12"},
        {"problem": "1000 + 500?", "solution": "1,500"},
        {"problem": "half of 5?", "solution": 2.5},
    ]
    for layout in (rows, {"data": rows}):
        path = tmp_path / "math.json"
        path.write_text(json.dumps(layout), encoding="utf-8")
        spec = load_user_dataset(path, question_field="problem", answer_field="solution", kind="numeric")
        assert spec.kind == "numeric"
        assert [e.answers for e in spec.load()] == [["12"], ["1500"], ["2.5"]]
    judge = judge_for("numeric")
    assert judge("It is 1,500.", spec.load()[1])
    path.write_text(json.dumps([{"problem": "?", "solution": "many"}]), encoding="utf-8")
    with pytest.raises(DataError, match=r"math\.json: item 0: answer 'many' is not a number"):
        load_user_dataset(path, question_field="problem", answer_field="solution", kind="numeric")
    path.write_text(json.dumps([{"problem": "?"}]), encoding="utf-8")
    with pytest.raises(DataError, match=r"item 0: missing answer field 'solution'; fields present: problem"):
        load_user_dataset(path, question_field="problem", answer_field="solution")


def test_json_multiple_choice_list_and_int_index(tmp_path):
    path = tmp_path / "mc.json.gz"
    data = [{"id": 7, "text": "Pick two", "options": ["one", "two", "three"], "label": 1}]
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    (e,) = load_user_dataset(
        path, question_field="text", answer_field="label", choices_field="options", id_field="id"
    ).load()
    assert e.id == "7" and e.choices[LETTERS.index(e.answers[0])] == "two"


def test_ambiguous_and_invalid_answers(tmp_path):
    path = write_csv(tmp_path / "nums.csv", ["q", "opts", "a"], [["Which is 1?", "1|2|3", "1"]])
    kw = dict(question_field="q", answer_field="a", choices_field="opts")
    with pytest.raises(DataError, match=r"nums\.csv:2: answer '1' is ambiguous .*answer_format"):
        load_user_dataset(path, **kw)
    (e,) = load_user_dataset(path, **kw, answer_format="text").load()
    assert e.choices[LETTERS.index(e.answers[0])] == "1"
    (e,) = load_user_dataset(path, **kw, answer_format="index").load()
    assert e.choices[LETTERS.index(e.answers[0])] == "2"  # 0-based index 1
    path = write_csv(tmp_path / "same.csv", ["q", "opts", "a"], [["Which is 1?", "0|1|2", "1"]])
    (e,) = load_user_dataset(path, **kw).load()  # as text and as index the same option: not ambiguous
    assert e.choices[LETTERS.index(e.answers[0])] == "1"
    path = write_csv(tmp_path / "bad.csv", ["q", "opts", "a"], [["Q?", "x|y", "Z"]])
    with pytest.raises(DataError, match=r"bad\.csv:2: answer 'Z' is neither a letter A-B"):
        load_user_dataset(path, **kw)
    path = write_csv(tmp_path / "one.csv", ["q", "opts", "a"], [["Q?", "only", "A"]])
    with pytest.raises(DataError, match=r"one\.csv:2: need at least 2 choices"):
        load_user_dataset(path, **kw)


def test_bad_arguments_and_files(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["q", "a"], [["Q?", "A"], ["Q2?", "B"]])
    with pytest.raises(TaskError, match="kind must be one of"):
        load_user_dataset(path, question_field="q", answer_field="a", kind="essay")
    with pytest.raises(TaskError, match="multiple choice needs choices_field"):
        load_user_dataset(path, question_field="q", answer_field="a", kind="mc")
    with pytest.raises(DataError, match="unsupported file type '.txt'"):
        (tmp_path / "d.txt").write_text("x")
        load_user_dataset(tmp_path / "d.txt", question_field="q", answer_field="a")
    with pytest.raises(DataError, match="no such file"):
        load_user_dataset(tmp_path / "missing.csv", question_field="q", answer_field="a")
    dup = write_csv(tmp_path / "dup.csv", ["k", "q", "a"], [["1", "Q?", "A"], ["1", "Q2?", "B"]])
    with pytest.raises(DataError, match=r"dup\.csv:3: id '1' repeats \(first at .*dup\.csv:2\)"):
        load_user_dataset(dup, question_field="q", answer_field="a", id_field="k")
    empty = write_csv(tmp_path / "empty.csv", ["q", "a"], [])
    with pytest.raises(DataError, match="no rows"):
        load_user_dataset(empty, question_field="q", answer_field="a")
    blank = write_csv(tmp_path / "blank.csv", ["q", "a"], [["Q?", ""]])
    with pytest.raises(DataError, match=r"blank\.csv:2: answer field 'a' is empty"):
        load_user_dataset(blank, question_field="q", answer_field="a")


# -- messy files (issue 16): BOMs, encodings, quotes --------------------------------------------------------
def test_csv_with_excel_bom_reads_its_first_column(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffquestion,gold\nWhat is the capital of France?,Paris\n".encode("utf-8"))
    task = load_user_dataset(path, question_field="question", answer_field="gold")
    assert task.load("all")[0].question == "What is the capital of France?"
    with pytest.raises(DataError) as e:
        load_user_dataset(path, question_field="prompt", answer_field="gold")
    assert "'question', 'gold'" in str(e.value) and "\ufeff" not in str(e.value)


def test_non_utf8_csv_and_jsonl_name_file_and_line(tmp_path):
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes("q,a\nWhat?,yes\nCaf\u00e9?,oui\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.csv:3: not UTF-8"):
        load_user_dataset(csv_path, question_field="q", answer_field="a")
    jl = tmp_path / "latin1.jsonl"
    jl.write_bytes('{"q": "a", "a": "b"}\n{"q": "caf\u00e9", "a": "b"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.jsonl:2: not UTF-8"):
        load_user_dataset(jl, question_field="q", answer_field="a")


def test_unclosed_quote_names_the_line_where_it_opens(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('q,a\nWhat is 1?,one\n"What is 2?,two\nWhat is 3?,three\nWhat is 4?,four\n')
    with pytest.raises(DataError) as e:
        load_user_dataset(path, question_field="q", answer_field="a")
    msg = str(e.value)
    assert "quote.csv:3:" in msg and "never closed" in msg and "empty" not in msg


def test_short_row_names_the_missing_column_not_an_empty_answer(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("q,a\nWhat is 1?,one\nWhat is 2?\n")
    with pytest.raises(DataError) as e:
        load_user_dataset(path, question_field="q", answer_field="a")
    assert "short.csv:3: 1 value(s) for the 2 columns" in str(e.value) and "'a'" in str(e.value)


def test_bad_user_file_through_eval_is_one_line_exit_2(tmp_path, capsys):
    from calbench.cli import main

    path = tmp_path / "latin1.csv"
    path.write_bytes("q,a\nCaf\u00e9?,oui\n".encode("latin-1"))
    assert (
        main(
            ["eval", "--data", str(path), "--question-field", "q", "--answer-field", "a", "--out", str(tmp_path / "o")]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "latin1.csv:2" in err
    assert not (tmp_path / "o").exists()
