"""The leaderboard's "Trained models against the baselines" section: verdicts from paired bootstrap CIs."""

from __future__ import annotations

from pathlib import Path

from calbench.reporting.leaderboard import build, render_markdown
from calbench.reporting.trained import is_trained, trained_vs_baselines, verdict
from tests.helpers import IDS, make_run

N = len(IDS)  # 40
CORRECT = [i % 2 for i in range(N)]
DISCRIMINATING = [0.9 if y else 0.1 for y in CORRECT]  # right -> 0.9, wrong -> 0.1
CONSTANT_HIGH = [0.95] * N  # overconfident, no discrimination
CONSTANT_HALF = [0.5] * N


def _board(tmp_path: Path, trained_conf, baselines: dict[str, list[float]]):
    make_run(
        tmp_path / "trained",
        model="m",
        methods=("two-stage",),
        conf=trained_conf,
        correct=CORRECT,
        adapter="runs/x/adapter",
    )
    for name, conf in baselines.items():
        make_run(tmp_path / name, model="m", methods=(name,), conf=conf, correct=CORRECT)
    return build([tmp_path])


def test_trained_system_beats_and_ties(tmp_path):
    lb = _board(tmp_path, DISCRIMINATING, {"two-stage": CONSTANT_HIGH, "expected": DISCRIMINATING})
    (item,) = trained_vs_baselines(lb)
    assert "adapter" in item.label or "x/adapter" in item.label
    by = {label.split(" · ")[-1]: comp for label, comp in item.comparisons}
    assert set(by) == {"two-stage", "expected"}
    assert all(c.n_pairs == N for c in by.values())
    # against the overconfident constant: better Brier (lower) and AUROC (higher), CIs away from 0
    assert verdict(by["two-stage"], "brier") == "beats"
    assert verdict(by["two-stage"], "auroc") == "beats"
    assert by["two-stage"].deltas["brier"].delta < 0
    # against an identical predictor: every difference is 0 -> tie
    assert verdict(by["expected"], "brier") == "ties"
    assert item.tally("brier") == {"beats": 1, "ties": 1, "loses": 0}


def test_trained_system_that_loses(tmp_path):
    lb = _board(tmp_path, CONSTANT_HIGH, {"expected": DISCRIMINATING})
    (item,) = trained_vs_baselines(lb)
    ((_, comp),) = item.comparisons
    assert verdict(comp, "brier") == "loses"
    assert verdict(comp, "auroc") == "loses"


def test_section_in_markdown_only_with_both_kinds(tmp_path):
    lb = _board(tmp_path / "a", DISCRIMINATING, {"two-stage": CONSTANT_HALF})
    md = render_markdown(lb, tmp_path)
    assert "## Trained models against the baselines" in md
    assert "**beats**" in md
    assert md.index("## Trained models") < md.index("## In-domain")
    make_run(tmp_path / "b" / "base", model="m", methods=("two-stage",), conf=CONSTANT_HALF, correct=CORRECT)
    assert "Trained models" not in render_markdown(build([tmp_path / "b"]), tmp_path)


def test_section_in_html_with_verdict_cells(tmp_path):
    from calbench.reporting.leaderboard import render_html

    lb = _board(tmp_path / "a", DISCRIMINATING, {"two-stage": CONSTANT_HIGH, "expected": DISCRIMINATING})
    html = render_html(lb, tmp_path)
    assert "<h2>Trained models against the baselines</h2>" in html
    section = html[html.index("<h2>Trained models") :]
    assert section.count('<td class="beats"') >= 2  # Brier and AUROC against the overconfident constant
    assert '<td class="loses"' not in section
    assert "Brier beats 1, ties 1, loses 0" in section
    make_run(tmp_path / "b" / "base", model="m", methods=("two-stage",), conf=CONSTANT_HALF, correct=CORRECT)
    assert "Trained models" not in render_html(build([tmp_path / "b"]), tmp_path)


def test_is_trained():
    assert is_trained({"model": {"adapter": "a"}})
    assert not is_trained({"model": {"adapter": None}})
    assert not is_trained({})


def _set_answers(folder: Path, answers: list[str], given: str | None = None) -> None:
    """Rewrite a run's sample answers (one per question) and, with ``given``, record them as given answers."""
    import json

    rows = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
    for s in rows:
        s["answer"] = answers[IDS.index(s["id"])]
    (folder / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in rows))
    if given:
        man = json.loads((folder / "run.json").read_text())
        man["given_answers"] = {"path": "before/samples.jsonl", "sha256": given}
        (folder / "run.json").write_text(json.dumps(man))


def test_trained_model_on_the_untrained_models_answers_joins_their_column(tmp_path):
    """A trained model scored on the untrained model's own greedy answers (eval --answers before/samples.jsonl)
    stands in the untrained runs' column; given answers that differ from every generated run's keep their own."""
    own = [f"answer {i}" for i in range(N)]
    base = make_run(
        tmp_path / "before", model="m", methods=("two-stage", "expected"), conf=CONSTANT_HIGH, correct=CORRECT
    )
    _set_answers(base, own)
    after = make_run(
        tmp_path / "after",
        model="m",
        methods=("two-stage",),
        conf=DISCRIMINATING,
        correct=CORRECT,
        adapter="runs/x/adapter",
    )
    _set_answers(after, own, given="a" * 64)
    other = make_run(
        tmp_path / "swap",
        model="m",
        methods=("two-stage",),
        conf=CONSTANT_HALF,
        correct=CORRECT,
        adapter="runs/y/adapter",
    )
    _set_answers(other, own[:-1] + ["something else"], given="b" * 64)
    lb = build([tmp_path])
    cols = {c.label or c.task: {e.run.path.name for e in c.entries.values()} for c in lb.columns}
    assert {"before", "after"} in cols.values()
    assert {"swap"} in cols.values()
    (item,) = trained_vs_baselines(lb)  # the swap run's column has no baseline
    assert item.trained.run.path.name == "after"
    assert sorted(label.split(" · ")[-1] for label, _ in item.comparisons) == ["expected", "two-stage"]
    assert [(comp.n_pairs, comp.problem) for _, comp in item.comparisons] == [(N, None)] * 2


def test_answers_fingerprint_is_order_free_and_content_bound():
    from calbench.answers import answers_fingerprint, samples_answers

    rows = [
        {"id": "1", "method": "two-stage", "answer": "x"},
        {"id": "2", "method": "expected", "answer": "y"},
        {"id": "1", "method": "verbalized", "answer": "own"},
    ]
    table = samples_answers(rows)
    assert table == {"1": "x", "2": "y"}  # the shared stage-1 answer, not the one-stage reply's
    assert answers_fingerprint(table) == answers_fingerprint({"2": "y", "1": "x"})
    assert answers_fingerprint(table) != answers_fingerprint({"1": "x", "2": "z"})


def test_the_trainers_adapter_name_comes_first(tmp_path):
    """A run whose run.json records the trainer's name of its adapter (model.adapter_name) is listed by it."""
    from calbench.runs import Run

    run = make_run(tmp_path / "r" / "trained", model="m", adapter="/x/adapter")
    loaded = Run.open(run)
    loaded.manifest["model"]["adapter_name"] = "RD SciQ, 2 passes"
    loaded.write()
    make_run(tmp_path / "r" / "base", model="m")
    lb = build([tmp_path / "r"])
    assert "m + RD SciQ, 2 passes · verbalized" in [r.label for r in lb.rows]
