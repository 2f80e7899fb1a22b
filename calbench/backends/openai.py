"""The ``openai`` backend: any OpenAI-compatible HTTP endpoint (vLLM, SGLang, TGI, ``transformers serve``,
llama.cpp, hosted APIs).

Requests run concurrently on a bounded thread pool (``concurrency``) sharing one ``httpx.Client``. A request
that fails with a 429, a 5xx, a timeout (``timeout`` seconds per request) or a dropped connection is retried up
to ``max_retries`` times with exponential backoff and full jitter (``Retry-After`` is honoured, capped at
``max_backoff``). A request that finally fails comes back as a :class:`Generation` with ``error`` set, which
the methods record as a failed request (never as a wrong answer) and a rerun of the same command retries.
401/403/404 stop the run at once: they are configuration errors, not transient ones.

The pre-filled start of the assistant's reply (``Prompt.assistant_prefix``) is sent by one of three
``prefill`` modes:

* ``completions``: calbench renders the prompt with the model's chat template (exactly the text the ``hf``
  backend continues) and posts it to ``/v1/completions``. Needs the tokenizer locally (option ``tokenizer``,
  or a ``model`` that is a local directory or packaged model). Served by vLLM, SGLang, TGI, llama.cpp and
  ``transformers serve``; the records then match the in-process ``hf`` backend.
* ``continue``: ``/v1/chat/completions`` with the prefix as a final assistant message and vLLM's
  ``continue_final_message: true, add_generation_prompt: false`` (vLLM, SGLang). ``transformers serve``
  rejects these fields (HTTP 422), hosted APIs ignore or reject them.
* ``none``: chat completions without the prefix (hosted APIs); a reply that repeats the prefix has it stripped.
  The prompts then differ from the other backends', so this mode is recorded in the manifest.

``auto`` (the default) picks ``completions`` when a tokenizer is available and ``continue`` otherwise.
Prompts without a prefix always go to chat completions in ``continue`` and ``none`` modes.

Token log-probabilities are requested (``logprobs``) and, when the server returns them (vLLM does;
``transformers serve`` 5.x does not), fill ``Generation.token_logprobs`` for likelihood-based methods.

The API key is read from the environment variable named by ``api_key_env``; only that name is recorded.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from calbench.backends.base import BackendSpec, Generation, cut_at_stop
from calbench.elicit import Prompt, render

PREFILL_MODES = ("auto", "completions", "continue", "none")
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})
FATAL_STATUS = frozenset({401, 403, 404})


class EndpointError(RuntimeError):
    """The endpoint refused the run's configuration (bad key, unknown model, unsupported prefill mode)."""


class OpenAIBackend:
    kind = "openai"

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        api_key_env: str | None = None,
        concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        prefill: str = "auto",
        tokenizer: str | None = None,
        served_model: str | None = None,
        logprobs: bool = True,
        extra_body: dict | None = None,
        **_: Any,
    ):
        import httpx

        if prefill not in PREFILL_MODES:
            raise ValueError(f"prefill must be one of {', '.join(PREFILL_MODES)}, got {prefill!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.api_key_env = api_key_env
        headers = {"Content-Type": "application/json"}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ValueError(f"environment variable {api_key_env} (--api-key-env) is not set or empty")
            headers["Authorization"] = f"Bearer {key}"
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.logprobs = bool(logprobs)
        self.extra_body = dict(extra_body or {})
        self.client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )
        self.chat_tokenizer, self.tokenizer_info = self._load_tokenizer(tokenizer, required=prefill == "completions")
        self.prefill = (
            prefill if prefill != "auto" else ("completions" if self.chat_tokenizer is not None else "continue")
        )
        self.served_model = served_model or self._pick_served_model()
        # Likelihood methods need Generation.token_logprobs; whether the server really returns them is only known
        # from its replies (vLLM does, transformers serve does not: such methods then stop with a clear error).
        self.capabilities = {"token_logprobs"} if self.logprobs else set()
        self._lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0, "failures": 0}

    # -- setup -----------------------------------------------------------------------------------------
    def _load_tokenizer(self, name: str | None, *, required: bool):
        """The chat template's tokenizer: ``name`` if given, else ``model`` when it is local or packaged."""
        from calbench.models import ModelNotFoundError, resolve_model

        candidate = name or self.model
        try:
            resolved = resolve_model(candidate, install=name is not None)
        except ModelNotFoundError:
            if name or required:
                raise
            return None, None
        if resolved.source == "hub" and not name:
            if required:
                raise ValueError(
                    "prefill=completions needs the model's tokenizer: give --backend-option tokenizer=HUB_ID_OR_DIR"
                )
            return None, None  # not downloaded silently: auto mode then uses chat completions
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(resolved.path), resolved.manifest()

    def _pick_served_model(self) -> str:
        """The name sent in requests: ``model``, or the only model the server lists when it lists another
        (``transformers serve DIR`` serves ``DIR``; ``vllm serve --served-model-name``)."""
        try:
            r = self.client.get(f"{self.base_url}/models", timeout=min(self.timeout, 10.0))
            ids = [m["id"] for m in r.json().get("data", [])] if r.status_code == 200 else []
        except Exception:  # a server without /v1/models (or not up yet): send the name we were given
            return self.model
        if self.model not in ids and len(ids) == 1:
            print(f"calbench: the endpoint serves {ids[0]!r}; sending that model name", file=sys.stderr)
            return ids[0]
        return self.model

    # -- requests --------------------------------------------------------------------------------------
    def _request(
        self, prompt: Prompt, max_new_tokens: int, temperature: float, stop: Sequence[str], seed: int | None
    ) -> tuple[str, dict, str]:
        """(endpoint path, JSON body, prefix sent as a message or in the rendered text) for one prompt."""
        body: dict[str, Any] = {
            "model": self.served_model,
            "max_tokens": int(max_new_tokens),
            "temperature": float(temperature),
        }
        if stop:
            body["stop"] = list(stop)
        if seed is not None:
            body["seed"] = int(seed)
        if self.prefill == "completions":
            body["prompt"] = render(self.chat_tokenizer, prompt)
            if self.logprobs:
                body["logprobs"] = 1  # legacy completions: an int (top alternatives); 1 works everywhere
            return "/completions", {**body, **self.extra_body}, ""
        messages = [dict(m) for m in prompt.messages]
        if self.logprobs:
            body["logprobs"] = True
        if prompt.assistant_prefix and self.prefill == "continue":
            messages.append({"role": "assistant", "content": prompt.assistant_prefix})
            body.update(continue_final_message=True, add_generation_prompt=False)
        body["messages"] = messages
        return "/chat/completions", {**body, **self.extra_body}, prompt.assistant_prefix

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.max_backoff)
            except ValueError:
                pass
        return random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))  # full jitter

    def _post(self, path: str, body: dict) -> tuple[dict | None, str | None, int]:
        """POST with retries. Returns (response JSON, error, attempts)."""
        import httpx

        error = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                with self._lock:
                    self.stats["retries"] += 1
            with self._lock:
                self.stats["requests"] += 1
            retry_after = None
            try:
                r = self.client.post(self.base_url + path, json=body)
                if r.status_code == 200:
                    data = r.json()
                    if data.get("choices"):
                        return data, None, attempt + 1
                    error = f"HTTP 200 without choices: {r.text[:200]}"
                elif r.status_code in FATAL_STATUS or (
                    r.status_code in (400, 422) and "continue_final_message" in r.text
                ):
                    raise EndpointError(self._fatal_message(r.status_code, r.text))
                elif r.status_code in RETRY_STATUS:
                    error = f"HTTP {r.status_code}: {r.text[:200]}"
                    retry_after = r.headers.get("retry-after")
                else:  # another 4xx: this request is wrong (e.g. too long); retrying cannot help
                    return None, f"HTTP {r.status_code}: {r.text[:300]}", attempt + 1
            except httpx.TimeoutException as e:
                error = f"timeout after {self.timeout:g} s ({type(e).__name__})"
            except (httpx.TransportError, ValueError) as e:  # dropped connection, reset, truncated JSON
                error = f"{type(e).__name__}: {e}"
            if attempt < self.max_retries:
                time.sleep(self._delay(attempt, retry_after))
        with self._lock:
            self.stats["failures"] += 1
        return None, f"{error} (gave up after {self.max_retries + 1} attempts)", self.max_retries + 1

    def _fatal_message(self, status: int, text: str) -> str:
        if status == 401 or status == 403:
            hint = (
                f"check the key in ${self.api_key_env}"
                if self.api_key_env
                else "the endpoint needs a key: pass --api-key-env NAME"
            )
        elif status == 404:
            hint = (
                f"is {self.base_url} an OpenAI-compatible endpoint, and does it serve "
                f"{self.served_model!r}? (set --backend-option served_model=NAME)"
            )
        else:
            hint = (
                "this server does not support continue_final_message; use --backend-option "
                "prefill=completions (with tokenizer=MODEL) or prefill=none"
            )
        return f"{self.base_url} answered HTTP {status}: {text[:300]}; {hint}"

    def _one(
        self, prompt: Prompt, max_new_tokens: int, temperature: float, stop: Sequence[str], seed: int | None
    ) -> Generation:
        path, body, prefix_echo = self._request(prompt, max_new_tokens, temperature, stop, seed)
        data, error, attempts = self._post(path, body)
        if data is None:
            return Generation(text="", error=error, extra={"attempts": attempts})
        return self._parse(data, path, stop, prefix_echo, attempts)

    def _parse(self, data: dict, path: str, stop: Sequence[str], prefix: str, attempts: int) -> Generation:
        choice = data["choices"][0]
        tokens, lps = None, None
        lp = choice.get("logprobs") or None
        if path == "/completions":
            full = choice.get("text") or ""
            if lp and lp.get("token_logprobs") is not None:
                tokens, lps = lp.get("tokens"), lp["token_logprobs"]
        else:
            full = (choice.get("message") or {}).get("content") or ""
            if lp and lp.get("content") is not None:
                tokens = [t.get("token", "") for t in lp["content"]]
                lps = [t["logprob"] for t in lp["content"]]
        if self.prefill == "none" and prefix and full.lstrip().startswith(prefix.strip()):
            full = full.lstrip()[len(prefix.strip()) :]
            if prefix.endswith(" ") and full.startswith(" "):
                full = full[1:]
        text, stopped = cut_at_stop(full, stop)
        if lps is not None and tokens is not None and len(tokens) == len(lps):
            k, length = 0, 0
            while k < len(tokens) and length < len(text):  # the tokens that make up the kept text
                length += len(tokens[k])
                k += 1
            lps = [float(x) for x in lps[:k]]
            n = k
        elif stopped and self.chat_tokenizer is not None:
            n = len(self.chat_tokenizer.encode(text, add_special_tokens=False))
        else:
            n = int((data.get("usage") or {}).get("completion_tokens") or 0)
        return Generation(
            text=text,
            n_tokens=n,
            token_logprobs=lps if tokens is not None else None,
            extra={"attempts": attempts, "finish_reason": choice.get("finish_reason")},
        )

    # -- Backend API -------------------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] = ("\n",),
        seed: int | None = None,
    ) -> list[Generation]:
        """One request per prompt, ``concurrency`` at a time; results in the order of ``prompts``."""
        if not prompts:
            return []
        args = (max_new_tokens, temperature, tuple(stop), seed)
        if self.concurrency == 1 or len(prompts) == 1:
            return [self._one(p, *args) for p in prompts]
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts)))
        try:
            return list(pool.map(lambda p: self._one(p, *args), prompts))
        except BaseException:  # Ctrl-C or a configuration error: do not send the queued requests
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)

    def manifest(self) -> dict:
        return {
            "backend": self.kind,
            "id": self.model,
            "served_model": self.served_model,
            "sha256": None,
            "base_url": self.base_url,
            "api_key_env": self.api_key_env,
            "prefill": self.prefill,
            "tokenizer": self.tokenizer_info,
            "logprobs_requested": self.logprobs,
            "concurrency": self.concurrency,
            "timeout_s": self.timeout,
            "max_retries": self.max_retries,
            "backoff_s": self.backoff,
            "max_backoff_s": self.max_backoff,
            "extra_body": self.extra_body or None,
        }

    def close(self) -> None:
        self.client.close()


BACKEND = BackendSpec(
    "openai",
    "an OpenAI-compatible HTTP endpoint (vLLM, SGLang, llama.cpp, TGI, a hosted API; --base-url)",
    options=("adapter", "base_url", "api_key_env", "concurrency"),
    extra="openai",
    flags={
        "base_url": {"help": "OpenAI-compatible endpoint (--backend openai)"},
        "api_key_env": {"help": "environment variable holding the API key (--backend openai)"},
        "concurrency": {"type": "positive_int", "help": "parallel requests (--backend openai)"},
    },
)


def create(
    model: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
    concurrency: int | None = None,
    timeout: float = 60.0,
    max_retries: int = 5,
    adapter: str | None = None,
    **options: Any,
) -> OpenAIBackend:
    """Build the backend from CLI settings (``--base-url``, ``--api-key-env``, ``--concurrency`` and
    ``--backend-option KEY=VALUE`` for the rest)."""
    if not base_url:
        raise ValueError("--backend openai needs --base-url (e.g. http://localhost:8000/v1)")
    if adapter is not None:
        raise ValueError(
            "--adapter cannot be applied to a served model; serve the adapter instead "
            "(vLLM: --enable-lora --lora-modules NAME=DIR, then --model NAME)"
        )
    return OpenAIBackend(
        model or "default",
        base_url,
        api_key_env=api_key_env,
        concurrency=concurrency or 4,
        timeout=timeout,
        max_retries=max_retries,
        **options,
    )
