"""Sequence likelihood of the greedy answer, from the log-probabilities of its generated tokens.

For answer tokens t_1..t_n with log-probabilities l_i = log p(t_i | prompt, t_<i):

* ``seq-likelihood-mean``: exp((1/n) sum_i l_i) -- the geometric mean token probability (length-normalised);
* ``seq-likelihood-prod``: exp(sum_i l_i)        -- the probability of the whole answer.

No extra model call: the log-probabilities come with the shared stage-1 answer (``Generation.token_logprobs``).
"""

from __future__ import annotations

import math

from calbench.methods.base import MethodContext, answers_for, extract_answer, register
from calbench.methods.capabilities import BackendCapabilityError, answer_cost, require
from calbench.records import Example, Sample


def sequence_likelihood(logprobs: list[float], reduce: str) -> float:
    """exp(mean) or exp(sum) of token log-probabilities."""
    if not logprobs:
        raise ValueError("no answer tokens")
    total = math.fsum(logprobs)
    return math.exp(total / len(logprobs) if reduce == "mean" else total)


class _SequenceLikelihood:
    reduce = "mean"
    needs = {"token_logprobs"}

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        require(ctx.backend, self.needs, self.name)
        firsts = answers_for(ctx, examples)
        out = []
        for e, (p1, g1) in zip(examples, firsts):
            if g1.error:
                out.append(ctx.failed(e, self.name, p1.to_dict(), g1.error))
                continue
            lps = g1.token_logprobs
            if lps is None:
                raise BackendCapabilityError(
                    f"method {self.name!r}: the {ctx.backend.kind!r} backend returned no token log-probabilities")
            ok = len(lps) > 0
            conf = min(1.0, sequence_likelihood(lps, self.reduce)) if ok else None
            out.append(ctx.sample(
                e, self.name, prompt=p1.to_dict(), raw_output=g1.text, answer=extract_answer(ctx, g1.text),
                confidence=conf, parse_ok=ok, parse_reason=None if ok else "empty answer",
                n_answer_tokens=len(lps), sum_logprob=math.fsum(lps), cost=answer_cost(g1)))
        return out


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
