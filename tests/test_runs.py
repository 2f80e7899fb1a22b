"""calbench/runs.py, the one owner of run.json: committed runs of every kind read and write back byte for byte,
metrics per method, clear errors for a missing, malformed or newer manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from calbench.errors import RunFolderError, UserError
from calbench.runs import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    VERSION_KEY,
    ManifestError,
    RunManifest,
    command_line,
    has_manifest,
    manifest_path,
    read_manifest,
    write_manifest,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
#: One committed run of each kind: one method (only ``metrics``), several methods (``metrics_by_method``),
#: a calibrated run (``calibration``), a run on given answers (``given_answers``).
ONE_METHOD = RESULTS / "demo" / "smollm2-135m-instruct__sciq__two-stage"
SEVERAL_METHODS = RESULTS / "baselines" / "smollm2-135m-instruct" / "sciq"
CALIBRATED = RESULTS / "baselines" / "scaled" / "smollm2-135m-instruct" / "mmlu-to-medqa-platt"
GIVEN_ANSWERS = RESULTS / "training" / "rd-smollm2-sciq-natural-exact" / "after-sciq"
COMMITTED = [ONE_METHOD, SEVERAL_METHODS, CALIBRATED, GIVEN_ANSWERS]


@pytest.mark.parametrize("run", COMMITTED, ids=lambda p: p.name)
def test_committed_run_json_round_trips_byte_for_byte(run, tmp_path):
    manifest = read_manifest(run)
    assert isinstance(manifest, RunManifest) and manifest.version == FORMAT_VERSION
    written = write_manifest(tmp_path, manifest)
    assert written == tmp_path / MANIFEST_FILE
    assert written.read_bytes() == (run / MANIFEST_FILE).read_bytes()
    assert not list(tmp_path.glob("*.tmp"))  # the temporary file was renamed


def test_every_committed_run_json_reads_and_round_trips(tmp_path):
    runs = sorted(p.parent for p in RESULTS.rglob(MANIFEST_FILE))
    assert len(runs) >= 4
    for run in runs:
        manifest = read_manifest(run)
        assert manifest.methods and all(manifest.metrics_for(m) for m in manifest.methods), run
        write_manifest(tmp_path, manifest)
        assert (tmp_path / MANIFEST_FILE).read_bytes() == (run / MANIFEST_FILE).read_bytes(), run


def test_unknown_fields_survive_a_read_and_a_write(tmp_path):
    data = json.loads((ONE_METHOD / MANIFEST_FILE).read_text(encoding="utf-8"))
    data = {
        **dict(list(data.items())[:3]),
        "from_a_later_calbench": {"x": [1, 2]},
        **dict(list(data.items())[3:]),
        "trailing_extra": None,
    }
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    before = (tmp_path / MANIFEST_FILE).read_bytes()
    manifest = read_manifest(tmp_path)
    assert manifest["from_a_later_calbench"] == {"x": [1, 2]}
    write_manifest(tmp_path, manifest)
    assert (tmp_path / MANIFEST_FILE).read_bytes() == before


def test_one_method_run_metrics_for():
    m = read_manifest(ONE_METHOD)
    assert "metrics_by_method" not in m
    assert m.methods == ["two-stage"] and m.status == "complete" and m.lmeval is None and m.calibration is None
    assert m.metrics_for("two-stage") is m["metrics"]
    assert m.metrics_for("two-stage")["accuracy"]["value"] == m["metrics"]["accuracy"]["value"]
    assert m.metrics_for("verbalized") == {}
    assert m.metrics_per_method() == {"two-stage": m["metrics"]}
    assert m.model_id == m["model"]["id"] and m.task_name == "sciq" and m.n == m["n"]
    assert m.judge["name"] == m["judge"]["name"] and m.parse_policy == m["parse_policy"]


def test_several_methods_run_metrics_for():
    m = read_manifest(SEVERAL_METHODS)
    assert len(m.methods) > 1 and m.methods == m["methods"]
    for method in m.methods:
        assert m.metrics_for(method) == m["metrics_by_method"][method]
    assert m.metrics_for(m.methods[0]) == m["metrics"]
    assert list(m.metrics_per_method()) == m.methods
    assert m.metrics_for("no-such-method") == {}


def test_calibrated_and_given_answers_runs():
    cal = read_manifest(CALIBRATED)
    assert cal.calibration["scaler"] == "platt" and all(x.endswith("+platt") for x in cal.methods)
    assert all(cal.metrics_for(x) for x in cal.methods)
    given = read_manifest(GIVEN_ANSWERS)
    assert given.given_answers["sha256"] and given.metrics_for(given.methods[-1])


def test_an_old_manifest_with_only_method_and_metrics():
    m = RunManifest({"method": "verbalized", "metrics": {"ece": {"value": 0.1}}})
    assert m.version == 1 and m.methods == ["verbalized"]
    assert m.metrics_for("verbalized") == {"ece": {"value": 0.1}}
    assert m.metrics_per_method() == {"verbalized": {"ece": {"value": 0.1}}}
    assert RunManifest({}).methods == [] and RunManifest({}).metrics_per_method() == {}


def test_set_metrics_writes_metrics_and_for_several_methods_metrics_by_method():
    m = RunManifest({VERSION_KEY: 1, "metrics_by_method": {"old": {}}})
    m.set_metrics({"a": {"ece": 1}})
    assert m["metrics"] == {"ece": 1} and "metrics_by_method" not in m
    m.set_metrics({"a": {"ece": 1}, "b": {"ece": 2}})
    assert m["metrics"] == {"ece": 1} and m["metrics_by_method"] == {"a": {"ece": 1}, "b": {"ece": 2}}
    assert m.metrics_for("b") == {"ece": 2}


def test_missing_run_json_names_the_folder(tmp_path):
    with pytest.raises(ManifestError) as e:
        read_manifest(tmp_path)
    assert isinstance(e.value, RunFolderError) and isinstance(e.value, UserError)
    assert str(tmp_path) in str(e.value) and "no run.json" in str(e.value)
    assert not has_manifest(tmp_path)


@pytest.mark.parametrize(
    "text, why",
    [
        ('{"status": "comp', "run.json is not valid JSON"),
        ("[1, 2]", "run.json is not a JSON object"),
        ('{"calbench_run": "one"}', "format version"),
    ],
)
def test_malformed_run_json_names_the_file(tmp_path, text, why):
    (tmp_path / MANIFEST_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError, match=why) as e:
        read_manifest(tmp_path)
    assert str(e.value).startswith(f"{tmp_path}: ") and e.value.reason in str(e.value)


def test_a_newer_format_is_refused_with_a_clear_error(tmp_path):
    data = json.loads((ONE_METHOD / MANIFEST_FILE).read_text(encoding="utf-8"))
    data[VERSION_KEY] = FORMAT_VERSION + 1
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ManifestError, match=rf"format version {FORMAT_VERSION + 1}.*newer.*upgrade calbench") as e:
        read_manifest(tmp_path)
    assert str(tmp_path) in str(e.value)


def test_readers_of_run_folders_refuse_a_newer_format(tmp_path):
    from calbench.reporting.inputs import Skipped, check_run_folder

    run = tmp_path / "run"
    shutil.copytree(ONE_METHOD, run)
    data = json.loads((run / MANIFEST_FILE).read_text(encoding="utf-8"))
    data[VERSION_KEY] = FORMAT_VERSION + 1
    (run / MANIFEST_FILE).write_text(json.dumps(data), encoding="utf-8")
    skipped = check_run_folder(run)
    assert isinstance(skipped, Skipped) and "newer than this calbench reads" in skipped.reason

    from calbench.calibrate import calibrate_runs

    with pytest.raises(UserError, match="newer than this calbench reads"):
        calibrate_runs(str(run), str(ONE_METHOD), "platt", str(tmp_path / "out"))


def test_read_manifest_takes_the_folder_the_file_or_a_samples_file(tmp_path):
    by_folder = read_manifest(ONE_METHOD)
    assert read_manifest(ONE_METHOD / MANIFEST_FILE) == by_folder
    samples = next(p for p in ONE_METHOD.iterdir() if p.name.startswith("samples.jsonl"))
    assert manifest_path(samples) == ONE_METHOD / MANIFEST_FILE
    assert read_manifest(samples) == by_folder


def test_write_manifest_adds_the_format_version_when_missing(tmp_path):
    write_manifest(tmp_path, {"status": "running", "note": "é"})
    text = (tmp_path / MANIFEST_FILE).read_text(encoding="utf-8")
    assert text == '{\n  "calbench_run": 1,\n  "status": "running",\n  "note": "é"\n}\n'
    assert read_manifest(tmp_path).status == "running"


def test_show_reports_a_malformed_run_json_as_an_error(tmp_path, capsys):
    from calbench.cli import main

    run = tmp_path / "run"
    shutil.copytree(ONE_METHOD, run)
    (run / MANIFEST_FILE).write_text('{"status": ', encoding="utf-8")
    assert main(["show", str(run)]) == 2
    err = capsys.readouterr().err
    assert "run.json is not valid JSON" in err and str(run) in err


# -- the Run object: one way to open a run, its settings, the samples that count, RUN#METHOD, the builders


def test_run_open_reads_a_committed_run_and_its_settings():
    from calbench.runs import Run

    run = Run.open(SEVERAL_METHODS)
    assert run.path == SEVERAL_METHODS and run.manifest == read_manifest(SEVERAL_METHODS)
    assert run.methods == run.manifest["methods"] and len(run.methods) > 1
    ms = run.manifest["metric_settings"]
    assert (run.settings.bins, run.settings.eps, run.settings.policy) == (
        ms["ece_bins"],
        ms["log_score_eps"],
        run.manifest["parse_policy"],
    )
    m = run.methods[0]
    assert len(run.samples(m)) == run.manifest["n"] and run.metrics(m) == run.manifest.metrics_for(m)
    # the run folder, its run.json and its samples file all open the same run
    assert Run.open(SEVERAL_METHODS / MANIFEST_FILE).path == Run.open(run.samples_path).path == SEVERAL_METHODS


def test_run_settings_defaults_are_the_metrics_engines():
    from calbench.metrics import DEFAULT_BINS, DEFAULT_EPS
    from calbench.runs import RunSettings

    bare = RunSettings.of({})
    assert (bare.policy, bare.bins, bare.eps, bare.n_resamples, bare.seed) == (
        "exclude",
        DEFAULT_BINS,
        DEFAULT_EPS,
        1000,
        0,
    )
    recorded = RunSettings.of(
        {
            "seed": 3,
            "metric_settings": {
                "parse_policy": "as_wrong",
                "ece_bins": 15,
                "log_score_eps": 0.01,
                "bootstrap": {"n_resamples": 50},
            },
        }
    )
    assert (recorded.policy, recorded.bins, recorded.eps, recorded.n_resamples, recorded.seed) == (
        "as_wrong",
        15,
        0.01,
        50,
        3,
    )
    assert (
        RunSettings.of({"parse_policy": "exclude", "metric_settings": {"parse_policy": "as_wrong"}}).policy == "exclude"
    )


def test_the_samples_that_count():
    from calbench.runs import scored_samples

    rows = [
        {"id": "a", "method": "m", "x": 1},
        {"id": "a", "method": "m", "x": 2},  # a repeat: the first counts
        {"id": "b", "method": "m", "request_error": "timeout"},  # no model output: never scored
        {"id": "a", "method": "k", "x": 3},
    ]
    assert [s.get("x") for s in scored_samples(rows)] == [1, 3]
    assert [s.get("x") for s in scored_samples(rows, "k")] == [3]


def test_a_run_gives_every_record_or_the_ones_that_count(tmp_path):
    from calbench.runs import Run
    from tests.helpers import make_run

    folder = make_run(tmp_path / "r", ids=["q1", "q2"])
    with open(folder / "samples.jsonl", "a") as fh:
        fh.write(
            json.dumps({**json.loads((folder / "samples.jsonl").read_text().splitlines()[0]), "confidence": 0.1}) + "\n"
        )
    run = Run.open(folder)
    assert len(run.samples(scored=False)) == 3 and len(run.samples()) == 2
    assert run.samples("verbalized")[0]["confidence"] == 0.7  # the first record of a repeated id counts


@pytest.mark.parametrize(
    "spec, expected",
    [("runs/a#two-stage", ("runs/a", "two-stage")), ("runs/a", ("runs/a", None)), ("runs/a#", ("runs/a", None))],
)
def test_parse_ref(spec, expected):
    from calbench.runs import parse_ref

    path, method = parse_ref(spec)
    assert (str(path), method) == expected


def test_new_manifest_orders_fields_as_every_run_json():
    from calbench.runs import new_manifest

    committed = read_manifest(ONE_METHOD)
    fields = {k: committed[k] for k in ("status", "model", "task", "n", "methods", "elicitation", "generation")}
    built = new_manifest(
        **fields,
        judge=committed["judge"],
        parse_policy=committed["parse_policy"],
        seed=committed["seed"],
        versions=committed["versions"],
        command="calbench eval",
        timings={"started": "now"},
    )
    assert list(built)[:13] == [k for k in committed if k not in ("timings", "command")][:13]
    assert list(built)[-2:] == ["timings", "command"] and built["method"] == committed["method"]
    assert built.version == FORMAT_VERSION


def test_derive_keeps_the_run_and_drops_its_metrics():
    calibrated = read_manifest(ONE_METHOD).derive(["a+platt", "b+platt"], calibration={"scaler": "platt"})
    assert calibrated["methods"] == ["a+platt", "b+platt"] and calibrated["method"] == "a+platt,b+platt"
    assert not {"metrics", "metrics_by_method", "plots"} & set(calibrated) and calibrated["calibration"]
    assert calibrated["task"] == read_manifest(ONE_METHOD)["task"]


def test_command_line_names_python_m_not_the_package_file():
    """``python -m calbench`` puts the absolute path of ``calbench/__main__.py`` in ``argv[0]``; the record names the
    command a reader can type. A console script or any other program is kept as it was typed."""
    main = str(ROOT / "calbench" / "__main__.py")
    assert command_line([main, "demo", "--limit", "200"]) == "python -m calbench demo --limit 200"
    assert command_line([".venv/bin/calbench", "eval", "--task", "sciq"]) == ".venv/bin/calbench eval --task sciq"
    assert command_line(["/opt/other/__main__.py", "x"]) == "/opt/other/__main__.py x"
