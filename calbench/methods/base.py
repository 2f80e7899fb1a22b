"""Method registry and the context shared by the methods of one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from calbench.backends.base import Backend, Generation
from calbench.elicit import Prompt, answer_prompt
from calbench.records import Example, Sample, gold_answers

METHODS: dict[str, type] = {}


def register(cls: type) -> type:
    METHODS[cls.name] = cls
    return cls


def get_method(name: str) -> Any:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; available methods: {', '.join(sorted(METHODS))}")
    return METHODS[name]()


#: Generation budgets per task kind for the answer (stage 1) and for the confidence.
ANSWER_TOKENS = {"open": 32, "mc": 8, "numeric": 320}
CONFIDENCE_TOKENS = 5


@dataclass
class MethodContext:
    """Everything a method needs: the backend, the task's kind and judge, the settings and a cache."""

    backend: Backend
    model_name: str
    task_name: str
    kind: str
    judge: Callable[[str | None, Example], bool]
    judge_name: str
    scale: str = "0-10"
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, tuple[Prompt, Generation]] = field(default_factory=dict)

    def answer_tokens(self) -> int:
        return int(self.settings.get("max_new_tokens") or ANSWER_TOKENS[self.kind])

    def answer_stop(self) -> tuple[str, ...]:
        """Stop strings of a stage-1 answer: none for math (the working spans lines), else the first line."""
        return () if self.kind == "numeric" else ("\n",)

    def sample(self, example: Example, method: str, *, prompt: Any, raw_output: str, answer: str | None,
               confidence: float | None, parse_ok: bool, **extras: Any) -> Sample:
        correct = int(bool(self.judge(answer, example)))
        return Sample(id=example.id, task=self.task_name, model=self.model_name, method=method, prompt=prompt,
                      raw_output=raw_output, answer=answer, confidence=confidence, parse_ok=parse_ok,
                      correct=correct, judge=self.judge_name,
                      extras={"domain": example.domain, "gold": gold_answers(example), **extras})

    def failed(self, example: Example, method: str, prompt: Any, error: str | None) -> Sample:
        """The sample of a question whose request failed: no answer, no confidence, the error recorded."""
        return self.sample(example, method, prompt=prompt, raw_output="", answer=None, confidence=None,
                           parse_ok=False, parse_reason="request failed", request_error=error)


def answers_for(ctx: MethodContext, examples: list[Example]) -> list[tuple[Prompt, Generation]]:
    """The greedy stage-1 answer of each example, generated once per run and shared by all methods."""
    todo = [e for e in examples if e.id not in ctx.answers]
    if todo:
        prompts = [answer_prompt(e, ctx.kind) for e in todo]
        gens = ctx.backend.generate(prompts, max_new_tokens=ctx.answer_tokens(), stop=ctx.answer_stop(),
                                    seed=ctx.seed)
        for e, p, g in zip(todo, prompts, gens):
            ctx.answers[e.id] = (p, g)
    return [ctx.answers[e.id] for e in examples]


def extract_answer(ctx: MethodContext, reply: str) -> str:
    """The answer to judge from a stage-1 reply (the whole reply for math, the first line otherwise)."""
    from calbench.parse import clean_answer

    if ctx.kind == "numeric":
        return reply.strip()
    return clean_answer(reply)
