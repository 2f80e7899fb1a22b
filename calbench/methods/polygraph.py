"""lm-polygraph's white-box uncertainty estimators as confidence methods (``pip install 'calbench[polygraph]'``).

``polygraph:<Estimator>`` scores the rated answer (the greedy stage-1 answer, or a given one with ``--answers``)
with the estimator of `lm-polygraph <https://github.com/IINemo/lm-polygraph>`_ (Fadeeva et al. 2023) of that
name, called unchanged on statistics calbench computes from one teacher-forced forward pass over the stage-1
prompt followed by the answer (:meth:`calbench.backends.hf.HFBackend.answer_statistics`), under the names
lm-polygraph's own stat calculators give them:

* ``polygraph:MaximumSequenceProbability`` (``greedy_log_likelihoods``): u = -sum_i log p(t_i);
* ``polygraph:Perplexity`` (``greedy_log_likelihoods``): u = -mean_i log p(t_i);
* ``polygraph:MeanTokenEntropy`` (``entropy``): u = the mean entropy of the next-token distributions;
* ``polygraph:AttentionScore`` (``forwardpass_attention_weights``, ``greedy_tokens``; Sriramanan et al. 2024,
  "LLM-Check"): u = -(1/heads) sum_heads sum_t log A_tt over the whole sequence, for one layer (``--set``
  nothing: the estimator's default, the middle layer ``num_hidden_layers // 2``); calbench passes only that
  layer's maps, so the estimator reads them as its layer 0 (it reads no other).

Each returns an uncertainty ``u >= 0`` (higher: less certain; the first two are ``-log`` of the numbers
``seq-likelihood-prod`` and ``-mean`` state). The confidence is ``1 / (1 + u)``: a monotone score, not a calibrated
probability, chosen so that no two different ``u`` collapse to one confidence (``exp(-u)`` would: an attention
score's ``u`` is in the hundreds, and the scalers clip confidences to ``[1e-6, 1 - 1e-6]``; here ``logit(c) =
-log u``). Map it with a post-hoc scaler fitted on a calibration split (``calbench calibrate --scaler platt``),
never on the test questions. The raw ``u`` is kept in each sample (``polygraph_uncertainty``), with the
estimator's own name (``polygraph_estimator``) and the lm-polygraph version.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, cast

from calbench.backends.base import Generation
from calbench.errors import UserError
from calbench.methods.base import (
    METHODS,
    MethodContext,
    answers_for,
    for_live,
    per_question,
    register,
    stage1_answer,
)
from calbench.methods.capabilities import answer_cost, require
from calbench.records import Example, Sample


class PolygraphMissingError(UserError):
    """lm-polygraph is not installed."""


def _estimators() -> Any:
    try:
        import lm_polygraph.estimators as estimators
    except ImportError as e:
        raise PolygraphMissingError(
            f"the polygraph:* methods need lm-polygraph ({e}); install it with: pip install 'calbench[polygraph]'"
        ) from None
    return estimators


def polygraph_version() -> str:
    from importlib.metadata import version

    return version("lm-polygraph")


def attention_layer(backend: Any) -> int:
    """lm-polygraph's default layer for AttentionScore: the middle one, ``num_hidden_layers // 2``."""
    model: Any = backend.model
    inner = getattr(model, "get_base_model", lambda: model)()
    config = getattr(inner.config, "text_config", inner.config)
    return int(config.num_hidden_layers) // 2


def polygraph_stats(rows: list[dict[str, Any]], needs: list[str]) -> dict[str, Any]:
    """lm-polygraph's statistics (by its names) for a batch of :meth:`answer_statistics` rows."""
    import numpy as np

    stats: dict[str, Any] = {}
    for name in needs:
        if name == "greedy_log_likelihoods":
            stats[name] = [np.asarray(r["log_likelihoods"], dtype=np.float64) for r in rows]
        elif name == "entropy":
            stats[name] = [np.asarray(r["entropy"], dtype=np.float64) for r in rows]
        elif name == "greedy_tokens":
            stats[name] = [list(r["tokens"]) for r in rows]
        elif name == "forwardpass_attention_weights":
            stats[name] = [np.asarray(r["attention"])[None] for r in rows]  # (1 layer, heads, n, n)
        else:
            raise ValueError(f"no statistic {name!r} here")
    return stats


def shared_statistics(ctx: MethodContext, ids: list[str], firsts: list[tuple[Any, Generation]], method: str) -> list:
    """The :meth:`answer_statistics` rows of these questions, from one forward pass shared by every polygraph
    method of the run (with the attention maps when one of them reads them); the run's last polygraph method
    takes them out of the cache."""
    ours = [m for m in ctx.methods if m.startswith("polygraph:")] or [method]
    todo = [j for j, qid in enumerate(ids) if ("polygraph", qid) not in ctx.shared]
    if todo:
        wants = any(getattr(METHODS.get(m), "uses_attention", False) for m in ours)
        made = cast(Any, ctx.backend).answer_statistics(
            [firsts[j][0] for j in todo],
            [firsts[j][1].text for j in todo],
            attention_layer=attention_layer(ctx.backend) if wants else None,
        )
        for j, row in zip(todo, made):
            ctx.shared[("polygraph", ids[j])] = row
    take = ctx.shared.pop if method == ours[-1] else ctx.shared.__getitem__
    return [take(("polygraph", qid)) for qid in ids]


class _Polygraph:
    name: ClassVar[str]  # "polygraph:<Estimator>"
    estimator: ClassVar[str]  # the lm-polygraph class
    needs: ClassVar[set[str]] = {"answer_statistics"}
    accepts_fixed_answer: ClassVar[bool] = True
    uses_attention: ClassVar[bool] = False

    def make(self) -> Any:
        """The lm-polygraph estimator; an attention one reads its layer as 0, the only layer calbench hands it."""
        cls = getattr(_estimators(), self.estimator)
        return cls(layer=0) if self.uses_attention else cls()

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        require(ctx.backend, self.needs, self.name)
        layer = attention_layer(ctx.backend) if self.uses_attention else None
        estimator = self.make()
        described = f"{self.estimator} (layer={layer})" if self.uses_attention else str(estimator)
        version = polygraph_version()
        firsts = answers_for(ctx, examples)

        def score(live: list[int]) -> list[dict[str, Any]]:
            rows = shared_statistics(ctx, [examples[i].id for i in live], [firsts[i] for i in live], self.name)
            values: list[dict[str, Any]] = [{"u": None} for _ in rows]  # an empty answer: nothing to score
            scored = [j for j, r in enumerate(rows) if len(r["tokens"])]
            if scored:
                us = estimator(polygraph_stats([rows[j] for j in scored], estimator.stats_dependencies))
                for j, u in zip(scored, us):
                    values[j] = {"u": float(u)}
            return values

        uncertainties = for_live(firsts, score)

        def build(i: int, e: Example, g1: Generation, result: dict[str, Any]) -> Sample:
            u = result["u"]
            ok = u is not None and math.isfinite(u)
            return ctx.sample(
                e,
                self.name,
                prompt=firsts[i][0].to_dict(),
                raw_output=g1.text,
                answer=stage1_answer(ctx, g1),
                confidence=1.0 / (1.0 + max(0.0, cast(float, u))) if ok else None,
                parse_ok=ok,
                parse_reason=None if ok else ("empty answer" if u is None else "non-finite uncertainty"),
                polygraph_uncertainty=u if ok else None,
                polygraph_estimator=described,
                polygraph_version=version,
                cost=answer_cost(g1, extra_passes=1),
            )

        return per_question(ctx, self.name, examples, firsts, build, later=uncertainties)


@register
class PolygraphMSP(_Polygraph):
    """lm-polygraph MaximumSequenceProbability: u = -sum log p(answer tokens); confidence 1 / (1 + u)."""

    name = "polygraph:MaximumSequenceProbability"
    estimator = "MaximumSequenceProbability"


@register
class PolygraphPerplexity(_Polygraph):
    """lm-polygraph Perplexity: u = -mean log p(answer tokens); confidence 1 / (1 + u)."""

    name = "polygraph:Perplexity"
    estimator = "Perplexity"


@register
class PolygraphMeanTokenEntropy(_Polygraph):
    """lm-polygraph MeanTokenEntropy: u = mean entropy of the answer's next-token distributions; c = 1 / (1 + u)."""

    name = "polygraph:MeanTokenEntropy"
    estimator = "MeanTokenEntropy"


@register
class PolygraphAttentionScore(_Polygraph):
    """lm-polygraph AttentionScore (LLM-Check): u = -mean over heads of sum log attention diagonal, middle layer."""

    name = "polygraph:AttentionScore"
    estimator = "AttentionScore"
    uses_attention = True
