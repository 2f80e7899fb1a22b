"""Redraw the reliability diagrams of committed runs (after a change to the diagram), and nothing else.

    python tools/replot_reliability.py [results/] [--histograms]

For every run folder under the given folders whose ``run.json`` lists ``reliability*.png`` among its plots,
the samples are scored as the runner scores them (first record per (id, method), failed requests left out) and
each method's reliability diagram is drawn again with the run's parse policy and ECE bins
(:func:`calbench.runner.plot_methods`); manifests are left as they are, and confidence histograms too unless
``--histograms`` (after a change to every figure, e.g. their resolution). A run that is not complete (still
running, or stopped), or whose figures are not in its folder, is left alone; with ``--missing`` the figures it
lists are drawn into its folder even so (most committed run folders keep no figures of their own: the reports
embed theirs, and the tree must stay small).

A comparison report's figures are embedded in its HTML, so a report folder (``--report RUNS_PARENT``, e.g.
``results/demo``, whose ``report/`` was written by ``calbench demo``) is written again beside it and only its
reliability PNGs and ``report.html`` are taken; the other files must come out identical (checked).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path


def replot_run(folder: Path, kinds: tuple[str, ...] = ("reliability",), missing: bool = False) -> list[str]:
    from calbench.figures import FIGURE_STEMS
    from calbench.runner import plot_methods
    from calbench.runs import Run

    run = Run.open(folder)
    manifest = run.manifest
    listed_reliability = [p for p in manifest.plots if Path(p).name.startswith("reliability")]
    if manifest.status != "complete" or not listed_reliability:
        return []  # not finished, or drawn without figures
    if not missing and not any((folder / p).exists() for p in listed_reliability):
        return []  # its figures were left out of the results (a study's `figures: false`, the tree budget)
    by_method = {m: run.samples(m) for m in run.methods}  # the manifest's order, as the runner
    settings = run.settings
    written = plot_methods(folder, manifest, by_method, policy=settings.policy, bins=settings.bins, kinds=kinds)
    prefixes = tuple(FIGURE_STEMS[k] for k in kinds)
    listed = {p for p in manifest["plots"] if Path(p).name.startswith(prefixes)}
    if set(written) != listed:
        raise SystemExit(f"{folder}: drew {sorted(written)} but run.json lists {sorted(listed)}")
    return written


def replot_report(parent: Path, histograms: bool = False) -> list[Path]:
    """Rewrite ``parent/report``'s reliability figures (and with ``histograms`` its histograms) and report.html
    from the runs in ``parent``."""
    from calbench.commands.demo import demo_outputs
    from calbench.runs import MANIFEST_FILE, Run

    report = parent / "report"

    def started(run: Path) -> str:  # the order the demo ran (and reported) them in
        return str(Run.open(run).manifest.timings.get("first_started"))

    runs = sorted((p.parent for p in parent.glob(f"*/{MANIFEST_FILE}")), key=started)
    with tempfile.TemporaryDirectory(dir=parent) as tmp:  # beside report/, so relative links are the same
        fresh = Path(tmp)
        demo_outputs(runs, fresh, quiet=True)
        patterns = ("*_reliability.png", "*_hist.png") if histograms else ("*_reliability.png",)
        taken = sorted(p.relative_to(fresh) for pat in patterns for p in fresh.rglob(pat)) + [Path("report.html")]
        for rel in sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()):
            if rel in taken or not (report / rel).exists():  # a page the committed report left out
                continue
            if not filecmp.cmp(fresh / rel, report / rel, shallow=False):
                raise SystemExit(f"{report / rel} would change too; only the redrawn figures should")
        for rel in taken:
            shutil.copyfile(fresh / rel, report / rel)
    return [report / rel for rel in taken]


def main(argv: list[str] | None = None) -> int:
    from calbench.runs import MANIFEST_FILE

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("roots", nargs="*", type=Path, default=[Path("results")])
    ap.add_argument(
        "--report",
        type=Path,
        action="append",
        default=[],
        help="a folder of runs whose report/ (from calbench demo) is redrawn too",
    )
    ap.add_argument("--histograms", action="store_true", help="redraw the confidence histograms too")
    ap.add_argument(
        "--missing",
        action="store_true",
        help="also draw the figures a run lists but its folder lacks (the committed results keep few of their own)",
    )
    args = ap.parse_args(argv)
    kinds = ("reliability", "histogram") if args.histograms else ("reliability",)
    count = 0
    for root in args.roots:
        for run_json in sorted(root.rglob(MANIFEST_FILE)):
            written = replot_run(run_json.parent, kinds, args.missing)
            count += len(written)
            if written:
                print(f"{run_json.parent}: {', '.join(written)}", file=sys.stderr)
    for parent in args.report:
        for p in replot_report(parent, args.histograms):
            print(f"rewrote {p}", file=sys.stderr)
    print(f"{count} run figures redrawn", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
