"""Training data of the Rewarding Doubt trainer, built with calbench's own tasks, elicitation and judge.

Confidence-only mode (the paper's scheme): the model answers each training question once (stage 1 of the
two-stage elicitation, greedy), the judge marks the answer, and the GRPO prompt is the rendered stage-2
conversation ending with the confidence prefix, so that the completions are the few confidence tokens and the
answer stays fixed. The answers are cached in ``answers.jsonl`` (one flushed line per question), so an
interrupted or resumed run does not generate them again.

Joint mode: the GRPO prompt is the one-stage prompt (``Answer: <a>, Confidence: <c>``); the reward judges the
generated answer against the row's ``answers``/``choices`` columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from calbench.elicit import CONFIDENCE_PREFIX, Prompt, confidence_prompt, one_stage_prompt, render
from calbench.records import Example, JsonlAppender, iter_jsonl


@dataclass
class AnsweredExample:
    """A question with the model's fixed stage-1 answer and whether the judge accepted it."""

    example: Example
    reply: str  # the full stage-1 assistant reply (pre-filled prefix included)
    answer: str
    correct: int


def _bos_added(tokenizer: Any) -> str | None:
    """The BOS text the tokenizer itself prepends when special tokens are on (None if it adds none)."""
    bos = getattr(tokenizer, "bos_token", None)
    if not bos:
        return None
    ids = tokenizer("x")["input_ids"]
    return bos if ids and ids[0] == tokenizer.bos_token_id else None


def prompt_texts(tokenizer: Any, prompts: Sequence[Prompt]) -> list[str]:
    """The rendered prompts as TRL will tokenize them. TRL tokenizes text prompts with the tokenizer's special
    tokens on, so a BOS that the chat template already wrote would be doubled (Llama 3): drop it here."""
    bos = _bos_added(tokenizer)
    texts = [render(tokenizer, p) for p in prompts]
    return [t[len(bos):] if bos and t.startswith(bos) else t for t in texts]


def answer_examples(
    examples: Sequence[Example], backend: Any, judge: Any, *, kind: str, max_new_tokens: int | None,
    cache: Path, seed: int = 0, progress: bool = True,
) -> list[AnsweredExample]:
    """Stage-1 answers for ``examples``, generated and extracted exactly as ``calbench eval``'s two-stage
    method does (:func:`calbench.methods.base.answers_for`, greedy), judged; cached in ``cache``."""
    from calbench.methods.base import MethodContext, answers_for, extract_answer

    done: dict[str, dict] = {}
    if cache.exists():
        for _, rec in iter_jsonl(cache, tolerate_truncated_tail=True):
            done[rec["id"]] = rec
    todo = [ex for ex in examples if ex.id not in done]
    if todo:
        ctx = MethodContext(backend=backend, model_name="", task_name="", kind=kind, judge=judge,
                            judge_name=getattr(judge, "name", "judge"), seed=seed,
                            settings={"max_new_tokens": max_new_tokens})
        chunk = max(1, getattr(backend, "batch_size", 64)) * 4
        bar = _progress(len(todo), "answering (stage 1)", progress)
        with JsonlAppender(cache) as out:
            for start in range(0, len(todo), chunk):
                part = todo[start:start + chunk]
                for ex, (prompt, gen) in zip(part, answers_for(ctx, part)):
                    reply = prompt.assistant_prefix + gen.text
                    answer = extract_answer(ctx, gen.text) if not gen.error else ""
                    rec = {"id": ex.id, "reply": reply, "answer": answer,
                           "correct": int(bool(answer) and bool(judge(answer, ex)))}
                    out.write(rec)
                    done[ex.id] = rec
                ctx.answers.clear()
                bar.update(len(part))
        bar.close()
    return [AnsweredExample(ex, done[ex.id]["reply"], done[ex.id]["answer"], int(done[ex.id]["correct"]))
            for ex in examples]


def fixed_answer_examples(examples: Sequence[Example], files: str | Sequence[str], judge: Any, *,
                          kind: str) -> tuple[list[AnsweredExample], dict[str, Any]]:
    """The given answers (``answers_file``: one file or several, read by :func:`calbench.answers.load_answers`,
    the reader of ``calbench eval --answers``) for ``examples``, rendered as the stage-1 reply exactly as
    ``calbench eval --answers`` renders them (:func:`calbench.methods.base.fixed_reply`), and judged.
    Returns the answered examples and what to record (each file's path and sha256)."""
    from calbench.answers import file_sha256, load_answers
    from calbench.methods.base import fixed_reply
    from calbench.training import TrainerError

    paths = [files] if isinstance(files, str) else list(files)
    answers: dict[str, str] = {}
    for path in paths:
        answers.update(load_answers(path))
    missing = [ex.id for ex in examples if ex.id not in answers]
    if missing:
        raise TrainerError(f"answers_file {', '.join(paths)} has no answer for {len(missing)} of the "
                           f"{len(examples)} questions (e.g. {', '.join(missing[:5])})")
    out = []
    for ex in examples:
        answer = answers[ex.id]
        prompt, gen = fixed_reply(ex, answer, kind)
        reply = prompt.assistant_prefix + gen.text
        out.append(AnsweredExample(ex, reply, answer, int(bool(answer) and bool(judge(answer, ex)))))
    record = {"files": [{"path": str(p), "sha256": file_sha256(p)} for p in paths],
              "extra_ids_ignored": len(set(answers) - {ex.id for ex in examples})}
    return out, record


def confidence_rows(answered: Sequence[AnsweredExample], tokenizer: Any, scale: str,
                    kind: str | None = None) -> list[dict[str, Any]]:
    """Dataset rows for confidence-only GRPO: ``prompt`` (rendered stage 2 ending with the confidence prefix),
    ``correct`` (of the fixed answer), ``id``."""
    prompts = [confidence_prompt(a.example, a.reply, scale, kind) for a in answered]
    assert all(p.assistant_prefix == CONFIDENCE_PREFIX for p in prompts)
    return [{"prompt": text, "correct": a.correct, "id": a.example.id}
            for a, text in zip(answered, prompt_texts(tokenizer, prompts))]


def joint_rows(examples: Sequence[Example], tokenizer: Any, scale: str, kind: str | None = None) -> list[dict[str, Any]]:
    """Dataset rows for joint GRPO: the one-stage prompt and the fields the judge needs."""
    texts = prompt_texts(tokenizer, [one_stage_prompt(ex, scale, kind) for ex in examples])
    return [{"prompt": text, "id": ex.id, "example": json.dumps(ex.to_dict())}
            for ex, text in zip(examples, texts)]


def _progress(total: int, desc: str, enabled: bool):
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, disable=not enabled)
    except ImportError:  # pragma: no cover
        class _Null:
            def update(self, n: int) -> None: ...
            def close(self) -> None: ...
        return _Null()
