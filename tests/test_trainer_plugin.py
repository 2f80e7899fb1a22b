"""The trainer plugin is found through the ``calbench.trainers`` entry points (needs `pip install -e .`)."""

from __future__ import annotations

import re

import pytest

from calbench.cli import main
from calbench.training import (
    TrainerError,
    TrainRequest,
    apply_overrides,
    discover_trainers,
    get_trainer,
    load_config,
)


def test_rewarding_doubt_is_registered_as_an_entry_point():
    entries = discover_trainers()
    assert "rewarding-doubt" in entries, "install calbench with `pip install -e .` to register its entry points"
    entry = entries["rewarding-doubt"]
    assert entry.target == "trainers.rewarding_doubt.plugin:RewardingDoubtTrainer"
    cls = entry.load()
    from trainers.rewarding_doubt.plugin import RewardingDoubtTrainer

    assert cls is RewardingDoubtTrainer
    trainer = get_trainer("rewarding-doubt")
    assert trainer.name == "rewarding-doubt" and callable(trainer.train)
    assert trainer.default_config()["scale_rewards"] in ("batch", "none")


def test_unknown_trainer_lists_the_registered_ones():
    with pytest.raises(TrainerError, match="rewarding-doubt"):
        get_trainer("no-such-trainer")


def test_trainers_command_lists_it(capsys):
    assert main(["trainers"]) == 0
    assert "rewarding-doubt" in capsys.readouterr().out


def test_bad_config_is_a_user_error(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("scale_rewards: group\n")
    code = main(
        [
            "train",
            "--trainer",
            "rewarding-doubt",
            "--model",
            "x",
            "--task",
            "triviaqa",
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "scale_rewards" in capsys.readouterr().err


def test_config_file_and_overrides(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("max_steps: 5\nlearning_rate: 1.0e-4\n")
    data = apply_overrides(load_config(cfg), ["max_steps=7", "normalize=false", "judge={f1_threshold: 0.5}"])
    assert data == {"max_steps": 7, "learning_rate": 1e-4, "normalize": False, "judge": {"f1_threshold": 0.5}}
    with pytest.raises(TrainerError, match="key=value"):
        apply_overrides({}, ["oops"])
    with pytest.raises(TrainerError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_shipped_configs_are_valid():
    from pathlib import Path

    from trainers.rewarding_doubt.config import RDConfig

    folder = Path(__file__).resolve().parents[1] / "trainers" / "rewarding_doubt" / "configs"
    configs = [p for p in folder.glob("*.yaml") if not p.name.startswith(("accelerate", "deepspeed"))]
    results = folder.parents[2] / "results"
    studies = sorted(results.rglob("study.yaml"))  # the configs that live with a study (or in its configs/ folder)
    with_study = [s.parent / "config.yaml" for s in studies if (s.parent / "config.yaml").exists()]
    with_study += sorted(results.rglob("configs/*.yaml"))
    configs += with_study
    # 7 experiment configs in results/training (the answer-swap ones left the tree at 91c4686) + the confirmation's 6
    assert len(with_study) >= 13 and len(configs) > len(with_study)
    for path in configs:
        RDConfig.from_mapping(load_config(path))


def test_train_request_defaults(tmp_path):
    r = TrainRequest(model="m", task="t", out_dir=tmp_path)
    assert r.config == {} and r.resume is False


class _BosTokenizer:
    """A chat template that writes BOS itself, and a tokenizer that adds BOS too (or not)."""

    chat_template = "x"
    bos_token, bos_token_id = "<s>", 1

    def __init__(self, adds_bos: bool):
        self.adds_bos = adds_bos

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        return "<s>" + "".join(m["content"] for m in messages) + "|"

    def __call__(self, text):
        return {"input_ids": ([1] if self.adds_bos else []) + [7] * len(text)}


def test_prompt_texts_drop_the_template_bos_only_when_the_tokenizer_adds_one():
    from calbench.elicit import Prompt
    from trainers.rewarding_doubt.data import prompt_texts

    prompts = [
        Prompt([{"role": "user", "content": "q1"}], "Confidence: "),
        Prompt([{"role": "user", "content": "q2"}], ""),
    ]
    assert prompt_texts(_BosTokenizer(adds_bos=True), prompts) == ["q1|Confidence: ", "q2|"]
    assert prompt_texts(_BosTokenizer(adds_bos=False), prompts) == ["<s>q1|Confidence: ", "<s>q2|"]


def test_config_sections_hold_every_setting_once_and_read_nested_yaml():
    import dataclasses

    from trainers.rewarding_doubt.config import SECTIONS, RDConfig

    per_section = [f.name for section in SECTIONS.values() for f in dataclasses.fields(section)]
    assert sorted(per_section) == sorted(f.name for f in dataclasses.fields(RDConfig))  # each exactly once
    flat = RDConfig.from_mapping({"clip_eps": 0.01, "lora_r": 4, "estimator": "exact", "beta": 0.02})
    nested = RDConfig.from_mapping(
        {"reward": {"clip_eps": 0.01}, "lora": {"lora_r": 4}, "estimator": {"estimator": "exact", "beta": 0.02}}
    )
    assert flat == nested and nested.section("lora")["lora_r"] == 4
    # a section's name with a plain value is the setting of that name
    assert RDConfig.from_mapping({"reward": "brier", "estimator": "exact"}).section("reward")["reward"] == "brier"


@pytest.mark.parametrize(
    "data, says",
    [
        ({"reward": {"learning_rate": 1e-3}}, "reward.learning_rate: not a setting of section 'reward'"),
        ({"lora_r": 4, "lora": {"lora_r": 8}}, "'lora_r' is given twice"),
        ({"lora": {"lora_r": 0}}, "lora_r must be >= 1"),
        ({"evaluation": {"save_best_on": "greedy/auroc", "eval_every": 0}}, "save_best_on needs held-out"),
        ({"estimator": "grpo", "continue_from": "runs/a"}, "continue_from needs estimator exact"),
    ],
)
def test_config_sections_refuse_with_the_setting_named(data, says):
    from calbench.training import TrainerError
    from trainers.rewarding_doubt.config import RDConfig

    with pytest.raises(TrainerError, match=re.escape(says)):
        RDConfig.from_mapping(data)
