"""The stated level a KL-regularised Rewarding Doubt policy would choose, if it knew P(correct) per answer.

The exact estimator maximises, per prompt, ``sum_k pi(k) R(k) - beta KL(pi || pi_ref)`` with ``R(k)`` the expected
(normalised) proper score of level k; its optimum is ``pi*(k) ∝ pi_ref(k) exp(R(k) / beta)``. This script takes

* a *posterior*: a readout whose confidence stands for the answer's probability of being right (e.g. the
  Platt-scaled likelihood, the best calibrated-and-discriminating readout the untrained model has), and
* a *reference*: the untrained model's distribution over the 11 levels (the ``confidence_dist`` recorded by the
  ``expected`` readout on the same answers),

and, for each ``beta``, reports the greedy (modal) level of ``pi*`` per answer and how well it would score:
its histogram, AUROC, ECE, Brier and log score with 95 % bootstrap CIs. ``beta = 0`` is the Bayes act (the level
with the best expected score, what ``calbench calibrate --stated-scale 0-10`` writes). It answers "how much
discrimination can the greedy statement carry at this beta, with this much information?" without training.

Caveat: the trainer's pi_ref under ``strict_format`` is the distribution over whole replies ("7" then end);
the expected readout's distribution is over the levels after one forward pass (see
``calbench.methods.expected``). Same levels, close but not identical probabilities.

With ``--policy RUN#METHOD`` (a trained model's ``expected`` readout on the same answers, which records its
distribution over the levels) it also reports how far that trained policy is from ``pi*`` at each ``beta``:
mean total variation, and how often their modal levels agree. A trained policy close to ``pi*`` at its own
``beta`` has learned what that objective asks for with the information it has; more training at that ``beta``
will then not move its statement.

Usage: python -m trainers.rewarding_doubt.kl_optimum POSTERIOR_RUN#METHOD REFERENCE_RUN#METHOD [--beta 0 0.005 0.02 0.1]
       [--policy TRAINED_RUN#expected]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from calbench.metrics import align_by_id, bootstrap, format_value
from calbench.records import DataError
from calbench.reporting.inputs import RunFolder, readout
from trainers.rewarding_doubt.rewards import RewardSpec, proper_score

LEVELS = np.arange(11) / 10
METRICS = ("auroc", "ece", "brier", "log_score")


def expected_rewards(p: np.ndarray, spec: RewardSpec) -> np.ndarray:
    """(n, 11): the expected reward of each level for answers right with probability ``p``."""
    right = proper_score(LEVELS, np.ones(11), spec)
    wrong = proper_score(LEVELS, np.zeros(11), spec)
    return p[:, None] * right[None, :] + (1 - p[:, None]) * wrong[None, :]


def optimal_policy(p: np.ndarray, ref: np.ndarray, beta: float, spec: RewardSpec) -> np.ndarray:
    """(n, 11): ``pi*`` ∝ ``ref`` exp(R / beta); for ``beta == 0`` all mass on the best level (ties: the lower)."""
    r = expected_rewards(p, spec)
    if beta == 0:
        out = np.zeros_like(r)
        out[np.arange(len(r)), r.argmax(axis=1)] = 1.0
        return out
    logits = np.log(np.clip(ref, 1e-12, None)) + r / beta
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    return w / w.sum(axis=1, keepdims=True)


def _readout(spec: str) -> tuple[RunFolder, str]:
    return readout(spec)


def aligned(
    posterior: str, reference: str, policy: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """P(correct), the reference level distributions and the outcomes, on the answers both readouts scored; and,
    with ``policy`` (a trained model's expected readout on the same answers), its level distributions on them
    (renormalised over the 11 levels; None without)."""
    (prun, pm), (rrun, rm) = _readout(posterior), _readout(reference)
    try:
        pairs = [
            (a, b) for a, b in zip(*align_by_id(prun.samples(pm), rrun.samples(rm))) if a.get("confidence") is not None
        ]
    except ValueError as e:
        raise DataError(f"{posterior} and {reference}: {e}") from None
    mismatch = sum(int(a["correct"]) != int(b["correct"]) for a, b in pairs)
    if mismatch:
        raise DataError(f"{mismatch} answers are judged differently in the two runs: not the same answers")
    pairs = [(a, b) for a, b in pairs if b.get("confidence_dist")]
    if not pairs:
        raise DataError(f"no answer has both a confidence in {posterior} and a confidence_dist in {reference}")
    p = np.asarray([a["confidence"] for a, _ in pairs], float)
    ref = np.asarray([b["confidence_dist"] for _, b in pairs], float)
    y = np.asarray([b["correct"] for _, b in pairs], int)
    return p, ref, y, None if policy is None else policy_distributions(policy, [a["id"] for a, _ in pairs])


def policy_distributions(policy: str, ids: list[str]) -> np.ndarray:
    """(n, 11): the trained policy's level distributions on the answers ``ids``, in that order."""
    qrun, qm = _readout(policy)
    dist = {s["id"]: s.get("confidence_dist") for s in qrun.samples(qm)}
    missing = [i for i in ids if not dist.get(i)]
    if missing:
        raise DataError(
            f"{policy}: no confidence_dist for {len(missing)} of the answers (e.g. {missing[0]}); "
            "--policy takes an expected readout on the same answers"
        )
    q = np.asarray([dist[i] for i in ids], float)
    return q / q.sum(axis=1, keepdims=True)


def table(p: np.ndarray, ref: np.ndarray, y: np.ndarray, betas: list[float], spec: RewardSpec) -> list[str]:
    out = [
        "| beta | modal level: answers | "
        + " | ".join(f"greedy {m}" for m in METRICS)
        + " | expected-readout AUROC | mean pi*(level 0), ..., pi*(level 10) |",
        "|---|---|" + "---|" * (len(METRICS) + 2),
    ]
    for beta in betas:
        pi = optimal_policy(p, ref, beta, spec)
        mode = pi.argmax(axis=1)
        greedy = bootstrap(LEVELS[mode], y, n_resamples=1000, seed=0)
        expected = bootstrap(pi @ LEVELS, y, n_resamples=1000, seed=0)
        hist = ", ".join(f'"{k}": {c}' for k, c in enumerate(np.bincount(mode, minlength=11)) if c)
        out.append(
            f"| {beta:g} | {hist} | "
            + " | ".join(format_value(greedy[m]) for m in METRICS)
            + f" | {format_value(expected['auroc'])} | "
            + " ".join(f"{v:.3f}" for v in pi.mean(axis=0))
            + " |"
        )
    return out


def policy_gap(q: np.ndarray, p: np.ndarray, ref: np.ndarray, betas: list[float], spec: RewardSpec) -> list[str]:
    """How far the trained policy ``q`` is from ``pi*`` at each beta: mean total variation, modal agreement."""
    out = [
        "| beta | mean total variation, trained policy vs pi* | modal level agrees | trained modal levels |",
        "|---|---|---|---|",
    ]
    q_mode = q.argmax(axis=1)
    hist = ", ".join(f'"{k}": {c}' for k, c in enumerate(np.bincount(q_mode, minlength=11)) if c)
    for beta in betas:
        pi = optimal_policy(p, ref, beta, spec)
        tv = 0.5 * np.abs(q - pi).sum(axis=1).mean()
        agree = (pi.argmax(axis=1) == q_mode).mean()
        out.append(f"| {beta:g} | {tv:.3f} | {agree:.3f} | {hist} |")
    return out


def margin_check(
    q: np.ndarray, p: np.ndarray, ref: np.ndarray, beta: float, spec: RewardSpec, a: int = 1, b: int = 2
) -> str:
    """Does the trained policy ``q`` sit at the optimum of its own objective on the margin between levels ``a``
    and ``b``? At ``pi*`` the margin ``beta [log(q_b / ref_b) - log(q_a / ref_a)]`` equals the expected-reward
    margin ``R_b - R_a`` under the posterior; returns both means and their correlation over the answers."""
    r = expected_rewards(p, spec)
    lq, lr = np.log(np.clip(q, 1e-12, None)), np.log(np.clip(ref, 1e-12, None))
    implied = beta * ((lq[:, b] - lr[:, b]) - (lq[:, a] - lr[:, a]))
    actual = r[:, b] - r[:, a]
    corr = float(np.corrcoef(implied, actual)[0, 1])
    return (
        f'Margin "{b}" - "{a}" at beta {beta:g}: implied by the trained policy {implied.mean():+.4f} (mean), '
        f"expected-reward margin under the posterior {actual.mean():+.4f}; correlation over answers {corr:.2f}"
    )


def text(
    posterior: str, reference: str, betas: list[float], policy: str | None = None, policy_beta: float = 0.02
) -> str:
    """What ``main`` prints: the optimum's table at each beta and, with ``policy``, that policy against it.
    :class:`DataError` names a readout that does not fit."""
    if any(b < 0 for b in betas):
        raise DataError("--beta: every value must be >= 0")
    p, ref, y, q = aligned(posterior, reference, policy)
    out = [
        f"{len(y)} answers, accuracy {y.mean():.3f}; posterior {posterior}; reference {reference}; "
        "reward: normalised log score, eps 0.001 (the trainer's default)\n",
        "\n".join(table(p, ref, y, betas, RewardSpec())),
    ]
    if q is not None:
        out += [
            f"\nThe trained policy {policy} against pi*:\n",
            "\n".join(policy_gap(q, p, ref, betas, RewardSpec())),
            "\n" + margin_check(q, p, ref, policy_beta, RewardSpec()),
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("posterior", help="RUN#METHOD whose confidence is taken as P(correct)")
    ap.add_argument("reference", help="RUN#METHOD recording confidence_dist (the untrained expected readout)")
    ap.add_argument("--beta", type=float, nargs="+", default=[0.0, 0.005, 0.02, 0.1])
    ap.add_argument(
        "--policy",
        help="RUN#METHOD: a trained model's expected readout on the same answers, compared with pi* at each beta",
    )
    ap.add_argument(
        "--policy-beta",
        type=float,
        default=0.02,
        help="the beta the --policy model was trained with, for the margin check (default 0.02)",
    )
    args = ap.parse_args(argv)
    try:
        sys.stdout.write(text(args.posterior, args.reference, args.beta, args.policy, args.policy_beta))
    except DataError as e:
        raise SystemExit(str(e)) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
