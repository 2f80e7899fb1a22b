"""The transformers backend on a tiny random-init model: batching with left padding changes nothing."""

import pytest
import torch

from calbench.backends.hf import HFBackend
from calbench.elicit import CONFIDENCE_PREFIX, Prompt, answer_prompt, confidence_prompt
from calbench.tasks import get_task


@pytest.fixture(scope="module")
def examples():
    return get_task("sciq").load("test")[:6]


def test_batched_equals_one_at_a_time(tiny_model_dir, examples):
    prompts = [answer_prompt(e) for e in examples]
    batched = HFBackend(tiny_model_dir, batch_size=6).generate(prompts, max_new_tokens=6, stop=())
    single = HFBackend(tiny_model_dir, batch_size=1).generate(prompts, max_new_tokens=6, stop=())
    assert [g.text for g in batched] == [g.text for g in single]
    for a, b in zip(batched, single):
        assert a.n_tokens == b.n_tokens
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-4)


def test_token_logprobs_match_a_manual_forward_pass(tiny_model_dir, examples):
    be = HFBackend(tiny_model_dir, batch_size=4)
    p = answer_prompt(examples[0])
    g = be.generate([p], max_new_tokens=5, stop=())[0]
    text = be.render(p)
    ids = be.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    gen_ids = torch.tensor(g.extra["token_ids"])
    new = torch.cat([ids[0], gen_ids]).unsqueeze(0)
    with torch.no_grad():
        logits = be.model(new).logits[0, ids.shape[1] - 1 : -1].log_softmax(-1)
    manual = logits.gather(-1, gen_ids.unsqueeze(-1)).squeeze(-1).tolist()
    assert len(manual) == g.n_tokens
    assert g.token_logprobs == pytest.approx(manual, abs=1e-4)


def test_stop_string_cuts_text(tiny_model_dir, examples):
    be = HFBackend(tiny_model_dir)
    g = be.generate([answer_prompt(examples[0])], max_new_tokens=20, stop=())[0]
    if len(g.text) < 3:
        pytest.skip("the random model produced too little text to cut")
    stop = g.text[2]
    cut = be.generate([answer_prompt(examples[0])], max_new_tokens=20, stop=(stop,))[0]
    assert cut.text == g.text[: g.text.find(stop)]


def test_confidence_distribution_is_a_distribution(tiny_model_dir, examples):
    be = HFBackend(tiny_model_dir)
    prompts = [confidence_prompt(e, "Answer: x") for e in examples[:3]]
    assert all(p.assistant_prefix == CONFIDENCE_PREFIX for p in prompts)
    dists = be.confidence_distribution(prompts)
    for d in dists:
        assert len(d["probs"]) == 11 and sum(d["probs"]) == pytest.approx(1.0, abs=1e-5)
        assert 0 < d["digit_mass"] <= 1


def test_render_without_chat_template(tiny_model_dir):
    from calbench.elicit import render

    class NoTemplate:
        chat_template = None

    text = render(NoTemplate(), Prompt([{"role": "user", "content": "hi"}], "Answer:"))
    assert text == "User: hi\nAssistant: Answer:"


def test_from_loaded_matches_a_backend_that_loaded_the_model(tiny_model_dir, examples):
    loaded = HFBackend(tiny_model_dir, batch_size=4)
    wrapped = HFBackend.from_loaded(loaded.model, loaded.tokenizer, batch_size=4)
    prompts = [answer_prompt(e) for e in examples[:3]]
    assert [g.text for g in wrapped.generate(prompts, max_new_tokens=5)] == [
        g.text for g in loaded.generate(prompts, max_new_tokens=5)
    ]
    m = wrapped.manifest()
    assert m["device"] == "cpu" and m["dtype"] == "float32" and m["source"] == "in-memory"
