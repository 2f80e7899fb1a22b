"""The lexical cluster methods on hand-made sample sets: cluster sizes, mass, count and entropy against hand
computations, multiple choice by letter, given answers, and one shared draw with self-consistency."""

from __future__ import annotations

import math

import pytest

from calbench.methods import get_method
from calbench.methods.clusters import cluster_entropy, cluster_scores, cluster_sizes
from calbench.records import Example
from tests.helpers import SamplingScript, ctx_for


def test_cluster_sizes_and_entropy_by_hand():
    assert cluster_sizes(["a", "b", "a", None, None, "a"]) == [3, 1, 1, 1]  # each None alone
    assert cluster_entropy([3, 1]) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    s = cluster_scores("a", ["a", "a", "b", "c"])
    assert s["mass"] == 0.5 and s["clusters"] == 3
    assert s["count"] == pytest.approx(1 - 2 / 3)
    h = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    assert s["entropy"] == pytest.approx(1 - h / math.log(4))
    unanimous = cluster_scores("a", ["a"] * 5)
    assert unanimous == {"mass": 1.0, "count": 1.0, "entropy": 1.0, "clusters": 1, "entropy_nats": 0.0}
    scattered = cluster_scores("z", ["a", "b", "c", "d"])
    assert scattered["mass"] == 0.0 and scattered["count"] == 0.0 and scattered["entropy"] == pytest.approx(0.0)
    assert cluster_scores(None, ["a"])["mass"] == 0.0 and cluster_scores("a", ["a"])["count"] == 1.0


def test_open_answers_cluster_by_normalisation():
    e = Example(id="q1", task="toy", question="What is the capital of France?", answers=["Paris"])
    # keys: paris, paris, lyon, paris, marseille -> clusters 3/1/1
    samples = [" paris.", " The Paris", " Lyon", " PARIS", " Marseille"]
    got = {
        m: get_method(m).run(ctx_for(SamplingScript(" Paris", samples), "open"), [e])[0]
        for m in ("lexical-cluster-mass", "lexical-cluster-count", "lexical-cluster-entropy")
    }
    assert got["lexical-cluster-mass"].confidence == pytest.approx(3 / 5)
    assert got["lexical-cluster-count"].confidence == pytest.approx(1 - 2 / 4)
    h = -(0.6 * math.log(0.6) + 2 * 0.2 * math.log(0.2))
    assert got["lexical-cluster-entropy"].confidence == pytest.approx(1 - h / math.log(5))
    s = got["lexical-cluster-entropy"]
    assert s.extras["cluster_sizes"] == [3, 1, 1] and s.extras["clusters"] == 3
    assert s.extras["cost"] == {"forward_passes": 6, "generated_tokens": 1 + 5 * 2, "shared_answer": 1}


def test_multiple_choice_clusters_by_letter():
    e = Example(id="q1", task="toy", question="Pick one", answers=["B"], choices=["x", "y", "z"])
    backend = SamplingScript(" B", [" B", " (B) y", " C", " no idea"])
    (s,) = get_method("lexical-cluster-mass").run(ctx_for(backend, "mc", sc_k=4), [e])
    assert s.confidence == pytest.approx(2 / 4) and s.extras["cluster_sizes"] == [2, 1, 1]


def test_one_draw_is_shared_with_self_consistency():
    e = Example(id="q1", task="toy", question="Capital?", answers=["Paris"])
    backend = SamplingScript(" Paris", [" Paris", " Lyon"])
    ctx = ctx_for(backend, "open", sc_k=4)
    a = get_method("self-consistency").run(ctx, [e])[0]
    b = get_method("lexical-cluster-mass").run(ctx, [e])[0]
    assert backend.temperatures == [0.0, 1.0]  # greedy once, sampled once for both methods
    assert a.extras["sampled_answers"] == b.extras["sampled_answers"] and b.confidence == pytest.approx(0.5)


def test_given_answer_is_the_rated_one():
    e = Example(id="q1", task="toy", question="Capital?", answers=["Paris"])
    ctx = ctx_for(SamplingScript(" Paris", [" Lyon", " Lyon", " Paris"]), "open", sc_k=3)
    ctx.fixed_answers = {"q1": "Lyon"}
    (s,) = get_method("lexical-cluster-mass").run(ctx, [e])
    assert s.answer == "Lyon" and s.confidence == pytest.approx(2 / 3) and s.correct == 0
