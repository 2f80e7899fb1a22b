"""TriviaQA and SciQ adapters over the bundled data; malformed rows name file and line."""

import gzip
import json

import pytest

from calbench.records import DataError
from calbench.tasks import TaskError, get_task
from tasks._common import read_blocks


def test_triviaqa_splits():
    t = get_task("triviaqa")
    ev, tr = t.load("eval"), t.load("train")
    assert len(ev) == 2000 and len(tr) == 9961
    assert len({e.id for e in ev}) == 2000 and len({e.question for e in tr}) == 9961
    assert all(len(e.answers) >= 1 for e in ev) and sum(len(e.answers) > 1 for e in ev) > 1500
    assert all(len(e.answers) == 1 for e in tr)
    assert ev[0].question.startswith("Which American-born Sinclair") and "Sinclair Lewis" in ev[0].answers
    assert t.group == "in_domain" and t.kind == "open" and t.train_split == "train"
    # the evaluation questions are not in the training pool
    assert not {e.question for e in ev} & {e.question for e in tr}


def test_sciq_splits():
    t = get_task("sciq")
    sizes = {s: len(t.load(s)) for s in t.splits}
    assert sizes == {"train": 11679, "validation": 1000, "test": 1000}
    e = t.load("test")[0]
    assert e.answers == ["oxidants"] and e.choices is None


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


def test_malformed_json_row_names_file_and_line(tmp_path, monkeypatch):
    import tasks.triviaqa as tq

    data = tmp_path / "data"
    data.mkdir()
    with gzip.open(data / "rc_train_first2000_aliases.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"question_id": 0, "turns": ["Q?"], "answer": ["A"]}) + "\n")
        fh.write(json.dumps({"question_id": 1, "turns": ["Q2?"]}) + "\n")
    monkeypatch.setattr(tq, "HERE", tmp_path)
    with pytest.raises(DataError, match=r"rc_train_first2000_aliases\.jsonl\.gz:2: missing field 'answer'"):
        tq.load_bundled("eval")
