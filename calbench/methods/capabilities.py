"""What a backend can do beyond generating text, and the check a method makes before it runs.

Methods that read logits (expected confidence, sequence likelihood, P(True)) list what they need in their
``needs`` set; :func:`require` raises :class:`BackendCapabilityError` (a user error: the CLI prints it
without a traceback) naming the method, the backend and what is missing, instead of failing deep inside.
"""

from __future__ import annotations

from typing import Any, Iterable

from calbench.errors import UserError

#: capability -> the backend attribute that provides it
CAPABILITIES = {
    "next_token_logprobs": "next_token_logprobs",  # log-probabilities of the next token over the vocabulary
    "confidence_distribution": "confidence_distribution",  # P(level) for the 0..10 confidence levels
    "token_logprobs": "next_token_logprobs",  # Generation.token_logprobs filled by generate()
    "tokenizer": "tokenizer",  # to find the token ids of words such as "True"
    "continuation_logprobs": "continuation_logprobs",  # log-probabilities of a given text's tokens (one pass)
    "answer_hidden_states": "answer_hidden_states",  # hidden states at an answer's last token (one pass)
    "answer_statistics": "answer_statistics",  # per-token log-likelihoods, entropies, attention maps (one pass)
}


class BackendCapabilityError(UserError):
    """A method needs something (logits, a tokenizer) that the backend does not offer."""


def has_capability(backend: Any, capability: str) -> bool:
    declared = getattr(backend, "capabilities", None)
    if declared is not None and capability in declared:
        return True
    attr = CAPABILITIES.get(capability, capability)
    return hasattr(backend, attr)


def require(backend: Any, needs: Iterable[str], method: str) -> None:
    """Raise :class:`BackendCapabilityError` unless ``backend`` offers every capability in ``needs``."""
    missing = sorted(n for n in needs if not has_capability(backend, n))
    if missing:
        kind = getattr(backend, "kind", type(backend).__name__)
        raise BackendCapabilityError(
            f"method {method!r} needs {', '.join(missing)} from the model, which the {kind!r} backend does not "
            "offer; use a backend with access to the logits (--backend hf) or a method without logits "
            "(two-stage, verbalized, self-consistency)"
        )


def answer_cost(generation: Any, *, extra_passes: int = 0) -> dict[str, int]:
    """The cost record of a method built on the shared stage-1 answer.

    ``forward_passes`` counts model calls per question (a generation counts once, each scoring pass once);
    ``generated_tokens`` the tokens generated. The stage-1 answer is included even though several methods
    of one run share it (``shared_answer``), so that each method's cost stands alone. A given answer
    (``eval --answers``) was not generated: it costs nothing here (``shared_answer`` 0).
    """
    generated = "fixed_answer" not in generation.extra
    return {
        "forward_passes": int(generated) + extra_passes,
        "generated_tokens": int(generation.n_tokens),
        "shared_answer": int(generated),
    }
