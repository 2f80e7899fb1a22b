"""The metrics engine: one definition of every calibration metric, used by eval, training rewards, lm-eval
aggregations and reports. Formulas: ``docs/metrics.md`` and the docstrings of each module.

* :func:`score` -- every point metric; :func:`score_with_notes` adds why any metric is NaN.
* :func:`bootstrap` / :func:`paired_bootstrap` -- percentile-bootstrap intervals; differences between runs.
* :func:`log_score_terms`, :func:`brier_terms` -- the elementwise scores (also the trainer's rewards).
* :func:`apply_policy`, :func:`summarize_samples`, :func:`metric_settings` -- from sample records to run.json.
"""

from calbench.metrics.bootstrap import align_by_id, bootstrap, paired_bootstrap
from calbench.metrics.policy import POLICIES, apply_policy, is_parsed, metric_settings, summarize_samples
from calbench.metrics.scores import (
    BASE_METRICS, DEFAULT_BINS, DEFAULT_SEL_KS, HIGHER_IS_BETTER, Settings, score, score_with_notes, sel_key,
)
from calbench.metrics.terms import DEFAULT_EPS, brier_terms, log_score_terms, validate

__all__ = [
    "BASE_METRICS", "DEFAULT_BINS", "DEFAULT_EPS", "DEFAULT_SEL_KS", "HIGHER_IS_BETTER", "POLICIES", "Settings",
    "align_by_id", "apply_policy", "bootstrap", "brier_terms", "is_parsed", "log_score_terms", "metric_settings",
    "paired_bootstrap", "score", "score_with_notes", "sel_key", "summarize_samples", "validate",
]
