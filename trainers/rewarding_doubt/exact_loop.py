"""The training loop of the exact estimator (``estimator: exact``): plain PyTorch, visible end to end.

Each step takes ``batch_size`` prompts of similar length (the fixed answers' confidence prompts), computes the
policy's exact distribution over the confidence outcomes (:mod:`trainers.rewarding_doubt.exact`), and takes
one AdamW step on ``-J`` (the expected proper score minus ``beta`` KL to the model without the adapter, or to the
uniform distribution with ``kl_reference: uniform``). With ``lora_top_layers`` the distribution comes from the
prefix cache's top layers (:mod:`trainers.rewarding_doubt.prefix_cache`) instead of the full model. A run
makes ``epochs`` passes over the training questions (capped by ``max_steps``), evaluates the held-out set every
``eval_every`` steps, checkpoints every ``save_every`` steps to ``checkpoints/step-N/state.pt`` and stops
gracefully at ``time_limit_s``. ``--resume`` reloads the last checkpoint and replays the same batch order.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from calbench.levels import ids_level_log_probs
from trainers.rewarding_doubt.exact import exact_objective, length_batches, reward_table
from trainers.rewarding_doubt.rewards import RewardSpec


def batch_plan(
    lengths: Sequence[int], batch_size: int, epochs: int, seed: int, first_epoch: int = 0
) -> list[list[int]]:
    """Every step's example indices: ``epochs`` passes, each a fresh length-grouped, shuffled batching
    (deterministic in ``seed`` and the pass's index, so a resumed run replays the same order; ``first_epoch``:
    the index of the first pass, for a continuation that starts another pass)."""
    plan: list[list[int]] = []
    for epoch in range(first_epoch, first_epoch + epochs):
        plan += length_batches(lengths, batch_size, np.random.default_rng([seed, epoch]))
    return plan


class ExactLoop:
    """Trains ``model`` (a peft LoRA model) on confidence prompts with known outcomes."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        prompts: Sequence[str],
        correct: Sequence[int],
        cfg: Any,
        out: Path,
        *,
        evaluate: Any = None,
        log: Any = None,
        best: Any = None,
        first_epoch: int = 0,
        model_sha256: str | None = None,
    ):
        from calbench.levels import digit_token_ids, number_end_token_ids

        self.model, self.tokenizer, self.cfg, self.out = model, tokenizer, cfg, Path(out)
        self.correct = np.asarray(correct, dtype=int)
        self.digits = digit_token_ids(tokenizer)
        # strict_format: score the whole number ("7" then an end token), not only its first token
        self.end_ids = number_end_token_ids(tokenizer, model) if getattr(cfg, "strict_format", False) else None
        self.ids = [tokenizer(t, add_special_tokens=False)["input_ids"] + [self.digits[1]] for t in prompts]
        self.table = reward_table(RewardSpec.from_config(cfg))
        self.plan = batch_plan([len(x) for x in self.ids], cfg.batch_size, cfg.epochs, cfg.seed, first_epoch)
        if cfg.max_steps:
            self.plan = self.plan[: cfg.max_steps]
        self.evaluate, self.log, self.best = evaluate, log, best
        self.resumed_from: str | None = None
        self._evaluated: tuple[int, Any] | None = None
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.cache = None
        if getattr(cfg, "lora_top_layers", None) and getattr(cfg, "prefix_cache", True):
            from trainers.rewarding_doubt.prefix_cache import PrefixCache

            self.cache = PrefixCache(
                model,
                self.ids,
                self.digits,
                top_k=cfg.lora_top_layers,
                end_ids=self.end_ids,
                dtype=cfg.prefix_cache_dtype,
                directory=cfg.prefix_cache_dir,
                model_sha256=model_sha256,
                pad_id=self.pad_id,
            )

    def outcome_log_probs(self, batch: Sequence[int]) -> Any:
        """(B, 12) outcome log-probabilities of the training inputs ``batch`` under the policy: through the
        prefix cache's top layers, or the full model."""
        if self.cache is not None:
            return self.cache.forward(batch)
        return ids_level_log_probs(self.model, [self.ids[i] for i in batch], self.pad_id, self.digits, self.end_ids)

    def labels_seen(self, step: int) -> int:
        return sum(len(b) for b in self.plan[:step])

    # -- checkpoints ------------------------------------------------------------------------------------
    def _save(self, step: int, optimizer: Any, scheduler: Any) -> None:
        import torch
        from peft import get_peft_model_state_dict

        d = self.out / "checkpoints" / f"step-{step}"
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / "state.pt.tmp"
        torch.save(
            {
                "step": step,
                "lora": get_peft_model_state_dict(self.model),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
            },
            tmp,
        )
        tmp.replace(d / "state.pt")
        for old in sorted(_checkpoints(self.out), key=lambda p: _step_of(p))[:-2]:  # keep the last two
            for f in old.iterdir():
                f.unlink()
            old.rmdir()

    def _load_last(self, optimizer: Any, scheduler: Any) -> int:
        """Load the last checkpoint into the adapter, optimizer and scheduler; its step (0 if none)."""
        import torch
        from peft import set_peft_model_state_dict

        found = sorted(_checkpoints(self.out), key=_step_of)
        if not found:
            print("[rewarding-doubt] --resume: no checkpoint found, starting from step 0", file=sys.stderr)
            return 0
        state = torch.load(found[-1] / "state.pt", map_location="cpu", weights_only=False)
        set_peft_model_state_dict(self.model, state["lora"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        print(f"[rewarding-doubt] resumed from {found[-1]} (step {state['step']})", file=sys.stderr)
        self.resumed_from = str(found[-1])
        return int(state["step"])

    # -- the loop ---------------------------------------------------------------------------------------
    def _heldout(self, step: int) -> dict[str, Any] | None:
        """Evaluate the held-out set at ``step`` (once per step: the final evaluation reuses one just made)."""
        if self.evaluate is None:
            return None
        if self._evaluated and self._evaluated[0] == step:
            return self._evaluated[1]
        self._evaluated = (step, self.evaluate(step, self.labels_seen(step)))
        return self._evaluated[1]

    def train(self, resume: bool = False) -> dict[str, Any]:
        import torch

        cfg = self.cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
        warm = max(0, cfg.warmup_steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (warm + 1)))
        start = self._load_last(optimizer, scheduler) if resume else 0
        if resume and hasattr(self.log, "drop_after"):  # the steps after the checkpoint are replayed: log them once
            self.log.drop_after(start)
        total = len(self.plan)
        print(
            f"[rewarding-doubt] exact estimator: {len(self.ids)} training prompts, batch {cfg.batch_size}, "
            f"{total} steps ({cfg.epochs} epoch(s){', capped by max_steps' if cfg.max_steps else ''})",
            file=sys.stderr,
            flush=True,
        )
        if start == 0 and cfg.eval_every:
            self._heldout(0)
        t0, cpu0, step, stopped = time.time(), time.process_time(), start, None
        bar = _progress(total, start)
        self.model.train()
        while step < total:
            batch = self.plan[step]
            log_pi = self.outcome_log_probs(batch)
            ref = None
            if cfg.beta and cfg.kl_reference == "uniform":  # an entropy bonus
                ref = torch.full_like(log_pi, -math.log(log_pi.shape[1]))
            elif cfg.beta:
                with torch.no_grad(), self.model.disable_adapter():
                    ref = self.outcome_log_probs(batch)
            j, stats = exact_objective(log_pi, self.correct[batch], self.table, beta=cfg.beta, ref_log_pi=ref)
            optimizer.zero_grad(set_to_none=True)
            (-j).backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm) if cfg.max_grad_norm else None
            optimizer.step()
            scheduler.step()
            step += 1
            bar.update(1)
            if self.log is not None and (step % max(1, cfg.logging_steps) == 0 or step == total):
                self.log.write(
                    {
                        "step": step,
                        "kind": "train",
                        "time": round(time.time() - t0, 1),
                        "started": round(t0, 3),  # this invocation's start: where a resumed run's log splits
                        "labels_seen": self.labels_seen(step),
                        "objective": j.item(),
                        "accuracy": float(self.correct[batch].mean()),
                        "lr": scheduler.get_last_lr()[0],
                        "grad_norm": None if grad_norm is None else float(grad_norm),
                        **stats,
                    }
                )
            if cfg.save_every and step % cfg.save_every == 0:
                self._save(step, optimizer, scheduler)
            if cfg.eval_every and step % cfg.eval_every == 0 and step != total:
                self._heldout(step)
                self.model.train()
            over_wall = cfg.time_limit_s and time.time() - t0 > cfg.time_limit_s
            over_cpu = getattr(cfg, "cpu_time_limit_s", None) and time.process_time() - cpu0 > cfg.cpu_time_limit_s
            if (over_wall or over_cpu) and step < total:
                stopped = step
                what = f"{cfg.time_limit_s:.0f} s" if over_wall else f"{cfg.cpu_time_limit_s:.0f} CPU s"
                print(
                    f"[rewarding-doubt] time limit of {what} reached: stopping at step {step}",
                    file=sys.stderr,
                    flush=True,
                )
                break
        bar.close()
        train_cpu = time.process_time() - cpu0  # before the final held-out evaluation
        self._save(step, optimizer, scheduler)
        final = self._heldout(step)
        cache = (
            None
            if self.cache is None
            else {
                "top_layers": self.cache.top_k,
                "dtype": self.cache.dtype,
                "entries": self.cache.entries(),
                "build_cpu_seconds": round(self.cache.built_seconds, 1),
                "check_gap": getattr(self.cache, "check_gap", None),
                "folder": str(self.cache.store.folder) if hasattr(self.cache.store, "folder") else None,
            }
        )
        return {
            "steps": step,
            "planned_steps": total,
            "labels_seen": self.labels_seen(step),
            "prefix_cache": cache,
            "stopped_by_time_limit": stopped is not None,
            "resumed_from": self.resumed_from,
            "train_seconds": round(time.time() - t0, 1),
            "train_cpu_seconds": round(train_cpu, 1),
            "final_heldout": final,
        }


def _checkpoints(out: Path) -> list[Path]:
    root = out / "checkpoints"
    return [p for p in root.glob("step-*") if (p / "state.pt").exists()] if root.exists() else []


def _step_of(p: Path) -> int:
    return int(p.name.split("-", 1)[1])


def _progress(total: int, initial: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="training (exact)", file=sys.stderr, mininterval=5)
