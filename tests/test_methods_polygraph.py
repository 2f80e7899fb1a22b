"""The lm-polygraph bridge (``polygraph:<Estimator>``): the statistics calbench hands to lm-polygraph's estimators
equal the ones computed the way lm-polygraph's own stat calculators do (one unpadded forward pass per answer,
every layer's attention maps), on a tiny model with answers of different lengths batched together."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from calbench.elicit import answer_prompt
from calbench.methods import MethodContext, get_method
from calbench.records import Example
from tests.helpers import ctx_for as scripted_ctx

pytest.importorskip("lm_polygraph")

EXAMPLES = [
    Example(id="q1", task="toy", question="What is the capital of France?", answers=["Paris"]),
    Example(id="q2", task="toy", question="Who wrote Hamlet?", answers=["William Shakespeare"]),
    Example(id="q3", task="toy", question="What colour is the sky on a clear day?", answers=["blue"]),
    Example(id="q4", task="toy", question="Name a prime number.", answers=["7"]),
]
GIVEN = {"q1": " Paris", "q2": " Shakespeare wrote it, in about 1600", "q3": " blue", "q4": ""}


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    from calbench.backends.hf import HFBackend

    return HFBackend(tiny_model_dir, device="cpu", batch_size=3)  # q1-q3 share a left-padded batch


def ctx_for(backend) -> MethodContext:
    ctx = scripted_ctx(backend, "open")
    ctx.fixed_answers = dict(GIVEN)
    return ctx


def reference_stats(backend, example: Example, answer: str) -> dict:
    """As lm-polygraph's calculators compute them: one unpadded pass over prompt + answer tokens (eager
    attention, every layer's maps stacked (layers, heads, n, n)), the answer's log-likelihoods and entropies."""
    import torch

    tok = backend.tokenizer
    prompt = tok.encode(backend.render(answer_prompt(example, "open")), add_special_tokens=False)
    cont = tok.encode(answer, add_special_tokens=False)
    ids = torch.tensor([prompt + cont])
    model = backend.model
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model(ids, output_attentions=True)
    finally:
        model.set_attn_implementation(before)
    lp = out.logits[0].float().log_softmax(-1)[len(prompt) - 1 : -1]
    lls = lp.gather(-1, torch.tensor(cont)[:, None])[:, 0].numpy()
    entropy = np.array([-np.sum(np.exp(row) * row) for row in lp.numpy()])
    attention = torch.cat([a.to("cpu") for a in out.attentions]).float().numpy()
    return {
        "greedy_log_likelihoods": [lls],
        "entropy": [entropy],
        "forwardpass_attention_weights": attention[None],
        "greedy_tokens": [cont],
    }


def test_each_estimator_sees_the_statistics_lm_polygraph_would_compute(backend):
    import lm_polygraph.estimators as est

    from calbench.methods.polygraph import attention_layer

    layer = attention_layer(backend)
    assert layer == 1  # a 2-layer model: lm-polygraph's default, num_hidden_layers // 2
    ctx = ctx_for(backend)
    got = {
        name: {s.id: s for s in get_method(f"polygraph:{name}").run(ctx, EXAMPLES)}
        for name in ("MaximumSequenceProbability", "Perplexity", "MeanTokenEntropy", "AttentionScore")
    }
    for e in EXAMPLES[:3]:
        ref = reference_stats(backend, e, GIVEN[e.id])
        expected = {
            "MaximumSequenceProbability": est.MaximumSequenceProbability()(ref)[0],
            "Perplexity": est.Perplexity()(ref)[0],
            "MeanTokenEntropy": est.MeanTokenEntropy()(ref)[0],
            "AttentionScore": est.AttentionScore(layer=layer)(ref)[0],  # reads the full stack's layer 1
        }
        for name, u in expected.items():
            s = got[name][e.id]
            assert s.parse_ok and s.extras["answer_given"]
            assert s.extras["polygraph_uncertainty"] == pytest.approx(float(u), rel=1e-4, abs=1e-4), (name, e.id)
            assert s.confidence == pytest.approx(1 / (1 + max(0.0, s.extras["polygraph_uncertainty"])))
            assert s.extras["cost"] == {"forward_passes": 1, "generated_tokens": 0, "shared_answer": 0}
        assert got["AttentionScore"][e.id].extras["polygraph_estimator"] == "AttentionScore (layer=1)"
    # the likelihood ones are -log of what seq-likelihood-prod / -mean state, on the same given answers
    lps = backend.continuation_logprobs([answer_prompt(EXAMPLES[1], "open")], [GIVEN["q2"]])[0]
    assert got["MaximumSequenceProbability"]["q2"].extras["polygraph_uncertainty"] == pytest.approx(-math.fsum(lps))
    assert got["Perplexity"]["q2"].extras["polygraph_uncertainty"] == pytest.approx(-math.fsum(lps) / len(lps))
    # an empty given answer has nothing to score: no confidence, said so, not a failed request
    empty = got["Perplexity"]["q4"]
    assert empty.confidence is None and not empty.parse_ok and empty.extras["parse_reason"] == "empty answer"
    assert "request_error" not in empty.extras
    # the attention implementation is restored after the call
    assert backend.model.config._attn_implementation != "eager"


def test_a_missing_lm_polygraph_is_a_clear_error(backend, monkeypatch):
    from calbench.methods.polygraph import PolygraphMissingError

    monkeypatch.setitem(sys.modules, "lm_polygraph.estimators", None)  # import fails as if not installed
    with pytest.raises(PolygraphMissingError, match=r"pip install 'calbench\[polygraph\]'"):
        get_method("polygraph:Perplexity").run(ctx_for(backend), EXAMPLES[:1])


def test_the_methods_of_one_run_share_one_forward_pass(backend, monkeypatch):
    names = [f"polygraph:{n}" for n in ("MaximumSequenceProbability", "MeanTokenEntropy", "AttentionScore")]
    alone = {n: get_method(n).run(ctx_for(backend), EXAMPLES) for n in names}
    calls = []
    original = backend.answer_statistics

    def counted(prompts, continuations, *, attention_layer=None):
        calls.append((len(prompts), attention_layer))
        return original(prompts, continuations, attention_layer=attention_layer)

    monkeypatch.setattr(backend, "answer_statistics", counted)
    ctx = ctx_for(backend)
    ctx.methods = ("two-stage", *names)
    together = {n: get_method(n).run(ctx, EXAMPLES) for n in names}
    assert calls == [(4, 1)]  # one pass over the four answers, with the attention maps the last method reads
    assert not ctx.shared  # the run's last polygraph method took the statistics out
    for n in names:
        assert [s.confidence for s in together[n]] == pytest.approx([s.confidence for s in alone[n]], nan_ok=True)
