"""Test helpers shared by several test modules (test modules do not import each other)."""

from __future__ import annotations

import itertools

from calbench.backends.base import Generation
from calbench.backends.scripted import ScriptedBackend
from calbench.judge import judge_for
from calbench.methods import MethodContext


class SamplingScript(ScriptedBackend):
    """Greedy calls answer from the script; sampled calls (temperature > 0) cycle through ``samples``."""

    def __init__(self, greedy: str, samples: list[str]):
        super().__init__(default=greedy)
        self.samples = itertools.cycle(samples)
        self.temperatures: list[float] = []

    def generate(self, prompts, *, max_new_tokens, temperature=0.0, stop=("\n",), seed=None):
        self.temperatures.append(temperature)
        if temperature == 0:
            return super().generate(prompts, max_new_tokens=max_new_tokens, stop=stop, seed=seed)
        return [Generation(text=next(self.samples), n_tokens=2) for _ in prompts]


def ctx_for(backend, kind: str, **settings) -> MethodContext:
    judge = judge_for(kind)
    return MethodContext(backend=backend, model_name="scripted", task_name="toy", kind=kind, judge=judge,
                         judge_name=judge.name, settings=settings)
