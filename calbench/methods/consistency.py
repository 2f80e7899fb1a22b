"""Self-consistency: the fraction of k sampled answers that agree with the greedy answer.

    c = (1/k) #{j : sample_j agrees with the greedy answer}

Two answers agree when they name the same option letter (multiple choice) or the same final number (math);
for open questions when the run's judge would accept the sample with the greedy answer as the only alias
(normalised equality; also whole-word containment or token F1 when the run's judge enables them).
Settings (``ctx.settings``): ``sc_k`` (default 5) and ``sc_temperature`` (default 1.0). The samples are drawn in
one batched call, seeded by the run's seed.
With given answers (``eval --answers``) the reference is the given answer instead of the greedy one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, ClassVar

from calbench.backends.base import Generation
from calbench.judge import ChoiceJudge, last_number, normalize_answer
from calbench.methods.base import (
    MethodContext,
    answers_for,
    extract_answer,
    for_live,
    per_question,
    register,
    stage1_answer,
)
from calbench.records import Example, Sample

DEFAULT_K = 5
DEFAULT_TEMPERATURE = 1.0


def answer_key(kind: str, answer: str | None, example: Example) -> Any:
    """What two answers must share to agree (None never agrees)."""
    if not answer:
        return None
    if kind == "mc":
        return ChoiceJudge().extract(answer, example)
    if kind == "numeric":
        return last_number(answer)
    return normalize_answer(answer) or None


def agreement(
    kind: str,
    greedy: str | None,
    sampled: list[str],
    example: Example,
    judge: Callable[[str | None, Example], bool] | None = None,
) -> float:
    """Fraction of ``sampled`` that agree with ``greedy`` (see the module docstring)."""
    ref = answer_key(kind, greedy, example)
    if ref is None:
        return 0.0
    if kind == "open" and judge is not None:
        assert greedy is not None  # else ref is None
        as_reference = replace(example, answers=[greedy])
        return sum(bool(judge(s, as_reference)) for s in sampled) / len(sampled)
    return sum(answer_key(kind, s, example) == ref for s in sampled) / len(sampled)


def sampling_settings(ctx: MethodContext, method: str) -> tuple[int, float]:
    """``(k, temperature)`` of the sampled answers (``sc_k``, ``sc_temperature``), checked."""
    k = int(ctx.settings.get("sc_k") or DEFAULT_K)
    temperature = float(ctx.settings.get("sc_temperature") or DEFAULT_TEMPERATURE)
    if k < 1 or temperature <= 0:
        raise ValueError(f"{method} needs k >= 1 and temperature > 0; got k={k}, T={temperature}")
    return k, temperature


def sample_answers(
    ctx: MethodContext, examples: list[Example], firsts: list, k: int, temperature: float
) -> dict[int, list[Generation]]:
    """The ``k`` stage-1 replies sampled at ``temperature`` for each live question (:func:`for_live`), in one
    batched call, kept in ``ctx.sampled`` so that every method of a run that needs them shares one draw."""

    def sample_k(live: list[int]) -> list[list[Generation]]:
        todo = [i for i in live if (examples[i].id, k, temperature) not in ctx.sampled]
        if todo:
            gens = ctx.backend.generate(
                [firsts[i][0] for i in todo for _ in range(k)],
                max_new_tokens=ctx.answer_tokens(),
                temperature=temperature,
                stop=ctx.answer_stop(),
                seed=ctx.seed,
            )
            for j, i in enumerate(todo):
                ctx.sampled[(examples[i].id, k, temperature)] = gens[j * k : (j + 1) * k]
        return [ctx.sampled[(examples[i].id, k, temperature)] for i in live]

    return for_live(firsts, sample_k)


def sampled_cost(first: Generation, sampled: list[Generation]) -> dict[str, int]:
    """The cost record of a method built on the stage-1 answer and ``k`` sampled ones (see
    :func:`calbench.methods.capabilities.answer_cost`)."""
    generated = "fixed_answer" not in first.extra
    return {
        "forward_passes": int(generated) + len(sampled),
        "generated_tokens": first.n_tokens + sum(g.n_tokens for g in sampled),
        "shared_answer": int(generated),
    }


@register
class SelfConsistency:
    """Self-consistency: fraction of k answers sampled at temperature T that agree with the greedy answer."""

    name: ClassVar[str] = "self-consistency"
    needs: ClassVar[set[str]] = set()
    accepts_fixed_answer: ClassVar[bool] = True  # then: agreement of the samples with the given answer

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        k, temperature = sampling_settings(ctx, self.name)
        firsts = answers_for(ctx, examples)
        sampled = sample_answers(ctx, examples, firsts, k, temperature)

        def build(i: int, e: Example, g1: Generation, gs: list[Generation]) -> Sample:
            greedy = stage1_answer(ctx, g1)
            samples = [extract_answer(ctx, g.text) for g in gs]
            return ctx.sample(
                e,
                self.name,
                prompt=firsts[i][0].to_dict(),
                raw_output=g1.text,
                answer=greedy,
                confidence=agreement(ctx.kind, greedy, samples, e, ctx.judge),
                parse_ok=True,
                sampled_answers=samples,
                sc_k=k,
                sc_temperature=temperature,
                cost=sampled_cost(g1, gs),
            )

        return per_question(ctx, self.name, examples, firsts, build, later=sampled)
