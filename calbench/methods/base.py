"""The method interface (:class:`Method`), its registry and the context shared by the methods of one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    ClassVar,
    Protocol,
    Sequence,
    TypeVar,
    runtime_checkable,
)

from calbench.backends.base import Backend, Generation
from calbench.elicit import Prompt, answer_prompt
from calbench.judge import Judge
from calbench.records import Example, Sample, gold_answers

T = TypeVar("T")


@runtime_checkable
class Method(Protocol):
    """What every confidence method implements (``tests/test_protocols.py`` checks each registered one).

    Optional: ``needs_with_fixed_answer``, the capabilities it needs in addition when the stage-1 answers
    are given (``eval --answers``), e.g. ``{"continuation_logprobs"}``.
    """

    #: the name of ``--method``, the key of :data:`METHODS` and the ``method`` of its samples
    name: ClassVar[str]
    #: capabilities the backend must offer (:mod:`calbench.methods.capabilities`), checked before a run
    needs: ClassVar[set[str]]
    #: whether it can use given answers (``eval --answers``) instead of generating its own
    accepts_fixed_answer: ClassVar[bool]

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        """One :class:`Sample` per example, in order (``ctx.sample``; ``ctx.failed`` for a failed request)."""
        ...


M = TypeVar("M", bound=type[Method])

#: name -> method class, filled by :func:`register` (``calbench.methods`` imports the built-in ones)
METHODS: dict[str, type[Method]] = {}


def register(cls: M) -> M:
    """Class decorator: add a :class:`Method` to :data:`METHODS` under its ``name``."""
    METHODS[cls.name] = cls
    return cls


def fixed_answer_methods() -> list[str]:
    """The registered methods that accept given answers (``eval --answers``), sorted."""
    return sorted(n for n, cls in METHODS.items() if getattr(cls, "accepts_fixed_answer", False))


def get_method(name: str) -> Method:
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
    judge: Judge
    judge_name: str
    scale: str = "0-10"
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, tuple[Prompt, Generation]] = field(default_factory=dict)
    #: id -> given answer (``calbench eval --answers``): used instead of generating the stage-1 answer
    fixed_answers: dict[str, str] | None = None
    #: id -> given stage-1 reply (``--answers-verbatim``): the turn as rendered; ``fixed_answers`` stays the judged one
    fixed_replies: dict[str, str] | None = None
    #: (id, k, temperature) -> the k sampled stage-1 replies: shared by self-consistency and the cluster methods
    sampled: dict[tuple[str, int, float], list[Generation]] = field(default_factory=dict)
    #: the names of the run's methods, in order (a method that shares work with later ones can see them)
    methods: tuple[str, ...] = ()
    #: other work shared by several methods of the run, by key (e.g. the polygraph methods' statistics)
    shared: dict[Any, Any] = field(default_factory=dict)

    def answer_tokens(self) -> int:
        return int(self.settings.get("max_new_tokens") or ANSWER_TOKENS[self.kind])

    def answer_stop(self) -> tuple[str, ...]:
        """Stop strings of a stage-1 answer: none for math (the working spans lines), else the first line."""
        return () if self.kind == "numeric" else ("\n",)

    def sample(
        self,
        example: Example,
        method: str,
        *,
        prompt: Any,
        raw_output: str,
        answer: str | None,
        confidence: float | None,
        parse_ok: bool,
        **extras: Any,
    ) -> Sample:
        correct = int(bool(self.judge(answer, example)))
        if self.fixed_answers is not None:
            extras = {"answer_given": True, **extras}
        return Sample(
            id=example.id,
            task=self.task_name,
            model=self.model_name,
            method=method,
            prompt=prompt,
            raw_output=raw_output,
            answer=answer,
            confidence=confidence,
            parse_ok=parse_ok,
            correct=correct,
            judge=self.judge_name,
            extras={"domain": example.domain, "gold": gold_answers(example), **extras},
        )

    def failed(self, example: Example, method: str, prompt: Any, error: str | None) -> Sample:
        """The sample of a question whose request failed: no answer, no confidence, the error recorded."""
        return self.sample(
            example,
            method,
            prompt=prompt,
            raw_output="",
            answer=None,
            confidence=None,
            parse_ok=False,
            parse_reason="request failed",
            request_error=error,
        )


def fixed_reply(
    example: Example, answer: str, kind: str | None = None, reply: str | None = None
) -> tuple[Prompt, Generation]:
    """A given answer as the stage-1 turn: the answer prompt and a :class:`Generation` whose text continues
    the prompt's pre-filled prefix as a generated answer would (``"Answer:"`` + ``" Octopussy"``: the answer
    without surrounding white space, after one space; math has no prefix). The full reply is
    ``prompt.assistant_prefix + gen.text``.

    The one place a fixed answer is rendered, shared by ``eval --answers`` and the trainers. Nothing was
    generated: ``n_tokens`` is 0, ``token_logprobs`` None (sequence likelihood scores the text in one
    forward pass), and ``extra["fixed_answer"]`` holds the answer verbatim.

    ``reply``: the stage-1 reply as a model generated it (``eval --answers-verbatim``: a run's ``answer_output``,
    e.g. ``" Octopussy."``), rendered as it is instead of the answer (the trainers render their own answer cache
    so); the answer judged is still ``answer``.
    """
    prompt = answer_prompt(example, kind)
    if reply is not None:
        return prompt, Generation(text=reply, n_tokens=0, token_logprobs=None, extra={"fixed_answer": answer})
    text = answer.strip()
    if prompt.assistant_prefix and text:  # "Answer:" then one space, as the models write it
        text = " " + text
    return prompt, Generation(text=text, n_tokens=0, token_logprobs=None, extra={"fixed_answer": answer})


def answers_for(ctx: MethodContext, examples: list[Example]) -> list[tuple[Prompt, Generation]]:
    """The stage-1 answer of each example, shared by all methods of a run: the given answer
    (:func:`fixed_reply`) when the run has ``ctx.fixed_answers``, else greedy, generated once."""
    todo = [e for e in examples if e.id not in ctx.answers]
    if todo and ctx.fixed_answers is not None:
        for e in todo:
            reply = None if ctx.fixed_replies is None else ctx.fixed_replies[e.id]
            ctx.answers[e.id] = fixed_reply(e, ctx.fixed_answers[e.id], ctx.kind, reply)
    elif todo:
        prompts = [answer_prompt(e, ctx.kind) for e in todo]
        gens = ctx.backend.generate(prompts, max_new_tokens=ctx.answer_tokens(), stop=ctx.answer_stop(), seed=ctx.seed)
        for e, p, g in zip(todo, prompts, gens):
            ctx.answers[e.id] = (p, g)
    return [ctx.answers[e.id] for e in examples]


def for_live(firsts: Sequence[tuple[Prompt, Generation]], call: Callable[[list[int]], Sequence[T]]) -> dict[int, T]:
    """The follow-up request of each question whose stage-1 answer did not fail: ``call(live)`` gets the
    indices (into ``firsts``) of the live questions and returns one result per index, in that order (a
    :class:`Generation`, a list of them, log-probabilities ...); returns index -> result. ``call`` is not made
    when every stage-1 request failed. A question absent from the result is a failed one
    (:func:`request_error`, ``ctx.failed``)."""
    live = [i for i, (_, g) in enumerate(firsts) if not g.error]
    return dict(zip(live, call(live))) if live else {}


def request_error(first: Generation, later: Any = ()) -> str | None:
    """Why a question's requests failed, or None when they all succeeded: the error of the stage-1
    ``first`` generation, else of a ``later`` one (a :class:`Generation` or a list of them, e.g. from
    :func:`for_live`; results that are not generations carry no error). ``later`` None means the follow-up
    was never made (the question was not live): failed, with ``first``'s error or ``""``. A failed question is
    recorded with ``ctx.failed`` (never scored, retried on resume)."""
    if first.error:
        return first.error
    if later is None:
        return ""
    for g in later if isinstance(later, (list, tuple)) else [later]:
        if isinstance(g, Generation) and g.error:
            return g.error
    return None


def per_question(
    ctx: MethodContext,
    method: str,
    examples: Sequence[Example],
    firsts: Sequence[tuple[Prompt, Generation]],
    build: Callable[[int, Example, Generation, Any], Sample],
    *,
    later: dict[int, Any] | None = None,
    prompts: Sequence[Prompt] | None = None,
) -> list[Sample]:
    """One :class:`Sample` per example, in order: ``build(i, example, first, result)`` for a question whose
    requests succeeded (``first`` its stage-1 generation, ``result`` its follow-up from ``later``, the
    :func:`for_live` result, or None without one); ``ctx.failed`` with the error of :func:`request_error` for
    one whose stage-1 or follow-up request failed, recorded with its prompt (``prompts[i]``, else the stage-1
    prompt)."""
    out = []
    for i, (e, (p1, g1)) in enumerate(zip(examples, firsts)):
        result = None if later is None else later.get(i)
        err = request_error(g1) if later is None else request_error(g1, result)
        if err is not None:
            out.append(ctx.failed(e, method, (p1 if prompts is None else prompts[i]).to_dict(), err))
            continue
        out.append(build(i, e, g1, result))
    return out


def stage1_answer(ctx: MethodContext, generation: Generation) -> str:
    """The answer to judge of a stage-1 turn: a given answer verbatim, else :func:`extract_answer`."""
    if "fixed_answer" in generation.extra:
        return generation.extra["fixed_answer"]
    return extract_answer(ctx, generation.text)


def extract_answer(ctx: MethodContext, reply: str) -> str:
    """The answer to judge from a stage-1 reply (the whole reply for math, the first line otherwise)."""
    from calbench.parse import clean_answer

    if ctx.kind == "numeric":
        return reply.strip()
    return clean_answer(reply)
