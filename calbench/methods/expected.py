"""Expected verbalized confidence: the probability-weighted mean of the confidence levels 0..10.

After the two-stage prompt (the answer, then "How confident ...?" with the reply pre-filled up to
``Confidence: ``), the next-token distribution over the levels is read instead of decoding a number:

    c = sum_{k=0}^{10} (k / 10) * P(k),    P normalised over the 11 levels,

where "10" is two tokens, so P(10) = P("1") P("0" | "1") and P(1) = P("1") (1 - P("0" | "1"))
(see :meth:`calbench.backends.hf.HFBackend.confidence_distribution`). Greedy decoding collapses a
confidence to its mode; the expectation keeps the model's uncertainty over the levels.

Only the first digit (and "0" after "1") is read: a reply that goes on as a decimal counts as the level of its
first digit, so for a model that answers "0.999" (untrained SmolLM2 often does) that mass is P(0), not 0.999.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from calbench.backends.base import Generation
from calbench.elicit import confidence_prompt
from calbench.methods.base import (
    MethodContext,
    answers_for,
    for_live,
    per_question,
    register,
    stage1_answer,
)
from calbench.methods.capabilities import answer_cost, require
from calbench.records import Example, Sample

LEVELS = tuple(k / 10 for k in range(11))


def expected_confidence(probs: list[float]) -> float:
    """sum_k (k/10) P(k) over the 11 levels (``probs`` sums to 1)."""
    if len(probs) != len(LEVELS):
        raise ValueError(f"expected 11 level probabilities (0..10), got {len(probs)}")
    return float(min(1.0, max(0.0, sum(v * p for v, p in zip(LEVELS, probs)))))


@register
class ExpectedConfidence:
    """Expected verbalized confidence: probability-weighted mean over the levels 0..10 (no decoding)."""

    name: ClassVar[str] = "expected"
    needs: ClassVar[set[str]] = {"confidence_distribution"}
    accepts_fixed_answer: ClassVar[bool] = True

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        require(ctx.backend, self.needs, self.name)
        if ctx.scale != "0-10":
            raise ValueError(f"method 'expected' reads the 0-10 levels; got --scale {ctx.scale}")
        firsts = answers_for(ctx, examples)
        prompts = [
            confidence_prompt(e, p.assistant_prefix + g.text, ctx.scale, ctx.kind)
            for e, (p, g) in zip(examples, firsts)
        ]
        dists = for_live(
            firsts, lambda live: cast(Any, ctx.backend).confidence_distribution([prompts[i] for i in live])
        )

        def build(i: int, e: Example, g1: Generation, d: dict) -> Sample:
            ok = d["digit_mass"] > 0
            conf = expected_confidence(d["probs"]) if ok else None
            return ctx.sample(
                e,
                self.name,
                prompt=prompts[i].to_dict(),
                raw_output="",
                answer=stage1_answer(ctx, g1),
                confidence=conf,
                parse_ok=ok,
                parse_reason=None if ok else "no probability on any level",
                answer_output=g1.text,
                confidence_dist=list(d["probs"]),
                digit_mass=d["digit_mass"],
                cost=answer_cost(g1, extra_passes=2),
            )  # first-token distribution + P("0" | "1")

        return per_question(ctx, self.name, examples, firsts, build, later=dists, prompts=prompts)
