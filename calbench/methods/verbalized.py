"""Verbalized confidence: one stage (answer and confidence in one reply) and two stage."""

from __future__ import annotations

from typing import ClassVar

from calbench.backends.base import Generation
from calbench.elicit import confidence_prompt, one_stage_prompt
from calbench.methods.base import (
    CONFIDENCE_TOKENS,
    MethodContext,
    answers_for,
    for_live,
    per_question,
    register,
    stage1_answer,
)
from calbench.parse import parse_confidence, read_one_stage
from calbench.records import Example, Sample


@register
class OneStage:
    """The Rewarding Doubt format: ``Answer: <a>, Confidence: <c>`` in one generated reply."""

    name: ClassVar[str] = "verbalized"
    needs: ClassVar[set[str]] = set()
    #: answer and confidence come in one generated reply: a given answer cannot be used (eval --answers)
    accepts_fixed_answer: ClassVar[bool] = False

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        prompts = [one_stage_prompt(e, ctx.scale, ctx.kind) for e in examples]
        budget = ctx.answer_tokens() + 12
        gens = ctx.backend.generate(prompts, max_new_tokens=budget, stop=("\n\n",), seed=ctx.seed)

        def build(i: int, e: Example, g: Generation, _: None) -> Sample:
            p = prompts[i]
            answer, conf = read_one_stage(g.text, ctx.kind, ctx.scale, prefix=p.assistant_prefix)
            return ctx.sample(
                e,
                self.name,
                prompt=p.to_dict(),
                raw_output=g.text,
                answer=answer,
                confidence=conf.value,
                parse_ok=conf.ok,
                parse_reason=conf.reason,
                parse_form=conf.form,
                cost={"forward_passes": 1, "generated_tokens": g.n_tokens},
            )

        return per_question(ctx, self.name, examples, list(zip(prompts, gens)), build)


@register
class TwoStage:
    """Answer first (greedy); then the conversation continues with a confidence question and only the
    confidence is generated, after the pre-filled ``Confidence: ``."""

    name: ClassVar[str] = "two-stage"
    needs: ClassVar[set[str]] = set()
    accepts_fixed_answer: ClassVar[bool] = True

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        firsts = answers_for(ctx, examples)
        prompts = [
            confidence_prompt(e, p.assistant_prefix + g.text, ctx.scale, ctx.kind)
            for e, (p, g) in zip(examples, firsts)
        ]
        conf_gen = for_live(
            firsts,
            lambda live: ctx.backend.generate(
                [prompts[i] for i in live], max_new_tokens=CONFIDENCE_TOKENS, stop=("\n",), seed=ctx.seed
            ),
        )

        def build(i: int, e: Example, g1: Generation, g2: Generation) -> Sample:
            conf = parse_confidence(g2.text, ctx.scale)
            return ctx.sample(
                e,
                self.name,
                prompt=prompts[i].to_dict(),
                raw_output=g2.text,
                answer=stage1_answer(ctx, g1),
                confidence=conf.value,
                parse_ok=conf.ok,
                parse_reason=conf.reason,
                parse_form=conf.form,
                answer_output=g1.text,
                answer_mean_logprob=(sum(g1.token_logprobs) / len(g1.token_logprobs) if g1.token_logprobs else None),
                cost={
                    "forward_passes": 1 + int("fixed_answer" not in g1.extra),
                    "generated_tokens": g1.n_tokens + g2.n_tokens,
                },
            )

        return per_question(ctx, self.name, examples, firsts, build, later=conf_gen, prompts=prompts)
