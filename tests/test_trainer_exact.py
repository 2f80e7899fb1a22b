"""The exact estimator (``estimator: exact``): the outcome distribution read from the logits, the objective
and its gradient against hand computations and autograd, the toy policy's convergence, length batching."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calbench.levels import ids_level_log_probs, level_log_probs, number_end_token_ids, whole_number_level_log_probs  # noqa: E402
from trainers.rewarding_doubt.exact import (  # noqa: E402
    N_LEVELS,
    OTHER,
    exact_objective,
    length_batches,
    reward_table,
)
from trainers.rewarding_doubt.rewards import RewardSpec  # noqa: E402
from trainers.rewarding_doubt.toy import simulate_exact  # noqa: E402


def hand_log_score(p: float, y: int, eps: float = 0.001, normalize: bool = True) -> float:
    """The Rewarding Doubt reward written out: log p if right, log(1-p) if wrong, p clipped; mapped to [-1, 1]."""
    p = min(max(p, eps), 1 - eps)
    s = math.log(p) if y else math.log(1 - p)
    return 1 + 2 * s / -math.log(eps) if normalize else s


def test_reward_table_is_the_log_score_and_the_format_penalty():
    spec = RewardSpec()
    table = reward_table(spec)
    for y in (0, 1):
        for k in range(N_LEVELS):
            assert table[y, k] == pytest.approx(hand_log_score(k / 10, y), abs=1e-12)
        assert table[y, OTHER] == -1.0  # the worst parseable score
    assert reward_table(RewardSpec(format_penalty=-3.0))[0, OTHER] == -3.0
    raw = reward_table(RewardSpec(normalize=False))
    assert raw[1, 7] == pytest.approx(math.log(0.7)) and raw[0, 7] == pytest.approx(math.log(0.3))


def test_level_log_probs_on_a_hand_built_vocabulary():
    # vocabulary of 14 tokens: ids 2..11 are the digits "0".."9"; the rest is other text
    digits = list(range(2, 12))
    first = torch.full((1, 14), 0.0)
    first[0, digits] = torch.tensor([0.05, 0.30, 0.0, 0.0, 0.0, 0.10, 0.0, 0.15, 0.0, 0.20])  # sums to 0.8
    first[0, 0] = 0.2  # 0.2 of the mass on a non-digit
    after_one = torch.full((1, 14), 0.0)
    after_one[0, digits[0]] = 0.6  # P("0" | "1")
    after_one[0, 1] = 0.4
    lp = level_log_probs(first.log(), after_one.log(), digits).exp()[0]
    expected = [0.05, 0.30 * 0.4, 0, 0, 0, 0.10, 0, 0.15, 0, 0.20, 0.30 * 0.6, 0.2]
    assert lp.tolist() == pytest.approx(expected, abs=1e-6)
    assert float(lp.sum()) == pytest.approx(1.0, abs=1e-6)


def test_whole_number_levels_on_a_hand_built_vocabulary():
    # ids 2..11 are the digits "0".."9", id 1 ends a number (end of turn), id 0 is other text ("." or "3")
    digits, end = list(range(2, 12)), 1
    first = torch.zeros((1, 14))
    first[0, digits] = torch.tensor([0.05, 0.30, 0.0, 0.0, 0.0, 0.10, 0.0, 0.15, 0.0, 0.20])
    first[0, 0] = 0.2
    after_digit = torch.zeros((1, 10, 14))
    after_digit[0, :, end] = 0.9  # "d" then the end: 0.9 for every digit but "1" and "7"
    after_digit[0, :, 0] = 0.1
    after_digit[0, 7, end], after_digit[0, 7, 0] = 0.5, 0.5  # "7.5" or "73" half of the time
    after_digit[0, 1] = 0.0
    after_digit[0, 1, digits[0]], after_digit[0, 1, end], after_digit[0, 1, 0] = 0.6, 0.3, 0.1  # "10", "1", "13"
    after_ten = torch.zeros((1, 14))
    after_ten[0, end], after_ten[0, 0] = 0.8, 0.2  # "10" then the end, or "10.5"
    lp = whole_number_level_log_probs(first.log(), after_digit.log(), after_ten.log(), digits, [end]).exp()[0]
    levels = [0.05 * 0.9, 0.30 * 0.3, 0, 0, 0, 0.10 * 0.9, 0, 0.15 * 0.5, 0, 0.20 * 0.9, 0.30 * 0.6 * 0.8]
    assert lp[:11].tolist() == pytest.approx(levels, abs=1e-6)
    assert float(lp[11]) == pytest.approx(1 - sum(levels), abs=1e-6)  # "other": everything not a whole number


@pytest.fixture(scope="module")
def tiny_lm(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    return tok, AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)


def test_number_end_tokens_are_the_end_of_turn_and_whitespace(tiny_lm):
    from calbench.levels import digit_token_ids

    tok, model = tiny_lm
    ends = number_end_token_ids(tok, model)
    assert tok.eos_token_id in ends
    for text in ("\n", " ", "\n\n"):
        ids = tok.encode(text, add_special_tokens=False)
        assert len(ids) == 1 and ids[0] in ends, text
    for text in (".", "%", "0", "(", "<|im_start|>"):
        ids = tok.encode(text, add_special_tokens=False)
        assert not set(ids) & set(ends), text
    assert not set(digit_token_ids(tok)) & set(ends)


def _enumerated_whole_number_levels(model, tok, prompt_ids, digits, ends):
    """The independent reference: every level's reply written out ("d" or "10") and scored by a full forward pass
    of prompt + reply (no padding, no cache), times P(end | prompt + reply)."""
    out = []
    for reply in [[d] for d in digits] + [[digits[1], digits[0]]]:
        seq = torch.tensor([prompt_ids + reply])
        lp = model(input_ids=seq).logits.float().log_softmax(-1)[0]
        n = len(prompt_ids)
        reply_lp = sum(lp[n - 1 + j, t] for j, t in enumerate(reply))
        out.append(reply_lp + lp[-1, ends].logsumexp(-1))
    levels = torch.stack(out)
    return torch.cat([levels, torch.log1p(-levels.exp().sum()).unsqueeze(0)])


def test_whole_number_levels_equal_the_enumerated_replies_in_a_padded_batch_with_gradients(tiny_lm):
    from calbench.levels import digit_token_ids

    tok, model = tiny_lm
    digits, ends = digit_token_ids(tok), number_end_token_ids(tok, model)
    texts = [
        "Question: What is 2+2?\nConfidence: ",
        "Q?\nConfidence: ",
        "A much longer prompt about the mitochondria and the cell, answered.\nConfidence: ",
    ]
    prompts = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    model.zero_grad()
    got = ids_level_log_probs(model, [p + [digits[1]] for p in prompts], tok.pad_token_id, digits, ends)
    weights = torch.linspace(-1, 1, 12)  # a random model puts ~1e-8 on each level: compare log-probabilities
    (got * weights).sum().backward()
    grad_batched = model.model.layers[0].self_attn.q_proj.weight.grad.clone()
    model.zero_grad()
    want = torch.stack([_enumerated_whole_number_levels(model, tok, p, digits, ends) for p in prompts])
    (want * weights).sum().backward()
    grad_enumerated = model.model.layers[0].self_attn.q_proj.weight.grad.clone()
    model.zero_grad()
    assert got.shape == (3, 12)
    assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()
    assert float(grad_enumerated.abs().max()) > 1e-3  # the gradients compared are not zeros
    assert torch.allclose(grad_batched, grad_enumerated, atol=1e-5, rtol=1e-3)
    first_token = ids_level_log_probs(model, [p + [digits[1]] for p in prompts], tok.pad_token_id, digits).exp()
    assert (first_token[:, :11].sum(1) > got.exp()[:, :11].sum(1)).all()  # stricter: less mass on the levels


def _random_log_pi(b: int, seed: int = 0, requires_grad: bool = True):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, N_LEVELS + 1, generator=g, dtype=torch.float64)
    logits.requires_grad_(requires_grad)
    return logits


def test_objective_equals_the_enumerated_expectation_and_its_gradient():
    logits = _random_log_pi(5)
    y = [1, 0, 0, 1, 0]
    j, stats = exact_objective(logits.log_softmax(-1), y, reward_table(RewardSpec()))
    # the expectation enumerated by hand over the 12 outcomes
    pi = logits.detach().softmax(-1).numpy()
    per_q = [
        sum(pi[i, k] * hand_log_score(k / 10, y[i]) for k in range(N_LEVELS)) + pi[i, OTHER] * -1.0 for i in range(5)
    ]
    assert j.item() == pytest.approx(np.mean(per_q), abs=1e-12)
    assert stats["format_mass"] == pytest.approx(pi[:, OTHER].mean())
    # gradient: autograd of the explicit sum, and the softmax policy-gradient formula pi_o (r_o - J_i) / B
    j.backward()
    explicit = _random_log_pi(5)
    r = torch.tensor([[hand_log_score(k / 10, yi) for k in range(N_LEVELS)] + [-1.0] for yi in y], dtype=torch.float64)
    (explicit.softmax(-1) * r).sum(1).mean().backward()
    assert torch.allclose(logits.grad, explicit.grad, atol=1e-12)
    pg = torch.tensor(pi) * (r - torch.tensor(per_q, dtype=torch.float64).unsqueeze(1)) / 5
    assert torch.allclose(logits.grad, pg, atol=1e-12)


def test_format_mass_is_penalised():
    table = reward_table(RewardSpec())
    on_level = torch.full((1, N_LEVELS + 1), -30.0, dtype=torch.float64)
    on_level[0, 5] = 0.0
    on_other = torch.full((1, N_LEVELS + 1), -30.0, dtype=torch.float64)
    on_other[0, OTHER] = 0.0
    for y in (0, 1):
        j_level, _ = exact_objective(on_level.log_softmax(-1), [y], table)
        j_other, _ = exact_objective(on_other.log_softmax(-1), [y], table)
        assert float(j_other) == pytest.approx(-1.0) and float(j_other) < float(j_level)
    # ascending J moves mass off "other"
    logits = torch.zeros(1, N_LEVELS + 1, dtype=torch.float64, requires_grad=True)
    exact_objective(logits.log_softmax(-1), [0], table)[0].backward()
    assert logits.grad[0, OTHER] < 0


def test_kl_is_zero_at_the_reference_and_positive_away():
    logits = _random_log_pi(3, requires_grad=False)
    lp = logits.log_softmax(-1)
    _, stats = exact_objective(lp, [1, 0, 1], reward_table(RewardSpec()), beta=0.1, ref_log_pi=lp)
    assert stats["kl"] == pytest.approx(0.0, abs=1e-12)
    other = _random_log_pi(3, seed=1, requires_grad=False).log_softmax(-1)
    j_kl, stats = exact_objective(lp, [1, 0, 1], reward_table(RewardSpec()), beta=0.1, ref_log_pi=other)
    j, _ = exact_objective(lp, [1, 0, 1], reward_table(RewardSpec()))
    assert stats["kl"] > 0 and float(j_kl) == pytest.approx(float(j) - 0.1 * stats["kl"])


def optimal_level(q: float, spec: RewardSpec = RewardSpec()) -> int:
    """The level k/10 that maximises the expected log score q s(k/10, 1) + (1-q) s(k/10, 0)."""
    return int(
        np.argmax([q * hand_log_score(k / 10, 1) + (1 - q) * hand_log_score(k / 10, 0) for k in range(N_LEVELS)])
    )


def test_toy_policy_converges_to_the_optimal_levels():
    accuracies = [0.05, 0.155, 0.3, 0.5, 0.7, 0.9]
    res = simulate_exact(accuracies, steps=3000, seed=0)
    modes = res.probs.argmax(1).tolist()
    assert modes == [optimal_level(q) for q in accuracies], res.probs.round(2)
    assert np.abs(res.expected_confidence - np.array(accuracies)).max() <= 0.06, res.expected_confidence


def test_a_uniform_kl_reference_keeps_the_best_level_as_the_mode_where_the_models_does_not():
    """The KL optimum is ref x exp(R / beta). A reference that prefers "1" (as the untrained model does) holds a
    type that is right 30 % of the time at "1" when beta is 0.02 (normalised rewards); the uniform reference
    (``kl_reference: uniform``, an entropy bonus) leaves every mode at the Bayes act and the policy soft."""
    accuracies = [0.05, 0.3, 0.6]
    prefers_one = np.full(N_LEVELS + 1, 0.002)
    prefers_one[1] = 1.0
    held = simulate_exact(accuracies, steps=1500, beta=0.02, ref=prefers_one, seed=0)
    free = simulate_exact(accuracies, steps=1500, beta=0.02, seed=0)
    best = [optimal_level(q) for q in accuracies]
    assert best == [1, 3, 6]
    assert held.probs.argmax(1).tolist()[:2] == [1, 1]
    assert free.probs.argmax(1).tolist() == best
    assert free.probs.max(1).max() < 0.95  # soft: the other levels keep their gradient
    from trainers.rewarding_doubt.config import RDConfig

    with pytest.raises(ValueError, match="kl_reference 'uniform' needs estimator exact"):
        RDConfig(estimator="grpo", kl_reference="uniform")
    with pytest.raises(ValueError, match="kl_reference must be one of"):
        RDConfig(estimator="exact", kl_reference="untrained")


def test_length_batches_cover_every_index_once_and_group_lengths():
    lengths = [50, 10, 30, 11, 49, 31, 12, 51, 29]
    batches = length_batches(lengths, 3, np.random.default_rng(0))
    assert sorted(i for b in batches for i in b) == list(range(9))
    assert sorted(sorted(lengths[i] for i in b) for b in batches) == [[10, 11, 12], [29, 30, 31], [49, 50, 51]]
    again = length_batches(lengths, 3, np.random.default_rng(0))
    assert again == batches  # seeded: a resumed run replays the same order


def test_trainer_and_eval_answers_render_the_same_confidence_prompt(tmp_path):
    """A fixed answer reaches the trainer (answers_file) and `calbench eval --answers` as the same prompt."""
    import json

    from calbench.elicit import confidence_prompt
    from calbench.judge import judge_for
    from calbench.methods.base import MethodContext, answers_for
    from calbench.tasks import get_task, select
    from trainers.rewarding_doubt.data import fixed_answer_examples

    examples = select(get_task("sciq").load("test"), 5, 0)
    path = tmp_path / "answers.jsonl"
    path.write_text(
        "".join(json.dumps({"id": e.id, "answer": f"  answer {i} "}) + "\n" for i, e in enumerate(examples)),
        encoding="utf-8",
    )
    judge = judge_for("open", containment=True)
    answered, record = fixed_answer_examples(examples, str(path), judge, kind="open")
    assert record["files"][0]["sha256"] and record["extra_ids_ignored"] == 0
    from calbench.answers import load_answers

    ctx = MethodContext(
        backend=None,
        model_name="m",
        task_name="sciq",
        kind="open",
        judge=judge,
        judge_name="j",
        fixed_answers=load_answers(path),
    )
    for a, (p, g) in zip(answered, answers_for(ctx, examples)):
        assert confidence_prompt(a.example, a.reply, "0-10", "open") == confidence_prompt(
            a.example, p.assistant_prefix + g.text, "0-10", "open"
        )
        assert a.answer == g.extra["fixed_answer"]


def test_parse_rate_warning_names_the_drift():
    from trainers.rewarding_doubt.evaluation import parse_rate_warning

    assert parse_rate_warning({"parse_rate": 0.995}) is None
    assert parse_rate_warning({"parse_rate": float("nan")}) is None
    assert parse_rate_warning({}) is None
    w = parse_rate_warning({"parse_rate": 0.345})
    assert w is not None and "0.345" in w and "first confidence token" in w
