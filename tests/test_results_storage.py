"""Committed results are stored compressed (samples.jsonl.xz; samples.jsonl.gz from earlier versions) and read
transparently; the tree-size guard."""

from __future__ import annotations

import gzip
import json
import lzma
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from calbench.cli import main
from calbench.records import DataError, expand_samples, find_samples_file, read_run_samples, read_samples
from calbench.reporting.inputs import Skipped, check_run_folder, discover
from tests.helpers import make_run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import check_tree_size  # noqa: E402
import compress_results  # noqa: E402
import replot_reliability  # noqa: E402


def _compress(folder: Path) -> Path:
    """Compress ``folder``'s samples the way the committed results are (the script under test)."""
    return compress_results.compress(folder / "samples.jsonl")


def _gzip_legacy(folder: Path) -> Path:
    """Compress ``folder``'s samples as earlier versions did (gzip), replacing the plain file."""
    gz = folder / "samples.jsonl.gz"
    gz.write_bytes(gzip.compress((folder / "samples.jsonl").read_bytes()))
    (folder / "samples.jsonl").unlink()
    return gz


def test_find_samples_file_plain_compressed_both_neither(tmp_path):
    run = make_run(tmp_path / "r", conf=[0.2, 0.9] * 20)
    assert find_samples_file(run) == run / "samples.jsonl"
    plain = read_samples(run / "samples.jsonl")
    xz = _compress(run)
    assert xz.name == "samples.jsonl.xz" and not (run / "samples.jsonl").exists()
    assert find_samples_file(run) == xz
    assert read_run_samples(run) == plain  # the same records, whatever the form
    (run / "samples.jsonl").write_text("")  # a stale plain copy beside the compressed one
    with pytest.raises(DataError, match="both samples.jsonl and samples.jsonl.xz"):
        find_samples_file(run)
    with pytest.raises(DataError, match="both"):
        read_run_samples(run)
    assert find_samples_file(tmp_path) is None
    with pytest.raises(DataError, match="no samples.jsonl"):
        read_run_samples(tmp_path)


def test_run_folder_reads_compressed_and_refuses_both(tmp_path):
    run = make_run(tmp_path / "res" / "a", conf=[0.3, 0.8] * 20)
    before = check_run_folder(run).samples()
    _compress(run)
    folder = check_run_folder(run)
    assert not isinstance(folder, Skipped) and folder.samples_path.name == "samples.jsonl.xz"
    assert folder.samples() == before
    shutil.copy(run / "samples.jsonl.xz", run / "x.xz")
    (run / "samples.jsonl").write_bytes(lzma.decompress((run / "x.xz").read_bytes()))
    skipped = check_run_folder(run)
    assert isinstance(skipped, Skipped) and "both samples.jsonl and samples.jsonl.xz" in skipped.reason
    runs, skipped = discover([tmp_path / "res"])
    assert runs == [] and len(skipped) == 1


def test_leaderboard_identical_from_compressed_results(tmp_path):
    res = tmp_path / "res"
    make_run(res / "m1" / "triviaqa", model="m1", conf=[0.6, 0.9] * 20)
    make_run(res / "m2" / "triviaqa", model="m2", conf=[0.5] * 40)
    make_run(res / "m1" / "sciq", model="m1", task="sciq", conf=[0.1, 0.7] * 20)
    assert main(["leaderboard", str(res), "--out", str(tmp_path / "plain")]) == 0
    for f in sorted(res.rglob("samples.jsonl")):
        compress_results.compress(f)
    assert main(["leaderboard", str(res), "--out", str(tmp_path / "gz")]) == 0
    names = sorted(p.name for p in (tmp_path / "plain").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "gz").iterdir()) and names
    for name in names:
        assert (tmp_path / "gz" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name


def test_score_and_calibrate_read_compressed_runs(tmp_path, capsys):
    from calbench.calibrate import _load_run

    run = make_run(tmp_path / "r", conf=[0.2, 0.9] * 20)
    assert main(["score", str(run / "samples.jsonl"), "--json", "--resamples", "20"]) == 0
    plain = json.loads(capsys.readouterr().out)["groups"]
    _compress(run)
    assert main(["score", str(run), "--json", "--resamples", "20"]) == 0  # a run folder is accepted too
    assert json.loads(capsys.readouterr().out)["groups"] == plain
    loaded = _load_run(str(run))
    assert loaded.manifest["n"] == 40 and len(loaded.samples(scored=False)) == 40


def test_expand_samples_before_a_resume(tmp_path):
    run = make_run(tmp_path / "r")
    text = (run / "samples.jsonl").read_text()
    _compress(run)
    plain = expand_samples(run)
    assert plain == run / "samples.jsonl" and plain.read_text() == text
    assert not (run / "samples.jsonl.xz").exists()
    assert expand_samples(run) == plain and plain.read_text() == text  # nothing to do the second time


def test_eval_resumes_a_compressed_run(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"replies": [{"match": "How confident", "reply": "7"}], "default": " x"}))
    args = [
        "eval",
        "--backend",
        "scripted",
        "--script",
        str(script),
        "--task",
        "triviaqa",
        "--split",
        "eval",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "run"),
        "--quiet",
        "--resamples",
        "20",
        "--no-plots",
    ]
    assert main(args + ["--limit", "6"]) == 0
    first = read_samples(tmp_path / "run" / "samples.jsonl")
    _compress(tmp_path / "run")
    assert main(args + ["--limit", "6"]) == 0  # the same run again: nothing new to do
    assert read_run_samples(tmp_path / "run") == first
    assert not (tmp_path / "run" / "samples.jsonl.xz").exists()  # resumed in plain form: one copy only


def test_compress_results_is_deterministic_and_idempotent(tmp_path):
    res = tmp_path / "results"
    make_run(res / "a", conf=[0.2, 0.9] * 20)
    make_run(res / "b" / "c", conf=[0.4] * 40)
    (res / "b" / "train_log.jsonl").write_text('{"step": 1}\n')  # small: left alone
    (res / "b" / "answers.jsonl").write_text('{"a": "' + "x" * 2000 + '"}\n')  # large for --min-bytes 1000
    copy = tmp_path / "copy"
    shutil.copytree(res, copy)
    assert compress_results.main([str(res), "--min-bytes", "1000"]) == 0
    assert sorted(str(p.relative_to(res)) for p in res.rglob("*.jsonl*")) == [
        "a/samples.jsonl.xz",
        "b/answers.jsonl.xz",
        "b/c/samples.jsonl.xz",
        "b/train_log.jsonl",
    ]
    snapshot = {p: p.read_bytes() for p in res.rglob("*.xz")}
    assert compress_results.main([str(res), "--min-bytes", "1000"]) == 0  # second run: no change
    assert {p: p.read_bytes() for p in res.rglob("*.xz")} == snapshot
    assert compress_results.main([str(copy), "--min-bytes", "1000"]) == 0  # same content, same bytes
    assert {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*.xz")} == {
        p.relative_to(res): b for p, b in snapshot.items()
    }
    raw = next(iter(snapshot.values()))
    assert raw[:6] == b"\xfd7zXZ\0"  # an xz stream
    (res / "a" / "samples.jsonl").write_text("{}\n")
    with pytest.raises(SystemExit, match="exists beside it"):
        compress_results.main([str(res)])


def _git_repo(path: Path) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def test_check_tree_size(tmp_path, capsys):
    repo = _git_repo(tmp_path / "repo")
    (repo / "big").mkdir()
    (repo / "big" / "blob.bin").write_bytes(b"\0" * 300_000)
    (repo / "small.txt").write_text("x")
    (repo / "untracked.bin").write_bytes(b"\0" * 900_000)  # not tracked: not counted
    subprocess.run(["git", "-C", str(repo), "add", "big/blob.bin", "small.txt"], check=True)
    assert check_tree_size.tracked_sizes(repo) == {"big/blob.bin": 300_000, "small.txt": 1}
    assert check_tree_size.main(["--repo", str(repo), "--limit-mib", "0.5"]) == 0
    assert "0.3 MiB in 2 files" in capsys.readouterr().out
    assert check_tree_size.main(["--repo", str(repo), "--limit-mib", "0.25"]) == 1
    err = capsys.readouterr().err
    assert "over the limit" in err and "big/blob.bin" in err and "big/" in err
    # counted as a tar archive carries them: a 512-byte header and the content padded to 512 bytes
    assert [check_tree_size.carried_size(n) for n in (0, 1, 512, 513)] == [512, 1024, 1024, 1536]
    # and on disk in 4 KiB blocks; the larger of the two totals is held to the limit
    assert [check_tree_size.disk_size(n) for n in (0, 1, 4096, 4097)] == [0, 4096, 4096, 8192]
    for i in range(100):  # 100 one-byte files: in all 0.39 MiB as carried, 0.68 MiB on disk
        (repo / f"f{i}.txt").write_text("x")
        subprocess.run(["git", "-C", str(repo), "add", f"f{i}.txt"], check=True)
    assert check_tree_size.main(["--repo", str(repo), "--limit-mib", "0.7"]) == 0
    assert "0.4 MiB as carried, 0.7 MiB on disk" in capsys.readouterr().out
    assert check_tree_size.main(["--repo", str(repo), "--limit-mib", "0.65"]) == 1  # under as carried, over on disk


def test_ci_checks_the_tree_size_before_the_tests():
    lines = [x.strip() for x in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert lines.index("python3 tools/check_tree_size.py") < lines.index("make test")


def test_lmeval_importer_finds_compressed_sample_logs(tmp_path):
    from calbench.lmeval.importer import find_logs
    from calbench.lmeval.pack import PREFIX

    name = f"samples_{PREFIX}triviaqa_2026-01-01T00-00-00.000000.jsonl.gz"
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / name).write_bytes(gzip.compress(b"{}\n"))
    logs = find_logs([tmp_path])
    assert [log.path.name for log in logs] == [name] and logs[0].task == "triviaqa"


def test_legacy_gzip_samples_are_read_and_recompressed_as_xz(tmp_path):
    run = make_run(tmp_path / "res" / "r", conf=[0.2, 0.9] * 20)
    plain = read_samples(run / "samples.jsonl")
    gz = _gzip_legacy(run)
    assert find_samples_file(run) == gz and read_run_samples(run) == plain  # earlier committed runs still read
    assert compress_results.main([str(tmp_path / "res")]) == 0
    assert not gz.exists() and find_samples_file(run) == run / "samples.jsonl.xz"
    assert read_run_samples(run) == plain
    (run / "samples.jsonl.gz").write_bytes(gzip.compress(b"{}\n"))  # a stale gzip copy beside the xz one
    with pytest.raises(DataError, match="both samples.jsonl.xz and samples.jsonl.gz"):
        find_samples_file(run)
    with pytest.raises(SystemExit, match="exists beside it"):
        compress_results.main([str(tmp_path / "res")])


def test_dedupe_report_figures_links_a_report_to_the_copy_kept(tmp_path):
    res = tmp_path / "results"
    png, other = b"\x89PNG same figure", b"\x89PNG another"
    (res / "run").mkdir(parents=True)
    (res / "run" / "reliability.png").write_bytes(png)  # a run folder's own figure: kept
    for name in ("a", "b"):
        (res / name / "report_files").mkdir(parents=True)
        (res / name / "report_files" / "t0_s0.png").write_bytes(png)
        (res / name / "report_files" / "t0_s1.png").write_bytes(other)
        (res / name / "report.md").write_text("![r](report_files/t0_s0.png) ![h](report_files/t0_s1.png)\n")
    (res / "z_files").mkdir()
    (res / "z_files" / "x.png").write_bytes(png)  # no z.md beside it: not a report's, kept
    assert compress_results.main([str(res), "--dedupe-figures"]) == 0
    for name in ("a", "b"):
        assert not (res / name / "report_files" / "t0_s0.png").exists()
    assert (res / "a" / "report_files" / "t0_s1.png").exists() and (res / "z_files" / "x.png").exists()
    assert not (res / "b" / "report_files" / "t0_s1.png").exists()  # b's copy of a's figure
    assert (res / "a" / "report.md").read_text() == "![r](../run/reliability.png) ![h](report_files/t0_s1.png)\n"
    assert (res / "b" / "report.md").read_text() == ("![r](../run/reliability.png) ![h](../a/report_files/t0_s1.png)\n")
    snapshot = {p: p.read_bytes() for p in res.rglob("*") if p.is_file()}
    assert compress_results.main([str(res), "--dedupe-figures"]) == 0  # idempotent
    assert {p: p.read_bytes() for p in res.rglob("*") if p.is_file()} == snapshot


def _scaled_pair(tmp_path):
    """A test run with two methods and a Platt-scaled run made from it by calbench calibrate (plain samples)."""
    ids = [f"q{i}" for i in range(60)]
    y = [i % 3 == 0 for i in range(60)]
    conf = [0.9 if v else 0.3 for v in y]
    cal_ids = [f"c{i}" for i in range(60)]
    cal = make_run(tmp_path / "cal", ids=cal_ids, conf=conf, correct=y, methods=("two-stage", "expected"))
    test = make_run(tmp_path / "test", ids=ids, conf=conf, correct=y, methods=("two-stage", "expected"))
    out = tmp_path / "test-platt"
    assert main(["calibrate", "--fit", str(cal), "--apply", str(test), "--scaler", "platt", "--out", str(out)]) == 0
    return test, out


def test_a_scaled_run_thinned_reads_byte_for_byte_as_before(tmp_path):
    """--thin: a scaler's output keeps only what differs from the run it was applied to; every reader (samples,
    scores, the leaderboard, expand before a resume) sees the same bytes; a changed source is named."""
    from calbench.records import DERIVED_SAMPLES_FILE, open_bytes
    from calbench.reporting.files import thin_derived_runs

    test, scaled = _scaled_pair(tmp_path)
    before = (scaled / "samples.jsonl").read_bytes()
    assert main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "lb1")]) == 0
    (done,) = thin_derived_runs([tmp_path])
    assert done[:2] == (scaled, test) and done[3] < done[2]
    assert find_samples_file(scaled) == scaled / DERIVED_SAMPLES_FILE and not (scaled / "samples.jsonl").exists()
    with open_bytes(scaled / DERIVED_SAMPLES_FILE) as fh:
        assert fh.read() == before
    assert main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "lb2")]) == 0
    for f in sorted((tmp_path / "lb1").iterdir()):
        if f.is_file():
            assert f.read_bytes() == (tmp_path / "lb2" / f.name).read_bytes(), f.name
    assert thin_derived_runs([tmp_path]) == []  # idempotent
    # the source changed: refused, naming it
    _compress(test)
    assert read_run_samples(scaled)  # compressing the source keeps its content
    rows = read_samples(test / "samples.jsonl.xz")
    rows[0]["confidence"] = 0.5
    (test / "samples.jsonl.xz").unlink()
    (test / "samples.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    with pytest.raises(DataError, match="the samples of its source .*test changed since it was derived"):
        read_run_samples(scaled)
    # expanding a thinned run before a resume writes the full samples back
    test2, scaled2 = _scaled_pair(tmp_path / "again")
    text = (scaled2 / "samples.jsonl").read_bytes()
    thin_derived_runs([tmp_path / "again"])
    assert expand_samples(scaled2).read_bytes() == text and not (scaled2 / DERIVED_SAMPLES_FILE).exists()


def test_a_run_on_given_answers_is_thinned_against_their_run_and_a_running_one_is_left_alone(
    tmp_path, tiny_model_dir, monkeypatch
):
    """--thin: a run evaluated on another run's answers (``eval --answers RUN/samples.jsonl``, e.g. a trained
    adapter on the untrained answers) keeps only what differs from that run's records and reads byte for byte as
    before; a run not finished (it resumes from its plain samples) is neither compressed nor thinned."""
    from calbench.records import DERIVED_SAMPLES_FILE, open_bytes
    from calbench.reporting.files import thin_given_answer_runs
    from calbench.runs import Run

    monkeypatch.chdir(tmp_path)  # given_answers paths are recorded relative to the working folder
    common = ["eval", "--model", tiny_model_dir, "--task", "triviaqa", "--limit", "6", "--quiet"]
    assert main([*common, "--method", "two-stage", "--out", "res/before"]) == 0
    answers = "res/before/samples.jsonl"
    assert main([*common, "--method", "two-stage,expected", "--answers", answers, "--out", "res/after"]) == 0
    after = Path("res/after")
    text = (after / "samples.jsonl").read_bytes()
    (done,) = thin_given_answer_runs([Path("res")])
    assert done[:2] == (after, Path("res/before")) and done[3] < done[2]
    assert find_samples_file(after) == after / DERIVED_SAMPLES_FILE
    with open_bytes(after / DERIVED_SAMPLES_FILE) as fh:
        assert fh.read() == text
    assert thin_given_answer_runs([Path("res")]) == []  # idempotent
    # a run still running (or interrupted) is left as it is by the compressor and by the thinning
    expand_samples(after)
    run = Run.open(after)
    run.manifest["status"] = "running"
    run.write()
    assert thin_given_answer_runs([Path("res")]) == []
    assert compress_results.main(["res"]) == 0
    assert (after / "samples.jsonl").read_bytes() == text and (Path("res/before") / "samples.jsonl.xz").exists()


def test_a_run_derived_from_a_like_run_keeps_its_own_records_whole_and_reads_byte_for_byte(tmp_path):
    """--derive RUN SOURCE: a readout run beside an earlier like run (same model and task) on mostly the same
    questions keeps what differs per shared record and its other records whole; it reads back byte for byte; an
    unlike source (another model) or a derived one is refused, naming why."""
    from calbench.records import DERIVED_SAMPLES_FILE, open_bytes

    ids = [f"q{i}" for i in range(40)]
    make_run(tmp_path / "old", ids=ids[:30], conf=[0.31 + i / 100 for i in range(30)])
    new = make_run(tmp_path / "new", ids=ids[10:], conf=[0.5 + i / 1000 for i in range(30)])  # 20 shared, 10 own
    make_run(tmp_path / "other", model="m2", ids=ids)
    for run in ("old", "new"):  # the same long prompt per question in both (what the derived file need not repeat)
        rows = read_samples(tmp_path / run / "samples.jsonl")
        for r in rows:
            r["prompt"] = f"Question {r['id']}: " + " ".join(
                f"word{(7 * int(r['id'][1:]) + k) % 97}" for k in range(60)
            )
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (tmp_path / run / "samples.jsonl").write_text(text, encoding="utf-8")
    text = (new / "samples.jsonl").read_bytes()
    _compress(new)
    with pytest.raises(SystemExit, match="not like runs .model sha256"):  # another model
        compress_results.main(["--derive", str(new), str(tmp_path / "other")])
    assert compress_results.main(["--derive", str(new), str(tmp_path / "old")]) == 0
    assert find_samples_file(new) == new / DERIVED_SAMPLES_FILE
    with open_bytes(new / DERIVED_SAMPLES_FILE) as fh:
        assert fh.read() == text
    with lzma.open(new / DERIVED_SAMPLES_FILE, "rt") as fh:
        patches = [json.loads(line) for line in fh.read().split("\n")[1:] if line]
    assert sum("rec" in p for p in patches) == 10 and sum("i" in p for p in patches) == 20
    assert not isinstance(check_run_folder(new), Skipped)  # validates against its run.json
    with pytest.raises(SystemExit, match="derived or missing"):  # no chain of derived files
        compress_results.main(["--derive", str(tmp_path / "other"), str(new)])


def test_a_derived_record_whose_prompt_differs_in_one_message_keeps_only_that_message(tmp_path):
    """--thin: a nested field of the same shape (a prompt whose stage-1 turn lost its full stop) is kept as the
    leaves that differ ("at"), and reads back byte for byte; a changed shape is kept whole ("set")."""
    from calbench.records import DERIVED_SAMPLES_FILE, open_bytes
    from calbench.reporting.files import thin_derived_samples

    def rec(i: int, reply: str, extra: list | None = None) -> dict:
        messages = [{"role": "user", "content": f"Question number {i}: " + "words " * 40}]
        messages += [{"role": "assistant", "content": reply}] + (extra or [])
        return {"id": f"q{i}", "method": "two-stage", "prompt": {"messages": messages, "assistant_prefix": "C: "}}

    src, run = tmp_path / "src", tmp_path / "run"
    rows_src = [rec(i, f"Answer: Paris number {i}.") for i in range(20)]
    rows = [rec(i, f"Answer: Paris number {i}") for i in range(19)]
    rows.append(rec(19, "Answer: Paris number 19", [{"role": "user", "content": "one more turn"}]))
    for folder, rs in ((src, rows_src), (run, rows)):
        folder.mkdir()
        (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rs))
    text = (run / "samples.jsonl").read_bytes()
    assert thin_derived_samples(run, src)
    with open_bytes(run / DERIVED_SAMPLES_FILE) as fh:
        assert fh.read() == text
    patches = [json.loads(line) for line in lzma.open(run / DERIVED_SAMPLES_FILE, "rt").read().splitlines()[1:]]
    assert patches[0] == {"i": 0, "at": [[["prompt", "messages", 1, "content"], "Answer: Paris number 0"]]}
    assert "at" not in patches[19] and patches[19]["set"]["prompt"] == rows[19]["prompt"]


def test_a_run_on_given_answers_whose_source_moved_is_thinned_against_the_run_with_the_same_samples(
    tmp_path, tiny_model_dir, monkeypatch
):
    """--thin: the recorded given_answers path names a scratch folder since moved (runs/x/before -> results/...);
    the source is the run under the roots whose plain samples have the recorded sha256, even compressed."""
    from calbench.records import DERIVED_SAMPLES_FILE, open_bytes
    from calbench.reporting.files import thin_given_answer_runs

    monkeypatch.chdir(tmp_path)
    common = ["eval", "--model", tiny_model_dir, "--task", "triviaqa", "--limit", "6", "--quiet"]
    assert main([*common, "--method", "two-stage", "--out", "scratch/before"]) == 0
    given = ["--answers", "scratch/before/samples.jsonl"]
    assert main([*common, "--method", "two-stage", *given, "--out", "res/after"]) == 0
    assert main([*common, "--method", "two-stage", "--seed", "1", "--out", "res/other"]) == 0  # other samples
    shutil.move("scratch/before", "res/before")
    _compress(Path("res/before"))
    after = Path("res/after")
    text = (after / "samples.jsonl").read_bytes()
    (done,) = thin_given_answer_runs([Path("res")])
    assert done[:2] == (after, Path("res/before")) and done[3] < done[2]
    with open_bytes(after / DERIVED_SAMPLES_FILE) as fh:
        assert fh.read() == text
    # nothing under the roots has those samples any more: left as it is
    assert main([*common, "--method", "two-stage", "--answers", "res/before/samples.jsonl.xz", "--out", "x/a"]) == 0
    shutil.rmtree("res/before")
    assert thin_given_answer_runs([Path("x")]) == [] and (Path("x/a") / "samples.jsonl").exists()


def test_replot_redraws_a_complete_runs_figures_and_leaves_a_running_one_alone(tmp_path):
    from PIL import Image

    from calbench.figures import FIGURE_DPI

    ids = [f"q{i}" for i in range(40)]
    conf = [(i % 10) / 10 for i in range(40)]
    plots = ["reliability_a.png", "confidence_hist_a.png", "reliability_b.png", "confidence_hist_b.png"]
    runs = {}
    for status in ("complete", "running"):
        run = make_run(tmp_path / status, methods=("a", "b"), ids=ids, conf=conf, status=status)
        manifest = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps({**manifest, "plots": plots}))
        for name in plots:
            (run / name).write_bytes(b"old")
        runs[status] = run
    assert replot_reliability.replot_run(runs["running"], ("reliability", "histogram")) == []
    assert all((runs["running"] / name).read_bytes() == b"old" for name in plots)
    for name in plots:  # a run whose figures were left out of the results gets none
        (runs["running"] / name).unlink()
    manifest = json.loads((runs["running"] / "run.json").read_text())
    (runs["running"] / "run.json").write_text(json.dumps({**manifest, "status": "complete"}))
    assert replot_reliability.replot_run(runs["running"], ("reliability", "histogram")) == []
    assert not any((runs["running"] / name).exists() for name in plots)
    # unless asked for the missing ones (--missing): then the figures it lists are drawn
    drawn = replot_reliability.replot_run(runs["running"], ("reliability", "histogram"), missing=True)
    assert sorted(drawn) == sorted(plots) and all((runs["running"] / name).exists() for name in plots)
    assert replot_reliability.replot_run(runs["complete"]) == ["reliability_a.png", "reliability_b.png"]
    assert (runs["complete"] / "confidence_hist_a.png").read_bytes() == b"old"  # histograms only when asked
    drawn = replot_reliability.replot_run(runs["complete"], ("reliability", "histogram"))
    assert sorted(drawn) == sorted(plots)
    for name in plots:
        with Image.open(runs["complete"] / name) as im:
            assert im.format == "PNG" and im.mode == "P" and im.width < 8 * FIGURE_DPI  # ~6.5 in wide at FIGURE_DPI


def test_question_ids_of_a_thinned_run_are_read_without_rebuilding_it(tmp_path, monkeypatch):
    """question_ids_used (what a study's fresh: check reads): a thinned run's ids are its source's at the lines it
    patches, the same set as when every record is rebuilt; a patch that drops the id falls back to the rebuild."""
    import calbench.records as records
    from calbench.records import DERIVED_SAMPLES_FILE
    from calbench.reporting.files import thin_derived_runs
    from calbench.runs import question_ids_used

    test, scaled = _scaled_pair(tmp_path)
    rebuilt = question_ids_used([scaled])
    thin_derived_runs([tmp_path])
    assert (scaled / DERIVED_SAMPLES_FILE).exists()
    assert question_ids_used([scaled]) == rebuilt == {f"q{i}" for i in range(60)}
    calls = []
    real = records.derived_samples_bytes
    monkeypatch.setattr(records, "derived_samples_bytes", lambda p: calls.append(p) or real(p))
    assert question_ids_used([tmp_path]) == rebuilt | {f"c{i}" for i in range(60)} and calls == []
    # a patch that sets the id is read from the patch; one that takes it from another field is rebuilt
    lines = lzma.open(scaled / DERIVED_SAMPLES_FILE, "rt", encoding="utf-8").read().splitlines()
    first, second = json.loads(lines[1]), json.loads(lines[2])
    first.setdefault("set", {})["id"] = "renamed"
    with lzma.open(scaled / DERIVED_SAMPLES_FILE, "wt", encoding="utf-8") as fh:
        fh.write("\n".join([lines[0], json.dumps(first), *lines[2:]]) + "\n")
    assert "renamed" in question_ids_used([scaled]) and calls == []
    second.setdefault("ref", {})["id"] = "method"
    with lzma.open(scaled / DERIVED_SAMPLES_FILE, "wt", encoding="utf-8") as fh:
        fh.write("\n".join([lines[0], lines[1], json.dumps(second), *lines[3:]]) + "\n")
    got = question_ids_used([scaled])
    assert calls and any(i.startswith("two-stage") or i.startswith("expected") for i in got)
    # the fast path checks the source as the rebuild does: a source changed since the thinning is an error
    with lzma.open(scaled / DERIVED_SAMPLES_FILE, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    calls.clear()
    assert question_ids_used([scaled]) == rebuilt and calls == []
    source = records.find_samples_file(test)
    with records.open_bytes(source) as fh:
        data = fh.read()
    source.unlink()
    (test / "samples.jsonl").write_bytes(data.replace(b'"q0"', b'"q0x"', 1))
    with pytest.raises(DataError, match=r"samples of its source .* changed since it was derived"):
        question_ids_used([scaled])
    assert calls == []
