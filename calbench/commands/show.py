"""``calbench show``: read a run's samples -- question, answer, gold answers, stated confidence, raw reply and
verdict -- filtered to the wrong, correct, unparsed or confidently wrong ones."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from calbench.argcheck import positive_int
from calbench.errors import UserError


def register(sub) -> None:
    p = sub.add_parser(
        "show", help="read a run's samples: question, answer, gold, confidence, reply, verdict", description=__doc__
    )
    p.add_argument("run", metavar="RUN", help="run folder (or FOLDER#METHOD, or a samples.jsonl file)")
    which = p.add_mutually_exclusive_group()
    for name, text in (
        ("wrong", "wrong answers only"),
        ("correct", "right answers only"),
        ("unparsed", "replies whose confidence could not be parsed"),
        ("confident-wrong", "wrong answers, most confident first"),
    ):
        which.add_argument(f"--{name}", dest="which", action="store_const", const=name, help=text)
    p.add_argument("-n", type=positive_int, default=20, help="show at most N samples (default: %(default)s)")
    p.add_argument("--all", dest="n", action="store_const", const=None, help="show every matching sample")
    p.add_argument("--method", help="one method of a multi-method run (default: every method)")
    p.add_argument("--html", metavar="FILE", help="also write the samples as a sortable HTML table")
    p.set_defaults(func=run, which="all")


def load(run_arg: str) -> tuple[dict, list[dict], str | None, str]:
    """(manifest, samples, method from FOLDER#METHOD, where) of a run folder or a samples file."""
    from calbench.records import read_samples
    from calbench.runs import Run, has_manifest, parse_ref, samples_file

    path, method = parse_ref(run_arg)
    if not path.exists():
        raise UserError(f"{path}: no such run folder or samples file")
    found = samples_file(path)
    folder = path if path.is_dir() else path.parent
    manifest = Run.open(folder).manifest if has_manifest(folder) else {}
    return manifest, read_samples(found), method, str(found)


def run(args: argparse.Namespace) -> int:
    from calbench.show import format_table, sample_rows, samples_html, select_rows, task_examples

    manifest, samples, method, where = load(args.run)
    method = method or args.method
    if method:
        methods = sorted({s["method"] for s in samples})
        if method not in methods:
            raise UserError(f"{where} has no samples of method {method!r}; it has: {', '.join(methods)}")
        samples = [s for s in samples if s["method"] == method]
    rows = select_rows(sample_rows(samples, task_examples(manifest) if manifest else {}), args.which)
    shown = rows if args.n is None else rows[: args.n]
    judge = (manifest.get("judge") or {}) if manifest else {}
    settings = ", ".join(f"{k}={v}" for k, v in sorted((judge.get("settings") or {}).items()))
    print(
        f"{where}: {len(samples)} samples; {len(rows)} match '{args.which}', showing {len(shown)}"
        + (f"; judge {judge.get('name')}({settings})" if judge else "")
    )
    print()
    print(format_table(shown, width=shutil.get_terminal_size((120, 20)).columns))
    if args.html:
        Path(args.html).write_text(samples_html(rows, f"{where} · {args.which}"), encoding="utf-8")
        print(f"\nwrote {args.html} ({len(rows)} samples)")
    return 0
