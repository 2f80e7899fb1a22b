"""The transformers backend: batched generation with left padding; bf16 on GPU, float32 on CPU; LoRA
adapters through peft."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence, cast

from calbench.backends.base import BackendSpec, Generation, cut_at_stop
from calbench.elicit import Prompt, render
from calbench.levels import digit_token_ids, ids_level_log_probs, left_padded, level_distributions
from calbench.models import ModelNotFoundError, read_adapter_card, resolve_model, sha256_file


def checked_adapter(adapter: str | Path) -> tuple[Path, str | None]:
    """A LoRA adapter directory (it must hold ``adapter_config.json``) and the sha256 of its weights file."""
    apath = Path(adapter)
    if not (apath / "adapter_config.json").exists():
        raise ModelNotFoundError(f"no LoRA adapter at {apath} (looked for {apath / 'adapter_config.json'})")
    weights = next(iter(sorted(apath.glob("adapter_model.*"))), None)
    return apath, sha256_file(weights) if weights else None


def kept_tokens(tokenizer: Any, ids: list[int], n: int, text: str) -> int:
    """How many of the first ``n`` generated tokens make up ``text`` (a reply cut at a stop string)."""
    k = 0
    while k < n and len(tokenizer.decode(ids[:k], skip_special_tokens=True)) < len(text):
        k += 1
    return k


def _pick_device(device: str | None) -> str:
    import torch

    if device:
        return device
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


class HFBackend:
    kind = "hf"

    def __init__(
        self,
        model: str = "smollm2-135m-instruct",
        *,
        adapter: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | None = None,
        install: bool = True,
        **_: Any,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.resolved = resolve_model(model, install=install)
        self.device = _pick_device(device)
        if dtype is None:
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        self.dtype = dtype
        self.batch_size = batch_size or (128 if self.device.startswith("cuda") else 16)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.resolved.path)
            self.model: Any = AutoModelForCausalLM.from_pretrained(self.resolved.path, dtype=getattr(torch, dtype))
        except OSError as e:
            raise ModelNotFoundError(f"could not load model {model!r} from {self.resolved.path}: {e}") from None
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"
        self.adapter = adapter
        self.adapter_sha256 = None
        if adapter:
            from peft import PeftModel

            apath, self.adapter_sha256 = checked_adapter(adapter)
            trained_on = (read_adapter_card(apath) or {}).get("model_sha256")
            if trained_on and self.resolved.sha256 and trained_on != self.resolved.sha256:
                raise ModelNotFoundError(
                    f"adapter {apath} was trained on a base model with sha256 {trained_on} (its "
                    f"calbench_adapter.json), but {model} has sha256 {self.resolved.sha256}: load it on its own base "
                    "model"
                )
            with warnings.catch_warnings():
                # peft asks transformers a deprecated question while it loads (is_gradient_checkpointing): noise
                warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
                self.model = PeftModel.from_pretrained(self.model, str(apath))
        self.model.to(self.device).eval()

    @classmethod
    def from_loaded(cls, model, tokenizer, *, batch_size: int, name: str = "loaded-model") -> "HFBackend":
        """A backend around a model and tokenizer that are already loaded and placed (e.g. a model being
        trained), so that callers reuse this class's generation and readout code without reloading weights.
        The caller keeps the tokenizer's padding side left while generating."""
        from calbench.models import ResolvedModel

        backend = cls.__new__(cls)
        backend.resolved = ResolvedModel(name=name, path=name, source="in-memory")
        backend.model, backend.tokenizer = model, tokenizer
        param = next(model.parameters())
        backend.device, backend.dtype = str(param.device), str(param.dtype).removeprefix("torch.")
        backend.batch_size = batch_size
        backend.adapter = backend.adapter_sha256 = None
        return backend

    # -- helpers -------------------------------------------------------------------------------------
    def render(self, prompt: Prompt) -> str:
        return render(self.tokenizer, prompt)

    def _batches(self, texts: list[str]):
        # Sort by length so that each batch pads little; yield (original indices, texts).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            yield idx, [texts[i] for i in idx]

    def _encode(self, texts: list[str]):
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        return {k: v.to(self.device) for k, v in enc.items()}

    # -- Backend API -----------------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] = ("\n",),
        seed: int | None = None,
    ) -> list[Generation]:
        import torch

        texts = [self.render(p) for p in prompts]
        out: list[Generation | None] = [None] * len(texts)
        if seed is not None:
            torch.manual_seed(seed)
        for idx, batch in self._batches(texts):
            enc = self._encode(batch)
            kwargs: dict[str, Any] = dict(
                max_new_tokens=max_new_tokens,
                return_dict_in_generate=True,
                output_logits=True,
                pad_token_id=self.tokenizer.pad_token_id,
            )
            if temperature > 0:
                kwargs.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=0)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if stop:
                kwargs.update(stop_strings=list(stop), tokenizer=self.tokenizer)
            with torch.inference_mode():
                res = self.model.generate(**enc, **kwargs)
            new = res.sequences[:, enc["input_ids"].shape[1] :]
            logprobs = torch.stack(res.logits, dim=1).float().log_softmax(-1)
            chosen = logprobs.gather(-1, new.unsqueeze(-1)).squeeze(-1).cpu()
            for row, i in enumerate(idx):
                ids = new[row].tolist()
                out[i] = self._finish(ids, chosen[row].tolist(), stop)
        return out  # type: ignore[return-value]

    def _finish(self, ids: list[int], lps: list[float], stop: Sequence[str]) -> Generation:
        eos = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        n = next((k for k, t in enumerate(ids) if t in eos), len(ids))
        full = self.tokenizer.decode(ids[:n], skip_special_tokens=True)
        text, stopped = cut_at_stop(cast(str, full), stop)
        if stopped:
            n = kept_tokens(self.tokenizer, ids, n, text)
        return Generation(text=text, n_tokens=n, token_logprobs=lps[:n], extra={"token_ids": ids[:n]})

    def next_token_logprobs(self, prompts: Sequence[Prompt | str]):
        """Log-probabilities over the vocabulary of the token that follows each prompt (a float tensor). Only the
        last position's logits are computed (``logits_to_keep=1``: the vocabulary projection of every other
        position cost ~25 % of P(True)'s time on CPU, and 2 GB of logits at batch 50 x 200 tokens)."""
        import torch

        texts = [p if isinstance(p, str) else self.render(p) for p in prompts]
        rows: list[Any] = [None] * len(texts)
        for idx, batch in self._batches(texts):
            enc = self._encode(batch)
            with torch.inference_mode():
                logits = self.model(**enc, logits_to_keep=1).logits[:, -1, :].float()
            lp = logits.log_softmax(-1).cpu()
            for row, i in enumerate(idx):
                rows[i] = lp[row]
        return torch.stack(rows)

    def _prompt_and_continuation_ids(
        self, prompts: Sequence[Prompt], continuations: Sequence[str]
    ) -> list[tuple[list[int], list[int]]]:
        """The token ids of each rendered prompt and of its continuation, tokenized on its own (so that a leading
        space stays with its first word, as in a generated reply)."""
        return [
            (
                self.tokenizer.encode(self.render(p), add_special_tokens=False),
                self.tokenizer.encode(c, add_special_tokens=False),
            )
            for p, c in zip(prompts, continuations)
        ]

    def continuation_logprobs(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> list[list[float]]:
        """log p(c_i | prompt, c_<i) for the tokens c of each given continuation, in one forward pass over
        prompt + continuation (teacher forcing). The continuation is tokenized on its own and appended to the
        prompt's tokens, so a leading space stays with its first word as in a generated reply."""
        import torch

        pairs = self._prompt_and_continuation_ids(prompts, continuations)
        out: list[list[float]] = [[] for _ in pairs]
        order = sorted((i for i, (_, c) in enumerate(pairs) if c), key=lambda i: sum(map(len, pairs[i])))
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            seqs = [pairs[i][0] + pairs[i][1] for i in idx]
            width = max(map(len, seqs))
            ids = torch.tensor([[pad] * (width - len(s)) + s for s in seqs], device=self.device)
            mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], device=self.device)
            positions = (mask.cumsum(-1) - 1).clamp_min(0)  # left padding: positions count from the first token
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits.float()
            lp = logits.log_softmax(-1)
            for row, i in enumerate(idx):
                n = len(pairs[i][1])
                # the token at position t is predicted by the logits at t - 1
                target = ids[row, width - n :]
                got = lp[row, width - n - 1 : width - 1].gather(-1, target.unsqueeze(-1)).squeeze(-1)
                out[i] = got.cpu().tolist()
        return out

    def answer_hidden_states(
        self, prompts: Sequence[Prompt], continuations: Sequence[str], layers: Sequence[int] | None = None
    ) -> Any:
        """The hidden state of every layer (``hidden_states[0]`` the embeddings; ``layers`` picks some) at the
        last token of each prompt followed by its continuation (the answer's text), from one forward pass:
        a float32 array (n, len(layers), d). Tokenized as :meth:`continuation_logprobs` does."""
        import numpy as np
        import torch

        seqs = [p + c for p, c in self._prompt_and_continuation_ids(prompts, continuations)]
        out: list[Any] = [None] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            ids, mask = left_padded([seqs[i] for i in idx], pad, self.device)
            with torch.inference_mode():
                hidden = self.model(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=(mask.cumsum(-1) - 1).clamp_min(0),
                    output_hidden_states=True,
                    logits_to_keep=1,
                ).hidden_states
            picked = list(range(len(hidden))) if layers is None else list(layers)
            stacked = torch.stack([hidden[layer][:, -1, :] for layer in picked], dim=1).float().cpu().numpy()
            for row, i in enumerate(idx):
                out[i] = stacked[row]
        return np.stack(out) if out else np.zeros((0, 0, 0), dtype=np.float32)

    def answer_statistics(
        self, prompts: Sequence[Prompt], continuations: Sequence[str], *, attention_layer: int | None = None
    ) -> list[dict[str, Any]]:
        """White-box statistics of each given continuation (the answer's text) after its prompt, from one
        teacher-forced forward pass over prompt + continuation, tokenized as :meth:`continuation_logprobs`:

        * ``tokens``: the continuation's token ids;
        * ``log_likelihoods``: log p(c_i | prompt, c_<i) of each of its tokens;
        * ``entropy``: the entropy (nats) of the next-token distribution at each of those positions;
        * with ``attention_layer`` L, ``attention``: layer L's attention maps over the whole sequence (prompt
          and continuation), an array (heads, n, n), computed with the eager attention implementation (the one
          that returns attention weights; switched for this call and restored).

        An empty continuation has no tokens (empty arrays; no attention). Float32 numpy arrays."""
        import numpy as np
        import torch

        pairs = self._prompt_and_continuation_ids(prompts, continuations)
        empty = np.zeros(0, dtype=np.float32)
        out: list[dict[str, Any]] = [{"tokens": list(c), "log_likelihoods": empty, "entropy": empty} for _, c in pairs]
        order = sorted((i for i, (_, c) in enumerate(pairs) if c), key=lambda i: sum(map(len, pairs[i])))
        pad = self.tokenizer.pad_token_id
        inner = getattr(self.model, "get_base_model", lambda: self.model)()
        before = getattr(inner.config, "_attn_implementation", None)
        if attention_layer is not None and before != "eager":
            inner.set_attn_implementation("eager")
        try:
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                ids, mask = left_padded([pairs[i][0] + pairs[i][1] for i in idx], pad, self.device)
                width = ids.shape[1]
                with torch.inference_mode():
                    result = self.model(
                        input_ids=ids,
                        attention_mask=mask,
                        position_ids=(mask.cumsum(-1) - 1).clamp_min(0),
                        output_attentions=attention_layer is not None,
                    )
                lp = result.logits.float().log_softmax(-1)
                for row, i in enumerate(idx):
                    n, total = len(pairs[i][1]), len(pairs[i][0]) + len(pairs[i][1])
                    # the token at position t is predicted by the distribution at t - 1
                    dist = lp[row, width - n - 1 : width - 1]
                    target = ids[row, width - n :]
                    out[i]["log_likelihoods"] = dist.gather(-1, target.unsqueeze(-1)).squeeze(-1).cpu().numpy()
                    out[i]["entropy"] = (-(dist.exp() * dist).nansum(-1)).cpu().numpy()
                    if attention_layer is not None:
                        att = result.attentions[attention_layer][row, :, width - total :, width - total :]
                        out[i]["attention"] = att.float().cpu().numpy()
        finally:
            if attention_layer is not None and before != "eager":
                inner.set_attn_implementation(before)
        return out

    def digit_token_ids(self) -> list[int]:
        return digit_token_ids(self.tokenizer)

    def confidence_distribution(self, prompts: Sequence[Prompt]) -> list[dict[str, Any]]:
        """The model's distribution over the confidence levels 0..10 after each prompt (which must end with
        the confidence prefix): one forward pass of ``prompt + "1"`` per prompt, reading only the last two
        positions (:func:`level_log_probs`). Returned probabilities are normalised over the 11 levels;
        ``digit_mass`` is the probability mass the levels had before that."""
        import torch

        digits = self.digit_token_ids()
        texts = [self.render(p) for p in prompts]
        ids = [self.tokenizer(t, add_special_tokens=False)["input_ids"] + [digits[1]] for t in texts]
        rows: list[Any] = [None] * len(texts)
        for idx, _ in self._batches(texts):
            with torch.inference_mode():
                out = ids_level_log_probs(self.model, [ids[i] for i in idx], self.tokenizer.pad_token_id, digits).cpu()
            for row, i in enumerate(idx):
                rows[i] = out[row]
        return level_distributions(torch.stack(rows))

    def manifest(self) -> dict:
        import torch
        import transformers

        m = self.resolved.manifest()
        m.update(
            backend=self.kind,
            adapter=self.adapter,
            adapter_sha256=self.adapter_sha256,
            device=self.device,
            dtype=self.dtype,
            batch_size=self.batch_size,
            torch=torch.__version__,
            transformers=transformers.__version__,
        )
        card = read_adapter_card(self.adapter) if self.adapter else None
        if card:  # the trainer's human name of the adapter, for leaderboards
            m.update(adapter_name=card["name"], adapter_description=card.get("description"))
        return m


BACKEND = BackendSpec(
    "hf", "transformers in this process (CPU or GPU)", options=("adapter", "device", "dtype", "batch_size")
)


def create(model: str | None = None, **options: Any) -> HFBackend:
    """Build the backend from CLI settings (``--model``, ``--adapter``, ``--device``, ``--dtype``,
    ``--batch-size``)."""
    return HFBackend(model or "smollm2-135m-instruct", **options)
