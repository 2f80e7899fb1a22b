"""Sequence likelihood of the greedy answer, from the log-probabilities of its generated tokens.

For answer tokens t_1..t_n with log-probabilities l_i = log p(t_i | prompt, t_<i):

* ``seq-likelihood-mean``: exp((1/n) sum_i l_i) -- the geometric mean token probability (length-normalised);
* ``seq-likelihood-prod``: exp(sum_i l_i)        -- the probability of the whole answer.

No extra model call: the log-probabilities come with the shared stage-1 answer (``Generation.token_logprobs``).
With a given answer (``eval --answers``) they come from one forward pass over the answer prompt followed by
the answer's text, as the stage-1 reply would continue (``backend.continuation_logprobs``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, cast

from calbench.backends.base import Generation
from calbench.methods.base import (
    MethodContext,
    answers_for,
    per_question,
    register,
    stage1_answer,
)
from calbench.methods.capabilities import BackendCapabilityError, answer_cost, require
from calbench.records import Example, Sample


def sequence_likelihood(logprobs: list[float], reduce: str) -> float:
    """exp(mean) or exp(sum) of token log-probabilities."""
    if not logprobs:
        raise ValueError("no answer tokens")
    total = math.fsum(logprobs)
    return math.exp(total / len(logprobs) if reduce == "mean" else total)


def score_given_answers(ctx: MethodContext, gens: list, prompts: list, method: str) -> None:
    """Fill ``token_logprobs`` of the given (not generated) answers that lack them, in one batched call.

    The generations are the run's shared stage-1 cache, so the mean and product methods score once."""
    todo = [i for i, g in enumerate(gens) if "fixed_answer" in g.extra and g.token_logprobs is None]
    if not todo:
        return
    require(ctx.backend, {"continuation_logprobs"}, method)
    rows = cast(Any, ctx.backend).continuation_logprobs([prompts[i] for i in todo], [gens[i].text for i in todo])
    for i, lps in zip(todo, rows):
        gens[i].token_logprobs = list(lps)


class _SequenceLikelihood:
    name: ClassVar[str]  # set by each subclass
    reduce = "mean"
    needs: ClassVar[set[str]] = {"token_logprobs"}
    accepts_fixed_answer: ClassVar[bool] = True
    needs_with_fixed_answer: ClassVar[set[str]] = {"continuation_logprobs"}

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        require(ctx.backend, self.needs, self.name)
        firsts = answers_for(ctx, examples)
        score_given_answers(ctx, [g for _, g in firsts], [p for p, _ in firsts], self.name)

        def build(i: int, e: Example, g1: Generation, _: None) -> Sample:
            lps = g1.token_logprobs
            if lps is None:
                raise BackendCapabilityError(
                    f"method {self.name!r}: the {ctx.backend.kind!r} backend returned no token log-probabilities"
                )
            ok = len(lps) > 0
            conf = min(1.0, sequence_likelihood(lps, self.reduce)) if ok else None
            return ctx.sample(
                e,
                self.name,
                prompt=firsts[i][0].to_dict(),
                raw_output=g1.text,
                answer=stage1_answer(ctx, g1),
                confidence=conf,
                parse_ok=ok,
                parse_reason=None if ok else "empty answer",
                n_answer_tokens=len(lps),
                sum_logprob=math.fsum(lps),
                cost=answer_cost(g1, extra_passes=int("fixed_answer" in g1.extra)),
            )

        return per_question(ctx, self.name, examples, firsts, build)


@register
class MeanLikelihood(_SequenceLikelihood):
    """Sequence likelihood, length-normalised: exp(mean log-probability of the answer tokens)."""

    name = "seq-likelihood-mean"
    reduce = "mean"


@register
class ProductLikelihood(_SequenceLikelihood):
    """Sequence likelihood: exp(sum of answer-token log-probabilities), the whole answer's probability."""

    name = "seq-likelihood-prod"
    reduce = "sum"
