"""``calbench checkpoint`` (trainers.rewarding_doubt.export): an exact-trainer checkpoint written as a loadable
adapter folder."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from calbench.training import TrainerError
from trainers.rewarding_doubt import export as ca


def _run(tmp_path, step=25):
    run = tmp_path / "run"
    (run / "adapter").mkdir(parents=True)
    (run / "adapter" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    lora = {
        "base_model.model.layer.lora_A.weight": torch.randn(8, 4).t(),  # not contiguous
        "base_model.model.layer.lora_B.weight": torch.randn(4, 8),
    }
    ck = run / "checkpoints" / f"step-{step}"
    ck.mkdir(parents=True)
    torch.save({"step": step, "lora": lora, "optimizer": {}, "scheduler": {}}, ck / "state.pt")
    return run, lora


def test_the_checkpoint_weights_and_config_become_an_adapter(tmp_path):
    run, lora = _run(tmp_path)
    out = ca.export(run, 25, tmp_path / "adapter-25")
    got = load_file(str(out / "adapter_model.safetensors"))
    assert set(got) == set(lora)
    for k, v in lora.items():
        assert torch.equal(got[k], v)
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 8
    meta = json.loads((out / "checkpoint.json").read_text())
    assert meta["step"] == 25 and len(meta["state_sha256"]) == 64


def test_a_missing_or_mislabelled_checkpoint_is_refused(tmp_path):
    run, _ = _run(tmp_path)
    with pytest.raises(TrainerError, match="step-50"):
        ca.export(run, 50, tmp_path / "x")
    (run / "checkpoints" / "step-25").rename(run / "checkpoints" / "step-30")
    with pytest.raises(TrainerError, match="records step 25, not 30"):
        ca.export(run, 30, tmp_path / "x")


def test_the_checkpoint_command_goes_through_the_trainer(tmp_path, capsys):
    from calbench.cli import main
    from calbench.models import read_adapter_card, write_adapter_card

    run, _ = _run(tmp_path)
    write_adapter_card(run / "adapter", "RD TriviaQA", "two passes", task="triviaqa", steps=975)
    out = tmp_path / "adapter-25"
    assert main(["checkpoint", "--trainer", "rewarding-doubt", str(run), "25", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out) and (out / "adapter_model.safetensors").is_file()
    card = read_adapter_card(out)  # the final adapter's name, at this step
    assert card is not None and (card["name"], card["steps"], card["task"]) == ("RD TriviaQA (step 25)", 25, "triviaqa")
    assert main(["checkpoint", "--trainer", "rewarding-doubt", str(run), "50", str(tmp_path / "x")]) == 2
    assert "step-50" in capsys.readouterr().err


def test_a_grpo_checkpoint_is_copied_as_an_adapter(tmp_path):
    """TRL's checkpoint-N folder holds the adapter already: export copies it (one interface for both estimators)."""
    from safetensors.torch import save_file

    ck = tmp_path / "run" / "checkpoints" / "checkpoint-40"
    ck.mkdir(parents=True)
    (ck / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4}))
    save_file({"w": torch.zeros(2, 2)}, str(ck / "adapter_model.safetensors"))
    out = ca.export(tmp_path / "run", 40, tmp_path / "adapter-40")
    assert (out / "adapter_model.safetensors").read_bytes() == (ck / "adapter_model.safetensors").read_bytes()
    assert json.loads((out / "checkpoint.json").read_text())["step"] == 40
    with pytest.raises(TrainerError, match="step-41"):
        ca.export(tmp_path / "run", 41, tmp_path / "x")
