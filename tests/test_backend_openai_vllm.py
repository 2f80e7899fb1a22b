"""The ``vllm`` backend. vLLM cannot be installed here (it needs CUDA), so:

* without vLLM, asking for the backend fails cleanly (a user error naming the extra to install);
* the glue code (prompt rendering to token ids, stop handling, token counting, log-probabilities, the
  confidence readout) runs against a stand-in ``vllm`` module whose ``LLM.generate`` follows vLLM's output
  shape (``outputs[0].text`` with the stop string removed, ``token_ids``, ``logprobs`` as
  ``[{token_id: Logprob}]``, ``stop_reason``) and computes it with transformers on the tiny model; the results
  must equal the in-process ``hf`` backend's.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

from calbench.backends import make_backend
from calbench.cli import main
from calbench.elicit import Prompt


def test_without_vllm_the_backend_is_a_clean_user_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError, even where it is installed
    from calbench.backends.vllm import VLLMNotInstalledError

    with pytest.raises(VLLMNotInstalledError, match=r"pip install 'calbench\[vllm\]'"):
        make_backend("vllm", "smollm2-135m-instruct")
    rc = main(["eval", "--backend", "vllm", "--task", "triviaqa", "--limit", "2", "--out", "/nonexistent/x", "--quiet"])
    assert rc == 2 and "needs vLLM" in capsys.readouterr().err


# -- a stand-in for vLLM's offline API, computed with transformers ---------------------------------------------


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class SamplingParams:
    n: int = 1
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list | None = None
    seed: int | None = None
    logprobs: int | None = None
    skip_special_tokens: bool = True


class FakeLLM:
    def __init__(self, model: str, tokenizer: str, **kwargs):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.kwargs = kwargs
        self.tok = AutoTokenizer.from_pretrained(tokenizer)
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()

    def get_tokenizer(self):
        return self.tok

    def generate(self, inputs, params: SamplingParams, use_tqdm=False, lora_request=None):
        import torch

        assert params.temperature == 0.0
        outs = []
        for inp in inputs:
            ids = list(inp["prompt_token_ids"])
            new, steps, text, stop_reason = [], [], "", None
            for _ in range(params.max_tokens):
                with torch.inference_mode():
                    lp = self.model(torch.tensor([ids + new])).logits[0, -1].float().log_softmax(-1)
                t = int(lp.argmax())
                top = lp.topk(min(params.logprobs or 1, lp.numel()))
                step = {int(i): Logprob(float(v)) for v, i in zip(top.values, top.indices)}
                step[t] = Logprob(float(lp[t]))
                new.append(t)
                steps.append(step)
                if t == self.tok.eos_token_id:
                    break
                text = self.tok.decode(new, skip_special_tokens=True)
                hit = [s for s in params.stop or [] if s in text]
                if hit:  # vLLM: the text ends before the stop string, which is named in stop_reason
                    text, stop_reason = text[: min(text.index(s) for s in hit)], hit[0]
                    break
            completion = types.SimpleNamespace(
                text=text,
                token_ids=new,
                logprobs=steps,
                stop_reason=stop_reason,
                finish_reason="stop" if stop_reason or new[-1] == self.tok.eos_token_id else "length",
            )
            outs.append(types.SimpleNamespace(outputs=[completion]))
        return outs


@pytest.fixture()
def fake_vllm(monkeypatch):
    mod = types.ModuleType("vllm")
    mod.LLM, mod.SamplingParams, mod.__version__ = FakeLLM, SamplingParams, "stand-in"
    monkeypatch.setitem(sys.modules, "vllm", mod)
    return mod


PROMPTS = [
    Prompt([{"role": "user", "content": f"Question: what is {w}?"}], "Answer:")
    for w in ("the capital of France", "two plus two", "a lemon", "the largest planet")
]


def test_vllm_glue_matches_the_hf_backend(fake_vllm, tiny_model_dir):
    vb = make_backend("vllm", tiny_model_dir, tensor_parallel_size=1, max_logprobs=100_000)
    hb = make_backend("hf", tiny_model_dir, device="cpu")
    assert vb.llm.kwargs["tensor_parallel_size"] == 1
    for stop in (("\n",), ("e",), ()):  # "e": the random model stops mid-token often
        gv = vb.generate(PROMPTS, max_new_tokens=6, stop=stop)
        gh = hb.generate(PROMPTS, max_new_tokens=6, stop=stop)
        for a, b in zip(gv, gh):
            assert (a.text, a.n_tokens) == (b.text, b.n_tokens), stop
            assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-4)
    # the whole next-token distribution is returned when max_logprobs covers the vocabulary
    assert vb.next_token_logprobs(PROMPTS).exp().sum(1).tolist() == pytest.approx([1.0] * 4, abs=1e-4)
    dv, dh = vb.confidence_distribution(PROMPTS), hb.confidence_distribution(PROMPTS)
    for a, b in zip(dv, dh):
        assert a["probs"] == pytest.approx(b["probs"], abs=1e-4)
        assert a["digit_mass"] == pytest.approx(b["digit_mass"], rel=1e-3)
    m = vb.manifest()
    assert m["backend"] == "vllm" and m["tensor_parallel_size"] == 1 and m["vllm"] == "stand-in"


def test_vllm_top_k_readout_keeps_only_the_top_tokens(fake_vllm, tiny_model_dir):
    vb = make_backend("vllm", tiny_model_dir, max_logprobs=5)
    rows = vb.next_token_logprobs(PROMPTS[:2])
    assert [int((r > float("-inf")).sum()) for r in rows] in ([5, 5], [6, 6], [5, 6], [6, 5])
