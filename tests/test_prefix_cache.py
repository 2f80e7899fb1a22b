"""The exact estimator's frozen-prefix cache (``lora_top_layers``): the cached forward against the full model's
readout, the on-disk store and its resume, the LoRA placement, and a training loop that learns through it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from calbench.levels import digit_token_ids, ids_level_log_probs, number_end_token_ids  # noqa: E402
from calbench.training import TrainerError  # noqa: E402
from trainers.rewarding_doubt.config import RDConfig  # noqa: E402
from trainers.rewarding_doubt.prefix_cache import PrefixCache, pack  # noqa: E402

PROMPTS = [
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\nAnswer: Paris"
    "<|im_end|>\n<|im_start|>user\nHow confident are you?<|im_end|>\n<|im_start|>assistant\nConfidence: ",
    "<|im_start|>user\nWho wrote Hamlet?<|im_end|>\n<|im_start|>assistant\nConfidence: ",
    "<|im_start|>user\nName a prime number.<|im_end|>\n<|im_start|>assistant\nAnswer: 9<|im_end|>\nConfidence: ",
]


@pytest.fixture(scope="module")
def four_layer(real_model_dir):
    """A 4-layer random-init Llama (SmolLM2's tokenizer) with LoRA on its top 2 layers, the LoRA weights
    randomised so that the adapter changes the output."""
    from peft import get_peft_model
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from trainers.rewarding_doubt.estimators import lora_config as _lora_config

    tok = AutoTokenizer.from_pretrained(real_model_dir)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    base = LlamaForCausalLM(cfg)
    model = get_peft_model(base, _lora_config(RDConfig(lora_top_layers=2), base))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    digits = digit_token_ids(tok)
    ids = [tok(t, add_special_tokens=False)["input_ids"] + [digits[1]] for t in PROMPTS]
    return model, tok, digits, ids


def test_lora_sits_on_the_top_layers_only(four_layer):
    model = four_layer[0]
    layers = {int(n.split(".layers.")[1].split(".")[0]) for n, p in model.named_parameters() if p.requires_grad}
    assert layers == {2, 3}
    trained = {n.split(".")[-4] for n, p in model.named_parameters() if p.requires_grad}
    assert trained == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.mark.parametrize("strict", [False, True])
def test_cached_forward_equals_the_full_forward(four_layer, strict):
    model, tok, digits, ids = four_layer
    ends = number_end_token_ids(tok, model) if strict else None
    cache = PrefixCache(model, ids, digits, top_k=2, end_ids=ends, dtype="float32", pad_id=tok.pad_token_id)
    cached = cache.forward([0, 1, 2])
    full = ids_level_log_probs(model, ids, tok.pad_token_id, digits, ends)  # left-padded, HF's own masks
    assert cached.shape == (3, 12)
    # log-probabilities: a random-init model puts ~1e-5 on each level, so compare them in log space
    assert torch.allclose(cached, full, atol=1e-4)
    assert cache.entries() == 3
    # the adapter matters (the comparison is not between two copies of the base model)
    with torch.no_grad(), model.disable_adapter():
        base = ids_level_log_probs(model, ids, tok.pad_token_id, digits, ends)
    assert (base - full).abs().max() > 0.1
    # gradients reach the LoRA weights of the top layers through the cached states
    model.zero_grad()
    cache.forward([1, 2])[:, 3].sum().backward()
    grads = [p.grad for n, p in model.named_parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_half_precision_storage_stays_close(four_layer):
    model, tok, digits, ids = four_layer
    full = ids_level_log_probs(model, ids, tok.pad_token_id, digits)
    for dtype in ("float16", "bfloat16"):
        cache = PrefixCache(model, ids, digits, top_k=2, dtype=dtype, pad_id=tok.pad_token_id)
        assert (cache.forward([0, 1, 2]) - full).abs().max() < 0.05


def test_packing_reads_the_positions_the_readouts_need():
    digits = list(range(10, 20))
    plain = pack([1, 2, 3, digits[1]], digits, strict=False)
    assert plain.tokens == (1, 2, 3, 11) and plain.reads == (2, 3)
    strict = pack([1, 2, 3, digits[1]], digits, strict=True)
    assert strict.tokens[:3] == (1, 2, 3) and len(strict.tokens) == 3 + 20
    assert strict.tokens[3:7] == (10, 10, 11, 10)  # "0" "0", "1" "0", ...
    assert strict.positions[3:7] == (3, 4, 3, 4)
    assert strict.reads == (2, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 6)  # after the prompt, each "d", then "10"
    assert pack([1, 2, 3, 11], digits, True).key != pack([1, 2, 4, 11], digits, True).key


def test_disk_store_is_reused_and_survives_a_torn_write(four_layer, tmp_path):
    model, tok, digits, ids = four_layer
    kw = dict(top_k=2, dtype="float16", directory=tmp_path, model_sha256="ab" * 32, pad_id=tok.pad_token_id)
    first = PrefixCache(model, ids, digits, **kw)
    want = first.forward([0, 1]).detach()
    folder = first.store.folder
    assert folder.name.startswith("abababababababab-top2-float16")
    # a torn append: bytes past the last indexed entry and half an index line
    with open(folder / "states.bin", "ab") as fh:
        fh.write(b"\x00" * 100)
    with open(folder / "index.jsonl", "a") as fh:
        fh.write('{"key": "trunc')
    again = PrefixCache(model, ids, digits, **kw)
    assert again.entries() == 2  # both entries read back, nothing rebuilt
    assert torch.allclose(again.forward([0, 1]), want, atol=1e-6)
    assert again.built_seconds == 0.0
    again.forward([2])
    assert PrefixCache(model, ids, digits, **kw).entries() == 3
    with pytest.raises(TrainerError, match="sha256"):
        PrefixCache(model, ids, digits, **{**kw, "model_sha256": None})


def test_config_checks():
    with pytest.raises(TrainerError, match="lora_top_layers must be >= 1"):
        RDConfig(lora_top_layers=0)
    with pytest.raises(TrainerError, match="prefix_cache_dtype"):
        RDConfig(lora_top_layers=2, prefix_cache_dtype="int8")
    with pytest.raises(TrainerError, match="prefix_cache_dir needs lora_top_layers"):
        RDConfig(prefix_cache_dir="x")


def test_too_many_top_layers_is_refused(four_layer):
    model, tok, digits, ids = four_layer
    with pytest.raises(TrainerError, match="between 1 and the model's 4 layers"):
        PrefixCache(model, ids, digits, top_k=5, pad_id=tok.pad_token_id)


def test_exact_loop_learns_through_the_cache(four_layer, tmp_path):
    """A few steps on a planted task (the answer's correctness is the prompt's identity) raise the objective,
    and the run's summary records the cache."""
    import copy

    from trainers.rewarding_doubt.exact_loop import ExactLoop

    model, tok, digits, ids = four_layer
    model = copy.deepcopy(model)
    prompts = PROMPTS * 4
    correct = [1, 0, 1] * 4
    cfg = RDConfig(
        lora_top_layers=2,
        batch_size=4,
        epochs=6,
        max_steps=None,
        eval_every=0,
        save_every=0,
        learning_rate=3e-3,
        warmup_steps=0,
        logging_steps=1,
        prefix_cache_dtype="float32",
    )
    objectives = []

    class Log:
        def write(self, rec):
            objectives.append(rec["objective"])

    loop = ExactLoop(model, tok, prompts, correct, cfg, tmp_path, log=Log())
    result = loop.train()
    assert result["prefix_cache"]["entries"] == 3  # 12 prompts, 3 distinct: each built once
    assert result["prefix_cache"]["check_gap"] < 1e-4
    assert sum(objectives[-3:]) / 3 > sum(objectives[:3]) / 3


def test_cpu_time_limit_stops_the_loop(four_layer, tmp_path):
    """``cpu_time_limit_s`` ends training after the first step that passes it (CPU seconds of the process), and
    is refused for the GRPO estimator."""
    import copy

    from trainers.rewarding_doubt.exact_loop import ExactLoop

    model, tok, digits, ids = four_layer
    cfg = RDConfig(
        lora_top_layers=2,
        batch_size=1,
        epochs=3,
        max_steps=None,
        eval_every=0,
        save_every=0,
        cpu_time_limit_s=1e-9,
        warmup_steps=0,
    )
    result = ExactLoop(copy.deepcopy(model), tok, PROMPTS, [1, 0, 1], cfg, tmp_path).train()
    assert result["steps"] == 1 and result["stopped_by_time_limit"] and result["planned_steps"] == 9
    assert isinstance(result["train_cpu_seconds"], float)  # rounded to 0.1 s: a tiny step may read 0.0
    with pytest.raises(TrainerError, match="cpu_time_limit_s needs estimator exact"):
        RDConfig(estimator="grpo", cpu_time_limit_s=10)
