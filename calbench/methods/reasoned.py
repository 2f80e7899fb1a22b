"""Verbalized confidence with more elicitation: chain of thought first, or several guesses with probabilities.

* ``verbalized-cot`` (Xiong et al. 2024, CoT + verbalized confidence): the model reasons step by step, then
  writes ``Answer:`` and ``Confidence:`` lines (:func:`calbench.elicit.cot_prompt`, the run's ``--scale``);
  read by :func:`calbench.parse.parse_cot`. Budget: the task's answer budget + 256 tokens of reasoning.
* ``verbalized-topk`` (Tian et al. 2023, "Verb. 1S top-k"): ``k`` guesses (``--topk-k``, default 3), each with
  the probability that it is correct (:func:`calbench.elicit.topk_prompt`); the answer is the first guess and
  the confidence its probability (:func:`calbench.parse.parse_topk`); every guess is kept in the sample.

Both generate their own answer in the same reply as the confidence, so a given answer (``--answers``) cannot be
used: such a run is refused before the model loads. The prompt of each question is in its sample.
"""

from __future__ import annotations

from typing import ClassVar

from calbench.backends.base import Generation
from calbench.elicit import cot_prompt, topk_prompt
from calbench.methods.base import MethodContext, per_question, register
from calbench.parse import parse_cot, parse_topk
from calbench.records import Example, Sample

COT_TOKENS = 256
DEFAULT_TOPK = 3


@register
class ChainOfThought:
    """Chain of thought, then ``Answer:`` and ``Confidence:`` lines in one reply (Xiong et al. 2024)."""

    name: ClassVar[str] = "verbalized-cot"
    needs: ClassVar[set[str]] = set()
    accepts_fixed_answer: ClassVar[bool] = False  # the answer comes out of the reasoning, in the confidence's reply

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        prompts = [cot_prompt(e, ctx.scale, ctx.kind) for e in examples]
        gens = ctx.backend.generate(
            prompts, max_new_tokens=ctx.answer_tokens() + COT_TOKENS, stop=("\n\n\n",), seed=ctx.seed
        )

        def build(i: int, e: Example, g: Generation, _: None) -> Sample:
            answer, conf = parse_cot(g.text, ctx.scale)
            return ctx.sample(
                e,
                self.name,
                prompt=prompts[i].to_dict(),
                raw_output=g.text,
                answer=answer,
                confidence=conf.value,
                parse_ok=conf.ok and bool(answer),
                parse_reason=conf.reason if conf.reason or answer else "no answer line",
                parse_form=conf.form,
                cost={"forward_passes": 1, "generated_tokens": g.n_tokens},
            )

        return per_question(ctx, self.name, examples, list(zip(prompts, gens)), build)


@register
class TopK:
    """k guesses with probabilities in one reply; the first guess and its probability (Tian et al. 2023)."""

    name: ClassVar[str] = "verbalized-topk"
    needs: ClassVar[set[str]] = set()
    accepts_fixed_answer: ClassVar[bool] = False  # the guesses are the model's own

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        k = int(ctx.settings.get("topk_k") or DEFAULT_TOPK)
        if k < 1:
            raise ValueError(f"verbalized-topk needs k >= 1; got {k}")
        prompts = [topk_prompt(e, k, ctx.kind) for e in examples]
        gens = ctx.backend.generate(
            prompts, max_new_tokens=k * (ctx.answer_tokens() + 12), stop=("\n\n",), seed=ctx.seed
        )

        def build(i: int, e: Example, g: Generation, _: None) -> Sample:
            guesses, reason = parse_topk(g.text, prompts[i].assistant_prefix)
            first = guesses[0] if guesses else ("", None)
            conf = first[1]
            return ctx.sample(
                e,
                self.name,
                prompt=prompts[i].to_dict(),
                raw_output=g.text,
                answer=first[0],
                confidence=conf.value if reason is None and conf else None,
                parse_ok=reason is None,
                parse_reason=reason,
                topk_k=k,
                guesses=[{"guess": gs, "probability": c.value} for gs, c in guesses],
                cost={"forward_passes": 1, "generated_tokens": g.n_tokens},
            )

        return per_question(ctx, self.name, examples, list(zip(prompts, gens)), build)
