"""make demo's trained half: the shipped adapter of a task rates the untrained model's answers (a tiny model and
a random adapter here; the real adapters are in adapters/)."""

from __future__ import annotations

import json
from pathlib import Path

from calbench.records import read_samples


def test_demo_rates_the_untrained_answers_with_a_shipped_adapter(tmp_path, tiny_model_dir, capsys, monkeypatch):
    """demo with an adapter folder: the trained model of a task whose adapter is there (its card names the task
    and the base model) rates the untrained run's answers; a task without one, or an adapter of another base
    model, gets the untrained model only; the report holds both systems. An adapter under the working directory is
    recorded relative to it (given as an absolute path here)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from calbench.cli import main
    from calbench.models import write_adapter_card

    adapters = tmp_path / "adapters"
    peft = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        LoraConfig(r=2, target_modules="all-linear", init_lora_weights=False),
    )
    peft.save_pretrained(adapters / "rd-triviaqa")
    write_adapter_card(adapters / "rd-triviaqa", "RD tiny", "a random adapter", task="triviaqa", model=tiny_model_dir)
    peft.save_pretrained(adapters / "other")
    write_adapter_card(adapters / "other", "RD other", "another base model", task="sciq", model="some-other-model")
    out = tmp_path / "demo"
    monkeypatch.chdir(tmp_path)
    args = ["demo", "--model", tiny_model_dir, "--tasks", "triviaqa,sciq", "--limit", "4", "--out", str(out)]
    assert main([*args, "--adapters", str(adapters), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "before/after" in printed and "no trained adapter for sciq" in printed
    name = Path(tiny_model_dir).name
    untrained = read_samples(next(out.glob(f"*{name}__triviaqa__two-stage")) / "samples.jsonl")
    trained_dir = next(out.glob(f"*{name}__triviaqa__two-stage__trained"))
    trained = read_samples(trained_dir / "samples.jsonl")
    assert [s["answer"] for s in trained] == [s["answer"] for s in untrained] and len(trained) == 4
    man = json.loads((trained_dir / "run.json").read_text())
    assert man["model"]["adapter_name"] == "RD tiny" and man["given_answers"]["n_used"] == 4
    assert man["model"]["adapter"] == str(Path("adapters") / "rd-triviaqa")
    assert not list(out.glob("*__sciq__two-stage__trained"))
    assert "RD tiny" in (out / "report" / "report.md").read_text()


def test_an_adapter_is_refused_on_a_base_model_other_than_its_cards(tmp_path, tiny_model_dir):
    """A shipped adapter's card records its base model's sha256: the hf backend refuses it on a model whose
    sha256 differs (naming both) and loads it on its own."""
    import shutil

    import pytest
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from calbench.backends.hf import HFBackend
    from calbench.errors import ModelNotFoundError
    from calbench.models import write_adapter_card

    model = tmp_path / "tiny"
    shutil.copytree(tiny_model_dir, model)
    (model / "calbench_source.json").write_text(json.dumps({"sha256": "a" * 64}))
    peft = get_peft_model(AutoModelForCausalLM.from_pretrained(model), LoraConfig(r=2, target_modules="all-linear"))
    adapter = tmp_path / "adapter"
    peft.save_pretrained(adapter)
    card = adapter / "calbench_adapter.json"
    write_adapter_card(adapter, "RD tiny", "a random adapter", task="triviaqa", model=str(model))
    data = json.loads(card.read_text())
    card.write_text(json.dumps({**data, "model_sha256": "b" * 64}))
    with pytest.raises(ModelNotFoundError, match=f"sha256 {'b' * 64}.*has sha256 {'a' * 64}"):
        HFBackend(str(model), adapter=str(adapter))
    card.write_text(json.dumps({**data, "model_sha256": "a" * 64}))
    assert HFBackend(str(model), adapter=str(adapter)).adapter_sha256
