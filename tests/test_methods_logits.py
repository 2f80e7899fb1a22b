"""Logit-based confidence methods (expected, sequence likelihood, P(True)) on a tiny random-init Llama,
checked against hand computations from the model's logits with torch."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from calbench.backends.scripted import ScriptedBackend  # noqa: E402
from calbench.elicit import answer_prompt, confidence_prompt, render  # noqa: E402
from calbench.judge import judge_for  # noqa: E402
from calbench.methods import MethodContext, get_method  # noqa: E402
from calbench.methods.capabilities import BackendCapabilityError  # noqa: E402
from calbench.methods.ptrue import ptrue_prompt  # noqa: E402
from calbench.records import Example  # noqa: E402

EXAMPLES = [
    Example(id="q1", task="toy", question="What is the capital of France?", answers=["Paris"]),
    Example(id="q2", task="toy", question="Who wrote Hamlet?", answers=["Shakespeare", "William Shakespeare"]),
    Example(id="q3", task="toy", question="How many legs does a spider have?", answers=["eight", "8"]),
]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    from calbench.backends.hf import HFBackend

    torch.set_num_threads(1)
    return HFBackend(tiny_model_dir, device="cpu", batch_size=2)


@pytest.fixture(scope="module")
def reference(tiny_model_dir):
    """The same weights loaded independently of calbench, for the hand computations."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    return tok, model


def next_token_probs(tok, model, text: str) -> torch.Tensor:
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        return model(ids).logits[0, -1].double().softmax(-1)


def make_ctx(backend, **settings) -> MethodContext:
    judge = judge_for("open")
    return MethodContext(
        backend=backend,
        model_name="tiny",
        task_name="toy",
        kind="open",
        judge=judge,
        judge_name=judge.name,
        settings={"max_new_tokens": 6, **settings},
    )


def test_expected_confidence_equals_hand_computation(backend, reference):
    tok, model = reference
    ctx = make_ctx(backend)
    samples = get_method("expected").run(ctx, EXAMPLES)
    assert [s.id for s in samples] == ["q1", "q2", "q3"]
    for e, s in zip(EXAMPLES, samples):
        prompt, gen = ctx.answers[e.id]
        text = render(tok, confidence_prompt(e, prompt.assistant_prefix + gen.text, "0-10", "open"))
        p = next_token_probs(tok, model, text)
        digit = [tok.convert_tokens_to_ids(str(d)) for d in range(10)]
        p0_after_1 = next_token_probs(tok, model, text + "1")[digit[0]]
        levels = (
            [p[digit[0]], p[digit[1]] * (1 - p0_after_1)]
            + [p[digit[d]] for d in range(2, 10)]
            + [p[digit[1]] * p0_after_1]
        )
        levels = torch.stack(levels)
        dist = levels / levels.sum()
        want = float(sum(k / 10 * dist[k] for k in range(11)))
        assert s.parse_ok and 0.0 <= s.confidence <= 1.0
        assert s.confidence == pytest.approx(want, abs=1e-5)
        assert s.extras["confidence_dist"] == pytest.approx(dist.tolist(), abs=1e-5)
        assert sum(s.extras["confidence_dist"]) == pytest.approx(1.0, abs=1e-4)
        assert s.extras["digit_mass"] == pytest.approx(float(levels.sum()), rel=1e-4)
        assert s.extras["cost"] == {"forward_passes": 3, "generated_tokens": gen.n_tokens, "shared_answer": 1}


def manual_greedy_logprobs(tok, model, text: str, n: int) -> tuple[list[int], list[float]]:
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    out, lps = [], []
    with torch.no_grad():
        for _ in range(n):
            lp = model(ids).logits[0, -1].double().log_softmax(-1)
            t = int(lp.argmax())
            out.append(t)
            lps.append(float(lp[t]))
            ids = torch.cat([ids, torch.tensor([[t]])], dim=1)
    return out, lps


def test_sequence_likelihood_equals_manual_forward_pass(backend, reference):
    tok, model = reference
    ctx = make_ctx(backend)
    mean = get_method("seq-likelihood-mean").run(ctx, EXAMPLES)
    prod = get_method("seq-likelihood-prod").run(ctx, EXAMPLES)
    checked = 0
    for e, sm, sp in zip(EXAMPLES, mean, prod):
        n = sm.extras["n_answer_tokens"]
        if n == 0:
            assert not sm.parse_ok and sm.confidence is None
            continue
        ids, lps = manual_greedy_logprobs(tok, model, render(tok, answer_prompt(e, "open")), n)
        assert tok.decode(ids, skip_special_tokens=True).startswith(sm.raw_output)
        assert sm.confidence == pytest.approx(math.exp(sum(lps) / n), rel=1e-4)
        assert sp.confidence == pytest.approx(math.exp(sum(lps)), rel=1e-4)
        assert 0.0 < sp.confidence <= sm.confidence <= 1.0  # a product of probabilities <= their geometric mean
        assert sm.extras["cost"] == {"forward_passes": 1, "generated_tokens": n, "shared_answer": 1}
        checked += 1
    assert checked >= 1


def test_ptrue_equals_manual_softmax(backend, reference):
    tok, model = reference
    ctx = make_ctx(backend)
    samples = get_method("ptrue").run(ctx, EXAMPLES)
    t_id, f_id = tok.convert_tokens_to_ids("ĠTrue"), tok.convert_tokens_to_ids("ĠFalse")  # " True", " False"
    assert tok.unk_token_id not in (t_id, f_id)
    for e, s in zip(EXAMPLES, samples):
        p = next_token_probs(tok, model, render(tok, ptrue_prompt(e, s.answer)))
        assert s.parse_ok and 0.0 <= s.confidence <= 1.0
        assert s.confidence == pytest.approx(float(p[t_id] / (p[t_id] + p[f_id])), abs=1e-5)
        assert s.extras["tf_mass"] == pytest.approx(float(p[t_id] + p[f_id]), rel=1e-3)
        assert s.extras["cost"]["forward_passes"] == 2


def test_methods_share_one_greedy_answer(backend, tmp_path):
    """--method two-stage,expected,seq-likelihood-mean,ptrue generates each answer once."""
    from calbench.runner import EvalSettings, evaluate
    from calbench.tasks import TaskSpec

    calls = []
    real = backend.generate

    def spy(prompts, **kw):
        calls.extend(p for p in prompts if len(p.messages) == 1 and p.assistant_prefix == "Answer:")
        return real(prompts, **kw)

    backend.generate = spy
    try:
        task = TaskSpec(
            name="toy",
            description="toy",
            kind="open",
            splits=("test",),
            default_split="test",
            source="inline",
            license="n/a",
            load_bundled=lambda split: EXAMPLES,
        )
        man = evaluate(
            task,
            EXAMPLES,
            backend,
            EvalSettings(
                methods=["two-stage", "expected", "seq-likelihood-mean", "ptrue"],
                split="test",
                n_resamples=20,
                plots=False,
                max_new_tokens=6,
            ),
            tmp_path,
            model_name="tiny",
            progress=False,
        )
    finally:
        del backend.generate
    assert len(calls) == len(EXAMPLES)  # stage 1 ran once per question for the four methods
    assert set(man["metrics_by_method"]) == {"two-stage", "expected", "seq-likelihood-mean", "ptrue"}


@pytest.mark.parametrize("method", ["expected", "seq-likelihood-mean", "seq-likelihood-prod", "ptrue"])
def test_logit_methods_refuse_backends_without_logits(method):
    backend = ScriptedBackend(default=" Paris")
    with pytest.raises(BackendCapabilityError, match=rf"{method}.*'scripted' backend"):
        get_method(method).run(make_ctx(backend), EXAMPLES[:1])
