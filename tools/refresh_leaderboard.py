"""Regenerate the committed leaderboard from the committed results, or check that it is current.

    python tools/refresh_leaderboard.py [--check] [--out results/leaderboard] [--screen]

The leaderboard is made from HEAD, not from the working tree: ``calbench leaderboard results/ --out OUT`` (with the
committed ``OUT/suite.yaml``) runs in a temporary worktree of HEAD (``git worktree``, removed afterwards), so
nothing uncommitted under ``results/`` (a study still writing, a scratch run) enters it; commit the results first,
then refresh. Its outputs are compared with the files git tracks under ``OUT``: the drill-down files committed
xz-compressed (``leaderboard.csv``, ``leaderboard_files/columns.md`` and ``full.html``; xz as
``tools/compress_results.py`` writes it) decompressed, the rest byte for byte; a tracked file the fresh leaderboard
no longer writes (the dot plot of a renamed track) is stale. ``--check`` changes nothing: it lists what differs
and exits 1 if anything does. Otherwise the changed files are written into ``OUT`` (compressed where committed
compressed) and the stale ones removed; ``git add -A OUT`` is then the commit.

``--screen`` then redraws the page's first screen, ``OUT/leaderboard_screen.png``: the browser test that opens the
committed page at 1400x900 (``tests/test_html_browser.py``; needs chromium, chromedriver and selenium) takes the
screenshot, stored as a 64-colour palette PNG.

The leaderboard is deterministic (seeded bootstraps): two regenerations of one commit (82d8002), in separate
processes, gave the same bytes, so ``--check`` reports only real changes. It takes 8-10 min on two cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from calbench.figures import quantize_png
from calbench.records import open_bytes
from calbench.reporting.files import xz_bytes

ROOT = Path(__file__).resolve().parents[1]

#: outputs committed xz-compressed (their plain forms are git-ignored), relative to ``--out``
COMPRESSED = ("leaderboard.csv", "leaderboard_files/columns.md", "leaderboard_files/full.html")
SUITE = "suite.yaml"
SCREEN = "leaderboard_screen.png"
#: tracked files under ``--out`` that ``calbench leaderboard`` does not write
NOT_WRITTEN = (SUITE, SCREEN)
SCREEN_COLORS = 64


@dataclass
class Change:
    path: str  # relative to --out, as committed (with .xz where compressed)
    what: str  # "changed", "new" or "stale"


def compare(fresh: Path, committed: Path, tracked: set[str]) -> list[Change]:
    """What differs between a freshly written leaderboard folder ``fresh`` and the committed one ``committed``
    (``tracked``: the paths git tracks there, relative to it)."""
    changes = []
    written = sorted(p.relative_to(fresh).as_posix() for p in fresh.rglob("*") if p.is_file())
    produced = set()
    for rel in written:
        if rel in NOT_WRITTEN:
            continue
        packed = rel in COMPRESSED or f"{rel}.xz" in tracked
        name = f"{rel}.xz" if packed else rel
        produced.add(name)
        old = committed / name
        if name not in tracked or not old.is_file():
            changes.append(Change(name, "new"))
            continue
        with open_bytes(old) as fh:  # an .xz decompressed
            if fh.read() != (fresh / rel).read_bytes():
                changes.append(Change(name, "changed"))
    changes += [Change(rel, "stale") for rel in sorted(tracked - produced) if rel not in NOT_WRITTEN]
    return changes


def apply(changes: list[Change], fresh: Path, committed: Path) -> None:
    """Write the changed and new files into ``committed`` (xz where the name says so) and remove the stale ones."""
    for c in changes:
        target = committed / c.path
        if c.what == "stale":
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if c.path.endswith(".xz"):
            data = xz_bytes((fresh / c.path.removesuffix(".xz")).read_bytes())
        else:
            data = (fresh / c.path).read_bytes()
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def _regenerate(out: str, work: Path) -> Path:
    """``calbench leaderboard results/ --out OUT`` in a worktree of HEAD at ``work``; returns its OUT folder."""
    _git("worktree", "add", "--detach", "--quiet", str(work), "HEAD")
    for old in list((work / out).rglob("*")):  # only what this run writes stays beside the suite file
        if old.is_file() and old.relative_to(work / out).as_posix() != SUITE:
            old.unlink()
    env = dict(os.environ, PYTHONPATH=str(work))  # the worktree's calbench, not the installed one
    cmd = [sys.executable, "-m", "calbench", "leaderboard", "results/", "--out", out]
    print(f"[refresh] {' '.join(cmd[1:])} in a worktree of HEAD ({_git('rev-parse', '--short', 'HEAD').strip()})")
    t0 = time.monotonic()
    subprocess.run(cmd, cwd=work, env=env, check=True)
    print(f"[refresh] written in {time.monotonic() - t0:.0f} s")
    return work / out


def _screen(out: Path) -> None:
    shot = ROOT / "tests" / "artifacts" / "leaderboard_committed.png"
    t0 = time.time()
    test = "tests/test_html_browser.py::test_the_committed_leaderboard_page_shows_every_track_and_the_grids"
    rc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", test], cwd=ROOT)
    if rc.returncode != 0 or not shot.is_file() or shot.stat().st_mtime < t0:
        raise SystemExit(f"--screen: the browser test did not take the screenshot ({shot}); see its output above")
    (out / SCREEN).write_bytes(quantize_png(shot.read_bytes(), colors=SCREEN_COLORS))
    print(f"[refresh] {out / SCREEN} redrawn")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="results/leaderboard", help="the committed leaderboard folder (in the repository)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if the committed files differ")
    ap.add_argument("--screen", action="store_true", help="then redraw the first screen (needs chromium)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if out.is_absolute():
        if not out.resolve().is_relative_to(ROOT):
            raise SystemExit(f"--out {out}: not in the repository {ROOT}; the committed leaderboard lives in it")
        out = out.resolve().relative_to(ROOT)
    committed = ROOT / out
    tracked = {Path(p).relative_to(out).as_posix() for p in _git("ls-files", "--", str(out)).splitlines()}
    if not tracked:
        raise SystemExit(f"{out}: git tracks nothing there; it must hold the committed suite.yaml")
    dirty = _git("status", "--porcelain", "--untracked-files=all", "--", "results").splitlines()
    if dirty:
        print(f"[refresh] made from HEAD: {len(dirty)} uncommitted path(s) under results/ are not in it")
    with tempfile.TemporaryDirectory(prefix="calbench-leaderboard-") as tmp:
        work = Path(tmp) / "head"
        try:
            changes = compare(_regenerate(str(out), work), committed, tracked)
            for c in changes:
                print(f"  {c.what:8s} {out / c.path}")
            if not changes:
                print(f"[refresh] {out} is current")
            elif args.check:
                print(f"[refresh] {len(changes)} file(s) differ from a leaderboard made from HEAD")
            else:
                apply(changes, work / out, committed)
                print(f"[refresh] {len(changes)} file(s) written under {out}; commit them (git add -A {out})")
        finally:
            if work.exists():  # not when `git worktree add` itself failed
                _git("worktree", "remove", "--force", str(work))
    if args.screen and not args.check:
        _screen(committed)
    return 1 if args.check and changes else 0


if __name__ == "__main__":
    sys.exit(main())
