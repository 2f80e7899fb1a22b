"""The ``vllm`` backend: vLLM's offline ``LLM`` engine in process (``pip install calbench[vllm]``, a CUDA GPU).

Same prompts and methods as ``hf``: prompts are rendered with the model's chat template by calbench and passed
as token ids (so no second BOS is added), greedy at temperature 0, cut at the stop strings with the kept
tokens counted as ``hf`` counts them, and ``Generation.token_logprobs`` filled (likelihood methods).
``next_token_logprobs`` (P(True)) and ``confidence_distribution`` (expected confidence) read the top
``max_logprobs`` next tokens that vLLM returns; tokens outside them get log-probability -inf (for the digits
and True/False this loses essentially nothing, and the readouts record the mass they found).

Settings (``--backend-option KEY=VALUE``): ``tensor_parallel_size`` (GPUs per model replica),
``gpu_memory_utilization``, ``max_model_len``, ``dtype``, ``max_logprobs`` (default 20), ``enforce_eager``,
``enable_prefix_caching``; ``--adapter DIR`` serves a LoRA adapter (``enable_lora``). For data parallelism
run several evaluations on disjoint GPUs or serve the model (``vllm serve``) and use ``--backend openai``.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Sequence

from calbench.backends.base import BackendSpec, Generation, cut_at_stop
from calbench.backends.hf import HFBackend, checked_adapter, kept_tokens
from calbench.elicit import Prompt
from calbench.errors import UserError
from calbench.levels import next_token_confidence_distribution
from calbench.models import resolve_model


class VLLMNotInstalledError(UserError, ImportError):
    """vLLM is not installed (it is an optional extra and needs a CUDA GPU)."""


def _import_vllm():
    try:
        import vllm
    except ImportError as e:
        raise VLLMNotInstalledError(
            f"--backend vllm needs vLLM, which is not installed here ({e}); install it with "
            "`pip install 'calbench[vllm]'` on a machine with a CUDA GPU, or serve the model elsewhere with "
            "`vllm serve MODEL` and use --backend openai --base-url URL"
        ) from None
    return vllm


class VLLMBackend:
    kind = "vllm"

    def __init__(
        self,
        model: str = "smollm2-135m-instruct",
        *,
        adapter: str | None = None,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        max_logprobs: int = 20,
        seed: int = 0,
        enforce_eager: bool = False,
        enable_prefix_caching: bool = True,
        install: bool = True,
        **engine_options: Any,
    ):
        vllm = _import_vllm()
        self._vllm = vllm
        self.resolved = resolve_model(model, install=install)
        self.tensor_parallel_size = int(tensor_parallel_size)
        self.dtype = dtype
        self.max_logprobs = int(max_logprobs)
        self.adapter, self.adapter_sha256, self._lora = adapter, None, None
        if adapter:
            apath, self.adapter_sha256 = checked_adapter(adapter)
            from vllm.lora.request import LoRARequest

            self._lora = LoRARequest("calbench-adapter", 1, str(apath))
            engine_options.setdefault("enable_lora", True)
        self.engine_options = {k: v for k, v in engine_options.items() if v is not None}
        self.llm = vllm.LLM(
            model=self.resolved.path,
            tokenizer=self.resolved.path,
            tensor_parallel_size=self.tensor_parallel_size,
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            max_logprobs=max(self.max_logprobs, 20),
            seed=seed,
            enforce_eager=enforce_eager,
            enable_prefix_caching=enable_prefix_caching,
            **self.engine_options,
        )
        self.tokenizer = self.llm.get_tokenizer()

    # -- helpers -------------------------------------------------------------------------------------
    render: ClassVar[Callable[[Any, Prompt], str]] = HFBackend.render

    def _inputs(self, texts: Sequence[str]) -> list[dict]:
        # Token ids, not text: vLLM would add the tokenizer's BOS in front of a template that has one already.
        return [{"prompt_token_ids": self.tokenizer.encode(t, add_special_tokens=False)} for t in texts]

    def _run(self, texts: Sequence[str], params) -> list:
        return self.llm.generate(self._inputs(texts), params, use_tqdm=False, lora_request=self._lora)

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
        params = self._vllm.SamplingParams(
            n=1,
            max_tokens=int(max_new_tokens),
            temperature=float(temperature),
            top_p=1.0,
            stop=list(stop) or None,
            seed=seed if temperature > 0 else None,
            logprobs=0,
            skip_special_tokens=True,
        )
        outs = self._run([self.render(p) for p in prompts], params)
        return [self._finish(o.outputs[0], stop) for o in outs]

    def _finish(self, completion, stop: Sequence[str]) -> Generation:
        ids = list(completion.token_ids)
        lps = [float(step[t].logprob) for t, step in zip(ids, completion.logprobs or [])]
        eos = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        n = next((k for k, t in enumerate(ids) if t in eos), len(ids))
        text, stopped = cut_at_stop(completion.text, stop)
        # vLLM has removed a matched stop string from the text already and names it in stop_reason
        if stopped or isinstance(getattr(completion, "stop_reason", None), str):
            n = kept_tokens(self.tokenizer, ids, n, text)
        return Generation(
            text=text,
            n_tokens=n,
            token_logprobs=lps[:n] if completion.logprobs is not None else None,
            extra={"finish_reason": completion.finish_reason},
        )

    def next_token_logprobs(self, prompts: Sequence[Prompt | str]):
        """Log-probabilities of the token after each prompt: a (n, vocab) float tensor holding the top
        ``max_logprobs`` tokens vLLM returns, -inf elsewhere."""
        import torch

        texts = [p if isinstance(p, str) else self.render(p) for p in prompts]
        params = self._vllm.SamplingParams(n=1, max_tokens=1, temperature=0.0, logprobs=self.max_logprobs)
        tops = [
            {int(t): float(lp.logprob) for t, lp in o.outputs[0].logprobs[0].items()} for o in self._run(texts, params)
        ]
        vocab = max([len(self.tokenizer)] + [t + 1 for top in tops for t in top])
        rows = torch.full((len(texts), vocab), float("-inf"))
        for i, top in enumerate(tops):
            for token_id, lp in top.items():
                rows[i, token_id] = lp
        return rows

    def continuation_logprobs(self, prompts: Sequence[Prompt], continuations: Sequence[str]) -> list[list[float]]:
        """log p(c_i | prompt, c_<i) of each given continuation's tokens (vLLM's prompt log-probabilities of
        prompt + continuation, one pass); tokenized as :meth:`HFBackend.continuation_logprobs` does."""
        pairs = [
            (
                self.tokenizer.encode(self.render(p), add_special_tokens=False),
                self.tokenizer.encode(c, add_special_tokens=False),
            )
            for p, c in zip(prompts, continuations)
        ]
        todo = [i for i, (_, c) in enumerate(pairs) if c]
        params = self._vllm.SamplingParams(n=1, max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outs = (
            self.llm.generate(
                [{"prompt_token_ids": pairs[i][0] + pairs[i][1]} for i in todo],
                params,
                use_tqdm=False,
                lora_request=self._lora,
            )
            if todo
            else []
        )
        result: list[list[float]] = [[] for _ in pairs]
        for i, o in zip(todo, outs):
            p, c = pairs[i]
            result[i] = [float(o.prompt_logprobs[len(p) + k][t].logprob) for k, t in enumerate(c)]
        return result

    # P(level) over the 0..10 confidence levels: the same readout as the hf backend ("10" is two tokens).
    digit_token_ids = HFBackend.digit_token_ids

    def confidence_distribution(self, prompts: Sequence[Prompt]) -> list[dict[str, Any]]:
        return next_token_confidence_distribution(self, prompts)

    def manifest(self) -> dict:
        m = self.resolved.manifest()
        m.update(
            backend=self.kind,
            adapter=self.adapter,
            adapter_sha256=self.adapter_sha256,
            dtype=self.dtype,
            tensor_parallel_size=self.tensor_parallel_size,
            max_logprobs=self.max_logprobs,
            engine_options=self.engine_options or None,
            vllm=getattr(self._vllm, "__version__", "?"),
        )
        return m


BACKEND = BackendSpec(
    "vllm",
    "vLLM's offline engine in this process (GPU; --backend-option for engine options)",
    options=("adapter", "dtype"),
    extra="vllm",
)


def create(model: str | None = None, **options: Any) -> VLLMBackend:
    return VLLMBackend(model or "smollm2-135m-instruct", **options)
