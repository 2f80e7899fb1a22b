"""A 2-step CPU run of the Rewarding Doubt trainer on a tiny random-init Llama, end to end through the CLI:
``calbench train`` writes an adapter, a log with held-out evaluations and a resumable checkpoint, and the
adapter loads in the evaluation backend (and ``calbench eval --adapter`` where that command exists)."""

from __future__ import annotations

import json
import math
import string
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_model(out: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-wide Llama with a character-level tokenizer (digits are single tokens, so "10" is two,
    as with SmolLM2) and a ChatML template; random weights."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {t: i for i, t in enumerate(specials + list(string.printable))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tok.decoder = decoders.Fuse()
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        additional_special_tokens=specials[1:],
    )
    hf_tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        eos_token_id=vocab["<|im_end|>"],
        pad_token_id=vocab["<|endoftext|>"],
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(cfg).save_pretrained(out)
    hf_tok.save_pretrained(out)
    return out


SMOKE = [
    "train_size=8",
    "heldout_size=4",
    "prompts_per_step=2",
    "num_generations=4",
    "max_steps=2",
    "eval_every=1",
    "save_every=1",
    "logging_steps=1",
    "answer_max_new_tokens=6",
    "answer_batch_size=8",
    "eval_batch_size=8",
    "learning_rate=1e-3",
    "warmup_steps=0",
    "batch_size=4",
    "epochs=2",
]


def smoke_args(model: Path, out: Path, estimator: str, extra: list[str] = ()) -> list[str]:
    return ["train", "--trainer", "rewarding-doubt", "--model", str(model), "--task", "triviaqa", "--out", str(out)] + [
        a for s in SMOKE + [f"estimator={estimator}"] + list(extra) for a in ("--set", s)
    ]


@pytest.fixture(scope="module", params=["exact", "grpo"])
def trained(request, tmp_path_factory):
    from calbench.cli import main

    root = tmp_path_factory.mktemp(f"rd-{request.param}")
    model = build_tiny_model(root / "tiny")
    out = root / "run"
    assert main(smoke_args(model, out, request.param)) == 0
    return model, out, request.param


def test_two_step_run_writes_adapter_log_and_summary(trained):
    _, out, estimator = trained
    adapter = out / "adapter"
    assert (adapter / "adapter_config.json").exists()
    assert any(adapter.glob("adapter_model.*"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2
    # both estimators answer in one shape (trainers/rewarding_doubt/estimators)
    from trainers.rewarding_doubt.estimators import RESULT_KEYS

    assert set(RESULT_KEYS) <= set(summary) and summary["stopped_by_time_limit"] is False
    lines = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    heldout = [r for r in lines if r["kind"] == "heldout"]
    assert [r["step"] for r in heldout] == [0, 1, 2]
    for r in heldout:
        assert 0 <= r["parse_rate"] <= 1 and len(r["greedy/histogram"]) == 11 and r["n"] == 4
        assert 0 <= r["expected/mean_confidence"] <= 1
        assert r["expected/auroc_ci_low"] is None or r["expected/auroc_ci_low"] <= r["expected/auroc"]
    # labels seen: 4 (exact: batch_size) or 2 prompts (grpo: prompts_per_step) per step
    assert [r["labels_seen"] for r in heldout] == ([0, 4, 8] if estimator == "exact" else [0, 2, 4])
    reward_key = "expected_reward" if estimator == "exact" else "reward"
    assert any(r["kind"] == "train" and reward_key in r for r in lines)
    resolved = (out / "config.yaml").read_text()
    assert f"estimator: {estimator}" in resolved and "scale_rewards: none" in resolved
    assert "trainer: rewarding-doubt" in resolved
    assert (out / "training_curve.png").stat().st_size > 1000
    assert len((out / "answers.jsonl").read_text().splitlines()) == 4 + 8


def test_adapter_loads_in_the_eval_backend(trained):
    from calbench.backends.hf import HFBackend
    from calbench.elicit import Prompt

    model, out, estimator = trained
    backend = HFBackend(str(model), adapter=str(out / "adapter"), device="cpu")
    assert type(backend.model).__name__ == "PeftModelForCausalLM"
    # the trainer named the adapter; the backend records the name for run.json and the leaderboard
    card = json.loads((out / "adapter" / "calbench_adapter.json").read_text())
    assert card["name"].startswith(f"RD triviaqa ({estimator}, log score") and card["labels_seen"] > 0
    assert backend.manifest()["adapter_name"] == card["name"] and "Rewarding Doubt on triviaqa" in card["description"]
    gen = backend.generate([Prompt([{"role": "user", "content": "Q?"}], "Confidence: ")], max_new_tokens=3)
    assert isinstance(gen[0].text, str)
    assert backend.manifest()["adapter_sha256"]


def test_calbench_eval_loads_the_adapter(trained, tmp_path):
    pytest.importorskip("calbench.commands.eval", reason="calbench eval not available yet")
    from calbench.cli import main

    model, out, _ = trained
    res = tmp_path / "eval"
    code = main(
        [
            "eval",
            "--model",
            str(model),
            "--adapter",
            str(out / "adapter"),
            "--task",
            "triviaqa",
            "--method",
            "two-stage",
            "--split",
            "eval",
            "--limit",
            "3",
            "--out",
            str(res),
        ]
    )
    assert code == 0
    run = json.loads((res / "run.json").read_text())
    assert run["model"]["adapter"]


def test_resume_continues_from_the_last_checkpoint(trained):
    from calbench.cli import main

    model, out, estimator = trained
    args = smoke_args(model, out, estimator, ["max_steps=3"])
    assert main(args) == 2  # refuses to overwrite a run without --resume
    assert main(args + ["--resume"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3
    assert summary["resumed_from"].endswith("step-2" if estimator == "exact" else "checkpoint-2")


def test_a_resumed_exact_run_logs_each_replayed_step_once(tmp_path):
    """Steps after the checkpoint a run resumes from are replayed; their records from the interrupted run are
    dropped from train_log.jsonl (and a half-written last line with them), so each step is logged once."""
    import shutil

    from calbench.cli import main

    model = build_tiny_model(tmp_path / "tiny")
    out = tmp_path / "run"
    args = smoke_args(model, out, "exact", ["max_steps=4", "save_every=2", "eval_every=2"])
    assert main(args) == 0
    shutil.rmtree(out / "checkpoints" / "step-4")  # as if interrupted after step 4's log, before its checkpoint
    with open(out / "train_log.jsonl", "a") as fh:
        fh.write('{"step": 5, "kind": "tr')
    assert main(args + ["--resume"]) == 0
    records = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2, 3, 4]
    assert [r["step"] for r in records if r["kind"] == "heldout"] == [0, 2, 4]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from"].endswith("step-2")
    # the summary accounts for both invocations, not only the resumed stretch
    assert [x["steps"] for x in summary["sessions"]] == [4, 4]
    assert summary["sessions"][0]["resumed_from"] is None and summary["sessions"][1]["resumed_from"].endswith("step-2")
    assert summary["train_seconds_all_sessions"] == pytest.approx(
        sum(x["train"] for x in summary["sessions"]), abs=0.11
    )
    assert summary["train_seconds_all_sessions"] > summary["seconds"]["train"]
    # the log shows both invocations too (an interrupted one, which writes no summary, included)
    assert [(x["first_step"], x["last_step"]) for x in summary["logged_invocations"]] == [(1, 2), (3, 4)]


def test_strict_format_exact_scores_the_whole_number(tmp_path):
    """strict_format with the exact estimator trains on whole-number outcomes: the first step sees the same
    batch from the same initial weights as the first-token run, and puts more mass on "other" (a digit not
    followed by the end of the turn or whitespace is now a format failure)."""
    from calbench.cli import main

    model = build_tiny_model(tmp_path / "tiny")
    first_steps = {}
    for strict in (False, True):
        out = tmp_path / f"run-{strict}"
        args = smoke_args(model, out, "exact", ["max_steps=1", "eval_every=0", f"strict_format={str(strict).lower()}"])
        assert main(args) == 0
        lines = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
        first_steps[strict] = next(r for r in lines if r["kind"] == "train" and r["step"] == 1)
        assert f"strict_format: {str(strict).lower()}" in (out / "config.yaml").read_text()
    assert first_steps[True]["accuracy"] == first_steps[False]["accuracy"]  # the same batch
    assert first_steps[True]["format_mass"] > first_steps[False]["format_mass"]


def test_exact_is_refused_in_joint_mode_and_joint_needs_room_for_the_reply():
    from calbench.training import TrainerError
    from trainers.rewarding_doubt.config import JOINT_MIN_COMPLETION, RDConfig

    with pytest.raises(TrainerError, match="estimator 'exact'.*confidence_only"):
        RDConfig(mode="joint", estimator="exact", max_completion_length=32)
    with pytest.raises(TrainerError, match="max_completion_length 4 cannot hold a joint-mode reply"):
        RDConfig(mode="joint", max_completion_length=4)
    assert RDConfig(mode="joint", max_completion_length=JOINT_MIN_COMPLETION).estimator_used == "grpo"
    assert RDConfig().estimator_used == "exact"


def test_joint_length_is_checked_against_the_real_tokenizer(tmp_path):
    from transformers import AutoTokenizer

    from calbench.training import TrainerError
    from trainers.rewarding_doubt.estimators.grpo import check_joint_length

    tok = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "tiny"))  # one token per character
    with pytest.raises(TrainerError, match="too short for a joint-mode reply"):
        check_joint_length(tok, 16, "0-10")
    check_joint_length(tok, 64, "0-10")


def test_joint_mode_runs_and_evaluates_the_one_stage_format(tmp_path):
    from calbench.cli import main

    model = build_tiny_model(tmp_path / "tiny")
    out = tmp_path / "joint"
    args = smoke_args(model, out, "grpo", ["mode=joint", "max_completion_length=40", "max_steps=1"])
    assert main(args) == 0
    heldout = [
        json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines() if json.loads(x)["kind"] == "heldout"
    ]
    assert [r["step"] for r in heldout] == [0, 1]
    for r in heldout:
        assert r["format"] == "one-stage" and r["n"] == 4 and 0 <= r["parse_rate"] <= 1
        assert 0 <= r["answer_accuracy"] <= 1 and len(r["greedy/histogram"]) == 11
    assert not (out / "answers.jsonl").exists() or not (out / "answers.jsonl").read_text().strip()


def test_continue_from_trains_the_earlier_adapter_on_the_questions_it_has_not_seen(tmp_path, capsys):
    """``continue_from``: the continuation starts from the earlier run's adapter (its step-0 held-out evaluation
    equals the earlier run's last one), keeps its held-out answers, trains on the next questions of the pool's
    order only, and records the chain; a continuation with a different seed (another pool order) is refused."""
    from calbench.cli import main

    model = build_tiny_model(tmp_path / "tiny")
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(smoke_args(model, first, "exact", ["epochs=1"])) == 0  # 8 questions, 2 steps
    assert main(smoke_args(model, second, "exact", ["epochs=1", f"continue_from={first}"])) == 0

    def heldout(run):
        return [
            json.loads(x)
            for x in (run / "train_log.jsonl").read_text().splitlines()
            if json.loads(x)["kind"] == "heldout"
        ]

    last, start = heldout(first)[-1], heldout(second)[0]
    assert start["step"] == 0
    for key in ("greedy/log_score", "expected/log_score", "expected/mean_confidence"):
        assert start[key] == pytest.approx(last[key], abs=1e-6)
    assert heldout(first)[0]["expected/log_score"] != pytest.approx(last["expected/log_score"], abs=1e-6)

    answers = [json.loads(x)["id"] for x in (second / "answers.jsonl").read_text().splitlines()]
    first_ids = [json.loads(x)["id"] for x in (first / "answers.jsonl").read_text().splitlines()]
    assert answers[:12] == first_ids and len(answers) == 4 + 8 + 8 and not set(answers[12:]) & set(first_ids)
    import yaml

    resolved = yaml.safe_load((second / "config.yaml").read_text())
    assert resolved["continued_from"]["skipped_train_questions"] == 8
    assert resolved["continued_from"]["labels_seen_before"] == 8
    assert len(resolved["continued_from"]["adapter_sha256"]) == 64
    summary = json.loads((second / "summary.json").read_text())
    assert summary["labels_seen"] == 8 and summary["labels_seen_with_continued"] == 16
    # the continuation's curve runs over both runs; the redraw command draws the same from the folders
    from trainers.rewarding_doubt.training_log import main as redraw

    curve = second / "training_curve.png"
    assert curve.stat().st_size > 1000
    curve.unlink()
    assert redraw([str(second)]) == 0 and curve.stat().st_size > 1000

    # another pass (continue_with: new_pass): the pool's first questions again, the chain's labels counted on
    again = tmp_path / "again"
    assert (
        main(
            smoke_args(
                model,
                again,
                "exact",
                ["epochs=1", "beta=0.02", "kl_reference=uniform", f"continue_from={second}", "continue_with=new_pass"],
            )
        )
        == 0
    )
    trained = [
        json.loads(x) for x in (again / "train_log.jsonl").read_text().splitlines() if json.loads(x)["kind"] == "train"
    ]
    # kl_reference: uniform is an entropy bonus: KL(pi || uniform over the 12 outcomes) = log 12 - entropy
    assert trained and all(r["kl"] == pytest.approx(math.log(12) - r["entropy"], abs=1e-4) for r in trained)
    resolved = yaml.safe_load((again / "config.yaml").read_text())["continued_from"]
    assert (resolved["pass"], resolved["skipped_train_questions"], resolved["labels_seen_before"]) == (1, 0, 16)
    summary = json.loads((again / "summary.json").read_text())
    assert summary["labels_seen"] == 8 and summary["labels_seen_with_continued"] == 24
    assert heldout(again)[0]["expected/log_score"] == pytest.approx(heldout(second)[-1]["expected/log_score"], abs=1e-6)

    capsys.readouterr()
    assert main(smoke_args(model, tmp_path / "third", "exact", ["seed=1", f"continue_from={first}"])) == 2
    assert "'seed'" in capsys.readouterr().err
    assert main(smoke_args(model, tmp_path / "fourth", "exact", [f"continue_from={tmp_path / 'none'}"])) == 2
    assert "config.yaml not found" in capsys.readouterr().err


def test_top_layer_run_trains_through_the_prefix_cache_and_its_adapter_loads(tmp_path):
    """``lora_top_layers: 1`` through the CLI: the adapter holds LoRA weights of the top layer only, the summary
    records the cache (checked against the full forward), and ``calbench eval --adapter`` loads the adapter."""
    from calbench.backends.hf import HFBackend
    from calbench.cli import main

    model = build_tiny_model(tmp_path / "tiny")
    out = tmp_path / "run"
    args = smoke_args(
        model,
        out,
        "exact",
        ["lora_top_layers=1", "strict_format=true", "beta=0.02", "kl_reference=uniform", "prefix_cache_dtype=float32"],
    )
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    cache = summary["prefix_cache"]
    assert cache["top_layers"] == 1 and cache["entries"] == 8 and cache["check_gap"] < 1e-4
    backend = HFBackend(str(model), adapter=str(out / "adapter"), device="cpu")
    names = [n for n, _ in backend.model.named_parameters() if "lora_" in n]
    assert names and all(".layers.1." in n for n in names)


def test_stage_one_answers_are_shared_between_runs(tmp_path, monkeypatch):
    """A second run (another out folder, e.g. another seed) on the same model and settings takes the untrained
    answers from the shared cache instead of generating them; a changed prompt is a miss."""
    from calbench.backends.base import Generation
    from calbench.judge import judge_for
    from calbench.records import Example
    from trainers.rewarding_doubt import data

    monkeypatch.setenv("CALBENCH_CACHE", str(tmp_path / "cache"))
    calls = []

    class Backend:
        resolved = type("R", (), {"sha256": "f" * 64})()
        device, dtype, batch_size, adapter = "cpu", "float32", 4, None

        def generate(self, prompts, **kw):
            calls.append(len(prompts))
            return [Generation(text=f"Paris {len(calls)}") for _ in prompts]

    examples = [
        Example(
            id=f"q{i}",
            task="triviaqa",
            question=f"Capital {i}?",
            answers=["Paris 1"],
            choices=None,
            domain="geo",
            split="train",
            meta={},
        )
        for i in range(3)
    ]
    judge = judge_for("open")
    shared = data.shared_answers_path(Backend(), kind="open", max_new_tokens=None)
    assert shared is not None and shared.parent == tmp_path / "cache" / "answers"
    first = data.answer_examples(
        examples,
        Backend(),
        judge,
        kind="open",
        max_new_tokens=None,
        cache=tmp_path / "a" / "answers.jsonl",
        shared=shared,
        progress=False,
    )
    second = data.answer_examples(
        examples,
        Backend(),
        judge,
        kind="open",
        max_new_tokens=None,
        cache=tmp_path / "b" / "answers.jsonl",
        shared=shared,
        progress=False,
    )
    assert calls == [3]  # generated once
    assert [a.answer for a in second] == [a.answer for a in first] == ["Paris 1"] * 3
    assert [a.correct for a in second] == [1, 1, 1]  # judged again by this run's judge
    assert len((tmp_path / "b" / "answers.jsonl").read_text().splitlines()) == 3
    changed = [Example(**{**examples[0].to_dict(), "question": "Another wording?"})]
    data.answer_examples(
        changed,
        Backend(),
        judge,
        kind="open",
        max_new_tokens=None,
        cache=tmp_path / "c" / "answers.jsonl",
        shared=shared,
        progress=False,
    )
    assert calls == [3, 1]
    # other settings or a model without a sha256: another file, or none
    assert data.shared_answers_path(Backend(), kind="open", max_new_tokens=7) != shared
    Backend.resolved.sha256 = None
    assert data.shared_answers_path(Backend(), kind="open", max_new_tokens=None) is None


def test_a_mixed_pool_trains_each_question_in_its_own_format(tmp_path, capsys):
    """mix: a pool of open (TriviaQA) and multiple-choice (ARC-Challenge) questions; each is answered in its kind's
    format and judged by its task's judge; the adapter card and summary name the mix; --task must say mix."""
    from calbench.cli import main
    from calbench.records import iter_jsonl

    model = build_tiny_model(tmp_path / "tiny")
    out = tmp_path / "run"
    args = smoke_args(model, out, "exact", ["mix={triviaqa: 6, arc_challenge: 6}", "train_size=null", "seed=3"])
    args[args.index("--task") + 1] = "mix"
    i = args.index("answer_max_new_tokens=6")  # each kind's own answer budget
    del args[i - 1 : i + 1]
    assert main(args) == 0
    answers = {r["id"]: r for _, r in iter_jsonl(out / "answers.jsonl")}
    assert len(answers) == 12
    arc = [r for i, r in answers.items() if not i.startswith("tqa-")]
    assert len(arc) == 6 and all(r["reply"].startswith("Answer:") for r in answers.values())
    import yaml

    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["task"] == "mix(triviaqa+arc_challenge)" and config["train_questions"] == 8
    mixed = config["mix_questions"]
    assert sum(mixed["train"].values()) == 8 and sum(mixed["heldout"].values()) == 4
    assert {k: mixed["train"][k] + mixed["heldout"][k] for k in mixed["train"]} == {"triviaqa": 6, "arc_challenge": 6}
    assert config["judge"]["name"] == "mixed" and config["judge"]["arc_challenge"]["name"] == "choice_letter"
    assert config["judge"]["triviaqa"]["containment"] is False
    card = json.loads((out / "adapter" / "calbench_adapter.json").read_text())
    assert card["task"] == "mix(triviaqa+arc_challenge)"
    assert main(smoke_args(model, tmp_path / "x", "exact", ["mix={triviaqa: 6, arc_challenge: 6}"])) == 2
    assert "--task mix and the setting mix" in capsys.readouterr().err
