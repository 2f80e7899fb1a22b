"""A scripted backend: replies come from a table, not a model. For tests and for exercising the pipeline.

The script is a JSON object (or a file holding one) with:
* ``replies``: list of ``{"match": SUBSTRING, "reply": TEXT}``; the first rule whose ``match`` occurs in the
  prompt's last user message (or its assistant prefix) gives the reply;
* ``default``: the reply when no rule matches (default ``""``);
* ``delay``: seconds to sleep per prompt (to test interruption);
* ``batch_size``: prompts per generation batch, as a model backend has (default 8).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

from calbench.backends.base import BackendSpec, Generation, cut_at_stop
from calbench.elicit import Prompt


class ScriptedBackend:
    kind = "scripted"

    def __init__(
        self,
        replies: list[dict[str, str]] | None = None,
        default: str = "",
        delay: float = 0.0,
        name: str = "scripted",
        batch_size: int | None = None,
        **_: Any,
    ):
        self.replies = replies or []
        self.default = default
        self.delay = delay
        self.name = name
        self.batch_size = batch_size or 8
        self.calls: list[Prompt] = []

    @classmethod
    def from_file(cls, script: str | Path | dict, **options: Any) -> "ScriptedBackend":
        data = script if isinstance(script, dict) else json.loads(Path(script).read_text())
        return cls(**{**data, **options})

    def _reply(self, prompt: Prompt) -> str:
        haystack = prompt.messages[-1]["content"] + "\n" + prompt.assistant_prefix
        full = "\n".join(m["content"] for m in prompt.messages)
        for rule in self.replies:
            target = full if rule.get("anywhere") else haystack
            if rule["match"] in target:
                return rule["reply"]
        return self.default

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] = ("\n",),
        seed: int | None = None,
    ) -> list[Generation]:
        out = []
        for p in prompts:
            if self.delay:
                time.sleep(self.delay)
            self.calls.append(p)
            text, _ = cut_at_stop(self._reply(p), stop)
            out.append(Generation(text=text, n_tokens=len(text.split())))
        return out

    def manifest(self) -> dict:
        return {
            "backend": self.kind,
            "id": self.name,
            "sha256": None,
            "n_rules": len(self.replies),
            "batch_size": self.batch_size,
        }


BACKEND = BackendSpec(
    "scripted",
    "canned replies from a JSON table (--script), no model: tests and demos",
    options=("script", "batch_size"),
    flags={"script": {"help": "reply table for --backend scripted (JSON file)"}},
)


def create(model: str | None = None, script: str | Path | dict | None = None, **options: Any) -> ScriptedBackend:
    """Build the backend from CLI settings (``--script``; ``model`` is not used)."""
    if script is None:
        raise ValueError("--backend scripted needs --script FILE (a JSON reply table)")
    return ScriptedBackend.from_file(script, **options)
