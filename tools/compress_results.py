"""Compress committed results: every ``samples.jsonl`` (and any other ``*.jsonl`` of at least ``--min-bytes``)
under the given folders becomes ``<name>.xz``, and the plain file is removed; a ``samples.jsonl.gz`` (how earlier
versions compressed) is recompressed as ``samples.jsonl.xz``.

    python tools/compress_results.py [results/] [--min-bytes 1048576] [--dry-run] [--png] [--dedupe-figures] [--thin]

``--thin`` (after compressing): a run a post-hoc scaler made keeps only what differs from the records of the run
it was applied to, ``samples.derived.jsonl.xz`` (``calbench.records.DERIVED_SAMPLES_FILE``; read transparently,
rebuilt byte for byte, checked before the full file is removed): a scaled run repeats its source's records but for
the method name and the confidence. So does a run evaluated on given answers taken from another run's samples
(``eval --answers RUN/samples.jsonl.xz``, e.g. a trained adapter rating the untrained answers): it keeps what
differs from that run's records (prompts, answers and gold lists are the same).

Why: every GPU call carries the tracked tree (64 MiB in all), and plain sample files were most of it. xz, not
gzip: a question's prompt repeats once per method, rows apart, beyond gzip's 32 KiB window (the committed
samples: 17.1 MiB as gzip -9, 7.3 MiB as xz -9e). calbench reads ``samples.jsonl.xz`` and ``samples.jsonl.gz``
wherever it reads a run (``calbench.records.find_samples_file``); new runs still write plain ``samples.jsonl``
(appended and resumable), and resuming a compressed run expands it first.

Deterministic and idempotent: the xz stream has no file name or timestamp, preset 9 extreme, CRC64 check, so the
same content always gives the same bytes with a given liblzma; a folder already compressed is left alone, and a
second run changes nothing. A file whose compressed twin also exists is refused (which copy is current cannot be
told): delete the stale one first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calbench.errors import DataError
from calbench.reporting.files import (
    LEGACY_SAMPLES,
    compress_file,
    dedupe_report_figures,
    derive_from_like_run,
    run_in_progress,
    thin_derived_runs,
    thin_given_answer_runs,
)

DEFAULT_MIN_BYTES = 1 << 20


def candidates(root: Path, min_bytes: int) -> list[Path]:
    """The files under ``root`` to compress: every samples.jsonl and samples.jsonl.gz, other .jsonl if large."""
    return sorted(
        p
        for p in [*root.rglob("*.jsonl"), *root.rglob(LEGACY_SAMPLES)]
        if p.is_file() and (p.name in ("samples.jsonl", LEGACY_SAMPLES) or p.stat().st_size >= min_bytes)
    )


def compress(path: Path, *, dry_run: bool = False) -> Path:
    """:func:`calbench.reporting.files.compress_file`, its refusal as this script's exit message."""
    try:
        return compress_file(path, dry_run=dry_run)
    except DataError as e:
        raise SystemExit(str(e)) from None


def quantize_pngs(roots: list[Path], *, dry_run: bool = False) -> None:
    """Re-encode the PNGs under ``roots`` as palette PNGs (idempotent: a palette PNG with at most
    ``calbench.figures.PNG_COLORS`` colours is left as it is)."""
    from calbench.figures import quantize_png

    before = after = 0
    for root in roots:
        for path in sorted(root.rglob("*.png")):
            data = path.read_bytes()
            new = quantize_png(data)
            before += len(data)
            after += len(new)
            if new != data and not dry_run:
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_bytes(new)
                tmp.replace(path)
    print(f"{before / 2**20:.1f} MiB of PNG figures -> {after / 2**20:.1f} MiB", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "roots", nargs="*", type=Path, default=[Path("results")], help="folders to search (default results/)"
    )
    ap.add_argument(
        "--min-bytes",
        type=int,
        default=DEFAULT_MIN_BYTES,
        help="also compress other .jsonl files at least this large (default 1 MiB)",
    )
    ap.add_argument("--dry-run", action="store_true", help="list what would be compressed; change nothing")
    ap.add_argument(
        "--png",
        action="store_true",
        help="also re-encode every PNG figure as a 32-colour palette PNG "
        "(calbench.figures.quantize_png; figures written since are already)",
    )
    ap.add_argument(
        "--thin",
        action="store_true",
        help="store each scaled run's samples as what differs from the run it was applied to",
    )
    ap.add_argument(
        "--derive",
        nargs=2,
        action="append",
        metavar=("RUN", "SOURCE"),
        help="store RUN's samples as what differs from the like run SOURCE (same model, adapter and task; records "
        "SOURCE lacks kept whole), e.g. a readout run on a training pool beside an earlier one; repeatable",
    )
    ap.add_argument(
        "--dedupe-figures",
        action="store_true",
        help="remove a report's figure that is byte-identical to one kept elsewhere under the folders "
        "and link the report to that copy",
    )
    args = ap.parse_args(argv)
    if args.png:
        quantize_pngs(args.roots, dry_run=args.dry_run)
    if args.dedupe_figures:
        dedupe_report_figures(args.roots, dry_run=args.dry_run)
    before = after = 0
    for root in args.roots:
        if not root.is_dir():
            raise SystemExit(f"{root}: not a folder")
        for path in candidates(root, args.min_bytes):
            if run_in_progress(path.parent):
                print(f"skipped {path}: its run is not finished (it resumes from this file)", file=sys.stderr)
                continue
            size = path.stat().st_size
            target = compress(path, dry_run=args.dry_run)
            before += size
            after += 0 if args.dry_run else target.stat().st_size
            print(f"{'would compress' if args.dry_run else 'compressed'} {path}", file=sys.stderr)
    if before:
        tail = "" if args.dry_run else f" -> {after / 2**20:.1f} MiB"
        print(f"{before / 2**20:.1f} MiB of JSON lines{tail}", file=sys.stderr)
    else:
        print("nothing to compress", file=sys.stderr)
    for run, source in args.derive or []:
        try:
            sizes = derive_from_like_run(Path(run), Path(source), dry_run=args.dry_run)
        except DataError as e:
            raise SystemExit(str(e)) from None
        verb = "would derive" if args.dry_run else "derived"
        print(f"{verb} {run} from {source}: {sizes[0]} -> {sizes[1]} bytes" if sizes else f"{run}: not smaller, kept")
    if args.thin:
        thinned = thin_derived_runs(args.roots, dry_run=args.dry_run)
        for run, source, b, a in thinned:
            print(
                f"{'would thin' if args.dry_run else 'thinned'} {run} against {source}: {b} -> {a} bytes",
                file=sys.stderr,
            )
        total = sum(b for *_, b, _ in thinned), sum(a for *_, a in thinned)
        print(f"{len(thinned)} scaled runs: {total[0] / 2**20:.1f} MiB -> {total[1] / 2**20:.1f} MiB", file=sys.stderr)
        given = thin_given_answer_runs(args.roots, dry_run=args.dry_run)
        for run, source, b, a in given:
            print(
                f"{'would thin' if args.dry_run else 'thinned'} {run} against {source} (its given answers): "
                f"{b} -> {a} bytes",
                file=sys.stderr,
            )
        total = sum(b for *_, b, _ in given), sum(a for *_, a in given)
        print(
            f"{len(given)} runs on given answers: {total[0] / 2**20:.1f} MiB -> {total[1] / 2**20:.1f} MiB",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
