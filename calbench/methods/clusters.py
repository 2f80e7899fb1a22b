"""Consistency by clusters: the sampled answers grouped into classes of equivalent answers.

Kuhn et al. (2023) cluster sampled answers by bidirectional entailment (NLI) and score a question by the entropy
over the clusters ("semantic entropy"). These methods use a *lexical* equivalence test instead, named as such:
two answers are equivalent when they have the same key under the task's judge normalisation
(:func:`calbench.methods.consistency.answer_key`: the normalised text of an open answer, the option letter of a
multiple-choice one, the final number of a math one); an answer with no key (empty, no option letter) is a
cluster of its own. Over the ``k`` answers sampled at temperature ``T`` (``--sc-k``, ``--sc-temperature``; the
same draw as ``self-consistency`` when both run) with cluster frequencies ``p_c = n_c / k``:

* ``lexical-cluster-mass``: ``p`` of the cluster of the rated answer (greedy, or given with ``--answers``);
  0 when no sample falls in it;
* ``lexical-cluster-count``: ``1 - (C - 1) / (k - 1)`` with ``C`` the number of clusters (1 when ``k = 1``);
* ``lexical-cluster-entropy``: ``1 - H / log k`` with ``H = -sum_c p_c log p_c`` (1 when ``k = 1``).

Count and entropy rate the question, not the answer, and are monotone scores rather than probabilities: map
them to a confidence with a post-hoc scaler fitted on a calibration split (``--calibrate platt`` or
``calbench calibrate``), never on the test questions. The raw values are kept in each sample
(``clusters``, ``cluster_sizes``, ``cluster_entropy``).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, ClassVar, Sequence

from calbench.backends.base import Generation
from calbench.methods.base import MethodContext, answers_for, extract_answer, per_question, register, stage1_answer
from calbench.methods.consistency import answer_key, sample_answers, sampled_cost, sampling_settings
from calbench.records import Example, Sample


def cluster_sizes(keys: Sequence[Any]) -> list[int]:
    """Sizes of the clusters of ``keys`` (equal keys together; each None alone), largest first."""
    counts = Counter(k for k in keys if k is not None)
    return sorted(list(counts.values()) + [1] * sum(k is None for k in keys), reverse=True)


def cluster_entropy(sizes: Sequence[int]) -> float:
    """``-sum_c p_c log p_c`` (nats) with ``p_c = n_c / sum n``."""
    total = sum(sizes)
    return float(-sum(n / total * math.log(n / total) for n in sizes if n))


def cluster_scores(reference: Any, keys: Sequence[Any]) -> dict[str, float]:
    """The three scores of the module docstring for the rated answer's key ``reference`` and the samples' keys."""
    k = len(keys)
    sizes = cluster_sizes(keys)
    entropy = cluster_entropy(sizes)
    mass = sum(key == reference for key in keys) / k if reference is not None else 0.0
    return {
        "mass": mass,
        "count": 1.0 if k == 1 else 1 - (len(sizes) - 1) / (k - 1),
        "entropy": 1.0 if k == 1 else max(0.0, 1 - entropy / math.log(k)),
        "clusters": len(sizes),
        "entropy_nats": entropy,
    }


class _Clusters:
    name: ClassVar[str]  # set by each subclass
    needs: ClassVar[set[str]] = set()
    accepts_fixed_answer: ClassVar[bool] = True  # the given answer is the rated one (mass); count and entropy ignore it
    score = "mass"

    def run(self, ctx: MethodContext, examples: list[Example]) -> list[Sample]:
        k, temperature = sampling_settings(ctx, self.name)
        firsts = answers_for(ctx, examples)
        sampled = sample_answers(ctx, examples, firsts, k, temperature)

        def build(i: int, e: Example, g1: Generation, gs: list[Generation]) -> Sample:
            answer = stage1_answer(ctx, g1)
            samples = [extract_answer(ctx, g.text) for g in gs]
            keys = [answer_key(ctx.kind, s, e) for s in samples]
            scores = cluster_scores(answer_key(ctx.kind, answer, e), keys)
            return ctx.sample(
                e,
                self.name,
                prompt=firsts[i][0].to_dict(),
                raw_output=g1.text,
                answer=answer,
                confidence=scores[self.score],
                parse_ok=True,
                sampled_answers=samples,
                clusters=scores["clusters"],
                cluster_sizes=cluster_sizes(keys),
                cluster_entropy=scores["entropy_nats"],
                sc_k=k,
                sc_temperature=temperature,
                cost=sampled_cost(g1, gs),
            )

        return per_question(ctx, self.name, examples, firsts, build, later=sampled)


@register
class ClusterMass(_Clusters):
    """Lexical cluster mass: the share of k sampled answers equivalent (judge normalisation) to the rated answer."""

    name = "lexical-cluster-mass"
    score = "mass"


@register
class ClusterCount(_Clusters):
    """Lexical cluster count: 1 - (clusters - 1)/(k - 1) over k sampled answers (a score: scale it off test)."""

    name = "lexical-cluster-count"
    score = "count"


@register
class ClusterEntropy(_Clusters):
    """Lexical cluster entropy (semantic entropy with a lexical equivalence test): 1 - H/log k (a score)."""

    name = "lexical-cluster-entropy"
    score = "entropy"
