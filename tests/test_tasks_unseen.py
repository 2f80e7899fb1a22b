"""The unseen-domain task adapters: counts, fields, seeded and balanced option order, answer formats, errors.

References are independent of the adapters: the counts documented in PROVENANCE.md, the raw bundled files
re-read here with the standard library, a chi-square test for letter balance, and a fresh interpreter with a
different hash seed for determinism.
"""

from __future__ import annotations

import collections
import csv
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import string
import subprocess
import sys
import tarfile
from functools import lru_cache
from pathlib import Path

import pytest
from scipy.stats import chisquare

from calbench.judge import judge_for
from calbench.records import DataError, Example
from calbench.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "tasks"
LETTERS = string.ascii_uppercase

# (task, split) -> number of questions: the source row counts (PROVENANCE.md), or the documented subset size.
COUNTS = {
    ("medqa", "test"): 1273,
    ("commonsenseqa", "validation"): 1221,
    ("commonsenseqa", "train"): 9741,
    ("mmlu", "test"): 57 * 50,
    ("mmlu", "validation"): 1531,
    ("mmlu", "dev"): 285,
    ("arc_challenge", "test"): 1172,
    ("arc_challenge", "train"): 1056,
    ("openbookqa", "test"): 500,
    ("truthfulqa_mc", "validation"): 817,
    ("truthfulqa_gen", "validation"): 817,
    ("nq_open", "dev"): 3610,
    ("nq_open", "efficientqa_dev"): 1800,
    ("nq_open", "efficientqa_test"): 1769,
    ("gsm8k", "test"): 1319,
}
KIND = {
    "medqa": "mc",
    "commonsenseqa": "mc",
    "mmlu": "mc",
    "arc_challenge": "mc",
    "openbookqa": "mc",
    "truthfulqa_mc": "mc",
    "truthfulqa_gen": "open",
    "nq_open": "open",
    "gsm8k": "numeric",
}
N_CHOICES = {
    "medqa": {4},
    "commonsenseqa": {5},
    "mmlu": {4},
    "arc_challenge": {3, 4, 5},
    "openbookqa": {4},
    "truthfulqa_mc": {2, 3, 4},
}


@lru_cache(maxsize=None)
def load(task: str, split: str) -> tuple[Example, ...]:
    return tuple(get_task(task).load(split))


def raw_jsonl(path: Path) -> list[dict]:
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --- specs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", sorted(KIND))
def test_spec(task):
    spec = get_task(task)
    assert spec.group == "unseen"
    assert spec.kind == KIND[task]
    assert set(spec.splits) == {s for t, s in COUNTS if t == task}
    assert spec.default_split in spec.splits
    assert spec.train_split is None or spec.train_split in spec.splits
    assert spec.description and spec.source and spec.license and spec.hub_id
    assert callable(spec.load_hub)
    assert spec.folder == TASKS / task and (spec.folder / "PROVENANCE.md").exists()


# --- counts and fields -------------------------------------------------------------------------------------


@pytest.mark.parametrize("task,split", sorted(COUNTS))
def test_counts_fields_ids(task, split):
    examples = load(task, split)
    assert len(examples) == COUNTS[(task, split)]
    assert len({e.id for e in examples}) == len(examples)
    for e in examples:
        assert e.task == task and e.split == split
        assert isinstance(e.question, str) and e.question.strip() == e.question and e.question
        assert e.answers and all(isinstance(a, str) and a.strip() for a in e.answers)
        if KIND[task] == "mc":
            assert len(e.choices) in N_CHOICES[task]
            assert len(e.answers) == 1 and e.answers[0] in LETTERS[: len(e.choices)]
            assert all(isinstance(c, str) and c.strip() for c in e.choices)
            # the shown order is a permutation of the original, and the letter points at the correct text
            order = e.meta["order"]
            assert sorted(order) == list(range(len(e.choices)))
            assert e.choices == [e.meta["original_choices"][i] for i in order]
            assert e.choices[LETTERS.index(e.answers[0])] == e.meta["correct_text"]
            assert e.meta["original_choices"][LETTERS.index(e.meta["original_answer"])] == e.meta["correct_text"]
        else:
            assert e.choices is None


# --- multiple choice: the correct option is the source's, order seeded and balanced --------------------------


def _letters_by_size(examples):
    by_size = collections.defaultdict(collections.Counter)
    for e in examples:
        by_size[len(e.choices)][e.answers[0]] += 1
    return by_size


@pytest.mark.parametrize("task,split", sorted(k for k in COUNTS if KIND[k[0]] == "mc"))
def test_correct_letter_is_balanced(task, split):
    """Over a split the correct letter is uniform (chi-square per number of options, where there are enough)."""
    for n, counts in _letters_by_size(load(task, split)).items():
        total = sum(counts.values())
        if total < 20 * n:
            continue
        observed = [counts.get(LETTERS[k], 0) for k in range(n)]
        assert chisquare(observed).pvalue > 1e-3, (task, split, n, observed)


def test_balance_check_detects_unshuffled_letters():
    """The same check rejects an unshuffled order (TruthfulQA lists the best answer first) and a mild skew."""
    original = collections.Counter(e.meta["original_answer"] for e in load("truthfulqa_mc", "validation"))
    assert original == {"A": 817}
    assert chisquare([300, 300, 300, 200]).pvalue < 1e-3


@pytest.mark.parametrize(
    "task,split",
    [("medqa", "test"), ("commonsenseqa", "validation"), ("arc_challenge", "test"), ("openbookqa", "test")],
)
def test_letter_points_at_the_source_answer(task, split):
    """Re-read the bundled JSON lines here and compare the correct option's text with the letter's option."""
    files = {
        "medqa": "test.jsonl.xz",
        "commonsenseqa": "dev_rand_split.jsonl.xz",
        "arc_challenge": "test.jsonl.xz",
        "openbookqa": "test.jsonl.xz",
    }
    rows = raw_jsonl(TASKS / task / "data" / files[task])
    examples = load(task, split)
    assert len(rows) == len(examples)
    for row, e in zip(rows, examples):
        if task == "medqa":
            question, truth, options = row["question"], row["answer"], list(row["options"].values())
        elif task == "arc_challenge":
            question, options = row["question"], row["choices"]["text"]
            truth = options[row["choices"]["label"].index(row["answerKey"])]
        else:
            question, options = row["question"]["stem"], [c["text"] for c in row["question"]["choices"]]
            truth = {c["label"]: c["text"] for c in row["question"]["choices"]}[row["answerKey"]]
        assert e.question == question.strip()
        assert sorted(e.choices) == sorted(o.strip() for o in options)
        assert e.choices[LETTERS.index(e.answers[0])] == truth.strip()


def test_shuffle_moves_options():
    """The order is really shuffled: about (n!-1)/n! of the questions are not in their source order."""
    examples = load("commonsenseqa", "validation")
    moved = sum(e.meta["order"] != list(range(5)) for e in examples)
    assert moved / len(examples) > 0.95


def test_choice_judge_on_shuffled_options():
    judge = judge_for("mc")
    e = load("medqa", "test")[0]
    wrong = next(x for x in LETTERS[:4] if x != e.answers[0])
    assert judge(f"Answer: {e.answers[0]}", e)
    assert not judge(f"Answer: {wrong}", e)


_DIGEST_CODE = """
import hashlib, json, sys
from calbench.tasks import get_task
h = hashlib.sha256()
for task, split in json.loads(sys.argv[1]):
    for e in get_task(task).load(split):
        h.update(json.dumps([e.id, e.answers, e.choices]).encode())
print(h.hexdigest())
"""


def test_option_order_is_deterministic_across_processes():
    """Same shown order in fresh interpreters with different hash seeds (so no use of the salted hash())."""
    pairs = [["medqa", "test"], ["truthfulqa_mc", "validation"], ["mmlu", "dev"], ["openbookqa", "test"]]
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", _DIGEST_CODE, json.dumps(pairs)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(out.stdout.strip())
    h = hashlib.sha256()
    for task, split in pairs:
        for e in load(task, split):
            h.update(json.dumps([e.id, e.answers, e.choices]).encode())
    digests.add(h.hexdigest())
    assert len(digests) == 1


def test_order_depends_on_task_and_id_only():
    from tasks._answers import option_order, shuffle_choices

    assert option_order("t", "q1", 4) == option_order("t", "q1", 4)
    orders = {tuple(option_order("t", f"q{i}", 4)) for i in range(200)}
    assert len(orders) == 24  # every permutation of 4 shows up
    shown, letter, meta = shuffle_choices("t", "q7", ["w", "x", "y", "z"], 2)
    assert shown[LETTERS.index(letter)] == "y" and meta["original_answer"] == "C"


# --- MMLU ---------------------------------------------------------------------------------------------------


def test_mmlu_subjects_stratified():
    test = load("mmlu", "test")
    per_subject = collections.Counter(e.domain for e in test)
    assert len(per_subject) == 57 and set(per_subject.values()) == {50}
    assert set(per_subject) == {e.domain for e in load("mmlu", "validation")} == {e.domain for e in load("mmlu", "dev")}
    assert collections.Counter(e.domain for e in load("mmlu", "dev"))["college_biology"] == 5


def test_mmlu_letter_matches_raw_csv():
    with tarfile.open(TASKS / "mmlu" / "data" / "val.tar.xz") as tf:
        member = tf.getmember("val/anatomy_val.csv")
        rows = list(csv.reader(io.StringIO(tf.extractfile(member).read().decode("utf-8"), newline="")))
    examples = [e for e in load("mmlu", "validation") if e.domain == "anatomy"]
    assert len(rows) == len(examples) == 14
    for row, e in zip(rows, examples):
        assert e.question == row[0].strip()
        assert e.choices[LETTERS.index(e.answers[0])] == row[1 + "ABCD".index(row[5])].strip()


def test_bundle_is_compact():
    size = sum(p.stat().st_size for p in (TASKS / "mmlu" / "data").iterdir())
    assert size < 1.5e6


# --- TruthfulQA ------------------------------------------------------------------------------------------------


def _truthfulqa_rows() -> list[dict]:
    with lzma.open(TASKS / "truthfulqa_mc" / "data" / "TruthfulQA.csv.xz", "rt", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_truthfulqa_mc_options_from_answer_lists():
    rows = _truthfulqa_rows()
    for row, e in zip(rows, load("truthfulqa_mc", "validation")):
        incorrect = [a.strip() for a in row["Incorrect Answers"].split(";") if a.strip()]
        assert e.choices[LETTERS.index(e.answers[0])] == row["Best Answer"].strip()
        others = [c for i, c in enumerate(e.choices) if LETTERS[i] != e.answers[0]]
        assert len(others) == min(3, len(set(incorrect))) and set(others) <= set(incorrect)
        assert e.domain == row["Category"]


def test_truthfulqa_gen_answers_are_correct_answers():
    rows = _truthfulqa_rows()
    examples = load("truthfulqa_gen", "validation")
    for row, e in zip(rows, examples):
        assert e.answers == [a.strip() for a in row["Correct Answers"].split(";") if a.strip()]
        assert row["Best Answer"].strip() in e.answers
    judge = judge_for("open")
    assert judge(examples[0].meta["best_answer"], examples[0])


# --- open-ended and numeric -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "split,file", [("dev", "NQ-open.dev.jsonl.xz"), ("efficientqa_test", "NQ-open.efficientqa.test.1.1.jsonl.xz")]
)
def test_nq_open_alias_lists(split, file):
    rows = raw_jsonl(TASKS / "nq_open" / "data" / file)
    examples = load("nq_open", split)
    assert [e.answers for e in examples] == [list(dict.fromkeys(a.strip() for a in r["answer"])) for r in rows]
    assert sum(len(e.answers) > 1 for e in examples) > 0.1 * len(examples)
    if split == "dev":
        judge = judge_for("open")
        e = examples[0]  # "when was the last time anyone was on the moon": ["14 December 1972 UTC", "December 1972"]
        assert judge("December 1972", e) and not judge("1969", e)


def test_gsm8k_final_number():
    rows = raw_jsonl(TASKS / "gsm8k" / "data" / "test.jsonl.xz")
    examples = load("gsm8k", "test")
    judge = judge_for("numeric")
    with_commas = 0
    for row, e in zip(rows, examples):
        written = row["answer"].rsplit("####", 1)[1].strip()
        with_commas += "," in written
        assert re.fullmatch(r"-?\d+", e.answers[0]), e.answers
        assert int(e.answers[0]) == int(written.replace(",", ""))
        assert judge(f"So the answer is {written}.", e)
        assert not judge(f"So the answer is {2 * int(e.answers[0]) + 1}.", e)
    assert with_commas == 14  # e.g. "2,125" -> "2125"
    assert examples[0].answers == ["18"]


def test_canonical_number():
    from tasks._answers import canonical_number

    assert canonical_number("1,000") == "1000"
    assert canonical_number(" $18.50 ") == "18.5"
    assert canonical_number("-3") == "-3"
    assert canonical_number("7.0") == "7"
    assert canonical_number("twelve") is None and canonical_number("1/2") is None


# --- provenance: bundled files are the documented bytes ------------------------------------------------------------


@pytest.mark.parametrize(
    "task", ["medqa", "commonsenseqa", "arc_challenge", "openbookqa", "truthfulqa_mc", "nq_open", "gsm8k"]
)
def test_bundled_files_match_provenance_sha256(task):
    text = (TASKS / task / "PROVENANCE.md").read_text()
    files = sorted((TASKS / task / "data").glob("*.xz"))
    assert files
    for f in files:
        row = next(line for line in text.splitlines() if f"`data/{f.name}`" in line)
        documented = re.findall(r"`([0-9a-f]{64})`", row)
        assert documented == [hashlib.sha256(lzma.decompress(f.read_bytes())).hexdigest()], f.name


def test_mmlu_members_match_provenance_sha256():
    text = (TASKS / "mmlu" / "PROVENANCE.md").read_text()
    table = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    for archive, column in (("test_first50.tar.xz", 4), ("val.tar.xz", 5), ("dev.tar.xz", 6)):
        with tarfile.open(TASKS / "mmlu" / "data" / archive) as tf:
            for m in tf.getmembers():
                subject = Path(m.name).stem.rsplit("_", 1)[0]
                cell = table[subject].split("|")[column]
                assert hashlib.sha256(tf.extractfile(m).read()).hexdigest() in cell, (archive, subject)


# --- malformed rows ---------------------------------------------------------------------------------------------


def _gz(path: Path, text: str) -> Path:
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    return path


def test_malformed_medqa_row_names_file_and_line(tmp_path):
    from tasks.medqa import read_examples

    good = '{"realidx": 0, "question": "Q?", "options": {"A": "a", "B": "b", "C": "c", "D": "d"}, "answer_idx": "B"}'
    bad = '{"realidx": 1, "question": "Q2?", "options": {"A": "a", "B": "b", "C": "c", "D": "d"}}'
    path = _gz(tmp_path / "test.jsonl.gz", f"{good}\n{bad}\n")
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}:2: missing field 'answer_idx'"):
        read_examples(path)
    path = _gz(tmp_path / "t2.jsonl.gz", good.replace('"B"}', '"E"}') + "\n")
    with pytest.raises(DataError, match=r":1: answer_idx 'E' is not one of the option letters"):
        read_examples(path)


def test_malformed_choice_rows(tmp_path):
    from tasks.arc_challenge import read_examples as read_arc
    from tasks.commonsenseqa import read_examples as read_csqa

    row = {
        "id": "x",
        "question": {"stem": "S?", "choices": [{"label": "A", "text": "a"}, {"label": "B", "text": "b"}]},
        "answerKey": "C",
    }
    path = _gz(tmp_path / "c.jsonl.gz", "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"c\.jsonl\.gz:2: answerKey 'C' is not one of the option labels"):
        read_csqa(path, "validation")
    arc = {"id": "y", "question": "Q?", "choices": {"text": ["a"], "label": ["A", "B"]}, "answerKey": "A"}
    path = _gz(tmp_path / "a.jsonl.gz", json.dumps(arc) + "\n")
    with pytest.raises(DataError, match=r"a\.jsonl\.gz:1: need at least 2 options"):
        read_arc(path, "test")
    path = _gz(tmp_path / "j.jsonl.gz", '{"id": "z"\n')
    with pytest.raises(DataError, match=r"j\.jsonl\.gz:1: not valid JSON"):
        read_arc(path, "test")


def test_malformed_gsm8k_and_nq(tmp_path):
    from tasks.gsm8k import read_examples as read_gsm
    from tasks.nq_open import read_examples as read_nq

    path = _gz(
        tmp_path / "g.jsonl.gz",
        '{"question": "q", "answer": "1+1=2\\n#### 2"}\n{"question": "q", "answer": "so #### two"}\n',
    )
    with pytest.raises(DataError, match=r"g\.jsonl\.gz:2: the text after '####' is not a number: 'two'"):
        read_gsm(path)
    path = _gz(tmp_path / "n.jsonl.gz", '{"question": "q", "answer": "Paris"}\n')
    with pytest.raises(DataError, match=r"n\.jsonl\.gz:1: field 'answer' must be a non-empty list"):
        read_nq(path, "dev")


def test_malformed_truthfulqa_and_mmlu(tmp_path):
    from tasks.mmlu import read_archive
    from tasks.truthfulqa_mc import read_examples as read_tqa

    header = "Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"
    path = _gz(tmp_path / "T.csv.gz", header + "Adversarial,Misc,Q?,A,A; B,,src\n")
    with pytest.raises(DataError, match=r"T\.csv\.gz:2: missing field 'Incorrect Answers'"):
        read_tqa(path)
    path = _gz(tmp_path / "U.csv.gz", "Type,Question\nx,y\n")
    with pytest.raises(DataError, match=r"U\.csv\.gz:1: missing column\(s\) \['Category'"):
        read_tqa(path)

    content = b'q1,a,b,c,d,A\n"multi\nline q",a,b,c,d,B\nq3,a,b,c,d\n'
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("test/anatomy_test.csv")
        info.size = len(content)
        tf.addfile(info, io.BytesIO(content))
    path = tmp_path / "bad.tar.gz"
    path.write_bytes(buf.getvalue())
    with pytest.raises(DataError, match=r"bad\.tar\.gz:test/anatomy_test\.csv:4: expected 6 columns"):
        read_archive(path, "test")


# --- hub loaders: row mapping with the hub's schemas (no network: hub_rows is replaced) -----------------------

HUB_ROWS = {
    "medqa": [
        {
            "question": "Q?",
            "answer": "b",
            "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
            "meta_info": "step1",
            "answer_idx": "B",
        }
    ],
    "commonsenseqa": [
        {
            "id": "c1",
            "question": "Q?",
            "question_concept": "x",
            "answerKey": "E",
            "choices": {"label": list("ABCDE"), "text": ["a", "b", "c", "d", "e"]},
        }
    ],
    "arc_challenge": [
        {
            "id": "Mercury_1",
            "question": "Q?",
            "answerKey": "3",
            "choices": {"text": ["a", "b", "c", "d"], "label": ["1", "2", "3", "4"]},
        }
    ],
    "openbookqa": [
        {
            "id": "7-1",
            "question_stem": "Q?",
            "answerKey": "A",
            "choices": {"text": ["a", "b", "c", "d"], "label": list("ABCD")},
        }
    ],
    "mmlu": [{"question": "Q?", "subject": "anatomy", "choices": ["a", "b", "c", "d"], "answer": 3}],
    "truthfulqa_mc": [
        {
            "type": "Adversarial",
            "category": "Misconceptions",
            "question": "Q?",
            "best_answer": "b",
            "correct_answers": ["b", "b2"],
            "incorrect_answers": ["w", "x", "y", "z"],
            "source": "s",
        }
    ],
    "nq_open": [{"question": "who?", "answer": ["Ann", "Ann B."]}],
    "gsm8k": [{"question": "How many?", "answer": "2 + 2 = 4\n#### 1,004"}],
}
HUB_TRUTH = {
    "medqa": "b",
    "commonsenseqa": "e",
    "arc_challenge": "c",
    "openbookqa": "a",
    "mmlu": "d",
    "truthfulqa_mc": "b",
}


@pytest.mark.parametrize("task", sorted(KIND))
def test_hub_loader_maps_hub_schema(task, monkeypatch):
    import importlib

    module_name = "truthfulqa_mc" if task == "truthfulqa_gen" else task
    module = importlib.import_module(f"tasks.{module_name}")
    calls = []

    def fake_hub_rows(dataset_id, config, split):
        calls.append((dataset_id, config, split))
        return [dict(r) for r in HUB_ROWS[module_name]]

    monkeypatch.setattr(module, "hub_rows", fake_hub_rows)
    spec = get_task(task)
    (e,) = spec.load(spec.default_split, source="hub")
    assert calls and calls[0][0] == spec.hub_id
    assert e.task == task and e.split == spec.default_split and e.question
    if task in HUB_TRUTH:
        assert e.choices[LETTERS.index(e.answers[0])] == HUB_TRUTH[task]
    elif task == "truthfulqa_gen":
        assert e.answers == ["b", "b2"]
    elif task == "nq_open":
        assert e.answers == ["Ann", "Ann B."] and calls[0][2] == "validation"
    else:
        assert e.answers == ["1004"]
