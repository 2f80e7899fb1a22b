"""Leaderboard on hand-made run folders: ranking, ties, incompatibility flags, missing metrics, bad input."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from calbench.cli import main
from calbench.records import DataError
from calbench.reporting.board import Cell, rank_with_ties
from calbench.reporting.leaderboard import build, output_paths, write
from tests.helpers import IDS, _sha, brier_only, make_run, metric


def test_rank_with_ties_hand_cases():
    a, b, c = Cell(0.10, 0.08, 0.12), Cell(0.11, 0.09, 0.13), Cell(0.20, 0.18, 0.22)
    # a and b overlap: both rank 1; c is worse than both with disjoint CIs: 1 + 2 = 3.
    assert rank_with_ties([a, b, c], higher_is_better=False) == [1, 1, 3]
    # Higher is better reverses the order: c first; a and b each have one system (c) better.
    assert rank_with_ties([a, b, c], higher_is_better=True) == [2, 2, 1]
    # A chain: x overlaps y, y overlaps z, x and z disjoint -> z has one better (x), y none.
    x, y, z = Cell(0.1, 0.05, 0.15), Cell(0.17, 0.12, 0.22), Cell(0.24, 0.19, 0.29)
    assert rank_with_ties([x, y, z], higher_is_better=False) == [1, 1, 2]
    # Missing values are unranked; cells without CIs compare by value.
    assert rank_with_ties([Cell(None), Cell(0.3, None, None), Cell(0.2, None, None)], False) == [None, 2, 1]


# ---------------------------------------------------------------------------------------------- build


def test_ranking_ties_and_outputs(tmp_path):
    res = tmp_path / "results"
    make_run(res / "a", model="alpha", metrics={"verbalized": brier_only(0.10, 0.08, 0.12)})
    make_run(res / "b", model="beta", metrics={"verbalized": brier_only(0.11, 0.09, 0.13)})
    make_run(res / "c", model="gamma", metrics={"verbalized": brier_only(0.30, 0.27, 0.33)})
    lb = build([res])
    assert [r.label for r in lb.rows] == ["alpha · verbalized", "beta · verbalized", "gamma · verbalized"]
    assert [(r.rank, r.tied) for r in lb.rows] == [(1, True), (1, True), (3, False)]
    (col,) = lb.columns
    assert {e.run.path.name: (e.rank, e.tied) for e in col.entries.values()} == {
        "a": (1, True),
        "b": (1, True),
        "c": (3, False),
    }
    paths = write(lb, tmp_path / "out")
    md = paths["md"].read_text()
    assert "| =1 | alpha · verbalized |" in md and "| 3 | gamma · verbalized |" in md
    assert "[a](../results/a/)" in md  # relative link to the run folder
    html = paths["html"].read_text()
    assert 'href="../results/c/"' in html and "=1" in html
    rows = list(csv.DictReader(paths["csv"].open()))
    assert {r["system"]: r["rank"] for r in rows} == {
        "alpha · verbalized": "1",
        "beta · verbalized": "1",
        "gamma · verbalized": "3",
    }
    assert rows[0]["run"] == "../results/a/"


def test_rank_by_log_score_is_higher_better(tmp_path):
    res = tmp_path / "r"
    make_run(
        res / "a",
        model="alpha",
        metrics={"verbalized": brier_only(0.1, 0.09, 0.11, log_score=metric(-0.9, -1.0, -0.8))},
    )
    make_run(
        res / "b", model="beta", metrics={"verbalized": brier_only(0.2, 0.19, 0.21, log_score=metric(-0.3, -0.4, -0.2))}
    )
    assert [r.label.split()[0] for r in build([res]).rows] == ["alpha", "beta"]
    assert [r.label.split()[0] for r in build([res], rank_by="log_score").rows] == ["beta", "alpha"]
    with pytest.raises(DataError, match="no run has a metric named 'nonsense'"):
        build([res], rank_by="nonsense")


def test_real_metrics_rank_a_calibrated_model_first(tmp_path):
    # Same questions and outcomes; one model states 0.5 (calibrated: half right), the other 0.95.
    res = tmp_path / "r"
    make_run(res / "cal", model="calibrated", conf=[0.5] * 40)
    make_run(res / "over", model="overconfident", conf=[0.95] * 40)
    lb = build([res])
    assert lb.rows[0].label.startswith("calibrated")
    assert lb.rows[0].overall.value == pytest.approx(0.25)  # (0.5 - y)^2 = 0.25 for every question
    assert lb.rows[1].overall.value == pytest.approx((0.05**2 + 0.95**2) / 2)
    assert (lb.rows[0].rank, lb.rows[1].rank) == (1, 2)


def test_incomparable_runs_are_flagged_not_mixed(tmp_path):
    res = tmp_path / "r"
    make_run(res / "a", model="alpha")
    make_run(res / "b", model="beta")
    make_run(res / "c_other_questions", model="gamma", ids=[f"x{i}" for i in range(40)])
    make_run(res / "d_other_judge", model="delta", judge={"name": "token_f1", "settings": {"threshold": 0.5}})
    make_run(res / "e_other_policy", model="eps", policy="as_wrong_with_prior")
    lb = build([res])
    labels = [c.label for c in lb.columns]
    assert labels[0] == "triviaqa [A]" and len(labels) == 4
    first = lb.columns[0]
    assert {e.run.path.name for e in first.entries.values()} == {"a", "b"}  # never mixed
    flags = " ".join(c.flag or "" for c in lb.columns[1:])
    assert "questions (task.ids_sha256)" in flags and "judge" in flags and "parse policy" in flags
    # Only the primary column counts for the overall rank; the others have no overall score.
    by_label = {r.label.split()[0]: r for r in lb.rows}
    assert by_label["alpha"].overall.ok and not by_label["gamma"].overall.ok
    md = write(lb, tmp_path / "o")["md"].read_text()
    assert "Comparability flags" in md and "incomparable sets" in md
    assert "not comparable" in write(lb, tmp_path / "o")["html"].read_text()


def test_in_domain_and_unseen_columns_and_missing_metrics(tmp_path):
    res = tmp_path / "r"
    make_run(res / "a_tqa", model="alpha")
    make_run(res / "a_med", model="alpha", task="medqa", group="unseen")
    metrics = brier_only(
        0.2,
        0.18,
        0.22,
        auroc=metric(float("nan"), float("nan"), float("nan"), note="undefined: needs both correct and wrong samples"),
    )
    del metrics["log_score"]
    make_run(res / "b_tqa", model="beta", metrics={"verbalized": metrics})
    lb = build([res])
    assert [(c.label, c.group) for c in lb.columns] == [("triviaqa", "in_domain"), ("medqa", "unseen")]
    beta = next(r for r in lb.rows if r.label.startswith("beta"))
    e = lb.entry(beta, lb.columns[0])
    assert e.cells["log_score"].text() == "missing" and "no 'log_score'" in e.cells["log_score"].note
    assert e.cells["auroc"].text() == "n/a" and "both correct and wrong" in e.cells["auroc"].note
    assert lb.entry(beta, lb.columns[1]) is None
    assert not beta.overall.ok and "scored on 1 of the 2" in beta.overall.note
    paths = write(lb, tmp_path / "o" / "board.html")
    assert paths["md"].name == "board.md" and paths["csv"].exists()
    md = paths["md"].read_text()
    assert "In-domain tasks" in md and "Unseen tasks" in md
    assert "missing" in md and "not run on this task column: beta · verbalized" in md
    html = paths["html"].read_text()
    assert "not run" in html and 'class="missing' in html


def test_multi_method_run_gives_one_row_per_method_and_adapter_rows(tmp_path):
    res = tmp_path / "r"
    make_run(res / "base", model="m", methods=("two-stage", "verbalized"))
    make_run(res / "trained", model="m", adapter="/x/results/training/run1/adapter", methods=("two-stage",))
    labels = sorted(r.label for r in build([res]).rows)
    assert labels == ["m + run1/adapter · two-stage", "m · two-stage", "m · verbalized"]


def test_adapters_of_different_runs_at_the_same_relative_path_get_their_adapter_hash(tmp_path):
    res = tmp_path / "r"
    for name, sha in (("a", "aa" * 32), ("b", "bb" * 32)):
        folder = make_run(res / name, model="m", adapter=f"/tmp/work-{name}/train/adapter", methods=("two-stage",))
        man = json.loads((folder / "run.json").read_text())
        man["model"]["adapter_sha256"] = sha
        (folder / "run.json").write_text(json.dumps(man))
    labels = sorted(r.label for r in build([res]).rows)
    assert labels == [
        "m + train/adapter · two-stage (adapter aaaaaaaa)",
        "m + train/adapter · two-stage (adapter bbbbbbbb)",
    ]
    # different model weights under one id: the model's hash tells them apart
    make_run(res / "c", model="m", methods=("verbalized",))
    d = make_run(res / "d", model="m", methods=("verbalized",))
    man = json.loads((d / "run.json").read_text())
    man["model"]["sha256"] = "cc" * 32
    (d / "run.json").write_text(json.dumps(man))
    verbalized = sorted(r.label for r in build([res]).rows if "verbalized" in r.label)
    assert verbalized == sorted(["m · verbalized (cccccccc)", f"m · verbalized ({_sha('m')[:8]})"])


# ------------------------------------------------------------------------------------------- bad input


def test_empty_folder_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no run folders here"):
        build([tmp_path / "empty"])
    assert main(["leaderboard", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no run folders here" in capsys.readouterr().err
    assert main(["leaderboard", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_partial_folders_are_listed_with_reasons(tmp_path, capsys):
    res = tmp_path / "r"
    make_run(res / "good", model="alpha")
    make_run(res / "running", model="beta", status="running")
    trunc = make_run(res / "truncated", model="gamma")
    data = (trunc / "samples.jsonl").read_text()
    (trunc / "samples.jsonl").write_text(data[: len(data) - 30])  # cut mid-line
    short = make_run(res / "short", model="delta")
    lines = (short / "samples.jsonl").read_text().splitlines(keepends=True)
    (short / "samples.jsonl").write_text("".join(lines[:-5]))
    nomani = res / "no_manifest"
    nomani.mkdir()
    (nomani / "samples.jsonl").write_text((res / "good" / "samples.jsonl").read_text())
    badjson = make_run(res / "bad_json", model="eps")
    (badjson / "run.json").write_text('{"status": "comp')
    nosamples = make_run(res / "no_samples", model="zeta")
    (nosamples / "samples.jsonl").unlink()

    lb = build([res])
    assert [r.label for r in lb.rows] == ["alpha · verbalized"]
    reasons = {s.path.name: s.reason for s in lb.skipped}
    assert set(reasons) == {"running", "truncated", "short", "no_manifest", "bad_json", "no_samples"}
    assert "status is 'running'" in reasons["running"]
    assert "partial line" in reasons["truncated"] or "truncated" in reasons["truncated"]
    assert "verbalized: 35 of 40" in reasons["short"]
    assert "no run.json" in reasons["no_manifest"]
    assert "not valid JSON" in reasons["bad_json"]
    assert "no samples.jsonl" in reasons["no_samples"]

    assert main(["leaderboard", str(res), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    for name in reasons:
        assert name in err
    md = (tmp_path / "o" / "leaderboard.md").read_text()
    assert "## Skipped folders" in md and all(f"r/{n}/" in md for n in reasons)
    assert main(["leaderboard", str(res), "--out", str(tmp_path / "o2"), "--strict"]) == 1

    # Nothing complete at all: an error that names every skipped folder.
    with pytest.raises(DataError, match="no complete run") as e:
        build([res / "running", res / "truncated"])
    assert "running" in str(e.value) and "truncated" in str(e.value)


def test_duplicate_runs_keep_the_latest_and_say_so(tmp_path):
    res = tmp_path / "r"
    make_run(res / "old", model="alpha", finished="2026-01-01T00:00:00+00:00")
    make_run(res / "new", model="alpha", finished="2026-02-01T00:00:00+00:00")
    lb = build([res])
    (col,) = lb.columns
    assert [e.run.path.name for e in col.entries.values()] == ["new"]
    assert lb.skipped[0].path.name == "old" and "duplicate" in lb.skipped[0].reason


def test_output_paths():
    assert output_paths("x/board.html")["csv"] == Path("x/board.csv")
    assert output_paths("results/leaderboard")["html"] == Path("results/leaderboard/leaderboard.html")


def test_overall_interval_combines_task_errors(tmp_path):
    res = tmp_path / "r"
    make_run(res / "t1", model="alpha", metrics={"verbalized": brier_only(0.1, 0.1 - 0.0392, 0.1 + 0.0392)})
    make_run(
        res / "t2", model="alpha", task="sciq", metrics={"verbalized": brier_only(0.3, 0.3 - 0.0784, 0.3 + 0.0784)}
    )
    (row,) = build([res]).rows
    # se_1 = 0.02, se_2 = 0.04 -> se = sqrt(0.02^2 + 0.04^2) / 2; mean 0.2.
    se = math.sqrt(0.02**2 + 0.04**2) / 2
    assert row.overall.value == pytest.approx(0.2)
    assert row.overall.ci_high - row.overall.value == pytest.approx(1.959964 * se, rel=1e-4)


def test_runs_on_given_answers_are_a_column_of_their_own(tmp_path):
    """`eval --answers` runs score other answers to the same questions: never ranked with generated-answer runs
    (nor with runs on another answers file), but together with runs on the same file."""
    make_run(tmp_path / "generated", model="a")
    for name, model, sha in (("swap_before", "a", "f1"), ("swap_after", "b", "f1"), ("other_file", "c", "f2")):
        folder = make_run(tmp_path / name, model=model)
        man = json.loads((folder / "run.json").read_text())
        man["given_answers"] = {"path": f"{sha}.jsonl", "sha256": _sha(sha)}
        (folder / "run.json").write_text(json.dumps(man))
        samples = (folder / "samples.jsonl").read_text().replace('"answer": "a"', f'"answer": "{sha}"')
        (folder / "samples.jsonl").write_text(samples)  # answers other than the generated run's
    lb = build([tmp_path])
    cols = {c.key["answers"]: len(c.entries) for c in lb.columns}
    assert cols == {None: 1, _sha("f1"): 2, _sha("f2"): 1}
    assert any("given answers" in n for n in lb.notes)


def test_own_given_and_verbatim_answers_are_three_systems_not_duplicates(tmp_path):
    """The same model rating its own reply, the parsed answer given back (`eval --answers`) and the reply given
    back verbatim (`--answers-verbatim`) are three protocols on one answer set: three rows of one column, none
    dropped as a duplicate of another, each label saying which it is."""
    make_run(tmp_path / "own", model="a", methods=("two-stage",))
    for name, given in (("parsed", {}), ("verbatim", {"verbatim": True})):
        folder = make_run(tmp_path / name, model="a", methods=("two-stage",), finished="2026-03-01T00:00:00+00:00")
        man = json.loads((folder / "run.json").read_text())
        man["given_answers"] = {"path": "own/samples.jsonl", "sha256": _sha("own"), **given}
        (folder / "run.json").write_text(json.dumps(man))
    lb = build([tmp_path])
    (col,) = lb.columns  # the same answers: one column
    assert len(col.entries) == 3 and not lb.skipped
    assert sorted(r.label for r in lb.rows) == [
        "a · two-stage (given answers)",
        "a · two-stage (given answers, verbatim)",
        "a · two-stage (own answers)",
    ]


def test_one_adapter_is_one_system_wherever_its_folder_was(tmp_path):
    """Two runs of the same adapter (same sha256) recorded under different paths (a run made in another checkout
    records its absolute path) are one system with one label; a different adapter under the same name is another."""
    for name, path, sha in (
        ("here", "adapters/rd", "a1"),
        ("clone", "/tmp/clone/adapters/rd", "a1"),
        ("new", "adapters/rd", "b2"),
    ):
        folder = make_run(
            tmp_path / name, model="m", methods=("two-stage",), task="sciq" if name == "clone" else "triviaqa"
        )
        man = json.loads((folder / "run.json").read_text())
        man["model"].update(adapter=path, adapter_sha256=_sha(sha), adapter_name="RD")
        (folder / "run.json").write_text(json.dumps(man))
    lb = build([tmp_path])
    assert sorted(r.label for r in lb.rows) == sorted(
        [f"m + RD · two-stage (adapter {_sha('a1')[:8]})", f"m + RD · two-stage (adapter {_sha('b2')[:8]})"]
    )
    assert sorted(len([c for c in lb.columns if r.system in c.entries]) for r in lb.rows) == [1, 2]


def test_a_suite_file_with_a_mistake_names_the_field(tmp_path):
    from calbench.reporting.suite import load_suite

    bad = tmp_path / "suite.yaml"
    bad.write_text(
        "tracks:\n  - name: t\n    title: T\n    tables:\n      - title: x\n        columns:\n"
        "          - {title: A, task: triviaqa}\n"
    )
    with pytest.raises(DataError, match=r"suite.yaml: tracks\[0\].tables\[0\].columns\[0\]: needs title, task"):
        load_suite(bad)
    bad.write_text("tracks: []\n")
    with pytest.raises(DataError, match="non-empty list 'tracks'"):
        load_suite(bad)


def test_suite_headline_keeps_systems_with_every_column_and_names_trained_ones_by_their_study(tmp_path):
    import hashlib

    from calbench.reporting.suite import load_suite, page, render_markdown

    res = tmp_path / "results"
    make_run(res / "base", model="m", methods=("two-stage", "ptrue"))
    study = res / "exp"
    make_run(study / "after", model="m", adapter="/x/run/adapter", methods=("two-stage",))
    (study / "study.yaml").write_text(
        "study: exp\nname: RD demo\nmodel: m\ntraining: {trainer: t, task: triviaqa}\n"
        "answers: {a: {task: triviaqa, run: ../base}}\n"
        "evaluations: [{answers: a, methods: [two-stage], out: after}]\n"
    )
    make_run(res / "verbal", model="m", methods=("verbalized",), parse_ok=[False] * len(IDS))
    make_run(res / "medqa", model="m", task="medqa", group="unseen", methods=("ptrue",), ids=IDS[:20])
    q = hashlib.sha256("\n".join(IDS).encode()).hexdigest()[:10]
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"tracks:\n  - name: g\n    title: G\n    tables:\n      - title: T\n        columns:\n"
        f"          - {{title: TriviaQA, task: triviaqa, questions: {q}}}\n"
    )
    lb = build([res])
    content = page(lb, load_suite(suite), n_resamples=50)
    rows = content["tracks"][0]["tables"][0]["rows"]
    labels = [r["label"] for r in rows]
    # the trained system is named by its study, not by its adapter path; the method that parsed nothing is left
    # out of the headline (it stays in the drill-down); the medqa column is listed once under other runs
    assert "m + RD demo · two-stage" in labels and not any("/x/run" in x for x in labels)
    assert "m · verbalized" not in labels and {"m · two-stage", "m · ptrue"} <= set(labels)
    assert [o["task"] for o in content["other"]] == ["medqa"]
    (grid,) = content["grids"]
    assert grid["baselines"] == ["ptrue", "two-stage"] or grid["baselines"] == ["two-stage", "ptrue"]
    assert [r["metric"] for r in grid["rows"]] and all(len(r["cells"]) == 2 for r in grid["rows"])
    md = render_markdown(content, "leaderboard_files")
    assert "★ m + RD demo · two-stage" in md and "## Other runs" in md and "n/a" not in md.split("## Trained")[0]


def test_a_track_can_show_its_best_rows_and_leave_its_grids_to_the_drill_down(tmp_path):
    """rows: N keeps the N best systems of each table and every trained one, counting the rest (one click away);
    grids: false leaves the track's trained-vs-baselines grids to the drill-down; a bad value names the field."""
    import hashlib

    from calbench.reporting.suite import load_suite, page, render_markdown

    res = tmp_path / "results"
    make_run(res / "base", model="m", methods=("two-stage", "ptrue", "expected"), conf=[0.5] * len(IDS))
    make_run(res / "good", model="m", methods=("verbalized",))  # the best Brier (0.7 on alternating labels loses)
    make_run(res / "after", model="m", adapter="/x/run/adapter", methods=("two-stage",), conf=[0.9] * len(IDS))
    q = hashlib.sha256("\n".join(IDS).encode()).hexdigest()[:10]
    suite = tmp_path / "suite.yaml"
    head = "tracks:\n  - name: g\n    title: G\n"
    cols = "    tables:\n      - title: T\n        columns:\n"
    cols += f"          - {{title: TriviaQA, task: triviaqa, questions: {q}}}\n"
    suite.write_text(head + "    rows: 2\n    grids: false\n" + cols)
    lb = build([res])
    content = page(lb, load_suite(suite), n_resamples=50)
    (table,) = content["tracks"][0]["tables"]
    labels = [r["label"] for r in table["rows"]]
    assert len(labels) == 3 and table["more"] == 2 and any(r["trained"] for r in table["rows"])  # 2 best + trained
    assert content["grids"] == []
    md = render_markdown(content, "files")
    assert "2 more systems ran every column: [TriviaQA's full table](files/columns.md#" in md
    assert "## Trained models against the baselines" not in md
    full = page(lb, load_suite(suite.write_text(head + cols) and suite), n_resamples=50)
    assert len(full["tracks"][0]["tables"][0]["rows"]) == 5 and full["grids"]
    suite.write_text(head + "    rows: 0\n" + cols)
    with pytest.raises(DataError, match=r"tracks\[0\].rows must be a whole number"):
        load_suite(suite)


def test_two_probes_on_the_same_questions_are_two_systems(tmp_path):
    """A probe readout is the probe it applied: two fitted probes (different files) are two rows, named by file."""
    from calbench.runs import Run

    for name, sha in (("probe-4800", "a" * 64), ("probe-cal300", "b" * 64)):
        run = Run.open(make_run(tmp_path / "r" / name, model="m", methods=("probe",)))
        run.manifest["elicitation"] = {"method_settings": {"probe": f"p/{name}.json", "probe_sha256": sha}}
        run.write()
    lb = build([tmp_path / "r"])
    assert sorted(r.label for r in lb.rows) == ["m · probe (probe-4800)", "m · probe (probe-cal300)"]
    assert not lb.skipped


def test_a_given_answers_track_leaves_out_methods_that_write_their_own_answer(tmp_path):
    """With ``given_only: true`` a track's rows are the systems that rate the column's answers (two-stage, a scaled
    readout); chain of thought, on the same questions with its own answers, stays out (it is in the drill-down)."""
    import hashlib

    from calbench.reporting.suite import load_suite, page, rates_given_answers

    res = tmp_path / "results"
    make_run(res / "base", model="m", methods=("two-stage", "ptrue"))
    make_run(res / "cot", model="m", methods=("verbalized-cot",))
    q = hashlib.sha256("\n".join(IDS).encode()).hexdigest()[:10]
    lb = build([res])
    labels = {}
    for given in (True, False):
        suite = tmp_path / f"suite-{given}.yaml"
        suite.write_text(
            f"tracks:\n  - name: g\n    title: G\n    given_only: {str(given).lower()}\n    tables:\n"
            f"      - title: T\n        columns:\n          - {{title: TriviaQA, task: triviaqa, questions: {q}}}\n"
        )
        labels[given] = {
            r["label"] for r in page(lb, load_suite(suite), n_resamples=20)["tracks"][0]["tables"][0]["rows"]
        }
    assert labels[True] == {"m · two-stage", "m · ptrue"}
    assert labels[False] == {"m · two-stage", "m · ptrue", "m · verbalized-cot"}
    assert rates_given_answers("seq-likelihood-mean+platt-triviaqa") and rates_given_answers("probe")
    assert not rates_given_answers("verbalized-topk") and not rates_given_answers("verbalized")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "tracks:\n  - {name: g, title: G, given_only: maybe,\n"
        "     tables: [{title: T, columns: [{title: A, task: t, questions: q}]}]}\n"
    )
    with pytest.raises(DataError, match=r"tracks\[0\].given_only must be true or false"):
        load_suite(bad)
