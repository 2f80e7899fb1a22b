"""Elicitation formats: the prompts that ask a model for an answer and a verbalized confidence.

One definition of every template, shared by evaluation, the trainer and the lm-eval bridge.

* one stage (the Rewarding Doubt format): one reply ``Answer: <a>, Confidence: <c>``;
* two stage: the model answers; the conversation continues with a confidence question, and only the
  confidence is generated (the assistant turn is pre-filled with :data:`CONFIDENCE_PREFIX`, which ends in
  ``": "`` so that the next token is a digit -- with SmolLM2 " 10" would be three tokens).

A prompt is a :class:`Prompt`: chat messages plus an optional pre-filled start of the assistant's reply, so
that every backend (transformers chat templates, OpenAI-compatible endpoints) can render it.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass, field

from calbench.records import Example

#: Version of the templates below; recorded in every run so that changed prompts never mix silently.
PROMPT_VERSION = "2026-11-27.1"

ANSWER_PREFIX = "Answer:"
CONFIDENCE_PREFIX = "Confidence: "

SCALE_WORDING = {
    "0-10": "an integer from 0 (certainly wrong) to 10 (certainly correct)",
    "0-100": "a percentage from 0% (certainly wrong) to 100% (certainly correct)",
    "0-1": "a probability from 0.0 (certainly wrong) to 1.0 (certainly correct)",
}

INSTRUCTIONS = {
    "open": "Answer the question with a short answer of a few words, without explanation.",
    "mc": "Answer with the letter of the correct option.",
    "numeric": "Solve the problem step by step, then give the final answer as a number on the last line "
    "in the form 'Final answer: <number>'.",
}


@dataclass
class Prompt:
    """Chat messages and the pre-filled start of the assistant's reply."""

    messages: list[dict[str, str]]
    assistant_prefix: str = ""
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"messages": self.messages, "assistant_prefix": self.assistant_prefix}


def letters(n: int) -> str:
    return string.ascii_uppercase[:n]


def question_block(example: Example) -> str:
    """``Question: ...`` with, for multiple choice, the options listed with letters."""
    text = f"Question: {example.question.strip()}"
    if example.choices:
        opts = "\n".join(
            f"{letter}. {choice}" for letter, choice in zip(letters(len(example.choices)), example.choices)
        )
        text += f"\nOptions:\n{opts}"
    return text


def question_text(example: Example, kind: str) -> str:
    """The question as shown to the model: the task kind's instructions, then :func:`question_block`."""
    return f"{INSTRUCTIONS[kind]}\n\n{question_block(example)}"


def _kind(example: Example, kind: str | None) -> str:
    if kind:
        return kind
    return "mc" if example.choices else "open"


def answer_prompt(example: Example, kind: str | None = None) -> Prompt:
    """Stage 1 of two-stage elicitation: ask for the answer only."""
    k = _kind(example, kind)
    prefix = "" if k == "numeric" else ANSWER_PREFIX
    return Prompt([{"role": "user", "content": question_text(example, k)}], prefix)


def confidence_question(scale: str = "0-10") -> str:
    return f"How confident are you that your answer is correct? Reply with your confidence as {SCALE_WORDING[scale]}."


def confidence_prompt(example: Example, answer_reply: str, scale: str = "0-10", kind: str | None = None) -> Prompt:
    """Stage 2: the stage-1 conversation with the model's reply, then the confidence question.

    ``answer_reply`` is the full assistant reply of stage 1 (its pre-filled prefix included).
    """
    first = answer_prompt(example, kind)
    messages = first.messages + [
        {"role": "assistant", "content": answer_reply.strip()},
        {"role": "user", "content": confidence_question(scale)},
    ]
    return Prompt(messages, CONFIDENCE_PREFIX)


#: Chain of thought, then answer and confidence (Xiong et al. 2024, "Can LLMs express their uncertainty?",
#: the CoT + verbalized prompt), with the confidence on the run's scale
COT_FORMAT = (
    "Read the question, analyze it step by step, then give your answer and your confidence in it. The "
    "confidence is how likely you think your answer is correct, as {scale}.\nUse this format:\n"
    "Explanation: <step-by-step analysis>\nAnswer: <only the answer, not a complete sentence>\n"
    "Confidence: <your confidence>"
)
#: k guesses, each with its probability (Tian et al. 2023, "Just ask for calibration", the Verb. 1S top-k prompt)
TOPK_FORMAT = (
    "Provide your {k} best guesses for the question and the probability that each is correct (0.0 to "
    "1.0). Give only the guesses and probabilities, no other words or explanation, in this form:\n"
    "{lines}"
)


def cot_prompt(example: Example, scale: str = "0-10", kind: str | None = None) -> Prompt:
    """Reason step by step, then ``Answer:`` and ``Confidence:`` lines (method ``verbalized-cot``)."""
    fmt = COT_FORMAT.format(scale=SCALE_WORDING[scale])
    return Prompt([{"role": "user", "content": f"{fmt}\n\n{question_block(example)}"}], "Explanation:")


def topk_prompt(example: Example, k: int = 3, kind: str | None = None) -> Prompt:
    """``G1: <guess>`` / ``P1: <probability>`` ... for ``k`` guesses (method ``verbalized-topk``)."""
    lines = "\n".join(
        f"G{i}: <{'most likely' if i == 1 else f'guess {i}'}, as short as possible>\n"
        f"P{i}: <the probability between 0.0 and 1.0 that G{i} is correct>"
        for i in range(1, k + 1)
    )
    choices = "" if not example.choices else " Each guess is the letter of an option."
    content = f"{TOPK_FORMAT.format(k=k, lines=lines)}{choices}\n\n{question_block(example)}"
    return Prompt([{"role": "user", "content": content}], "G1:")


def one_stage_prompt(example: Example, scale: str = "0-10", kind: str | None = None) -> Prompt:
    """The Rewarding Doubt format: answer and confidence in one reply."""
    k = _kind(example, kind)
    fmt = (
        "Respond in exactly this form: 'Answer: <answer>, Confidence: <confidence>', where <confidence> "
        f"is your confidence that the answer is correct, as {SCALE_WORDING[scale]}."
    )
    return Prompt([{"role": "user", "content": f"{question_text(example, k)}\n\n{fmt}"}], ANSWER_PREFIX)


def render(tokenizer, prompt: Prompt) -> str:
    """Render a prompt to the text a causal LM continues: its chat template with the generation prompt,
    then the assistant prefix. Tokenizers without a chat template get a plain ``User:/Assistant:`` layout."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(prompt.messages, tokenize=False, add_generation_prompt=True)
    else:
        text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in prompt.messages) + "Assistant: "
    return text + prompt.assistant_prefix


def templates() -> dict:
    """Every template's text, for the run manifest."""
    return {
        "version": PROMPT_VERSION,
        "instructions": INSTRUCTIONS,
        "answer_prefix": ANSWER_PREFIX,
        "confidence_prefix": CONFIDENCE_PREFIX,
        "confidence_question": {s: confidence_question(s) for s in SCALE_WORDING},
        "cot_format": COT_FORMAT,
        "topk_format": TOPK_FORMAT,
    }


__all__ = [
    "Prompt",
    "answer_prompt",
    "confidence_prompt",
    "cot_prompt",
    "one_stage_prompt",
    "render",
    "templates",
    "topk_prompt",
    "ANSWER_PREFIX",
    "CONFIDENCE_PREFIX",
    "PROMPT_VERSION",
    "asdict",
]
