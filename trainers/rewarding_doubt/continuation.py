"""``continue_from``: go on training a finished run's adapter on the training questions it has not seen.

A run that trained on the first N questions of the pool's seeded order (after the held-out set) is continued on
questions N+1, N+2, ... with its adapter as the starting point, its held-out set and its fixed answers. A run and
its continuation together make one pass over more of the pool, each question seen once, without redoing the
first stretch. With ``continue_with: new_pass`` it starts another pass over the pool instead (from its first
training question, a fresh batch shuffle): the chain's second epoch, which may change settings such as ``beta``
or the learning rate. The continuation starts a fresh optimizer and learning-rate warm-up (the earlier run's
optimizer state is not carried over); its config.yaml records where it started (``continued_from``: the run,
its adapter's sha256, the questions skipped, the labels before, the pass).

Everything that would make the two stretches different experiments is checked: the task, the model (its
sha256), the seed and held-out settings (the pool's order and the held-out questions), the scale, mode and
judge, and the adapter's shape.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calbench.training import TrainerError

#: settings a continuation must share with the run it continues (the pool's order, the held-out set, what a
#: reply means, the adapter's shape)
SHARED_SETTINGS = (
    "seed",
    "heldout_size",
    "heldout_split",
    "source",
    "scale",
    "mode",
    "lora_r",
    "lora_alpha",
    "lora_target_modules",
    "lora_top_layers",
    "answers_file",
    "answer_max_new_tokens",
    "exclude_ids",
    "mix",
)


@dataclass
class Continuation:
    folder: Path
    config: dict[str, Any]  # the earlier run's resolved config.yaml
    summary: dict[str, Any]  # its summary.json

    @property
    def adapter(self) -> Path:
        return self.folder / "adapter"

    @property
    def skip(self) -> int:
        """Training questions of the pool's order already trained on: the earlier run's, and those it skipped
        itself when it was a continuation too."""
        before = (self.config.get("continued_from") or {}).get("skipped_train_questions", 0)
        return int(before) + int(self.config["train_questions"])

    @property
    def pass_index(self) -> int:
        """The pass over the pool (0 = the first) that the earlier run's stretch belongs to."""
        return int((self.config.get("continued_from") or {}).get("pass", 0))

    def start(self, continue_with: str = "rest") -> tuple[int, int]:
        """``(questions to skip, pass index)`` of a continuation of this run: the rest of its pass, or the pool
        again from its start (``new_pass``)."""
        if continue_with == "new_pass":
            return 0, self.pass_index + 1
        return self.skip, self.pass_index

    @property
    def labels_before(self) -> int:
        """Labelled answers trained on before this continuation (the whole chain)."""
        return int(self.summary.get("labels_seen_with_continued", self.summary.get("labels_seen", 0)))

    def record(self, continue_with: str = "rest") -> dict[str, Any]:
        """What the continuation's config.yaml records about its start."""
        from calbench.answers import file_sha256

        skip, pass_index = self.start(continue_with)
        return {
            "run": str(self.folder),
            "adapter_sha256": file_sha256(self.adapter / "adapter_model.safetensors"),
            "continue_with": continue_with,
            "pass": pass_index,
            "skipped_train_questions": skip,
            "labels_seen_before": self.labels_before,
        }


def load_continuation(folder: str | Path | None) -> Continuation | None:
    """The finished run ``folder`` (None: no continuation), with a clear error if it is not one."""
    if not folder:
        return None
    import yaml

    folder = Path(folder)
    cfg_path, summary_path = folder / "config.yaml", folder / "summary.json"
    weights = folder / "adapter" / "adapter_model.safetensors"
    for path in (cfg_path, summary_path, weights):
        if not path.exists():
            raise TrainerError(
                f"continue_from: {path} not found; continue_from names the --out folder of a "
                "finished rewarding-doubt run (config.yaml, summary.json, adapter/)"
            )
    try:
        config = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise TrainerError(f"continue_from: cannot read {folder}: {e}") from None
    for key in ("task", "train_questions", "settings", "model"):
        if key not in (config or {}):
            raise TrainerError(f"continue_from: {cfg_path} has no field {key!r}; is it a rewarding-doubt run?")
    return Continuation(folder, config, summary)


def check_continuation(cont: Continuation, *, task: str, settings: dict[str, Any], judge: dict[str, Any]) -> None:
    """Refuse a continuation that would not be the same experiment, naming the field that differs. The trainer
    calls it before loading the model, then :func:`check_continuation_model` with the loaded model's manifest."""
    where = f"continue_from {cont.folder}"
    if cont.config["task"] != task:
        raise TrainerError(f"{where}: it trained on task {cont.config['task']!r}, this run on {task!r}")
    earlier = cont.config["settings"]
    for key in SHARED_SETTINGS:
        if earlier.get(key) != settings.get(key):
            raise TrainerError(
                f"{where}: setting {key!r} is {earlier.get(key)!r} there and {settings.get(key)!r} "
                "here; a continuation keeps the pool's order, the held-out set and the adapter's shape"
            )
    if cont.config.get("judge") and cont.config["judge"] != judge:
        raise TrainerError(f"{where}: its judge was {cont.config['judge']}, this run's is {judge}")


def check_continuation_model(cont: Continuation, model: dict[str, Any]) -> None:
    """Refuse a continuation that loads another model than the one the earlier run trained (its sha256)."""
    old_sha, new_sha = cont.config["model"].get("sha256"), model.get("sha256")
    if old_sha and new_sha and old_sha != new_sha:
        raise TrainerError(
            f"continue_from {cont.folder}: it trained model sha256 {old_sha[:12]}, this run loads {new_sha[:12]}"
        )


def seed_answer_cache(cont: Continuation, cache: Path) -> None:
    """Start this run's answer cache from the earlier run's answers (the held-out answers are then identical,
    and only the new training questions are answered)."""
    earlier = cont.folder / "answers.jsonl"
    if earlier.exists() and not cache.exists():
        shutil.copyfile(earlier, cache)
        print(f"[rewarding-doubt] continue_from: answers of {earlier} reused", file=sys.stderr)


def load_adapter_weights(model: Any, cont: Continuation, continue_with: str = "rest") -> None:
    """Load the earlier run's LoRA weights into ``model`` (a fresh peft model of the same shape)."""
    from peft import load_peft_weights, set_peft_model_state_dict

    result = set_peft_model_state_dict(model, load_peft_weights(str(cont.adapter), device="cpu"))
    unexpected = list(getattr(result, "unexpected_keys", []) or [])
    if unexpected:
        raise TrainerError(
            f"continue_from: {cont.adapter} does not fit this model's adapter "
            f"(unexpected weights, e.g. {unexpected[0]})"
        )
    skip, pass_index = cont.start(continue_with)
    print(
        f"[rewarding-doubt] continue_from: started from {cont.adapter} ({cont.labels_before} labels before; "
        f"pass {pass_index + 1} over the pool, skipping its first {skip} training questions)",
        file=sys.stderr,
    )
