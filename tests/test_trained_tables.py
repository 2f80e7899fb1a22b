"""calbench.reporting.tables: the level table says which stated level is modal and the mean P(level)."""

from __future__ import annotations

import numpy as np

from calbench.reporting import tables as _tables


def _script():
    return _tables


class _Run:
    def __init__(self, samples):
        self._samples = samples

    def samples(self, method):
        return self._samples


def _dist(mass):
    d = [0.0] * 11
    for k, v in mass.items():
        d[k] = v
    return d


def test_level_profile_means_the_distributions_and_counts_the_modes():
    samples = [
        {"confidence_dist": _dist({1: 0.6, 2: 0.4})},
        {"confidence_dist": _dist({1: 0.3, 2: 0.7})},
        {"confidence_dist": _dist({1: 0.9, 9: 0.1})},
        {"confidence": 0.5},
    ]  # the last records none
    mean, modes = _script().level_profile(samples)
    assert np.allclose(mean[[1, 2, 9]], [0.6, 1.1 / 3, 0.1 / 3]) and np.isclose(mean.sum(), 1.0)
    assert modes.tolist() == [0, 2, 1] + [0] * 8


def test_level_table_lists_only_readouts_with_a_distribution():
    mod = _script()
    with_dist = _Run([{"confidence_dist": _dist({3: 1.0})}] * 2)
    lines = mod.level_table(
        [
            ("after:expected", with_dist, "expected"),
            ("after:two-stage", _Run([{}]), "two-stage"),
            ("after-platt:expected+platt", with_dist, "expected+platt"),
        ]
    )  # scaled: its source's
    rows = [line for line in lines if line.startswith("| after")]
    assert rows == ["| after:expected | 2 | " + " ".join(["0.000"] * 3 + ["1.000"] + ["0.000"] * 7) + " | 3: 2 |"]
    assert mod.level_table([("after:two-stage", _Run([{}]), "two-stage")]) == []
    assert mod.level_profile([{}]) is None


def test_load_runs_skips_a_missing_folder_and_an_unfinished_run_only_when_asked(tmp_path):
    """A study in progress writes its tables from the runs it has finished (a running or interrupted run is named
    and skipped); a finished study's tables refuse an unfinished run."""
    import pytest

    from calbench.errors import DataError
    from calbench.runs import Run
    from tests.helpers import make_run

    done = make_run(tmp_path / "done", conf=[0.2, 0.9] * 20)
    running = make_run(tmp_path / "running", conf=[0.3, 0.8] * 20)
    run = Run.open(running)
    run.manifest["status"] = "running"
    run.write()
    notes: list[str] = []
    found = _tables.load_runs([done, running, tmp_path / "missing"], note=notes.append, skip_unfinished=True)
    assert list(found) == ["done"]
    assert notes == [f"skipped {running}: not finished", f"skipped {tmp_path / 'missing'}: no such folder"]
    with pytest.raises(DataError, match="running"):
        _tables.load_runs([done, running])


def test_load_runs_labels_two_folders_of_one_name_by_their_parents(tmp_path):
    """Two chains' evaluations often share a folder name (``rd-a/pass2-medqa``, ``rd-b/pass2-medqa``): both are
    tabled, each labelled with its parent; a folder listed twice counts once; other labels stay the folder name."""
    from tests.helpers import make_run

    a = make_run(tmp_path / "rd-a" / "pass2-medqa", conf=[0.2, 0.9] * 20)
    b = make_run(tmp_path / "rd-b" / "pass2-medqa", conf=[0.3, 0.7] * 20)
    other = make_run(tmp_path / "rd-a" / "before-medqa", conf=[0.5, 0.6] * 20)
    found = _tables.load_runs([a, other, b, tmp_path / "rd-a" / ".." / "rd-a" / "pass2-medqa"])
    assert list(found) == ["rd-a/pass2-medqa", "before-medqa", "rd-b/pass2-medqa"]
    assert found["rd-b/pass2-medqa"].path == b
