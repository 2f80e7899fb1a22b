"""Shared fixtures: offline settings, a tiny random-init model, the packaged real model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def real_model_dir() -> str:
    """The packaged SmolLM2-135M-Instruct, converted once to the calbench cache (installed by `make`)."""
    from calbench.models import resolve_model

    return resolve_model("smollm2-135m-instruct").path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, real_model_dir) -> str:
    """A 2-layer random-init Llama with the SmolLM2 tokenizer and chat template: fast, real code paths."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-model")
    tok = AutoTokenizer.from_pretrained(real_model_dir)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


#: A test module that contains one of these loads a model or starts a subprocess: its tests are marked ``slow``
#: (``make test-fast`` leaves them out; ``make test``, the README's command, runs everything).
SLOW_SIGNS = (
    "subprocess",
    "build_tiny_model",
    "real_model_dir",
    "tiny_model_dir",
    "from_pretrained(",
    "resolve_model(",
    "sync_playwright",
    "chromium",
)


def pytest_collection_modifyitems(config, items):
    texts: dict[str, str] = {}
    for item in items:
        path = str(item.path)
        if path not in texts:
            texts[path] = Path(path).read_text(encoding="utf-8")
        if any(sign in texts[path] for sign in SLOW_SIGNS) or "real_model_dir" in item.fixturenames:
            item.add_marker(pytest.mark.slow)
