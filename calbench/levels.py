"""The confidence levels read from a model's logits: the one formula of the 12 outcomes (levels 0..10 of the
0-10 scale, then "other") shared by the HF and vLLM backends' readouts and the trainer's exact estimator.

- :func:`level_log_probs`: the first token of the reply ("10" is "1" then "0");
- :func:`whole_number_level_log_probs`: the whole number, closed by an end token (:func:`number_end_token_ids`);
- :func:`ids_level_log_probs`: either, from token ids, in one (or two, with a key/value cache) forward passes;
- :func:`level_distributions`: the normalised level distribution and its digit mass, per row.

Everything torch is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from calbench.elicit import Prompt

if TYPE_CHECKING:
    import torch


def digit_token_ids(tokenizer: Any) -> list[int]:
    """Token ids of the digits "0".."9" (each must be a single token)."""
    ids = []
    for d in range(10):
        enc = tokenizer.encode(str(d), add_special_tokens=False)
        if len(enc) != 1:
            raise ValueError(f"digit {d} is not a single token for this tokenizer ({enc})")
        ids.append(enc[0])
    return ids


def left_padded(
    id_lists: Sequence[Sequence[int]], pad_id: int, device: Any = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` tensors of token-id lists padded on the left to one length."""
    import torch

    width = max(len(x) for x in id_lists)
    input_ids = torch.full((len(id_lists), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(id_lists), width), dtype=torch.long)
    for row, ids in enumerate(id_lists):
        if ids:
            input_ids[row, width - len(ids) :] = torch.as_tensor(list(ids), dtype=torch.long)
            attention[row, width - len(ids) :] = 1
    return input_ids.to(device), attention.to(device)


#: number of confidence outcomes read from the logits: the levels 0..10, then "other" (not a digit)
N_OUTCOMES = 12


def level_log_probs(first_logprobs: Any, after_one_logprobs: Any, digit_ids: Sequence[int]) -> Any:
    """Log-probabilities of the 12 outcomes (levels 0..10, then "other") from the next-token log-probabilities
    after the prompt (``first_logprobs``, (B, V)) and after ``prompt + "1"`` (``after_one_logprobs``).

    ``P(k) = P("k")`` for k = 0, 2..9; "10" is two tokens, so ``P(10) = P("1") P("0" | "1")`` and
    ``P(1) = P("1") (1 - P("0" | "1"))``; ``P(other) = 1 - sum_k P(k)`` (a reply that does not start with a
    digit). Differentiable: the trainer's exact estimator and the evaluation readout share this one formula."""
    import torch

    ids = torch.as_tensor(list(digit_ids), device=first_logprobs.device)
    first = first_logprobs.index_select(-1, ids)  # (B, 10): log P(first token = d)
    zero_after_one = after_one_logprobs.index_select(-1, ids[:1]).squeeze(-1)
    not_zero_after_one = torch.log1p(-zero_after_one.exp().clamp(max=1 - 1e-7))
    levels = torch.cat(
        [
            first[:, :1],
            (first[:, 1] + not_zero_after_one).unsqueeze(1),
            first[:, 2:10],
            (first[:, 1] + zero_after_one).unsqueeze(1),
        ],
        dim=1,
    )
    other = torch.log1p(-levels.exp().sum(1).clamp(max=1 - 1e-7)).unsqueeze(1)
    return torch.cat([levels, other], dim=1)


def whole_number_level_log_probs(
    first_logprobs: Any,
    after_digit_logprobs: Any,
    after_ten_logprobs: Any,
    digit_ids: Sequence[int],
    end_ids: Sequence[int],
) -> Any:
    """Log-probabilities of the 12 outcomes when the whole confidence number is scored, not only its first token:
    level ``d`` (0..9) is the reply "d" followed by a token that ends the number (``end_ids``: end of sequence or
    of turn, whitespace), ``P(d) = P("d") P(end | "d")``; level 10 is ``P("1") P("0" | "1") P(end | "10")``;
    every other reply ("13.3", "0.7", "88%", "8 out of 10", text) is "other".

    ``first_logprobs`` (B, V): next-token log-probabilities after the prompt; ``after_digit_logprobs`` (B, 10, V):
    after ``prompt + "d"`` for d = 0..9; ``after_ten_logprobs`` (B, V): after ``prompt + "10"``. Differentiable."""
    import torch

    ids = torch.as_tensor(list(digit_ids), device=first_logprobs.device)
    ends = torch.as_tensor(sorted(set(end_ids)), device=first_logprobs.device)
    first = first_logprobs.index_select(-1, ids)  # (B, 10): log P(first token = d)
    end_after_digit = after_digit_logprobs.index_select(-1, ends).logsumexp(-1)  # (B, 10): log P(end | "d")
    zero_after_one = after_digit_logprobs[:, 1].index_select(-1, ids[:1]).squeeze(-1)
    end_after_ten = after_ten_logprobs.index_select(-1, ends).logsumexp(-1)
    levels = torch.cat([first + end_after_digit, (first[:, 1] + zero_after_one + end_after_ten).unsqueeze(1)], dim=1)
    other = torch.log1p(-levels.exp().sum(1).clamp(max=1 - 1e-7)).unsqueeze(1)
    return torch.cat([levels, other], dim=1)


def number_end_token_ids(tokenizer: Any, model: Any = None) -> list[int]:
    """Tokens that end a confidence number written as asked ("7", then one of these): the end-of-sequence ids
    (the tokenizer's, and the model's generation config's, e.g. Llama-3's end of turn) and every token that
    decodes to whitespace only. Used by :func:`whole_number_level_log_probs`."""
    ends: set[int] = set()
    for source in (
        getattr(tokenizer, "eos_token_id", None),
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
    ):
        if isinstance(source, int):
            ends.add(source)
        elif isinstance(source, (list, tuple)):
            ends.update(int(i) for i in source)
    vocab = len(tokenizer)
    texts = tokenizer.batch_decode([[i] for i in range(vocab)])
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    ends.update(i for i, t in enumerate(texts) if not t.strip() and t and i not in special)
    if not ends:
        raise ValueError("the tokenizer has no end-of-sequence token and no whitespace token")
    return sorted(ends)


def ids_level_log_probs(
    model: Any,
    id_lists: Sequence[Sequence[int]],
    pad_id: int,
    digit_ids: Sequence[int],
    end_ids: Sequence[int] | None = None,
) -> Any:
    """:func:`level_log_probs` of a batch of ``prompt + "1"`` token ids, from one forward pass over the
    left-padded batch in which only the last two positions' logits are computed (they predict the first
    confidence token and the token after "1"). Differentiable unless called under ``inference_mode``.

    With ``end_ids`` (:func:`number_end_token_ids`): :func:`whole_number_level_log_probs` instead, from one
    forward pass over the prompts (without the trailing "1") that keeps its key/value cache, then one over the
    ten continuations ``"d" "0"`` of every prompt on that cache (two tokens each: the logits after "d" and, for
    d = 1, after "10"). The extra cost is 20 tokens per prompt."""
    if end_ids is not None:
        return _whole_number_ids_level_log_probs(model, id_lists, pad_id, digit_ids, end_ids)
    input_ids, attention = left_padded(id_lists, pad_id, next(model.parameters()).device)
    logits = model(
        input_ids=input_ids,
        attention_mask=attention,
        position_ids=(attention.cumsum(-1) - 1).clamp_min(0),
        logits_to_keep=2,
    ).logits.float()
    lp = logits.log_softmax(-1)
    return level_log_probs(lp[:, -2, :], lp[:, -1, :], digit_ids)


def _whole_number_ids_level_log_probs(
    model: Any, id_lists: Sequence[Sequence[int]], pad_id: int, digit_ids: Sequence[int], end_ids: Sequence[int]
) -> Any:
    import torch

    prompts = [list(ids)[:-1] for ids in id_lists]  # the callers' convention: prompt + "1"
    input_ids, attention = left_padded(prompts, pad_id, next(model.parameters()).device)
    positions = (attention.cumsum(-1) - 1).clamp_min(0)
    out = model(input_ids=input_ids, attention_mask=attention, position_ids=positions, use_cache=True, logits_to_keep=1)
    first = out.logits[:, -1, :].float().log_softmax(-1)
    cache = out.past_key_values
    n, k = len(prompts), len(digit_ids)
    cache.batch_repeat_interleave(k)  # row i*k + d continues prompt i with "d"
    cont = torch.as_tensor([[d, digit_ids[0]] for d in digit_ids], device=input_ids.device).repeat(n, 1)
    cont_attention = torch.cat([attention.repeat_interleave(k, 0), torch.ones_like(cont)], dim=1)
    last = positions[:, -1:].repeat_interleave(k, 0)
    logits = model(
        input_ids=cont,
        attention_mask=cont_attention,
        position_ids=torch.cat([last + 1, last + 2], 1),
        past_key_values=cache,
        use_cache=False,
    ).logits.float()
    lp = logits.log_softmax(-1).view(n, k, 2, -1)
    return whole_number_level_log_probs(first, lp[:, :, 0, :], lp[:, 1, 1, :], digit_ids, end_ids)


def level_distributions(outcome_log_probs: Any) -> list[dict[str, Any]]:
    """Per row of :func:`level_log_probs`: ``probs`` over the 11 levels (normalised) and ``digit_mass``."""
    probs = outcome_log_probs[:, : N_OUTCOMES - 1].double().exp()
    mass = probs.sum(1)
    norm = probs / mass.clamp_min(1e-12).unsqueeze(1)
    return [{"probs": norm[i].tolist(), "digit_mass": float(mass[i])} for i in range(len(probs))]


def next_token_confidence_distribution(backend: Any, prompts: Sequence[Prompt]) -> list[dict[str, Any]]:
    """:meth:`HFBackend.confidence_distribution` for a backend that only serves next-token log-probabilities
    (vLLM): two calls, after the prompt and after ``prompt + "1"``, through the same formula."""
    digits = backend.digit_token_ids()
    texts = [backend.render(p) for p in prompts]
    first = backend.next_token_logprobs(texts)
    after_one = backend.next_token_logprobs([t + "1" for t in texts])
    return level_distributions(level_log_probs(first, after_one, digits))
