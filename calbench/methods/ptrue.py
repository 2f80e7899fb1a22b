"""P(True) (Kadavath et al., 2022, "Language Models (Mostly) Know What They Know").

The model is shown the question and its own greedy answer, asked whether the proposed answer is true, and
the reply is pre-filled up to ``The proposed answer is``. One forward pass gives the next-token
log-probabilities; the confidence is P(True) normalised over the two words:

    c = p(" True") / (p(" True") + p(" False")).

``tf_mass`` records p(" True") + p(" False") before normalisation (how much the model meant to answer at all).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, cast

from calbench.backends.base import Generation
from calbench.elicit import Prompt, question_block
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

PTRUE_QUESTION = "Is the proposed answer True or False?"
PTRUE_PREFIX = "The proposed answer is"
TRUE_WORD, FALSE_WORD = " True", " False"


def ptrue_prompt(example: Example, answer: str) -> Prompt:
    """The question, the proposed answer and the True/False question; the reply pre-filled."""
    text = f"{question_block(example)}\nProposed answer: {answer.strip()}\n\n{PTRUE_QUESTION}"
    return Prompt([{"role": "user", "content": text}], PTRUE_PREFIX)


def word_token_id(tokenizer, prefix: str, word: str) -> int:
    """The first token that ``word`` adds after ``prefix`` (so a leading space merges as the model sees it)."""
    base = tokenizer.encode(prefix, add_special_tokens=False)
    full = tokenizer.encode(prefix + word, add_special_tokens=False)
    if full[: len(base)] != base or len(full) == len(base):
        raise ValueError(f"cannot find the token of {word!r} after {prefix!r} for this tokenizer")
    return full[len(base)]


def normalised_true(lp_true: float, lp_false: float) -> tuple[float, float]:
    """(P(True) normalised over True/False, the unnormalised mass of the two words), computed stably."""
    m = max(lp_true, lp_false)
    a, b = math.exp(lp_true - m), math.exp(lp_false - m)
    return a / (a + b), math.exp(lp_true) + math.exp(lp_false)


@register
class PTrue:
    """P(True) (Kadavath et al.): P(" True") / (P(" True") + P(" False")) after 'Is the proposed answer True?'."""

    name: ClassVar[str] = "ptrue"
    needs: ClassVar[set[str]] = {"next_token_logprobs", "tokenizer"}
    accepts_fixed_answer: ClassVar[bool] = True

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        require(ctx.backend, self.needs, self.name)
        tok = cast(Any, ctx.backend).tokenizer
        t_id = word_token_id(tok, PTRUE_PREFIX, TRUE_WORD)
        f_id = word_token_id(tok, PTRUE_PREFIX, FALSE_WORD)
        firsts = answers_for(ctx, examples)
        answers = [stage1_answer(ctx, g) for _, g in firsts]
        prompts = [ptrue_prompt(e, a) for e, a in zip(examples, answers)]
        rows = for_live(firsts, lambda live: cast(Any, ctx.backend).next_token_logprobs([prompts[i] for i in live]))

        def build(i: int, e: Example, g1: Generation, lp: Any) -> Sample:
            conf, mass = normalised_true(float(lp[t_id]), float(lp[f_id]))
            return ctx.sample(
                e,
                self.name,
                prompt=prompts[i].to_dict(),
                raw_output="",
                answer=answers[i],
                confidence=conf,
                parse_ok=True,
                answer_output=g1.text,
                tf_mass=mass,
                cost=answer_cost(g1, extra_passes=1),
            )

        return per_question(ctx, self.name, examples, firsts, build, later=rows, prompts=prompts)
