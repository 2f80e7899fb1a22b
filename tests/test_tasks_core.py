"""TriviaQA and SciQ adapters over the bundled data; malformed rows name file and line."""

import gzip

import pytest

from calbench.judge import judge_for, normalize_answer
from calbench.records import DataError
from calbench.tasks import TaskError, get_task
from tasks._common import read_blocks


def test_triviaqa_splits():
    t = get_task("triviaqa")
    ev, tr = t.load("eval"), t.load("train")
    assert len(ev) == 11313 and 8800 <= len(tr) < 8837  # DPR test = unfiltered validation; DPR dev
    assert len({e.id for e in ev}) == len(ev) and len({e.id for e in tr}) == len(tr)
    assert ev[0].id == "tqa-dpr-test-0" and ev[0].question == "Who was the man behind The Chipmunks?"
    assert all(e.id.startswith("tqa-dpr-dev-") for e in tr)
    assert all(len(e.answers) >= 1 and all(a.strip() for a in e.answers) for e in ev + tr)
    assert sum(len(e.answers) > 1 for e in ev) > 9000  # full alias lists, not one answer.value
    assert t.group == "in_domain" and t.kind == "open" and t.train_split == "train"
    assert "CC BY-NC 4.0" in t.license and "anserini" in t.source


def test_triviaqa_rita_coolidge_accepts_octopussy():
    ev = get_task("triviaqa").load("eval")
    [e] = [e for e in ev if e.question == "Rita Coolidge sang the title song for which Bond film?"]
    judge = judge_for("open")
    assert judge("Octopussy", e) and judge("octopussy.", e) and not judge("Moonraker", e)


def test_triviaqa_train_and_eval_disjoint_after_normalisation():
    t = get_task("triviaqa")
    ev, tr = t.load("eval"), t.load("train")
    assert not {normalize_answer(e.question) for e in ev} & {normalize_answer(e.question) for e in tr}
    # exactly the DPR dev rows whose question is an eval question up to case/punctuation were dropped
    assert len(tr) == 8837 - 8
    kept_rows = {e.meta["row"] for e in tr}
    assert len(kept_rows) == len(tr) and max(kept_rows) == 8836


def test_dpr_format_quoting_crlf_and_literal_lists(tmp_path):
    from tasks.triviaqa import read_dpr

    rows = (
        "Plain question?\t['One', \"Two's\"]\r\n"
        '"Who wrote ""Daffodils""?"\t[\'Wordsworth\', \'William Wordsworth\']\r\n'
        "Ends in a tab-free, comma, question, yes?\t[\"It's\", 'x']\r\n"
    )
    path = tmp_path / "dpr.txt.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(rows.encode())
    got = read_dpr(path)
    assert got == [
        (0, "Plain question?", ["One", "Two's"]),
        (1, 'Who wrote "Daffodils"?', ["Wordsworth", "William Wordsworth"]),
        (2, "Ends in a tab-free, comma, question, yes?", ["It's", "x"]),
    ]
    plain = tmp_path / "dpr.txt"
    plain.write_bytes(rows.encode())
    assert read_dpr(plain) == got


@pytest.mark.parametrize(
    "row, message",
    [
        ("Q?\t['a']\textra\r\n", "expected 2 tab-separated fields"),
        ("Q?\tnot a list\r\n", "not a Python list literal"),
        ("Q?\t[1, 2]\r\n", "must be a list of strings"),
        ("Q?\t[]\r\n", "no alias"),
    ],
)
def test_dpr_bad_row_names_file_and_line(tmp_path, row, message):
    from tasks.triviaqa import read_dpr

    path = tmp_path / "bad.txt"
    path.write_bytes(("Good?\t['yes']\r\n" + row).encode())
    with pytest.raises(DataError, match=rf"bad\.txt:2: .*{message}"):
        read_dpr(path)


def test_sciq_splits():
    t = get_task("sciq")
    sizes = {s: len(t.load(s)) for s in t.splits}
    assert sizes == {"train": 11651, "validation": 1000, "test": 1000}
    e = t.load("test")[0]
    assert e.answers == ["oxidants"] and e.choices is None


def test_sciq_train_holds_no_evaluation_question():
    from calbench.judge import normalize_answer

    t = get_task("sciq")
    held_out = {normalize_answer(e.question) for s in ("test", "validation") for e in t.load(s)}
    train = t.load("train")
    assert not [e.id for e in train if normalize_answer(e.question) in held_out]
    # ids are the file's rows, so they skip the dropped ones: 28 rows of 11,679 are missing
    rows = sorted(int(e.id.rsplit("-", 1)[1]) for e in train)
    assert rows[-1] == 11678 and len(set(range(11679)) - set(rows)) == 28


def test_unknown_split_and_source():
    with pytest.raises(TaskError, match="has no split 'dev'; it has: eval, train"):
        get_task("triviaqa").load("dev")
    with pytest.raises(TaskError, match="unknown data source"):
        get_task("triviaqa").load("eval", source="ftp")


def test_malformed_block_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt.gz"
    with gzip.open(bad, "wt") as fh:
        fh.write("Question one?\nanswer one\n\nQuestion two?\nanswer two\nstray third line\n")
    with pytest.raises(DataError, match=r"bad\.txt\.gz:4: expected a block of 2 lines, got 3"):
        list(read_blocks(bad))
