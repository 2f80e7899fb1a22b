"""The summary table that ``calbench eval``, ``calibrate``, ``import-lmeval`` and ``demo`` print: the headline
metrics of each run and method with their 95 % bootstrap intervals, the judge of each run, and a warning when
exact match judged every answer wrong."""

from __future__ import annotations

import sys

from calbench.metrics import format_value, metric_info, metric_table
from calbench.runs import RunManifest, RunSettings


def _fmt(m: dict | None, name: str = "") -> str:
    return format_value(m, metric_info(name).digits if name else 3, nan="NaN")


#: The headline metrics, in order (the catalogue's ``summary`` table).
SUMMARY_METRICS = metric_table("summary")


def judge_label(judge: dict | None) -> str:
    """A judge as a summary shows it: ``alias_match`` (exact match), ``alias_match+containment``,
    ``alias_match+f1>=0.5``, ``choice_letter`` ..."""
    judge = judge or {}
    st = judge.get("settings") or {}
    extras = (["containment"] if st.get("containment") else []) + (
        [f"f1>={st['f1_threshold']}"] if st.get("f1_threshold") is not None else []
    )
    return "+".join([str(judge.get("name") or "?"), *extras])


def exact_match_warnings(manifests: list[dict]) -> list[str]:
    """A warning per run and method whose accuracy is 0 under plain exact match: with free-form answers this
    usually means the judge, not the model, said no (the default judge is kept so recorded runs stay comparable)."""
    out = []
    for man in manifests:
        judge = man.get("judge") or {}
        st = judge.get("settings") or {}
        if judge.get("name") != "alias_match" or st.get("containment") or st.get("f1_threshold") is not None:
            continue
        for method, metrics in RunManifest.of(man).metrics_per_method().items():
            if (metrics.get("accuracy") or {}).get("value") == 0:
                out.append(
                    f"warning: accuracy is 0 on {man['task']['name']} ({method}) under exact match "
                    "(judge alias_match): free-form answers may be right in other words. Read them with "
                    "`calbench show RUN --wrong`; rerun with --judge-containment or --judge-f1 0.5 "
                    "(as `make demo` does) to accept them."
                )
    return out


def print_summary(manifests: list[dict], file=sys.stdout) -> None:
    """A table of the headline metrics with 95 % bootstrap intervals, one row per run and method, with the
    judge of each run; a warning follows when exact match judged every answer wrong."""
    rows = []
    for man in manifests:
        for method, metrics in RunManifest.of(man).metrics_per_method().items():
            rows.append(
                [man["model"]["id"], man["task"]["name"], method, judge_label(man.get("judge")), str(man["n"])]
                + [_fmt(metrics.get(k), k) for k in SUMMARY_METRICS]
            )
    head = ["model", "task", "method", "judge", "n", *SUMMARY_METRICS]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print(line, file=file)
    print("-" * len(line), file=file)
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)), file=file)
    bins = sorted({str(RunSettings.of(m).bins) for m in manifests})
    print(
        f"(value [95% bootstrap CI]; ece = equal-width, {'/'.join(bins)} bins; log_score: higher is better)", file=file
    )
    for w in exact_match_warnings(manifests):
        print(w, file=file)
