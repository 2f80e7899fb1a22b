"""Human names of trained systems read from a study file (calbench.reporting.names)."""

from __future__ import annotations

from pathlib import Path

import yaml

from calbench.reporting.names import adapter_name, adapter_names


def _study(tmp_path: Path, spec: dict) -> Path:
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return tmp_path


def test_chain_names_the_adapter_its_settings_give(tmp_path: Path) -> None:
    folder = _study(
        tmp_path,
        {
            "study": "conf",
            "name": "RD SciQ (confirmation)",
            "training": [
                {"name": "pass1", "settings": {"seed": 0}},
                {"name": "pass2", "settings": {"seed": 0, "adapter_name": "RD SciQ (confirmation, seed 0)"}},
            ],
            "evaluations": [
                {"answers": "a", "adapter": "pass2", "out": "test", "first": 200},
                {"answers": "a", "adapter": "pass1", "out": "first-pass"},
                {"answers": "a", "adapter": "pass2/checkpoints/step-50", "out": "mid"},
                {"answers": "a", "adapter": False, "out": "probe"},
            ],
            "checkpoints": [{"step": 75, "out": "step75"}],
            "scalers": [{"fit": "cal", "apply": "test", "out": "test-platt"}],
        },
    )
    assert adapter_name(folder / "test") == "RD SciQ (confirmation, seed 0)"
    assert adapter_name(folder / "test-200") == "RD SciQ (confirmation, seed 0)"  # the subset run
    assert adapter_name(folder / "test-platt") == "RD SciQ (confirmation, seed 0)"  # rates what it was applied to
    assert adapter_name(folder / "first-pass") == "RD SciQ (confirmation) (pass1)"  # no name given: study + training
    assert adapter_name(folder / "mid") == "RD SciQ (confirmation) (pass2)"  # a file under the work folder
    assert adapter_name(folder / "step75") == "RD SciQ (confirmation) (step 75)"
    assert adapter_name(folder / "probe") is None and adapter_name(folder / "elsewhere") is None
    assert adapter_names([folder / "test", folder / "probe"]) == {folder / "test": "RD SciQ (confirmation, seed 0)"}


def test_single_training_is_the_study_name(tmp_path: Path) -> None:
    folder = _study(
        tmp_path,
        {
            "study": "x",
            "name": "RD TriviaQA, pass 2",
            "training": {"trainer": "rewarding-doubt"},
            "evaluations": [{"answers": "a", "out": "pass2-triviaqa"}],
        },
    )
    assert adapter_name(folder / "pass2-triviaqa") == "RD TriviaQA, pass 2"
    assert adapter_name(tmp_path / "nothing" / "run") is None  # no study beside it
