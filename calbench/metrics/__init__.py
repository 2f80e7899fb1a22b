"""The metrics engine: one definition of every calibration metric, used by eval, training rewards, lm-eval
aggregations and reports. Formulas: ``docs/metrics.md`` and the docstrings of each module.

* :func:`score` -- every point metric; :func:`score_with_notes` adds why any metric is NaN.
* :func:`bootstrap` / :func:`paired_bootstrap` -- percentile-bootstrap intervals; differences between runs.
* :func:`log_score_terms`, :func:`brier_terms` -- the elementwise scores (also the trainer's rewards).
* :func:`apply_policy`, :func:`summarize_samples`, :func:`metric_settings` -- from sample records to run.json;
  :func:`is_parsed` -- the one rule for whether a sample counts as parsed.
* :data:`CATALOGUE` (:mod:`calbench.metrics.catalogue`) -- every metric's title, direction, tables, digits and
  per-sample term; :func:`metric_table` -- a table's metric names; :func:`format_value` -- a value with its
  interval, as every table writes it.
"""

from calbench.metrics.bootstrap import align_by_id, bootstrap, paired_bootstrap
from calbench.metrics.catalogue import (
    CATALOGUE,
    Metric,
    format_interval,
    format_number,
    format_value,
    higher_is_better,
)
from calbench.metrics.catalogue import get as metric_info
from calbench.metrics.catalogue import table as metric_table
from calbench.metrics.policy import POLICIES, apply_policy, is_parsed, metric_settings, summarize_samples
from calbench.metrics.scores import (
    BASE_METRICS,
    DEFAULT_BINS,
    DEFAULT_SEL_KS,
    HIGHER_IS_BETTER,
    Settings,
    score,
    score_with_notes,
    sel_key,
)
from calbench.metrics.terms import DEFAULT_EPS, brier_terms, log_score_terms, validate

__all__ = [
    "BASE_METRICS",
    "CATALOGUE",
    "DEFAULT_BINS",
    "DEFAULT_EPS",
    "DEFAULT_SEL_KS",
    "HIGHER_IS_BETTER",
    "POLICIES",
    "Metric",
    "Settings",
    "align_by_id",
    "apply_policy",
    "bootstrap",
    "brier_terms",
    "format_interval",
    "format_number",
    "format_value",
    "higher_is_better",
    "is_parsed",
    "log_score_terms",
    "metric_info",
    "metric_settings",
    "metric_table",
    "paired_bootstrap",
    "score",
    "score_with_notes",
    "sel_key",
    "summarize_samples",
    "validate",
]
